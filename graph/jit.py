"""The numba jit options, defined once for every kernel in maskgraph.

`kernel` compiles a serial kernel, `parallel_kernel` one whose outer loop is a `prange`.
Both cache the compiled code on disk (`cache=True`) so that a second process loads it in
milliseconds instead of compiling again. No `fastmath`: NaN and inf must behave.
"""
import numba

kernel = numba.njit(cache=True, nogil=True)
parallel_kernel = numba.njit(cache=True, nogil=True, parallel=True)
prange = numba.prange
