"""The `maskgraph` command line: run, validate, nodes, dot, cache, preview.

Exit codes: 0 success, 2 invalid graph or arguments, 1 a node failed while running.
Messages go to stderr; results (stats JSON, DOT text, node docs) to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import yaml

from graph.errors import GraphError, MaskgraphError, NodeFailure, Problem

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
COMMAND_ENTRY_POINTS = "maskgraph.commands"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: exit 2 with usage, like a bad graph
        self.print_usage(sys.stderr)
        print(f"maskgraph: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="maskgraph", description="Node-graph compositing built around masks.")
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
    cache = commands.add_parser("cache", help="inspect or clear the disk cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache-dir", metavar="DIR")
    preview = commands.add_parser("preview", help="write an HTML page showing every node's result")
    _graph_arguments(preview)
    preview.add_argument("-o", "--output-file", default="report.html", metavar="FILE")
    preview.add_argument("--frame", type=int, default=1)
    preview.add_argument("--cache-dir", metavar="DIR")
    add_library_commands(commands)
    return parser


def _graph_arguments(parser) -> None:
    parser.add_argument("graph", help="the graph's YAML file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a graph param (VALUE is read as YAML)")


def main(argv=None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        handler = COMMANDS.get(arguments.command) or arguments.handler
        return handler(arguments)
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


def parse_overrides(pairs: list[str]) -> dict:
    """['gain=[1, 1.1, 1]', 'plate=a.png'] -> {'gain': [1, 1.1, 1], 'plate': 'a.png'}."""
    overrides, problems = {}, []
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name:
            problems.append(Problem(f"--set {pair!r}: expected NAME=VALUE"))
            continue
        try:
            overrides[name.strip()] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError as error:
            problems.append(Problem(f"--set {name}: cannot read {text!r} as a value ({error})"))
    if problems:
        raise GraphError(problems)
    return overrides


def load_from_arguments(arguments):
    import graph
    return graph.load(arguments.graph, params=parse_overrides(arguments.set))


def parse_frames(text: str | None) -> list[int]:
    if not text:
        return [1]
    start, dash, end = text.partition("-")
    try:
        first, last = int(start), int(end) if dash else int(start)
    except ValueError:
        raise GraphError(Problem(f"--frames {text!r}: expected A-B or N (whole numbers)"))
    if last < first:
        raise GraphError(Problem(f"--frames {text!r}: the last frame is before the first"))
    return list(range(first, last + 1))


def command_run(arguments) -> int:
    if arguments.threads is not None:
        if arguments.threads < 1:
            raise GraphError(Problem(f"--threads {arguments.threads}: at least 1 thread"))
        from graph.threads import set_threads
        set_threads(arguments.threads)
    graph = load_from_arguments(arguments)
    frames = parse_frames(arguments.frames)
    if arguments.frames is None and arguments.scheduler is None and arguments.workers is None:
        run = graph.run(arguments.output, frame=frames[0], cache_dir=arguments.cache_dir)
        if arguments.stats == "json":
            print(run.stats_json())
        return EXIT_OK
    if arguments.workers is not None and arguments.workers < 1:
        raise GraphError(Problem(f"--workers {arguments.workers}: at least 1 worker"))
    if arguments.workers is not None and arguments.scheduler:
        raise GraphError(Problem("--workers starts a local cluster and --scheduler uses an "
                                 "existing one: give one of them"))
    show_progress = sys.stderr.isatty() and len(frames) > 1
    finished = []

    def on_frame(frame_run):
        finished.append(frame_run.frame)
        if show_progress:
            _progress(len(finished), len(frames), frame_run.frame)
    client = connect(arguments.scheduler) if arguments.scheduler else None
    try:
        render = graph.render(frames, arguments.output, client=client,
                              workers=arguments.workers, cache_dir=arguments.cache_dir,
                              on_frame=on_frame)
    finally:
        if client is not None:
            client.close()
    if show_progress:
        print(file=sys.stderr)
    if arguments.stats == "json":
        stats = render.stats if len(frames) > 1 else \
            [{k: v for k, v in stat.items() if k != "frame"} for stat in render.stats]
        print(json.dumps({"nodes": stats, "total_seconds": round(render.total_seconds, 6)}))
    return EXIT_OK


def connect(address: str):
    """A distributed.Client on the scheduler at `address`, or GraphError (exit 2)."""
    from graph.distributed import connect as connect_client
    return connect_client(address)


def _progress(done: int, count: int, frame: int) -> None:
    width = 30
    filled = width * done // count
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {done}/{count} frame {frame}", end="", file=sys.stderr, flush=True)


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
        raise GraphError(Problem(f"no node type or template '{arguments.type}'",
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
        raise GraphError(Problem("no disk cache: pass --cache-dir DIR or set "
                                 f"${CACHE_DIR_ENV}"))
    disk = DiskCache(directory)
    if arguments.action == "clear":
        print(f"removed {disk.clear()} entries from {disk.directory}", file=sys.stderr)
    else:
        info = disk.info()
        print(json.dumps(info) if not sys.stdout.isatty() else
              f"{info['directory']}: {info['entries']} entries, "
              f"{info['bytes'] / 2**20:.1f} MiB (limit {info['limit'] / 2**30:.1f} GiB)")
    return EXIT_OK


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


COMMANDS = {"run": command_run, "validate": command_validate, "nodes": command_nodes,
            "dot": command_dot, "cache": command_cache, "preview": command_preview}

if __name__ == "__main__":
    sys.exit(main())
