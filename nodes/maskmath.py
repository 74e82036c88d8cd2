"""Mask math: boolean operations on soft masks, levels, grow/shrink, feather, border, blur.

Boolean operations use the fuzzy-set formulas of the node catalogue (max, min, product,
a * (1 - b), |a - b|), so soft edges combine without stair-steps. Grow and feather are
built on an exact Euclidean distance transform and a Gaussian whose cost does not depend
on the radius (nodes/kernels/distance.py, nodes/kernels/gaussian.py).
"""
from __future__ import annotations

import math
import threading

import cv2
import numba
import numpy as np

from graph import buffers
from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.common import require_finite, require_same_size
from nodes.kernels import distance, gaussian, maskops
from nodes.kernels.bands import run_bands

CATEGORY = "mask math"
OPENCV_SIGMA_LIMIT = 6.0  # px: gaussian_blur's OpenCV FIR below, recursive filter above
# A Gaussian edge goes from 1% to 99% across 4.65 sigma: feather widths are full widths.
WIDTH_PER_SIGMA = 4.65
MODES = ("center", "inside", "outside")
# Soft grow first looks for the core within radius + BAND pixels (a feathered edge's halo).
BAND = 64


# ---------------------------------------------------------------- shared helpers

def checked_mask(name: str, array: np.ndarray) -> np.ndarray:
    """A finite C-contiguous float32 (H, W) view or copy of a mask input."""
    mask = np.ascontiguousarray(array, dtype=np.float32)
    require_finite(name, mask)
    return mask


def checked_list(masks: list) -> list[np.ndarray]:
    """Validate a list input: not empty, finite, one size; returns float32 masks."""
    if not masks:
        raise NodeInputError("the 'inputs' list is empty",
                             hint="connect at least one mask to 'inputs'")
    checked = [checked_mask(f"inputs[{index}]", mask) for index, mask in enumerate(masks)]
    require_same_size(**{f"inputs[{index}]": mask for index, mask in enumerate(checked)})
    return checked


def checked_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate the two inputs of a binary operation."""
    a, b = checked_mask("a", a), checked_mask("b", b)
    require_same_size(a=a, b=b)
    return a, b


def gaussian_blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (H, W) mask or (H, W, C) image; a new float32 array.

    From FIR_SIGMA_LIMIT up to OPENCV_SIGMA_LIMIT the blur is OpenCV's separable FIR with
    the same truncated, normalised kernel as nodes.kernels.gaussian's (scipy's), edges
    repeated: at 4K it measured 28 ms against the recursive filter's 96 ms on a mask at
    sigma 3.4, 80 against 570 ms on RGBA at sigma 1.5; above the limit the recursive
    filter's constant cost wins.
    """
    source = np.ascontiguousarray(array, dtype=np.float32)
    if gaussian.sigma_is_noop(sigma):
        return source.copy()
    if gaussian.FIR_SIGMA_LIMIT <= sigma < OPENCV_SIGMA_LIMIT and (
            source.ndim == 2 or source.shape[2] <= 4):
        return _opencv_blur(source, float(sigma))
    planes = source if source.ndim == 3 else source[:, :, None]
    out = buffers.empty(planes.shape, np.float32)
    gaussian.gaussian_blur_into(planes, out, sigma)
    return out if source.ndim == 3 else out[:, :, 0]


def _opencv_blur(source: np.ndarray, sigma: float) -> np.ndarray:
    """cv2.GaussianBlur of a float32 (H, W) or (H, W, <=4) array, as row bands on the
    engine's band threads (nodes/kernels/bands.py: --threads applies, and a thread whose
    core is busy takes fewer bands), each band single-threaded in OpenCV and read with
    `radius` rows of context above and below."""
    radius = max(1, int(gaussian.TRUNCATE * sigma + 0.5))
    out = buffers.empty(source.shape, np.float32)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        run_bands(_opencv_blur_band, source.shape[0], source[0].size, source, out, radius,
                  sigma)
    finally:
        cv2.setNumThreads(threads)
    return out


