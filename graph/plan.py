"""Planning: (graph, requested outputs, frames, feed) -> an immutable Plan of Tasks.

Policy (the hash half of a hash/compute split; no pixel is touched here):
1. Resolve the requested outputs (default: every sink; a template file loaded on its own:
   its declared outputs; else the leaves) and take only their ancestors.
2. For every (node, frame) site that an output needs, compute a Merkle key: sha256 of the
   node's type id, spec version, params at that frame (frame patterns in paths filled
   in), its inputs' keys and output names, the files a loader reads (path, size, mtime),
   the frame when the spec takes it, and the frames it reads its inputs at. A fed node's
   key is a hash of the fed array. A disabled node, or a maskable one with mix 0 at that
   frame, is a pass-through: its key is its original input's key and output.
3. Time edges: a spec's `reads_frames(params, frame)` names the frame each input is read
   at; planning follows those edges, so frame f of a node may depend on frame f-1 of
   another. A node whose params, inputs and spec do not vary with the frame has one key
   for the whole range.
4. Sites with equal keys are one Task: a subgraph with nothing animated upstream is one
   task per node for the whole frame range, so an executor computes it once.

A Task holds everything needed to run it except the arrays: node, frame, kind
(compute | sink | pass | fed), its input task keys per port, its params at the frame and
the canonical text of its key parts (the recompute-reason record). Plans pickle (the
graph's specs travel by id) so a Dask worker can run any task of them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import networkx as nx

from graph import cache as caching
from graph.animation import has_frame_pattern, path_at_frame, value_at
from graph.errors import GraphError, NodeFailure, Problem, did_you_mean
from graph.model import Animated, Graph, Ref, output_types, resolve_output



class Task(NamedTuple):
    """One unit of work: a node at a frame. Equal keys are the same task.

    inputs: ((port, is_list, ((input key, output name), ...)), ...) in port order; for a
    pass-through one entry ('', False, ((key, output),)). params: ((name, value), ...) at
    this frame. record: the canonical JSON of the key's parts ('' for a fed task).
    """

    key: str
    node: str
    frame: int
    kind: str
    inputs: tuple = ()
    params: tuple = ()
    record: str = ""

    @property
    def input_keys(self) -> tuple:
        return tuple(key for _, _, refs in self.inputs for key, _ in refs)


@dataclass(frozen=True)
class Plan:
    """The tasks of one request. `sites[(node, frame)]` is the key of that node at that
    frame; `deps[(node, frame)]` the input sites it reads; `targets[frame]` maps each
    requested label to (node, key, output); `kinds[(node, output)]` is 'image' or 'mask'."""

    graph: Graph
    frames: tuple
    tasks: dict
    sites: dict
    deps: dict
    targets: dict
    kinds: dict
    feed: dict = field(default_factory=dict)

    def task(self, site) -> Task:
        return self.tasks[self.sites[site]]

    def shared_keys(self) -> dict:
        """key -> index (in `frames`) of the last frame that needs it, for the keys that
        several frames need (a static subgraph, the frame a frame_hold reads, ...)."""
        users: dict[str, list] = {}
        for index, frame in enumerate(self.frames):
            seen: set = set()
            stack = [(node, frame) for node, _, _ in self.targets[frame].values()]
            while stack:
                site = stack.pop()
                key = self.sites[site]
                if key in seen:
                    continue
                seen.add(key)
                users.setdefault(key, []).append(index)
                stack.extend(self.deps[site])
        return {key: found[-1] for key, found in users.items() if len(found) > 1}

    def for_frames(self, frames) -> "Plan":
        """The part of this plan that `frames` need (what one Dask task carries): only the
        sites reachable from those frames' targets, their tasks and fed arrays."""
        sites, deps, stack = {}, {}, []
        for frame in frames:
            stack += [(node, frame) for node, _, _ in self.targets[frame].values()]
        while stack:
            site = stack.pop()
            if site in sites:
                continue
            sites[site] = self.sites[site]
            deps[site] = self.deps[site]
            stack.extend(deps[site])
        keys = set(sites.values())
        return Plan(self.graph, tuple(frames), {key: self.tasks[key] for key in keys}, sites,
                    deps, {frame: self.targets[frame] for frame in frames}, self.kinds,
                    {key: array for key, array in self.feed.items() if key in keys})


