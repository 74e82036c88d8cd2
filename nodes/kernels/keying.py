"""Keying kernels: colour-difference chroma key, despill, luma key, HSV colour range.

All kernels read a premultiplied linear RGBA image (H, W, 4) float32 and write into an
output array passed in. Encoded (sRGB) values come from a lookup table with linear
interpolation (`encode_table`), which avoids one `pow` per channel (error < 2e-5).
"""
import numpy as np

from nodes.kernels.jit import kernel, scalar
from nodes.kernels.color import srgb_encode, srgb_encode_into

ENCODE_TABLE_SIZE = 4096


def encode_table() -> np.ndarray:
    """The sRGB encoding curve sampled at ENCODE_TABLE_SIZE + 1 points over [0, 1].

    Returns
    -------
    table : (ENCODE_TABLE_SIZE + 2,) float32, the last entry repeated (interpolation pad).
    """
    grid = np.linspace(0.0, 1.0, ENCODE_TABLE_SIZE + 1).astype(np.float32)
    table = np.empty(ENCODE_TABLE_SIZE + 2, np.float32)
    srgb_encode_into(grid, table[:-1])
    table[-1] = table[-2]
    return table


@kernel
def encode_fast(value, table):
    """sRGB-encode one linear value with the table (exact curve outside [0, 1])."""
    if value < 0.0 or value > 1.0:
        return srgb_encode(value)
    position = value * ENCODE_TABLE_SIZE
    index = int(position)
    fraction = position - index
    return table[index] + (table[index + 1] - table[index]) * fraction


@kernel
def straight_rgb(pixels, x):
    """Unpremultiplied colour of pixel x of a (W, 4) row; alpha 0 leaves the colour as is."""
    alpha = pixels[x, 3]
    scale = 1.0 / alpha if alpha != 0.0 else 1.0
    return pixels[x, 0] * scale, pixels[x, 1] * scale, pixels[x, 2] * scale


@kernel
def window_weight(value, low, high, softness):
    """1 inside [low, high], linear ramps of width `softness` outside, 0 beyond."""
    if value >= low and value <= high:
        return 1.0
    distance = low - value if value < low else value - high
    if softness <= 0.0 or not distance < softness:  # NaN input: outside the key
        return 0.0
    return 1.0 - distance / softness


@kernel
def luma_key_into(image, weights, low, high, softness, encoded, invert, table, out, first, stop):
    """Luma key: 1 where the weighted sum of the straight colour lies in [low, high].

    image: (H, W, 4) premultiplied; weights: (3,) float32; encoded: use sRGB-encoded
    channel values; out: (H, W) float32. Rows first:stop (a band kernel).
    """
    width = out.shape[1]
    for y in range(first, stop):
        pixels = image[y]
        for x in range(width):
            red, green, blue = straight_rgb(pixels, x)
            if encoded:
                red = encode_fast(red, table)
                green = encode_fast(green, table)
                blue = encode_fast(blue, table)
            luma = weights[0] * red + weights[1] * green + weights[2] * blue
            value = window_weight(luma, low, high, softness)
            out[y, x] = 1.0 - value if invert else value


F0 = np.float32(0.0)
F1 = np.float32(1.0)
F60 = np.float32(60.0)
F120 = np.float32(120.0)
F240 = np.float32(240.0)
F360 = np.float32(360.0)
F1292 = np.float32(12.92)
TABLE_SCALE = np.float32(ENCODE_TABLE_SIZE)


def _constant_encode_table() -> np.ndarray:
    """`encode_table()` computed in float64 numpy (no kernel call at import)."""
    grid = np.linspace(0.0, 1.0, ENCODE_TABLE_SIZE + 1)
    curve = np.where(grid <= 0.0031308, grid * 12.92, 1.055 * grid ** (1.0 / 2.4) - 0.055)
    return np.append(curve, curve[-1]).astype(np.float32)


# A global array is frozen into the compiled kernel as a constant: its loads cannot alias
# the output, so the table gathers vectorise (a table passed as an argument blocked that).
ENCODE_TABLE = _constant_encode_table()


