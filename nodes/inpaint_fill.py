"""Hole fills that need no texture search: telea (fast marching) and smooth (biharmonic).

Each fill takes an (H, W, C) float32 image and an (H, W) bool hole, reads only pixels
near the hole and returns a filled copy; the inpaint node decides which pixels to
convert and mix. Shared helpers of the fills live here too.
"""
from __future__ import annotations

import cv2
import numpy as np

from nodes.kernels import inpaint_telea as telea
from nodes.kernels import inpaint_smooth

SMOOTH_ITERATIONS, SMOOTH_TOLERANCE = 3000, 5e-3
TELEA_RADIUS = 5  # px: telea's neighbourhood when it starts another fill


def hole_box(hole, margin):
    """Slices (rows, columns) of the hole's bounding box widened by `margin` pixels."""
    rows = np.flatnonzero(hole.any(axis=1))
    columns = np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, height)),
            slice(max(columns[0] - margin, 0), min(columns[-1] + margin + 1, width)))


# ---------------------------------------------------------------- telea

def telea_fill(image, hole, radius=TELEA_RADIUS):
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
    return resize(clean, size[::-1], cv2.INTER_AREA), small_hole


def hole_thickness(hole):
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
    if hole_thickness(hole) > 4 and min(hole.shape) >= 32:
        coarse = smooth_fill(*_half(image, hole), iterations, tolerance)
        work = np.ascontiguousarray(image, np.float32).copy()
        upscaled = resize(coarse, hole.shape, cv2.INTER_LINEAR)
        work[hole] = upscaled[hole]
    else:
        work = telea_fill(image, hole)
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~hole
    low, high = value_range(work, ~ring)
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
    planes = np.ascontiguousarray(work.transpose(2, 0, 1))
    channels = planes.shape[0]
    inpaint_smooth.biharmonic_solve(planes, hole_list, np.flatnonzero(support).astype(np.int64),
                                    int(iterations), float(tolerance), np.empty_like(planes),
                                    np.zeros_like(planes),
                                    np.empty((channels, 4, hole_list.size), np.float64),
                                    np.zeros(channels, np.int64))
    work[...] = planes.transpose(1, 2, 0)


def value_range(image, excluded):
    """Per-channel (min, max) of `image` (H, W, C) over the pixels not `excluded`."""
    bounds = np.empty((2, image.shape[2]), np.float32)
    inpaint_smooth.channel_range(image, np.ascontiguousarray(excluded), bounds)
    return bounds[0], bounds[1]



def resize(image, shape, interpolation):
    """cv2.resize to (height, width) `shape`, of any number of channels (cv2 takes 4 at
    most), keeping a channel axis of length 1."""
    if image.ndim == 2:
        return cv2.resize(image, (shape[1], shape[0]), interpolation=interpolation)
    parts = [cv2.resize(np.ascontiguousarray(image[..., start:start + 4]),
                        (shape[1], shape[0]), interpolation=interpolation)
             for start in range(0, image.shape[2], 4)]
    return np.ascontiguousarray(np.concatenate(
        [part.reshape(shape + (-1,)) for part in parts], axis=2))
