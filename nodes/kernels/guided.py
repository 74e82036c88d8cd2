"""The fast colour guided filter (He, Sun and Tang 2013; He and Sun 2015).

Used to upsample a low-resolution probability map against a full-resolution picture so
that the map's edges follow the picture's edges. The linear coefficients (a, b) of
q = a . I + b are solved at a working resolution (the picture box-averaged by an integer
`factor`), box-averaged, then sampled bilinearly and applied to every full-resolution pixel.
The full-resolution picture is read twice: once by `downsample_into` (which also gives the
networks their input) and once by `apply_into`, which interpolates the coefficients along
x once per working row and along y in contiguous, vectorisable rows.

The guide I is sqrt(clamp(premultiplied linear RGB, 0, 1)): a cheap perceptual encoding
(close to a gamma-2 curve) so that `eps` means the same in shadows and highlights.

Plane layout of the `planes` work array (13, h, w): 0-2 I (r, g, b), 3 p, 4-9 the products
rr, rg, rb, gg, gb, bb, 10-12 I*p (r, g, b). Coefficient layout (4, h, w): a_r, a_g, a_b, b.
"""
import math

import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange, scalar

GUIDE_PLANES = 13
COEFF_PLANES = 4
COLUMN_STRIP = 256


@parallel_kernel
def downsample_into(image, factor, rgb_out, guide_out):
    """Box-average `image` by `factor` once, for the network and for the guide.

    image: (H, W, 4) float32 premultiplied linear RGBA, C-contiguous. rgb_out and
    guide_out: (ceil(H/f), ceil(W/f), 3) float32 receive the mean of the linear RGB and
    the mean of the guide sqrt(clamp(rgb, 0, 1)) over each factor x factor block (partial
    blocks at the right and bottom edges average the pixels they hold).
    """
    height, width = image.shape[0], image.shape[1]
    low_height, low_width = guide_out.shape[0], guide_out.shape[1]
    rows = image.reshape(height, width * 4)
    zero, one = np.float32(0.0), np.float32(1.0)
    for low_y in prange(low_height):
        y0 = low_y * factor
        y1 = min(y0 + factor, height)
        rgb_row = rgb_out[low_y].reshape(low_width * 3)
        guide_row = guide_out[low_y].reshape(low_width * 3)
        for index in range(low_width * 3):
            rgb_row[index] = zero
            guide_row[index] = zero
        for y in range(y0, y1):
            row = rows[y]
            for low_x in range(low_width):
                for x in range(low_x * factor, min(low_x * factor + factor, width)):
                    for channel in range(3):
                        value = row[4 * x + channel]
                        rgb_row[3 * low_x + channel] += value
                        guide_row[3 * low_x + channel] += math.sqrt(min(max(value, zero), one))
        for low_x in range(low_width):
            count = np.float32((y1 - y0) * (min(low_x * factor + factor, width) - low_x * factor))
            for channel in range(3):
                rgb_row[3 * low_x + channel] /= count
                guide_row[3 * low_x + channel] /= count


@parallel_kernel
def products_into(guide, prob, planes):
    """Fill the (13, h, w) `planes` with I, p, I_i*I_j and I_i*p (see the module doc).

    guide: (h, w, 3) float32; prob: (h, w) float32.
    """
    height, width = prob.shape
    for y in prange(height):
        for x in range(width):
            red, green, blue = guide[y, x, 0], guide[y, x, 1], guide[y, x, 2]
            value = prob[y, x]
            planes[0, y, x] = red
            planes[1, y, x] = green
            planes[2, y, x] = blue
            planes[3, y, x] = value
            planes[4, y, x] = red * red
            planes[5, y, x] = red * green
            planes[6, y, x] = red * blue
            planes[7, y, x] = green * green
            planes[8, y, x] = green * blue
            planes[9, y, x] = blue * blue
            planes[10, y, x] = red * value
            planes[11, y, x] = green * value
            planes[12, y, x] = blue * value


@parallel_kernel
def box_mean_into(planes, radius, scratch, sums, out):
    """Mean over the (2r+1)^2 window clipped to the array, for each plane (He's N-normalised
    box filter). planes, scratch, out: (n, h, w) float32; `scratch` receives row sums;
    sums: (n, w) float64 running column sums.
    """
    count, height, width = planes.shape
    for task in prange(count * height):
        plane, y = task // height, task % height
        _row_sums(planes[plane, y], radius, scratch[plane, y])
    strips = (width + COLUMN_STRIP - 1) // COLUMN_STRIP
    for task in prange(count * strips):
        plane, strip = task // strips, task % strips
        _column_means(scratch[plane], radius, strip * COLUMN_STRIP,
                      min((strip + 1) * COLUMN_STRIP, width), sums[plane], out[plane])


