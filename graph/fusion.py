"""Fusion: a chain of pointwise nodes runs as one generated numba kernel.

Policy (decided from spec metadata only: the engine knows no node type):
1. A compute task is fusable when its spec declares a per-pixel form (`spec.pointwise`,
   graph.spec.Pointwise) that accepts its params at this frame, its inputs are single
   nodes (no lists), and, for a maskable spec, the chain flows through the spec's
   original input (the stencil blends with it).
2. In one frame's schedule, a fusable task links to a fusable task whose result is one
   of its image inputs (its `through` input first, else a side: a grade feeding a merge's
   `a`) when that result has no other reader in the schedule, is not asked for (a
   requested output or a previewed node splits the chain there) and is not held for a
   later frame. Links form linear chains.
3. A chain of two or more tasks, or one task whose stencil is on (a mask, a mix below 1
   or an inverted mask), runs as one kernel: each source pixel is read once, every node's
   pixel function and stencil are applied in registers, the result is written once. The
   intermediate results are never made, so they are not cached; the executor's stats mark
   those nodes `fused`, with the chain.
4. A kernel is generated from the chain's shape (each node's pixel function, the kinds of
   its inputs, which one the chain flows through, its stencil kind), written as a Python module into the kernel folder
   ($MASKGRAPH_KERNEL_DIR, default ~/.cache/maskgraph/kernels) under a name hashed from
   its source and the source of every module it imports, and compiled by numba with
   cache=True: one chain shape compiles once per machine, and editing a pixel function
   gives a new module (no stale cache). The folder is kept under a size limit, least
   recently used kernels first (graph/kernel_folder.py).
5. When the inputs do not line up (sizes differ), the chain runs node by node through
   graph.task.run_task, which reports the usual placed errors.
The result is the unfused graph's, bit for bit: the pixel functions compute what the
nodes' own kernels compute, and the stencil is graph.stencil's (tests/graph/test_fusion.py).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, replace

import numpy as np

from graph import buffers
from graph import kernel_folder as folders
from graph import task as tasks
from graph import threads
from graph.errors import GraphError, NodeFailure
from graph.kernel_folder import KERNEL_DIR_ENV, MODULE_PREFIX, kernel_folder  # noqa: F401
FUSION_ENV = "MASKGRAPH_FUSION"  # "0" turns fusion off (every node runs its own kernel)
CHANNELS = ("red", "green", "blue", "alpha")


@dataclass(frozen=True)
class Member:
    """One task of a chain. slots: the inputs its pixel function reads, in order (the
    `through` image first, then the sides) as (key, output) refs, with their kinds
    ('image' | 'mask'); chained: the slot that takes the previous member's result (None
    for the first member); original: the slot the stencil blends with (maskable nodes)."""

    site: tuple
    task: object
    slots: tuple
    kinds: tuple
    original: int | None
    mask: tuple | None
    pixel: object
    values: np.ndarray
    stencil: str  # 'none' | 'mix' | 'mask'
    mix: float
    invert: bool
    chained: int | None = None

    @property
    def shape(self) -> tuple:
        """What the generated kernel depends on (never the values)."""
        return (self.pixel.__module__, self.pixel.__name__, self.kinds, self.chained,
                self.original, self.stencil)


def member(plan, site) -> Member | None:
    """The fusable form of the task at `site`, or None (see policy 1)."""
    task = plan.task(site)
    if task.kind != "compute":
        return None
    spec = plan.graph.registry.get(plan.graph.nodes[task.node].type)
    form = spec.pointwise
    if form is None or spec.takes_frame:
        return None
    names = (form.through,) + tuple(form.sides)
    ports = {port: refs for port, is_list, refs in task.inputs if not is_list}
    if len(ports) != len(task.inputs) or any(name not in ports for name in names) or \
            (spec.maskable and spec.original not in names):
        return None
    kinds = tuple(spec.input(name).type for name in names)
    if kinds[0] != "image" or any(kind not in ("image", "mask") for kind in kinds):
        return None
    params = dict(task.params)
    mix = float(params.pop("mix", 1.0)) if spec.maskable else 1.0
    invert = bool(params.pop("invert_mask", False)) if spec.maskable else False
    made = form.kernel(**params)
    if made is None:
        return None
    pixel, values = made
    mask = ports["mask"][0] if spec.maskable and "mask" in ports else None
    stencil = "mask" if mask is not None else ("mix" if mix != 1.0 or invert else "none")
    original = names.index(spec.original) if spec.maskable else None
    return Member(site, task, tuple(ports[name][0] for name in names), kinds, original,
                  mask, pixel, np.ascontiguousarray(values, np.float32), stencil, mix,
                  invert)


def plan_chains(plan, schedule, consumers, keep) -> dict:
    """{site: chain (a list of Members, in order)} for every site that runs in a fused
    kernel; the kernel runs at the chain's last site (policy 2 and 3)."""
    if os.environ.get(FUSION_ENV, "1").strip() == "0":
        return {}
    members = {}
    for site in schedule:
        found = member(plan, site)
        if found is not None:
            members[found.task.key] = found
    following, slot_of = {}, {}
    for key, found in members.items():
        for slot, ((source, _), kind) in enumerate(zip(found.slots, found.kinds)):
            if kind == "image" and source in members and source not in following and \
                    consumers[source] == 1 and source not in keep:
                following[source], slot_of[key] = key, slot
                break
    chains = {}
    for key in set(members) - set(following.values()):
        chain = [members[key]]
        while chain[-1].task.key in following:
            after = following[chain[-1].task.key]
            chain.append(replace(members[after], chained=slot_of[after]))
        if len(chain) > 1 or chain[0].stencil != "none":
            for found in chain:
                chains[found.site] = chain
    return chains


