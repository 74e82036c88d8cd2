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

Layout: `gaussian_blur_into` takes C-contiguous float32 (H, W, C) arrays (C = 1 for a
mask, 4 for an image). The vertical pass filters strips of STRIP_LANES columns down the
rows (contiguous lanes, vectorised); the horizontal pass transposes strips of ROW_STRIP
rows into (W, lanes) buffers and runs the same filter down them. The strips are shared
among threads that run serial nogil kernels: that compiles several times faster than a
prange kernel of the same loops and scales as well.
"""
import math
import types
import numba
import numpy as np

from nodes.kernels.bands import BANDS_PER_THREAD, POOL
from nodes.kernels.jit import kernel

FIR_SIGMA_LIMIT = 1.0
TRUNCATE = 4.0
DENORMAL_OFFSET = 1e-20
FLUSH_BELOW = 1e-17
STRIP_LANES = 64
ROW_STRIP = 32     # lanes of the horizontal pass: 32 mask rows, 8 RGBA rows


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
    """(use_recursive, coefficients float64) for a blur of `sigma` pixels."""
    if sigma < FIR_SIGMA_LIMIT:
        return False, fir_weights(sigma)
    return True, deriche_coefficients(sigma)


@kernel
def _iir_axis0(src, out, start, stop, coefficients, offset, history):
    """Deriche filter down axis 0 of columns start:stop of C-contiguous (n, M) float32
    arrays, src -> out (which may not alias).

    Rows beyond the ends repeat the edge rows. `offset` is added to the input (keeps the
    recursion out of denormals); `history` is float64 (8, >= stop - start) memory.
    """
    n = src.shape[0]
    lanes = stop - start
    b0, b1, b2, b3 = coefficients[0], coefficients[1], coefficients[2], coefficients[3]
    c1, c2, c3, c4 = coefficients[4], coefficients[5], coefficients[6], coefficients[7]
    a1, a2, a3, a4 = coefficients[8], coefficients[9], coefficients[10], coefficients[11]
    sum_a = 1.0 + a1 + a2 + a3 + a4
    causal_gain = (b0 + b1 + b2 + b3) / sum_a
    anti_gain = (c1 + c2 + c3 + c4) / sum_a
    y1, y2, y3, y4 = history[0], history[1], history[2], history[3]
    for lane in range(lanes):
        edge = causal_gain * (src[0, start + lane] + offset)
        y1[lane] = edge
        y2[lane] = edge
        y3[lane] = edge
        y4[lane] = edge
    for row in range(n):
        x0, x1 = src[row, start:stop], src[max(row - 1, 0), start:stop]
        x2, x3 = src[max(row - 2, 0), start:stop], src[max(row - 3, 0), start:stop]
        target = out[row, start:stop]
        for lane in range(lanes):
            value = (b0 * (x0[lane] + offset) + b1 * (x1[lane] + offset)
                     + b2 * (x2[lane] + offset) + b3 * (x3[lane] + offset)
                     - a1 * y1[lane] - a2 * y2[lane] - a3 * y3[lane] - a4 * y4[lane])
            target[lane] = value
            y4[lane] = value
        y1, y2, y3, y4 = y4, y1, y2, y3
    z1, z2, z3, z4 = history[4], history[5], history[6], history[7]
    for lane in range(lanes):
        edge = anti_gain * (src[n - 1, start + lane] + offset)
        z1[lane] = edge
        z2[lane] = edge
        z3[lane] = edge
        z4[lane] = edge
    for row in range(n - 1, -1, -1):
        x1, x2 = src[min(row + 1, n - 1), start:stop], src[min(row + 2, n - 1), start:stop]
        x3, x4 = src[min(row + 3, n - 1), start:stop], src[min(row + 4, n - 1), start:stop]
        target = out[row, start:stop]
        for lane in range(lanes):
            value = (c1 * (x1[lane] + offset) + c2 * (x2[lane] + offset)
                     + c3 * (x3[lane] + offset) + c4 * (x4[lane] + offset)
                     - a1 * z1[lane] - a2 * z2[lane] - a3 * z3[lane] - a4 * z4[lane])
            z4[lane] = value
            total = target[lane] + value - offset
            target[lane] = total if abs(total) >= FLUSH_BELOW else 0.0
        z1, z2, z3, z4 = z4, z1, z2, z3


@kernel
def _fir_axis0(src, out, start, stop, weights, offset, history):
    """Symmetric FIR down axis 0 of columns start:stop of C-contiguous (n, M) float32
    arrays, src -> out; edge rows repeat. (offset and history unused: the arguments of
    `_iir_axis0`.)"""
    n = src.shape[0]
    lanes = stop - start
    radius = (weights.size - 1) // 2
    for row in range(n):
        target, centre = out[row, start:stop], src[row, start:stop]
        for lane in range(lanes):
            target[lane] = weights[radius] * centre[lane]
        for tap in range(1, radius + 1):
            weight = np.float32(weights[radius + tap])
            before = src[max(row - tap, 0), start:stop]
            after = src[min(row + tap, n - 1), start:stop]
            for lane in range(lanes):
                target[lane] += weight * (before[lane] + after[lane])


def _vertical_strips(src, out, coefficients, offset, history, worker, workers):
    """Filter the columns of a (H, M) float32 array into `out` (H, M): the strips of
    `history.shape[1]` columns numbered worker, worker + workers, ... (one thread's
    share). Template: `filter_axis0` is bound per filter (`STRIP_KERNELS`)."""
    columns = src.shape[1]
    lanes = history.shape[1]
    strips = (columns + lanes - 1) // lanes
    for strip in range(worker, strips, workers):
        start = strip * lanes
        filter_axis0(src, out, start, min(start + lanes, columns), coefficients,  # noqa: F821
                     offset, history)


@kernel
def _transpose_rows_in(src, first, rows, channels, across):
    """across[column, row * C + channel] = src[first + row, column * C + channel]."""
    width = src.shape[1] // channels
    for row in range(rows):
        line = src[first + row]
        if channels == 1:
            for column in range(width):
                across[column, row] = line[column]
            continue
        for column in range(width):
            for channel in range(channels):
                across[column, row * channels + channel] = line[column * channels + channel]


@kernel
def _transpose_rows_out(filtered, first, rows, channels, out):
    """out[first + row, column * C + channel] = filtered[column, row * C + channel]."""
    width = out.shape[1] // channels
    for row in range(rows):
        line = out[first + row]
        if channels == 1:
            for column in range(width):
                line[column] = filtered[column, row]
            continue
        for column in range(width):
            for channel in range(channels):
                line[column * channels + channel] = filtered[column, row * channels + channel]


def _horizontal_strips(src, out, channels, coefficients, across, across_view, filtered,
                       history, worker, workers):
    """Filter the rows of a (H, W * C) float32 array (C interleaved channels) into `out`
    (which may be `src`): the strips of ROW_STRIP / C rows numbered worker,
    worker + workers, ..., each transposed into `across` (W, rows * C) so that the filter
    runs down its lanes. `across_view` is a read-only view of `across`: the filter reads
    its input read-only in both passes, so it compiles once. Template: `filter_axis0` is
    bound per filter (`STRIP_KERNELS`)."""
    height = src.shape[0]
    rows = across.shape[1] // channels
    strips = (height + rows - 1) // rows
    for strip in range(worker, strips, workers):
        first = strip * rows
        strip_rows = min(rows, height - first)
        _transpose_rows_in(src, first, strip_rows, channels, across)
        filter_axis0(across_view, filtered, np.int64(0), strip_rows * channels,  # noqa: F821
                     coefficients, np.float32(0.0), history)
        _transpose_rows_out(filtered, first, strip_rows, channels, out)


def _bound(template, filter_axis0, name):
    """A serial kernel of `template` with `filter_axis0` bound, named `name` (one compiled
    kernel per filter, so a blur compiles only the filter its sigma uses)."""
    function = types.FunctionType(template.__code__, dict(globals(), filter_axis0=filter_axis0),
                                  name)
    function.__qualname__ = name
    function.__doc__ = template.__doc__
    return kernel(function)


# recursive -> (vertical pass kernel, horizontal pass kernel)
STRIP_KERNELS = {
    recursive: (_bound(_vertical_strips, filter_axis0, f"vertical_strips_{kind}"),
                _bound(_horizontal_strips, filter_axis0, f"horizontal_strips_{kind}"))
    for recursive, filter_axis0, kind in ((True, _iir_axis0, "iir"), (False, _fir_axis0, "fir"))
}


def _horizontal_buffers(height, width, channels):
    """One thread's buffers for _horizontal_strips: across, its read-only view, filtered,
    history."""
    lanes = min(max(1, ROW_STRIP // channels), height) * channels
    across = np.empty((width, lanes), dtype=np.float32)
    return across, read_only(across), np.empty_like(across), np.empty((8, lanes))


def read_only(array):
    """A read-only view of `array` (kernels take their inputs read-only, so that a cached
    engine result and a fresh array share one compiled specialisation)."""
    view = array.view()
    view.flags.writeable = False
    return view


def _run_threads(function, arguments, buffers=lambda: ()):
    """Run function(*arguments, *buffers(), share, shares) for BANDS_PER_THREAD shares per
    thread of numba's thread count (the kernels release the GIL; threads take the shares
    as they come free), each share with its own buffers, and wait for all."""
    threads = max(1, numba.get_num_threads())
    if threads == 1:
        function(*arguments, *buffers(), 0, 1)
        return
    shares = threads * BANDS_PER_THREAD
    futures = [POOL.submit(function, *arguments, *buffers(), share, shares)
               for share in range(shares)]
    for future in futures:
        future.result()


def gaussian_blur_into(src, out, sigma):
    """Blur a C-contiguous float32 (H, W, C) array with a Gaussian of `sigma` pixels.

    Parameters
    ----------
    src : (H, W, C) float32, C-contiguous; not modified.
    out : (H, W, C) float32, the result; must not alias src.
    sigma : float > 0, in pixels.
    """
    recursive, coefficients = gaussian_plan(float(sigma))
    height, width, channels = src.shape
    flat_src = read_only(src.reshape(height, width * channels))
    flat_out = out.reshape(height, width * channels)
    vertical, horizontal = STRIP_KERNELS[recursive]
    offset = np.float32(DENORMAL_OFFSET if recursive else 0.0)
    lanes = min(STRIP_LANES, width * channels)
    _run_threads(vertical, (flat_src, flat_out, coefficients, offset),
                 lambda: (np.empty((8, lanes)),))
    # in place: each strip of rows is copied into a buffer before it is overwritten
    _run_threads(horizontal, (flat_out, flat_out, channels, coefficients),
                 lambda: _horizontal_buffers(height, width, channels))


def sigma_is_noop(sigma: float) -> bool:
    """True where a blur of `sigma` changes no float32 value meaningfully (sigma ~ 0)."""
    return not sigma > 0.0 or math.exp(-0.5 / (sigma * sigma)) < 1e-9
