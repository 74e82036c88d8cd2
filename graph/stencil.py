"""The stencil every maskable node gets from the framework.

out = original + (edited - original) * w, with w = mask * mix (or (1 - mask) * mix when
inverted). Where w == 0 the original is copied bit for bit; where w == 1 the edit is
copied bit for bit.

The engine's own jit policy (the library's kernels have theirs in nodes/kernels/jit.py):
compiled once and cached on disk, no fastmath, outer loop parallel.
"""
import numba
import numpy as np

from graph.errors import NodeInputError

parallel_kernel = numba.njit(cache=True, nogil=True, parallel=True)
prange = numba.prange


@parallel_kernel
def apply_stencil(original, edited, mask, use_mask, mix, invert, out):
    """original, edited, out: (H, W, C) float32; mask: (H, W) float32 (ignored unless use_mask)."""
    height, width, channels = original.shape
    for y in prange(height):
        for x in range(width):
            weight = mix
            if use_mask:
                value = mask[y, x]
                weight = mix * ((1.0 - value) if invert else value)
            for c in range(channels):
                if weight == 0.0:
                    out[y, x, c] = original[y, x, c]
                elif weight == 1.0:
                    out[y, x, c] = edited[y, x, c]
                else:
                    base = original[y, x, c]
                    out[y, x, c] = base + (edited[y, x, c] - base) * weight


def stencil(original: np.ndarray, edited: np.ndarray, mask, mix: float,
            invert: bool) -> np.ndarray:
    """Blend `edited` into `original` through `mask` and `mix` (see module doc)."""
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
    out = np.empty(shape3, np.float32)
    dummy = np.zeros((1, 1), np.float32)
    apply_stencil(np.ascontiguousarray(original).reshape(shape3),
                  np.ascontiguousarray(edited).reshape(shape3),
                  dummy if mask is None else np.ascontiguousarray(mask), mask is not None,
                  np.float32(mix), bool(invert), out)
    return out.reshape(original.shape)
