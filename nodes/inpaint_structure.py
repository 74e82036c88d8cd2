"""Structure first: the edges that run into a hole, continued through it as curves.

Before the patch fill copies texture, the picture's strong edges that reach the hole are
found (Canny on the known pixels), each entry is given a direction (the principal axis of
its edge pixels near the hole) and the colours on its two sides, and entries that face
each other with matching sides are joined by a smooth curve through the hole: a cubic
Bezier tangent to both edges, with the control length of a circular arc of the same
turning angle (so a circle's rim comes back as a circle, a straight edge as a line).
This is the structure-propagation idea of Sun et al. 2005 with automatic curves.

The result is a mask of structure lines (the joined edges outside the hole and their
continuations inside); the patch fill matches a guide channel made from it (the distance
to the nearest structure line, known inside the hole too), so the copied patches put an
edge where the curve runs and none elsewhere. An edge that finds no partner (the edge of
the object being removed, cut by the mask) is not continued: the fill does not extend an
object the mask cuts into the hole. Many edges reaching the hole (stripes, grass) are
texture, which the patch fill continues by itself: then there are no structure lines.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

CANNY_LOW, CANNY_HIGH = 25, 50   # on the 8-bit grey picture, blurred by CANNY_SIGMA
CANNY_SIGMA = 1.2
RIM = 3                 # px: edge pixels this close to the hole are entries
MIN_EDGE = 16           # px: shorter edge chains are texture, not structure
DIRECTION_REACH = 10    # px: edge pixels this close to an entry give its direction
SIDE_OFFSET = 3.0       # px: the colours either side of an entry are sampled this far off
SIDE_TOLERANCE = 0.12   # largest colour difference (sRGB, per channel mean) between sides
FACING = 0.2            # cos of the largest angle between an entry's direction and its partner
MAX_ENTRIES = 12        # more edges than this reaching a hole are texture (the patch fill's job)
MIN_CHORD = 10          # px: entries closer than this are one edge's wiggle, not a crossing
INSIDE = 0.5            # at least this share of a joining curve must run through the hole


def structure_lines(rgb, hole):
    """(H, W) bool structure mask of `rgb` (H, W, C) float32 sRGB-encoded with `hole`
    (H, W) bool, or None when no edge pair crosses the hole."""
    labels = _edges(rgb, hole)
    entries = _entries(rgb, hole, labels)
    if entries is None:
        return None
    lines = np.zeros(hole.shape, np.uint8)
    joined = set()
    for first, second in _pairs(entries):
        points = np.round(_bezier(entries[first], entries[second])).astype(np.int32)
        inside = hole[np.clip(points[:, 1], 0, hole.shape[0] - 1),
                      np.clip(points[:, 0], 0, hole.shape[1] - 1)]
        if inside.mean() < INSIDE:
            continue
        joined.update((entries[first]["chain"], entries[second]["chain"]))
        cv2.polylines(lines, [points], False, 1, 1)
    if not joined:
        return None
    return (lines > 0) | np.isin(labels, sorted(joined))


def _edges(rgb, hole):
    """(H, W) int32 labels of the Canny edge chains of the known pixels at least
    MIN_EDGE px long (0: no edge)."""
    grey = np.ascontiguousarray(np.clip(rgb[..., :3].mean(axis=2), 0, 1))
    grey = cv2.GaussianBlur(grey, (0, 0), CANNY_SIGMA)
    edges = cv2.Canny((grey * 255).astype(np.uint8), CANNY_LOW, CANNY_HIGH, L2gradient=True)
    near_hole = cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    edges[near_hole] = 0  # the hole's own border is not an edge of the picture
    count, labels, stats, _ = cv2.connectedComponentsWithStats((edges > 0).astype(np.uint8),
                                                               connectivity=8)
    short = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < MIN_EDGE)
    keep = np.arange(count)
    keep[short] = 0
    keep[0] = 0
    return keep[labels]


def _entries(rgb, hole, labels):
    """Edge entries: each place where a long chain comes within RIM px of the (2 px
    grown) hole, with its point, inward direction and side colours; None when there
    are more than MAX_ENTRIES (texture)."""
    distance, nearest = cv2.distanceTransformWithLabels(
        (~hole).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    touching = (labels > 0) & (distance <= 2 + RIM + 1)
    groups, group_labels = cv2.connectedComponents(touching.astype(np.uint8), connectivity=8)
    if groups - 1 > MAX_ENTRIES:
        return None
    hole_points = np.argwhere(hole)  # label k is the k-th zero pixel in raster order
    entries = []
    for group in range(1, groups):
        points = np.argwhere(group_labels == group)
        best = points[np.argmin(distance[points[:, 0], points[:, 1]])]
        inward = hole_points[nearest[best[0], best[1]] - 1] - best
        entry = _entry(rgb, best, inward, labels)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(rgb, point, inward, labels):
    """One entry's description, or None when its edge has no clear direction."""
    chain = labels[point[0], point[1]]
    top, left = max(point[0] - DIRECTION_REACH, 0), max(point[1] - DIRECTION_REACH, 0)
    window = labels[top:point[0] + DIRECTION_REACH + 1, left:point[1] + DIRECTION_REACH + 1]
    near = np.argwhere(window == chain) + (top, left)
    near = near[np.hypot(*(near - point).T) <= DIRECTION_REACH].astype(np.float64)
    if len(near) < 4:
        return None
    centred = near - near.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    direction = axes[0]  # (dy, dx)
    if np.dot(direction, inward) < 0:
        direction = -direction
    normal = np.array([-direction[1], direction[0]])  # to the left of the direction
    point = point.astype(np.float64)
    left = _sample(rgb, point + SIDE_OFFSET * normal)
    right = _sample(rgb, point - SIDE_OFFSET * normal)
    return {"point": point, "direction": direction, "left": left, "right": right,
            "chain": int(chain)}


