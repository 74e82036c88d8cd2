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
from graph.talk import Talker  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
COMMAND_ENTRY_POINTS = "maskgraph.commands"
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
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="render on the Dask cluster whose scheduler listens at ADDRESS "
                          "(the `dask` extra; outputs must be on a filesystem the workers share)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="render on a local Dask cluster of N single-threaded processes")
    run.add_argument("-q", "--quiet", action="store_true",
                     help="print only errors and warnings (no progress, no list of files)")
    run.add_argument("--threads", type=int, metavar="N",
                     help="use at most N threads for the kernels (or $MASKGRAPH_THREADS; "
                          "default: every core)")
    validate = commands.add_parser("validate", help="check a graph without running it")
    _graph_arguments(validate)
    nodes = commands.add_parser("nodes", help="list node types and templates, or document one")
    nodes.add_argument("type", nargs="?", help="a node type or template name")
    nodes.add_argument("--markdown", action="store_true", help="the full reference as Markdown")
    dot = commands.add_parser("dot", help="print the graph as Graphviz DOT text")
    _graph_arguments(dot)
    cache = commands.add_parser("cache", help="inspect or clear the disk cache and the "
                                "compiled-kernel folder")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache-dir", metavar="DIR")
    preview = commands.add_parser("preview", help="write an HTML page showing every node's result")
    _graph_arguments(preview)
    preview.add_argument("-o", "--output-file", default="report.html", metavar="FILE")
    preview.add_argument("--frame", type=int, default=1)
    preview.add_argument("--cache-dir", metavar="DIR")
    serve = commands.add_parser("serve", help="show the graph live in a browser; draw and paint masks")
    _graph_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--frames", metavar="A-B", help="frame range of the slider")
    serve.add_argument("--cache-dir", metavar="DIR")
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    add_library_commands(commands)
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
        code = (COMMANDS.get(arguments.command) or arguments.handler)(arguments)
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
    if arguments.threads is not None:
        if arguments.threads < 1:
            raise UsageError(Problem(f"--threads {arguments.threads}: at least 1 thread"))
        from graph.threads import set_threads
        set_threads(arguments.threads)
    from graph.outputs import animated_range, check_frame_range
    frames = parse_frames(arguments.frames)
    if arguments.workers is not None and arguments.workers < 1:
        raise UsageError(Problem(f"--workers {arguments.workers}: at least 1 worker"))
    if arguments.workers is not None and arguments.scheduler:
        raise UsageError(Problem("--workers starts a local cluster and --scheduler uses an "
                                 "existing one: give one of them"))
    talk = Talker(quiet=arguments.quiet, frame_count=len(frames))
    with talk:  # loading the node library can compile kernels too
        graph = load_from_arguments(arguments)
        check_frame_range(graph, arguments.output, len(frames))
        keyed = animated_range(graph)
        if arguments.frames is None and keyed and keyed[0] != keyed[1]:
            talk.say(f"maskgraph: warning: the graph is animated (keys on frames {keyed[0]}-"
                     f"{keyed[1]}) but renders only frame 1: pass --frames "
                     f"{keyed[0]}-{keyed[1]}")
        stats, total = _render(graph, arguments, frames, talk)
    written = _files_written(graph, stats)
    talk.files(written if len(frames) == 1 else _sequences(graph, written, frames))
    if arguments.stats == "json":
        if len(frames) == 1:
            stats = [{k: v for k, v in stat.items() if k != "frame"} for stat in stats]
        print(json.dumps({"nodes": stats, "total_seconds": round(total, 6)}))
    return EXIT_OK


def connect(address: str):
    """A distributed.Client on the scheduler at `address`, or GraphError (exit 2)."""
    from graph.distributed import connect as connect_client
    return connect_client(address)


