"""Shape rasterisation with exact pixel coverage, and the separable Gaussian for feather.

Coordinates are continuous pixels: pixel (x, y) covers [x, x+1] x [y, y+1]. Polygons are
rasterised by signed-area accumulation (the scheme of font-rs / stb_truetype v2): every
edge deposits, in each row it crosses, the exact area of each pixel lying to the right
of it; a prefix sum along each row then gives the winding-weighted coverage, and
min(1, |sum|) the coverage of a simple polygon (non-zero fill for crossing ones).
"""
import math

import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange

SNAP = 1e-5


@kernel
def interval_overlap(start, end, low, high):
    """Length of [start, end] intersected with [low, high] (0 if they do not meet)."""
    return max(0.0, min(end, high) - max(start, low))


@parallel_kernel
def rectangle_coverage_into(x0, y0, x1, y1, out):
    """Exact coverage of the axis-aligned box [x0, x1] x [y0, y1]; out: (H, W) float32."""
    height, width = out.shape
    for y in prange(height):
        row_cover = interval_overlap(y, y + 1.0, y0, y1)
        for x in range(width):
            out[y, x] = row_cover * interval_overlap(x, x + 1.0, x0, x1)


@kernel
def deposit(acc, row, index, amount):
    """acc[row, index] += amount where index lies on the canvas (the right border drops)."""
    if 0 <= index < acc.shape[1]:
        acc[row, index] += amount


@kernel
def deposit_span(acc, row, start_x, end_x, signed_height):
    """Deposit one row-piece of an edge from start_x to end_x (0 <= x <= width)."""
    low, high = min(start_x, end_x), max(start_x, end_x)
    low_floor = math.floor(low)
    low_index = int(low_floor)
    high_index = int(math.ceil(high))
    if high_index <= low_index + 1:
        middle = 0.5 * (start_x + end_x) - low_floor
        deposit(acc, row, low_index, signed_height * (1.0 - middle))
        deposit(acc, row, low_index + 1, signed_height * middle)
        return
    slope = 1.0 / (high - low)
    low_fraction = low - low_floor
    first = 0.5 * slope * (1.0 - low_fraction) ** 2
    high_fraction = high - high_index + 1.0
    last = 0.5 * slope * high_fraction ** 2
    deposit(acc, row, low_index, signed_height * first)
    if high_index == low_index + 2:
        deposit(acc, row, low_index + 1, signed_height * (1.0 - first - last))
    else:
        second = slope * (1.5 - low_fraction)
        deposit(acc, row, low_index + 1, signed_height * (second - first))
        for index in range(low_index + 2, high_index - 1):
            deposit(acc, row, index, signed_height * slope)
        before_last = second + (high_index - low_index - 3) * slope
        deposit(acc, row, high_index - 1, signed_height * (1.0 - before_last - last))
    deposit(acc, row, high_index, signed_height * last)


@kernel
def accumulate_line(acc, x0, y0, x1, y1):
    """Deposit the signed area right of one edge whose x lies within [0, width]."""
    if y0 == y1:
        return
    direction = 1.0
    if y0 > y1:
        x0, y0, x1, y1 = x1, y1, x0, y0
        direction = -1.0
    slope = (x1 - x0) / (y1 - y0)
    top = max(y0, 0.0)
    bottom = min(y1, float(acc.shape[0]))
    x = x0 + (top - y0) * slope
    row = int(math.floor(top))
    while row < bottom:
        piece_top = max(float(row), top)
        piece_bottom = min(row + 1.0, bottom)
        next_x = x + slope * (piece_bottom - piece_top)
        deposit_span(acc, row, x, next_x, direction * (piece_bottom - piece_top))
        x = next_x
        row += 1


