"""Merge operations: a table of small scalar functions and one kernel family.

Every operation is a jitted scalar function `op(A, B, a, b) -> value` on float32 values:
A, B are one premultiplied channel of the A (foreground) and B (background) pixel, a, b
their alphas. The same function is applied to the three colour channels and to alpha
(for alpha, A = a and B = b), as Nuke's Merge does.

`OPS` maps the public operation name to its scalar function. `merge_kernel(name)` returns
the row kernel specialised for that operation: one template loop, compiled once per
operation with the scalar function inlined, so every operation runs at the speed of the
plain `over` loop. Each specialisation is a module-level function with its own name, so
numba's on-disk cache keeps one entry per operation.

Division by zero (defined, never inf or NaN for finite input):
- divide: 0 where A < 0 and B < 0 (Nuke), 0 where B == 0, else A / B limited to the
  float32 range.
- geometric: 0 where A + B == 0.
- conjoint-over: A + B where b == 0 (and a <= b).
- disjoint-over: A where b == 0 (and a + b >= 1).
- matte: A is unpremultiplied as A / a; where a == 0, A is used as it is.
- color-dodge: A where A >= 1; color-burn: A where A <= 0 (Natron's definitions).
"""
import types

import numpy as np

from nodes.kernels.jit import kernel, scalar

ZERO = np.float32(0.0)
HALF = np.float32(0.5)
ONE = np.float32(1.0)
TWO = np.float32(2.0)
FLOAT32_MAX = np.float32(np.finfo(np.float32).max)


@scalar
def finite(value):
    """`value` limited to the finite float32 range (an infinite quotient becomes +-max)."""
    return min(max(value, -FLOAT32_MAX), FLOAT32_MAX)


@scalar
def quotient(numerator, denominator):
    """numerator / denominator, or 0 where the denominator is 0.

    Written as selects (no branch, no Python ZeroDivisionError path) so loops vectorise.
    """
    safe = denominator if denominator != ZERO else ONE
    return numerator / safe if denominator != ZERO else ZERO


@scalar
def op_over(A, B, a, b):
    return A + B * (ONE - a)


@scalar
def op_under(A, B, a, b):
    return A * (ONE - b) + B


@scalar
def op_in(A, B, a, b):
    return A * b


@scalar
def op_out(A, B, a, b):
    return A * (ONE - b)


@scalar
def op_atop(A, B, a, b):
    return A * b + B * (ONE - a)


@scalar
def op_xor(A, B, a, b):
    return A * (ONE - b) + B * (ONE - a)


@scalar
def op_mask(A, B, a, b):
    return B * a


@scalar
def op_stencil(A, B, a, b):
    return B * (ONE - a)


@scalar
def op_matte(A, B, a, b):
    straight = quotient(A, a) if a != ZERO else A
    return straight * a + B * (ONE - a)


@scalar
def op_copy(A, B, a, b):
    return A


@scalar
def op_plus(A, B, a, b):
    return A + B


@scalar
def op_minus(A, B, a, b):
    return A - B


@scalar
def op_from(A, B, a, b):
    return B - A


@scalar
def op_multiply(A, B, a, b):
    if A < ZERO and B < ZERO:
        return A
    return A * B


@scalar
def op_screen(A, B, a, b):
    if A <= ONE or B <= ONE:
        return A + B - A * B
    return max(A, B)


@scalar
def op_difference(A, B, a, b):
    return abs(A - B)


@scalar
def op_divide(A, B, a, b):
    result = finite(quotient(A, B))
    return ZERO if A < ZERO and B < ZERO else result


@scalar
def op_max(A, B, a, b):
    return max(A, B)


@scalar
def op_min(A, B, a, b):
    return min(A, B)


@scalar
def op_average(A, B, a, b):
    return (A + B) * HALF


@scalar
def op_hypot(A, B, a, b):
    return np.sqrt(A * A + B * B)


@scalar
def op_geometric(A, B, a, b):
    return finite(quotient(TWO * A * B, A + B))


@scalar
def op_exclusion(A, B, a, b):
    return A + B - TWO * A * B


@scalar
def op_conjoint_over(A, B, a, b):
    result = A + B * (ONE - quotient(a, b)) if b != ZERO else A + B
    return A if a > b else result


@scalar
def op_disjoint_over(A, B, a, b):
    result = A + quotient(B * (ONE - a), b)
    return A + B if a + b < ONE else result


