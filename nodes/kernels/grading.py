"""Colour-correction kernels: grade, ASC CDL, 3x3 colour matrices, alpha replacement.

Images are (H, W, 4) float32 premultiplied RGBA passed as (H, W * 4) C-contiguous row
views; outputs are written into `out_rows` of the same shape. Alpha passes unchanged
unless a kernel says otherwise.

`fast_pow` replaces libm's `pow` (which does not vectorise and costs ~75 ms per 4K frame
here): exponent and mantissa are split with a bit cast, log2 of the mantissa and 2**f are
polynomials fitted by least squares on their reduced ranges (float32 coefficients; error
~6e-8 for log2 on [sqrt(1/2), sqrt(2)], ~1e-7 relative for 2**f on [-1/2, 1/2]). The
result is within 1e-5 relative of the exact power for every positive finite float32 input
(subnormals are rescaled first); tests check it against numpy in float64. The
polynomials are evaluated with explicit fused multiply-adds (`fma`, llvm.fma: one rounding
per step, half the instructions; without fastmath LLVM would not contract them itself),
which took grade with gamma from ~18.5 to ~12 ms and cdl with power from ~20 to ~13-16 ms
per 4K frame (bench/bench_grade.py).
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from nodes.kernels.jit import kernel, parallel_kernel, pixel_form, prange, scalar

ZERO = np.float32(0.0)
ONE = np.float32(1.0)
INFINITY = np.float32(np.inf)
NEGATIVE_INFINITY = np.float32(-np.inf)
SQRT2 = np.float32(np.sqrt(2.0))
SMALLEST_NORMAL = np.float32(np.finfo(np.float32).tiny)
SUBNORMAL_BITS = np.float32(24.0)
SUBNORMAL_SCALE = np.float32(2.0 ** 24)
LUMA_RED, LUMA_GREEN, LUMA_BLUE = (np.float32(w) for w in (0.2126, 0.7152, 0.0722))

# log2(1 + u) = u * P(u) on u in [sqrt(1/2) - 1, sqrt(2) - 1]; coefficients of P, u^0 first.
LOG2_COEFFICIENTS = tuple(np.float32(c) for c in (
    1.4426950216293335, -0.7213473320007324, 0.48091059923171997, -0.36070483922958374,
    0.28791823983192444, -0.23892004787921906, 0.2156704217195511, -0.20742355287075043,
    0.12615002691745758))
# 2**f on f in [-1/2, 1/2]; f^0 first.
EXP2_COEFFICIENTS = tuple(np.float32(c) for c in (
    1.0, 0.6931471824645996, 0.24022650718688965, 0.05550340563058853,
    0.009618040174245834, 0.0013395310379564762, 0.00015465343312826008))
L0, L1, L2, L3, L4, L5, L6, L7, L8 = LOG2_COEFFICIENTS
E0, E1, E2, E3, E4, E5, E6 = EXP2_COEFFICIENTS


@intrinsic
def float32_bits(typingctx, value):
    """The IEEE-754 bits of a float32 as an int32 (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def bits_float32(typingctx, value):
    """The float32 whose IEEE-754 bits are the given int32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c for float32 values, rounded once (llvm.fma: one vfmadd, vectorises)."""
    def codegen(context, builder, signature, args):
        float32 = ir.FloatType()
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(float32, [float32] * 3), "llvm.fma.f32")
        return builder.call(function, args)
    return types.float32(types.float32, types.float32, types.float32), codegen


@scalar
def fast_log2(value):
    """log2 of a positive finite float32 (absolute error ~1e-7); subnormals are scaled."""
    subnormal = value < SMALLEST_NORMAL
    scaled = value * SUBNORMAL_SCALE if subnormal else value  # selects, no branches:
    bits = float32_bits(scaled)                               # loops that inline this
    unbiased = np.float32((bits >> 23) - 127)                 # vectorise (a branch here
    exponent = unbiased - SUBNORMAL_BITS if subnormal else unbiased  # stopped fused ones)
    whole = bits_float32(np.int32((bits & 0x7FFFFF) | 0x3F800000))
    large = whole > SQRT2
    mantissa = whole * np.float32(0.5) if large else whole
    exponent = exponent + ONE if large else exponent
    u = mantissa - ONE
    poly = fma(fma(fma(fma(fma(fma(fma(fma(L8, u, L7), u, L6), u, L5), u, L4), u, L3), u, L2),
                   u, L1), u, L0)
    return fma(u, poly, exponent)


