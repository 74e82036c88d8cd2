"""Output buffers recycled within one execution (a fresh frame costs ~1.5-2x a reused one
in page faults: docs/performance-notes).

Policy:
1. The local executor opens a pool for its run (`pooled()`); outside one, `empty` is
   `np.empty`.
2. When a result's last reader has run and nothing else holds it (not requested, not
   held for a later frame, not in the memory cache, no other Python reference to the
   result or to its arrays, no view of them), the executor gives its arrays back
   (`recycle`). The refcount check is what makes it safe: a pass-through result, a
   view, a caller's reference or a cache entry all keep the count up, and such an array is
   simply not recycled.
3. `empty(shape, dtype)` (what nodes and the engine call for an output they will fill
   completely) returns a recycled array of that exact shape and dtype when there is one.
   Only arrays that `empty` handed out during the run come back (what other code
   allocates is freed as usual), at most PER_SHAPE of a shape and `limit` bytes in all;
   the pool is dropped when the run ends.
"""
from __future__ import annotations

import sys
import threading
import weakref
from contextlib import contextmanager

import numpy as np

_LOCAL = threading.local()
PER_SHAPE = 2


class BufferPool:
    """Free arrays by (shape, dtype), at most `limit` bytes in all."""

    def __init__(self, limit: int):
        self.limit, self.nbytes, self.reused = limit, 0, 0
        self._free: dict[tuple, list] = {}
        self._handed = weakref.WeakValueDictionary()  # id -> array `empty` handed out

    def empty(self, shape, dtype) -> np.ndarray:
        found = self._free.get((tuple(shape), np.dtype(dtype).str))
        if found:
            array = found.pop()
            self.nbytes -= array.nbytes
            self.reused += 1
        else:
            array = np.empty(shape, dtype)
        self._handed[id(array)] = array
        return array

    def give(self, array: np.ndarray) -> None:
        free = self._free.setdefault((array.shape, array.dtype.str), [])
        if self._handed.get(id(array)) is not array or len(free) >= PER_SHAPE or \
                self.nbytes + array.nbytes > self.limit:
            return
        array.flags.writeable = True
        free.append(array)
        self.nbytes += array.nbytes


def current() -> BufferPool | None:
    return getattr(_LOCAL, "pool", None)


@contextmanager
def pooled(limit: int):
    """Run the block with a pool of at most `limit` bytes (nested: the outer one stays)."""
    if current() is not None:
        yield current()
        return
    _LOCAL.pool = BufferPool(limit)
    try:
        yield _LOCAL.pool
    finally:
        _LOCAL.pool = None


def empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised array: a recycled one of this shape and dtype, else np.empty."""
    pool = current()
    return pool.empty(shape, dtype) if pool is not None else np.empty(shape, dtype)


def recycle(result: dict) -> None:
    """Give the arrays of a released `result` to the pool when nothing else holds them.

    `result` must be the caller's only reference besides the argument itself (so the
    dict has refcount 2 here: the caller's name, this argument, and getrefcount's own)."""
    pool = current()
    if pool is None or sys.getrefcount(result) > 3:
        return
    for array in list(result.values()):
        # held by: the dict, the list, `array`, getrefcount's argument (the pool's
        # record of what it handed out is a weak reference)
        if isinstance(array, np.ndarray) and array.base is None and \
                array.flags.c_contiguous and sys.getrefcount(array) <= 4:
            pool.give(array)


def sole_owner(result: dict, output: str) -> bool:
    """Whether `result[output]` is a plain array that only `result` holds, and `result`
    is held by one container (the caller's live set) besides this call."""
    array = result[output]
    # result: the container, this argument, getrefcount's; array: the dict, `array`, getrefcount's
    return sys.getrefcount(result) <= 3 and isinstance(array, np.ndarray) and \
        array.base is None and array.flags.c_contiguous and array.dtype == np.float32 and \
        sys.getrefcount(array) <= 3