@kernel
def _row_sums(row, radius, out):
    """Sums of `row` ((w,) float32) over [x - r, x + r] clipped, into (w,) `out`."""
    width = row.shape[0]
    total = 0.0
    for x in range(min(radius, width - 1) + 1):
        total += row[x]
    entering = max(0, width - radius - 1)            # x + r + 1 < width below this
    leaving = min(radius, width)                     # x - r >= 0 from this on
    for x in range(min(entering, leaving)):
        out[x] = total
        total += row[x + radius + 1]
    for x in range(leaving, entering):
        out[x] = total
        total += row[x + radius + 1] - row[x - radius]
    for x in range(entering, leaving):
        out[x] = total
    for x in range(max(entering, leaving), width):
        out[x] = total
        total -= row[x - radius]


@kernel
def _column_means(row_sums, radius, x_start, x_end, sums, out):
    """Running vertical sums of the row sums over columns [x_start, x_end), divided by the
    clipped window's pixel count; row_sums, out: (h, w) float32; sums: (w,) float64."""
    height, width = row_sums.shape
    inner_start = min(max(x_start, radius), x_end)
    inner_end = max(min(x_end, width - radius), inner_start)
    for x in range(x_start, x_end):
        sums[x] = 0.0
    for y in range(min(radius, height - 1) + 1):
        for x in range(x_start, x_end):
            sums[x] += row_sums[y, x]
    for y in range(height):
        rows = min(y + radius, height - 1) - max(y - radius, 0) + 1
        for x in range(x_start, inner_start):
            out[y, x] = sums[x] / (rows * (min(x + radius, width - 1) - max(x - radius, 0) + 1))
        scale = 1.0 / (rows * (2 * radius + 1))
        for x in range(inner_start, inner_end):
            out[y, x] = sums[x] * scale
        for x in range(inner_end, x_end):
            out[y, x] = sums[x] / (rows * (min(x + radius, width - 1) - max(x - radius, 0) + 1))
        if y + radius + 1 < height:
            for x in range(x_start, x_end):
                sums[x] += row_sums[y + radius + 1, x]
        if y - radius >= 0:
            for x in range(x_start, x_end):
                sums[x] -= row_sums[y - radius, x]


@scalar
def symmetric_adjugate(rr, rg, rb, gg, gb, bb):
    """The adjugate (inv_rr, inv_rg, inv_rb, inv_gg, inv_gb, inv_bb) and the determinant
    of the symmetric 3x3 matrix [[rr, rg, rb], [rg, gg, gb], [rb, gb, bb]]: its inverse
    is the adjugate over the determinant."""
    inv_rr = gg * bb - gb * gb
    inv_rg = rb * gb - rg * bb
    inv_rb = rg * gb - rb * gg
    inv_gg = rr * bb - rb * rb
    inv_gb = rb * rg - rr * gb
    inv_bb = rr * gg - rg * rg
    det = rr * inv_rr + rg * inv_rg + rb * inv_rb
    return inv_rr, inv_rg, inv_rb, inv_gg, inv_gb, inv_bb, det


@scalar
def affine_model(mean_r, mean_g, mean_b, mean_p, rr, rg, rb, gg, gb, bb, cov_r, cov_g,
                 cov_b):
    """The guided filter's local model p = a . I + b in one window (He et al. 2010):
    a = Sigma^-1 cov(I, p) from the colour covariance entries (regularised by the caller)
    and b = mean_p - a . mean_I. Returns (a_r, a_g, a_b, b)."""
    inv_rr, inv_rg, inv_rb, inv_gg, inv_gb, inv_bb, det = symmetric_adjugate(
        rr, rg, rb, gg, gb, bb)
    a_r = (inv_rr * cov_r + inv_rg * cov_g + inv_rb * cov_b) / det
    a_g = (inv_rg * cov_r + inv_gg * cov_g + inv_gb * cov_b) / det
    a_b = (inv_rb * cov_r + inv_gb * cov_g + inv_bb * cov_b) / det
    return a_r, a_g, a_b, mean_p - a_r * mean_r - a_g * mean_g - a_b * mean_b