@scalar
def fast_exp2(power):
    """2 ** power for float32 `power`; 0 below 2**-126, clamped at 2**127 above."""
    power = min(max(power, np.float32(-126.0)), np.float32(127.0))
    whole = np.floor(power + np.float32(0.5))
    fraction = power - whole
    poly = fma(fma(fma(fma(fma(fma(E6, fraction, E5), fraction, E4), fraction, E3), fraction,
                           E2), fraction, E1), fraction, E0)
    scale = bits_float32(np.int32((np.int32(whole) + 127) << 23))
    return poly * scale if power > np.float32(-126.0) else ZERO


@scalar
def fast_pow(value, exponent):
    """value ** exponent for value > 0, exponent > 0 (within 1e-5 relative).

    inf and NaN pass through unchanged.
    """
    result = fast_exp2(exponent * fast_log2(value))
    return result if value < np.inf else value


@scalar
def powered(value, exponent):
    """value ** exponent where value > 0 and exponent != 1, else value unchanged.

    Written as a select (the power is computed for every value) so loops vectorise.
    """
    result = fast_pow(value if value > ZERO else ONE, exponent)
    return result if exponent != ONE and value > ZERO else value


@scalar
def grade_linear(value, slope, offset, lower, upper):
    """slope * value + offset, clamped to [lower, upper]."""
    return min(max(slope * value + offset, lower), upper)


@scalar
def grade_value(value, slope, offset, power, lower, upper):
    """Nuke's Grade for one value: (slope * value + offset) ** power, then the clamps.

    Values that are <= 0 after the linear part skip the power.
    """
    return min(max(powered(slope * value + offset, power), lower), upper)


@parallel_kernel
def grade_rows(rows, slope, offset, power, lower, upper, use_power, out_rows):
    """Grade RGB of (H, W*4) rows; alpha is copied.

    slope, offset, power, lower, upper: (3,) float32 per-channel values; lower/upper are
    the clamp bounds (-inf/inf where a clamp is off). use_power False skips the power.
    """
    s0, s1, s2 = slope[0], slope[1], slope[2]
    o0, o1, o2 = offset[0], offset[1], offset[2]
    p0, p1, p2 = power[0], power[1], power[2]
    l0, l1, l2 = lower[0], lower[1], lower[2]
    u0, u1, u2 = upper[0], upper[1], upper[2]
    height, width = rows.shape[0], rows.shape[1] // 4
    for y in prange(height):
        row = rows[y]
        out_row = out_rows[y]
        if use_power:
            for x in range(width):
                base = 4 * x
                out_row[base] = grade_value(row[base], s0, o0, p0, l0, u0)
                out_row[base + 1] = grade_value(row[base + 1], s1, o1, p1, l1, u1)
                out_row[base + 2] = grade_value(row[base + 2], s2, o2, p2, l2, u2)
                out_row[base + 3] = row[base + 3]
        else:
            for x in range(width):
                base = 4 * x
                out_row[base] = grade_linear(row[base], s0, o0, l0, u0)
                out_row[base + 1] = grade_linear(row[base + 1], s1, o1, l1, u1)
                out_row[base + 2] = grade_linear(row[base + 2], s2, o2, l2, u2)
                out_row[base + 3] = row[base + 3]


@scalar
def cdl_channel(value, slope, offset, power, lower, upper, use_power):
    """Slope, offset, clamp to [lower, upper], then power (values <= 0 skip it)."""
    graded = min(max(value * slope + offset, lower), upper)
    return powered(graded, power) if use_power else graded


@scalar
def saturate_into(out_row, base, red, green, blue, saturation, lower, upper):
    """Write L + saturation * (rgb - L), clamped to [lower, upper], at out_row[base:]."""
    luma = LUMA_RED * red + LUMA_GREEN * green + LUMA_BLUE * blue
    out_row[base] = min(max(luma + saturation * (red - luma), lower), upper)
    out_row[base + 1] = min(max(luma + saturation * (green - luma), lower), upper)
    out_row[base + 2] = min(max(luma + saturation * (blue - luma), lower), upper)


