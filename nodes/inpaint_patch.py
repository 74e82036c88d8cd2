"""The patch fill: PatchMatch exemplar-based inpainting, coarse to fine.

Wexler et al. 2007 (expectation-maximisation over a nearest-neighbour field), searched
with PatchMatch (Barnes et al. 2009), with the refinements of Newson et al. 2014: an
onion-peel start at the coarsest level, texture features in the patch distance, votes
weighed against a percentile of the match costs. Kernels in nodes.kernels.patchmatch.
"""
from __future__ import annotations

import cv2
import numpy as np

from nodes.inpaint_fill import hole_box, resize, smooth_fill, telea_fill, value_range
from nodes.inpaint_layers import layer_colours
from nodes.inpaint_seam import smooth_seam
from nodes.inpaint_structure import guide_channel, side_colours, structure_lines
from nodes.kernels import patchmatch

PATCH_RADIUS = 3
SEED = 1234
CONFIDENCE_FALLOFF = 3.0  # patch votes weigh falloff ** -depth into the hole (Wexler)
CONFIDENCE_DEPTH = 3.0    # px: deeper pixels all weigh the same (see _confidence)
COARSE_THICKNESS = 3.0    # stop halving once the hole is this many pixels from its edge
COARSE_SIZE = 56          # nor halve a level smaller than this
COARSE_EM, FINE_EM, FINEST_EM, PASSES = 6, 3, 2, 2
PATCH_CONTEXT, PATCH_CONTEXT_MIN = 2.0, 96  # source region around the hole (context_box)
TEXTURE_WEIGHT, TEXTURE_WINDOW = 3.0, 5     # texture channels (see _texture)
VOTE_PERCENTILE = 75      # votes weigh exp(-cost / 2 c), c: this percentile of the costs
RIM_SIGMA, RIM_CLIP = 3.0, 0.1  # px, value: the seam correction's blur and limit (_match_rim)
RIM_TOLERANCE = 0.1       # the seam correction's CG tolerance (it is smooth and small)
ONION_PRIOR = 0.05        # weight of the telea guess of unfilled pixels (_onion_peel)
SHARP_DEPTH = 2           # patch radii: deeper hole pixels copy their best patch (_em_level)
FINE_SEARCH = 32          # px: first random-search window below the coarsest level
GUIDE_WEIGHT = 0.5        # weight of the structure guide channel (_with_guide)
SPATIAL_WEIGHT = 0.05     # squared error per sample a source a picture away costs (_spatial)
SIDE_WEIGHT = 1.0         # weight of the side colours of the structure lines (guides)
LAYER_WEIGHT = 1.0        # weight of the surface colours (nodes.inpaint_layers; guides)


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
        images.append(resize(images[-1], size[::-1], cv2.INTER_AREA))
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
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)  # a 3 px cap
    depth = np.minimum(depth, CONFIDENCE_DEPTH)
    return np.power(np.float32(falloff or CONFIDENCE_FALLOFF), -depth).astype(np.float32)


def _em_level(work, hole, sets, nnf, radius, iterations, passes, seed, search, guides,
              spatial, sharp=False):
    """Expectation-maximisation at one level: improve the NNF, then vote, `iterations` times.

    sets: the level's (targets, valid, valid_list) from _level_sets. sharp (the finest
    level): at the end, hole pixels deeper than SHARP_DEPTH patch radii take the value of
    the heaviest patch covering them rather than the mean (the final reconstruction of
    Newson et al. 2014): the mean of many slightly different texture patches is a blur
    that shows deep in a wide hole; nearer the rim the mean stays (it follows the rim).
    """
    targets, valid, valid_list = sets
    hole_pixels = np.flatnonzero(hole).astype(np.int64)
    confidence = _confidence(hole)
    cost = np.zeros(hole.shape, np.float32)
    weight = np.zeros(hole.shape, np.float32)
    for iteration in range(iterations):
        patchmatch.improve_nnf(work, confidence, valid, valid_list, targets, nnf, cost, radius,
                               passes, seed + iteration, search, guides, spatial)
        typical = float(np.percentile(cost.reshape(-1)[targets], VOTE_PERCENTILE))
        patchmatch.vote_weights(confidence, cost, targets, max(2.0 * typical, 1e-8), weight)
        patchmatch.vote(work, hole_pixels, nnf, weight, radius, False, work, guides)
    if sharp:
        depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
        deep = np.flatnonzero(depth > SHARP_DEPTH * radius).astype(np.int64)
        patchmatch.vote(work, deep, nnf, weight, radius, True, work, guides)