def make_plan(graph: Graph, outputs=None, frames=(1,), feed: dict | None = None) -> Plan:
    """Plan the requested outputs over `frames` (see the module docstring)."""
    graph.validate()
    frames = tuple(int(frame) for frame in frames)
    targets = resolve_targets(graph, outputs)
    feed = check_feed(graph, feed or {})
    digraph = graph.dependency_graph()
    planner = _Planner(graph, feed, _needed(digraph, targets), digraph)
    plan_targets = {}
    for frame in frames:
        plan_targets[frame] = {}
        for label, ref in targets.items():
            key = planner.site((ref.node, frame))
            plan_targets[frame][label] = (ref.node, key, resolve_output(graph, ref))
    fed = {planner.fed_keys[name]: array for name, array in feed.items()
           if name in planner.fed_keys}
    return Plan(graph, frames, planner.tasks, planner.sites, planner.deps, plan_targets,
                planner.kinds, fed)


def resolve_targets(graph: Graph, outputs) -> dict[str, Ref]:
    if outputs is None:
        names = graph.sinks() or list(graph.outputs) or _leaves(graph)
    else:
        names = [outputs] if isinstance(outputs, str) else list(outputs)
    targets, problems = {}, []
    for name in names:
        ref = graph.outputs.get(name) or graph.resolve(Ref.parse(name))
        if ref.node not in graph.nodes:
            problems.append(Problem(f"no node or output named '{name}'", key="outputs",
                                    hint=did_you_mean(name, list(graph.nodes) +
                                                      list(graph.outputs))))
            continue
        targets[name] = ref
    if problems:
        raise GraphError(problems)
    return targets


def check_feed(graph: Graph, feed: dict) -> dict:
    unknown = [name for name in feed if name not in graph.nodes]
    if unknown:
        raise GraphError([Problem(f"feed names no node '{name}'", key="feed",
                                  hint=did_you_mean(name, graph.nodes)) for name in unknown])
    return {name: np.ascontiguousarray(array, dtype=np.float32)
            for name, array in feed.items()}


def _needed(digraph, targets) -> set:
    needed = set()
    for ref in targets.values():
        needed |= nx.ancestors(digraph, ref.node) | {ref.node}
    return needed


def _leaves(graph: Graph) -> list[str]:
    digraph = graph.dependency_graph()
    return [name for name in graph.nodes if digraph.out_degree(name) == 0]