@parallel_kernel
def cdl_rows(rows, slope, offset, power, saturation, clamp, out_rows):
    """ASC CDL v1.2 on RGB of (H, W*4) rows; slope/offset/power (3,) float32; alpha kept.

    clamp True: OpenColorIO's ASC style (clamp to [0, 1] before the power and after the
    saturation); False: the no-clamp style (values <= 0 skip the power).
    """
    s0, s1, s2 = slope[0], slope[1], slope[2]
    o0, o1, o2 = offset[0], offset[1], offset[2]
    p0, p1, p2 = power[0], power[1], power[2]
    use_power = p0 != ONE or p1 != ONE or p2 != ONE
    lower = ZERO if clamp else NEGATIVE_INFINITY
    upper = ONE if clamp else INFINITY
    height, width = rows.shape[0], rows.shape[1] // 4
    for y in prange(height):
        row = rows[y]
        out_row = out_rows[y]
        if use_power:
            for x in range(width):
                base = 4 * x
                red = cdl_channel(row[base], s0, o0, p0, lower, upper, True)
                green = cdl_channel(row[base + 1], s1, o1, p1, lower, upper, True)
                blue = cdl_channel(row[base + 2], s2, o2, p2, lower, upper, True)
                saturate_into(out_row, base, red, green, blue, saturation, lower, upper)
                out_row[base + 3] = row[base + 3]
        else:
            for x in range(width):
                base = 4 * x
                red = cdl_channel(row[base], s0, o0, p0, lower, upper, False)
                green = cdl_channel(row[base + 1], s1, o1, p1, lower, upper, False)
                blue = cdl_channel(row[base + 2], s2, o2, p2, lower, upper, False)
                saturate_into(out_row, base, red, green, blue, saturation, lower, upper)
                out_row[base + 3] = row[base + 3]


@parallel_kernel
def matrix_rows(rows, matrix, out_rows):
    """RGB' = matrix @ RGB for every pixel of (H, W*4) rows; matrix (3, 3) float32."""
    m00, m01, m02 = matrix[0, 0], matrix[0, 1], matrix[0, 2]
    m10, m11, m12 = matrix[1, 0], matrix[1, 1], matrix[1, 2]
    m20, m21, m22 = matrix[2, 0], matrix[2, 1], matrix[2, 2]
    height, width = rows.shape[0], rows.shape[1] // 4
    for y in prange(height):
        row = rows[y]
        out_row = out_rows[y]
        for x in range(width):
            base = 4 * x
            red, green, blue = row[base], row[base + 1], row[base + 2]
            out_row[base] = m00 * red + m01 * green + m02 * blue
            out_row[base + 1] = m10 * red + m11 * green + m12 * blue
            out_row[base + 2] = m20 * red + m21 * green + m22 * blue
            out_row[base + 3] = row[base + 3]


@parallel_kernel
def repremultiply_rows(graded_rows, original_rows, out_rows):
    """Multiply straight graded RGB by the original alpha; alpha-0 pixels keep the original.

    All (H, W*4) rows; `graded_rows` holds colour graded after unpremultiplying.
    """
    height, width = original_rows.shape[0], original_rows.shape[1] // 4
    for y in prange(height):
        graded = graded_rows[y]
        original = original_rows[y]
        out_row = out_rows[y]
        for x in range(width):
            base = 4 * x
            alpha = original[base + 3]
            for channel in range(3):
                value = graded[base + channel] * alpha
                out_row[base + channel] = value if alpha != ZERO else original[base + channel]
            out_row[base + 3] = alpha