def _sample(rgb, point):
    y = int(np.clip(round(point[0]), 0, rgb.shape[0] - 1))
    x = int(np.clip(round(point[1]), 0, rgb.shape[1] - 1))
    return rgb[y, x, :3].astype(np.float64)


def _pairs(entries):
    """Greedy pairing of entries that face each other with matching sides (walking in
    from one entry, its left side is the other's right side)."""
    candidates = []
    for first in range(len(entries)):
        for second in range(first + 1, len(entries)):
            a, b = entries[first], entries[second]
            chord = b["point"] - a["point"]
            length = np.hypot(*chord)
            if length < MIN_CHORD:
                continue
            facing = min(np.dot(a["direction"], chord), np.dot(b["direction"], -chord)) / length
            sides = max(np.abs(a["left"] - b["right"]).mean(), np.abs(a["right"] - b["left"]).mean())
            if facing > FACING and sides < SIDE_TOLERANCE:
                candidates.append((sides + 0.1 * (1 - facing), first, second))
    pairs, used = [], set()
    for _, first, second in sorted(candidates):
        if first not in used and second not in used:
            pairs.append((first, second))
            used.update((first, second))
    return pairs


def _bezier(a, b, samples=None):
    """(N, 2) x, y points of the cubic Bezier from entry a to entry b, tangent to both
    directions, with the control length of the circular arc of the same turning angle."""
    start, end = a["point"], b["point"]
    chord = np.hypot(*(end - start))
    turn = math.acos(float(np.clip(np.dot(a["direction"], -b["direction"]), -1, 1)))
    half = max(math.sin(turn / 2), 1e-6)
    control = chord / 3 if turn < 1e-3 else 4 / 3 * math.tan(turn / 4) * chord / (2 * half)
    control = min(control, chord)
    points = [start, start + control * a["direction"], end + control * b["direction"], end]
    count = samples or max(8, int(2 * chord))
    t = np.linspace(0, 1, count)[:, None]
    curve = ((1 - t) ** 3 * points[0] + 3 * (1 - t) ** 2 * t * points[1]
             + 3 * (1 - t) * t ** 2 * points[2] + t ** 3 * points[3])
    return curve[:, ::-1]


def side_colours(rgb, hole, lines, blur=2.0):
    """(H, W, 3) float32: the colour each hole pixel should have on its side of the
    structure lines. The hole minus the lines falls into regions; each region takes a
    smooth interpolation of the known pixels along its own border only (a normalised
    Gaussian average, sigma half the hole's thickness), so colours never cross a line.
    Known pixels keep their own colour, blurred by `blur` px, so sources compare like
    targets.
    """
    colours = np.ascontiguousarray(rgb[..., :3], np.float32)
    out = cv2.GaussianBlur(colours, (0, 0), blur)
    barrier = cv2.dilate(lines.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    count, regions = cv2.connectedComponents((hole & ~barrier).astype(np.uint8), connectivity=4)
    thickness = float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max())
    sigma = max(3.0, thickness / 2)
    ring_kernel = np.ones((5, 5), np.uint8)
    for region in range(1, count):
        inside = regions == region
        border = ((cv2.dilate(inside.astype(np.uint8), ring_kernel) > 0) & ~hole
                  & ~barrier).astype(np.float32)
        if border.any():
            weights = cv2.GaussianBlur(border, (0, 0), sigma)[..., None]
            sums = cv2.GaussianBlur(colours * border[..., None], (0, 0), sigma)
            out[inside] = (sums / np.maximum(weights, 1e-12))[inside]
    on_line = hole & barrier  # the line itself: the mean of the sides around it
    if on_line.any():
        weight = (~on_line).astype(np.float32)
        sums = cv2.blur(out * weight[..., None], (7, 7))
        counts = cv2.blur(weight, (7, 7))[..., None]
        out[on_line] = (sums / np.maximum(counts, 1e-6))[on_line]
    return out


def guide_channel(lines, reach):
    """(H, W) float32 in [0, 1]: the distance to the nearest structure line over `reach`
    px, capped at 1."""
    distance = cv2.distanceTransform((~lines).astype(np.uint8), cv2.DIST_L2, 3)
    return np.minimum(distance / reach, 1.0).astype(np.float32)
