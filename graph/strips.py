"""Strip execution: a run of row-splittable tasks computed band by band under a budget.

Policy (decided from spec metadata only: the engine knows no node type):
1. A unit is a task, or a fused chain (graph/fusion.py) run at its last site. It splits by
   rows when it is a fused chain, or its spec says `split="rows"`, or its spec's per-pixel
   form accepts its params (graph.fusion.member): any band of rows of its inputs then
   gives that band of its output.
2. Consecutive splittable units of one frame's schedule form a group. A unit whose
   result is read after the group, or is asked for, or held for a later frame, is an
   output of the group; the others are intermediates. A group without an intermediate
   gains nothing and runs as usual.
3. When the live results plus the group's full-size results would not fit the memory
   budget, the group runs in bands of rows: each unit runs on the band of its inputs
   (row views of arrays held outside the group, the band results of earlier units);
   the outputs' bands are copied into full frames; intermediates exist only as bands,
   their buffers recycled from band to band (graph.buffers). The band height is what
   the budget's free part allows, at least MIN_ROWS rows.
4. When the group's inputs are not all one size, it runs unit by unit as usual.
The result is the unsplit run's, bit for bit (tests/graph/test_strips.py).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from graph import buffers, fusion
from graph import cache as caching
from graph import task as tasks

MIN_ROWS = 16


@dataclass(frozen=True)
class Unit:
    """One task, or a fused chain (its tasks in order) run at its last site."""

    site: tuple
    tasks: tuple
    chain: list | None = None

    @property
    def key(self) -> str:
        return self.tasks[-1].key

    def outside_refs(self) -> list:
        """(key, output) of every array the unit reads (a chain's inner results excluded)."""
        inner = {task.key for task in self.tasks}
        return [(key, output) for task in self.tasks for _, _, refs in task.inputs
                for key, output in refs if key not in inner]


def groups(plan, schedule, chains, consumers, keep) -> dict:
    """{first site: (units, output keys)} for every group worth splitting (policy 2)."""
    found, run = {}, []
    for site in schedule + [None]:
        chain = chains.get(site) if site is not None else None
        if chain is not None and chain[-1].site != site:
            continue  # an inner task of a chain: the chain is one unit, at its last site
        if site is not None and (chain is not None or _splits(plan, site)):
            run.append(Unit(site, tuple(m.task for m in chain) if chain else
                            (plan.task(site),), chain))
            continue
        if run:
            uses = Counter(key for unit in run for task in unit.tasks
                           for key in task.input_keys)
            outputs = {unit.key for unit in run
                       if unit.key in keep or consumers[unit.key] > uses[unit.key]}
            if len(outputs) < len(run):
                found[run[0].site] = (run, outputs)
        run = []
    return found


def _splits(plan, site) -> bool:
    task = plan.task(site)
    if task.kind != "compute" or not task.inputs:
        return False
    spec = plan.graph.registry.get(plan.graph.nodes[task.node].type)
    return spec.split == "rows" or fusion.member(plan, site) is not None


def band_rows(plan, units, outputs, held, free: int) -> int | None:
    """Rows per band when the group's full results do not fit in `free` bytes (policy
    3), else None (also when its inputs are not one size: policy 4)."""
    sizes = {held[key][output].shape[:2] for key, output in _outside(units)}
    if len(sizes) != 1:
        return None
    (height, width), = sizes
    row_bytes = {unit.key: width * 4 * sum(
        4 if plan.kinds.get((unit.tasks[-1].node, name)) == "image" else 1
        for name in _outputs(plan, unit)) for unit in units}
    kept = sum(row_bytes[key] for key in outputs) * height
    passing = sum(row_bytes[unit.key] for unit in units if unit.key not in outputs)
    if kept + passing * height <= free:
        return None
    rows = max(MIN_ROWS, (free - kept) // max(passing, 1))
    return int(rows) if rows < height else None


def run_group(plan, units, outputs, held, rows: int) -> tuple[dict, Counter]:
    """({key: result} of the group's outputs, {unit key: seconds}) of a group run in bands
    of `rows` rows."""
    refs = _outside(units)
    outside = {key for key, _ in refs}
    height = held[refs[0][0]][refs[0][1]].shape[0]
    made, seconds = {}, Counter()
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = {key: {name: array[top:bottom] for name, array in held[key].items()}
                for key in outside}
        for unit in units:
            started = time.perf_counter()
            band[unit.key] = _run_unit(plan, unit, band)
            seconds[unit.key] += time.perf_counter() - started
            if unit.key in outputs:
                _copy_band(made, unit.key, band[unit.key], top, bottom, height)
        for unit in units:
            if unit.key not in outputs:
                released = band.pop(unit.key)
                buffers.recycle(released)
                del released
    return {key: caching.freeze(result) for key, result in made.items()}, seconds


def _run_unit(plan, unit, band) -> dict:
    if unit.chain is not None:
        return fusion.run_chain(plan, unit.chain, band)
    return tasks.run_task(plan, unit.tasks[-1], band)


def _copy_band(made, key, result, top, bottom, height) -> None:
    full = made.setdefault(key, {})
    for name, array in result.items():
        if array.shape[0] != bottom - top:
            raise RuntimeError(f"a band of {bottom - top} rows gave {array.shape[0]} rows "
                               "(a node declared split='rows' changed the size)")
        if name not in full:
            full[name] = buffers.empty((height,) + array.shape[1:], array.dtype)
        full[name][top:bottom] = array


def _outputs(plan, unit) -> list:
    spec = plan.graph.registry.get(plan.graph.nodes[unit.tasks[-1].node].type)
    return [output.name for output in spec.outputs]


def _outside(units) -> list:
    """(key, output) of every array the group reads from outside itself."""
    made = {unit.key for unit in units}
    return [ref for unit in units for ref in unit.outside_refs() if ref[0] not in made]