@kernel
def accumulate_edge(acc, x0, y0, x1, y1):
    """Deposit one edge, split where it leaves [0, width] and clamped onto the border."""
    width = float(acc.shape[1])
    cut_left = (0.0 - x0) / (x1 - x0) if (x0 < 0.0) != (x1 < 0.0) else 2.0
    cut_right = (width - x0) / (x1 - x0) if (x0 > width) != (x1 > width) else 2.0
    first_cut, second_cut = min(cut_left, cut_right), max(cut_left, cut_right)
    previous = 0.0
    for cut in (first_cut, second_cut, 1.0):
        if cut > 1.0 or cut <= previous:
            continue
        start_x = min(max(x0 + (x1 - x0) * previous, 0.0), width)
        end_x = min(max(x0 + (x1 - x0) * cut, 0.0), width)
        accumulate_line(acc, start_x, y0 + (y1 - y0) * previous, end_x, y0 + (y1 - y0) * cut)
        previous = cut


@kernel
def accumulate_polygon(xs, ys, acc):
    """Deposit every edge of the closed polygon (xs[i], ys[i]); acc: (H, W) zeroed."""
    count = xs.shape[0]
    for index in range(count):
        following = (index + 1) % count
        accumulate_edge(acc, xs[index], ys[index], xs[following], ys[following])


@parallel_kernel
def coverage_from_accumulation(acc):
    """In place: prefix sum along each row, then min(1, |sum|), snapped to 0 or 1 within
    SNAP (rounding of the float32 deposits) so that flat regions are exactly flat."""
    height, width = acc.shape
    for y in prange(height):
        total = 0.0
        for x in range(width):
            total += acc[y, x]
            coverage = min(1.0, abs(total))
            if coverage < SNAP:
                coverage = 0.0
            elif coverage > 1.0 - SNAP:
                coverage = 1.0
            acc[y, x] = coverage


ROWS_PER_CHUNK = 32


@kernel
def column_sum(source, weights, y, x):
    """sum_k weights[k] * source[y + k, x]."""
    total = 0.0
    for k in range(weights.shape[0]):
        total += weights[k] * source[y + k, x]
    return total


@kernel
def row_sum(source, weights, y, x):
    """sum_k weights[k] * source[y, x + k]."""
    total = 0.0
    for k in range(weights.shape[0]):
        total += weights[k] * source[y, x + k]
    return total


@parallel_kernel
def blur_columns_valid(source, weights, out):
    """out[y, x] = sum_k weights[k] * source[y + k, x]; out: (H - K + 1, W).

    Shape masks are flat almost everywhere: every output first takes the centre tap
    (right wherever the window is flat), then only windows holding a change between
    two source rows are summed in full.
    """
    height, width = out.shape
    taps = weights.shape[0]
    radius = taps // 2
    chunks = (height + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK
    for chunk in prange(chunks):
        first = chunk * ROWS_PER_CHUNK
        last = min(first + ROWS_PER_CHUNK, height)
        for y in range(first, last):
            source_row = source[y + radius]
            out_row = out[y]
            for x in range(width):
                out_row[x] = source_row[x]
        done = np.full(width, first - 1, np.int64)
        for row in range(first + 1, last + taps - 1):
            low = max(row - taps + 1, first)
            high = min(row - 1, last - 1)
            current = source[row]
            above = source[row - 1]
            for x in range(width):
                if current[x] != above[x]:
                    for y in range(max(low, done[x] + 1), high + 1):
                        out[y, x] = column_sum(source, weights, y, x)
                    done[x] = max(done[x], high)


@parallel_kernel
def blur_rows_valid(source, weights, out):
    """out[y, x] = sum_k weights[k] * source[y, x + k]; out: (H, W - K + 1).

    As `blur_columns_valid`: the centre tap everywhere, full sums only near changes.
    """
    height, width = out.shape
    taps = weights.shape[0]
    radius = taps // 2
    for y in prange(height):
        source_row = source[y]
        out_row = out[y]
        for x in range(width):
            out_row[x] = source_row[x + radius]
        done = -1
        for column in range(1, width + taps - 1):
            if source_row[column] != source_row[column - 1]:
                high = min(column - 1, width - 1)
                for x in range(max(column - taps + 1, done + 1, 0), high + 1):
                    out_row[x] = row_sum(source, weights, y, x)
                done = max(done, high)


def gaussian_weights(sigma: float) -> np.ndarray:
    """Normalised (2r + 1,) float32 Gaussian taps, r = ceil(4 sigma)."""
    radius = max(1, int(math.ceil(4.0 * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).astype(np.float32)
