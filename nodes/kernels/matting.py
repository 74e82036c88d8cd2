"""Closed-form matting (Levin, Lischinski and Weiss, PAMI 2008), matrix-free, on a band.

The matting Laplacian L of a guide image I (3, h, w) sums, over every 3x3 window k whose
centre lies at least one pixel inside the image,

    L_ij += delta_ij - (1 + (I_i - mu_k)^T (Sigma_k + eps / 9 U)^-1 (I_j - mu_k)) / 9

for the pixels i, j of the window (mu_k, Sigma_k: the window's colour mean and covariance).
Applied to a vector p it reads like a guided filter (He, Sun and Tang 2010):

    a_k = (Sigma_k + eps / 9 U)^-1 cov_k(I, p),   b_k = mean_k(p) - a_k . mu_k
    (L p)_i = sum over the windows k holding i of (p_i - a_k . I_i - b_k)

so L is never stored. Only the band is visited, as runs: a run (y, x0, x1, offset) is a
stretch [x0, x1) of row y whose values sit at [offset, offset + x1 - x0) of a compact
array. Window runs cover the unknown pixels grown by one (every window that holds an
unknown pixel); pixel runs cover the unknown pixels, and `bases` gives, for each pixel
run and dy in (-1, 0, 1), the compact index of the window centred at (y + dy, x0) (-1
where that row is outside the picture), so the windows around a run are contiguous.
Windows centred on the picture's border are not part of L: their coefficients are 0.

Per window the kernels keep the mean (3) and the inverse of Sigma + eps / 9 U (6: rr, rg,
rb, gg, gb, bb) in float64 (the covariances of 9 pixels cancel badly in float32).
"""
import numpy as np

from nodes.kernels.guided import affine_model, symmetric_adjugate
from nodes.kernels.jit import kernel, parallel_kernel, prange, scalar

WINDOW_STATS = 9          # mean r, g, b, then the inverse covariance rr, rg, rb, gg, gb, bb


@scalar
def _inner_span(y, x0, x1, height, width):
    """The part [start, stop) of a run whose windows lie inside the picture."""
    if y < 1 or y >= height - 1:
        return x0, x0
    return max(x0, 1), max(min(x1, width - 1), max(x0, 1))


@parallel_kernel
def window_statistics(guide, window_runs, eps, stats):
    """Mean and inverse regularised covariance of each window (0 on the border).

    guide: (3, h, w) float32 planes; window_runs: (n, 4) int64 runs of window centres;
    eps: regulariser (eps / 9 is added to the covariance's diagonal, as in Levin et al.);
    stats: (9, m) float64 out, m the number of windows.
    """
    height, width = guide.shape[1], guide.shape[2]
    for run in prange(window_runs.shape[0]):
        y, x0, x1, offset = window_runs[run]
        for k in range(WINDOW_STATS):
            stats[k, offset:offset + x1 - x0] = 0.0
        start, stop = _inner_span(y, x0, x1, height, width)
        for x in range(start, stop):
            mean_r = mean_g = mean_b = 0.0
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    mean_r += guide[0, y + dy, x + dx]
                    mean_g += guide[1, y + dy, x + dx]
                    mean_b += guide[2, y + dy, x + dx]
            mean_r /= 9.0
            mean_g /= 9.0
            mean_b /= 9.0
            rr = rg = rb = gg = gb = bb = 0.0
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    r = guide[0, y + dy, x + dx] - mean_r
                    g = guide[1, y + dy, x + dx] - mean_g
                    b = guide[2, y + dy, x + dx] - mean_b
                    rr += r * r
                    rg += r * g
                    rb += r * b
                    gg += g * g
                    gb += g * b
                    bb += b * b
            rr = (rr + eps) / 9.0
            rg /= 9.0
            rb /= 9.0
            gg = (gg + eps) / 9.0
            gb /= 9.0
            bb = (bb + eps) / 9.0
            inv_rr, inv_rg, inv_rb, inv_gg, inv_gb, inv_bb, det = symmetric_adjugate(
                rr, rg, rb, gg, gb, bb)
            i = offset + x - x0
            stats[0, i], stats[1, i], stats[2, i] = mean_r, mean_g, mean_b
            stats[3, i], stats[4, i], stats[5, i] = inv_rr / det, inv_rg / det, inv_rb / det
            stats[6, i], stats[7, i], stats[8, i] = inv_gg / det, inv_gb / det, inv_bb / det


