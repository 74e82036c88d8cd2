"""What `maskgraph run` says on stderr while it works (the CLI's voice, kept out of the
evaluator: the evaluator reports through callbacks)."""
from __future__ import annotations

import os
import sys


class Talker:
    """What `maskgraph run` says on stderr: a line when numba compiles kernels (first run),
    a progress bar over a frame range (per-frame callback), the files written at the end."""

    def __init__(self, quiet: bool, frame_count: int):
        self.quiet, self.frame_count = quiet, frame_count
        self.bar = None
        self._listener = None

    def __enter__(self):
        if not self.quiet:
            self._listen_for_compiles()
        return self

    def start_bar(self) -> None:
        """The progress bar over a frame range (on a terminal only)."""
        if not self.quiet and self.frame_count > 1:
            from tqdm import tqdm
            try:
                sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
            except (OSError, ValueError):
                sized = False
            self.bar = tqdm(total=self.frame_count, unit="frame", file=sys.stderr,
                            dynamic_ncols=sized, ncols=None if sized else 80, leave=True,
                            disable=None)  # disabled when stderr is not a terminal

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        if self._listener is not None:
            from numba.core import event
            event.unregister("numba:compile", self._listener)
        return False

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def frame_done(self, frame: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"frame {frame}", refresh=False)
            self.bar.update(1)

    def files(self, paths: list[str]) -> None:
        if self.quiet or not paths:
            return
        unique = list(dict.fromkeys(os.path.relpath(p) if not os.path.relpath(p).startswith(
            "..") else p for p in paths))
        if len(unique) > 12:
            shown = unique[:5] + [f"... {len(unique) - 10} more ..."] + unique[-5:]
        else:
            shown = unique
        what = "sequence" if self.frame_count > 1 else "file"
        self.say(f"maskgraph: wrote {len(unique)} {what}{'s' if len(unique) != 1 else ''}:")
        for path in shown:
            self.say(f"  {path}")

    def _listen_for_compiles(self) -> None:
        try:
            from numba.core import event
        except ImportError:
            return
        talker = self

        class Compiling(event.Listener):
            said = False

            def on_start(self, _event):
                if not self.said:
                    self.said = True
                    talker.say("maskgraph: compiling kernels for first use (cached for "
                               "later runs; this can take a minute)...")

            def on_end(self, _event):
                pass
        self._listener = Compiling()
        event.register("numba:compile", self._listener)
