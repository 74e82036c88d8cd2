"""Node spec: inpaint (fill a masked hole from the pixels around it).

The wrapper prepares the hole (grown by `grow`, with a `blend` ramp), runs one fill method
on the bounding box of the hole, and mixes the fill into the input with the hole's
weights, so that pixels outside the grown hole are copied bit for bit.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.common import require_same_size
from nodes.kernels import inpaint_telea as telea
from nodes.kernels import inpaint_smooth, patchmatch

METHODS = ("auto", "telea", "smooth", "patch")
PATCH_RADIUS = 3
SEED = 1234
SMOOTH_ITERATIONS, SMOOTH_TOLERANCE = 3000, 1e-2
AUTO_PATCH_THICKNESS = 20.0  # px: a hole part deeper than this gets the patch fill
CONFIDENCE_FALLOFF = 3.0  # patch votes weigh falloff ** -depth into the hole (Wexler)
CONFIDENCE_DEPTH = 3.0    # px: deeper pixels all weigh the same (see _confidence)
COARSE_THICKNESS = 3.0   # stop halving once the hole is this many pixels from its edge
COARSE_SIZE = 32         # nor halve a level smaller than this
COARSE_EM, FINE_EM, FINEST_EM, PASSES = 6, 3, 3, 4
PATCH_CONTEXT, PATCH_CONTEXT_MIN = 2.0, 96  # source region around the hole (context_box)
FINE_SEARCH = 32         # px: first random-search window below the coarsest level


# ---------------------------------------------------------------- hole preparation

def hole_weights(mask, grow, blend):
    """Weights (H, W) float32 of the fill: the mask grown by `grow` px with a `blend` ramp.

    The support (mask > 0) grows by `grow` pixels; within the grown band the weight falls
    linearly to 0 over the outer `blend` pixels (blend is at most grow); soft mask values
    are carried outwards (a grey dilation: the largest value within `grow` px). Weight 0
    means "keep the input". Only the support's bounding box (plus grow) is processed.
    """
    support = mask > 0
    if grow <= 0:
        return np.where(support, mask, 0.0).astype(np.float32)
    weights = np.zeros(mask.shape, np.float32)
    box = _hole_box(support, int(math.ceil(grow)) + 1)
    distance = _distance_to(support[box])
    ramp_width = min(max(blend, 0.0), grow)
    if ramp_width > 0:
        ramp = np.clip((grow + 0.5 - distance) / ramp_width, 0.0, 1.0)
    else:
        ramp = (distance <= grow + 0.5).astype(np.float32)
    weights[box] = _grey_dilation(mask[box], distance, grow) * ramp
    return weights


def _distance_to(region):
    """Euclidean distance (float32) of every pixel to the nearest True pixel of `region`."""
    return cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _grey_dilation(mask, distance, grow, levels=16):
    """The largest mask value within `grow` px of each pixel (a disc grey dilation).

    A hard mask needs no work beyond `distance` (its distance to the support); a soft one
    is thresholded at up to `levels` values, each level's support grown with one distance
    transform (cost independent of grow). Outside the support the result is within
    1/levels of the exact dilation; inside it is at least the mask's own value.
    """
    values = np.unique(mask[mask > 0])
    if values.size == 1:
        return np.where(distance <= grow + 0.5, values[0], 0.0).astype(np.float32)
    if values.size > levels:  # keep the smallest value: the grown support stays exact
        steps = np.linspace(1.0 / levels, 1.0, levels) * values.max()
        values = np.concatenate([values[:1], steps[steps > values[0]]])
    spread = np.zeros(mask.shape, np.float32)
    for value in values:
        level = mask >= value - 1e-6
        spread[_distance_to(level) <= grow + 0.5] = value
    return np.maximum(spread, mask)


def _hole_box(hole, margin):
    """Slices (rows, columns) of the hole's bounding box widened by `margin` pixels."""
    rows = np.flatnonzero(hole.any(axis=1))
    columns = np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, height)),
            slice(max(columns[0] - margin, 0), min(columns[-1] + margin + 1, width)))


# ---------------------------------------------------------------- telea

