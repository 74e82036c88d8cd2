"""Lazy pull evaluation of a Graph.

Scheduling policy:
1. Resolve the requested outputs (default: every sink; a template file loaded on its own:
   its declared outputs) and take only their ancestors.
2. Compute every needed node's key first (graph.cache): type, version, params at this
   frame, input keys, files read. No pixel work happens in this step.
3. Pull depth-first from each requested output. A node whose key is in the memory cache
   or (if enabled) the disk cache is taken from there and its ancestors are not visited.
   Otherwise its inputs are pulled, then it is computed. Sinks always run.
4. A disabled node, or a maskable node with mix 0, passes its original input through
   without computing. Maskable nodes get the stencil applied after compute.
Nodes run one at a time in this process; kernels use the cores themselves (numba prange).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import networkx as nx

from graph import cache as caching
from graph.animation import has_frame_pattern, path_at_frame, value_at
from graph.feed import check_feed
from graph.errors import GraphError, NodeFailure, NodeInputError, Problem, did_you_mean
from graph.model import Graph, Ref, output_types, resolve_output
from graph.stencil import stencil

STENCIL_PARAMS = ("mix", "invert_mask")


@dataclass
class Run:
    """What an evaluation returns: {name: array} and one stats record per visited node."""

    results: dict
    stats: list = field(default_factory=list)
    total_seconds: float = 0.0

    def stats_json(self) -> str:
        return json.dumps({"nodes": self.stats, "total_seconds": round(self.total_seconds, 6)})


class Evaluator:
    """Evaluates one graph; see the module docstring for the policy.

    cache_dir: folder of the disk cache (None: $MASKGRAPH_CACHE_DIR, or no disk cache).
    memory: the memory cache (the process-wide one by default; None disables it).
    on_node: callback(stat dict) after each node, for progress reporting.
    """

    def __init__(self, graph: Graph, cache_dir: str | None = None,
                 memory: caching.MemoryCache | None = caching.MEMORY, on_node=None):
        self.graph = graph
        self.registry = graph.registry
        cache_dir = cache_dir or os.environ.get(caching.CACHE_DIR_ENV)
        self.disk = caching.DiskCache(cache_dir) if cache_dir else None
        self.memory = memory
        self.on_node = on_node

    # ---------------------------------------------------------------- public
    def run(self, outputs=None, frame: int = 1, feed: dict | None = None) -> Run:
        started = time.perf_counter()
        self.graph.validate()
        targets = self._targets(outputs)
        feed = self._check_feed(feed or {})
        needed = self._needed(targets)
        self.types = output_types(self.graph)
        self.frame = frame
        self.keys, self.parts = {}, {}
        for name in needed:
            self._make_key(name, feed)
        self.done: dict[str, dict] = {}
        self.stats: list[dict] = []
        self.feed = feed
        results = {}
        for label, ref in targets.items():
            self._pull(ref.node)
            results[label] = self.done[ref.node][resolve_output(self.graph, ref)]
        return Run(results, self.stats, time.perf_counter() - started)

    # ---------------------------------------------------------------- planning
    def _targets(self, outputs) -> dict[str, Ref]:
        graph = self.graph
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
            outputs = [o.name for o in self._spec(ref.node).outputs]
            if ref.output and ref.output not in outputs:
                problems.append(Problem(f"node '{ref.node}' has no output '{ref.output}'",
                                        key="outputs", hint=f"its outputs: "
                                                            f"{', '.join(outputs) or 'none'}"))
                continue
            targets[name] = ref
        if problems:
            raise GraphError(problems)
        return targets

    def _check_feed(self, feed: dict) -> dict:
        return check_feed(self.graph, feed)

    def _needed(self, targets) -> list[str]:
        digraph = self.graph.dependency_graph()
        needed = set()
        for ref in targets.values():
            needed |= nx.ancestors(digraph, ref.node) | {ref.node}
        return [name for name in nx.topological_sort(digraph) if name in needed]

    def _spec(self, name):
        return self.registry.get(self.graph.nodes[name].type)

    def _passthrough(self, name) -> Ref | None:
        """The original input a node passes through unchanged (disabled, or mix 0)."""
        node, spec = self.graph.nodes[name], self._spec(name)
        mix = value_at(node.values.get("mix"), self.frame) if spec.maskable else None
        if node.disable or mix == 0.0:
            port = spec.original or spec.inputs[0].name
            ref = node.inputs.get(port)
            return ref[0] if isinstance(ref, list) else ref
        return None

    def _make_key(self, name: str, feed: dict) -> None:
        node, spec = self.graph.nodes[name], self._spec(name)
        if name in feed:
            self.keys[name] = caching.array_key(feed[name])
            return
        through = self._passthrough(name)
        if through is not None:
            parts = {"pass": self.keys[through.node],
                     "output": resolve_output(self.graph, through)}
        else:
            params = {key: value_at(value, self.frame) for key, value in node.values.items()}
            params = self._frame_paths(spec, params)
            inputs = {port: [[self.keys[r.node], resolve_output(self.graph, r)] for r in
                             (refs if isinstance(refs, list) else [refs])]
                      for port, refs in sorted(node.inputs.items())}
            parts = {"type": spec.id, "version": spec.version, "params": params,
                     "inputs": inputs}
            if spec.reads_files:
                parts["files"] = [caching.file_identity(params[p.name]) for p in spec.params
                                  if p.type == "path" and params.get(p.name)]
        try:
            self.keys[name] = caching.make_key(parts)
        except TypeError as error:
            raise NodeFailure(name, node.type, f"a param cannot be hashed: {error}",
                              node.location()) from None
        self.parts[name] = parts

    def _frame_paths(self, spec, params: dict) -> dict:
        for param in spec.params:
            value = params.get(param.name)
            if param.type == "path" and isinstance(value, str) and has_frame_pattern(value):
                params[param.name] = path_at_frame(value, self.frame)
        return params

    # ---------------------------------------------------------------- pulling
    def _pull(self, target: str) -> None:
        stack, looked_up = [target], set()
        while stack:
            name = stack[-1]
            if name in self.done:
                stack.pop()
                continue
            if name not in looked_up:
                looked_up.add(name)
                if self._lookup(name):
                    stack.pop()
                    continue
            missing = [ref.node for ref in self._dependencies(name)
                       if ref.node not in self.done]
            if missing:
                stack.extend(reversed(missing))
                continue
            self._compute(name)
            stack.pop()

    def _dependencies(self, name: str) -> list[Ref]:
        through = self._passthrough(name)
        if through is not None:
            return [through]
        return [ref for _, ref in self.graph.nodes[name].refs()]

    def _lookup(self, name: str) -> bool:
        """Take the node's result from the feed or a cache; True when found."""
        if name in self.feed:
            output = self._spec(name).outputs[0].name
            self._finish(name, {output: self.feed[name]}, "fed", 0.0)
            return True
        spec, key = self._spec(name), self.keys[name]
        if spec.sink or self._passthrough(name) is not None:
            return False
        started = time.perf_counter()
        result = self.memory.get(key) if self.memory is not None else None
        if result is not None:
            self._finish(name, result, "memory", time.perf_counter() - started)
            return True
        result = self.disk.get(key) if self.disk is not None else None
        if result is not None:
            if self.memory is not None:
                self.memory.put(key, result)
            self._finish(name, result, "disk", time.perf_counter() - started)
            return True
        return False

    def _finish(self, name, result, status, seconds, reason=None) -> None:
        self.done[name] = result
        stat = {"name": name, "type": self.graph.nodes[name].type, "status": status,
                "seconds": round(seconds, 6)}
        if reason is not None:
            stat["reason"] = reason
        self.stats.append(stat)
        if self.on_node is not None:
            self.on_node(stat)

    def _compute(self, name: str) -> None:
        node, spec = self.graph.nodes[name], self._spec(name)
        through = self._passthrough(name)
        if through is not None:
            array = self.done[through.node][resolve_output(self.graph, through)]
            self._finish(name, {spec.outputs[0].name if spec.outputs else "output": array},
                         "passthrough", 0.0)
            return
        inputs = self._gather_inputs(name)
        params = dict(self.parts[name]["params"])
        stencil_args = {key: params.pop(key) for key in STENCIL_PARAMS if spec.maskable}
        mask = inputs.pop("mask", None) if spec.maskable else None
        started = time.perf_counter()
        try:
            result = self._normalise(name, spec.compute(**inputs, **params))
            if spec.maskable and spec.outputs:
                first = spec.outputs[0].name
                result[first] = stencil(inputs[spec.original], result[first], mask,
                                        stencil_args["mix"], stencil_args["invert_mask"])
        except (NodeFailure, GraphError):
            raise
        except Exception as error:  # every failure is reported once, with node context
            raise self._failure(name, error, inputs, mask) from error
        seconds = time.perf_counter() - started
        caching.freeze(result)
        if spec.sink:
            self._finish(name, result, "written", seconds)
            return
        reason = self._reason(name) if self.disk is not None else None
        if self.memory is not None:
            self.memory.put(self.keys[name], result)
        if self.disk is not None:
            self.disk.put(self.keys[name], result)
        self._finish(name, result, "computed", seconds, reason)

    def _gather_inputs(self, name: str) -> dict:
        node, spec = self.graph.nodes[name], self._spec(name)
        inputs = {port.name: None for port in spec.inputs}
        for port, value in node.inputs.items():
            refs = value if isinstance(value, list) else [value]
            arrays = [self.done[r.node][resolve_output(self.graph, r)] for r in refs]
            inputs[port] = arrays if isinstance(value, list) else arrays[0]
        return inputs

    def _normalise(self, name: str, raw) -> dict:
        """The compute's return value as {output: float32 array}, shapes checked."""
        spec = self._spec(name)
        if spec.sink and not isinstance(raw, dict):
            return {"output": raw}
        result = raw if isinstance(raw, dict) else {spec.outputs[0].name: raw}
        for output in spec.outputs:
            array = np.ascontiguousarray(result[output.name], dtype=np.float32)
            kind = self.types.get((name, output.name))
            if (kind == "image" and (array.ndim != 3 or array.shape[2] != 4)) or \
                    (kind == "mask" and array.ndim != 2):
                raise RuntimeError(f"output '{output.name}' should be an {kind} but has shape "
                                   f"{array.shape} (a bug in the node)")
            result[output.name] = array
        return result

    def _failure(self, name, error, inputs, mask) -> NodeFailure:
        node = self.graph.nodes[name]
        described = []
        for port, value in {**inputs, "mask": mask}.items():
            if value is None:
                continue
            refs = node.inputs.get(port)
            refs = refs if isinstance(refs, list) else [refs]
            arrays = value if isinstance(value, list) else [value]
            for ref, array in zip(refs, arrays):
                size = f"{array.shape[1]}x{array.shape[0]}"
                described.append(f"{port} = '{ref}' ({size}{'' if array.ndim == 2 else ' image'})")
        context = f" [inputs: {', '.join(described)}]" if described else ""
        if isinstance(error, NodeInputError):
            return NodeFailure(name, node.type, f"{error}{context}", node.location(),
                               error.hint)
        return NodeFailure(name, node.type, f"{type(error).__name__}: {error}{context}",
                           node.location())

    # ---------------------------------------------------------------- reasons
    def _reason(self, name: str) -> dict:
        """Why a node was computed, compared with the last run recorded in the disk cache."""
        record_path = os.path.join(self.disk.directory, "records",
                                   caching.make_key([self.graph.source, name]) + ".json")
        current = caching.canonical(self.parts[name])
        try:
            with open(record_path) as handle:
                previous = json.load(handle)
        except (OSError, ValueError):
            previous = None
        self.disk.write_record(os.path.basename(record_path)[:-5], current)
        return explain_change(previous, current, self.graph.nodes[name])