@parallel_kernel
def window_coefficients(guide, values, window_runs, stats, coeffs):
    """The guided-filter coefficients (a_r, a_g, a_b, b) of `values` in each window.

    guide: (3, h, w) float32; values: (h, w) float64 (the vector p as an image);
    window_runs, stats as in `window_statistics`; coeffs: (4, m) float64 out. Column
    sums of p and I p over the window's three rows first, then across (contiguous rows).
    """
    height, width = values.shape
    for run in prange(window_runs.shape[0]):
        y, x0, x1, offset = window_runs[run]
        for k in range(4):
            coeffs[k, offset:offset + x1 - x0] = 0.0
        start, stop = _inner_span(y, x0, x1, height, width)
        if stop <= start:
            continue
        span = stop - start + 2
        sum_p = np.zeros(span)
        sum_r = np.zeros(span)
        sum_g = np.zeros(span)
        sum_b = np.zeros(span)
        for dy in range(-1, 2):
            p_row = values[y + dy, start - 1:stop + 1]
            r_row = guide[0, y + dy, start - 1:stop + 1]
            g_row = guide[1, y + dy, start - 1:stop + 1]
            b_row = guide[2, y + dy, start - 1:stop + 1]
            for k in range(span):
                p = p_row[k]
                sum_p[k] += p
                sum_r[k] += r_row[k] * p
                sum_g[k] += g_row[k] * p
                sum_b[k] += b_row[k] * p
        first = offset + start - x0
        for k in range(stop - start):
            i = first + k
            mean_p = (sum_p[k] + sum_p[k + 1] + sum_p[k + 2]) / 9.0
            cov_r = (sum_r[k] + sum_r[k + 1] + sum_r[k + 2]) / 9.0 - stats[0, i] * mean_p
            cov_g = (sum_g[k] + sum_g[k + 1] + sum_g[k + 2]) / 9.0 - stats[1, i] * mean_p
            cov_b = (sum_b[k] + sum_b[k + 1] + sum_b[k + 2]) / 9.0 - stats[2, i] * mean_p
            a_r = stats[3, i] * cov_r + stats[4, i] * cov_g + stats[5, i] * cov_b
            a_g = stats[4, i] * cov_r + stats[6, i] * cov_g + stats[7, i] * cov_b
            a_b = stats[5, i] * cov_r + stats[7, i] * cov_g + stats[8, i] * cov_b
            coeffs[0, i] = a_r
            coeffs[1, i] = a_g
            coeffs[2, i] = a_b
            coeffs[3, i] = mean_p - a_r * stats[0, i] - a_g * stats[1, i] - a_b * stats[2, i]


@scalar
def _valid_count(y, x, height, width):
    """How many windows inside the picture hold pixel (y, x)."""
    rows = min(y + 1, height - 2) - max(y - 1, 1) + 1
    columns = min(x + 1, width - 2) - max(x - 1, 1) + 1
    return max(rows, 0) * max(columns, 0)


@parallel_kernel
def laplacian_rows(guide, values, pixel_runs, bases, coeffs, out):
    """(L p)_i for each unknown pixel i, from the window coefficients of p.

    guide: (3, h, w) float32; values: (h, w) float64 (p); pixel_runs: (n, 4) int64;
    bases: (n, 3) int64 (module docstring); coeffs: (4, m) float64 from
    `window_coefficients`; out: (u,) float64, u the number of unknown pixels. Column sums
    of the coefficients over three rows first (index k: column x0 - 1 + k), then across.
    """
    height, width = values.shape
    for run in prange(pixel_runs.shape[0]):
        y, x0, x1, offset = pixel_runs[run]
        span = x1 - x0 + 2
        low, high = max(x0 - 1, 0), min(x1 + 1, width)
        sum_r = np.zeros(span)
        sum_g = np.zeros(span)
        sum_b = np.zeros(span)
        sum_0 = np.zeros(span)
        for dy in range(3):
            base = bases[run, dy]
            if base < 0:
                continue
            first = base + low - x0
            shift = low - x0 + 1
            for k in range(high - low):
                sum_r[shift + k] += coeffs[0, first + k]
                sum_g[shift + k] += coeffs[1, first + k]
                sum_b[shift + k] += coeffs[2, first + k]
                sum_0[shift + k] += coeffs[3, first + k]
        p_row = values[y, x0:x1]
        r_row = guide[0, y, x0:x1]
        g_row = guide[1, y, x0:x1]
        b_row = guide[2, y, x0:x1]
        for k in range(x1 - x0):
            total_r = sum_r[k] + sum_r[k + 1] + sum_r[k + 2]
            total_g = sum_g[k] + sum_g[k + 1] + sum_g[k + 2]
            total_b = sum_b[k] + sum_b[k + 1] + sum_b[k + 2]
            total_0 = sum_0[k] + sum_0[k + 1] + sum_0[k + 2]
            out[offset + k] = _valid_count(y, x0 + k, height, width) * p_row[k] - (
                total_r * r_row[k] + total_g * g_row[k] + total_b * b_row[k] + total_0)


