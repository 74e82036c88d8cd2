"""Telea (2004) inpainting: fast marching from the hole's edge inwards.

Pixels are filled in order of their distance T from the known region (an upwind solution
of |grad T| = 1 kept in a binary min-heap). Each newly reached pixel p takes a weighted
mean of the values I(q) of known pixels q within `radius`, with Telea's weights:
direction (alignment of p - q with grad T), distance (1 / |p - q|^3, as OpenCV uses) and
level-set (1 / (1 + |T(p) - T(q)|)). Telea's first-order term grad I(q) . (p - q) is left
out: on real photographs it amplifies noise along the front (OpenCV, too, only keeps a
normalised, bounded version of it).

Flags: KNOWN pixels are original, BAND pixels have a value and a final T, INSIDE pixels
are still to be filled. The caller allocates every array; nothing here validates.
"""
import math

import numpy as np

from nodes.kernels.jit import kernel

KNOWN = 0
BAND = 1
INSIDE = 2
FAR = 1.0e6


@kernel
def heap_push(heap_time, heap_index, size, time, index):
    """Push (time, index) on a binary min-heap held in two arrays; returns the new size."""
    position = size
    while position > 0:
        parent = (position - 1) >> 1
        if heap_time[parent] <= time:
            break
        heap_time[position] = heap_time[parent]
        heap_index[position] = heap_index[parent]
        position = parent
    heap_time[position] = time
    heap_index[position] = index
    return size + 1


@kernel
def heap_pop(heap_time, heap_index, size):
    """Remove the smallest entry; returns (index, new size)."""
    top = heap_index[0]
    size -= 1
    last_time = heap_time[size]
    last_index = heap_index[size]
    position = 0
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and heap_time[child + 1] < heap_time[child]:
            child += 1
        if heap_time[child] >= last_time:
            break
        heap_time[position] = heap_time[child]
        heap_index[position] = heap_index[child]
        position = child
    heap_time[position] = last_time
    heap_index[position] = last_index
    return top, size


@kernel
def _usable(flags, y, x):
    """True when (y, x) lies in the image and already has a value."""
    return 0 <= y < flags.shape[0] and 0 <= x < flags.shape[1] and flags[y, x] != INSIDE


@kernel
def _solve_pair(flags, times, y1, x1, y2, x2):
    """Upwind eikonal solution from one vertical and one horizontal neighbour."""
    first = _usable(flags, y1, x1)
    second = _usable(flags, y2, x2)
    if first and second:
        t1, t2 = times[y1, x1], times[y2, x2]
        if abs(t1 - t2) >= 1.0:
            return 1.0 + min(t1, t2)
        return 0.5 * (t1 + t2 + math.sqrt(2.0 - (t1 - t2) * (t1 - t2)))
    if first:
        return 1.0 + times[y1, x1]
    if second:
        return 1.0 + times[y2, x2]
    return FAR


@kernel
def arrival_time(flags, times, y, x):
    """T at (y, x) from its four neighbours (the smallest of the four quadrant solutions)."""
    best = _solve_pair(flags, times, y - 1, x, y, x - 1)
    best = min(best, _solve_pair(flags, times, y + 1, x, y, x - 1))
    best = min(best, _solve_pair(flags, times, y - 1, x, y, x + 1))
    return min(best, _solve_pair(flags, times, y + 1, x, y, x + 1))


@kernel
def _time_slope(flags, times, y, x, step_y, step_x):
    """Finite difference of T at (y, x) along one axis, from non-INSIDE neighbours."""
    ahead = _usable(flags, y + step_y, x + step_x)
    behind = _usable(flags, y - step_y, x - step_x)
    if ahead and behind:
        return 0.5 * (times[y + step_y, x + step_x] - times[y - step_y, x - step_x])
    if ahead:
        return times[y + step_y, x + step_x] - times[y, x]
    if behind:
        return times[y, x] - times[y - step_y, x - step_x]
    return 0.0


@kernel
def fill_pixel(image, flags, times, y, x, radius, sums):
    """Telea's weighted estimate of image[y, x] from known pixels within `radius`.

    `sums` is a float64 scratch array of length channels.
    """
    height, width, channels = image.shape
    grad_ty = _time_slope(flags, times, y, x, 1, 0)
    grad_tx = _time_slope(flags, times, y, x, 0, 1)
    for channel in range(channels):
        sums[channel] = 0.0
    total = 0.0
    for qy in range(max(y - radius, 0), min(y + radius + 1, height)):
        for qx in range(max(x - radius, 0), min(x + radius + 1, width)):
            if flags[qy, qx] == INSIDE:
                continue
            ry, rx = y - qy, x - qx
            length2 = ry * ry + rx * rx
            if length2 > radius * radius:
                continue
            direction = rx * grad_tx + ry * grad_ty
            if abs(direction) <= 0.01:
                direction = 1.0e-6
            level = 1.0 / (1.0 + abs(times[qy, qx] - times[y, x]))
            weight = abs(direction * level / (length2 * math.sqrt(length2)))
            total += weight
            for channel in range(channels):
                sums[channel] += weight * image[qy, qx, channel]
    if total > 0.0:
        for channel in range(channels):
            image[y, x, channel] = sums[channel] / total


@kernel
def telea_inpaint(image, flags, times, heap_time, heap_index, radius):
    """Fill every INSIDE pixel of `image` (H, W, C) float32 in place, by fast marching.

    Parameters
    ----------
    image : (H, W, C) float32, values of INSIDE pixels are ignored and overwritten.
    flags : (H, W) uint8, INSIDE for the hole, BAND for known pixels next to it (the
        front), KNOWN elsewhere. Updated in place.
    times : (H, W) float32, 0 on KNOWN and BAND pixels, FAR inside. Updated in place.
    heap_time, heap_index : float32 / int64 scratch arrays at least as long as the number
        of BAND plus INSIDE pixels.
    radius : int, neighbourhood radius in pixels.
    """
    height, width = flags.shape
    sums = np.zeros(image.shape[2], np.float64)
    size = 0
    for y in range(height):
        for x in range(width):
            if flags[y, x] == BAND:
                size = heap_push(heap_time, heap_index, size, times[y, x], y * width + x)
    while size > 0:
        index, size = heap_pop(heap_time, heap_index, size)
        y, x = index // width, index % width
        flags[y, x] = KNOWN
        for step in range(4):
            ny = y + (step == 0) - (step == 1)
            nx = x + (step == 2) - (step == 3)
            if ny < 0 or nx < 0 or ny >= height or nx >= width or flags[ny, nx] != INSIDE:
                continue
            times[ny, nx] = arrival_time(flags, times, ny, nx)
            fill_pixel(image, flags, times, ny, nx, radius, sums)
            flags[ny, nx] = BAND
            size = heap_push(heap_time, heap_index, size, times[ny, nx], ny * width + nx)
