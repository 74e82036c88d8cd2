"""Node spec: track (a pattern tracker for 1..N points) and the track value it outputs.

Every frame is tracked from the reference frame itself (never chained frame to frame,
so errors do not accumulate): for each point, a pyramid of the region around it (gray =
sqrt of luma), an NCC search at the coarsest level (trying turned patterns when the
straight one matches poorly), then an inverse-compositional affine Lucas-Kanade fit with
gain and bias at every finer level (nodes/kernels/track.py). A point is lost when the
pattern tracked back from the found position misses its reference position by more than
`max_error` pixels (forward-backward check), when the fit correlates poorly, when it
leaves the frame, or, with a warning, when it starts outside the frame or on a flat area.

The output, port type `track`, is a (3 + points, 3) float32 array: rows 0-2 the 3x3
matrix from the reference frame's pixel coordinates to this frame's (1 point: a
translation; 2: plus rotation and uniform scale; 3: affine; 4 or more: perspective,
fitted to the points not lost), then one row (x, y, lost) per point.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.kernels import track as kernels

MAX_LEVELS = 4
COARSE_REACH = 12  # level pixels searched at the coarsest level
COARSE_RADIUS = 7.0  # smallest pattern radius (level pixels) at the coarse levels
MIN_CORRELATION = 0.6
FLAT_EIGENVALUE = 4e-6  # structure tensor per pixel, in sqrt-luma units
# A light blur (binomial, sigma 1 px) before matching: bilinear sampling of sharp 8-bit
# detail biases the fit by up to 0.1 px; blurred, the bias measured 0.03 px.
BLUR = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
MAX_SQUASH = 1.3  # largest ratio of a pattern's stretch along two axes
CANDIDATES = 3  # coarse NCC peaks refined to full resolution
CANDIDATE_MARGIN = 0.1  # ... those within this much of the best coarse score
CONVINCING = 0.8  # a coarse peak this good stops the search over turned patterns
TURNS = (0.0, 15.0, -15.0, 30.0, -30.0, 45.0, -45.0)


def _reads(params, frame):
    return {"input": [params["reference_frame"], frame]}


def _check(params, connected):
    pattern, search = params.get("pattern"), params.get("search")
    if pattern is not None and pattern % 2 == 0:
        return [("pattern", f"needs an odd size (the point in the middle), found {pattern}")]
    return []


@node("track", version=1, category="motion", takes_frame=True, reads_frames=_reads,
      check=_check,
      inputs=[Input("input", "image", doc="the plate to track")],
      outputs=[Output("output", "track", doc="the transform from the reference frame")],
      params=[Param("points", "points", None, min_items=1,
                    doc="[[x, y], ...] features to follow, in pixels on the reference frame"),
              Param("reference_frame", "int", 1, doc="the frame the points are placed on"),
              Param("pattern", "int", 31, min=7, max=255,
                    doc="side of the square pattern around each point, px (odd)"),
              Param("search", "float", 48.0, min=1.0, max=2000.0,
                    doc="how far a point may move from its reference position, px"),
              Param("max_error", "float", 1.0, min=0.01,
                    doc="forward-backward error (px) above which a point is lost")])
def track(input, *, points, reference_frame, pattern, search, max_error, frame):
    """Follow 1..N points from `reference_frame` with sub-pixel accuracy.

    Each frame is matched against the reference frame's patterns (no drift), with an
    affine fit per pattern, so slow rotation and scale are followed. A point whose
    forward-backward check fails is flagged lost and left out of the transform; a point
    outside the frame or on a flat area warns and is lost. Feed the output to a shape's
    or a `transform`'s `track` input.
    """
    reference, current = input
    if reference.shape != current.shape:
        raise NodeInputError(f"the plate changes size between frame {reference_frame} "
                             f"({reference.shape[1]}x{reference.shape[0]}) and frame {frame} "
                             f"({current.shape[1]}x{current.shape[0]})")
    found = np.array([track_point(reference, current, point, pattern // 2, search,
                                  max_error, index)
                      for index, point in enumerate(points)], np.float64)
    matrix = fit_transform(np.asarray(points, np.float64), found[:, :2], found[:, 2] > 0)
    return track_value(matrix, found)


def track_value(matrix: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The (3 + N, 3) array a `track` port carries."""
    return np.concatenate([matrix, found]).astype(np.float32)


