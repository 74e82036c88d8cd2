"""Pointwise mask kernels and the per-pixel steps of grow.

Every kernel takes C-contiguous float32 (H, W) arrays and writes into `out`; no
validation, no allocation of frames.
"""
import math

import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange, scalar
from nodes.kernels import distance

# Below this gradient magnitude (mask units per pixel) grow takes the direction to the
# nearest core pixel instead of the mask's gradient: flat areas and faint noise.
GRADIENT_MIN = 0.02
# Mask values below this do not extend the halo within which grow visits zero pixels.
HALO_MIN = 1e-4
# Extra samples on the circle of the radius for soft core pixels and for pixels within
# the radius of the core, so that a maximum lying off the gradient and off the
# nearest-edge direction (saddles, small holes) is still found. (Farther out the
# direction to the nearest core pixel is reliable; ring samples there would draw star
# patterns around small blobs.)
RING_SAMPLES = 8
# Inside the core the gradient is trusted down to this slope (a smooth tail towards 1).
INSIDE_GRADIENT_MIN = 1e-4
# Columns per flag of `classify_blocks`.
BLOCK_WIDTH = 64


@kernel
def count_nonfinite(values, first, stop):
    """Number of NaN or infinite values in values[first:stop] of a 1D float32 array (pass
    array.reshape(-1)); a band kernel (nodes/kernels/bands.py)."""
    total = 0
    for index in range(first, stop):
        if not math.isfinite(values[index]):
            total += 1
    return total


@scalar
def _block_flags(values):
    """Whether a 1D float32 array holds a value strictly between 0 and 1, and whether it
    holds one <= 0 (branch-free: vectorised)."""
    soft = 0
    zero = 0
    for index in range(values.size):
        soft += (values[index] > 0.0) & (values[index] < 1.0)
        zero += values[index] <= 0.0
    return soft > 0, zero > 0


@parallel_kernel
def classify_blocks(mask, soft_blocks, zero_blocks):
    """Flags per block of BLOCK_WIDTH columns of a row: soft_blocks[row, block] = whether
    mask[row, block * BLOCK_WIDTH:(block + 1) * BLOCK_WIDTH] holds a value strictly
    between 0 and 1, zero_blocks[row, block] = whether it holds one <= 0.

    Parameters
    ----------
    mask : (H, W) float32.
    soft_blocks, zero_blocks : (H, ceil(W / BLOCK_WIDTH)) bool out.
    """
    height, width = mask.shape
    for row in prange(height):
        for block in range(soft_blocks.shape[1]):
            start = block * BLOCK_WIDTH
            soft_blocks[row, block], zero_blocks[row, block] = _block_flags(
                mask[row, start:min(start + BLOCK_WIDTH, width)])


