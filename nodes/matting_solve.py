"""Closed-form alpha in an unknown band: the solver behind the `refine` node.

`trimap` turns a coarse mask into known foreground, known background and an unknown band
around its edge; `solve_alpha` solves closed-form matting (nodes/kernels/matting.py:
the matting Laplacian applied matrix-free on the band's runs) by Jacobi-preconditioned
conjugate gradients at a working size, then brings alpha up to full size level by level
with the same local model closed-form matting rests on: alpha = a . I + b in each 3x3
window, a and b fitted to the coarse alpha, averaged, resized and applied to the finer
picture (guided upsampling, as in He and Sun's fast guided filter, 2015). The working
size is the first half size with a long side of at most WORK_SIDE px: the picture itself
up to that.

Measured on the composites of tests/matting_data.py (hair, fur, motion blur): at 1 MP
solving at 512 px and upsampling gives SAD 0.51 of the coarse mask's against 0.58 for the
exact solve at full size (0.56 for pymatting's), in a small fraction of the time. (At
256 px it is 0.48, but a 600x400 picture solved at half size loses what the edge of a
segmentation network's mask needs: tests/nodes/test_segment.py.) The
solve starts from the coarse mask and stops at a relative residual of TOLERANCE:
conjugate gradients settle the directions the colours decide first and the Laplacian's
near-null space (where colours cannot tell subject from background) last, so stopping
there keeps the coarse mask in those directions, a regulariser like the prior (SAD at
384 px: 0.49 of the coarse mask's against 0.51 converged).
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from nodes.kernels import matting

SOFT_LOW, SOFT_HIGH = 0.02, 0.98     # a coarse mask strictly between these is uncertain
WORK_SIDE = 640       # the band is solved at the first half size with a long side up to this
MIN_SIDE = 32         # no level is made with a short side under this
UPSAMPLE_EPS = 1e-6   # ridge of the affine colour model that brings alpha up a level
TOLERANCE = 3e-4      # relative residual at which the solve stops (module docstring)
ITERATIONS = 1000     # at most this many conjugate-gradient steps


class Trimap(NamedTuple):
    """known: (h, w) float64 alpha where known (0 or 1), 0 in the band;
    unknown: (h, w) bool, the band where alpha is solved;
    prior: (h, w) float64 the coarse mask, a weak pull on the band's alpha."""
    known: np.ndarray
    unknown: np.ndarray
    prior: np.ndarray


def edge_transition_width(mask: np.ndarray) -> float:
    """Mean width in pixels of the mask's soft edge: pixels strictly between SOFT_LOW and
    SOFT_HIGH per pixel of 0.5-contour length (0 for a binary mask)."""
    inside = mask >= 0.5
    contour = np.count_nonzero(inside[1:] != inside[:-1]) + \
        np.count_nonzero(inside[:, 1:] != inside[:, :-1])
    if contour == 0:
        return 0.0
    soft = np.count_nonzero((mask > SOFT_LOW) & (mask < SOFT_HIGH))
    return soft / (contour / 1.27)      # 4-connected crossings overcount length by ~4/pi


def automatic_band(mask: np.ndarray) -> float:
    """Half-width of the unknown band: half the coarse edge's own width plus room for what
    a low-resolution mask misses (0.5% of the picture's short side), at least 4 px."""
    short_side = min(mask.shape)
    return float(max(4.0, 0.5 * edge_transition_width(mask) + 0.005 * short_side))


def distance_to_edge(mask: np.ndarray) -> np.ndarray:
    """(h, w) float32 distance of each pixel to the other side of the 0.5 edge (5x5
    chamfer: within 2% of the Euclidean distance, 8x faster than the exact transform)."""
    inside = (mask >= 0.5).astype(np.uint8)
    to_outside = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_5)
    to_inside = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_5)
    return np.where(inside > 0, to_outside, to_inside)


def trimap(mask: np.ndarray, band: float) -> Trimap:
    """Known regions and the unknown band (within `band` px of the 0.5 edge, or soft)."""
    distance = distance_to_edge(mask)
    unknown = (distance <= band) | ((mask > SOFT_LOW) & (mask < SOFT_HIGH))
    if mask.min() >= 0.5 or mask.max() < 0.5:
        unknown = (mask > SOFT_LOW) & (mask < SOFT_HIGH)
    known = np.where(unknown, 0.0, (mask >= 0.5).astype(np.float64))
    return Trimap(known, unknown, mask.astype(np.float64))


