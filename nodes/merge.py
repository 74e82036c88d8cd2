"""Node spec: merge (Porter-Duff and blend operations of `a` onto `b`, Nuke's definitions)."""
from __future__ import annotations

import numpy as np

from graph import buffers
from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, Pointwise, node
from nodes.kernels.bands import run_bands
from nodes.kernels.blend import MERGE_PIXELS, OPS, merge_kernel

MERGE_OPS = tuple(OPS)


def _merge_check(params, connected):
    offset = params.get("offset")
    if offset is not None and not all(float(value).is_integer() for value in offset):
        return [("offset", f"must be whole pixels, found {list(offset)}")]
    return []


def place(a: np.ndarray, b_shape: tuple, offset_x: int, offset_y: int) -> np.ndarray:
    """`a` (h, w, 4) on a transparent canvas of `b_shape` (H, W, 4), top-left at the offset.

    Parts of `a` outside the canvas are cut. Raises NodeInputError when nothing of `a`
    lands on the canvas.
    """
    height, width = b_shape[:2]
    a_height, a_width = a.shape[:2]
    x0, y0 = max(offset_x, 0), max(offset_y, 0)
    x1, y1 = min(offset_x + a_width, width), min(offset_y + a_height, height)
    if x1 <= x0 or y1 <= y0:
        raise NodeInputError(
            f"'a' ({a_width}x{a_height}) placed at offset [{offset_x}, {offset_y}] does not "
            f"overlap 'b' ({width}x{height})",
            hint="'b' defines the output size; 'offset' is the position of a's top-left "
                 "corner in b, in pixels")
    placed = np.zeros(b_shape, np.float32)
    placed[y0:y1, x0:x1] = a[y0 - offset_y:y1 - offset_y, x0 - offset_x:x1 - offset_x]
    return placed


def _merge_pixel(*, op, offset):
    """merge's per-pixel form: only without an offset (`a` then lies on `b` pixel for
    pixel; an `a` of another size makes the engine run the node on its own)."""
    if offset[0] or offset[1]:
        return None
    return MERGE_PIXELS[op], np.zeros(1, np.float32)


@node("merge", version=1, category="merge", maskable=True, original="b",
      inputs=[Input("a", "image", doc="the foreground (A)"),
              Input("b", "image", doc="the background (B); defines the output size")],
      outputs=[Output("output", "image", doc="the merged picture")],
      params=[Param("op", "choice", "over", choices=MERGE_OPS, doc="the merge operation"),
              Param("offset", "vec2", (0, 0),
                    doc="[x, y] position of a's top-left corner in b, whole pixels")],
      check=_merge_check, pointwise=Pointwise(_merge_pixel, "b", sides=("a",)))
def merge(a, b, *, op, offset):
    """Combine `a` with `b` by one of Nuke's merge operations.

    A, B are premultiplied channel values, a, b the alphas; each formula applies to the
    three colour channels and to alpha (for alpha, A = a and B = b):

        over A + B(1-a)            under A(1-b) + B          in A b
        out A(1-b)                 atop A b + B(1-a)         xor A(1-b) + B(1-a)
        mask B a                   stencil B(1-a)            copy A
        matte (A/a) a + B(1-a)     plus A + B                minus A - B
        from B - A                 difference |A - B|        average (A + B) / 2
        multiply A B (A where A < 0 and B < 0)
        screen A + B - A B where A <= 1 or B <= 1, else max(A, B)
        divide A / B (0 where A < 0 and B < 0, and where B = 0)
        max, min                   hypot sqrt(A² + B²)       exclusion A + B - 2 A B
        geometric 2 A B / (A + B) (0 where A + B = 0)
        conjoint-over A where a > b, else A + B(1 - a/b) (A + B where b = 0)
        disjoint-over A + B where a + b < 1, else A + B(1-a)/b (A where b = 0)
        hard-light multiply(2A, B) where A < 0.5, else screen(2A - 1, B)
        overlay hard-light with A and B swapped
        soft-light B(2A + B(1 - A B)) where A B < 1, else 2 A B
        color-dodge A where A >= 1, else min(1, B / (1 - A))
        color-burn A where A <= 0, else 1 - min(1, (1 - B) / A)

    matte unpremultiplies A (where a = 0 it takes A as it is). No operation produces inf
    or NaN from finite input: quotients are limited to the float32 range. With a mask,
    out = B + (merged - B) * mask * mix (Nuke's merge mix).

    Sizes: `b` defines the output. `a` may be any size; it is placed with its top-left
    corner at `offset` (whole pixels) and is transparent (all zero) outside its own area;
    an `a` that does not overlap `b` at all is an error.
    """
    b_image = np.ascontiguousarray(b, dtype=np.float32)
    a_image = np.ascontiguousarray(a, dtype=np.float32)
    offset_x, offset_y = int(offset[0]), int(offset[1])
    if a_image.shape != b_image.shape or offset_x or offset_y:
        a_image = place(a_image, b_image.shape, offset_x, offset_y)
    out = buffers.empty(b_image.shape, np.float32)
    height = b_image.shape[0]
    run_bands(merge_kernel(op), height, out[0].size, a_image.reshape(height, -1),
              b_image.reshape(height, -1), out.reshape(height, -1))
    return out
