"""Pattern tracking kernels: a gray pyramid of a region, an NCC search and an
inverse-compositional affine Lucas-Kanade fit with gain and bias (Baker and Matthews,
"Lucas-Kanade 20 Years On", 2004, section 3 and the photometric extension of part 3).

Coordinates are continuous pixel coordinates (pixel (i, j) covers [j, j+1] x [i, i+1]);
a level-L image of a region whose full-resolution corner is (x0, y0) (multiples of 2^L)
has its corner at (x0, y0) / 2^L, so a point's level coordinates are its full-resolution
ones divided by 2^L. A pattern is the circle of radius `radius` (level pixels) around a
centre in the reference image; a warp (a00, a01, a10, a11, tx, ty) sends the pattern
offset (u, v) to (a00 u + a01 v + tx, a10 u + a11 v + ty) in the other image.
"""
import math

import numpy as np

from nodes.kernels.jit import kernel, scalar

PARAMS = 8  # six affine parameters, gain, bias


@kernel
def gray_region(image, x0, y0, out):
    """out (h, w) = sqrt(clamp(Rec.709 luma)) of image (H, W, 4) from (x0, y0), edges held."""
    rows, columns = out.shape
    height, width = image.shape[0], image.shape[1]
    inside_from = min(max(-x0, 0), columns)  # columns j whose x0 + j needs no clamping
    inside_to = max(min(width - x0, columns), inside_from)
    for i in range(rows):
        y = min(max(y0 + i, 0), height - 1)
        source, target = image[y], out[i]
        for j in range(inside_from, inside_to):
            target[j] = _root_luma(source, x0 + j)
        for j in range(inside_from):
            target[j] = _root_luma(source, min(max(x0 + j, 0), width - 1))
        for j in range(inside_to, columns):
            target[j] = _root_luma(source, min(max(x0 + j, 0), width - 1))


@scalar
def _root_luma(row, x):
    luma = 0.2126 * row[x, 0] + 0.7152 * row[x, 1] + 0.0722 * row[x, 2]
    return math.sqrt(min(max(luma, 0.0), 1.0))


@kernel
def blur(source, weights, scratch, out):
    """out = source blurred by the separable kernel `weights` (odd length), edges held;
    scratch has source's shape (allocates one padded row). Each output sums its taps in kernel order from 0.0; the
    loops run tap by tap over whole rows so that they vectorise."""
    rows, columns = source.shape
    reach = weights.shape[0] // 2
    for i in range(rows):
        line = scratch[i]
        line[:] = 0.0
        for k in range(-reach, reach + 1):
            weight = weights[k + reach]
            above = source[min(max(i + k, 0), rows - 1)]
            for j in range(columns):
                line[j] += weight * above[j]
    padded = np.empty(columns + 2 * reach)  # one row of scratch, edges held
    for i in range(rows):
        line = scratch[i]
        for j in range(columns + 2 * reach):
            padded[j] = line[min(max(j - reach, 0), columns - 1)]
        target = out[i]
        target[:] = 0.0
        for k in range(2 * reach + 1):
            weight = weights[k]
            for j in range(columns):
                target[j] += weight * padded[j + k]


@kernel
def downsample2(source, out):
    """out (h // 2, w // 2): the mean of each 2x2 block of source."""
    rows, columns = out.shape
    for i in range(rows):
        for j in range(columns):
            out[i, j] = 0.25 * (source[2 * i, 2 * j] + source[2 * i, 2 * j + 1]
                                + source[2 * i + 1, 2 * j] + source[2 * i + 1, 2 * j + 1])


@scalar
def sample(image, origin_x, origin_y, x, y):
    """Bilinear sample at continuous (x, y); image's corner is at (origin_x, origin_y)."""
    fx = x - origin_x - 0.5
    fy = y - origin_y - 0.5
    rows, columns = image.shape
    fx = min(max(fx, 0.0), columns - 1.0)
    fy = min(max(fy, 0.0), rows - 1.0)
    ix = min(int(fx), columns - 2)
    iy = min(int(fy), rows - 2)
    ax = fx - ix
    ay = fy - iy
    top = image[iy, ix] + ax * (image[iy, ix + 1] - image[iy, ix])
    bottom = image[iy + 1, ix] + ax * (image[iy + 1, ix + 1] - image[iy + 1, ix])
    return top + ay * (bottom - top)


