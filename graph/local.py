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
All run state lives in the `execute` call: nothing is kept on a long-lived object.
Kernels use the cores themselves (numba prange); tasks run one at a time.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from graph import fusion
from graph import task as tasks
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
    for index, frame in enumerate(plan.frames):
        started = time.perf_counter()
        stats: list = []

        def record(site, status, seconds, reason=None, chain=None):
            stat = {"name": site[0], "type": plan.graph.nodes[site[0]].type,
                    "status": status, "seconds": round(seconds, 6)}
            if reason is not None:
                stat["reason"] = reason
            if chain is not None:
                stat["chain"] = chain
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
                held.pop(key, None)
        for key in release_after.pop(index, ()):
            held.pop(key, None)
        run = FrameRun(frame, results, stats, time.perf_counter() - started)
        runs.append(run)
        if on_frame is not None:
            on_frame(run)
    return runs


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
    planned = {plan.sites[site] for site in schedule}
    for site in schedule:
        key = plan.sites[site]
        task = plan.tasks[key]
        chain = chains.get(site)
        if chain is not None and chain[-1].site != site:
            continue  # runs inside the fused kernel, at the chain's last site
        if chain is None and task.kind == "compute" and key in held:
            continue  # a lazy input asked for it earlier in this schedule
        started = time.perf_counter()
        if chain is not None:
            result = fusion.run_chain(plan, chain, held)
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
        for ran in [found.task for found in chain] if chain is not None else [task]:
            for used in ran.input_keys:
                consumers[used] -= 1
                if consumers[used] == 0 and used not in keep:
                    held.pop(used, None)