def run_chain(plan, chain, held: dict, into: np.ndarray | None = None) -> dict:
    """The last node's result of `chain`, computed in one fused kernel (read-only).
    into: an input array nothing reads after the chain, to write the result in (the
    kernel is per pixel, so in place is safe); else a buffer from graph.buffers."""
    last = chain[-1]
    spec = plan.graph.registry.get(plan.graph.nodes[last.task.node].type)
    first = held[chain[0].slots[0][0]][chain[0].slots[0][1]]
    arguments = _arguments(chain, first.shape[:2], held) if first.ndim == 3 else None
    if arguments is None:
        return _node_by_node(plan, chain, held)
    if into is not None and into.shape == first.shape:
        into.flags.writeable = True
        out = into
    else:
        out = buffers.empty(first.shape, np.float32)
    rows = _rows(out)
    try:
        threads.run_bands(kernel_for(tuple(found.shape for found in chain)), rows.shape[0],
                          rows.shape[1], *arguments, rows)
    except (NodeFailure, GraphError):
        raise
    except Exception as error:  # reported once, placed at the chain's last node
        raise tasks.failure(plan.graph.nodes[last.task.node], error, {}, None) from error
    return {spec.outputs[0].name: _frozen(out)}


def _arguments(chain, size, held) -> list | None:
    """The kernel's arguments before `out`, or None when an input does not line up."""
    arguments = []
    for found in chain:
        for slot, ((key, output), kind) in enumerate(zip(found.slots, found.kinds)):
            if slot == found.chained:
                continue
            array = held[key][output]
            if array.shape != (size + (4,) if kind == "image" else size):
                return None
            arguments.append(_rows(array))
        arguments.append(tuple(np.float32(value) for value in found.values))
        if found.stencil != "none":
            arguments += [np.float32(found.mix), bool(found.invert)]
        if found.stencil == "mask":
            mask = held[found.mask[0]][found.mask[1]]
            if mask.shape != size:
                return None
            arguments.append(_rows(mask))
    return arguments


def _node_by_node(plan, chain, held) -> dict:
    made: dict = {}
    for found in chain:
        made[found.task.key] = tasks.run_task(plan, found.task, {**held, **made})
    return made[chain[-1].task.key]