@scalar
def window(u, v, radius):
    """Pattern weight: 1 inside the circle, falling to 0 over the last pixel."""
    distance = math.sqrt(u * u + v * v)
    return min(max(radius + 0.5 - distance, 0.0), 1.0)


@kernel
def pattern(image, origin_x, origin_y, cx, cy, radius, angle, out):
    """out (2r+1, 2r+1): the reference pattern around (cx, cy), its grid turned by
    -angle (so that it matches the picture turned by angle)."""
    size = out.shape[0]
    half = size // 2
    cosine, sine = math.cos(angle), math.sin(angle)
    for i in range(size):
        for j in range(size):
            u, v = j - half, i - half
            x = cx + cosine * u + sine * v
            y = cy - sine * u + cosine * v
            out[i, j] = sample(image, origin_x, origin_y, x, y)


@kernel
def ncc_search(template, radius, image, origin_x, origin_y, cx, cy, reach, best):
    """Slide `template` (centred) over whole-pixel offsets within `reach` of (cx, cy) in
    `image`; best (k, 3) = (x, y, score) of the k highest local maxima of the weighted
    zero-mean NCC, highest first, refined to sub-pixel by a parabola through the
    neighbours (score -2 where there are fewer maxima)."""
    size = template.shape[0]
    half = size // 2
    span = 2 * reach + 1
    weights = np.empty((size, size))
    weight_sum, template_mean = 0.0, 0.0
    for i in range(size):
        for j in range(size):
            weights[i, j] = window(j - half, i - half, radius)
            weight_sum += weights[i, j]
            template_mean += weights[i, j] * template[i, j]
    template_mean /= weight_sum
    centred = np.empty((size, size))
    template_energy = 0.0
    for i in range(size):
        for j in range(size):
            centred[i, j] = weights[i, j] * (template[i, j] - template_mean)
            template_energy += centred[i, j] * (template[i, j] - template_mean)
    area = np.empty((span + size - 1, span + size - 1))  # the search area on cx's grid
    for i in range(area.shape[0]):
        for j in range(area.shape[1]):
            area[i, j] = sample(image, origin_x, origin_y, cx - reach - half + j,
                                cy - reach - half + i)
    scores = np.full((span, span), -1.0)
    total, squares, cross = np.empty(span), np.empty(span), np.empty(span)
    for oy in range(span):
        # every offset ox of the row at once (each sums its taps in (i, j) order)
        total[:], squares[:], cross[:] = 0.0, 0.0, 0.0
        for i in range(size):
            line = area[oy + i]
            for j in range(size):
                weight, centred_weight = weights[i, j], centred[i, j]
                for ox in range(span):
                    value = line[ox + j]
                    total[ox] += weight * value
                    squares[ox] += weight * value * value
                    cross[ox] += centred_weight * value
        for ox in range(span):
            energy = squares[ox] - total[ox] * total[ox] / weight_sum
            if energy > 1e-12 and template_energy > 0.0:
                scores[oy, ox] = cross[ox] / math.sqrt(energy * template_energy)
    taken = np.zeros((span, span), np.bool_)
    for rank in range(best.shape[0]):  # the best local maxima, highest first
        top = -1
        for index in range(span * span):
            i, j = index // span, index % span
            if not taken[i, j] and scores[i, j] > -1.0 and _is_peak(scores, i, j) and \
                    (top < 0 or scores[i, j] > scores[top // span, top % span]):
                top = index
        if top < 0:
            best[rank, 2] = -2.0
            continue
        ty, tx = top // span, top % span
        best[rank, 0] = cx + tx - reach + _vertex(scores, ty, tx, 0)
        best[rank, 1] = cy + ty - reach + _vertex(scores, ty, tx, 1)
        best[rank, 2] = scores[ty, tx]
        taken[max(ty - 2, 0):ty + 3, max(tx - 2, 0):tx + 3] = True


@scalar
def _is_peak(scores, i, j):
    span = scores.shape[0]
    for di in range(-1, 2):
        for dj in range(-1, 2):
            y, x = i + di, j + dj
            if 0 <= y < span and 0 <= x < span and scores[y, x] > scores[i, j]:
                return False
    return True


@scalar
def _vertex(scores, i, j, axis):
    """Offset of the parabola's peak through the best score and its two neighbours."""
    span = scores.shape[0]
    if axis == 0:
        if j == 0 or j == span - 1:
            return 0.0
        left, middle, right = scores[i, j - 1], scores[i, j], scores[i, j + 1]
    else:
        if i == 0 or i == span - 1:
            return 0.0
        left, middle, right = scores[i - 1, j], scores[i, j], scores[i + 1, j]
    curvature = left - 2.0 * middle + right
    if curvature >= 0.0:
        return 0.0
    return min(max(0.5 * (left - right) / curvature, -0.5), 0.5)


@kernel
def solve(matrix, vector, out):
    """out = matrix^-1 vector (Gaussian elimination, partial pivoting); False if singular."""
    size = vector.shape[0]
    a = matrix.copy()
    b = vector.copy()
    for column in range(size):
        pivot = column
        for row in range(column + 1, size):
            if abs(a[row, column]) > abs(a[pivot, column]):
                pivot = row
        if abs(a[pivot, column]) < 1e-12:
            return False
        for k in range(size):
            a[column, k], a[pivot, k] = a[pivot, k], a[column, k]
        b[column], b[pivot] = b[pivot], b[column]
        for row in range(column + 1, size):
            factor = a[row, column] / a[column, column]
            for k in range(column, size):
                a[row, k] -= factor * a[column, k]
            b[row] -= factor * b[column]
    for row in range(size - 1, -1, -1):
        total = b[row]
        for k in range(row + 1, size):
            total -= a[row, k] * out[k]
        out[row] = total / a[row, row]
    return True


@kernel
def fit_affine(reference, image, origin_x, origin_y, cx, cy, radius, warp, photometric,
               iterations, tolerance, shift_only, stats):
    """Refine `warp` (6,) and `photometric` (gain, bias) in place so that
    image(warp(u, v)) = (1 + gain) reference(c + (u, v)) + bias over the pattern.
    Both images share the corner (origin_x, origin_y). shift_only: keep the linear part
    of the warp and fit the translation (and gain, bias) only. stats[:] = (weighted zero-mean
    NCC of the final fit, smallest eigenvalue of the pattern's structure tensor per
    pixel, iterations used)."""
    size = 2 * int(math.ceil(radius)) + 1
    half = size // 2
    count = size * size
    values = np.empty(count)
    gradients = np.empty((count, 2))
    offsets = np.empty((count, 2))
    weights = np.empty(count)
    sxx, sxy, syy, weight_sum = 0.0, 0.0, 0.0, 0.0
    for i in range(size):
        for j in range(size):
            k = i * size + j
            u, v = float(j - half), float(i - half)
            x, y = cx + u, cy + v
            values[k] = sample(reference, origin_x, origin_y, x, y)
            gx = 0.5 * (sample(reference, origin_x, origin_y, x + 1.0, y)
                        - sample(reference, origin_x, origin_y, x - 1.0, y))
            gy = 0.5 * (sample(reference, origin_x, origin_y, x, y + 1.0)
                        - sample(reference, origin_x, origin_y, x, y - 1.0))
            gradients[k, 0], gradients[k, 1] = gx, gy
            offsets[k, 0], offsets[k, 1] = u, v
            weights[k] = window(u, v, radius)
            sxx += weights[k] * gx * gx
            sxy += weights[k] * gx * gy
            syy += weights[k] * gy * gy
            weight_sum += weights[k]
    trace, det = (sxx + syy) / weight_sum, (sxx * syy - sxy * sxy) / weight_sum ** 2
    stats[1] = trace / 2 - math.sqrt(max(trace * trace / 4 - det, 0.0))
    # The Hessian of the steepest-descent images (gain * dI/dp, I, 1): its blocks are
    # fixed, the gain only scales them, so it is summed once.
    blocks = np.zeros((PARAMS, PARAMS))
    steepest = np.empty(PARAMS)
    for k in range(count):
        _steepest(gradients[k, 0], gradients[k, 1], offsets[k, 0], offsets[k, 1], values[k],
                  steepest)
        for a in range(PARAMS):
            for b in range(a, PARAMS):
                blocks[a, b] += weights[k] * steepest[a] * steepest[b]
    hessian = np.empty((PARAMS, PARAMS))
    right = np.empty(PARAMS)
    delta = np.zeros(PARAMS)
    used = 0
    for iteration in range(iterations):
        used = iteration + 1
        right[:] = 0.0
        gain = 1.0 + photometric[0]
        for a in range(PARAMS):
            for b in range(a, PARAMS):
                factor = (gain if a < 6 else 1.0) * (gain if b < 6 else 1.0)
                hessian[a, b] = blocks[a, b] * factor
        for k in range(count):
            weight = weights[k]
            if weight == 0.0:
                continue
            u, v = offsets[k, 0], offsets[k, 1]
            x = warp[0] * u + warp[1] * v + warp[4]
            y = warp[2] * u + warp[3] * v + warp[5]
            residual = weight * (sample(image, origin_x, origin_y, x, y) - gain * values[k]
                                 - photometric[1])
            gx, gy = gain * gradients[k, 0] * residual, gain * gradients[k, 1] * residual
            right[0] += gx * u
            right[1] += gy * u
            right[2] += gx * v
            right[3] += gy * v
            right[4] += gx
            right[5] += gy
            right[6] += values[k] * residual
            right[7] += residual
        for a in range(PARAMS):
            for b in range(a):
                hessian[a, b] = hessian[b, a]
        if shift_only:
            for a in range(4):
                right[a] = 0.0
                for b in range(PARAMS):
                    hessian[a, b] = 0.0
                    hessian[b, a] = 0.0
                hessian[a, a] = 1.0
        if not solve(hessian, right, delta):
            break
        _compose_inverse(warp, delta)
        photometric[0] += delta[6]
        photometric[1] += delta[7]
        step = abs(delta[4]) + abs(delta[5]) + radius * (abs(delta[0]) + abs(delta[1])
                                                         + abs(delta[2]) + abs(delta[3]))
        if step < tolerance:
            break
    stats[0] = _fit_ncc(values, offsets, weights, image, origin_x, origin_y, warp)
    stats[2] = used


@scalar
def _steepest(gx, gy, u, v, value, out):
    """The steepest-descent row of one pattern pixel at gain 1."""
    out[0], out[1], out[2], out[3] = gx * u, gy * u, gx * v, gy * v
    out[4], out[5], out[6], out[7] = gx, gy, value, 1.0


@scalar
def _compose_inverse(warp, delta):
    """warp <- warp o W(delta)^-1 for the affine parts (the inverse-compositional update)."""
    d00, d01, d10, d11 = 1.0 + delta[0], delta[2], delta[1], 1.0 + delta[3]
    determinant = d00 * d11 - d01 * d10
    i00, i01 = d11 / determinant, -d01 / determinant
    i10, i11 = -d10 / determinant, d00 / determinant
    it0 = -(i00 * delta[4] + i01 * delta[5])
    it1 = -(i10 * delta[4] + i11 * delta[5])
    a00 = warp[0] * i00 + warp[1] * i10
    a01 = warp[0] * i01 + warp[1] * i11
    a10 = warp[2] * i00 + warp[3] * i10
    a11 = warp[2] * i01 + warp[3] * i11
    tx = warp[0] * it0 + warp[1] * it1 + warp[4]
    ty = warp[2] * it0 + warp[3] * it1 + warp[5]
    warp[0], warp[1], warp[2], warp[3], warp[4], warp[5] = a00, a01, a10, a11, tx, ty


@scalar
def _fit_ncc(values, offsets, weights, image, origin_x, origin_y, warp):
    count = values.shape[0]
    total, mean_t, mean_i = 0.0, 0.0, 0.0
    warped = np.empty(count)
    for k in range(count):
        u, v = offsets[k, 0], offsets[k, 1]
        warped[k] = sample(image, origin_x, origin_y, warp[0] * u + warp[1] * v + warp[4],
                           warp[2] * u + warp[3] * v + warp[5])
        total += weights[k]
        mean_t += weights[k] * values[k]
        mean_i += weights[k] * warped[k]
    mean_t /= total
    mean_i /= total
    cross, energy_t, energy_i = 0.0, 0.0, 0.0
    for k in range(count):
        dt, di = values[k] - mean_t, warped[k] - mean_i
        cross += weights[k] * dt * di
        energy_t += weights[k] * dt * dt
        energy_i += weights[k] * di * di
    if energy_t <= 0.0 or energy_i <= 0.0:
        return 0.0
    return cross / math.sqrt(energy_t * energy_i)
