"""The numba jit options, defined once for every kernel of the node library.

The engine (graph/) does not use them: its one kernel, the stencil, keeps its own options
in graph/stencil.py, so importing a kernel never imports the engine.

`kernel` compiles a serial kernel, `parallel_kernel` one whose outer loop is a `prange`.
Both cache the compiled code on disk (`cache=True`) so that a second process loads it in
milliseconds instead of compiling again. No `fastmath`: NaN and inf must behave.

`scalar` marks a small per-pixel helper that other kernels call: it is inlined (numba IR)
into each calling kernel and cached with it, so LLVM can vectorise the loop. (A separately
cached `kernel` is linked as object code: a kernel compiled later cannot inline it, which
measured 20-60x slower in tight loops.)

`pixel_form` marks a per-pixel function that calls the same `scalar` helper several times
(a grade's three channels, each with a power): numba's overload inliner, which `scalar`
uses, left such a function as a call that the loop cannot vectorise (a fused 4K grade
with a gamma ran 13x slower than its own kernel); `njit(inline="always")` inlines it at
the IR level, before typing, and the fused loop vectorises.
"""
import os

# The threading policy's wait policy, for kernels imported without the engine (the engine
# applies the whole policy, graph/threads.py, before it imports numba): numba's OpenMP
# threads sleep between parallel regions instead of spinning against other processes.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402
from numba.extending import register_jitable

kernel = numba.njit(cache=True, nogil=True)
parallel_kernel = numba.njit(cache=True, nogil=True, parallel=True)
prange = numba.prange
scalar = register_jitable(inline="always")
pixel_form = numba.njit(inline="always")