class _NodeInfo:
    """What planning needs of one node, worked out once: the spec, its connections, the
    JSON of every param that cannot change with the frame, the names of those that can."""

    __slots__ = ("node", "spec", "connections", "static_params", "static_text", "dynamic",
                 "pattern_paths", "may_pass", "head", "order", "port_text", "fixed")

    def __init__(self, node, spec, graph):
        self.node, self.spec = node, spec
        self.connections = []  # (port, is_list, ((source node, output), ...)) sorted by port
        for port, value in sorted(node.inputs.items()):
            refs = value if isinstance(value, list) else [value]
            self.connections.append((port, isinstance(value, list),
                                     tuple((r.node, resolve_output(graph, r)) for r in refs)))
        self.port_text = {port: (_json(port) + ":[", [_json(o) for _, o in refs])
                          for port, _, refs in self.connections}
        self.pattern_paths = {p.name for p in spec.params if p.type == "path"
                              and isinstance(node.values.get(p.name), str)
                              and has_frame_pattern(node.values[p.name])}
        self.dynamic = sorted(k for k, v in node.values.items()
                              if isinstance(v, Animated) or k in self.pattern_paths)
        self.static_params = {k: v for k, v in node.values.items() if k not in self.dynamic}
        self.may_pass = node.disable or (spec.maskable and (
            isinstance(node.values.get("mix"), Animated) or node.values.get("mix") == 0.0))
        self.head = f',"type":{_json(spec.id)},"version":{_json(spec.version)}}}'
        self.fixed = None  # (params, their JSON, their tuple) when no param animates
        if not self.dynamic:
            self.fixed = (self.static_params, _json(self.static_params),
                          tuple(sorted(self.static_params.items())))
        else:  # JSON fragments of the fixed params, joined with the animated ones per frame
            self.static_text = {k: _json(k) + ":" + _json(v)
                                for k, v in self.static_params.items()}
            self.order = [(k, _json(k) + ":") for k in sorted(node.values)]

    def params_at(self, frame: int) -> dict:
        params = dict(self.static_params)
        for name in self.dynamic:
            value = value_at(self.node.values[name], frame)
            if name in self.pattern_paths or (isinstance(value, str)
                                              and self.spec.param(name).type == "path"
                                              and has_frame_pattern(value)):
                value = path_at_frame(value, frame)
            params[name] = value
        return params

    def params_text(self, params: dict) -> str:
        fragments = self.static_text
        return "{" + ",".join(fragments[name] if name in fragments
                              else label + _json(params[name])
                              for name, label in self.order) + "}"


