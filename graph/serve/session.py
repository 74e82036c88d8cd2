"""The live state behind `maskgraph serve`: load the graph, evaluate every node, keep results.

One evaluation thread takes refresh requests (a file changed, the frame moved), reloads
the graph and evaluates every node at the current frame through the public API
(`graph.load`, `Graph.run`); the process-wide memory cache makes an edit recompute only
what lies downstream of it. Each evaluation publishes a Snapshot: results, per-node
stats, failures, the layout, or the graph's error. A node's picture version changes only
when its result changed, so the page reloads only those pictures.

A sink is shown by the result it would write (its input); nothing is written.
A node failure is caught per node: the nodes that do not depend on it still show.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

import graph as engine
from graph.animation import FRAME_PATTERN, Animated, has_frame_pattern, path_at_frame, value_at
from graph.errors import MaskgraphError, NodeFailure
from graph.layout import layout
from graph.serve.watch import identity

SHAPE_PARAMS = ("points",)


@dataclass
class Snapshot:
    """One published evaluation (immutable once published)."""

    serial: int = 0
    frame: int = 1
    graph: object = None
    error: dict | None = None
    results: dict = field(default_factory=dict)     # node -> array
    versions: dict = field(default_factory=dict)    # node -> picture version
    nodes: dict = field(default_factory=dict)       # node -> JSON-able info
    layout: dict = field(default_factory=dict)
    backdrops: dict = field(default_factory=dict)   # mask node -> image node
    shown: dict = field(default_factory=dict)       # node -> the node whose result it shows
    seconds: float = 0.0
    files: list = field(default_factory=list)       # files the graph depends on

    def public(self, registry_info: dict) -> dict:
        return {"serial": self.serial, "frame": self.frame, "error": self.error,
                "nodes": self.nodes, "layout": self.layout, "seconds": round(self.seconds, 4),
                **registry_info}


class Session:
    """Holds the graph file, evaluates it on request and tells listeners."""

    def __init__(self, path: str, frames: tuple[int, int] | None = None,
                 cache_dir: str | None = None, params: dict | None = None):
        self.path = os.path.abspath(path)
        self.folder = os.path.dirname(self.path)
        self.params = params or {}
        self.cache_dir = cache_dir
        self.frames = frames
        self._frames_guessed = False  # True: the range comes from the graph (keys, sequences)
        self.frame = frames[0] if frames else 1
        self.snapshot = Snapshot()
        self.listeners: list = []           # callback(snapshot) after each evaluation
        self.progress_listeners: list = []  # callback(dict) after each node evaluated
        self._wake = threading.Condition()
        self._dirty = False
        self._stopped = False
        self._versions: dict = {}
        self._serial = 0
        self._thread = None
        self._evaluated = None  # (frame, {file: identity}) of the last evaluation

    # ------------------------------------------------------------ control
    def start(self) -> None:
        warm_up_jit()
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="maskgraph-evaluate",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()

    def refresh(self, frame: int | None = None) -> None:
        """Ask for a new evaluation (coalesced with any pending one)."""
        with self._wake:
            if frame is not None:
                self.frame = frame
            self._dirty = True
            self._wake.notify_all()

    def wait_published(self, serial: int, timeout: float) -> Snapshot:
        """Block until a snapshot newer than `serial` is published (for the CLI and tests)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self.snapshot.serial <= serial and time.monotonic() < deadline:
                self._wake.wait(deadline - time.monotonic())
        return self.snapshot

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._dirty and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                self._dirty = False
                frame = self.frame
            files = self.snapshot.files or [self.path]
            before = {path: identity(path) for path in files}
            if self._evaluated == (frame, before):
                continue  # nothing changed since the last evaluation (a repeated request)
            snapshot = self.evaluate(frame)
            # new files (a template, an input just named) count as read as they are now
            seen = {path: before[path] if path in before else identity(path)
                    for path in snapshot.files or [self.path]}
            self._evaluated = (snapshot.frame, seen)
            with self._wake:
                self.snapshot = snapshot
                self._wake.notify_all()
            for listener in list(self.listeners):
                listener(snapshot)

    # ------------------------------------------------------------ evaluation
    def evaluate(self, frame: int) -> Snapshot:
        started = time.perf_counter()
        self._serial += 1
        try:
            graph = engine.load(self.path, params=self.params)
        except MaskgraphError as error:  # GraphError (with its problems) or another refusal
            return self._failed_load(error, frame, started)
        if self.frames is None or self._frames_guessed:
            guessed = frame_range(graph)
            self._frames_guessed = True
            self.frames = guessed
            if guessed and not guessed[0] <= frame <= guessed[1]:
                frame = self.frame = guessed[0]
        shown = shown_targets(graph)
        total, done = len(graph.nodes), []

        def progress(stat):
            done.append(stat["name"])
            for listener in list(self.progress_listeners):
                listener({"node": stat["name"], "status": stat["status"],
                          "done": len(done), "total": total})
        results, stats, failures = run_targets(graph, shown.values(), frame, self.cache_dir,
                                               on_node=progress)
        snapshot = Snapshot(serial=self._serial, frame=frame, graph=graph, shown=shown,
                            layout=layout(graph), files=watched_files(graph, frame))
        for name in graph.nodes:
            array = results.get(shown.get(name))
            snapshot.results[name] = array
            snapshot.versions[name] = self._version(name, array)
            snapshot.nodes[name] = _node_info(graph, name, array, stats.get(name),
                                              failures.get(name), shown, frame)
            snapshot.nodes[name]["version"] = snapshot.versions[name]
            if array is not None and array.ndim == 2:
                snapshot.backdrops[name] = nearest_image(graph, name, results)
        snapshot.seconds = time.perf_counter() - started
        return snapshot

    def _failed_load(self, error, frame, started) -> Snapshot:
        previous = self.snapshot
        problems = [{"where": str(p.location) if p.location else "", "message": p.message,
                     "node": p.node, "hint": p.hint, "text": str(p)} for p in getattr(error, "problems", [])]
        return Snapshot(serial=self._serial, frame=frame, graph=previous.graph,
                        error={"message": str(error), "problems": problems},
                        results=previous.results, versions=previous.versions,
                        nodes=previous.nodes, layout=previous.layout,
                        backdrops=previous.backdrops, shown=previous.shown,
                        files=previous.files or [self.path],
                        seconds=time.perf_counter() - started)

    def _version(self, name, array) -> int:
        """Bump a node's picture version when its result is a new array.

        The memory cache hands out the same (read-only) array for an unchanged node, so
        identity is the test; comparing pixels would cost more than re-encoding a picture.
        """
        old_array, version = self._versions.get(name, (None, 0))
        if array is not old_array:
            version += 1
        self._versions[name] = (array, version)
        return version