def explain_change(previous, current, node) -> dict:
    """{'kind': param|input|file|version|new|missing, 'detail': text}."""
    if previous is None or previous.get("type") != current.get("type"):
        return {"kind": "new", "detail": "first run of this node with this cache"}
    before, after = previous.get("params", {}), current.get("params", {})
    changed = [key for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    if changed:
        return {"kind": "param", "detail": "; ".join(
            f"{key}: {_short(before.get(key))} -> {_short(after.get(key))}" for key in changed)}
    if previous.get("files") != current.get("files"):
        paths = [now[0] for was, now in zip(previous.get("files", []), current.get("files", []))
                 if was != now] or ["a file"]
        return {"kind": "file", "detail": f"{', '.join(paths)} changed on disk"}
    if previous.get("inputs") != current.get("inputs"):
        ports = [port for port in current.get("inputs", {})
                 if previous.get("inputs", {}).get(port) != current["inputs"][port]]
        named = [f"'{port}' ({node.inputs[port]})" if port in node.inputs else f"'{port}'"
                 for port in ports]
        return {"kind": "input", "detail": f"input {', '.join(named)} changed upstream"}
    if previous.get("version") != current.get("version"):
        return {"kind": "version", "detail": f"node version {previous.get('version')} -> "
                                             f"{current.get('version')}"}
    return {"kind": "missing", "detail": "unchanged, but its cache entry was evicted or damaged"}


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _leaves(graph: Graph) -> list[str]:
    digraph = graph.dependency_graph()
    return [name for name in graph.nodes if digraph.out_degree(name) == 0]
