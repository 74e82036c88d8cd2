"""The local executor: runs a Plan in this process, depth-first, one task at a time.

Policy, per frame of the plan, in order:
1. Resolve (no pixel work but cache reads): walk depth-first from each requested output.
   A site whose key is already held by this call is taken from there (status `memory`);
   a fed site from the feed (`fed`); a compute site whose key is in a cache tier from
   that tier (`memory`, `disk`; its inputs are not visited). Sinks and pass-throughs
   always run (a pass-through costs nothing; a sink rewrites its file atomically). Everything else is scheduled after its inputs (post-order), once per key.
2. Execute the schedule through graph.task.run_task. Computed results go to every cache
   tier and, when a tier keeps records, say why they were recomputed.
   A lazy input (graph.task.lazy_keys) is not visited: when the compute asks for one of
   its frames, `_fetch` resolves and runs that site alone, hands its result over and
   drops it (unless the frame holds it anyway), so the node holds one frame at a time.
3. Free each intermediate as soon as its last consumer in the frame has run, so peak
   memory follows the live set, not the graph. Keys that later frames of the plan also
   use (a static subgraph) are held until the last frame that uses them: over a range,
   a subgraph with nothing animated upstream is computed once, even without a cache.
4. Memory budget: after each task the memory cache evicts its least recently used
   entries until they and the live results it does not hold fit its budget together
   ($MASKGRAPH_MEMORY_BUDGET), so the cache never keeps released results over budget.
5. Buffers: a freed intermediate that nothing else holds (not cached, not requested)
   gives its arrays to the run's buffer pool (graph.buffers), from which later outputs of
   the same shape are taken instead of fresh pages; a fused chain writes its result into
   an image input that nothing reads after it (in place: the kernel is per pixel).
6. Strips: a run of row-splittable tasks whose full-size results would not fit the
   budget beside the live set runs in bands of rows (graph.strips); its intermediates
   exist only as bands, and its stats records carry `strips` (rows per band).
All run state lives in the `execute` call: nothing is kept on a long-lived object.
Kernels use the cores themselves (numba prange); tasks run one at a time.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from graph import buffers, fusion, strips
from graph import task as tasks
from graph import cache as caching
from graph.tiers import Tiers


@dataclass
class FrameRun:
    """One frame's outcome: {label: array} (when kept), stats records, seconds."""

    frame: int
    results: dict
    stats: list = field(default_factory=list)
    seconds: float = 0.0