class _Planner:
    """Computes site keys depth-first with memos; a node that cannot vary with the frame
    is keyed once and its key reused for every frame."""

    def __init__(self, graph: Graph, feed: dict, needed: set, digraph):
        self.graph, self.feed = graph, feed
        self.registry = graph.registry
        self.kinds = {pair: kind for pair, kind in output_types(graph).items()
                      if pair[0] in needed}
        self.tasks: dict[str, Task] = {}
        self.sites: dict[tuple, str] = {}
        self.deps: dict[tuple, tuple] = {}
        self.fed_keys: dict[str, str] = {}
        self.static: dict[str, tuple] = {}  # node -> (key, input nodes) when frame-free
        self.info = {name: _NodeInfo(graph.nodes[name], self.registry.get(
            graph.nodes[name].type), graph) for name in needed}
        self.varies = self._varying(needed, digraph)

    def _varying(self, needed: set, digraph) -> set:
        """Nodes whose key may differ between frames."""
        varies = set()
        for name in nx.topological_sort(digraph):
            if name not in needed:
                continue
            if name in self.feed:
                continue
            info = self.info[name]
            if info.spec.takes_frame or info.spec.reads_frames is not None or info.dynamic \
                    or any(source in varies for _, _, refs in info.connections
                           for source, _ in refs):
                varies.add(name)
        return varies

    def site(self, root: tuple) -> str:
        """The key of (node, frame), planning its inputs first (iteratively)."""
        stack = [root]
        sites, pending = self.sites, {}
        while stack:
            site = stack[-1]
            if site in sites:
                stack.pop()
                continue
            name, frame = site
            memo = self.static.get(name)
            needs = pending.pop(site, None)
            if needs is None:
                if memo is not None:
                    needs = tuple([(dep, frame) for dep in memo[1]])
                else:
                    needs = self._input_sites(name, frame)
            missing = [s for s in needs if s not in sites]
            if missing:
                pending[site] = needs
                stack.extend(missing)
                continue
            if memo is not None:
                sites[site] = memo[0]
                self.deps[site] = needs
            else:
                self._plan_site(name, frame, needs)
            stack.pop()
        return sites[root]

    def _input_sites(self, name: str, frame: int) -> tuple:
        if name in self.feed:
            return ()
        info = self.info[name]
        through = self._passthrough(info, frame)
        if through is not None:
            return ((through.node, frame),)
        reads = self._reads(info, frame)
        needs = []
        for port, _, refs in info.connections:
            read = reads.get(port, frame) if reads else frame
            needs += [(source, read) for source, _ in refs]
        return tuple(needs)

    def _reads(self, info, frame) -> dict:
        if info.spec.reads_frames is None:
            return {}
        params = info.fixed[0] if info.fixed is not None else info.params_at(frame)
        return {port: int(read) for port, read in info.spec.reads_frames(params, frame).items()}

    def _passthrough(self, info, frame) -> Ref | None:
        if not info.may_pass:
            return None
        node, spec = info.node, info.spec
        mix = value_at(node.values.get("mix"), frame) if spec.maskable else None
        if node.disable or mix == 0.0:
            port = spec.original or spec.inputs[0].name
            ref = node.inputs.get(port)
            return ref[0] if isinstance(ref, list) else ref
        return None

    def _plan_site(self, name: str, frame: int, needs: tuple) -> None:
        info = self.info[name]
        if name in self.feed:
            key = self.fed_keys.get(name) or caching.array_key(self.feed[name])
            self.fed_keys[name] = key
            task = Task(key, name, frame, "fed")
        else:
            through = self._passthrough(info, frame)
            if through is not None:
                task = self._pass_task(name, frame, through)
            else:
                task = self._compute_task(info, frame)
        self.tasks.setdefault(task.key, task)
        self.sites[(name, frame)] = task.key
        self.deps[(name, frame)] = needs
        if name not in self.varies:
            self.static[name] = (task.key, tuple(dep for dep, _ in needs))

    def _pass_task(self, name, frame, through: Ref) -> Task:
        output = resolve_output(self.graph, through)
        source = self.sites[(through.node, frame)]
        text = f'{{"output":{_json(output)},"pass":{_json(source)}}}'
        return Task(_digest(text), name, frame, "pass", (("", False, ((source, output),)),),
                    (), text)

    def _compute_task(self, info, frame) -> Task:
        node, spec = info.node, info.spec
        try:
            if info.fixed is not None:
                params, params_text, params_items = info.fixed
            else:
                params = info.params_at(frame)
                params_text = info.params_text(params)
                params_items = tuple(sorted(params.items()))
            reads = self._reads(info, frame)
            inputs, texts = [], []
            sites = self.sites
            for port, is_list, refs in info.connections:
                read = reads.get(port, frame) if reads else frame
                pairs = tuple([(sites[(source, read)], output) for source, output in refs])
                inputs.append((port, is_list, pairs))
                label, outputs = info.port_text[port]
                texts.append(label + ",".join(f'["{key}",{output}]' for (key, _), output
                                              in zip(pairs, outputs)) + "]")
            text = "{"
            if spec.reads_files:
                files = [caching.file_identity(params[p.name]) for p in spec.params
                         if p.type == "path" and params.get(p.name)]
                text += f'"files":{_json(files)},'
            if spec.takes_frame:
                text += f'"frame":{int(frame)},'
            if reads:
                text += f'"frames_read":{_json(reads)},'
            text += '"inputs":{' + ",".join(texts) + '},"params":' + params_text + info.head
        except TypeError as error:
            raise NodeFailure(node.name, node.type, f"a param cannot be hashed: {error}",
                              node.location()) from None
        kind = "sink" if spec.sink else "compute"
        return Task(_digest(text), node.name, frame, kind, tuple(inputs), params_items, text)


def _json(value) -> str:
    """Canonical JSON of one value (the form graph.cache.make_key hashes)."""
    return json.dumps(caching.canonical(value), sort_keys=True, separators=(",", ":"))


def _canonical_text(parts: dict) -> str:
    return json.dumps(caching.canonical(parts), sort_keys=True, separators=(",", ":"))


def _digest(text: str) -> str:
    """The same key graph.cache.make_key gives for these parts."""
    return hashlib.sha256(text.encode()).hexdigest()
