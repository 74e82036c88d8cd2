"""Node specs: hand-drawn masks for roto (rectangle, ellipse, polygon, spline).

Every shape is rasterised with exact pixel coverage (nodes/kernels/raster.py): the sum
of the mask equals the shape's area on the canvas. Ellipses and splines are flattened
into polygons fine enough that no edge moves by more than FLATNESS pixels (the ellipse's
polygon is scaled to keep the exact area). `feather` blurs the hard coverage with a
Gaussian of sigma = feather / 4.65, computed on a canvas padded by the blur's reach so
that shapes leaving the frame feather correctly.
"""
from __future__ import annotations

import math

import numpy as np

from graph.spec import Input, Output, Param, node
from nodes.common import canvas_check, canvas_size
from nodes.kernels import raster

FLATNESS = 1e-3
FEATHER_SIGMAS = 4.65
MAX_SEGMENTS = 16384


def canvas_params():
    """The params every shape shares: canvas size, feather, invert."""
    return [Param("width", "int", None, min=1, optional=True,
                  doc="canvas width in pixels (unless 'like' is connected)"),
            Param("height", "int", None, min=1, optional=True,
                  doc="canvas height in pixels (unless 'like' is connected)"),
            Param("feather", "float", 0.0, min=0.0,
                  doc="full width in pixels of the soft edge, centred on the outline"),
            Param("invert", "bool", False, doc="1 outside the shape instead")]


LIKE_INPUT = Input("like", "image|mask", optional=True, doc="copy this input's size")
TRACK_INPUT = Input("track", "track", optional=True,
                    doc="move the shape with a `track` (drawn on its reference frame)")
MASK_OUTPUT = Output("output", "mask", doc="the shape's coverage")


def with_checks(*checks):
    """A spec check running canvas_check and the given shape checks."""
    def check(params, connected):
        problems = canvas_check(params, connected)
        for shape_check in checks:
            problems += shape_check(params)
        return problems
    return check


def feather_padding(feather: float) -> tuple[np.ndarray | None, int]:
    """Gaussian taps for a feather width (None when hard) and the canvas padding."""
    if feather <= 0:
        return None, 0
    weights = raster.gaussian_weights(feather / FEATHER_SIGMAS)
    return weights, weights.shape[0] // 2


def finish(coverage: np.ndarray, weights, invert: bool) -> np.ndarray:
    """Blur a padded coverage to the canvas size when feathering, then invert."""
    if weights is not None:
        taps = weights.shape[0]
        columns = np.empty((coverage.shape[0] - taps + 1, coverage.shape[1]), np.float32)
        raster.blur_columns_valid(coverage, weights, columns)
        coverage = np.empty((columns.shape[0], columns.shape[1] - taps + 1), np.float32)
        raster.blur_rows_valid(columns, weights, coverage)
    if invert:
        np.subtract(np.float32(1.0), coverage, out=coverage)
    return coverage


def moved(points: np.ndarray, track) -> np.ndarray:
    """(N, 2) points carried by a track's matrix (reference frame -> this frame)."""
    if track is None:
        return points
    matrix = np.asarray(track[:3], np.float64)
    mapped = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    return mapped[:, :2] / mapped[:, 2:]


def polygon_mask(points: np.ndarray, like, width, height, feather, invert,
                 track=None) -> np.ndarray:
    """Rasterise a closed polygon ((N, 2) float64 points, moved by `track` when given)
    onto the canvas."""
    points = moved(np.asarray(points, np.float64), track)
    canvas_height, canvas_width = canvas_size(like, width, height)
    weights, pad = feather_padding(feather)
    acc = np.zeros((canvas_height + 2 * pad, canvas_width + 2 * pad), np.float32)
    xs = np.ascontiguousarray(points[:, 0] + pad, np.float64)
    ys = np.ascontiguousarray(points[:, 1] + pad, np.float64)
    raster.accumulate_polygon(xs, ys, acc)
    raster.coverage_from_accumulation(acc)
    return finish(acc, weights, invert)