@scalar
def _any_block(flags, first_column, last_column):
    """Whether a row of block flags is set for a block holding a column in [first_column,
    last_column]."""
    for block in range(first_column // BLOCK_WIDTH, last_column // BLOCK_WIDTH + 1):
        if flags[block]:
            return True
    return False


@parallel_kernel
def subtract_into(a, b, out):
    """out = a * (1 - b), (H, W)."""
    for row in prange(a.shape[0]):
        for column in range(a.shape[1]):
            out[row, column] = a[row, column] * (np.float32(1.0) - b[row, column])


@parallel_kernel
def difference_into(a, b, out):
    """out = |a - b|, (H, W)."""
    for row in prange(a.shape[0]):
        for column in range(a.shape[1]):
            out[row, column] = abs(a[row, column] - b[row, column])


@parallel_kernel
def threshold_into(mask, low, high, out):
    """Step at (low + high) / 2, smooth (smoothstep) between low and high; (H, W).

    low == high gives the hard step mask >= low.
    """
    width = high - low
    for row in prange(mask.shape[0]):
        for column in range(mask.shape[1]):
            value = mask[row, column]
            if value >= high:
                out[row, column] = 1.0
            elif value < low or width <= 0.0:
                out[row, column] = 0.0
            else:
                t = (value - low) / width
                out[row, column] = t * t * (3.0 - 2.0 * t)


@parallel_kernel
def levels_into(mask, low, high, inverse_gamma, out):
    """out = clamp((mask - low) / (high - low), 0, 1) ** inverse_gamma, (H, W)."""
    scale = 1.0 / (high - low)
    for row in prange(mask.shape[0]):
        for column in range(mask.shape[1]):
            value = (mask[row, column] - low) * scale
            if value <= 0.0:
                out[row, column] = 0.0
            elif value >= 1.0:
                out[row, column] = 1.0
            elif inverse_gamma == 1.0:
                out[row, column] = value
            else:
                out[row, column] = value ** inverse_gamma


@kernel
def _bilinear(mask, x, y):
    """Bilinear sample of an (H, W) mask at continuous index (x, y), edges clamped."""
    height, width = mask.shape
    x = min(max(x, 0.0), width - 1.0)
    y = min(max(y, 0.0), height - 1.0)
    left, top = min(int(x), width - 2), min(int(y), height - 2)
    left, top = max(left, 0), max(top, 0)
    fx, fy = x - left, y - top
    right, bottom = min(left + 1, width - 1), min(top + 1, height - 1)
    upper = mask[top, left] + fx * (mask[top, right] - mask[top, left])
    lower = mask[bottom, left] + fx * (mask[bottom, right] - mask[bottom, left])
    return upper + fy * (lower - upper)


@kernel
def _uphill(mask, row, column):
    """Sobel gradient (gx, gy) of the mask at a pixel, per pixel, edges clamped."""
    height, width = mask.shape
    up, down = max(row - 1, 0), min(row + 1, height - 1)
    left, right = max(column - 1, 0), min(column + 1, width - 1)
    gx = (mask[up, right] + 2.0 * mask[row, right] + mask[down, right]
          - mask[up, left] - 2.0 * mask[row, left] - mask[down, left]) * 0.125
    gy = (mask[down, left] + 2.0 * mask[down, column] + mask[down, right]
          - mask[up, left] - 2.0 * mask[up, column] - mask[up, right]) * 0.125
    return gx, gy


@scalar
def _grown_value(mask, row, column, nearest_row, nearest_column, radius, unreachable,
                 ring_x, ring_y):
    """Soft grow of one pixel (see `grow_soft_into`): the largest of its value and the
    values found `radius` away. (nearest_row, nearest_column): its nearest core pixel
    where mask < 0.5 and one lies within the band, nearest_row = -1 otherwise. Zero
    pixels farther than sqrt(unreachable) from the core keep their value."""
    value = mask[row, column]
    best = value
    if value >= 1.0:
        return best
    distance_squared = np.float32(np.inf)
    if nearest_row >= 0:
        distance_squared = np.float32((nearest_row - row) * (nearest_row - row)
                                      + (nearest_column - column) * (nearest_column - column))
    if value <= 0.0 and distance_squared > unreachable:
        return best
    radius_squared = radius * radius
    outside = nearest_row >= 0
    if outside:
        if distance_squared <= radius_squared:
            best = max(best, mask[nearest_row, nearest_column])
        step = radius / math.sqrt(distance_squared)
        best = max(best, _bilinear(mask, column + step * (nearest_column - column),
                                   row + step * (nearest_row - row)))
        if best >= 1.0:                      # reached a solid core: nothing can be higher
            return best
    if value > 0.0:
        gx, gy = _uphill(mask, row, column)
        slope = math.sqrt(gx * gx + gy * gy)
        if slope >= GRADIENT_MIN or (value >= 0.5 and slope > INSIDE_GRADIENT_MIN):
            best = max(best, _bilinear(mask, column + radius * gx / slope,
                                       row + radius * gy / slope))
    ring = value >= 0.5 or (outside and distance_squared <= radius_squared)
    for direction in range(RING_SAMPLES if ring and best < 1.0 else 0):
        best = max(best, _bilinear(mask, column + ring_x[direction], row + ring_y[direction]))
    return best


@scalar
def _ring(radius):
    """The RING_SAMPLES offsets (x, y) on the circle of `radius`."""
    ring_x = np.empty(RING_SAMPLES)
    ring_y = np.empty(RING_SAMPLES)
    for direction in range(RING_SAMPLES):
        ring_x[direction] = radius * math.cos(direction * 2.0 * math.pi / RING_SAMPLES)
        ring_y[direction] = radius * math.sin(direction * 2.0 * math.pi / RING_SAMPLES)
    return ring_x, ring_y


@scalar
def _grow_soft_row(mask, row, nearest_rows, count, parabola_at, boundary, heights, cap,
                   soft_blocks, radius, ring_x, ring_y, out_row):
    """Soft grow of the pixels with 0 < mask < 1 of one row, given its envelope
    (kernels.distance.banded_envelope); returns the row's halo and far count (see
    `grow_soft_into`)."""
    width = out_row.size
    cap_squared = float(cap) * float(cap)
    halo = np.float32(0.0)
    far = 0
    segment = 0
    for block in range(soft_blocks.shape[1]):
        if not soft_blocks[row, block]:
            continue
        for column in range(block * BLOCK_WIDTH, min((block + 1) * BLOCK_WIDTH, width)):
            value = mask[row, column]
            if value <= 0.0 or value >= 1.0:
                continue
            nearest_row = -1
            nearest_column = 0
            if value < 0.5:
                squared = np.inf
                if count > 0:
                    while boundary[segment + 1] < column:
                        segment += 1
                    nearest_column = parabola_at[segment]
                    squared = distance.parabola_squared(heights, nearest_column, column)
                if squared > cap_squared:
                    far += 1
                else:
                    nearest_row = nearest_rows[nearest_column]
                    if value >= HALO_MIN:
                        halo = max(halo, np.float32(squared))
            out_row[column] = _grown_value(mask, row, column, nearest_row, nearest_column,
                                           radius, np.inf, ring_x, ring_y)
    return halo, far


@parallel_kernel
def grow_soft_into(mask, nearest_row, cap, soft_blocks, radius, out, envelope, row_count,
                   row_halo, row_far, chunks):
    """Soft grow, first pass: every pixel but the zero pixels near the core (which need
    the halo's reach, `grow_near_core_into`), the rows' distance envelopes, and the
    halo's reach.

    Moves a soft mask's edge outward by `radius` pixels, keeping its profile: each pixel
    takes the largest of its own value and the values found `radius` pixels away: up
    the mask's (Sobel) gradient, towards the nearest core pixel (mask >= 0.5) for pixels
    outside the core, and on a ring of RING_SAMPLES directions for soft pixels inside it
    and for pixels within `radius` of it. Pixels within `radius` of the core also take
    that core pixel's value, so the 0.5 contour moves by exactly `radius`. Every sample
    lies within `radius` (plus the bilinear footprint) of the pixel, so the result lies
    between the mask and its grey dilation by a disc of radius + 1.5.

    Nearest core pixels are looked for within `cap` pixels (kernels.distance.
    banded_envelope). Values >= 1 and zeros keep their value here; only soft pixels
    (`soft_blocks`) are visited.

    Parameters
    ----------
    mask : (H, W) float32 in [0, 1]; nearest_row : (H, W) int32 from
        kernels.distance.nearest_row_in_column (threshold 0.5, below=False).
    cap : int >= 0, pixels.
    soft_blocks : (H, ceil(W / BLOCK_WIDTH)) bool from `classify_blocks`.
    radius : float > 0, pixels.
    out : (H, W) float32 out.
    envelope : (H, W) int32 out; envelope[row, :row_count[row]] is the row's envelope
        (kernels.distance.envelope_features).
    row_count : (H,) int64 out.
    row_halo : (H,) float32 out; the largest squared distance to the nearest core pixel
        of a pixel with HALO_MIN <= mask < 0.5 that has one within cap (0 if none).
    row_far : (H,) int32 out; the number of pixels with 0 < mask < 0.5 that have none.
    chunks : int, number of parallel chunks of rows (1 <= chunks <= H).
    """
    height, width = mask.shape
    ring_x, ring_y = _ring(radius)
    for chunk in prange(chunks):
        parabola_at = np.empty(width, dtype=np.int64)
        boundary = np.empty(width + 1, dtype=np.float64)
        heights = np.empty(width, dtype=np.float64)
        for row in range(chunk * height // chunks, (chunk + 1) * height // chunks):
            nearest_rows, out_row = nearest_row[row], out[row]
            out_row[:] = mask[row]
            count = distance.banded_envelope(row, nearest_rows, cap, parabola_at, boundary,
                                             heights)
            distance.envelope_features(row, nearest_rows, count, parabola_at, envelope[row])
            row_count[row] = count
            row_halo[row], row_far[row] = _grow_soft_row(
                mask, row, nearest_rows, count, parabola_at, boundary, heights, cap,
                soft_blocks, radius, ring_x, ring_y, out_row)


@scalar
def _grow_near_core_row(mask, row, features, count, zero_flags, limit, radius, unreachable,
                        ring_x, ring_y, out_row):
    """Soft grow of the pixels with mask <= 0 of one row whose nearest core pixel lies
    within squared distance `limit`, given the row's stored envelope (see
    `grow_near_core_into`)."""
    width = out_row.size
    for segment in range(count):
        nearest_row, nearest_column = distance.feature_at(features, segment, width)
        offset = nearest_row - row
        reach = distance.within_reach(limit, float(offset * offset))
        if reach < 0 or not _any_block(zero_flags, max(nearest_column - reach, 0),
                                       min(nearest_column + reach, width - 1)):
            continue                             # no zero pixel within the limit
        low = distance.envelope_boundary(row, features, segment, width) if segment > 0 \
            else -np.inf
        high = distance.envelope_boundary(row, features, segment + 1, width) \
            if segment < count - 1 else np.inf
        start, stop = distance.segment_columns(low, high, segment, count, width)
        for column in range(max(start, nearest_column - reach),
                            min(stop, nearest_column + reach) + 1):
            if mask[row, column] <= 0.0:
                out_row[column] = _grown_value(mask, row, column, nearest_row, nearest_column,
                                               radius, unreachable, ring_x, ring_y)


@parallel_kernel
def grow_near_core_into(mask, zero_blocks, envelope, row_count, cap, radius, halo, out):
    """Soft grow, second pass: the pixels with mask <= 0 near the core (see
    `grow_soft_into`, which did the others).

    Parameters
    ----------
    mask : (H, W) float32 in [0, 1].
    zero_blocks : (H, ceil(W / BLOCK_WIDTH)) bool from `classify_blocks`.
    envelope, row_count : the rows' distance envelopes within `cap`, from
        `grow_soft_into`.
    cap : int, pixels.
    radius : float > 0, pixels.
    halo : float, the largest squared distance to the core of a pixel with HALO_MIN <=
        mask < 0.5 (the soft halo's reach): zero pixels farther than radius + sqrt(halo)
        (+ the bilinear footprint) from the core cannot change and are skipped. Fainter
        values (the far tails of a blur) do not count: missing them costs at most
        HALO_MIN.
    out : (H, W) float32, from `grow_soft_into`.
    """
    height, width = mask.shape
    unreachable = (radius + math.sqrt(halo) + 2.0) ** 2
    # a float32 squared distance <= unreachable is an integer below this
    limit = min(float(cap) * float(cap), unreachable * (1.0 + 1e-6) + 1.0)
    ring_x, ring_y = _ring(radius)
    for row in prange(height):
        _grow_near_core_row(mask, row, envelope[row], row_count[row], zero_blocks[row], limit,
                            radius, unreachable, ring_x, ring_y, out[row])
