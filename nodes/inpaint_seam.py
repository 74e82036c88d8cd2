"""Gradient-domain seam removal for the patch fill (Pérez et al. 2003, with the
gradients across the seam limited to those of the picture).

The patch fill agrees with the pixels at the hole's rim, but a few pixels in, where the
patches that overlap the rim give way to patches from elsewhere, the content can switch
(a band of cloud that stops, a lighter patch of sky): a seam the eye finds at once. Here
the band of the fill within two patch widths of the rim is re-solved from its gradients
(a least-squares Poisson solve, by conjugate gradients, with the known pixels and the
deeper fill as fixed boundary), after limiting every gradient in the band to what the
picture's own content near the hole has (a high percentile of its gradient
magnitudes, per channel). Edges the picture has survive; an edge stronger than any in
the surroundings, made only by the fill, is spread over the band instead.
"""
from __future__ import annotations

import cv2
import numpy as np

SEAM_BAND = 2           # patch widths of the fill, from the rim, that are re-solved
SEAM_PERCENTILE = 75    # gradients in the band are limited to this percentile of the
                        # picture's gradients near the hole
SEAM_ITERATIONS, SEAM_TOLERANCE = 400, 1e-4


def smooth_seam(image, hole, radius, channels):
    """Re-solve the rim band of the fill in `image` (H, W, C) float32, in place, for its
    first `channels` channels; `hole` (H, W) bool is the filled region."""
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    width = SEAM_BAND * (2 * radius + 1)
    band = hole & (depth <= width)
    band[0] = band[-1] = False
    band[:, 0] = band[:, -1] = False
    if not band.any():
        return
    ring = ~hole & (cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3) <= 2 * width)
    for channel in range(channels):
        plane = np.ascontiguousarray(image[..., channel], np.float64)
        limit = _gradient_limit(plane, ring)
        image[..., channel] = _solve(plane, band, limit)


def _gradient_limit(plane, ring):
    """The SEAM_PERCENTILE of the picture's horizontal and vertical differences whose
    two pixels both lie in `ring` (the known pixels near the hole)."""
    steps = [np.abs(np.diff(plane, axis=axis))[_both(ring, axis)] for axis in (0, 1)]
    values = np.concatenate(steps)
    return float(np.percentile(values, SEAM_PERCENTILE)) if values.size else 0.0


def _both(mask, axis):
    return mask[1:] & mask[:-1] if axis == 0 else mask[:, 1:] & mask[:, :-1]


def _solve(plane, band, limit):
    """Least-squares u on `band` with u = plane elsewhere and every difference touching
    the band close to the plane's own difference limited to +-limit."""
    guide_y = np.clip(np.diff(plane, axis=0), -limit, limit)  # u[y+1] - u[y]
    guide_x = np.clip(np.diff(plane, axis=1), -limit, limit)
    # right-hand side: sum over neighbours q of (fixed u_q if q is outside the band) plus
    # the guided differences u_p - u_q = -(u_q - u_p)
    fixed = np.where(band, 0.0, plane)
    rhs = np.zeros_like(plane)
    rhs[:-1] += fixed[1:] - guide_y
    rhs[1:] += fixed[:-1] + guide_y
    rhs[:, :-1] += fixed[:, 1:] - guide_x
    rhs[:, 1:] += fixed[:, :-1] + guide_x
    degree = np.full(plane.shape, 4.0)
    degree[0] -= 1
    degree[-1] -= 1
    degree[:, 0] -= 1
    degree[:, -1] -= 1
    solution = np.where(band, plane, 0.0)
    solution[band] = _conjugate_gradients(band, degree, rhs, solution)
    return np.where(band, solution, plane).astype(np.float32)


def _apply(values, band, degree):
    """(A x) on the band: degree * x - the sum of x over band neighbours."""
    x = np.where(band, values, 0.0)
    total = np.zeros_like(x)
    total[:-1] += x[1:]
    total[1:] += x[:-1]
    total[:, :-1] += x[:, 1:]
    total[:, 1:] += x[:, :-1]
    return np.where(band, degree * x - total, 0.0)


def _conjugate_gradients(band, degree, rhs, start):
    x = start
    residual = np.where(band, rhs, 0.0) - _apply(x, band, degree)
    direction = residual.copy()
    rho = float((residual * residual).sum())
    target = SEAM_TOLERANCE ** 2 * max(float((np.where(band, rhs, 0.0) ** 2).sum()), 1e-30)
    for _ in range(SEAM_ITERATIONS):
        if rho <= target:
            break
        product = _apply(direction, band, degree)
        alpha = rho / float((direction * product).sum())
        x = x + alpha * direction
        residual = residual - alpha * product
        new_rho = float((residual * residual).sum())
        direction = residual + (new_rho / rho) * direction
        rho = new_rho
    return x[band]
