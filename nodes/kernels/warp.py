"""Resampling through a 3x3 matrix (affine or perspective), for `transform`.

`inverse` maps an output pixel's centre (x + 0.5, y + 0.5, 1), in continuous pixel
coordinates, to the point of the input it shows (divided by its third component). The
input is sampled there with pixel centres at i + 0.5: bilinear, or bicubic with Keys'
a = -0.75 (OpenCV's INTER_CUBIC). Taps outside the input read 0 (transparent), as
OpenCV's BORDER_CONSTANT does. Channels are filtered as they are: images arrive
premultiplied, which is what makes filtering across an alpha edge correct.
"""
import math

from nodes.kernels.jit import parallel_kernel, prange, scalar

CUBIC_A = -0.75


@scalar
def _cubic(t):
    t = abs(t)
    if t <= 1.0:
        return ((CUBIC_A + 2.0) * t - (CUBIC_A + 3.0)) * t * t + 1.0
    if t < 2.0:
        return ((CUBIC_A * t - 5.0 * CUBIC_A) * t + 8.0 * CUBIC_A) * t - 4.0 * CUBIC_A
    return 0.0


@scalar
def _source_point(inverse, column, row):
    """The input position (pixel centres at i + 0.5 mapped to i) shown by output pixel
    (column, row): inverse @ (column + .5, row + .5, 1), divided by its third component."""
    x, y = column + 0.5, row + 0.5
    w = inverse[2, 0] * x + inverse[2, 1] * y + inverse[2, 2]
    return ((inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]) / w - 0.5,
            (inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]) / w - 0.5)


@parallel_kernel
def warp_bilinear(source, inverse, out):
    """out (h, w, C) = source (H, W, C) sampled bilinearly at inverse @ (x+.5, y+.5, 1)."""
    rows, columns, channels = out.shape
    height, width = source.shape[0], source.shape[1]
    for i in prange(rows):
        for j in range(columns):
            sx, sy = _source_point(inverse, j, i)
            for c in range(channels):
                out[i, j, c] = 0.0
            if not (sx > -1.0 and sy > -1.0 and sx < width and sy < height):
                continue
            x0, y0 = int(math.floor(sx)), int(math.floor(sy))
            fx, fy = sx - x0, sy - y0
            for dy in range(2):
                yy = y0 + dy
                if yy < 0 or yy >= height:
                    continue
                wy = fy if dy == 1 else 1.0 - fy
                for dx in range(2):
                    xx = x0 + dx
                    if xx < 0 or xx >= width:
                        continue
                    weight = wy * (fx if dx == 1 else 1.0 - fx)
                    for c in range(channels):
                        out[i, j, c] += weight * source[yy, xx, c]


@parallel_kernel
def warp_bicubic(source, inverse, out):
    """Like warp_bilinear with a 4x4 Keys cubic (a = -0.75)."""
    rows, columns, channels = out.shape
    height, width = source.shape[0], source.shape[1]
    for i in prange(rows):
        for j in range(columns):
            sx, sy = _source_point(inverse, j, i)
            for c in range(channels):
                out[i, j, c] = 0.0
            if not (sx > -2.0 and sy > -2.0 and sx < width + 1.0 and sy < height + 1.0):
                continue
            x0, y0 = int(math.floor(sx)), int(math.floor(sy))
            fx, fy = sx - x0, sy - y0
            for dy in range(-1, 3):
                yy = y0 + dy
                if yy < 0 or yy >= height:
                    continue
                wy = _cubic(fy - dy)
                for dx in range(-1, 3):
                    xx = x0 + dx
                    if xx < 0 or xx >= width:
                        continue
                    weight = wy * _cubic(fx - dx)
                    for c in range(channels):
                        out[i, j, c] += weight * source[yy, xx, c]
