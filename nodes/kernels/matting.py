"""Closed-form matting (Levin, Lischinski and Weiss, PAMI 2008), matrix-free, on a band.

The matting Laplacian L of a guide image I (h, w, 3) sums, over every 3x3 window k whose
centre lies at least one pixel inside the image,

    L_ij += delta_ij - (1 + (I_i - mu_k)^T (Sigma_k + eps / 9 U)^-1 (I_j - mu_k)) / 9

for the pixels i, j of the window (mu_k, Sigma_k: the window's colour mean and covariance).
Applied to a vector p it reads like a guided filter (He, Sun and Tang 2010):

    a_k = (Sigma_k + eps / 9 U)^-1 cov_k(I, p),   b_k = mean_k(p) - a_k . mu_k
    (L p)_i = sum over the windows k holding i of (p_i - a_k . I_i - b_k)

so L is never stored. Alpha is known (0 or 1) outside the unknown band U; the solve is
L_UU alpha_U = -L_UK alpha_K, by conjugate gradients preconditioned with the diagonal of
L_UU, started from a coarse-to-fine guess (nodes/matting.py). Only the windows touching U
(`windows`: flat indices of their centres) and the unknown pixels (`unknown`) are visited.

Per window the kernels keep the mean (3) and the inverse of Sigma + eps / 9 U (6: rr, rg,
rb, gg, gb, bb) in float64 (the covariances of 9 pixels cancel badly in float32).
"""
import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange, scalar

WINDOW_STATS = 9          # mean r, g, b, then the inverse covariance rr, rg, rb, gg, gb, bb


@scalar
def _valid_centre(y, x, height, width):
    return 1 <= y < height - 1 and 1 <= x < width - 1


@parallel_kernel
def window_statistics(guide, windows, eps, stats):
    """Mean and inverse regularised covariance of each 3x3 window.

    guide: (h, w, 3) float32; windows: (n,) int64 flat centre indices (not on the border);
    eps: regulariser (eps / 9 is added to the covariance's diagonal, as in Levin et al.); stats: (n, 9) float64 out.
    """
    width = guide.shape[1]
    for index in prange(windows.shape[0]):
        y, x = windows[index] // width, windows[index] % width
        mean_r = mean_g = mean_b = 0.0
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                mean_r += guide[y + dy, x + dx, 0]
                mean_g += guide[y + dy, x + dx, 1]
                mean_b += guide[y + dy, x + dx, 2]
        mean_r /= 9.0
        mean_g /= 9.0
        mean_b /= 9.0
        rr = rg = rb = gg = gb = bb = 0.0
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                r = guide[y + dy, x + dx, 0] - mean_r
                g = guide[y + dy, x + dx, 1] - mean_g
                b = guide[y + dy, x + dx, 2] - mean_b
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
        inv_rr = gg * bb - gb * gb
        inv_rg = rb * gb - rg * bb
        inv_rb = rg * gb - rb * gg
        inv_gg = rr * bb - rb * rb
        inv_gb = rb * rg - rr * gb
        inv_bb = rr * gg - rg * rg
        det = rr * inv_rr + rg * inv_rg + rb * inv_rb
        out = stats[index]
        out[0], out[1], out[2] = mean_r, mean_g, mean_b
        out[3], out[4], out[5] = inv_rr / det, inv_rg / det, inv_rb / det
        out[6], out[7], out[8] = inv_gg / det, inv_gb / det, inv_bb / det


@parallel_kernel
def window_coefficients(guide, values, windows, stats, coeffs):
    """The guided-filter coefficients (a_r, a_g, a_b, b) of `values` in each window.

    guide: (h, w, 3) float32; values: (h, w) float64 (the vector p as an image);
    windows, stats as in `window_statistics`; coeffs: (h * w, 4) float64, written at
    the windows' flat indices only.
    """
    width = guide.shape[1]
    for index in prange(windows.shape[0]):
        centre = windows[index]
        y, x = centre // width, centre % width
        mean_p = cov_r = cov_g = cov_b = 0.0
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                p = values[y + dy, x + dx]
                mean_p += p
                cov_r += guide[y + dy, x + dx, 0] * p
                cov_g += guide[y + dy, x + dx, 1] * p
                cov_b += guide[y + dy, x + dx, 2] * p
        mean_p /= 9.0
        s = stats[index]
        cov_r = cov_r / 9.0 - s[0] * mean_p
        cov_g = cov_g / 9.0 - s[1] * mean_p
        cov_b = cov_b / 9.0 - s[2] * mean_p
        a_r = s[3] * cov_r + s[4] * cov_g + s[5] * cov_b
        a_g = s[4] * cov_r + s[6] * cov_g + s[7] * cov_b
        a_b = s[5] * cov_r + s[7] * cov_g + s[8] * cov_b
        out = coeffs[centre]
        out[0], out[1], out[2] = a_r, a_g, a_b
        out[3] = mean_p - a_r * s[0] - a_g * s[1] - a_b * s[2]


