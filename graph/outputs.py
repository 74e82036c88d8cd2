"""What a render writes: the files of its sinks, and the frame checks around them.

A sink's files are its `path` params at a frame. Rendering a frame range onto sinks whose
paths have no frame number (`####`, `%04d`) would rewrite the same file once per frame:
refused, unless the sink collects the range into one file (a spec with `finish` that
takes the frame at these params: a video). An animated graph rendered at one frame gets a
warning naming its key range.
"""
from __future__ import annotations

import os

from graph.animation import has_frame_pattern, path_at_frame, value_at
from graph.errors import GraphError, Problem
from graph.model import Animated, Graph, Ref


def sink_names(graph: Graph, outputs=None) -> list[str]:
    """The sinks a render of `outputs` (default: every sink) runs."""
    if outputs is None:
        return graph.sinks()
    names = [outputs] if isinstance(outputs, str) else list(outputs)
    sinks = set(graph.sinks())
    return [ref.node for name in names
            if (ref := graph.outputs.get(name) or graph.resolve(Ref.parse(name))).node in sinks]


def sink_paths(graph: Graph, name: str, frame: int) -> list[str]:
    """The files sink `name` writes at `frame`."""
    node = graph.nodes[name]
    spec = graph.registry.get(node.type)
    paths = []
    for param in spec.params:
        value = value_at(node.values.get(param.name), frame)
        if param.type == "path" and isinstance(value, str):
            paths.append(path_at_frame(value, frame) if has_frame_pattern(value) else value)
    return paths


def check_frame_range(graph: Graph, outputs, frame_count: int) -> None:
    """Refuse a range of frames onto sinks whose paths hold no frame number."""
    if frame_count <= 1:
        return
    problems = []
    for name in sink_names(graph, outputs):
        node = graph.nodes[name]
        spec = graph.registry.get(node.type)
        if spec.finish is not None and spec.wants_frame(
                {key: value_at(value, 1) for key, value in node.values.items()}):
            continue  # it collects the frames into one file (a video)
        for path in sink_paths(graph, name, 1):
            raw = node.values.get("path")
            if isinstance(raw, Animated) or has_frame_pattern(str(raw)):
                continue
            problems.append(Problem(
                f"{frame_count} frames would all be written to {path}", node.location("path"),
                name, "path", hint="put the frame number in the path: out/comp.####.png "
                                   "(or %04d), or render one frame"))
    if problems:
        raise GraphError(problems)


def animated_range(graph: Graph) -> tuple[int, int] | None:
    """(first, last) key frame over every animated param, or None when nothing animates."""
    frames = [frame for node in graph.nodes.values() for value in node.values.values()
              if isinstance(value, Animated) for frame, _ in value.keys]
    if not frames:
        return None
    return int(min(frames)), int(max(frames))


def path_conflicts(graph: Graph) -> list[Problem]:
    """Two sinks writing one path, or a sink writing a file that a reader in the graph
    reads (each rerun would compound the edit): paths compared after resolving links."""
    written: dict[str, str] = {}
    read: dict[str, str] = {}
    problems = []
    for name, node in graph.nodes.items():
        spec = graph.registry.get(node.type)
        if spec is None or not (spec.sink or spec.reads_files):
            continue
        for param in spec.params:
            value = node.values.get(param.name)
            if param.type != "path" or not isinstance(value, str):
                continue
            resolved = os.path.realpath(value)
            if spec.sink and resolved in written:
                problems.append(Problem(f"writes {value}, as node '{written[resolved]}' "
                                        "does", node.location(param.name), name, param.name,
                                        hint="give each write its own path"))
            elif spec.sink:
                written[resolved] = name
            else:
                read.setdefault(resolved, name)
    for resolved, name in written.items():
        if resolved in read:
            node = graph.nodes[name]
            problems.append(Problem(f"writes {node.values.get('path', resolved)}, which node "
                                    f"'{read[resolved]}' reads", node.location("path"), name,
                                    "path", hint="write to a new file: a rerun would edit "
                                                 "its own output again"))
    return problems
