"""The stencil every maskable node gets from the framework.

out = original + (edited - original) * w, with w = mask * mix (or (1 - mask) * mix when
inverted). Where w == 0 the original is copied bit for bit; where w == 1 the edit is
copied bit for bit.

The engine's own jit policy (the library's kernels have theirs in nodes/kernels/jit.py):
compiled once and cached on disk, no fastmath, serial over a band of rows that
graph.threads.run_bands runs on threads. `stencil_weight` and
`stencil_blend` are the per-pixel stencil, inlined both here and into the fused kernels
of graph/fusion.py, so a fused chain applies exactly the same arithmetic.
"""
import sys

import numba
import numpy as np
from numba.extending import register_jitable

from graph import buffers
from graph.errors import NodeInputError
from graph.threads import run_bands

kernel = numba.njit(cache=True, nogil=True)
# Compiled into each calling kernel (LLVM inlines them); not numba-IR inlined, whose
# ternaries trip numba's SSA checks.
scalar = register_jitable


@scalar
def stencil_weight(mask_value, use_mask, mix, invert):
    """The stencil weight of one pixel (float64): mix, times the mask (or 1 - mask)."""
    masked = (1.0 - mask_value) if invert else np.float64(mask_value)
    return mix * masked if use_mask else np.float64(mix)


@scalar
def stencil_blend(original, edited, weight):
    """One channel: the original where weight is 0, the edit where 1, else the blend."""
    blended = np.float32(original + (edited - original) * weight)
    return original if weight == 0.0 else (edited if weight == 1.0 else blended)


@kernel
def apply_stencil(original, edited, mask, use_mask, mix, invert, out, first, stop):
    """original, edited, out: (H, W, C) float32; mask: (H, W) float32 (ignored unless
    use_mask); rows first:stop."""
    width, channels = original.shape[1], original.shape[2]
    for y in range(first, stop):
        for x in range(width):
            weight = stencil_weight(mask[y, x] if use_mask else np.float32(0.0), use_mask,
                                    mix, invert)
            for c in range(channels):
                out[y, x, c] = stencil_blend(original[y, x, c], edited[y, x, c], weight)


def stencil(original: np.ndarray, edited: np.ndarray, mask, mix: float,
            invert: bool, in_place: bool = False) -> np.ndarray:
    """Blend `edited` into `original` through `mask` and `mix` (see module doc).
    in_place: the caller hands over `edited` (a node's fresh output): when nothing else
    holds it, the blend is written into it instead of a new frame."""
    if mask is None and mix == 1.0 and not invert:
        return edited
    if edited.shape != original.shape:
        raise NodeInputError(f"the edit changed the size ({edited.shape} from "
                             f"{original.shape}), so it cannot be masked")
    if mask is not None and mask.shape != original.shape[:2]:
        height, width = original.shape[:2]
        raise NodeInputError(f"the mask is {mask.shape[1]}x{mask.shape[0]} but the picture "
                             f"is {width}x{height}", hint="resize or crop the mask to match")
    shape3 = original.shape[:2] + (original.shape[2] if original.ndim == 3 else 1,)
    # held by nothing but the caller's result (its dict entry, this argument,
    # getrefcount's): blend into it (per pixel, so in place is safe)
    alone = in_place and edited.base is None and \
        edited.flags.writeable and edited.flags.c_contiguous and \
        edited.dtype == np.float32 and not np.shares_memory(edited, original) and \
        sys.getrefcount(edited) <= 3
    out = edited.reshape(shape3) if alone else buffers.empty(shape3, np.float32)
    dummy = np.zeros((1, 1), np.float32)
    run_bands(apply_stencil, shape3[0], shape3[1] * shape3[2],
              np.ascontiguousarray(original).reshape(shape3),
              np.ascontiguousarray(edited).reshape(shape3),
              dummy if mask is None else np.ascontiguousarray(mask), mask is not None,
              np.float32(mix), bool(invert), out)
    return out.reshape(original.shape)