def patch_fill(image, hole, patch_radius=None, estimate=False):
    """Fill `hole` of `image` (H, W, C) float32 with PatchMatch, coarse to fine; a copy.

    estimate: the fill is an estimate to be mixed with another (auto): every pixel keeps
    the mean of its patches (no sharp vote, see _em_level), and the finest level runs
    one EM iteration (its second changes the mix by ~0.03 dB and costs a third of the
    time).

    Channels that are constant over the known pixels (an opaque alpha) are filled with
    that constant and left out of the matching. A hole that covers most of a side of the
    picture (outpainting) has the seam along its rim smoothed in the gradient domain
    (nodes.inpaint_seam); holes inside the picture keep their texture up to the rim. Falls back to telea when no whole patch
    of known pixels exists.
    """
    radius = patch_radius or PATCH_RADIUS
    box = context_box(hole)
    out = np.array(image, dtype=np.float32, copy=True)
    outpaint = max(hole[0].mean(), hole[-1].mean(), hole[:, 0].mean(), hole[:, -1].mean()) > 0.5
    out[box] = _patch_fill_box(image[box], hole[box], radius, outpaint, estimate)
    return out


def _patch_fill_box(image, hole, radius, outpaint=False, estimate=False):
    """patch_fill on the context box."""
    if not _level_sets(hole, radius)[2].size:
        return telea_fill(image, hole)
    work = np.ascontiguousarray(image, np.float32).copy()
    work[hole] = 0.0
    low, high = value_range(work, hole)
    work[hole] = low
    varying = np.flatnonzero(low < high)
    if varying.size:
        colours = np.ascontiguousarray(work[..., varying])
        guides, lines = _guides(colours, hole)
        parts = [colours, TEXTURE_WEIGHT * _texture(colours, hole)] + guides
        filled, padded_hole, nnf = _patch_pyramid(np.ascontiguousarray(np.concatenate(
            parts, axis=2)), hole, radius, varying.size, sum(g.shape[2] for g in guides), lines,
            estimate)
        _match_rim(filled, padded_hole, nnf, radius, varying.size)
        if outpaint:  # the new canvas must not end in a seam (see nodes.inpaint_seam)
            smooth_seam(filled, padded_hole, radius, varying.size)
        work[..., varying] = filled[radius:-radius, radius:-radius, :varying.size]
    return work


def _guides(colours, hole):
    """The guide channels (known inside the hole too) for `colours` (H, W, C): the
    surface colours (3, nodes.inpaint_layers), then the structure lines' side colours
    (3) and line mask (1, nodes.inpaint_structure), each where found; none for fewer
    than three channels. Returns the list of (H, W, n) arrays and whether the line
    mask (the last channel) is among them."""
    if colours.shape[2] < 3:
        return [], False
    parts = []
    layers = layer_colours(colours, hole)
    if layers is not None:
        parts.append(LAYER_WEIGHT * layers)
    lines = structure_lines(colours, hole)
    if lines is not None:
        parts += [SIDE_WEIGHT * side_colours(colours, hole, lines),
                  lines[..., None].astype(np.float32)]
    return parts, lines is not None


def _texture(image, hole, window=TEXTURE_WINDOW):
    """(H, W, 2) float32 texture channels: the mean absolute horizontal and vertical
    gradient of the channels' mean over a `window`-px box (Newson et al. 2014), from
    the gradients that read no hole pixel (0 where the box holds none: the vote
    re-estimates the hole's values).

    Matched and voted with the colours (weighed TEXTURE_WEIGHT), they keep textured
    areas and flat ones apart at the coarse levels, where both average to the same
    colour: without them a grass hole is filled with sky of the same mean grey.
    """
    grey = image.mean(axis=2)
    gradients = np.abs(np.stack([np.gradient(grey, axis=1), np.gradient(grey, axis=0)],
                                axis=2)).astype(np.float32)
    clean = (_box_dilate(hole.astype(np.uint8), 1) == 0).astype(np.float32)
    sums = cv2.blur(gradients * clean[..., None], (window, window))
    counts = cv2.blur(clean, (window, window))
    return sums / np.maximum(counts, 1e-6)[..., None]