def telea_fill(image, hole, radius=5):
    """Fill `hole` (H, W bool) of `image` (H, W, C) float32 by fast marching; returns a copy.

    Pixels under the hole are ignored (they may hold NaN).
    """
    work = np.ascontiguousarray(image, np.float32).copy()
    work[hole] = 0.0
    hole_u8 = hole.astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    band = (cv2.dilate(hole_u8, cross) > 0) & ~hole
    flags = np.full(hole.shape, telea.KNOWN, np.uint8)
    flags[band] = telea.BAND
    flags[hole] = telea.INSIDE
    times = np.where(hole, np.float32(telea.FAR), np.float32(0.0)).astype(np.float32)
    count = int(np.count_nonzero(hole) + np.count_nonzero(band))
    heap_time = np.empty(count, np.float32)
    heap_index = np.empty(count, np.int64)
    telea.telea_inpaint(work, flags, times, heap_time, heap_index, int(radius))
    return work


# ---------------------------------------------------------------- smooth (biharmonic)

def _half(image, hole):
    """The image (hole pixels zeroed) and hole at half size (a coarse pixel is a hole
    pixel if any of its fine pixels is)."""
    size = ((image.shape[1] + 1) // 2, (image.shape[0] + 1) // 2)
    clean = np.where(hole[..., None], np.float32(0.0), image)
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return cv2.resize(clean, size, interpolation=cv2.INTER_AREA), small_hole


def _hole_thickness(hole):
    return float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max())


def smooth_fill(image, hole, iterations=None, tolerance=None):
    """Fill `hole` of `image` (H, W, C) float32 with the biharmonic fill; returns a copy.

    Conjugate gradients on the biharmonic system, started from the fill of the
    half-size picture when the hole is thick (cascadic multigrid: the coarse solution
    carries the low frequencies that CG resolves slowly), else from the telea fill. The
    solve stops once the residual fell by `tolerance`; the result is kept within the
    range of the pixels around the hole (the surface may overshoot).
    """
    iterations = iterations or SMOOTH_ITERATIONS
    tolerance = tolerance or SMOOTH_TOLERANCE
    if _hole_thickness(hole) > 4 and min(hole.shape) >= 32:
        coarse = smooth_fill(*_half(image, hole), iterations, tolerance)
        work = np.ascontiguousarray(image, np.float32).copy()
        upscaled = cv2.resize(coarse, hole.shape[::-1], interpolation=cv2.INTER_LINEAR)
        work[hole] = upscaled[hole]
    else:
        work = telea_fill(image, hole)
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~hole
    low, high = _value_range(work, ~ring)
    varying = np.flatnonzero(low < high)  # a constant channel (opaque alpha) stays constant
    if varying.size:
        solved = np.ascontiguousarray(work[..., varying])
        _biharmonic(solved, hole, iterations, tolerance)
        work[..., varying] = solved
    work[hole] = np.clip(work[hole], low, high)
    return work


