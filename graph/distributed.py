"""The Dask executor: renders a Plan's frames on a `distributed` cluster.

Named `distributed.py` inside the `graph` package (imported as graph.distributed), so it
never shadows the `dask` or `distributed` packages. Needs the `dask` extra.

Policy:
- The client plans (graph.plan) the whole range. One Dask task per frame carries the part
  of the plan that frame needs (`Plan.for_frames`; specs travel by id and are looked up
  where they land), so any worker can run, or rerun, any frame on its own.
- A worker runs its frame with the local executor (graph.local), in one thread, with
  numba kernels single-threaded (no oversubscription; MASKGRAPH_WORKER_THREADS asks for
  more), and writes the frame's sinks itself, atomically (temporary file, then rename),
  to the plan's absolute output paths: they must be on a filesystem the workers share.
- Static subgraph: a subgraph with nothing animated upstream has one key for the whole
  range. Each worker computes it the first time one of its frames needs it and keeps it
  in its process memory cache (which takes only such shared keys, `Plan.shared_keys`:
  a frame's own results are freed as on a local render, so their memory is reused), so it is computed once per worker (not once per frame);
  with --cache-dir on a shared path, a worker that finds it in the disk cache reads it
  instead. Cost: (workers - 1) extra computations of the static part, measured in
  bench/bench_engine.py.
- A worker that dies mid-render costs time only: the scheduler reruns its frames on
  another worker. A rerun frame recomputes from its inputs and rewrites its outputs
  atomically, so a retry is harmless.
- A node failure is returned (not raised) by the worker, with the worker's address in
  the placed message; the client cancels the remaining frames and raises it once.
- Each frame's stats records carry `worker` (the worker's address).
"""
from __future__ import annotations

import logging
import os
import time

from graph import local
from graph.errors import GraphError, MaskgraphError, NodeFailure, Problem
from graph.local import FrameRun
from graph.tiers import Tiers, default_tiers, memory_only_for

CONNECT_TIMEOUT_S = 4
THREADS_ENV = "MASKGRAPH_WORKER_THREADS"


def _distributed():
    try:
        import distributed
    except ImportError:
        raise GraphError(Problem("rendering on a Dask cluster needs the `dask` extra",
                                 hint="pip install 'maskgraph[dask]'")) from None
    return distributed


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S):
    """A Client on the scheduler at `address`; GraphError when none answers in time."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise GraphError(Problem(f"--scheduler {address}: no Dask scheduler answers there "
                                 f"({type(error).__name__}: {error})",
                                 hint="start one with `dask scheduler` (and `dask worker "
                                      "ADDRESS` on each machine), or use --workers N")) \
            from None


def local_cluster(workers: int):
    """A LocalCluster of `workers` single-threaded worker processes, and its client."""
    if workers < 1:
        raise GraphError(Problem(f"--workers {workers}: at least 1 worker"))
    distributed = _distributed()
    import dask
    # No statistical profiler in the workers (it samples every thread every 10 ms, for the
    # dashboard only), and glibc's usual malloc: Dask's MALLOC_TRIM_THRESHOLD_ makes every
    # frame-sized array a fresh mmap whose pages fault in again (measured: a 1080p grade
    # 2 ms in-process, 8 ms on such a worker).
    with dask.config.set({"distributed.worker.profile.enabled": False,
                          "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=":0",
                                           silence_logs=logging.ERROR)
    return cluster, distributed.Client(cluster, set_as_default=False)


def execute(plan, client=None, workers: int | None = None, cache_dir: str | None = None,
            on_frame=None) -> list[FrameRun]:
    """Render every frame of `plan` on `client` (or a LocalCluster of `workers`); see the
    module docstring. Returns the frames' runs (no results kept) in finishing order."""
    distributed = _distributed()
    cluster = None
    if client is None:
        cluster, client = local_cluster(workers or 1)
    if cache_dir:
        cache_dir = os.path.abspath(cache_dir)
    try:
        shared = plan.shared_keys()
        futures = {}
        for frame in plan.frames:
            part = plan.for_frames([frame])
            keep = frozenset(key for key in part.tasks if key in shared)
            futures[client.submit(render_frame, part, frame, cache_dir, keep,
                                  pure=False)] = frame
        runs = []
        for future in distributed.as_completed(list(futures), loop=client.loop):
            try:
                outcome = future.result()
            except Exception as error:  # lost or killed too often, or unpicklable here
                client.cancel(list(futures))
                raise MaskgraphError(f"frame {futures[future]} could not be rendered on the "
                                     f"cluster: {type(error).__name__}: {error}") from None
            if isinstance(outcome, MaskgraphError):
                client.cancel(list(futures))
                raise outcome
            runs.append(outcome)
            if on_frame is not None:
                on_frame(outcome)
        return runs
    finally:
        if cluster is not None:
            client.close()
            cluster.close()


def render_frame(plan, frame: int, cache_dir: str | None, shared=None):
    """Run on a worker: render one frame, write its sinks; a FrameRun whose stats carry
    the worker's address, or the MaskgraphError that stopped it (named after the worker).
    The worker's memory cache takes only the `shared` keys (None: every key)."""
    _single_threaded()
    worker = _worker_address()
    started = time.perf_counter()
    try:
        run, = local.execute(plan, _worker_tiers(cache_dir, shared), keep_results=False)
    except NodeFailure as error:
        return NodeFailure(error.node, error.node_type,
                           f"{error.message} (on Dask worker {worker})", error.location,
                           error.hint)
    except MaskgraphError as error:
        return error
    stats = [{**stat, "worker": worker} for stat in run.stats]
    return FrameRun(frame, {}, stats, time.perf_counter() - started)


def _worker_tiers(cache_dir: str | None, shared) -> Tiers:
    """The process memory cache, limited to the keys several frames share, then the disk
    cache (when asked): see graph.tiers.OnlyKeys for why not every frame's results."""
    tiers = default_tiers(cache_dir)
    if shared is not None:
        tiers = memory_only_for(tiers, shared)
    return tiers


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _single_threaded() -> None:
    """Kernels in a worker use MASKGRAPH_WORKER_THREADS threads (default 1): numba's, and
    OpenCV's own pool when OpenCV is installed (its image codecs and conversions would
    otherwise start a thread per core in every worker)."""
    import numba
    wanted = int(os.environ.get(THREADS_ENV, "1") or 1)
    numba.set_num_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(max(1, wanted))
