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