@scalar
def safe_quotient(numerator, denominator):
    """numerator / denominator, or 0 where the denominator is not > 0 (selects, no
    ZeroDivisionError branch, so the loop vectorises)."""
    safe = denominator if denominator > F0 else F1
    return numerator / safe if denominator > F0 else F0


@scalar
def encode_lut(value):
    """sRGB encoding by the table for value <= 1 (linear below 0), branch free; a NaN or a
    value above 1 gives a meaningless result (callers redo those pixels exactly)."""
    clamped = value if value > F0 else F0
    clamped = clamped if clamped < F1 else F1
    position = clamped * TABLE_SCALE
    index = int(position)
    fraction = position - np.float32(index)
    lower = ENCODE_TABLE[index]
    interpolated = lower + (ENCODE_TABLE[index + 1] - lower) * fraction
    return interpolated if value >= F0 else value * F1292


@scalar
def ramp(distance, gain):
    """1 where distance <= 0, else 1 - distance * gain floored at 0 (gain inf: a step)."""
    weight = F1 - distance * gain
    weight = weight if weight > F0 else F0
    return F1 if distance <= F0 else weight


@scalar
def hsv_weight(red, green, blue, hue_low, hue_high, wrap, saturation_low, saturation_high,
               value_low, value_high, gain, hue_gain):
    """Window weight of one (encoded or linear) straight colour, branch free."""
    high = max(red, max(green, blue))
    low = min(red, min(green, blue))
    chroma = high - low
    saturation = safe_quotient(chroma, high)
    inverse = safe_quotient(F60, chroma)
    hue = F240 + (red - green) * inverse
    hue = F120 + (blue - red) * inverse if high == green else hue
    hue = (green - blue) * inverse if high == red else hue
    hue = hue + F360 if hue < F0 else hue
    hue = hue if chroma > F0 else F0
    value_distance = max(value_low - high, high - value_high)
    saturation_distance = max(saturation_low - saturation, saturation - saturation_high)
    weight = min(ramp(value_distance, gain), ramp(saturation_distance, gain))
    after_low = hue >= hue_low
    before_high = hue <= hue_high
    inside = (after_low & before_high) | (wrap & (after_low | before_high))
    below = hue_low - hue
    below = below if hue <= hue_low else below + F360
    above = hue - hue_high
    above = above if hue >= hue_high else above + F360
    hue_distance = F0 if inside else min(below, above)
    return min(weight, ramp(hue_distance, hue_gain))


@kernel
def color_range_into(flat, windows, softness, encoded, invert, out, first, stop):
    """HSV qualifier: the minimum of the hue, saturation and value window weights.

    flat: (H, W * 4) premultiplied RGBA rows; windows: (6,) float32 = hue low, hue high
    (degrees), saturation low, high, value low, high; softness in [0, 1] units (360
    degrees for hue). Rows are computed branch free with the table; a row holding a NaN
    or a straight value above 1 is then redone pixel by pixel with the exact curve. Rows
    first:stop (a band kernel).
    """
    width = out.shape[1]
    soft = np.float32(softness)
    gain = F1 / soft if soft > F0 else np.float32(np.inf)
    hue_gain = F1 / (soft * F360) if soft > F0 else np.float32(np.inf)
    hue_low, hue_high = windows[0], windows[1]
    wrap = hue_low > hue_high
    saturation_low, saturation_high = windows[2], windows[3]
    value_low, value_high = windows[4], windows[5]
    for y in range(first, stop):
        row = flat[y]
        out_row = out[y]
        channels = np.empty((6, width), np.float32)
        reds, greens, blues = channels[0], channels[1], channels[2]
        exceptional = 0
        for x in range(width):
            alpha = row[4 * x + 3]
            scale = safe_quotient(F1, alpha) if alpha != F0 else F1
            red = row[4 * x] * scale
            green = row[4 * x + 1] * scale
            blue = row[4 * x + 2] * scale
            exceptional |= (not red <= F1) | (not green <= F1) | (not blue <= F1)
            reds[x] = red
            greens[x] = green
            blues[x] = blue
        if encoded:
            linear = channels[:3]
            channels = channels[3:]
            reds, greens, blues = channels[0], channels[1], channels[2]
            for x in range(width):
                reds[x] = encode_lut(linear[0, x])
                greens[x] = encode_lut(linear[1, x])
                blues[x] = encode_lut(linear[2, x])
            if exceptional:
                for channel in range(3):
                    for x in range(width):
                        if not linear[channel, x] <= F1:
                            channels[channel, x] = srgb_encode(linear[channel, x])
        for x in range(width):
            out_row[x] = hsv_weight(reds[x], greens[x], blues[x], hue_low, hue_high, wrap,
                                    saturation_low, saturation_high, value_low, value_high,
                                    gain, hue_gain)
        if invert:
            for x in range(width):
                out_row[x] = F1 - out_row[x]


