"""A polling file watcher: calls back when any watched file's (mtime, size) changes.

Polling (every `interval` seconds, 0.1 by default) works the same on every platform and
filesystem, needs no dependency, and for the handful of files a graph names costs a few
stat() calls. Editors that save by renaming a new file into place are seen as a change
too (the identity includes the inode). A missing file is a state of its own, so a watched
file that appears or disappears is a change; a file newly added to the set is not.
A change is reported once the files have been still for SETTLE_SECONDS, so a file caught
half-written (truncated, then written) is not read.
"""
from __future__ import annotations

import os
import threading

SETTLE_SECONDS = 0.03  # a change is reported once the files were unchanged this long
SETTLE_ROUNDS = 20


def identity(path: str):
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


class Watcher:
    """Watches the files `files()` returns; `on_change(changed paths)` runs on its thread."""

    def __init__(self, files, on_change, interval: float = 0.1):
        self.files = files
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._seen = {path: identity(path) for path in files()}
        self._thread = threading.Thread(target=self._loop, name="maskgraph-watch", daemon=True)

    def start(self) -> "Watcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def poll(self) -> list[str]:
        """The watched files that changed since the last poll (and remember the new state)."""
        current = {path: identity(path) for path in self.files()}
        changed = [path for path, ident in current.items()
                   if path in self._seen and self._seen[path] != ident]
        self._seen = current
        return changed

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            changed = self.poll()
            if changed:
                self.on_change(self._settled(changed))

    def _settled(self, changed: list[str]) -> list[str]:
        """Wait until the changed files stop changing (a save that truncates then writes
        must not be read half-way: a cut YAML file can still be a valid, smaller graph)."""
        for _ in range(SETTLE_ROUNDS):
            if self._stop.wait(SETTLE_SECONDS):
                break
            more = self.poll()
            if not more:
                break
            changed = sorted(set(changed) | set(more))
        return changed