def _patch_pyramid(base, hole, radius, colours, guides=0, lines=False, estimate=False):
    """The coarse-to-fine PatchMatch fill of `base` (H, W, C) float32 (hole pixels zero).

    Every level is padded by `radius` mirrored pixels, so that the patches of pixels at
    the picture's edge can be copied too (a horizon along the bottom edge continues into
    an outpainted strip). The coarsest level starts from the onion-peel fill and a
    random field. Each finer level starts from the coarser field scaled up, and fills
    its hole by voting that field over its own (sharp) pixels, not by scaling the
    coarser fill up: matches to a blurred estimate would prefer flat sources and wash
    texture out. The texture channels (after the first `colours`) guide every level but
    the finest. With `guides` (1), the last channel of `base` is a structure line mask
    (nodes.inpaint_structure), turned at every level into the guide channel that every
    level matches, in the hole too. estimate: see patch_fill. Returns the padded fill, the
    padded hole and the finest field.
    """
    images, holes = _pyramid(base, hole, radius)
    if lines:
        images = [_with_guide(image, radius) for image in images]
    if len(images) > 1:  # the finest level matches colours only (texture did its job)
        keep = list(range(colours)) + list(range(images[0].shape[2] - guides,
                                                 images[0].shape[2]))
        images[0] = np.ascontiguousarray(images[0][..., keep])
    work, nnf = None, None
    for level in range(len(images) - 1, -1, -1):
        level_hole, image = _mirror_pad(holes[level], radius), _mirror_pad(images[level], radius)
        targets, valid, valid_list = _level_sets(level_hole, radius)
        fine_nnf = np.full(level_hole.shape + (2,), -1, np.int32)
        if nnf is None:
            work = _onion_peel(image, level_hole, valid, valid_list, radius, guides)
            patchmatch.random_nnf(valid_list, targets, level_hole.shape[1], fine_nnf, SEED)
        else:
            work = image
            patchmatch.upsample_nnf(nnf, valid, valid_list, targets, radius, fine_nnf,
                                    SEED + level)
            patchmatch.vote(work, np.flatnonzero(level_hole).astype(np.int64), fine_nnf,
                            _confidence(level_hole), radius, False, work, guides)
        nnf = fine_nnf
        coarse = level == len(images) - 1
        search = max(level_hole.shape) if coarse else min(FINE_SEARCH, max(level_hole.shape))
        iterations = COARSE_EM if coarse else (1 if estimate else FINEST_EM) if level == 0 \
            else FINE_EM
        _em_level(work, level_hole, (targets, valid, valid_list), nnf, radius, iterations,
                  PASSES, SEED + 100 * level, search, guides,
                  _spatial(level_hole, radius, work.shape[2]) if coarse else 0.0,
                  level == 0 and not estimate)
    return work, level_hole, nnf


def _spatial(hole, radius, channels):
    """The cost per squared pixel of distance between a target and its source at the
    coarsest level: SPATIAL_WEIGHT per compared sample at a distance of the level's
    longer side. Only the coarsest level, where the layout of the fill is chosen, pays
    it: there it keeps a distant distinctive object (a face, a tower) from being copied
    into the hole when nearer content matches nearly as well; the finer levels refine
    that layout freely (a periodic texture keeps its exact period)."""
    side = max(hole.shape)
    return SPATIAL_WEIGHT * (2 * radius + 1) ** 2 * channels / float(side * side)


def _with_guide(image, radius):
    """`image` whose last channel (a structure line mask, resized) is replaced by the guide:
    GUIDE_WEIGHT times the distance to the lines over two patch widths, capped."""
    out = np.array(image, dtype=np.float32, copy=True)
    out[..., -1] = GUIDE_WEIGHT * guide_channel(image[..., -1] > 1e-3, 2 * (2 * radius + 1))
    return out