def track_point(reference, current, point, radius, search, max_error, index) -> tuple:
    """(x, y, lost) of one reference point in the current frame."""
    height, width = reference.shape[:2]
    x, y = float(point[0]), float(point[1])
    if not (0 <= x <= width and 0 <= y <= height):
        warnings.warn(f"track: point {index} {[x, y]} lies outside the "
                      f"{width}x{height} frame; it is flagged lost", stacklevel=2)
        return (x, y, 1.0)
    levels = _levels(search, radius)
    scale = 2 ** levels
    margin = 2 * search + 1.5 * max(radius, COARSE_RADIUS * scale) + 2 * scale + 4
    x0 = int(math.floor((x - margin) / scale)) * scale
    y0 = int(math.floor((y - margin) / scale)) * scale
    size = (int(math.ceil(2 * margin / scale)) + 2) * scale
    ref_pyramid = _pyramid(reference, x0, y0, size, levels)
    cur_pyramid = _pyramid(current, x0, y0, size, levels)
    corner = (x0, y0)
    warp, stats = _match(ref_pyramid, cur_pyramid, corner, (x, y), radius, search, 0.0)
    if stats[1] < FLAT_EIGENVALUE:
        warnings.warn(f"track: point {index} {[x, y]} lies on a flat area (no texture to "
                      f"follow); it is flagged lost", stacklevel=2)
        return (warp[4], warp[5], 1.0)
    if not (np.isfinite(warp).all() and _plausible(warp)):
        return (x, y, 1.0)  # the fit ran away: no position to report
    turn = -math.atan2(warp[2], warp[0])
    back, _ = _match(cur_pyramid, ref_pyramid, corner, (warp[4], warp[5]), radius, search,
                     turn)
    error = math.hypot(back[4] - x, back[5] - y)
    inside = 0 <= warp[4] <= width and 0 <= warp[5] <= height
    lost = not error <= max_error or stats[0] < MIN_CORRELATION or not inside
    return (warp[4], warp[5], 1.0 if lost else 0.0)


def _plausible(warp) -> bool:
    """A pattern may turn and scale, not shear or squash: a fit that does has slid
    along an edge."""
    singular = np.linalg.svd(np.array([[warp[0], warp[1]], [warp[2], warp[3]]]),
                             compute_uv=False)
    return bool(singular[1] > 0.33 and singular[0] < 3.0
                and singular[0] / singular[1] < MAX_SQUASH)


def _levels(search: float, radius: int) -> int:
    """Pyramid levels above full resolution: enough for the search to span COARSE_REACH
    level pixels, but never so many that the pattern shrinks below COARSE_RADIUS (a
    smaller pattern matches smooth shading anywhere along an edge)."""
    levels = 0
    while search / 2 ** levels > COARSE_REACH and levels < MAX_LEVELS \
            and radius / 2 ** (levels + 1) >= COARSE_RADIUS:
        levels += 1
    return levels