@functools.cache
def warm_up_jit() -> None:
    """Start numba's compiler once (about 1 s here) before anything is timed.

    Otherwise the first node that calls a kernel is charged the JIT's start-up, and its
    time on the page says nothing about the node.
    """
    try:
        import numba
    except ImportError:
        return
    numba.njit(lambda value: value + 1)(1)


def run_targets(graph, targets, frame: int, cache_dir=None, on_node=None):
    """(results, stats by node, failures by node) of evaluating `targets`.

    One run when nothing fails; after a NodeFailure each target is run on its own (the
    memory cache keeps this cheap), so a failing node fails only what depends on it.
    """
    targets = sorted(set(targets))
    try:
        run = graph.run(targets, frame=frame, cache_dir=cache_dir, on_node=on_node)
        return run.results, {s["name"]: s for s in run.stats}, {}
    except NodeFailure:
        pass
    results, stats, failures = {}, {}, {}
    for target in _topological(graph, targets):
        try:
            run = graph.run([target], frame=frame, cache_dir=cache_dir, on_node=on_node)
        except NodeFailure as failure:
            text = str(failure)
            if graph.source:  # paths inside the graph's folder, relative to it
                text = text.replace(os.path.dirname(os.path.abspath(graph.source)) + os.sep, "")
            failures.setdefault(failure.node, {"message": text.split(" failed: ", 1)[-1],
                                               "text": text, "hint": failure.hint})
            continue
        results.update(run.results)
        for stat in run.stats:
            stats.setdefault(stat["name"], stat)
    for target in targets:
        node = target.split(".")[0]
        if target not in results and node not in failures:
            failures[node] = {"message": "not computed: an upstream node failed",
                              "upstream": True}
    return results, stats, failures


def shown_targets(graph) -> dict:
    """node -> the target whose result its card shows (a sink shows its first input)."""
    sinks = set(graph.sinks())
    shown = {}
    for name, node in graph.nodes.items():
        if name in sinks:
            refs = [ref for _, ref in node.refs()]
            if refs:
                shown[name] = str(refs[0])
        else:
            shown[name] = name
    return shown


def _topological(graph, targets):
    import networkx as nx
    order = {name: index for index, name in enumerate(nx.topological_sort(graph.dependency_graph()))}
    return sorted(targets, key=lambda target: order.get(target.split(".")[0], 0))