@kernel
def set_alpha_rows(rows, mask, multiply, out_rows, first, stop):
    """Give (H, W*4) premultiplied rows the alpha `mask` (H, W), premultiplying to match.

    multiply False: the new alpha is the mask; colour = straight colour * mask (a pixel
    with alpha 0 has its stored colour taken as straight colour).
    multiply True: the new alpha is alpha * mask; every channel is scaled by the mask.
    Rows first:stop (a band kernel, nodes/kernels/bands.py).
    """
    width = rows.shape[1] // 4
    for y in range(first, stop):
        row = rows[y]
        out_row = out_rows[y]
        mask_row = mask[y]
        for x in range(width):
            base = 4 * x
            coverage = mask_row[x]
            alpha = row[base + 3]
            scale = coverage
            if not multiply and alpha != ZERO:
                scale = coverage / alpha
            for channel in range(3):
                out_row[base + channel] = row[base + channel] * scale
            out_row[base + 3] = alpha * coverage if multiply else coverage


# ---------------------------------------------------------------- per-pixel forms
# One pixel (r, g, b, a) -> (r, g, b, a), for the engine's fused chains (graph/fusion.py).
# Each gives exactly what the row kernel above (and the node's unpremultiply /
# repremultiply steps) give for that pixel; `values` is a float32 array of the params.

@scalar
def straight_scale(alpha):
    """The factor that unpremultiplies a pixel (1 where alpha is 0), as unpremultiply_into."""
    return ONE / alpha if alpha != ZERO else ONE


@scalar
def repremultiplied(graded, original, alpha):
    """Straight graded colour times the original alpha; alpha-0 pixels keep the original."""
    value = graded * alpha
    return value if alpha != ZERO else original


# The grade's per-pixel variants. values: slope[3], offset[3], power[3], lower[3],
# upper[3]. Unpremult and the power are fixed per variant (constants, not branches in the
# loop). The variants with a power are `pixel_form`s (see nodes/kernels/jit.py: as
# `scalar`s they were left as calls, and a fused grade with a gamma ran 13x slower).

@scalar
def grade_pixel(red, green, blue, alpha, values):
    """Grade without a power, on stored colour."""
    return (grade_linear(red, values[0], values[3], values[9], values[12]),
            grade_linear(green, values[1], values[4], values[10], values[13]),
            grade_linear(blue, values[2], values[5], values[11], values[14]), alpha)


@scalar
def grade_pixel_straight(red, green, blue, alpha, values):
    """Grade without a power, on straight colour (premultiplied again)."""
    scale = straight_scale(alpha)
    return (repremultiplied(grade_linear(red * scale, values[0], values[3], values[9],
                                         values[12]), red, alpha),
            repremultiplied(grade_linear(green * scale, values[1], values[4], values[10],
                                         values[13]), green, alpha),
            repremultiplied(grade_linear(blue * scale, values[2], values[5], values[11],
                                         values[14]), blue, alpha), alpha)


@pixel_form
def grade_pixel_power(red, green, blue, alpha, values):
    """Grade with a power, on stored colour."""
    return (grade_value(red, values[0], values[3], values[6], values[9], values[12]),
            grade_value(green, values[1], values[4], values[7], values[10], values[13]),
            grade_value(blue, values[2], values[5], values[8], values[11], values[14]), alpha)


@pixel_form
def grade_pixel_power_straight(red, green, blue, alpha, values):
    """Grade with a power, on straight colour (premultiplied again)."""
    scale = straight_scale(alpha)
    return (repremultiplied(grade_value(red * scale, values[0], values[3], values[6],
                                        values[9], values[12]), red, alpha),
            repremultiplied(grade_value(green * scale, values[1], values[4], values[7],
                                        values[10], values[13]), green, alpha),
            repremultiplied(grade_value(blue * scale, values[2], values[5], values[8],
                                        values[11], values[14]), blue, alpha), alpha)


GRADE_PIXELS = {(False, False): grade_pixel, (True, False): grade_pixel_straight,
                (False, True): grade_pixel_power, (True, True): grade_pixel_power_straight}
"""(unpremult, has a power) -> the grade's per-pixel variant."""


@scalar
def cdl_bound(values, bound):
    """The CDL's clamp bound (0 lower, 1 upper) for clamp = values[10] (1 or 0)."""
    if bound == 0:
        return ZERO if values[10] != ZERO else NEGATIVE_INFINITY
    return ONE if values[10] != ZERO else INFINITY