def _render(graph, arguments, frames, talk) -> tuple[list, float]:
    """Every frame's stats (each with its `frame`) and the total seconds: one frame in this
    process, or a range as one plan, locally or on a Dask cluster."""
    if arguments.frames is None and arguments.scheduler is None and arguments.workers is None:
        # one frame in a process that then exits: nothing would read the memory cache
        # again, so it keeps nothing and memory follows the live set (a farm's figure)
        run = graph.run(arguments.output, frame=frames[0], cache_dir=arguments.cache_dir,
                        memory=None)
        return [{**stat, "frame": frames[0]} for stat in run.stats], run.total_seconds
    talk.start_bar()
    client = connect(arguments.scheduler) if arguments.scheduler else None
    try:
        render = graph.render(frames, arguments.output, client=client,
                              workers=arguments.workers, cache_dir=arguments.cache_dir,
                              on_frame=lambda frame_run: talk.frame_done(frame_run.frame))
    finally:
        if client is not None:
            client.close()
    return render.stats, render.total_seconds


def _files_written(graph, stats) -> list[str]:
    from graph.outputs import sink_paths
    return [path for stat in stats if stat["status"] == "written"
            for path in sink_paths(graph, stat["name"], stat["frame"])]


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
    """info / clear the disk cache (--cache-dir or $MASKGRAPH_CACHE_DIR, when given) and
    the fused-kernel folder (always)."""
    from graph import kernel_folder
    disk = _disk_cache(arguments)
    if arguments.action == "clear":
        if disk is not None:
            temporary = disk.info()["temporary_files"]
            print(f"removed {disk.clear()} entries and {temporary} temporary files from "
                  f"{disk.directory}", file=sys.stderr)
        print(f"removed {kernel_folder.clear()} compiled kernels from "
              f"{kernel_folder.kernel_folder()}", file=sys.stderr)
        return EXIT_OK
    info = disk.info() if disk is not None else {}
    info["kernels"] = kernel_folder.info()
    if not sys.stdout.isatty():
        print(json.dumps(info))
        return EXIT_OK
    if disk is not None:
        print(f"{info['directory']}: {info['entries']} entries, "
              f"{info['bytes'] / 2**20:.1f} MiB (limit {info['limit'] / 2**30:.1f} GiB), "
              f"{info['temporary_files']} temporary files "
              f"({info['temporary_bytes'] / 2**20:.1f} MiB, from interrupted writes)")
    kernels = info["kernels"]
    print(f"{kernels['directory']}: {kernels['kernels']} compiled kernels, "
          f"{kernels['bytes'] / 2**20:.1f} MiB (limit {kernels['limit'] / 2**20:.0f} MiB)")
    return EXIT_OK


def _disk_cache(arguments):
    """The DiskCache that --cache-dir or $MASKGRAPH_CACHE_DIR names, or None."""
    from graph.cache import CACHE_DIR_ENV, DiskCache
    directory = arguments.cache_dir or os.environ.get(CACHE_DIR_ENV)
    if not directory:
        return None
    if not os.path.exists(directory):
        raise UsageError(Problem(f"no disk cache at {directory}: the folder does not exist"))
    if not os.path.isdir(directory):
        raise UsageError(Problem(f"--cache-dir {directory} is a file, not a folder"))
    return DiskCache(directory)


def command_preview(arguments) -> int:
    from graph.preview import write_preview
    graph = load_from_arguments(arguments)
    path = write_preview(graph, arguments.output_file, frame=arguments.frame,
                         cache_dir=arguments.cache_dir)
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def add_library_commands(commands) -> None:
    """Commands that node libraries contribute (entry points `maskgraph.commands`: each a
    callable that adds its parser to argparse's subparsers and sets `handler`)."""
    from importlib.metadata import entry_points
    for entry in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda e: e.name):
        entry.load()(commands)


def command_serve(arguments) -> int:
    from graph.serve import serve
    frames = parse_frames(arguments.frames) if arguments.frames else None
    try:
        serve(arguments.graph, host=arguments.host, port=arguments.port,
              frames=(frames[0], frames[-1]) if frames else None,
              cache_dir=arguments.cache_dir, params=parse_overrides(arguments.set),
              open_browser=arguments.open)
    except OSError as error:
        raise MaskgraphError(f"serve: cannot listen on {arguments.host}:{arguments.port}: "
                             f"{error.strerror}") from None
    return EXIT_OK


COMMANDS = {"run": command_run, "validate": command_validate, "nodes": command_nodes,
            "serve": command_serve,
            "dot": command_dot, "cache": command_cache, "preview": command_preview}

if __name__ == "__main__":
    sys.exit(main())
