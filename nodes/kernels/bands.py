"""Row bands on threads: how a serial kernel uses every core.

A band kernel is an ordinary serial `kernel` (compiled nogil) whose last two arguments
are a row range `first, stop`; `run_bands(kernel, rows, row_size, *arguments)` splits
rows [0, rows) into bands and runs kernel(*arguments, first, stop) for each band on a pool of
numba's thread count (`numba.get_num_threads()`, so `--threads` and Dask workers' single
thread apply).

Why not a `prange` kernel: compiling a parallel kernel costs ~0.8 s against ~0.1 s for the
same loops serial (numba's parfor passes and the gufunc it generates), and a cold first
run compiles every kernel on its path. The bands are also handed out as threads come
free (BANDS_PER_THREAD per thread), so a thread whose core another process is using
takes fewer of them (OpenMP's default static schedule gives each thread an equal share
and waits for the slowest).
"""
from concurrent.futures import ThreadPoolExecutor

import numba

BANDS_PER_THREAD = 4
MIN_BAND_ELEMENTS = 1 << 16   # rows of fewer elements than this, in all, run inline

POOL = ThreadPoolExecutor(max_workers=max(1, numba.config.NUMBA_NUM_THREADS),
                          thread_name_prefix="maskgraph-bands")


def band_edges(rows: int, elements_per_row: int, threads: int) -> list[int]:
    """Row boundaries [0, ..., rows] of the bands for `threads` threads."""
    by_size = max(1, rows * max(1, elements_per_row) // MIN_BAND_ELEMENTS)
    count = max(1, min(rows, threads * BANDS_PER_THREAD, by_size))
    return [rows * index // count for index in range(count + 1)]


def run_bands(kernel, rows: int, row_size: int, *arguments) -> list:
    """Run kernel(*arguments, first, stop) over bands covering rows [0, rows) of
    `row_size` elements each, on threads, and wait for all of them (a kernel's error is
    raised here). Returns the kernel's results, one per band in row order."""
    threads = max(1, numba.get_num_threads())
    edges = band_edges(rows, row_size, threads)
    if threads == 1 or len(edges) == 2:
        return [kernel(*arguments, 0, rows)]
    futures = [POOL.submit(kernel, *arguments, first, stop)
               for first, stop in zip(edges[:-1], edges[1:])]
    return [future.result() for future in futures]