@scalar
def cdl_graded(value, slope, offset, power, values, use_power):
    """Slope, offset, clamp and power of one channel, as cdl_rows."""
    return cdl_channel(value, slope, offset, power, cdl_bound(values, 0),
                       cdl_bound(values, 1), use_power)


@scalar
def cdl_luma(red, green, blue):
    return LUMA_RED * red + LUMA_GREEN * green + LUMA_BLUE * blue


@scalar
def cdl_saturate(value, luma, values):
    """One channel after the CDL saturation (values[9]) and its clamp, as saturate_into."""
    return min(max(luma + values[9] * (value - luma), cdl_bound(values, 0)),
               cdl_bound(values, 1))


# The CDL's per-pixel variants. values: slope[3], offset[3], power[3], saturation, clamp
# (1 or 0); unpremult and the power fixed per variant; `pixel_form`s, as the grade's.

@pixel_form
def cdl_pixel_variant(red, green, blue, alpha, values, use_power):
    """The CDL of stored colour (use_power a constant)."""
    graded_red = cdl_graded(red, values[0], values[3], values[6], values, use_power)
    graded_green = cdl_graded(green, values[1], values[4], values[7], values, use_power)
    graded_blue = cdl_graded(blue, values[2], values[5], values[8], values, use_power)
    luma = cdl_luma(graded_red, graded_green, graded_blue)
    return (cdl_saturate(graded_red, luma, values), cdl_saturate(graded_green, luma, values),
            cdl_saturate(graded_blue, luma, values), alpha)


@pixel_form
def cdl_straight_variant(red, green, blue, alpha, values, use_power):
    """The CDL of straight colour, premultiplied again (use_power a constant)."""
    scale = straight_scale(alpha)
    graded_red = cdl_graded(red * scale, values[0], values[3], values[6], values, use_power)
    graded_green = cdl_graded(green * scale, values[1], values[4], values[7], values,
                              use_power)
    graded_blue = cdl_graded(blue * scale, values[2], values[5], values[8], values, use_power)
    luma = cdl_luma(graded_red, graded_green, graded_blue)
    return (repremultiplied(cdl_saturate(graded_red, luma, values), red, alpha),
            repremultiplied(cdl_saturate(graded_green, luma, values), green, alpha),
            repremultiplied(cdl_saturate(graded_blue, luma, values), blue, alpha), alpha)


@scalar
def cdl_pixel(red, green, blue, alpha, values):
    """CDL without a power, on stored colour."""
    return cdl_pixel_variant(red, green, blue, alpha, values, False)


@scalar
def cdl_pixel_straight(red, green, blue, alpha, values):
    """CDL without a power, on straight colour."""
    return cdl_straight_variant(red, green, blue, alpha, values, False)


@pixel_form
def cdl_pixel_power(red, green, blue, alpha, values):
    """CDL with a power, on stored colour."""
    return cdl_pixel_variant(red, green, blue, alpha, values, True)


@pixel_form
def cdl_pixel_power_straight(red, green, blue, alpha, values):
    """CDL with a power, on straight colour."""
    return cdl_straight_variant(red, green, blue, alpha, values, True)


CDL_PIXELS = {(False, False): cdl_pixel, (True, False): cdl_pixel_straight,
              (False, True): cdl_pixel_power, (True, True): cdl_pixel_power_straight}
"""(unpremult, has a power) -> the CDL's per-pixel variant."""


@scalar
def matrix_pixel(red, green, blue, alpha, values):
    """RGB' = M @ RGB for one pixel; values: the (3, 3) matrix M row by row."""
    return (values[0] * red + values[1] * green + values[2] * blue,
            values[3] * red + values[4] * green + values[5] * blue,
            values[6] * red + values[7] * green + values[8] * blue, alpha)


@scalar
def set_alpha_pixel(red, green, blue, alpha, coverage, values):
    """set_alpha of one pixel with mask value `coverage`; values: [multiply (1 or 0)]."""
    multiply = values[0] != ZERO
    scale = coverage
    if not multiply and alpha != ZERO:
        scale = coverage / alpha
    return (red * scale, green * scale, blue * scale,
            alpha * coverage if multiply else coverage)