def linear_guide(image: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32 guide: the linear colour clamped to [0, 1] (where the
    compositing equation I = alpha F + (1 - alpha) B, and so the colour-line model of
    closed-form matting, holds)."""
    return np.ascontiguousarray(np.clip(image[..., :3], 0.0, 1.0), dtype=np.float32)


def runs(mask: np.ndarray) -> np.ndarray:
    """(n, 4) int64 runs (y, x0, x1, offset) of a boolean (h, w) mask, in row-major order:
    the mask's pixels are [x0, x1) of row y, at [offset, offset + x1 - x0) when packed."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, stops = np.nonzero(step == -1)
    offsets = np.concatenate(([0], np.cumsum(stops - starts)[:-1]))
    return np.ascontiguousarray(np.stack([rows, starts, stops, offsets], axis=1), np.int64)


def window_bases(pixel_runs: np.ndarray, window_runs: np.ndarray, height: int,
                 width: int) -> np.ndarray:
    """(n, 3) int64: for each pixel run and dy in (-1, 0, 1) the packed index of the
    window centred at (y + dy, x0), -1 where that row is outside the picture."""
    flat_starts = window_runs[:, 0] * width + window_runs[:, 1]
    bases = np.full((pixel_runs.shape[0], 3), -1, np.int64)
    for column, dy in enumerate((-1, 0, 1)):
        rows = pixel_runs[:, 0] + dy
        query = rows * width + pixel_runs[:, 1]
        run = np.maximum(np.searchsorted(flat_starts, query, side="right") - 1, 0)
        base = window_runs[run, 3] + query - flat_starts[run]
        bases[:, column] = np.where((rows >= 0) & (rows < height), base, -1)
    return bases


class BandSystem:
    """The system (L_UU + diag(prior weights)) x = -L_UK alpha_K + prior weights * mask of
    one trimap, applied matrix-free on the band's runs (nodes/kernels/matting.py)."""

    def __init__(self, guide: np.ndarray, trimap_: Trimap, eps: float, prior_weight: float):
        height, width = trimap_.unknown.shape
        self.guide = np.ascontiguousarray(guide.transpose(2, 0, 1), dtype=np.float32)
        windows = cv2.dilate(trimap_.unknown.astype(np.uint8), np.ones((3, 3), np.uint8))
        self.pixel_runs = runs(trimap_.unknown)
        self.window_runs = runs(windows)
        self.bases = window_bases(self.pixel_runs, self.window_runs, height, width)
        self.size = int(np.count_nonzero(trimap_.unknown))
        window_count = int(np.count_nonzero(windows))
        self.stats = np.empty((matting.WINDOW_STATS, window_count), np.float64)
        matting.window_statistics(self.guide, self.window_runs, float(eps), self.stats)
        self.coeffs = np.empty((4, window_count), np.float64)
        self.values = np.zeros((height, width), np.float64)
        self.diagonal = np.empty(self.size, np.float64)
        matting.laplacian_diagonal(self.guide, self.pixel_runs, self.bases, self.stats,
                                   self.diagonal)
        prior = trimap_.prior[trimap_.unknown]
        self.prior_weights = prior_weight * (2.0 * prior - 1.0) ** 2
        self.diagonal += self.prior_weights
        self.rhs = -self.laplacian(np.ascontiguousarray(trimap_.known, dtype=np.float64)) \
            + self.prior_weights * prior

    def laplacian(self, values: np.ndarray) -> np.ndarray:
        """(L values)_U for an (h, w) float64 image of values."""
        out = np.empty(self.size, np.float64)
        matting.window_coefficients(self.guide, values, self.window_runs, self.stats,
                                    self.coeffs)
        matting.laplacian_rows(self.guide, values, self.pixel_runs, self.bases, self.coeffs,
                               out)
        return out

    def apply(self, vector: np.ndarray) -> np.ndarray:
        """(L_UU + diag(prior weights)) vector: the vector placed in the band, 0 elsewhere."""
        matting.scatter(vector, self.pixel_runs, self.values)
        return self.laplacian(self.values) + self.prior_weights * vector


def conjugate_gradients(system: BandSystem, start: np.ndarray, iterations: int,
                        tolerance: float) -> np.ndarray:
    """Jacobi-preconditioned CG from `start`, until the residual falls below `tolerance`
    times the right-hand side's norm or after `iterations` steps."""
    inverse_diagonal = 1.0 / np.maximum(system.diagonal, 1e-12)
    x = start.copy()
    residual = system.rhs - system.apply(x)
    goal = (tolerance * np.sqrt(matting.dot(system.rhs, system.rhs))) ** 2
    preconditioned = residual * inverse_diagonal
    direction = preconditioned.copy()
    rz = matting.dot(residual, preconditioned)
    rr = matting.dot(residual, residual)
    for _ in range(iterations):
        if rr <= goal:
            break
        product = system.apply(direction)
        step = rz / matting.dot(direction, product)
        rz_next, rr = matting.cg_step(step, x, residual, direction, product,
                                      inverse_diagonal, preconditioned)
        matting.next_direction(direction, preconditioned, rz_next / rz)
        rz = rz_next
    return x


def half_size(trimap_: Trimap, guide: np.ndarray):
    """The trimap and guide at half resolution: a 2x2 block is unknown if any pixel is."""
    height, width = trimap_.unknown.shape
    small = ((width + 1) // 2, (height + 1) // 2)
    coarse_guide = cv2.resize(guide, small, interpolation=cv2.INTER_AREA)
    unknown = cv2.resize(trimap_.unknown.astype(np.float32), small,
                         interpolation=cv2.INTER_AREA) > 0
    known = cv2.resize(trimap_.known.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    known = np.where(unknown, 0.0, np.round(known)).astype(np.float64)
    prior = cv2.resize(trimap_.prior.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    return Trimap(known, unknown, prior.astype(np.float64)), np.ascontiguousarray(coarse_guide, dtype=np.float32)


def guided_upsample(alpha: np.ndarray, guide: np.ndarray, fine_guide: np.ndarray,
                    unknown: np.ndarray, eps: float) -> np.ndarray:
    """Alpha at the `unknown` pixels of `fine_guide`'s size ((u,) float64): the affine
    colour model of `alpha` against `guide` per 3x3 window (the model behind closed-form
    matting), averaged over the windows holding each pixel, resized bilinearly and applied
    to the fine colours, so edges and strands follow the full-resolution picture."""
    height, width = fine_guide.shape[:2]
    planes = np.ascontiguousarray(guide.transpose(2, 0, 1), dtype=np.float32)
    coeffs = np.empty((4,) + alpha.shape, np.float32)
    matting.affine_coefficients(planes, np.ascontiguousarray(alpha, np.float32), eps, coeffs)
    averaged = cv2.boxFilter(coeffs.transpose(1, 2, 0), -1, (3, 3),
                             borderType=cv2.BORDER_REPLICATE)
    resized = cv2.resize(averaged, (width, height), interpolation=cv2.INTER_LINEAR)[unknown]
    colour = fine_guide[unknown]
    return np.einsum("uc,uc->u", resized[:, :3], colour, dtype=np.float64) + resized[:, 3]


def solve_alpha(guide: np.ndarray, trimap_: Trimap, eps: float, prior_weight: float = 0.0,
                work_side: int = WORK_SIDE, tolerance: float = TOLERANCE) -> np.ndarray:
    """(h, w) float32 alpha: known values kept exactly; the band solved by closed-form
    matting (conjugate gradients from the coarse mask) at the first half size whose long
    side is at most `work_side`, then brought up level by level by `guided_upsample`."""
    height, width = trimap_.unknown.shape
    alpha = trimap_.known.astype(np.float32)
    if not trimap_.unknown.any():
        return alpha
    if max(height, width) > work_side and min(height, width) >= 2 * MIN_SIDE:
        coarse_trimap, coarse_guide = half_size(trimap_, guide)
        coarse = solve_alpha(coarse_guide, coarse_trimap, eps, prior_weight, work_side,
                             tolerance)
        fine = guided_upsample(coarse, coarse_guide, guide, trimap_.unknown, UPSAMPLE_EPS)
        alpha[trimap_.unknown] = np.clip(fine, 0.0, 1.0)
        return alpha
    system = BandSystem(guide, trimap_, eps, prior_weight)
    start = trimap_.prior[trimap_.unknown].astype(np.float64)
    solution = conjugate_gradients(system, start, ITERATIONS, tolerance)
    alpha[trimap_.unknown] = np.clip(solution, 0.0, 1.0)
    return alpha