@parallel_kernel
def laplacian_rows(guide, values, unknown, coeffs, out):
    """(L p)_i for each unknown pixel i, from the window coefficients of p.

    guide: (h, w, 3) float32; values: (h, w) float64 (p); unknown: (m,) int64 flat
    indices; coeffs: (h * w, 4) float64 from `window_coefficients`; out: (m,) float64.
    """
    height, width = values.shape
    for index in prange(unknown.shape[0]):
        pixel = unknown[index]
        y, x = pixel // width, pixel % width
        p = values[y, x]
        r, g, b = guide[y, x, 0], guide[y, x, 1], guide[y, x, 2]
        total = 0.0
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if _valid_centre(y + dy, x + dx, height, width):
                    c = coeffs[pixel + dy * width + dx]
                    total += p - (c[0] * r + c[1] * g + c[2] * b + c[3])
        out[index] = total


@parallel_kernel
def laplacian_diagonal(guide, unknown, windows_index, stats, out):
    """L_ii for each unknown pixel: sum over its windows of 1 - (1 + d^T D^-1 d) / 9,
    d = I_i - mu_k. windows_index: (h * w,) int64, a window's row in `stats` at its
    centre's flat index (-1 elsewhere); out: (m,) float64."""
    width = guide.shape[1]
    for index in prange(unknown.shape[0]):
        pixel = unknown[index]
        y, x = pixel // width, pixel % width
        total = 0.0
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                row = windows_index[pixel + dy * width + dx] if 0 <= y + dy < guide.shape[0] \
                    and 0 <= x + dx < width else -1
                if row >= 0:
                    s = stats[row]
                    r = guide[y, x, 0] - s[0]
                    g = guide[y, x, 1] - s[1]
                    b = guide[y, x, 2] - s[2]
                    quad = (s[3] * r * r + s[6] * g * g + s[8] * b * b
                            + 2.0 * (s[4] * r * g + s[5] * r * b + s[7] * g * b))
                    total += 1.0 - (1.0 + quad) / 9.0
        out[index] = total


@parallel_kernel
def scatter(vector, indices, plane):
    """plane.flat[indices[i]] = vector[i]; plane: (h, w) float64."""
    flat = plane.reshape(plane.size)
    for index in prange(indices.shape[0]):
        flat[indices[index]] = vector[index]


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
def band_rows_into(guide, unknown, position, windows_index, stats, prior_weights, data,
                   columns):
    """L_UU (+ diag(prior_weights)) in a fixed 25-slot-per-row layout for a sparse solve.

    Row r (pixel i = unknown[r]) holds, in slot (dy + 2) * 5 + dx + 2, the entry of the
    pixel j = i + (dy, dx) when j is unknown: sum over the windows k holding both of
    delta_ij - (1 + (I_i - mu_k)^T D_k^-1 (I_j - mu_k)) / 9. position: (h * w,) int64,
    the row of each unknown pixel (-1 for known); windows_index as in
    `laplacian_diagonal`; data: (m, 25) float64 out; columns: (m, 25) int64 out (the
    column, or the row's own index with a 0 entry where j is known or outside).
    """
    height, width = guide.shape[0], guide.shape[1]
    for row in prange(unknown.shape[0]):
        pixel = unknown[row]
        y, x = pixel // width, pixel % width
        for slot in range(25):
            dy, dx = slot // 5 - 2, slot % 5 - 2
            data[row, slot] = 0.0
            columns[row, slot] = row
            ny, nx = y + dy, x + dx
            if ny < 0 or ny >= height or nx < 0 or nx >= width:
                continue
            other = position[pixel + dy * width + dx]
            if other < 0:
                continue
            columns[row, slot] = other
            total = 0.0
            for cy in range(max(y, ny) - 1, min(y, ny) + 2):
                for cx in range(max(x, nx) - 1, min(x, nx) + 2):
                    if not _valid_centre(cy, cx, height, width):
                        continue
                    s = stats[windows_index[cy * width + cx]]
                    r1, g1, b1 = guide[y, x, 0] - s[0], guide[y, x, 1] - s[1], guide[y, x, 2] - s[2]
                    r2, g2, b2 = guide[ny, nx, 0] - s[0], guide[ny, nx, 1] - s[1], guide[ny, nx, 2] - s[2]
                    quad = (s[3] * r1 * r2 + s[6] * g1 * g2 + s[8] * b1 * b2
                            + s[4] * (r1 * g2 + g1 * r2) + s[5] * (r1 * b2 + b1 * r2)
                            + s[7] * (g1 * b2 + b1 * g2))
                    total += (1.0 if slot == 12 else 0.0) - (1.0 + quad) / 9.0
            if slot == 12:
                total += prior_weights[row]
            data[row, slot] = total
