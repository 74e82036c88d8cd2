"""Dense optical flow (coarse-to-fine iterative Lucas-Kanade over windows; Bouguet's
pyramidal LK applied at every pixel, with Tikhonov damping so flat areas keep the coarser
level's motion) and the pieces `propagate` needs: backward warping of a mask by a flow,
and a forward-backward consistency weight.

Images are (h, w) float32 grays; a flow is (2, h, w) float32 (dx, dy) in pixels, from the
first image to the second: pixel (i, j) of the first shows at (j + dx, i + dy) in the
second (index coordinates). Samples outside an image hold its edge.
"""
import math

import numpy as np

from nodes.kernels.jit import parallel_kernel, prange, scalar

COLUMN_STRIP = 128  # columns per task of box_mean's vertical pass


@scalar
def bilinear(image, x, y):
    rows, columns = image.shape
    x = min(max(x, 0.0), columns - 1.0)
    y = min(max(y, 0.0), rows - 1.0)
    ix = min(int(x), columns - 2) if columns > 1 else 0
    iy = min(int(y), rows - 2) if rows > 1 else 0
    ax, ay = x - ix, y - iy
    right = min(ix + 1, columns - 1)
    below = min(iy + 1, rows - 1)
    top = image[iy, ix] + ax * (image[iy, right] - image[iy, ix])
    bottom = image[below, ix] + ax * (image[below, right] - image[below, ix])
    return top + ay * (bottom - top)


@parallel_kernel
def downsample2(source, out):
    """out (ceil(h/2), ceil(w/2)): 2x2 block means (edge blocks hold the edge)."""
    rows, columns = out.shape
    height, width = source.shape
    for i in prange(rows):
        for j in range(columns):
            y0, x0 = 2 * i, 2 * j
            y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
            out[i, j] = 0.25 * (source[y0, x0] + source[y0, x1] + source[y1, x0]
                                + source[y1, x1])


@parallel_kernel
def upsample_flow(coarse, out):
    """out (2, h, w): the coarse flow sampled bilinearly at the finer grid, doubled."""
    rows, columns = out.shape[1], out.shape[2]
    for i in prange(rows):
        for j in range(columns):
            y, x = (i + 0.5) / 2.0 - 0.5, (j + 0.5) / 2.0 - 0.5
            out[0, i, j] = 2.0 * bilinear(coarse[0], x, y)
            out[1, i, j] = 2.0 * bilinear(coarse[1], x, y)


@parallel_kernel
def lk_terms(first, second, flow, terms):
    """terms (5, h, w) = Ix^2, Ix Iy, Iy^2, Ix It, Iy It at each pixel, with I the mean
    of the first image and the second warped by `flow`, It their difference."""
    rows, columns = first.shape
    for i in prange(rows):
        for j in range(columns):
            x, y = j + flow[0, i, j], i + flow[1, i, j]
            left, right = max(j - 1, 0), min(j + 1, columns - 1)
            up, down = max(i - 1, 0), min(i + 1, rows - 1)
            gx = 0.25 * (first[i, right] - first[i, left]
                         + bilinear(second, x + 1.0, y) - bilinear(second, x - 1.0, y))
            gy = 0.25 * (first[down, j] - first[up, j]
                         + bilinear(second, x, y + 1.0) - bilinear(second, x, y - 1.0))
            gt = bilinear(second, x, y) - first[i, j]
            terms[0, i, j] = gx * gx
            terms[1, i, j] = gx * gy
            terms[2, i, j] = gy * gy
            terms[3, i, j] = gx * gt
            terms[4, i, j] = gy * gt


@parallel_kernel
def box_mean(planes, radius, scratch, out):
    """out = each plane of planes (P, h, w) averaged over a (2r+1)^2 window (edges held).
    Rows first (into `scratch`), then columns in strips of COLUMN_STRIP that walk down
    the rows with a running sum per column, so memory is read in order."""
    count, rows, columns = planes.shape
    for index in prange(count * rows):
        p, i = index // rows, index % rows
        total = 0.0
        for k in range(-radius, radius + 1):
            total += planes[p, i, min(max(k, 0), columns - 1)]
        for j in range(columns):
            scratch[p, i, j] = total
            total += planes[p, i, min(j + radius + 1, columns - 1)] \
                - planes[p, i, max(j - radius, 0)]
    strips = (columns + COLUMN_STRIP - 1) // COLUMN_STRIP
    scale = 1.0 / (2 * radius + 1) ** 2
    for index in prange(count * strips):
        p, strip = index // strips, index % strips
        start, end = strip * COLUMN_STRIP, min((strip + 1) * COLUMN_STRIP, columns)
        totals = np.zeros(end - start, np.float64)
        for k in range(-radius, radius + 1):
            row = min(max(k, 0), rows - 1)
            for j in range(start, end):
                totals[j - start] += scratch[p, row, j]
        for i in range(rows):
            entering, leaving = min(i + radius + 1, rows - 1), max(i - radius, 0)
            for j in range(start, end):
                out[p, i, j] = totals[j - start] * scale
                totals[j - start] += scratch[p, entering, j] - scratch[p, leaving, j]


@parallel_kernel
def lk_update(sums, damping, flow):
    """flow += the damped 2x2 solution of the window sums (Ix^2, IxIy, Iy^2, IxIt, IyIt)."""
    rows, columns = flow.shape[1], flow.shape[2]
    for i in prange(rows):
        for j in range(columns):
            a, b, c = sums[0, i, j] + damping, sums[1, i, j], sums[2, i, j] + damping
            determinant = a * c - b * b
            if determinant <= 0.0:
                continue
            du = -(c * sums[3, i, j] - b * sums[4, i, j]) / determinant
            dv = -(a * sums[4, i, j] - b * sums[3, i, j]) / determinant
            flow[0, i, j] += max(min(du, 2.0), -2.0)
            flow[1, i, j] += max(min(dv, 2.0), -2.0)


@parallel_kernel
def warp_mask(mask, flow, out):
    """out (h, w): mask sampled where `flow` says each pixel came from."""
    rows, columns = out.shape
    for i in prange(rows):
        for j in range(columns):
            out[i, j] = bilinear(mask, j + flow[0, i, j], i + flow[1, i, j])


@parallel_kernel
def consistency(forward, backward, out):
    """out (h, w) in [0, 1]: 1 where following `backward` (this frame -> other) then
    `forward` (other -> this) returns to the pixel, falling to 0 past 1.5 px (+5% of
    the motion) of disagreement: occluded or unreliable."""
    rows, columns = out.shape
    for i in prange(rows):
        for j in range(columns):
            dx, dy = backward[0, i, j], backward[1, i, j]
            x, y = j + dx, i + dy
            ex = dx + bilinear(forward[0], x, y)
            ey = dy + bilinear(forward[1], x, y)
            error = math.sqrt(ex * ex + ey * ey)
            limit = 1.5 + 0.05 * math.sqrt(dx * dx + dy * dy)
            out[i, j] = min(max(2.0 - error / limit, 0.0), 1.0)