def _onion_peel(image, hole, valid, valid_list, radius, guides=0):
    """The coarsest level's first fill: the hole is filled from its rim inward, one layer
    of pixels at a time, each pixel copying the centre of the source patch that best
    matches the pixels already known or filled around it (the onion-peel start of
    Newson et al. 2014). Structure that meets the rim (a horizon, an edge) continues into
    the hole, where a smooth start would let flat sources win. Pixels not filled yet
    hold the telea fill and count with weight ONION_PRIOR: without it, a source whose
    patch holds something bright where the target is still unknown (the top of a tower
    in the sky) would cost nothing there, be copied, and grow layer by layer into an
    object floating in the fill. Returns a new image."""
    work = telea_fill(image, hole)
    if guides:  # the guide is known in the hole
        work[..., -guides:] = image[..., -guides:]
    height, width = hole.shape
    layers = np.ceil(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)).astype(int)
    known = np.where(hole, np.float32(ONION_PRIOR), np.float32(1.0))
    nnf = np.full(hole.shape + (2,), -1, np.int32)
    cost = np.zeros(hole.shape, np.float32)
    for layer in range(1, int(layers.max()) + 1):
        pixels = np.flatnonzero(layers == layer).astype(np.int64)
        if not pixels.size:
            continue
        patchmatch.random_nnf(valid_list, pixels, width, nnf, SEED + layer)
        patchmatch.improve_nnf(work, known, valid, valid_list, pixels, nnf, cost, radius,
                               PASSES, SEED + layer, max(height, width), guides,
                               _spatial(hole, radius, work.shape[2]))
        rows, columns = pixels // width, pixels % width
        estimated = work.shape[2] - guides  # the guide stays as it is
        work[rows, columns, :estimated] = work[nnf[rows, columns, 0], nnf[rows, columns, 1],
                                               :estimated]
        known[rows, columns] = 1.0
    return work


def _mirror_pad(array, pad):
    """`array` (H, W, ...) with `pad` mirrored pixels added on every side (edge not
    repeated); a new contiguous array."""
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (array.ndim - 2)
    return np.ascontiguousarray(np.pad(array, widths, mode="reflect"))


def _match_rim(filled, hole, nnf, radius, channels):
    """Remove the seam between a patch fill and the pixels around it, in place.

    Patches copied from elsewhere can be a little lighter or darker than the pixels
    around the hole (a vignette, a gradient of the sky). The patches' own guess of the
    known pixels next to the hole (their vote there) against what those pixels are gives
    the mismatch along the rim; its smooth (biharmonic) interpolation across the hole,
    added to the fill, makes the fill meet its surroundings without changing its texture
    (the boundary condition of seamless cloning, Pérez et al. 2003). The mismatch is
    limited to RIM_CLIP, so that something else meeting the rim (a lamp, an edge) is
    not carried inward as a glow, and blurred along the rim, so that only its slow part
    is. `hole` and the arrays are the padded ones of _patch_pyramid.
    """
    rim = (_box_dilate(hole.astype(np.uint8), 2) > 0) & ~hole
    guess = filled.copy()
    patchmatch.vote(filled, np.flatnonzero(rim).astype(np.int64), nnf, _confidence(hole),
                    radius, False, guess, 0)
    mismatch = np.clip((filled - guess)[rim][:, :channels], -RIM_CLIP, RIM_CLIP)
    mismatch = cv2.GaussianBlur(_extend_from(rim, mismatch, hole.shape), (0, 0), RIM_SIGMA)
    box = hole_box(hole, 4)  # the biharmonic solve reads a 2 px ring
    box_hole = hole[box]
    correction = smooth_fill(mismatch.reshape(hole.shape + (channels,))[box], box_hole,
                             tolerance=RIM_TOLERANCE)
    region = filled[box]
    region[box_hole, :channels] += correction[box_hole]


def _extend_from(region, values, shape):
    """An (H, W, C) array holding `values` (N, C: the pixels of `region` in raster order)
    on `region` and, everywhere else, the value of the nearest `region` pixel."""
    _, labels = cv2.distanceTransformWithLabels((~region).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    return np.ascontiguousarray(values[labels - 1], np.float32).reshape(shape + values.shape[1:])


def context_box(hole):
    """The region a patch fill samples: the hole's bounding box grown by PATCH_CONTEXT
    times its longer side (at least PATCH_CONTEXT_MIN px)."""
    rows, columns = hole_box(hole, 0)
    size = max(rows.stop - rows.start, columns.stop - columns.start)
    return hole_box(hole, max(PATCH_CONTEXT_MIN, int(PATCH_CONTEXT * size)))
