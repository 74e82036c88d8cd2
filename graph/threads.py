"""How kernels use the cores: the process's threading policy, applied before numba starts
its thread pool (the engine hook: `graph/__init__.py` applies it before any engine module
imports numba, and the CLI's `--threads` goes through `set_threads`).

Policy (chosen by measurement on a shared 2-core machine, see README "Performance"):
- Layer: numba's OpenMP layer first (`NUMBA_THREADING_LAYER_PRIORITY`: omp, then tbb,
  then workqueue), with `OMP_WAIT_POLICY=passive`: between parallel regions the threads
  sleep instead of spin-waiting. Spinning threads can fight any other busy process for
  the cores (the project's performance notes measured a 4K grade at 530 ms instead of
  22 ms next to one busy neighbour; bench/bench_threads.py did not reproduce that trap in
  this session's runs); passive waiting cost nothing measurable quiet. The workqueue
  layer does not spin either; the notes measured it at ~1.7x on a 4K grade (here it was
  level with OpenMP). TBB is not a dependency (not installed here, so not measured).
- Threads: every core by default; `MASKGRAPH_THREADS=N` or `maskgraph run --threads N`
  caps it (numba.set_num_threads). Dask workers run their kernels single-threaded
  (graph/distributed.py, `MASKGRAPH_WORKER_THREADS`).
- A value the user already set in the environment wins (`OMP_WAIT_POLICY=active`,
  `NUMBA_THREADING_LAYER=workqueue`, ...): the policy only fills in defaults.
The library's kernels, imported on their own without the engine, apply the same wait
policy in nodes/kernels/jit.py (the kernels may not import the engine).
"""
from __future__ import annotations

import os
import sys

THREADS_ENV = "MASKGRAPH_THREADS"
POLICY_ENVIRONMENT = {
    "OMP_WAIT_POLICY": "passive",
    "NUMBA_THREADING_LAYER_PRIORITY": "omp tbb workqueue",
}


def apply_policy() -> None:
    """Fill in the policy's environment defaults and apply MASKGRAPH_THREADS.

    Call before numba runs its first parallel kernel (the OpenMP runtime reads
    OMP_WAIT_POLICY once, when it loads); calling it again is harmless.
    """
    for name, value in POLICY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    wanted = requested_threads()
    if wanted is not None:
        set_threads(wanted)


def requested_threads() -> int | None:
    """MASKGRAPH_THREADS as a whole number >= 1, or None when unset or not a number."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text.isdigit() or int(text) < 1:
        return None
    return int(text)


def set_threads(count: int) -> int:
    """Cap the kernels of this process (and of processes it starts) at `count` threads;
    returns the count in effect (at most the cores numba found)."""
    count = max(1, int(count))
    os.environ[THREADS_ENV] = str(count)
    if "numba" not in sys.modules and "NUMBA_NUM_THREADS" not in os.environ:
        os.environ["NUMBA_NUM_THREADS"] = str(min(count, os.cpu_count() or count))
        return count
    import numba
    count = min(count, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(count)
    return count


# ---------------------------------------------------------------- row bands

BANDS_PER_THREAD = 4
MIN_BAND_ELEMENTS = 1 << 16   # rows of fewer elements than this, in all, run inline
_POOL = []   # the engine's thread pool, made on first use


def band_edges(rows: int, row_size: int, threads: int) -> list[int]:
    """Row boundaries [0, ..., rows] of the bands for `threads` threads."""
    by_size = max(1, rows * max(1, row_size) // MIN_BAND_ELEMENTS)
    count = max(1, min(rows, threads * BANDS_PER_THREAD, by_size))
    return [rows * index // count for index in range(count + 1)]


def run_bands(kernel, rows: int, row_size: int, *arguments) -> None:
    """Run the serial nogil kernel(*arguments, first, stop) over bands of rows [0, rows)
    on numba's thread count of threads, and wait for them (the engine's kernels: fused
    chains and the stencil).

    Bands, not a prange kernel: a serial kernel compiles ~0.7 s faster (a first run
    compiles every kernel on its path), and the bands go to threads as they come free
    (BANDS_PER_THREAD per thread), so a thread that shares its core with another process
    takes fewer (OpenMP's static schedule waits for the slowest thread). The library's
    kernels do the same in nodes/kernels/bands.py (the layers share no module).
    """
    import numba
    threads = max(1, numba.get_num_threads())
    edges = band_edges(rows, row_size, threads)
    if threads == 1 or len(edges) == 2:
        kernel(*arguments, 0, rows)
        return
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor
        _POOL.append(ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                        thread_name_prefix="maskgraph-engine"))
    futures = [_POOL[0].submit(kernel, *arguments, first, stop)
               for first, stop in zip(edges[:-1], edges[1:])]
    for future in futures:
        future.result()