@scalar
def color_difference(primary, other_a, other_b, max_weight):
    """Screen-balanced colour difference: primary - (w max(a, b) + (1 - w) min(a, b))."""
    high = max(other_a, other_b)
    low = min(other_a, other_b)
    return primary - (max_weight * high + (1.0 - max_weight) * low)


@kernel
def despill_into(image, screen, channels, max_weight, amount, keep_luminance, out,
                 first, stop):
    """Remove spill of the screen colour, keeping Rec.709 luminance (or not).

    The spill fraction t = D(pixel) / D(screen) (D: `color_difference` with the screen's
    primary channel `channels[0]`) is removed along the screen colour, and with
    `keep_luminance` the luminance removed is added back to every channel (without it,
    no channel is pushed below 0: no negative light). image, out: (H, W, 4) premultiplied;
    screen: (3,) float32; channels: (3,) int64 = primary, other, other. Rows first:stop
    (a band kernel, nodes/kernels/bands.py).
    """
    width = out.shape[1]
    screen_difference = color_difference(screen[channels[0]], screen[channels[1]],
                                         screen[channels[2]], max_weight)
    screen_luma = 0.2126 * screen[0] + 0.7152 * screen[1] + 0.0722 * screen[2]
    if not keep_luminance:
        screen_luma = 0.0
    primary, other_a, other_b = channels[0], channels[1], channels[2]
    for y in range(first, stop):
        pixels = image[y]
        out_row = out[y]
        for x in range(width):
            difference = color_difference(pixels[x, primary], pixels[x, other_a],
                                          pixels[x, other_b], max_weight)
            spill = amount * max(difference, 0.0) / screen_difference
            restore = spill * screen_luma
            for channel in range(3):
                value = pixels[x, channel]
                removed = value - spill * screen[channel]
                if not keep_luminance:
                    removed = max(removed, min(value, 0.0))
                out_row[x, channel] = removed + restore
            out_row[x, 3] = pixels[x, 3]


@scalar
def is_confident_backing(primary, other_a, other_b, difference, screen_difference,
                         screen_ratio, ratio_a, ratio_b):
    """Whether a pixel (its primary channel, the two others and its colour difference)
    is surely the backing: the difference is >= 25% of the screen's, the
    difference-to-primary ratio >= 80% of the screen's and each other channel, relative
    to the primary, within 0.1 of the screen's (brightness-free tests; branch-free so
    the pixel loop vectorises)."""
    return ((difference >= 0.25 * screen_difference)
            & (difference >= 0.8 * screen_ratio * primary)
            & (abs(other_a - ratio_a * primary) <= 0.1 * primary)
            & (abs(other_b - ratio_b * primary) <= 0.1 * primary))


@scalar
def backing_tests(screen, channels, max_weight):
    """The screen's difference, difference-to-primary ratio and other-channel ratios."""
    screen_difference = color_difference(screen[channels[0]], screen[channels[1]],
                                         screen[channels[2]], max_weight)
    primary = max(screen[channels[0]], 1e-6)
    return (screen_difference, screen_difference / primary, screen[channels[1]] / primary,
            screen[channels[2]] / primary)


@kernel
def unmix_backing_into(image, backing, matte, out, first, stop):
    """Take the backing seen through partial pixels out of a plate: colour - (1 - matte)
    x alpha x backing, clamped at 0, and alpha x matte. image, out: (H, W, 4)
    premultiplied; backing: (H, W, 3) the backing's colour; matte: (H, W) in [0, 1]. Rows
    first:stop (a band kernel)."""
    width = matte.shape[1]
    for y in range(first, stop):
        for x in range(width):
            alpha = image[y, x, 3]
            coverage = min(max(matte[y, x], 0.0), 1.0)  # NaN: 0
            through = (1.0 - coverage) * alpha
            for channel in range(3):
                out[y, x, channel] = max(image[y, x, channel] - through * backing[y, x, channel],
                                         0.0) if coverage > 0.0 else 0.0
            out[y, x, 3] = alpha * coverage


