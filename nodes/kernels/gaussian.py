"""Gaussian blur whose cost does not grow with sigma, accurate to 1e-3 of the value range.

Two 1D filters, chosen by sigma (`gaussian_plan`):

- sigma < FIR_SIGMA_LIMIT: an exact FIR, the sampled Gaussian truncated at 4 sigma and
  normalised (what scipy.ndimage.gaussian_filter does); at most 2 * 4 * FIR_SIGMA_LIMIT + 1
  taps, so its cost is bounded too.
- larger sigma: Deriche's 4th-order recursive approximation (Deriche 1993; the
  coefficients and the causal / anticausal split follow Getreuer, "A Survey of Gaussian
  Convolution Algorithms", IPOL 2013). The recursion runs in float64; the coefficients
  are normalised so that the filter's DC gain is exactly 1.

Both filters extend the picture by repeating its edge pixels (scipy's mode 'nearest',
OpenCV's BORDER_REPLICATE); the recursive filter does so exactly by starting its states at
the steady response to the edge value. Recursive filters on mostly-zero masks decay into
denormal floats, which are ~5x slower: the input gets DENORMAL_OFFSET added on the way in
and removed on the way out.

Layout: the 2D kernels take a C-contiguous float32 (H, W, C) array (C = 1 for a mask, 4
for an image) and work on strips copied into padded (n + 2 * pad, lanes) buffers, so that
both passes run down axis 0 with the lanes contiguous (vectorised) and the strips in
parallel.
"""
import math

import numba
import numpy as np

from graph.jit import kernel, parallel_kernel, prange

FIR_SIGMA_LIMIT = 2.0
TRUNCATE = 4.0
DENORMAL_OFFSET = 1e-20
FLUSH_BELOW = 1e-17
STRIP_LANES = 64
ROW_STRIP = 16

# Deriche 1993, 4th order: h(t) = sum_k alpha_k exp(-lambda_k t / sigma), t >= 0, complex.
DERICHE_ALPHA = (0.84 + 1.8675j, 0.84 - 1.8675j, -0.34015 - 0.1299j, -0.34015 + 0.1299j)
DERICHE_LAMBDA = (1.783 + 0.6318j, 1.783 - 0.6318j, 1.723 + 1.997j, 1.723 - 1.997j)


def fir_weights(sigma: float) -> np.ndarray:
    """Sampled Gaussian, truncated at TRUNCATE sigma, normalised; shape (2 * radius + 1,)."""
    radius = max(1, int(TRUNCATE * sigma + 0.5))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def deriche_coefficients(sigma: float) -> np.ndarray:
    """Deriche 4th-order recursion coefficients for `sigma`, float64 (13,).

    Returns [b_causal(4), b_anticausal(4: taps 1..4), a(4: taps 1..4), unused]. The causal
    part is y[n] = sum_k b_causal[k] x[n-k] - sum_k a[k] y[n-k]; the anticausal part is
    z[n] = sum_k b_anti[k] x[n+k] - sum_k a[k] z[n+k]; the result is y + z.
    """
    poles = [np.exp(-lam / sigma) for lam in DERICHE_LAMBDA]
    denominator = np.array([1.0 + 0j])
    for pole in poles:
        denominator = np.polymul(denominator, [1.0, -pole])
    numerator = np.zeros(4, dtype=complex)
    for index, alpha in enumerate(DERICHE_ALPHA):
        partial = np.array([alpha])
        for other, pole in enumerate(poles):
            if other != index:
                partial = np.polymul(partial, [1.0, -pole])
        numerator += partial
    b_causal = numerator.real
    a = denominator.real[1:]
    b_anti = np.append(b_causal[1:], 0.0) - a * b_causal[0]
    gain = (b_causal.sum() + b_anti.sum()) / (1.0 + a.sum())
    return np.concatenate([b_causal / gain, b_anti / gain, a, [0.0]])


def gaussian_plan(sigma: float):
    """(use_recursive, coefficients float64, pad) for a blur of `sigma` pixels."""
    if sigma < FIR_SIGMA_LIMIT:
        weights = fir_weights(sigma)
        return False, weights, (weights.size - 1) // 2
    return True, deriche_coefficients(sigma), 4


@kernel
def _iir_lanes(xp, yp, state, n, coefficients):
    """Deriche filter down axis 0 of padded buffers: xp (n + 8, L) float32 in, yp out.

    xp rows 0..3 and n+4..n+7 hold the edge values (replicated); `state` is float64
    working memory of at least xp's shape.
    """
    lanes = xp.shape[1]
    b0, b1, b2, b3 = coefficients[0], coefficients[1], coefficients[2], coefficients[3]
    c1, c2, c3, c4 = coefficients[4], coefficients[5], coefficients[6], coefficients[7]
    a1, a2, a3, a4 = coefficients[8], coefficients[9], coefficients[10], coefficients[11]
    sum_a = 1.0 + a1 + a2 + a3 + a4
    causal_gain = (b0 + b1 + b2 + b3) / sum_a
    anti_gain = (c1 + c2 + c3 + c4) / sum_a
    for row in range(4):
        for lane in range(lanes):
            state[row, lane] = causal_gain * xp[0, lane]
    for row in range(4, n + 4):
        for lane in range(lanes):
            state[row, lane] = (b0 * xp[row, lane] + b1 * xp[row - 1, lane]
                                + b2 * xp[row - 2, lane] + b3 * xp[row - 3, lane]
                                - a1 * state[row - 1, lane] - a2 * state[row - 2, lane]
                                - a3 * state[row - 3, lane] - a4 * state[row - 4, lane])
    for row in range(4, n + 4):
        for lane in range(lanes):
            yp[row, lane] = state[row, lane]
    for row in range(n + 4, n + 8):
        for lane in range(lanes):
            state[row, lane] = anti_gain * xp[n + 7, lane]
    for row in range(n + 3, 3, -1):
        for lane in range(lanes):
            value = (c1 * xp[row + 1, lane] + c2 * xp[row + 2, lane]
                     + c3 * xp[row + 3, lane] + c4 * xp[row + 4, lane]
                     - a1 * state[row + 1, lane] - a2 * state[row + 2, lane]
                     - a3 * state[row + 3, lane] - a4 * state[row + 4, lane])
            state[row, lane] = value
            yp[row, lane] += value