@node("rectangle", version=1, category="shapes",
      check=with_checks(lambda p: [("box", "needs x1 > x0 and y1 > y0")]
                        if p.get("box") and (p["box"][2] <= p["box"][0]
                                             or p["box"][3] <= p["box"][1]) else []),
      inputs=[LIKE_INPUT, TRACK_INPUT], outputs=[MASK_OUTPUT],
      params=[Param("box", "box", None, doc="[x0, y0, x1, y1] in pixels (fractions allowed)"),
              *canvas_params()])
def rectangle(like=None, track=None, *, box, width=None, height=None, feather=0.0,
              invert=False):
    """An axis-aligned rectangle mask with exact anti-aliased edges.

    `box` is [x0, y0, x1, y1] in continuous pixel coordinates (origin at the top-left
    corner, y down; pixel (x, y) covers [x, x+1] x [y, y+1]); fractional edges give
    partial coverage. `feather` softens the edge over that many pixels (centred on it).
    With a `track`, the box is drawn on the track's reference frame and its corners
    follow the track (it may turn, scale or take perspective).
    """
    if track is not None:
        x0, y0, x1, y1 = box
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
        return polygon_mask(corners, like, width, height, feather, invert, track)
    canvas_height, canvas_width = canvas_size(like, width, height)
    weights, pad = feather_padding(feather)
    coverage = np.empty((canvas_height + 2 * pad, canvas_width + 2 * pad), np.float32)
    x0, y0, x1, y1 = (float(value) + pad for value in box)
    raster.rectangle_coverage_into(x0, y0, x1, y1, coverage)
    return finish(coverage, weights, invert)


def ellipse_polygon(center, radius, rotation) -> np.ndarray:
    """(N, 2) vertices of a polygon with the ellipse's area, within FLATNESS of its outline."""
    largest = max(radius)
    segments = math.ceil(math.pi / math.acos(max(1.0 - FLATNESS / largest, -1.0)))
    segments = int(min(max(segments, 16), MAX_SEGMENTS))
    angle = 2 * math.pi / segments
    area_scale = math.sqrt(angle / math.sin(angle))
    t = np.arange(segments) * angle
    u = radius[0] * area_scale * np.cos(t)
    v = radius[1] * area_scale * np.sin(t)
    turn = math.radians(rotation)
    x = center[0] + u * math.cos(turn) + v * math.sin(turn)
    y = center[1] - u * math.sin(turn) + v * math.cos(turn)
    return np.stack([x, y], axis=1)


@node("ellipse", version=1, category="shapes",
      check=with_checks(lambda p: [("radius", "both radii must be > 0 (degenerate ellipse)")]
                        if p.get("radius") and min(p["radius"]) <= 0 else []),
      inputs=[LIKE_INPUT, TRACK_INPUT], outputs=[MASK_OUTPUT],
      params=[Param("center", "vec2", None, doc="centre [x, y] in pixels"),
              Param("radius", "vec2", None, min=0.0, doc="radii [rx, ry] in pixels"),
              Param("rotation", "float", 0.0, doc="degrees, counter-clockwise on screen"),
              *canvas_params()])
def ellipse(like=None, track=None, *, center, radius, rotation=0.0, width=None, height=None,
            feather=0.0, invert=False):
    """An ellipse (or circle) mask with exact anti-aliased edges.

    `center` [x, y] and `radius` [rx, ry] in pixels; `rotation` turns the rx axis
    counter-clockwise as seen on screen. The outline is flattened to a polygon within
    0.001 px of the curve and scaled to the ellipse's exact area, so the mask's sum is
    pi * rx * ry where the ellipse lies on the canvas. A `track` moves the outline.
    """
    points = ellipse_polygon(center, radius, rotation)
    return polygon_mask(points, like, width, height, feather, invert, track)


def polygon_area(points) -> float:
    """Shoelace area of a closed polygon."""
    xy = np.asarray(points, np.float64)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


@node("polygon", version=1, category="shapes",
      check=with_checks(lambda p: [("points", "the points enclose no area")]
                        if p.get("points") and len(p["points"]) >= 3
                        and polygon_area(p["points"]) < 1e-9 else []),
      inputs=[LIKE_INPUT, TRACK_INPUT], outputs=[MASK_OUTPUT],
      params=[Param("points", "points", None, min_items=3,
                    doc="corners [[x, y], ...] in pixels, closed automatically"),
              *canvas_params()])