@kernel
def backing_cell_sums(image, screen, channels, max_weight, cell, step, sums, first, stop):
    """Sum the colour of confident backing pixels per grid cell (every `step` pixel).

    sums: (GH, GW, 4) float64 zeroed: red, green, blue sums and the count. Grid rows
    first:stop (a band kernel).
    """
    height, width = image.shape[0], image.shape[1]
    difference, ratio, ratio_a, ratio_b = backing_tests(screen, channels, max_weight)
    for grid_y in range(first, stop):
        for y in range(grid_y * cell + step // 2, min((grid_y + 1) * cell, height), step):
            for x in range(step // 2, width, step):
                primary = image[y, x, channels[0]]
                other_a, other_b = image[y, x, channels[1]], image[y, x, channels[2]]
                if not is_confident_backing(
                        primary, other_a, other_b,
                        color_difference(primary, other_a, other_b, max_weight),
                        difference, ratio, ratio_a, ratio_b):
                    continue
                grid_x = x // cell
                for channel in range(3):
                    sums[grid_y, grid_x, channel] += image[y, x, channel]
                sums[grid_y, grid_x, 3] += 1.0


@kernel
def labels_holding(labels, flags, holding):
    """holding[label] = True for each label of (H, W) int32 `labels` that has a pixel
    whose (H, W) uint8 `flag` is set; holding: (count,) bool, zeroed."""
    height, width = labels.shape
    for y in range(height):
        for x in range(width):
            if flags[y, x]:
                holding[labels[y, x]] = True


@kernel
def set_where_label(values, labels, chosen, value, first, stop):
    """values[y, x] = value where chosen[labels[y, x]]; values: (H, W) float32. Rows
    first:stop (a band kernel)."""
    width = values.shape[1]
    for y in range(first, stop):
        for x in range(width):
            if chosen[labels[y, x]]:
                values[y, x] = value


@scalar
def noise_knee(raw, tolerance):
    """0 up to `tolerance`, rising at slope 2 to meet `raw` at 2 x tolerance, `raw` above:
    backing noise is removed without shifting every partial alpha down."""
    if raw >= 2.0 * tolerance:
        return raw
    return 2.0 * (raw - tolerance) if raw > tolerance else 0.0


@kernel
def raw_alpha_into(image, difference_grid, cell, screen, channels, max_weight, raw, backing,
                   first, stop):
    """Colour-difference raw alpha against the local screen's difference (bilinear over
    a grid): 1 - D(pixel) / D(local screen) (1 where D(local screen) <= 1e-6), and
    whether each pixel is surely the backing (`is_confident_backing` against `screen`).
    difference_grid: (GH, GW) float32, D of the screen colour per cell, cell centres at
    ((i + 0.5) * cell); raw: (H, W) float32; backing: (H, W) uint8. Rows first:stop (a
    band kernel).
    """
    width = raw.shape[1]
    screen_difference, ratio, ratio_a, ratio_b = backing_tests(screen, channels, max_weight)
    grid_height, grid_width = difference_grid.shape
    primary, other_a, other_b = channels[0], channels[1], channels[2]
    left = np.empty(width, np.int64)
    fraction_x = np.empty(width, np.float32)
    for x in range(width):
        position = min(max((x + 0.5) / cell - 0.5, 0.0), grid_width - 1.0)
        left[x] = min(int(position), max(grid_width - 2, 0))
        fraction_x[x] = position - left[x]
    for y in range(first, stop):
        pixels = image[y]
        raw_row = raw[y]
        backing_row = backing[y]
        row = np.empty(grid_width + 1, np.float32)
        grid_y = min(max((y + 0.5) / cell - 0.5, 0.0), grid_height - 1.0)
        top = min(int(grid_y), max(grid_height - 2, 0))
        bottom = min(top + 1, grid_height - 1)
        fraction_y = grid_y - top
        for grid_x in range(grid_width):
            row[grid_x] = (difference_grid[top, grid_x] * (1.0 - fraction_y)
                           + difference_grid[bottom, grid_x] * fraction_y)
        row[grid_width] = row[grid_width - 1]
        inverse = np.empty(width, np.float32)
        for x in range(width):
            local = row[left[x]] * (1.0 - fraction_x[x]) + row[left[x] + 1] * fraction_x[x]
            inverse[x] = 1.0 / local if local > 1e-6 else 0.0
        for x in range(width):
            difference = color_difference(pixels[x, primary], pixels[x, other_a],
                                          pixels[x, other_b], max_weight)
            raw_row[x] = 1.0 - difference * inverse[x]
            backing_row[x] = is_confident_backing(
                pixels[x, primary], pixels[x, other_a], pixels[x, other_b], difference,
                screen_difference, ratio, ratio_a, ratio_b)


@kernel
def key_from_raw_into(raw, tolerance, softness, see_through_below, out, see_through, first,
                      stop):
    """The key from the raw alpha: 0 where the raw alpha, or its mean over the 3x3
    neighbourhood (edges clamped), is at most `tolerance` (isolated noise specks go, a
    thin strand's neighbourhood carries it); else clamp(noise_knee(raw, tolerance) /
    softness) (a step where softness is 0). raw, out: (H, W) float32; NaN gives 0.
    see_through: (H, W) uint8, 1 where out < see_through_below. Rows first:stop (a band
    kernel).
    """
    height, width = out.shape
    gain = 1.0 / softness if softness > 0.0 else 1e30
    for y in range(first, stop):
        above, centre = raw[max(y - 1, 0)], raw[y]
        below = raw[min(y + 1, height - 1)]
        columns = np.empty(width + 2, np.float32)      # 3-row sums, edge columns repeated
        for x in range(width):
            columns[x + 1] = above[x] + centre[x] + below[x]
        columns[0], columns[width + 1] = columns[1], columns[width]
        for x in range(width):
            total = columns[x] + columns[x + 1] + columns[x + 2]
            value = noise_knee(centre[x], tolerance) * gain
            if not total > 9.0 * tolerance:
                value = 0.0
            value = min(value, 1.0) if value > 0.0 else 0.0  # NaN input: 0, never NaN
            out[y, x] = value
            see_through[y, x] = value < see_through_below


@kernel
def finish_matte(matte, garbage, core, use_garbage, use_core, invert, first, stop):
    """In place on (H, W) float32: core forces 1 (max), garbage forces 0 (multiplies by
    1 - garbage), then invert. Rows first:stop (a band kernel)."""
    width = matte.shape[1]
    for y in range(first, stop):
        for x in range(width):
            value = matte[y, x]
            if use_core:
                value = max(value, core[y, x])
            if use_garbage:
                value = value * (1.0 - garbage[y, x])
            matte[y, x] = 1.0 - value if invert else value


@kernel
def difference_key_into(image, reference, tolerance, softness, invert, out, first, stop):
    """Relative difference key: raw = sum_c |I_c - R_c| / sum_c R_c, mapped by
    (raw - tolerance) / softness to [0, 1] (1 = differs from the reference).

    For a structure of colour D covering a fraction a of a pixel of a clean background
    R, I = a D + (1 - a) R, so raw = a |D - R| / R: a dark structure (D << R) gives
    raw = a, its own coverage. image, reference: (H, W, 4) float32 premultiplied
    linear; out: (H, W) float32. Rows first:stop (a band kernel).
    """
    width = out.shape[1]
    floor = np.float32(1e-4)
    for y in range(first, stop):
        for x in range(width):
            difference = (abs(image[y, x, 0] - reference[y, x, 0])
                          + abs(image[y, x, 1] - reference[y, x, 1])
                          + abs(image[y, x, 2] - reference[y, x, 2]))
            level = reference[y, x, 0] + reference[y, x, 1] + reference[y, x, 2]
            raw = difference / max(level, floor)
            value = min(max((raw - tolerance) / softness, 0.0), 1.0)
            out[y, x] = 1.0 - value if invert else value