def _biharmonic(work, hole, iterations, tolerance):
    """Run the CG biharmonic solve on the hole of `work` (H, W, C) float32, in place."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    support = cv2.dilate(hole.astype(np.uint8), cross) > 0
    support[0] = support[-1] = False
    support[:, 0] = support[:, -1] = False
    hole_list = np.flatnonzero(hole).astype(np.int64)
    channels = work.shape[2]
    state = np.empty((4, channels, hole_list.size), np.float64)
    inpaint_smooth.biharmonic_solve(work, hole_list, np.flatnonzero(support).astype(np.int64),
                                    int(iterations), float(tolerance), np.empty_like(work),
                                    np.zeros_like(work), state, np.empty((2, channels)))


# ---------------------------------------------------------------- patch (PatchMatch)

def _box_dilate(hole_u8, radius):
    return cv2.dilate(hole_u8, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))


def _level_sets(hole, radius):
    """Flat indices of targets (patches touching the hole) and of valid source centres."""
    hole_u8 = hole.astype(np.uint8)
    near = _box_dilate(hole_u8, radius) > 0
    valid = ~near
    valid[:radius] = valid[-radius:] = False
    valid[:, :radius] = valid[:, -radius:] = False
    return (np.flatnonzero(near).astype(np.int64), valid.astype(np.uint8),
            np.flatnonzero(valid).astype(np.int64))


def _pyramid(image, hole, radius):
    """Images and holes from fine to coarse; stops where the hole is a few pixels thick."""
    thickness = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max()
    images, holes = [image], [hole]
    while thickness > COARSE_THICKNESS and min(images[-1].shape[:2]) >= COARSE_SIZE:
        height, width = images[-1].shape[:2]
        size = ((width + 1) // 2, (height + 1) // 2)
        smaller_hole = cv2.resize(holes[-1].astype(np.float32), size,
                                  interpolation=cv2.INTER_AREA) > 0
        if not _level_sets(smaller_hole, radius)[2].size:
            break
        images.append(_resize(images[-1], size[::-1], cv2.INTER_AREA))
        holes.append(smaller_hole)
        thickness /= 2
    return images, holes


def _confidence(hole, falloff=None):
    """1 on known pixels, falloff ** -depth inside the hole (depth: distance to known).

    Depth is capped at CONFIDENCE_DEPTH px: the patches that reach known pixels still
    lead the vote at the hole's rim, but deeper in, patches weigh by their match alone.
    Without the cap, each patch would out-vote every patch a pixel deeper (a factor of
    `falloff` per pixel), and the fill would become the rim's pixels dragged inward:
    streaks across wide holes.
    """
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    depth = np.minimum(depth, CONFIDENCE_DEPTH)
    return np.power(np.float32(falloff or CONFIDENCE_FALLOFF), -depth).astype(np.float32)


def _em_level(work, hole, sets, nnf, radius, iterations, passes, seed, search):
    """Expectation-maximisation at one level: improve the NNF, then vote, `iterations` times.

    sets: the level's (targets, valid, valid_list) from _level_sets.
    """
    targets, valid, valid_list = sets
    hole_pixels = np.flatnonzero(hole).astype(np.int64)
    confidence = _confidence(hole)
    cost = np.zeros(hole.shape, np.float32)
    weight = np.zeros(hole.shape, np.float32)
    for iteration in range(iterations):
        patchmatch.improve_nnf(work, confidence, valid, valid_list, targets, nnf, cost, radius,
                               passes, seed + iteration, search)
        patchmatch.vote_weights(confidence, cost, targets, weight)
        patchmatch.vote(work, hole_pixels, nnf, weight, radius, work)


def patch_fill(image, hole, patch_radius=None):
    """Fill `hole` of `image` (H, W, C) float32 with PatchMatch, coarse to fine; a copy.

    Channels that are constant over the known pixels (an opaque alpha) are filled with
    that constant and left out of the matching. Falls back to telea when no whole patch
    of known pixels exists.
    """
    radius = patch_radius or PATCH_RADIUS
    box = context_box(hole)
    out = np.array(image, dtype=np.float32, copy=True)
    out[box] = _patch_fill_box(image[box], hole[box], radius)
    return out


def _patch_fill_box(image, hole, radius):
    """patch_fill on the context box."""
    if not _level_sets(hole, radius)[2].size:
        return telea_fill(image, hole)
    work = np.ascontiguousarray(image, np.float32).copy()
    work[hole] = 0.0
    low, high = _value_range(work, hole)
    work[hole] = low
    varying = np.flatnonzero(low < high)
    if varying.size:
        work[..., varying] = _patch_pyramid(np.ascontiguousarray(work[..., varying]), hole, radius)
    return work


def _value_range(image, excluded):
    """Per-channel (min, max) of `image` (H, W, C) over the pixels not `excluded`."""
    bounds = np.empty((2, image.shape[2]), np.float32)
    inpaint_smooth.channel_range(image, np.ascontiguousarray(excluded), bounds)
    return bounds[0], bounds[1]


def _resize(image, shape, interpolation):
    """cv2.resize to (height, width) `shape`, keeping a channel axis of length 1."""
    resized = cv2.resize(image, (shape[1], shape[0]), interpolation=interpolation)
    return resized.reshape(shape + image.shape[2:])


def _patch_pyramid(base, hole, radius):
    """The coarse-to-fine PatchMatch fill of `base` (H, W, C) float32 (hole pixels zero).

    The coarsest level starts from the telea fill and a random field. Each finer level
    starts from the coarser field scaled up, and fills its hole by voting that field over
    its own (sharp) pixels, not by scaling the coarser fill up: matches to a blurred
    estimate would prefer flat sources and wash texture out.
    """
    images, holes = _pyramid(base, hole, radius)
    work, nnf = None, None
    for level in range(len(images) - 1, -1, -1):
        level_hole = holes[level]
        targets, valid, valid_list = _level_sets(level_hole, radius)
        fine_nnf = np.full(level_hole.shape + (2,), -1, np.int32)
        if nnf is None:
            work = telea_fill(images[level], level_hole)
            patchmatch.random_nnf(valid_list, targets, level_hole.shape[1], fine_nnf, SEED)
        else:
            work = images[level].copy()
            patchmatch.upsample_nnf(nnf, valid, valid_list, targets, fine_nnf, SEED + level)
            patchmatch.vote(work, np.flatnonzero(level_hole).astype(np.int64), fine_nnf,
                            _confidence(level_hole), radius, work)
        nnf = fine_nnf
        coarse = level == len(images) - 1
        search = max(level_hole.shape) if coarse else min(FINE_SEARCH, max(level_hole.shape))
        iterations = COARSE_EM if coarse else FINEST_EM if level == 0 else FINE_EM
        _em_level(work, level_hole, (targets, valid, valid_list), nnf, radius, iterations,
                  PASSES, SEED + 100 * level, search)
    return work


# ---------------------------------------------------------------- the node

def split_by_thickness(hole, thickness=AUTO_PATCH_THICKNESS):
    """(thin, thick): the hole's connected parts whose inside lies within `thickness`
    pixels of known pixels, and the others."""
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    deep = depth > thickness
    if not deep.any():
        return hole, np.zeros_like(hole)
    count, labels = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    thick_labels = np.zeros(count, bool)
    thick_labels[labels[deep]] = True
    thick = thick_labels[labels] & hole
    return hole & ~thick, thick


def auto_fill(image, hole, patch_radius=None):
    """`auto`: biharmonic fill for thin parts of the hole, PatchMatch for thick ones.

    Scratches and small blobs are best rebuilt as smooth continuations of their edges
    (highest PSNR, no texture to invent); wide holes need texture, which only the patch
    fill provides. Thick parts are first given a telea fill so that the smooth solve
    never reads garbage, then the patch fill replaces it.
    """
    thin, thick = split_by_thickness(hole)
    if not thick.any():
        return smooth_fill(image, hole)
    if not thin.any():
        return patch_fill(image, hole, patch_radius)
    return patch_fill(smooth_fill(telea_fill(image, hole), thin), thick, patch_radius)


FILLERS = {"auto": auto_fill, "telea": telea_fill, "smooth": smooth_fill, "patch": patch_fill}


def _check_input(input, mask, weights):
    """NaN outside the hole, NaN in the mask, or a hole that leaves nothing to sample."""
    outside = weights == 0
    bad = 0
    if not np.isfinite(input).all():  # the common case costs one pass
        bad = np.count_nonzero(outside & ~np.isfinite(input).all(axis=-1))
    if bad:
        raise NodeInputError(f"input 'input' has {bad} NaN or infinite pixels outside the hole",
                             hint="add them to the mask so that inpaint fills them")
    if not np.isfinite(mask).all():
        raise NodeInputError("input 'mask' has NaN or infinite values")
    if not outside.any():
        raise NodeInputError("the mask (grown by 'grow') covers the whole image: nothing to "
                             "sample from", hint="paint only the part to remove, or lower grow")


@node("inpaint", version=1, category="inpaint",
      inputs=[Input("input", "image", doc="the picture to repair"),
              Input("mask", "mask", doc="the hole: 1 where pixels are replaced")],
      outputs=[Output("output", "image", doc="the picture with the hole filled")],
      params=[Param("method", "choice", "auto", choices=METHODS,
                    doc="auto, telea (fast marching), smooth (biharmonic) or patch "
                        "(PatchMatch texture fill)"),
              Param("grow", "float", 4.0, min=0.0, max=256.0,
                    doc="pixels added around the mask before filling"),
              Param("blend", "float", 2.0, min=0.0, max=256.0,
                    doc="width in pixels of the soft transition at the grown hole's edge"),
              Param("radius", "int", 5, min=1, max=32,
                    doc="telea: neighbourhood radius in pixels"),
              Param("patch_radius", "int", PATCH_RADIUS, min=1, max=8,
                    doc="patch (and auto's wide parts): half-size of the compared patches, "
                        "3 = 7x7 px; larger follows bigger structures, slower")])
def inpaint(input, mask, *, method, grow, blend, radius, patch_radius=PATCH_RADIUS):
    """Fill a masked hole convincingly from the pixels around it.

    The mask marks the hole (any value > 0). It is grown by `grow` pixels first, so that the
    fill blends into clean surrounding content (paint masks a little larger than the
    defect), and the fill fades into the original over the outer `blend` pixels of the
    grown hole. Soft masks are honoured: a pixel at 0.5 gets half the fill. Outside the
    grown hole the output equals the input bit for bit, and an empty mask returns the input.

    Methods:
      telea   fast marching (Telea 2004): fastest; fine for scratches and thin wires.
      smooth  biharmonic fill (the smoothest continuation of the surroundings, as
              scikit-image's inpaint_biharmonic): best on scratches and small blobs.
      patch   PatchMatch exemplar fill, coarse to fine: copies texture and structure
              from the picture around the hole (a region twice the hole's size on
              each side), what "content-aware fill" does. Use it for large holes and
              outpainting (see the built-in `outpaint` template).
      auto    (default) per connected part of the hole: smooth where every hole pixel
              lies within 20 px of known pixels (scratches, blobs up to ~40 px
              across), patch for wider parts. It measured best on the inpaint
              benchmark (bench/bench_inpaint.py): highest PSNR inside the holes.

    Every method fills sRGB-encoded values (where patch distances and smooth gradients
    follow what the eye sees), converting only the pixels it reads, and converts the
    fill back to linear.

    NaN pixels inside the hole are ignored; NaN outside it are an error.
    """
    require_same_size(input=input, mask=mask)
    if not np.any(mask > 0):
        return input
    weights = hole_weights(mask, grow, blend)
    _check_input(input, mask, weights)
    hole = weights > 0
    near = pixels_read(method, hole, radius)
    box = _hole_box(near, 0)
    region_hole = hole[box]
    working = to_working_space(input[box], near[box])
    options = {"telea": {"radius": radius}, "smooth": {}}.get(
        method, {"patch_radius": patch_radius})
    filled = from_working_space(FILLERS[method](working, region_hole, **options)[region_hole])
    return mix_fill(input, filled, weights, box)


def pixels_read(method, hole, radius):
    """(H, W) bool: the pixels a method reads to fill `hole` (only those are converted).

    telea: within its radius. smooth: within its coarsest level's ring, which grows with
    the hole's thickness. patch: the context box (see context_box). auto: the smooth
    reach of the whole hole (its telea start) and the context box of the thick parts.
    """
    if method == "telea":
        return _within(hole, radius + 1)
    if method == "smooth":
        return _within(hole, smooth_reach(_hole_thickness(hole)))
    if method == "patch":
        return _box_mask(hole.shape, context_box(hole))
    near = _within(hole, max(smooth_reach(_hole_thickness(hole)), radius + 1))
    thick = split_by_thickness(hole)[1]
    if thick.any():
        near |= _box_mask(hole.shape, context_box(thick))
    return near


def smooth_reach(thickness):
    """Pixels the smooth fill reads around a hole `thickness` px deep (its coarsest level's
    telea start and CG ring, scaled back to full size)."""
    return 3 * thickness + 16


def _within(hole, distance):
    """Pixels at most `distance` px from the hole (the hole included)."""
    return cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3) <= distance


def _box_mask(shape, box):
    mask = np.zeros(shape, bool)
    mask[box] = True
    return mask


def context_box(hole):
    """The region a patch fill samples: the hole's bounding box grown by PATCH_CONTEXT
    times its longer side (at least PATCH_CONTEXT_MIN px)."""
    rows, columns = _hole_box(hole, 0)
    size = max(rows.stop - rows.start, columns.stop - columns.start)
    return _hole_box(hole, max(PATCH_CONTEXT_MIN, int(PATCH_CONTEXT * size)))


def to_working_space(image, near=None):
    """Premultiplied linear RGBA -> colour channels sRGB-encoded (alpha kept), where patch
    distances and smooth fills track what the eye sees. `near` (H, W bool) limits the
    conversion to the pixels a method reads; the others are left as zeros. NaN stays NaN.
    """
    if near is None:
        encoded = np.ascontiguousarray(image, np.float32).copy()
        inpaint_smooth.encode_pixels(encoded.reshape(-1, image.shape[-1]),
                                     encoded.reshape(-1, image.shape[-1]))
        return encoded
    pixels = np.ascontiguousarray(image[near], np.float32)
    inpaint_smooth.encode_pixels(pixels, pixels)
    full = np.zeros(image.shape, np.float32)
    full[near] = pixels
    return full


def from_working_space(pixels):
    """The inverse of to_working_space on (N, 4) pixels."""
    decoded = np.ascontiguousarray(pixels, np.float32)
    inpaint_smooth.decode_pixels(decoded, decoded)
    return decoded


def mix_fill(input, filled, weights, box):
    """A copy of input with the fill mixed in: input + (fill - input) * weight.

    filled : (N, 4) fill values of the hole pixels (weights > 0) inside `box`, in
    raster order. Weight-1 pixels take the fill as it is; NaN under the hole never leaks.
    """
    out = np.array(input, dtype=np.float32, copy=True)
    region = out[box]
    box_weights = weights[box]
    inside = box_weights > 0
    hole_weights_flat = box_weights[inside][:, None]
    original = np.nan_to_num(region[inside])
    mixed = original + (filled - original) * hole_weights_flat
    region[inside] = np.where(hole_weights_flat >= 1.0, filled, mixed)
    return out