def polygon(like=None, track=None, *, points, width=None, height=None, feather=0.0, invert=False):
    """A polygon mask with exact anti-aliased edges (roto shape with straight edges).

    `points` lists the corners in pixels; the last joins the first. Self-crossing
    outlines fill by the non-zero rule. Animate `points` for rotoscoping, or connect a
    `track` to move the outline with tracked points (a matchmoved roto).
    """
    return polygon_mask(np.asarray(points, np.float64), like, width, height, feather, invert,
                        track)


def automatic_handles(points: np.ndarray, closed: bool) -> np.ndarray:
    """(2N, 2) in/out handles of a smooth curve through the points (Catmull-Rom tangents)."""
    following = np.roll(points, -1, axis=0)
    preceding = np.roll(points, 1, axis=0)
    if not closed:
        following[-1], preceding[0] = points[-1], points[0]
    tangent = (following - preceding) / 6.0
    handles = np.empty((2 * len(points), 2))
    handles[0::2] = points - tangent
    handles[1::2] = points + tangent
    return handles


def bezier_segment(p0, p1, p2, p3) -> np.ndarray:
    """Points of one cubic Bezier, uniformly subdivided within FLATNESS (end excluded)."""
    bend = max(np.linalg.norm(p0 - 2 * p1 + p2), np.linalg.norm(p1 - 2 * p2 + p3))
    steps = int(min(max(math.ceil(math.sqrt(0.75 * bend / FLATNESS)), 1), MAX_SEGMENTS))
    t = (np.arange(steps) / steps)[:, None]
    return ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2
            + t ** 3 * p3)


def spline_outline(points, handles, closed) -> np.ndarray:
    """(M, 2) polygon flattening the spline; an open spline closes with a straight edge."""
    anchors = np.asarray(points, np.float64)
    if handles is None:
        handles = automatic_handles(anchors, closed)
    handles = np.asarray(handles, np.float64)
    count = len(anchors) if closed else len(anchors) - 1
    pieces = []
    for index in range(count):
        following = (index + 1) % len(anchors)
        pieces.append(bezier_segment(anchors[index], handles[2 * index + 1],
                                     handles[2 * following], anchors[following]))
    if not closed:
        pieces.append(anchors[-1:])
    return np.concatenate(pieces)


def spline_check(params):
    """Handles must come in pairs per point; automatic handles need 3 points."""
    points, handles = params.get("points"), params.get("handles")
    if not points:
        return []
    if handles is not None and len(handles) != 2 * len(points):
        return [("handles", f"needs 2 handles (in, out) per point: {2 * len(points)}, "
                            f"found {len(handles)}")]
    if handles is None and len(points) < 3:
        return [("points", "needs at least 3 points without handles")]
    return []


@node("spline", version=1, category="shapes", check=with_checks(spline_check),
      inputs=[LIKE_INPUT, TRACK_INPUT], outputs=[MASK_OUTPUT],
      params=[Param("points", "points", None, min_items=2, doc="anchor points [[x, y], ...]"),
              Param("handles", "points", None, optional=True,
                    doc="per anchor its in then out handle [[x, y], ...] (absolute px); "
                        "default: smooth"),
              Param("closed", "bool", True,
                    doc="false: the last anchor joins the first with a straight edge"),
              *canvas_params()])
def spline(like=None, track=None, *, points, handles=None, closed=True, width=None, height=None,
           feather=0.0, invert=False):
    """A cubic Bezier roto shape with exact anti-aliased edges.

    Segment i runs from anchor i through its out handle and anchor i+1's in handle to
    anchor i+1. `handles` lists, per anchor, the in handle then the out handle in
    absolute pixels (2 per anchor); without it the curve passes smoothly through the
    anchors (Catmull-Rom tangents). The curve is flattened within 0.001 px. Animate
    `points` (and `handles`) for rotoscoping, or connect a `track` to move the flattened
    outline with tracked points.
    """
    outline = spline_outline(points, handles, closed)
    return polygon_mask(outline, like, width, height, feather, invert, track)