@parallel_kernel
def laplacian_diagonal(guide, pixel_runs, bases, stats, out):
    """L_ii for each unknown pixel: sum over its windows of 1 - (1 + d^T D^-1 d) / 9,
    d = I_i - mu_k. Arguments as in `laplacian_rows`; out: (u,) float64."""
    height, width = guide.shape[1], guide.shape[2]
    for run in prange(pixel_runs.shape[0]):
        y, x0, x1, offset = pixel_runs[run]
        for x in range(x0, x1):
            total = 0.0
            for dy in range(3):
                base = bases[run, dy]
                if base < 0 or y + dy - 1 < 1 or y + dy - 1 >= height - 1:
                    continue
                for cx in range(max(x - 1, 1), min(x + 2, width - 1)):
                    j = base + cx - x0
                    r = guide[0, y, x] - stats[0, j]
                    g = guide[1, y, x] - stats[1, j]
                    b = guide[2, y, x] - stats[2, j]
                    quad = (stats[3, j] * r * r + stats[6, j] * g * g + stats[8, j] * b * b
                            + 2.0 * (stats[4, j] * r * g + stats[5, j] * r * b
                                     + stats[7, j] * g * b))
                    total += 1.0 - (1.0 + quad) / 9.0
            out[offset + x - x0] = total


@parallel_kernel
def scatter(vector, pixel_runs, plane):
    """Write the compact `vector` (u,) float64 into the runs of `plane` (h, w) float64."""
    for run in prange(pixel_runs.shape[0]):
        y, x0, x1, offset = pixel_runs[run]
        plane[y, x0:x1] = vector[offset:offset + x1 - x0]


@kernel
def dot(a, b):
    """Sum of a * b for (m,) float64 vectors (a plain loop: BLAS threads that spin on a
    busy machine cost 10 ms per call here)."""
    total = 0.0
    for index in range(a.shape[0]):
        total += a[index] * b[index]
    return total


@kernel
def cg_step(step, x, residual, direction, product, inverse_diagonal, preconditioned):
    """x += step d; r -= step A d; z = r / diag(A). Returns (r . z, r . r)."""
    rz = rr = 0.0
    for index in range(x.shape[0]):
        x[index] += step * direction[index]
        residual[index] -= step * product[index]
        preconditioned[index] = residual[index] * inverse_diagonal[index]
        rz += residual[index] * preconditioned[index]
        rr += residual[index] * residual[index]
    return rz, rr


@kernel
def next_direction(direction, preconditioned, beta):
    """d = z + beta d."""
    for index in range(direction.shape[0]):
        direction[index] = preconditioned[index] + beta * direction[index]


@parallel_kernel
def affine_coefficients(guide, alpha, eps, coeffs):
    """Per 3x3 window (clamped at the border) the least-squares affine colour model
    alpha ~ a . I + b with ridge `eps` on a: the model behind closed-form matting.

    guide: (3, h, w) float32; alpha: (h, w) float32; coeffs: (4, h, w) float32 out
    (a_r, a_g, a_b, b at the window's centre); sums in float64.
    """
    height, width = alpha.shape
    for y in prange(height):
        for x in range(width):
            mean_r = mean_g = mean_b = mean_p = 0.0
            rr = rg = rb = gg = gb = bb = pr = pg = pb = 0.0
            for dy in range(-1, 2):
                row = min(max(y + dy, 0), height - 1)
                for dx in range(-1, 2):
                    column = min(max(x + dx, 0), width - 1)
                    r = np.float64(guide[0, row, column])
                    g = np.float64(guide[1, row, column])
                    b = np.float64(guide[2, row, column])
                    p = np.float64(alpha[row, column])
                    mean_r += r
                    mean_g += g
                    mean_b += b
                    mean_p += p
                    rr += r * r
                    rg += r * g
                    rb += r * b
                    gg += g * g
                    gb += g * b
                    bb += b * b
                    pr += p * r
                    pg += p * g
                    pb += p * b
            mean_r /= 9.0
            mean_g /= 9.0
            mean_b /= 9.0
            mean_p /= 9.0
            rr = rr / 9.0 - mean_r * mean_r + eps
            rg = rg / 9.0 - mean_r * mean_g
            rb = rb / 9.0 - mean_r * mean_b
            gg = gg / 9.0 - mean_g * mean_g + eps
            gb = gb / 9.0 - mean_g * mean_b
            bb = bb / 9.0 - mean_b * mean_b + eps
            pr = pr / 9.0 - mean_p * mean_r
            pg = pg / 9.0 - mean_p * mean_g
            pb = pb / 9.0 - mean_p * mean_b
            a_r, a_g, a_b, intercept = affine_model(
                mean_r, mean_g, mean_b, mean_p, rr, rg, rb, gg, gb, bb, pr, pg, pb)
            coeffs[0, y, x] = a_r
            coeffs[1, y, x] = a_g
            coeffs[2, y, x] = a_b
            coeffs[3, y, x] = intercept