def _pyramid(image, x0, y0, size, levels) -> list:
    gray = np.empty((size, size), np.float64)
    kernels.gray_region(image, x0, y0, gray)
    base = np.empty_like(gray)
    kernels.blur(gray, BLUR, np.empty_like(gray), base)
    pyramid = [base]
    for _ in range(levels):
        smaller = np.empty((pyramid[-1].shape[0] // 2, pyramid[-1].shape[1] // 2))
        kernels.downsample2(pyramid[-1], smaller)
        pyramid.append(smaller)
    return pyramid


def _match(ref_pyramid, cur_pyramid, corner, point, radius, search, turn):
    """(warp, stats) of the point's reference pattern found in the current pyramid: the
    coarse candidates refined down to the level above full resolution, the one that
    correlates best there refined at full resolution (every candidate when the pyramid
    has one level). The backward check calls it with the pyramids swapped, from the
    found position."""
    levels = len(ref_pyramid) - 1
    fits = [_refine(ref_pyramid, cur_pyramid, corner, point, radius, candidate, levels,
                    min(levels, 1))
            for candidate in _candidates(ref_pyramid[levels], cur_pyramid[levels], corner,
                                         point, radius, search, levels, turn)]
    if levels >= 1:
        best = max(fits, key=lambda fit: fit[2][0])
        fits = [_refine(ref_pyramid, cur_pyramid, corner, point, radius, None, 0, 0, best)]
    warp, _, stats = max(fits, key=lambda fit: fit[2][0])
    return warp, stats


def _candidates(reference, current, corner, point, radius, search, levels, first_turn):
    """Up to CANDIDATES coarse-level warps: NCC peaks of the straight pattern, and of
    turned ones while no peak is convincing."""
    scale = 2 ** levels
    origin_x, origin_y = corner[0] / scale, corner[1] / scale
    cx, cy = point[0] / scale, point[1] / scale
    coarse_radius = max(radius / scale, COARSE_RADIUS)
    reach = int(math.ceil(search / scale)) + 1
    found = []
    for turn in (first_turn,) + tuple(math.radians(t) + first_turn for t in TURNS[1:]):
        template = np.empty((2 * int(coarse_radius) + 1,) * 2)
        kernels.pattern(reference, origin_x, origin_y, cx, cy, coarse_radius, turn, template)
        peaks = np.empty((CANDIDATES, 3))
        kernels.ncc_search(template, coarse_radius, current, origin_x, origin_y, cx, cy,
                           reach, peaks)
        found += [(score, x, y, turn) for x, y, score in peaks if score > -1.0]
        if found and max(score for score, *_ in found) > CONVINCING:
            break
    if not found:  # nothing to correlate with (a flat or degenerate search area)
        return [(cx, cy, first_turn)]
    found.sort(reverse=True)
    return [(x, y, turn) for score, x, y, turn in found[:CANDIDATES]
            if score > found[0][0] - CANDIDATE_MARGIN]


def _refine(ref_pyramid, cur_pyramid, corner, point, radius, candidate, top, bottom,
            state=None):
    """Fit levels `top` down to `bottom` from a coarse candidate (x, y, turn), or from a
    fit `state` (warp, photometric, stats) of the level above: translation at the coarse
    levels, then translation and affine at full resolution."""
    if state is None:
        x, y, turn = candidate
        cosine, sine = math.cos(turn), math.sin(turn)
        warp = np.array([cosine, -sine, sine, cosine, x, y])
        photometric, stats = np.zeros(2), np.zeros(3)
    else:
        warp, photometric, stats = (item.copy() for item in state)
        warp[4:] *= 2.0
    for level in range(top, bottom - 1, -1):
        if level < top:
            warp[4:] *= 2.0
        factor = 2 ** level
        level_radius = radius if level == 0 else max(radius / factor, COARSE_RADIUS)
        for shift_only in ((True, False) if level == 0 else (True,)):
            kernels.fit_affine(ref_pyramid[level], cur_pyramid[level], corner[0] / factor,
                               corner[1] / factor, point[0] / factor, point[1] / factor,
                               level_radius, warp, photometric, 30 if level == 0 else 10,
                               1e-4, shift_only, stats)
            if not np.isfinite(warp).all() or abs(warp[:4]).max() > 10:
                stats[0] = -1.0  # ran away: the worst correlation, never chosen
                return warp, photometric, stats
    return warp, photometric, stats


# ---------------------------------------------------------------- transforms from points

def fit_transform(reference: np.ndarray, found: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """The 3x3 matrix from reference to found points, fitted to the points not lost
    (all of them when every point is lost): translation, similarity, affine, homography
    for 1, 2, 3, 4+ points."""
    keep = ~lost if (~lost).any() else np.ones_like(lost)
    source, target = reference[keep], found[keep]
    count = len(source)
    if count == 1:
        matrix = np.eye(3)
        matrix[:2, 2] = target[0] - source[0]
        return matrix
    if count == 2:
        return similarity(source, target)
    if count == 3:
        return affine(source, target)
    return homography(source, target)


def similarity(source, target) -> np.ndarray:
    """Rotation, uniform scale and translation taking two points onto two."""
    a = complex(*(source[1] - source[0]))
    b = complex(*(target[1] - target[0]))
    ratio = b / a if a != 0 else 1.0
    matrix = np.array([[ratio.real, -ratio.imag, 0.0], [ratio.imag, ratio.real, 0.0],
                       [0.0, 0.0, 1.0]])
    matrix[:2, 2] = target[0] - matrix[:2, :2] @ source[0]
    return matrix


def affine(source, target) -> np.ndarray:
    rows = np.hstack([source, np.ones((len(source), 1))])
    solution, *_ = np.linalg.lstsq(rows, target, rcond=None)
    return np.vstack([solution.T, [0.0, 0.0, 1.0]])


def homography(source, target) -> np.ndarray:
    """Least-squares homography by the normalised direct linear transform."""
    source_norm, source_t = _normaliser(source)
    target_norm, target_t = _normaliser(target)
    rows = []
    for (x, y), (u, v) in zip(source_norm, target_norm):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    matrix = np.linalg.inv(target_t) @ vt[-1].reshape(3, 3) @ source_t
    return matrix / matrix[2, 2]


def _normaliser(points):
    centre = points.mean(axis=0)
    spread = np.sqrt(((points - centre) ** 2).sum(axis=1)).mean() or 1.0
    factor = math.sqrt(2) / spread
    transform = np.array([[factor, 0, -factor * centre[0]], [0, factor, -factor * centre[1]],
                          [0, 0, 1.0]])
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ transform.T
    return homogeneous[:, :2], transform


def matrix_of(track_array: np.ndarray) -> np.ndarray:
    """The 3x3 float64 matrix of a track value."""
    return np.asarray(track_array[:3], np.float64)