def _node_info(graph, name, array, stat, failure, shown, frame) -> dict:
    node = graph.nodes[name]
    spec = graph.registry.get(node.type)
    info = {"type": node.type, "disabled": bool(node.disable),
            "sink": bool(spec and spec.sink), "line": _line(node),
            "kind": None if array is None else ("mask" if array.ndim == 2 else "image"),
            "size": None if array is None else [int(array.shape[1]), int(array.shape[0])],
            "status": stat["status"] if stat else ("failed" if failure else
                                                   "not written" if spec and spec.sink else "cached"),
            "seconds": round(stat["seconds"], 5) if stat else None,
            "reason": (stat or {}).get("reason"), "failure": failure,
            "mask_inputs": [i.name for i in (spec.inputs if spec else []) if "mask" in i.type]}
    if array is not None and array.ndim == 2:
        info["coverage"] = round(float(np.mean(np.clip(array, 0, 1))) * 100, 2)
    shape = _shape(node, spec, frame)
    if shape:
        info["shape"] = shape
    if node.type == "read_mask":
        info["mask_path"] = str(node.values.get("path", ""))
    return info


def _line(node) -> int | None:
    location = node.location()
    return getattr(location, "line", None)


def _shape(node, spec, frame) -> dict | None:
    """Points (and handles) at this frame of a node whose type draws a shape from points."""
    if spec is None or not spec.param("points") or spec.param("points").type != "points":
        return None
    raw = node.params.get("points")
    points = value_at(node.values.get("points", raw), frame)
    handles = node.values.get("handles", node.params.get("handles"))
    return {"points": _plain(points), "handles": _plain(value_at(handles, frame)),
            "animated": isinstance(raw, Animated),
            "keys": [k for k, _ in raw.keys] if isinstance(raw, Animated) else [],
            "has_handles": spec.param("handles") is not None}


def _plain(value):
    if value is None:
        return None
    return [[float(x) for x in point] for point in np.asarray(value, np.float64).tolist()]


def nearest_image(graph, name, results) -> str | None:
    """The nearest upstream node whose result is an image (for a mask overlay)."""
    digraph = graph.dependency_graph()
    seen, frontier = {name}, [name]
    while frontier:
        following = []
        for current in frontier:
            for upstream in digraph.predecessors(current):
                if upstream in seen:
                    continue
                seen.add(upstream)
                following.append(upstream)
                result = results.get(upstream)
                if result is not None and result.ndim == 3:
                    return upstream
        frontier = following
    return None


def watched_files(graph, frame: int) -> list[str]:
    """The graph file, its templates and the files its readers read at this frame."""
    files = [os.path.abspath(graph.source)] if graph.source else []
    for fields in graph.instance_fields.values():
        files.append(os.path.abspath(fields["file"]))
    for node in graph.nodes.values():
        spec = graph.registry.get(node.type)
        if not (spec and spec.reads_files):
            continue
        for param in spec.params:
            value = node.values.get(param.name)
            if param.type == "path" and isinstance(value, str):
                files.append(path_at_frame(value, frame) if has_frame_pattern(value) else value)
    return sorted(set(files))


def frame_range(graph) -> tuple[int, int] | None:
    """The frames a graph spans: its animation keys and the files of its frame sequences."""
    frames = []
    for node in graph.nodes.values():
        spec = graph.registry.get(node.type)
        for name, raw in node.params.items():
            if isinstance(raw, Animated):
                frames += [int(frame) for frame, _ in raw.keys]
        for param in (spec.params if spec and spec.reads_files else []):
            value = node.values.get(param.name)
            if param.type == "path" and isinstance(value, str) and has_frame_pattern(value):
                frames += _sequence_frames(value)
    return (min(frames), max(frames)) if frames else None


def _sequence_frames(pattern: str) -> list[int]:
    """Frame numbers of the files on disk matching 'plate.####.png' (or %04d)."""
    folder, name = os.path.split(pattern)
    match = FRAME_PATTERN.search(name)
    prefix, suffix = name[:match.start()], name[match.end():]
    found = []
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return found
    for entry in entries:
        middle = entry[len(prefix):len(entry) - len(suffix)] if suffix else entry[len(prefix):]
        if entry.startswith(prefix) and entry.endswith(suffix) and middle.isdigit():
            found.append(int(middle))
    return found


def declared_paths(graph) -> set[str]:
    """Absolute paths named by the graph's path params (inputs and outputs)."""
    paths = set()
    if graph is None:
        return paths
    for node in graph.nodes.values():
        spec = graph.registry.get(node.type)
        for param in (spec.params if spec else []):
            value = node.values.get(param.name)
            if param.type == "path" and isinstance(value, str):
                paths.add(os.path.realpath(value))
    return paths