@parallel_kernel
def coefficients_into(means, eps, coeffs):
    """Solve (Sigma + eps U) a = cov(I, p), b = mean(p) - a . mean(I) at every pixel.

    means: (13, h, w) float32 box means of the planes; coeffs: (4, h, w) float32 out.
    """
    height, width = means.shape[1], means.shape[2]
    for y in prange(height):
        for x in range(width):
            mean_r, mean_g, mean_b = means[0, y, x], means[1, y, x], means[2, y, x]
            mean_p = means[3, y, x]
            rr = means[4, y, x] - mean_r * mean_r + eps
            rg = means[5, y, x] - mean_r * mean_g
            rb = means[6, y, x] - mean_r * mean_b
            gg = means[7, y, x] - mean_g * mean_g + eps
            gb = means[8, y, x] - mean_g * mean_b
            bb = means[9, y, x] - mean_b * mean_b + eps
            cov_r = means[10, y, x] - mean_r * mean_p
            cov_g = means[11, y, x] - mean_g * mean_p
            cov_b = means[12, y, x] - mean_b * mean_p
            a_r, a_g, a_b, intercept = affine_model(
                mean_r, mean_g, mean_b, mean_p, rr, rg, rb, gg, gb, bb, cov_r, cov_g, cov_b)
            coeffs[0, y, x] = a_r
            coeffs[1, y, x] = a_g
            coeffs[2, y, x] = a_b
            coeffs[3, y, x] = intercept


@parallel_kernel
def apply_into(image, factor, coeffs, probability, rows, out):
    """Refined mask at full resolution, clamped to [0, 1].

    q = a . I + b, with the mean coefficients sampled bilinearly, is blended with the
    bilinearly sampled probability p by the weight 4 p (1 - p): where the network is sure
    (p near 0 or 1) its value stays, across its uncertain edge the guide decides.

    image: (H, W, 4) float32 premultiplied linear RGBA, C-contiguous (the guide is
    sqrt(clamp(rgb, 0, 1)) as in `downsample_into`); coeffs: (4, h, w) float32 mean
    coefficients and probability: (h, w) float32, both at the working resolution, sampled
    at ((x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5) with edge clamping;
    rows: (h, 5, W) float32 scratch receives the five planes interpolated along x once
    per low-resolution row; out: (H, W) float32.
    """
    height, width = out.shape
    low_height, low_width = probability.shape
    scale = 1.0 / factor
    for task in prange(5 * low_height):
        plane, low_y = task // low_height, task % low_height
        source = probability[low_y] if plane == 4 else coeffs[plane, low_y]
        target = rows[low_y, plane]
        for x in range(width):
            source_x = min(max((x + 0.5) * scale - 0.5, 0.0), low_width - 1.0)
            x0 = min(int(source_x), low_width - 1)
            x1 = min(x0 + 1, low_width - 1)
            target[x] = source[x0] + (source[x1] - source[x0]) * (source_x - x0)
    pixels = image.reshape(height, width * 4)
    zero, one, four = np.float32(0.0), np.float32(1.0), np.float32(4.0)
    for y in prange(height):
        source_y = min(max((y + 0.5) * scale - 0.5, 0.0), low_height - 1.0)
        y0 = min(int(source_y), low_height - 1)
        y1 = min(y0 + 1, low_height - 1)
        weight = np.float32(source_y - y0)
        _apply_row(pixels[y], rows[y0], rows[y1], weight, out[y], zero, one, four)


@kernel
def _apply_row(pixels, top, bottom, weight, out, zero, one, four):
    """One output row: planes (5, W) of rows y0 and y1 blended by `weight`, the guide
    from the (4 W,) RGBA row `pixels`, result into (W,) `out`."""
    for x in range(out.shape[0]):
        a_r = top[0, x] + (bottom[0, x] - top[0, x]) * weight
        a_g = top[1, x] + (bottom[1, x] - top[1, x]) * weight
        a_b = top[2, x] + (bottom[2, x] - top[2, x]) * weight
        b = top[3, x] + (bottom[3, x] - top[3, x]) * weight
        p = top[4, x] + (bottom[4, x] - top[4, x]) * weight
        q = (a_r * math.sqrt(min(max(pixels[4 * x], zero), one))
             + a_g * math.sqrt(min(max(pixels[4 * x + 1], zero), one))
             + a_b * math.sqrt(min(max(pixels[4 * x + 2], zero), one)) + b)
        value = p + (q - p) * four * p * (one - p)
        out[x] = min(max(value, zero), one)
