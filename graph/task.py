"""Running one task: the compute half of the hash/compute split, shared by every executor.

`run_task(plan, task, results)` takes the input results by key and returns the task's
result {output: read-only float32 array}:
- pass: the original input's array, unchanged (the same object).
- compute / sink: the spec's compute is called with every input and param as keywords
  (plus `frame` when the spec takes it); its return value is normalised to
  {output: contiguous float32}, each output's shape checked against its port type; a
  maskable node gets the stencil applied to its first output.
- Any exception becomes one NodeFailure naming the node, its type, where it was written
  and the inputs' sizes. Nothing else is kept between calls, so running a task twice
  (a retried Dask task) gives the same result; sinks write atomically.
Fed tasks never reach here: executors take them from the plan's feed.

A lazy input port (spec Input(lazy=True)) is not among the results an executor gathers
first: `lazy_keys` names the keys that only such ports read, and the compute gets a
`Frames` sequence that asks the executor's `fetch(key)` for one result when indexed.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from graph import cache as caching
from graph.errors import GraphError, NodeFailure, NodeInputError
from graph.spec import PORT_SHAPES
from graph.stencil import stencil

STENCIL_PARAMS = ("mix", "invert_mask")


class Frames(Sequence):
    """A lazy input: item k is the k-th frame read, evaluated when asked for (through
    `fetch(key) -> result`, the executor's caches included) and not kept here."""

    def __init__(self, refs, fetch):
        self._refs, self._fetch = tuple(refs), fetch

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        key, output = self._refs[index]
        return self._fetch(key)[output]


def lazy_keys(plan, task) -> set:
    """The input keys of `task` that only its lazy ports read (an executor evaluates
    them when the compute asks, not before)."""
    if task.kind not in ("compute", "sink"):
        return set()
    spec = plan.graph.registry.get(plan.graph.nodes[task.node].type)
    lazy, eager = set(), set()
    for port, _, refs in task.inputs:
        declared = spec.input(port)
        (lazy if declared is not None and declared.lazy else eager).update(
            key for key, _ in refs)
    return lazy - eager


def run_task(plan, task, results: dict, fetch=None) -> dict:
    """The result of `task`, given `results` {key: result} holding its inputs; a lazy
    port's frames come from `fetch(key)` (default: `results`) when the compute asks."""
    if task.kind == "pass":
        (_, _, ((key, output),)), = task.inputs
        spec = plan.graph.registry.get(plan.graph.nodes[task.node].type)
        name = spec.outputs[0].name if spec.outputs else "output"
        return {name: results[key][output]}
    graph = plan.graph
    node = graph.nodes[task.node]
    spec = graph.registry.get(node.type)
    inputs = {port.name: None for port in spec.inputs}
    for port, is_list, refs in task.inputs:
        declared = spec.input(port)
        if declared is not None and declared.lazy and is_list:
            inputs[port] = Frames(refs, fetch or results.__getitem__)
            continue
        arrays = [results[key][output] for key, output in refs]
        inputs[port] = arrays if is_list else arrays[0]
    params = dict(task.params)
    stencil_args = {key: params.pop(key) for key in STENCIL_PARAMS if spec.maskable}
    mask = inputs.pop("mask", None) if spec.maskable else None
    if spec.wants_frame(params):
        params["frame"] = task.frame
    if spec.receives_keys:
        params["input_keys"] = {port: [key for key, _ in refs] for port, _, refs in task.inputs}
    try:
        result = _normalise(plan, task, spec, spec.compute(**inputs, **params))
        if spec.maskable and spec.outputs:
            first = spec.outputs[0].name
            result[first] = stencil(inputs[spec.original], result[first], mask,
                                    stencil_args["mix"], stencil_args["invert_mask"],
                                    in_place=True)
    except (NodeFailure, GraphError):
        raise
    except Exception as error:  # every failure is reported once, with node context
        raise failure(node, error, inputs, mask) from error
    return caching.freeze(result)


def fed_result(plan, task) -> dict:
    """A fed task's result: the fed array as the node's first output."""
    spec = plan.graph.registry.get(plan.graph.nodes[task.node].type)
    return {spec.outputs[0].name if spec.outputs else "output": plan.feed[task.key]}


def _normalise(plan, task, spec, raw) -> dict:
    """The compute's return value as {output: float32 array}, shapes checked."""
    if spec.sink and not isinstance(raw, dict):
        return {"output": raw}
    result = raw if isinstance(raw, dict) else {spec.outputs[0].name: raw}
    for output in spec.outputs:
        array = np.ascontiguousarray(result[output.name], dtype=np.float32)
        kind = plan.kinds.get((task.node, output.name))
        if kind in PORT_SHAPES and not PORT_SHAPES[kind][1](array):
            raise RuntimeError(f"output '{output.name}' should be {kind} "
                               f"{PORT_SHAPES[kind][0]} but has shape {array.shape} "
                               f"(a bug in the node)")
        result[output.name] = array
    return result


def failure(node, error, inputs, mask) -> NodeFailure:
    """A NodeFailure placing `error` at `node`, with its inputs' sizes."""
    described = []
    for port, value in {**inputs, "mask": mask}.items():
        if value is None or isinstance(value, Frames):
            continue
        refs = node.inputs.get(port)
        refs = refs if isinstance(refs, list) else [refs]
        arrays = value if isinstance(value, list) else [value]
        for ref, array in zip(refs, arrays):
            size = f"{array.shape[1]}x{array.shape[0]}"
            described.append(f"{port} = '{ref}' ({size}{'' if array.ndim == 2 else ' image'})")
    context = f" [inputs: {', '.join(described)}]" if described else ""
    if isinstance(error, NodeInputError):
        return NodeFailure(node.name, node.type, f"{error}{context}", node.location(),
                           error.hint)
    return NodeFailure(node.name, node.type, f"{type(error).__name__}: {error}{context}",
                       node.location())


# ---------------------------------------------------------------- recompute reasons

def reason(plan, task, tiers) -> dict | None:
    """Why `task` was computed, compared with the record its node left last time in the
    caches that keep records (None when none does). Stores this run's record."""
    if not tiers.keeps_records:
        return None
    current = json.loads(task.record)
    slot = caching.make_key([plan.graph.source, task.node])
    previous = tiers.swap_record(slot, current)
    return explain_change(previous, current, plan.graph.nodes[task.node])


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
    if previous.get("frame") != current.get("frame") or \
            previous.get("frames_read") != current.get("frames_read"):
        return {"kind": "frame", "detail": f"another frame ({previous.get('frame')} -> "
                                           f"{current.get('frame')})"}
    return {"kind": "missing", "detail": "unchanged, but its cache entry was evicted or damaged"}


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
