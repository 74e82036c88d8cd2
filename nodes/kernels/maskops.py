"""Pointwise mask kernels and the per-pixel steps of grow.

Every kernel takes C-contiguous float32 (H, W) arrays and writes into `out`; no
validation, no allocation of frames.
"""
import math

import numpy as np

from graph.jit import kernel, parallel_kernel, prange

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


@parallel_kernel
def count_nonfinite(values):
    """Number of NaN or infinite values in a 1D float32 array (pass array.reshape(-1))."""
    total = 0
    for index in prange(values.size):
        if not math.isfinite(values[index]):
            total += 1
    return total


@parallel_kernel
def count_soft(mask):
    """Number of values strictly between 0 and 1 in an (H, W) float32 mask."""
    total = 0
    for row in prange(mask.shape[0]):
        for column in range(mask.shape[1]):
            value = mask[row, column]
            if value > 0.0 and value < 1.0:
                total += 1
    return total


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


@parallel_kernel
def soft_grow_into(mask, feature, radius, halo, out):
    """Move a soft mask's edge outward by `radius` pixels, keeping its profile.

    Each pixel takes the largest of its own value and the values found `radius` pixels
    away: up the mask's (Sobel) gradient, towards the nearest core pixel (mask >= 0.5)
    for pixels outside the core, and on a ring of RING_SAMPLES directions for soft pixels
    inside it and for pixels within `radius` of it. Pixels within `radius` of the core
    also take that core pixel's value, so the 0.5 contour moves by exactly `radius`.
    Every sample lies within `radius` (plus the bilinear footprint) of the pixel, so the
    result lies between the mask and its grey dilation by a disc of radius + 1.5.

    Parameters
    ----------
    mask : (H, W) float32 in [0, 1].
    feature : (H, W) int32, flat index of the nearest core pixel (mask >= 0.5) where mask
        < 0.5, -1 where there is none or it is farther than every pixel that can change
        (kernels.distance.features_within; not read where mask >= 0.5).
    radius : float > 0, pixels.
    halo : float, the largest squared distance to the core of a pixel with HALO_MIN <=
        mask < 0.5 (the soft halo's reach): zero pixels farther than radius + sqrt(halo)
        (+ the bilinear footprint) from the core cannot change and are skipped. Fainter
        values (the far tails of a blur) do not count: missing them costs at most
        HALO_MIN.
    out : (H, W) float32.
    """
    height, width = mask.shape
    radius_squared = radius * radius
    unreachable = (radius + math.sqrt(halo) + 2.0) ** 2
    inverse_width = 1.0 / width
    ring_x = np.empty(RING_SAMPLES)
    ring_y = np.empty(RING_SAMPLES)
    for direction in range(RING_SAMPLES):
        ring_x[direction] = radius * math.cos(direction * 2.0 * math.pi / RING_SAMPLES)
        ring_y[direction] = radius * math.sin(direction * 2.0 * math.pi / RING_SAMPLES)
    for row in prange(height):
        for column in range(width):
            value = mask[row, column]
            best = value
            if value >= 1.0:
                out[row, column] = value
                continue
            nearest = -1
            nearest_row = nearest_column = 0
            distance_squared = np.float32(np.inf)        # float32, as it was stored
            if value < 0.5:
                nearest = feature[row, column]
                if nearest >= 0:
                    nearest_row = int((nearest + 0.5) * inverse_width)
                    nearest_column = nearest - nearest_row * width
                    distance_squared = np.float32((
                        (nearest_row - row) * (nearest_row - row)
                        + (nearest_column - column) * (nearest_column - column)))
                if value <= 0.0 and distance_squared > unreachable:
                    out[row, column] = value
                    continue
            outside = value < 0.5 and nearest >= 0
            if outside:
                if distance_squared <= radius_squared:
                    best = max(best, mask[nearest_row, nearest_column])
                step = radius / math.sqrt(distance_squared)
                best = max(best, _bilinear(mask, column + step * (nearest_column - column),
                                           row + step * (nearest_row - row)))
                if best >= 1.0:              # reached a solid core: nothing can be higher
                    out[row, column] = best
                    continue
            if value > 0.0:
                gx, gy = _uphill(mask, row, column)
                slope = math.sqrt(gx * gx + gy * gy)
                if slope >= GRADIENT_MIN or (value >= 0.5 and slope > INSIDE_GRADIENT_MIN):
                    best = max(best, _bilinear(mask, column + radius * gx / slope,
                                               row + radius * gy / slope))
            ring = value >= 0.5 or (outside and distance_squared <= radius_squared)
            for direction in range(RING_SAMPLES if ring and best < 1.0 else 0):
                best = max(best, _bilinear(mask, column + ring_x[direction],
                                           row + ring_y[direction]))
            out[row, column] = best