def execute(plan, tiers: Tiers | None = None, on_node=None, on_frame=None,
            keep_results: bool = True) -> list[FrameRun]:
    """Run every frame of `plan` in order; see the module docstring."""
    tiers = tiers if tiers is not None else Tiers()
    shared = plan.shared_keys()
    release_after = defaultdict(list)
    for key, last in shared.items():
        release_after[last].append(key)
    held: dict = {}  # key -> result, the live set of this call
    runs = []
    with buffers.pooled(_budget(tiers) // 4):
        for index, frame in enumerate(plan.frames):
            runs.append(_execute_frame(plan, index, frame, held, tiers, shared,
                                       release_after, on_node, keep_results))
            if on_frame is not None:
                on_frame(runs[-1])
    return runs


def _execute_frame(plan, index, frame, held, tiers, shared, release_after, on_node,
                   keep_results) -> FrameRun:
    """Run one frame of the plan (policy 1-5); returns its FrameRun."""
    started = time.perf_counter()
    stats: list = []

    def record(site, status, seconds, reason=None, chain=None, rows=None):
        stat = {"name": site[0], "type": plan.graph.nodes[site[0]].type,
                "status": status, "seconds": round(seconds, 6)}
        if reason is not None:
            stat["reason"] = reason
        if chain is not None:
            stat["chain"] = chain
        if rows is not None:
            stat["strips"] = rows
        stats.append(stat)
        if on_node is not None:
            on_node(stat)

    targets = plan.targets[frame]
    roots = [(node, frame) for node, _, _ in targets.values()]
    schedule = _resolve(plan, roots, held, tiers, record)
    keep = set(shared) | {key for _, key, _ in targets.values()}
    _run_schedule(plan, schedule, held, tiers, record, keep)
    results = {label: held[key][output] for label, (_, key, output) in targets.items()} \
        if keep_results else {}
    for _, key, _ in targets.values():
        if key not in shared:
            _release(held, key, tiers)
    for key in release_after.pop(index, ()):
        _release(held, key, tiers)
    return FrameRun(frame, results, stats, time.perf_counter() - started)


def _resolve(plan, roots, held, tiers, record) -> list[tuple]:
    """The sites to run for the `roots` sites, inputs first (lazy inputs left out); loads
    cache hits into `held`."""
    schedule, visited, claimed = [], set(), set()
    stack = [(site, False) for site in reversed(roots)]
    while stack:
        site, expanded = stack.pop()
        if expanded:
            schedule.append(site)
            continue
        if site in visited:
            continue
        visited.add(site)
        key = plan.sites[site]
        task = plan.tasks[key]
        if task.kind == "fed":
            held[key] = tasks.fed_result(plan, task)
            record(site, "fed", 0.0)
            continue
        if task.kind == "compute":
            if key in held or key in claimed:
                record(site, "memory", 0.0)
                continue
            started = time.perf_counter()
            result, tier = tiers.lookup(key)
            if result is not None:
                held[key] = result
                record(site, tier, time.perf_counter() - started)
                continue
        claimed.add(key)
        stack.append((site, True))
        lazy = tasks.lazy_keys(plan, task)
        stack.extend((dep, False) for dep in reversed(plan.deps[site])
                     if plan.sites[dep] not in lazy)
    return schedule


def _fetch(plan, held, tiers, record, key, planned) -> dict:
    """The result of `key` for a lazy input: from the frame's live set, else resolved and
    run on its own (caches first); kept in the live set only when the running schedule
    (`planned` keys) computes it later anyway, which then takes it from there."""
    if key in held:
        return held[key]
    task = plan.tasks[key]
    schedule = _resolve(plan, [(task.node, task.frame)], held, tiers, record)
    _run_schedule(plan, schedule, held, tiers, record, keep=set(held) | {key})
    return held[key] if key in planned else held.pop(key)


def _run_schedule(plan, schedule, held, tiers, record, keep) -> None:
    consumers = Counter()
    for site in schedule:
        consumers.update(plan.task(site).input_keys)
    chains = fusion.plan_chains(plan, schedule, consumers, keep)
    grouped = strips.groups(plan, schedule, chains, consumers, keep)
    budget = _budget(tiers)
    done: set = set()
    planned = {plan.sites[site] for site in schedule}
    for site in schedule:
        chain = chains.get(site)
        if site in done or chain is not None and chain[-1].site != site:
            continue  # ran in a group, or runs inside the fused kernel at the chain's end
        if chain is None and plan.task(site).kind == "compute" and plan.sites[site] in held:
            # a lazy input asked for it earlier in this schedule: only its inputs' reads
            _release_inputs([plan.task(site)], consumers, keep, held, tiers)
            continue
        group = grouped.get(site)
        rows = None if group is None else strips.band_rows(
            plan, *group, held, budget - _live_bytes(held, tiers, cached=True))
        if rows is not None:
            _run_group(plan, *group, rows, held, tiers, record)
            done.update(unit.site for unit in group[0])
            ran = [task for unit in group[0] for task in unit.tasks]
        else:
            _run_one(plan, site, chain, held, tiers, record, consumers, keep, planned)
            ran = [found.task for found in chain] if chain is not None else [plan.task(site)]
        _release_inputs(ran, consumers, keep, held, tiers)
        _fit_budget(held, tiers)


def _release_inputs(ran, consumers, keep, held, tiers) -> None:
    """Count the reads of the tasks that ran; release each input whose last reader ran."""
    for task in ran:
        for used in task.input_keys:
            consumers[used] -= 1
            if consumers[used] == 0 and used not in keep:
                _release(held, used, tiers)


def _run_one(plan, site, chain, held, tiers, record, consumers, keep, planned) -> None:
    """Run one task, or one fused chain at its last site; its result goes to `held`."""
    key = plan.sites[site]
    task = plan.tasks[key]
    started = time.perf_counter()
    if chain is not None:
        donor = _donor(chain, held, consumers, keep, tiers)
        result = fusion.run_chain(plan, chain, held, donor)
        del donor
    else:
        result = tasks.run_task(plan, task, held, lambda wanted: _fetch(
            plan, held, tiers, record, wanted, planned))
    seconds = time.perf_counter() - started
    held[key] = result
    names = [found.site[0] for found in chain] if chain is not None else None
    for found in (chain or [])[:-1]:
        record(found.site, "fused", 0.0, chain=names)
    if task.kind == "compute":
        reason = tasks.reason(plan, task, tiers)
        tiers.put(key, result)
        record(site, "computed", seconds, reason, chain=names)
    else:
        record(site, "written" if task.kind == "sink" else "passthrough", seconds)


def _run_group(plan, units, outputs, rows, held, tiers, record) -> None:
    """Run a group of splittable units in bands (graph.strips); only its outputs are made
    whole (held and cached); every unit's stats record says `strips: rows`."""
    made, seconds = strips.run_group(plan, units, outputs, held, rows)
    for unit in units:
        names = [task.node for task in unit.tasks] if unit.chain is not None else None
        for task in unit.tasks[:-1]:
            record((task.node, unit.site[1]), "fused", 0.0, chain=names, rows=rows)
        reason = tasks.reason(plan, unit.tasks[-1], tiers)
        if unit.key in outputs:
            held[unit.key] = made[unit.key]
            tiers.put(unit.key, made[unit.key])
        record(unit.site, "computed", seconds[unit.key], reason, chain=names, rows=rows)


def _budget(tiers) -> int:
    """The memory budget: the memory caches' (the smallest), else $MASKGRAPH_MEMORY_BUDGET."""
    return min([memory.budget for memory in tiers.memories()] or [caching.memory_budget()])


def _donor(chain, held, consumers, keep, tiers):
    """An image input of a fused chain that nothing reads after it (not requested, not
    cached, no other reference): the chain's kernel writes its result there. Safe because
    the kernel is per pixel: it reads all of a pixel's inputs before writing that pixel."""
    uses = Counter(key for found in chain for key in found.task.input_keys)
    memories = tiers.memories()
    for found in chain:
        for slot, ((key, output), kind) in enumerate(zip(found.slots, found.kinds)):
            if kind != "image" or slot == found.chained or key in keep or key not in held \
                    or uses[key] != consumers[key] or any(m.holds(key) for m in memories):
                continue
            if buffers.sole_owner(held[key], output):
                return held[key][output]
    return None


def _release(held, key, tiers) -> None:
    """Drop `key` from the live set; its buffers go to the pool unless a cache holds it."""
    released = held.pop(key, None)
    if released is not None and not any(memory.holds(key) for memory in tiers.memories()):
        buffers.recycle(released)


def _fit_budget(held, tiers) -> None:
    """Let each memory cache evict until it and the live results outside it fit its budget."""
    for memory in tiers.memories():
        memory.make_room(_live_bytes(held, tiers, cached=False, memory=memory))


def _live_bytes(held, tiers, cached: bool, memory=None) -> int:
    """Bytes of the live results (each array once) and the buffer pool; cached=False
    leaves out results `memory` holds (they are counted in the cache)."""
    total, seen = 0, set()
    for key, result in held.items():
        if not cached and memory.holds(key):
            continue
        for array in result.values():
            if id(array) not in seen:
                seen.add(id(array))
                total += array.nbytes
    pool = buffers.current()
    return total + (pool.nbytes if pool is not None else 0)