@scalar
def op_hard_light(A, B, a, b):
    if A < HALF:
        return op_multiply(TWO * A, B, a, b)
    return op_screen(TWO * A - ONE, B, a, b)


@scalar
def op_overlay(A, B, a, b):
    return op_hard_light(B, A, b, a)


@scalar
def op_soft_light(A, B, a, b):
    product = A * B
    if product < ONE:
        return B * (TWO * A + B * (ONE - product))
    return TWO * product


@scalar
def op_color_dodge(A, B, a, b):
    result = min(ONE, finite(quotient(B, ONE - A)))
    return A if A >= ONE else result


@scalar
def op_color_burn(A, B, a, b):
    result = ONE - min(ONE, finite(quotient(ONE - B, A)))
    return A if A <= ZERO else result


OPS = {
    "over": op_over, "under": op_under, "in": op_in, "out": op_out, "atop": op_atop,
    "xor": op_xor, "mask": op_mask, "stencil": op_stencil, "matte": op_matte,
    "copy": op_copy, "plus": op_plus, "minus": op_minus, "from": op_from,
    "multiply": op_multiply, "screen": op_screen, "difference": op_difference,
    "divide": op_divide, "max": op_max, "min": op_min, "average": op_average,
    "hypot": op_hypot, "geometric": op_geometric, "exclusion": op_exclusion,
    "conjoint-over": op_conjoint_over, "disjoint-over": op_disjoint_over,
    "hard-light": op_hard_light, "overlay": op_overlay, "soft-light": op_soft_light,
    "color-dodge": op_color_dodge, "color-burn": op_color_burn,
}


def _merge_rows(a_rows, b_rows, out_rows, first, stop):
    """Template: out = op(A, B, a, b) per channel; `op` is bound per operation.

    a_rows, b_rows, out_rows: (H, W * 4) float32 C-contiguous views of RGBA images; rows
    first:stop (a band kernel, nodes/kernels/bands.py).
    """
    width = b_rows.shape[1] // 4
    for y in range(first, stop):
        a_row = a_rows[y]
        b_row = b_rows[y]
        out_row = out_rows[y]
        for x in range(width):
            alpha_a = a_row[4 * x + 3]
            alpha_b = b_row[4 * x + 3]
            for channel in range(4):
                index = 4 * x + channel
                out_row[index] = op(a_row[index], b_row[index], alpha_a, alpha_b)  # noqa: F821


def _specialise(name, scalar_op):
    """A band kernel `_merge_rows` with `op` bound to `scalar_op`, named per op."""
    kernel_name = "merge_rows_" + name.replace("-", "_")
    namespace = dict(globals(), op=scalar_op)
    function = types.FunctionType(_merge_rows.__code__, namespace, kernel_name)
    function.__qualname__ = kernel_name
    function.__doc__ = f"`{name}` merge of (H, W*4) rows into `out_rows`."
    return kernel(function)


MERGE_KERNELS = {name: _specialise(name, scalar_op) for name, scalar_op in OPS.items()}


def _merge_pixel(red, green, blue, alpha, a_red, a_green, a_blue, a_alpha, values):
    """Template: one pixel of the merge of A (a_*) onto B (the other four); `op` bound
    per operation. values unused."""
    return (op(a_red, red, a_alpha, alpha), op(a_green, green, a_alpha, alpha),  # noqa: F821
            op(a_blue, blue, a_alpha, alpha), op(a_alpha, alpha, a_alpha, alpha))  # noqa: F821


def _pixel_form(name, scalar_op):
    """`_merge_pixel` with `op` bound, a scalar helper named merge_pixel_<op> here."""
    pixel_name = "merge_pixel_" + name.replace("-", "_")
    function = types.FunctionType(_merge_pixel.__code__, dict(globals(), op=scalar_op),
                                  pixel_name)
    function.__qualname__ = pixel_name
    function.__doc__ = f"One pixel of the `{name}` merge, for the engine's fused chains."
    globals()[pixel_name] = scalar(function)
    return globals()[pixel_name]


MERGE_PIXELS = {name: _pixel_form(name, scalar_op) for name, scalar_op in OPS.items()}


def merge_kernel(name):
    """The compiled band kernel `(a_rows, b_rows, out_rows, first, stop)` for operation
    `name` (run it with nodes.kernels.bands.run_bands)."""
    return MERGE_KERNELS[name]