def _opencv_blur_band(source, out, radius, sigma, first, stop):
    """Rows first:stop of the blur of `source` into `out` (the band and its context are
    blurred together; edges repeat only at the picture's own top and bottom)."""
    top, bottom = max(first - radius, 0), min(stop + radius, source.shape[0])
    band = _band_scratch((bottom - top,) + source.shape[1:])
    cv2.GaussianBlur(source[top:bottom], (2 * radius + 1, 2 * radius + 1), sigma, dst=band,
                     sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    out[first:stop] = band[first - top:stop - top]


_SCRATCH = threading.local()


def _band_scratch(shape: tuple) -> np.ndarray:
    """This thread's float32 scratch array of `shape`, kept for the next band of that
    shape (fresh memory for every band would fault its pages in again)."""
    scratch = getattr(_SCRATCH, "array", None)
    if scratch is None or scratch.shape != shape:
        scratch = _SCRATCH.array = np.empty(shape, np.float32)
    return scratch


def soft_dilate_into(mask: np.ndarray, soft_blocks: np.ndarray, zero_blocks: np.ndarray,
                     nearest_row: np.ndarray, radius: float, out: np.ndarray) -> None:
    """Soft grow (maskops.grow_soft_into, then maskops.grow_near_core_into).

    Nearest core pixels (mask >= 0.5) are looked for within a band around the core: first
    `cap` pixels (enough for a feathered edge), then, if a soft pixel lies farther out or
    the halo reaches farther, the band it needs (at worst the whole frame): the same
    nearest core pixels as an unrestricted distance transform wherever grow reads them.
    """
    height, width = mask.shape
    chunks = max(1, min(height, 4 * numba.get_num_threads()))
    envelope = np.empty(mask.shape, dtype=np.int32)
    row_count = np.empty(height, dtype=np.int64)
    row_halo = np.empty(height, dtype=np.float32)
    row_far = np.empty(height, dtype=np.int32)
    whole = height + width                       # farther than any two pixels
    cap = min(int(math.ceil(radius)) + BAND, whole)
    while True:
        maskops.grow_soft_into(mask, nearest_row, cap, soft_blocks, radius, out, envelope,
                               row_count, row_halo, row_far, chunks)
        if row_far.any():
            if cap >= whole:                     # no core at all: no zero pixel can change
                return
            cap = whole
            continue
        halo = float(row_halo.max())
        needed = radius + math.sqrt(halo) + 2.0  # maskops.grow_near_core_into's reach
        if needed <= cap or cap >= whole:
            maskops.grow_near_core_into(mask, zero_blocks, envelope, row_count, cap, radius,
                                        halo, out)
            return
        cap = min(int(math.ceil(needed)) + 1, whole)


def dilate_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Move the edge of a finite float32 (H, W) mask outward by `radius` > 0 pixels."""
    height, width = mask.shape
    out = buffers.empty(mask.shape, np.float32)
    soft_blocks = np.empty((height, -(-width // maskops.BLOCK_WIDTH)), dtype=np.bool_)
    zero_blocks = np.empty_like(soft_blocks)
    maskops.classify_blocks(mask, soft_blocks, zero_blocks)
    nearest_row = np.empty(mask.shape, dtype=np.int32)
    distance.nearest_row_in_column(mask, 0.5, False, nearest_row)
    if soft_blocks.any():
        soft_dilate_into(mask, soft_blocks, zero_blocks, nearest_row, float(radius), out)
    else:
        distance.within_distance_rows(nearest_row, distance.disc_half_widths(float(radius)),
                                      out)
    return out


def grow_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Grow (radius > 0) or shrink (radius < 0) a finite float32 (H, W) mask."""
    if radius == 0:
        return mask.copy()
    if radius > 0:
        return dilate_mask(mask, radius)
    shrunk = np.subtract(np.float32(1.0), dilate_mask(1.0 - mask, -radius), dtype=np.float32)
    return np.minimum(shrunk, mask, out=shrunk)   # 1 - (1 - m) may round up by an ulp


def feather_mask(mask: np.ndarray, radius: float, mode: str) -> np.ndarray:
    """Soft edge of full width `radius` (1% to 99%) centred on, inside or outside the edge."""
    if radius == 0:
        return mask.copy()
    sigma = radius / WIDTH_PER_SIGMA
    if mode == "center":
        out = gaussian_blur(mask, sigma)
    elif mode == "inside":
        out = np.minimum(mask, gaussian_blur(grow_mask(mask, -radius / 2), sigma))
    else:
        out = np.maximum(mask, gaussian_blur(grow_mask(mask, radius / 2), sigma))
    return np.clip(out, 0.0, 1.0, out=out)


# ---------------------------------------------------------------- boolean operations

def combine(operation, masks: list) -> np.ndarray:
    """operation(...) of all masks, pairwise, into one new buffer (no copy pass first)."""
    out = buffers.empty(masks[0].shape, np.float32)
    if len(masks) == 1:
        np.copyto(out, masks[0])
        return out
    operation(masks[0], masks[1], out=out)
    for mask in masks[2:]:
        operation(out, mask, out=out)
    return out


@node("union", version=1, category=CATEGORY, split="rows",
      inputs=[Input("inputs", "mask", list_of=True, doc="masks to combine")],
      outputs=[Output("output", "mask")])
def union(inputs):
    """Union of masks: the pixel-wise maximum.

    Soft masks combine as fuzzy sets (max), so a soft edge stays soft where it is the
    larger value. All inputs must have the same size.
    """
    return combine(np.maximum, checked_list(inputs))


@node("intersect", version=1, category=CATEGORY, split="rows",
      inputs=[Input("inputs", "mask", list_of=True, doc="masks to intersect")],
      outputs=[Output("output", "mask")])
def intersect(inputs):
    """Intersection of masks: the pixel-wise minimum.

    All inputs must have the same size.
    """
    return combine(np.minimum, checked_list(inputs))


@node("multiply", version=1, category=CATEGORY, split="rows",
      inputs=[Input("inputs", "mask", list_of=True, doc="masks to multiply")],
      outputs=[Output("output", "mask")])
def multiply(inputs):
    """Product of masks (a softer intersection: 0.5 and 0.5 give 0.25).

    All inputs must have the same size.
    """
    return combine(np.multiply, checked_list(inputs))


@node("subtract", version=1, category=CATEGORY, split="rows",
      inputs=[Input("a", "mask", doc="the mask to cut from"),
              Input("b", "mask", doc="the mask to remove (a garbage matte)")],
      outputs=[Output("output", "mask")])
def subtract(a, b):
    """a minus b: a * (1 - b).

    Removes `b` from `a`; a soft `b` removes partially. Inputs must have the same size.
    """
    a, b = checked_pair(a, b)
    out = buffers.empty(a.shape, np.float32)
    maskops.subtract_into(a, b, out)
    return out


@node("difference", version=1, category=CATEGORY, split="rows",
      inputs=[Input("a", "mask"), Input("b", "mask")],
      outputs=[Output("output", "mask")])
def difference(a, b):
    """Absolute difference |a - b|: where exactly one of two masks is set (soft xor).

    Inputs must have the same size.
    """
    a, b = checked_pair(a, b)
    out = buffers.empty(a.shape, np.float32)
    maskops.difference_into(a, b, out)
    return out


@node("invert", version=1, category=CATEGORY, split="rows",
      inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")])
def invert(input):
    """Inverted mask: 1 - m."""
    mask = checked_mask("input", input)
    return np.subtract(np.float32(1.0), mask, dtype=np.float32)


# ---------------------------------------------------------------- value remapping

@node("threshold", version=1, category=CATEGORY, split="rows",
      inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")],
      params=[Param("value", "float", 0.5, min=0.0, max=1.0,
                    doc="mask values at or above this become 1"),
              Param("softness", "float", 0.0, min=0.0, max=1.0,
                    doc="width of a smooth step centred on `value` (0: hard step)")])
def threshold(input, *, value, softness):
    """Binary (or softly stepped) mask from a soft one.

    softness 0: 1 where m >= value, else 0. softness > 0: a smoothstep from
    value - softness / 2 (0) to value + softness / 2 (1).
    """
    mask = checked_mask("input", input)
    out = buffers.empty(mask.shape, np.float32)
    maskops.threshold_into(mask, float(value - softness / 2), float(value + softness / 2),
                           out)
    return out


def _levels_check(params, connected):
    if params.get("high") is not None and params.get("low") is not None \
            and params["high"] <= params["low"]:
        return [("high", f"must be greater than low ({params['low']})")]
    return []


@node("levels", version=1, category=CATEGORY, split="rows", check=_levels_check,
      inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")],
      params=[Param("low", "float", 0.0, min=0.0, max=1.0, doc="input value that becomes 0"),
              Param("high", "float", 1.0, min=0.0, max=1.0, doc="input value that becomes 1"),
              Param("gamma", "float", 1.0, min=0.01, max=100.0,
                    doc="midtone curve: out = t ** (1 / gamma); > 1 widens the mask")])
def levels(input, *, low, high, gamma):
    """Remap mask values: t = clamp((m - low) / (high - low), 0, 1), out = t ** (1 / gamma).

    Use it to crush a key's grey background (raise low), solidify its core (lower high),
    or push the soft edge in or out (gamma).
    """
    mask = checked_mask("input", input)
    out = buffers.empty(mask.shape, np.float32)
    maskops.levels_into(mask, float(low), float(high), float(1.0 / gamma), out)
    return out


# ---------------------------------------------------------------- edges

@node("grow", version=1, category=CATEGORY,
      inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")],
      params=[Param("radius", "float", 2.0, min=-10000.0, max=10000.0,
                    doc="pixels the edge moves outward (fractional allowed; negative shrinks)")])
def grow(input, *, radius):
    """Grow (dilate) or shrink (erode) a mask by a distance in pixels.

    The edge moves by `radius` along the Euclidean distance: on a binary mask the result
    is exactly a dilation (radius > 0) or erosion (radius < 0) by a disc of that radius
    (distances between pixel centres), not by a square. On a soft mask the 0.5 contour
    moves by `radius` and the soft edge keeps its profile as it moves; grow never lowers a
    value and shrink never raises one. The cost does not depend on the radius (an exact
    linear-time Euclidean distance transform). Shrinking is growing the inverse mask.
    """
    mask = checked_mask("input", input)
    return grow_mask(mask, radius)


@node("feather", version=1, category=CATEGORY,
      inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")],
      params=[Param("radius", "float", 4.0, min=0.0, max=10000.0,
                    doc="full width of the soft edge in pixels (1% to 99%)"),
              Param("mode", "choice", "center", choices=MODES,
                    doc="where the soft edge lies: across the edge, inside it, or outside it")])
def feather(input, *, radius, mode):
    """Soften a mask's edge with a Gaussian falloff of full width `radius` pixels.

    The edge goes from 1% to 99% across `radius` pixels (a Gaussian of sigma =
    radius / 4.65). mode `center`: the soft edge straddles the original edge (a Gaussian
    blur). `inside`: the mask never spills outside its original shape; the edge fades
    inward (shrink by radius / 2, blur, keep the minimum with the original). `outside`:
    the original shape stays solid and the edge fades outward (grow by radius / 2, blur,
    keep the maximum). The cost does not depend on the radius. Pixels beyond the image
    border repeat the edge pixels, so a mask touching the frame stays solid there.
    """
    mask = checked_mask("input", input)
    return feather_mask(mask, radius, mode)


@node("border", version=1, category=CATEGORY,
      inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")],
      params=[Param("width", "float", 4.0, min=0.0, max=10000.0,
                    doc="width of the band in pixels"),
              Param("mode", "choice", "center", choices=MODES,
                    doc="band across the edge, inside the mask, or outside it (a ring "
                        "around a hole, e.g. inpaint context)")])
def border(input, *, width, mode):
    """The band of `width` pixels around a mask's edge.

    mode `center`: grow(width / 2) - shrink(width / 2), a band straddling the edge.
    `inside`: mask - shrink(width), the inner rim. `outside`: grow(width) - mask, a ring
    around the mask (context around a hole for inpainting). Soft edges give a soft band.
    Use it for edge-only treatments (edge colour correction, despill on the rim).
    """
    mask = checked_mask("input", input)
    if mode == "center":
        outer, inner = grow_mask(mask, width / 2), grow_mask(mask, -width / 2)
    elif mode == "inside":
        outer, inner = mask, grow_mask(mask, -width)
    else:
        outer, inner = grow_mask(mask, width), mask
    band = np.subtract(outer, inner, dtype=np.float32)
    return np.clip(band, 0.0, 1.0, out=band)


# ---------------------------------------------------------------- blur

@node("blur", version=1, category=CATEGORY, maskable=True,
      inputs=[Input("input", "image|mask", doc="image or mask to blur")],
      outputs=[Output("output", "image|mask")],
      params=[Param("size", "float", 2.0, min=0.0, max=10000.0,
                    doc="Gaussian sigma in pixels")])
def blur(input, *, size):
    """Gaussian blur of an image or a mask; `size` is the Gaussian's sigma in pixels.

    Images are blurred premultiplied (all four channels), so edges do not darken. The
    cost does not depend on the size (an exact FIR below sigma 1, Deriche's 4th-order
    recursive filter above, accurate to 1e-3). Pixels beyond the image border repeat the
    edge pixels.
    """
    name = "input"
    require_finite(name, input)
    return gaussian_blur(input, size)