def _rows(array: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 (H, W * C) view (a copy only for a foreign array)."""
    array = np.ascontiguousarray(array, np.float32)
    return array.reshape(array.shape[0], -1)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# ---------------------------------------------------------------- generated kernels

_KERNELS: dict = {}  # chain shape -> compiled dispatcher, for this process


def kernel_for(shape: tuple):
    """The compiled kernel of a chain shape: generated, written and imported once."""
    kernel = _KERNELS.get(shape)
    if kernel is None:
        kernel = _KERNELS[shape] = _load(kernel_source(shape))
    return kernel


def kernel_source(shape: tuple) -> str:
    """Python source of the fused kernel `fused(<per node: its slot arrays except the
    chained one, values, [mix, invert, [mask]]>, out, first, stop)`, serial over rows
    first:stop (graph.threads.run_bands runs it in bands on threads); arrays are (H, W * 4) or (H, W)
    float32 views, values a tuple of float32 (a tuple, not an array: its items are
    loop invariants LLVM can keep in registers, where an array might alias `out`). The chain's pixel lives in locals red_i, green_i, blue_i, alpha_i."""
    imports = ["import numba", "import numpy as np",
               "from graph.stencil import stencil_blend, stencil_weight"]
    parameters, rows, body = [], ["out_row = out[y]"], []
    for index, (module, name, kinds, chained, original, stencil) in enumerate(shape):
        imports.append(f"from {module} import {name} as pixel_{index}")
        slot_values = []
        for slot, kind in enumerate(kinds):
            if slot == chained:
                slot_values.append([f"{channel}_{index}" for channel in CHANNELS])
                continue
            argument = f"in_{index}_{slot}"
            parameters.append(argument)
            rows.append(f"{argument}_row = {argument}[y]")
            loads = ([f"{argument}_row[base + {c}]" for c in range(4)] if kind == "image"
                     else [f"{argument}_row[x]"])
            names = [f"{argument}_{c}" for c in range(len(loads))]
            body += [f"{local} = {load}" for local, load in zip(names, loads)]
            slot_values.append(names)
        parameters.append(f"values_{index}")
        after = [f"{channel}_{index + 1}" for channel in CHANNELS]
        flat = [value for values in slot_values for value in values]
        call = f"pixel_{index}({', '.join(flat + [f'values_{index}'])})"
        if stencil == "none":
            body.append(f"{', '.join(after)} = {call}")
            continue
        parameters += [f"mix_{index}", f"invert_{index}"]
        edited = [f"edited_{channel}_{index}" for channel in CHANNELS]
        body.append(f"{', '.join(edited)} = {call}")
        if stencil == "mask":
            parameters.append(f"mask_{index}")
            rows.append(f"mask_{index}_row = mask_{index}[y]")
            value, used = f"mask_{index}_row[x]", "True"
        else:
            value, used = "np.float32(0.0)", "False"
        body.append(f"weight_{index} = stencil_weight({value}, {used}, mix_{index}, "
                    f"invert_{index})")
        body += [f"{new} = stencil_blend({old}, {edit}, weight_{index})"
                 for new, old, edit in zip(after, slot_values[original], edited)]
    body += [f"out_row[base + {c}] = {name}_{len(shape)}" for c, name in enumerate(CHANNELS)]
    parameters += ["out", "first", "stop"]
    lines = [f'"""Generated by graph/fusion.py for the chain {shape!r}."""', *imports, "",
             "", "@numba.njit(cache=True, nogil=True)",
             f"def fused({', '.join(parameters)}):",
             "    width = out.shape[1] // 4",
             "    for y in range(first, stop):",
             *[f"        {line}" for line in rows],
             "        for x in range(width):",
             "            base = 4 * x",
             *[f"            {line}" for line in body], ""]
    return "\n".join(lines)


def _load(source: str):
    """Write `source` as a module named by its hash (once, atomically) and import it."""
    digest = hashlib.sha256(source.encode())
    for line in source.splitlines():
        if line.startswith("from ") and " import " in line:
            digest.update(_module_text(line.split()[1]))
    name = MODULE_PREFIX + digest.hexdigest()[:24]
    folder = kernel_folder()
    path = os.path.join(folder, name + ".py")
    if os.path.exists(path):
        folders.touch(path)
    else:
        os.makedirs(folder, exist_ok=True)
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(source)
        os.replace(partial, path)
        folders.prune(folder, keep=name)
    module = sys.modules.get(name)
    if module is None:
        found = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module
        found.loader.exec_module(module)
    return module.fused


def _module_text(module: str) -> bytes:
    """The source of an imported module (its identity in a kernel's name)."""
    found = importlib.util.find_spec(module)
    origin = found.origin if found is not None else None
    if not origin or not os.path.exists(origin):
        return module.encode()
    with open(origin, "rb") as handle:
        return handle.read()