@kernel
def _fir_lanes(xp, yp, n, weights):
    """Symmetric FIR down axis 0 of padded buffers: xp (n + 2 * pad, L) in, yp out."""
    pad = (weights.size - 1) // 2
    lanes = xp.shape[1]
    for row in range(pad, n + pad):
        for lane in range(lanes):
            yp[row, lane] = weights[pad] * xp[row, lane]
        for tap in range(1, pad + 1):
            weight = weights[pad + tap]
            for lane in range(lanes):
                yp[row, lane] += weight * (xp[row - tap, lane] + xp[row + tap, lane])


@kernel
def _filter_lanes(xp, yp, state, n, coefficients, recursive):
    if recursive:
        _iir_lanes(xp, yp, state, n, coefficients)
    else:
        _fir_lanes(xp, yp, n, coefficients)


@parallel_kernel
def _vertical_pass(src, out, coefficients, recursive, pad, offset, workers):
    """Filter every column of a (H, M) float32 array into `out` (H, M)."""
    height, columns = src.shape
    lanes = min(STRIP_LANES, columns)
    strips = (columns + lanes - 1) // lanes
    workers = min(workers, strips)
    for worker in prange(workers):
        xp = np.empty((height + 2 * pad, lanes), dtype=np.float32)
        yp = np.empty((height + 2 * pad, lanes), dtype=np.float32)
        state = np.empty((height + 2 * pad, lanes), dtype=np.float64)
        for strip in range(worker, strips, workers):
            start = min(strip * lanes, columns - lanes)
            for row in range(height + 2 * pad):
                source_row = min(max(row - pad, 0), height - 1)
                for lane in range(lanes):
                    xp[row, lane] = src[source_row, start + lane] + offset
            _filter_lanes(xp, yp, state, height, coefficients, recursive)
            for row in range(height):
                for lane in range(lanes):
                    out[row, start + lane] = yp[row + pad, lane]


@parallel_kernel
def _horizontal_pass(src, out, coefficients, recursive, pad, offset, workers):
    """Filter every row of a (H, W, C) float32 array into `out` (H, W, C)."""
    height, width, channels = src.shape
    rows = min(ROW_STRIP, height)
    lanes = rows * channels
    strips = (height + rows - 1) // rows
    workers = min(workers, strips)
    for worker in prange(workers):
        xp = np.empty((width + 2 * pad, lanes), dtype=np.float32)
        yp = np.empty((width + 2 * pad, lanes), dtype=np.float32)
        state = np.empty((width + 2 * pad, lanes), dtype=np.float64)
        for strip in range(worker, strips, workers):
            first = min(strip * rows, height - rows)
            for row in range(rows):
                for column in range(width + 2 * pad):
                    source_column = min(max(column - pad, 0), width - 1)
                    for channel in range(channels):
                        xp[column, row * channels + channel] = src[first + row, source_column,
                                                                   channel]
            _filter_lanes(xp, yp, state, width, coefficients, recursive)
            for row in range(rows):
                for column in range(width):
                    for channel in range(channels):
                        value = yp[column + pad, row * channels + channel] - offset
                        if abs(value) < FLUSH_BELOW:
                            value = np.float32(0.0)
                        out[first + row, column, channel] = value


def gaussian_blur_into(src, out, scratch, sigma):
    """Blur a C-contiguous float32 (H, W, C) array with a Gaussian of `sigma` pixels.

    Parameters
    ----------
    src : (H, W, C) float32, C-contiguous; not modified.
    out : (H, W, C) float32, the result.
    scratch : (H, W, C) float32, working memory (may not alias src or out).
    sigma : float > 0, in pixels.
    """
    recursive, coefficients, pad = gaussian_plan(float(sigma))
    offset = np.float32(DENORMAL_OFFSET if recursive else 0.0)
    workers = numba.get_num_threads()
    height, width, channels = src.shape
    _vertical_pass(src.reshape(height, width * channels),
                   scratch.reshape(height, width * channels), coefficients, recursive, pad,
                   offset, workers)
    _horizontal_pass(scratch, out, coefficients, recursive, pad, offset, workers)


def sigma_is_noop(sigma: float) -> bool:
    """True where a blur of `sigma` changes no float32 value meaningfully (sigma ~ 0)."""
    return not sigma > 0.0 or math.exp(-0.5 / (sigma * sigma)) < 1e-9
