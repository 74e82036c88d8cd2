"""Evaluating a Graph: the public face of the engine (Graph.run, Graph.evaluate,
Graph.render) on top of planning (graph.plan) and the executors (graph.local, and
graph.distributed for a Dask cluster).

- `Evaluator(graph, cache_dir, memory, on_node).run(outputs, frame, feed)` -> Run: one
  frame, planned then executed locally with the memory and disk cache tiers.
- `render(graph, frames, ...)` -> Render: a frame range as one plan (a static subgraph
  is computed once), locally or on a Dask client; `on_frame(frame_run)` after each frame.
Stats records: {name, type, status, seconds[, reason][, chain][, frame][, worker]} with
status computed | memory | disk | written | passthrough | fed | fused; `chain` lists the
nodes of the fused kernel a node ran in (graph/fusion.py): the chain's last node is
`computed`, the others `fused` (their results were never made, nor cached).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from graph import cache as caching
from graph import local
from graph.model import Graph
from graph.plan import make_plan
from graph.task import explain_change  # noqa: F401  (public: reasons of a recompute)
from graph.tiers import default_tiers, memory_only_for



@dataclass
class Run:
    """What an evaluation returns: {name: array} and one stats record per visited node."""

    results: dict
    stats: list = field(default_factory=list)
    total_seconds: float = 0.0

    def stats_json(self) -> str:
        return json.dumps({"nodes": self.stats, "total_seconds": round(self.total_seconds, 6)})


@dataclass
class Render:
    """What a frame-range render returns: every frame's stats (records carry `frame`,
    and `worker` on a cluster) and the wall time."""

    frames: list
    stats: list = field(default_factory=list)
    total_seconds: float = 0.0

    def stats_json(self) -> str:
        return json.dumps({"nodes": self.stats, "total_seconds": round(self.total_seconds, 6)})


class Evaluator:
    """Evaluates one graph one frame at a time; see the module docstring.

    cache_dir: folder of the disk cache (None: $MASKGRAPH_CACHE_DIR, or no disk cache).
    memory: the memory cache (the process-wide one by default; None disables it), or any
    object of the graph.tiers.CacheTier protocol.
    on_node: callback(stat dict) after each node, for progress reporting.
    """

    def __init__(self, graph: Graph, cache_dir: str | None = None,
                 memory=caching.MEMORY, on_node=None):
        self.graph = graph
        self.tiers = default_tiers(cache_dir, memory)
        self.on_node = on_node

    def run(self, outputs=None, frame: int = 1, feed: dict | None = None) -> Run:
        started = time.perf_counter()
        plan = make_plan(self.graph, outputs, (frame,), feed)
        frame_run, = local.execute(plan, self.tiers, on_node=self.on_node)
        finish_sinks(plan)
        return Run(frame_run.results, frame_run.stats, time.perf_counter() - started)


def render(graph: Graph, frames, outputs=None, client=None, workers: int | None = None,
           cache_dir: str | None = None, memory=caching.MEMORY, on_frame=None,
           on_node=None, feed: dict | None = None) -> Render:
    """Render `frames` (an iterable of frame numbers): locally, on a Dask `client`, or on
    a LocalCluster of `workers` single-threaded processes. Sinks write their files; no
    results are kept; over several frames the memory cache takes only the results several
    frames share (graph.tiers.OnlyKeys). `on_frame(frame_run)` runs after each finished
    frame (in finishing order on a cluster)."""
    started = time.perf_counter()
    frames = list(frames)
    plan = make_plan(graph, outputs, frames, feed)
    if client is not None or workers is not None:
        from graph import distributed
        runs = distributed.execute(plan, client=client, workers=workers,
                                   cache_dir=cache_dir, on_frame=on_frame)
    else:
        tiers = default_tiers(cache_dir, memory)
        if len(plan.frames) > 1:  # see graph.tiers.OnlyKeys
            tiers = memory_only_for(tiers, plan.shared_keys())
        runs = local.execute(plan, tiers, on_node=on_node,
                             on_frame=on_frame, keep_results=False)
    finish_sinks(plan)
    stats = []
    for frame_run in sorted(runs, key=lambda r: r.frame):
        stats += [{**stat, "frame": frame_run.frame} for stat in frame_run.stats]
    return Render([r.frame for r in runs], stats, time.perf_counter() - started)


def finish_sinks(plan) -> None:
    """Call `finish(params, frames)` of every requested sink whose spec has one (a video
    writer encodes the frames its per-frame runs collected), once, in this process, after
    every frame has run; failures are placed at the node."""
    from graph.errors import GraphError, NodeFailure, NodeInputError
    names = {node for frame in plan.frames for node, _, _ in plan.targets[frame].values()}
    for name in sorted(names):
        node = plan.graph.nodes[name]
        spec = plan.graph.registry.get(node.type)
        if spec.finish is None:
            continue
        frames = [frame for frame in plan.frames if plan.task((name, frame)).kind == "sink"]
        if not frames:
            continue
        try:
            spec.finish(dict(plan.task((name, frames[0])).params), frames)
        except (NodeFailure, GraphError):
            raise
        except NodeInputError as error:
            raise NodeFailure(name, node.type, str(error), node.location(), error.hint) \
                from error
        except Exception as error:
            raise NodeFailure(name, node.type, f"{type(error).__name__}: {error}",
                              node.location()) from error
