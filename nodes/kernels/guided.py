"""The fast colour guided filter (He, Sun and Tang 2013; He and Sun 2015).

Used to upsample a low-resolution probability map against a full-resolution picture so
that the map's edges follow the picture's edges. The linear coefficients (a, b) of
q = a . I + b are solved at a working resolution (the picture box-averaged by an integer
`factor`), box-averaged, then sampled bilinearly and applied to every full-resolution pixel.

The guide I is sqrt(clamp(premultiplied linear RGB, 0, 1)): a cheap perceptual encoding
(close to a gamma-2 curve) so that `eps` means the same in shadows and highlights.

Plane layout of the `planes` work array (13, h, w): 0-2 I (r, g, b), 3 p, 4-9 the products
rr, rg, rb, gg, gb, bb, 10-12 I*p (r, g, b). Coefficient layout (4, h, w): a_r, a_g, a_b, b.
"""
import math

from graph.jit import kernel, parallel_kernel, prange

GUIDE_PLANES = 13
COEFF_PLANES = 4
COLUMN_BLOCK = 16


@parallel_kernel
def downsample_guide_into(image, factor, out):
    """Box-average the guide of `image` by `factor`.

    image: (H, W, 4) float32 premultiplied linear RGBA; out: (ceil(H/f), ceil(W/f), 3)
    float32 receives the mean of sqrt(clamp(rgb, 0, 1)) over each factor x factor block
    (partial blocks at the right and bottom edges average the pixels they hold).
    """
    height, width = image.shape[0], image.shape[1]
    low_height, low_width = out.shape[0], out.shape[1]
    for low_y in prange(low_height):
        y0 = low_y * factor
        y1 = min(y0 + factor, height)
        for low_x in range(low_width):
            x0 = low_x * factor
            x1 = min(x0 + factor, width)
            red = 0.0
            green = 0.0
            blue = 0.0
            for y in range(y0, y1):
                for x in range(x0, x1):
                    red += math.sqrt(min(max(image[y, x, 0], 0.0), 1.0))
                    green += math.sqrt(min(max(image[y, x, 1], 0.0), 1.0))
                    blue += math.sqrt(min(max(image[y, x, 2], 0.0), 1.0))
            count = (y1 - y0) * (x1 - x0)
            out[low_y, low_x, 0] = red / count
            out[low_y, low_x, 1] = green / count
            out[low_y, low_x, 2] = blue / count


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
def box_mean_into(planes, radius, scratch, out):
    """Mean over the (2r+1)^2 window clipped to the array, for each plane (He's N-normalised
    box filter). planes, scratch, out: (n, h, w) float32; `scratch` receives row sums.
    """
    count, height, width = planes.shape
    for task in prange(count * height):
        plane, y = task // height, task % height
        total = 0.0
        for x in range(min(radius, width - 1) + 1):
            total += planes[plane, y, x]
        for x in range(width):
            scratch[plane, y, x] = total
            if x + radius + 1 < width:
                total += planes[plane, y, x + radius + 1]
            if x - radius >= 0:
                total -= planes[plane, y, x - radius]
    blocks = (width + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for task in prange(count * blocks):
        plane, block = task // blocks, task % blocks
        for x in range(block * COLUMN_BLOCK, min((block + 1) * COLUMN_BLOCK, width)):
            columns = min(x + radius, width - 1) - max(x - radius, 0) + 1
            total = 0.0
            for y in range(min(radius, height - 1) + 1):
                total += scratch[plane, y, x]
            for y in range(height):
                rows = min(y + radius, height - 1) - max(y - radius, 0) + 1
                out[plane, y, x] = total / (rows * columns)
                if y + radius + 1 < height:
                    total += scratch[plane, y + radius + 1, x]
                if y - radius >= 0:
                    total -= scratch[plane, y - radius, x]


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
            inv_rr = gg * bb - gb * gb
            inv_rg = rb * gb - rg * bb
            inv_rb = rg * gb - rb * gg
            inv_gg = rr * bb - rb * rb
            inv_gb = rb * rg - rr * gb
            inv_bb = rr * gg - rg * rg
            det = rr * inv_rr + rg * inv_rg + rb * inv_rb
            a_r = (inv_rr * cov_r + inv_rg * cov_g + inv_rb * cov_b) / det
            a_g = (inv_rg * cov_r + inv_gg * cov_g + inv_gb * cov_b) / det
            a_b = (inv_rb * cov_r + inv_gb * cov_g + inv_bb * cov_b) / det
            coeffs[0, y, x] = a_r
            coeffs[1, y, x] = a_g
            coeffs[2, y, x] = a_b
            coeffs[3, y, x] = mean_p - a_r * mean_r - a_g * mean_g - a_b * mean_b


@parallel_kernel
def apply_into(image, factor, coeffs, probability, out):
    """Refined mask at full resolution, clamped to [0, 1].

    q = a . I + b, with the mean coefficients sampled bilinearly, is blended with the
    bilinearly sampled probability p by the weight 4 p (1 - p): where the network is sure
    (p near 0 or 1) its value stays, across its uncertain edge the guide decides.

    image: (H, W, 4) float32 premultiplied linear RGBA (the guide is taken from it as in
    `downsample_guide_into`); coeffs: (4, h, w) float32 mean coefficients and
    probability: (h, w) float32, both at the working resolution, sampled at
    ((x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5) with edge clamping;
    out: (H, W) float32.
    """
    height, width = out.shape
    low_height, low_width = probability.shape
    scale = 1.0 / factor
    for y in prange(height):
        source_y = min(max((y + 0.5) * scale - 0.5, 0.0), low_height - 1.0)
        y0 = min(int(source_y), low_height - 1)
        y1 = min(y0 + 1, low_height - 1)
        weight_y = source_y - y0
        for x in range(width):
            source_x = min(max((x + 0.5) * scale - 0.5, 0.0), low_width - 1.0)
            x0 = min(int(source_x), low_width - 1)
            x1 = min(x0 + 1, low_width - 1)
            weight_x = source_x - x0
            guided_value = _bilinear(coeffs[3], y0, y1, x0, x1, weight_y, weight_x)
            for channel in range(3):
                coefficient = _bilinear(coeffs[channel], y0, y1, x0, x1, weight_y, weight_x)
                guide = math.sqrt(min(max(image[y, x, channel], 0.0), 1.0))
                guided_value += coefficient * guide
            value = _bilinear(probability, y0, y1, x0, x1, weight_y, weight_x)
            value += (guided_value - value) * 4.0 * value * (1.0 - value)
            out[y, x] = min(max(value, 0.0), 1.0)


@kernel
def _bilinear(plane, y0, y1, x0, x1, weight_y, weight_x):
    """Bilinear interpolation of a 2-D plane between rows y0, y1 and columns x0, x1."""
    top = plane[y0, x0] + (plane[y0, x1] - plane[y0, x0]) * weight_x
    bottom = plane[y1, x0] + (plane[y1, x1] - plane[y1, x0]) * weight_x
    return top + (bottom - top) * weight_y
