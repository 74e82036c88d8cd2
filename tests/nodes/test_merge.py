"""merge: every operation against its published formula (numpy, float64), the ones
OpenImageIO's ImageBufAlgo has against it, placement of `a`, and the merge mask/mix."""
import zlib

import numpy as np
import pytest

import graph
from graph.errors import NodeInputError
from nodes.merge import MERGE_OPS, merge


def premultiplied(rng, shape, negative_fraction=0.0):
    """Random premultiplied RGBA with rows of alpha 0 and alpha 1 and colour up to 1.5."""
    straight = rng.uniform(0.0, 1.5, shape + (4,))
    alpha = rng.uniform(0.0, 1.0, shape)
    alpha[0], alpha[1] = 0.0, 1.0
    alpha[2, ::2] = 1.0
    straight[..., 3] = alpha
    image = straight.copy()
    image[..., :3] *= alpha[..., None]
    image[0, ::3, :3] = rng.uniform(0.0, 0.5, image[0, ::3, :3].shape)  # additive, alpha 0
    if negative_fraction:
        flip = rng.random(shape + (3,)) < negative_fraction
        image[..., :3][flip] *= -1.0
    return image.astype(np.float32)


def reference(op, A, B):
    """Nuke's merge formulas (reference.md) in float64, on every channel incl. alpha."""
    A, B = A.astype(np.float64), B.astype(np.float64)
    a, b = A[..., 3:4], B[..., 3:4]
    with np.errstate(divide="ignore", invalid="ignore"):
        def multiply(x, y):
            return np.where((x < 0) & (y < 0), x, x * y)

        def screen(x, y):
            return np.where((x <= 1) | (y <= 1), x + y - x * y, np.maximum(x, y))

        def hard_light(x, y):
            return np.where(x < 0.5, multiply(2 * x, y), screen(2 * x - 1, y))

        a_straight = np.where(a != 0, A / np.where(a != 0, a, 1), A)
        quotient = np.clip(A / np.where(B == 0, 1, B), -3.4028235e38, 3.4028235e38)
        table = {
            "over": lambda: A + B * (1 - a),
            "under": lambda: A * (1 - b) + B,
            "in": lambda: A * b,
            "out": lambda: A * (1 - b),
            "atop": lambda: A * b + B * (1 - a),
            "xor": lambda: A * (1 - b) + B * (1 - a),
            "mask": lambda: B * a,
            "stencil": lambda: B * (1 - a),
            "matte": lambda: a_straight * a + B * (1 - a),
            "copy": lambda: A + 0 * B,
            "plus": lambda: A + B,
            "minus": lambda: A - B,
            "from": lambda: B - A,
            "multiply": lambda: multiply(A, B),
            "screen": lambda: screen(A, B),
            "difference": lambda: np.abs(A - B),
            "divide": lambda: np.where(((A < 0) & (B < 0)) | (B == 0), 0.0, quotient),
            "max": lambda: np.maximum(A, B),
            "min": lambda: np.minimum(A, B),
            "average": lambda: (A + B) / 2,
            "hypot": lambda: np.sqrt(A * A + B * B),
            "geometric": lambda: np.where(A + B == 0, 0.0, 2 * A * B / (A + B)),
            "exclusion": lambda: A + B - 2 * A * B,
            "conjoint-over": lambda: np.where(a > b, A, np.where(b == 0, A + B,
                                                                 A + B * (1 - a / b))),
            "disjoint-over": lambda: np.where(a + b < 1, A + B, np.where(b == 0, A,
                                                                         A + B * (1 - a) / b)),
            "hard-light": lambda: hard_light(A, B),
            "overlay": lambda: hard_light(B, A),
            "soft-light": lambda: np.where(A * B < 1, B * (2 * A + B * (1 - A * B)), 2 * A * B),
            "color-dodge": lambda: np.where(A >= 1, A, np.minimum(1, B / (1 - A))),
            "color-burn": lambda: np.where(A <= 0, A, 1 - np.minimum(1, (1 - B) / A)),
        }
        return table[op]()


def run_merge(a, b, op, offset=(0, 0)):
    a, b = a.copy(), b.copy()
    a.setflags(write=False)
    b.setflags(write=False)
    return merge.compute(a, b, op=op, offset=offset)


def test_every_op_of_reference_md_is_offered():
    reference_ops = ("over under in out atop xor mask stencil matte copy plus minus from "
                     "multiply screen difference divide max min average hypot geometric "
                     "exclusion conjoint-over disjoint-over hard-light overlay soft-light "
                     "color-dodge color-burn").split()
    assert sorted(MERGE_OPS) == sorted(reference_ops)


@pytest.mark.parametrize("op", MERGE_OPS)
def test_op_matches_formula(op):
    rng = np.random.default_rng(zlib.crc32(op.encode()))
    a = premultiplied(rng, (24, 37), negative_fraction=0.05)
    b = premultiplied(rng, (24, 37), negative_fraction=0.05)
    b[5, :6] = 0.0  # B = 0 and b = 0: the division cases
    a[6, :6, :3] = -b[6, :6, :3]  # A + B = 0 (geometric)
    result = run_merge(a, b, op)
    expected = reference(op, a, b)
    assert result.dtype == np.float32 and result.shape == b.shape
    assert np.isfinite(result).all()
    np.testing.assert_allclose(result, expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("op", ["divide", "geometric", "color-dodge", "color-burn",
                                "conjoint-over", "disjoint-over", "matte"])
def test_division_ops_never_leak_inf_or_nan(op):
    values = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-30, 0.5, 1.0, 1.0 - 1e-7, 2.0, -1.0, 1e30],
                      np.float32)
    A, B = np.meshgrid(values, values)
    a = np.stack([A, A, A, np.clip(A, 0, 1)], -1).astype(np.float32)
    b = np.stack([B, B, B, np.clip(B, 0, 1)], -1).astype(np.float32)
    assert np.isfinite(run_merge(a, b, op)).all()


def test_divide_by_zero_is_zero():
    a = np.full((1, 2, 4), 0.5, np.float32)
    b = np.zeros((1, 2, 4), np.float32)
    assert (run_merge(a, b, "divide") == 0).all()


def oiio_result(name, a, b):
    oiio = pytest.importorskip("OpenImageIO")
    function = getattr(oiio.ImageBufAlgo, name)
    out = function(oiio.ImageBuf(a), oiio.ImageBuf(b))
    assert not out.has_error, out.geterror()
    return out.get_pixels(oiio.FLOAT)


@pytest.mark.parametrize("oiio_name,op", [("over", "over"), ("add", "plus"),
                                          ("sub", "minus"), ("mul", "multiply"),
                                          ("absdiff", "difference"), ("max", "max"),
                                          ("min", "min")])
def test_matches_openimageio(oiio_name, op):
    rng = np.random.default_rng(7)
    a = premultiplied(rng, (32, 48))
    b = premultiplied(rng, (32, 48))
    np.testing.assert_allclose(run_merge(a, b, op), oiio_result(oiio_name, a, b),
                               rtol=1e-6, atol=1e-6)


def test_over_on_photographs_matches_openimageio():
    data = pytest.importorskip("skimage.data")
    foreground = data.astronaut()[::2, ::2].astype(np.float32) / 255
    background = data.coffee()[:256, :256].astype(np.float32) / 255
    yy, xx = np.mgrid[:256, :256]
    alpha = np.clip(1.5 - np.hypot(xx - 128, yy - 110) / 60, 0, 1).astype(np.float32)
    a = np.dstack([foreground * alpha[..., None], alpha])
    b = np.dstack([background, np.ones((256, 256), np.float32)])
    np.testing.assert_allclose(run_merge(a, b, "over"), oiio_result("over", a, b),
                               rtol=1e-6, atol=1e-6)


def test_offset_places_a_in_b():
    rng = np.random.default_rng(3)
    b = premultiplied(rng, (20, 30))
    a = premultiplied(rng, (8, 12))
    result = run_merge(a, b, "over", offset=(25, -3))
    placed = np.zeros_like(b)
    placed[0:5, 25:30] = a[3:8, 0:5]
    np.testing.assert_allclose(result, reference("over", placed, b), rtol=1e-6, atol=1e-7)
    assert np.array_equal(result[5:], b[5:]) and np.array_equal(result[:, :25], b[:, :25])


def test_larger_a_is_cut_to_b():
    rng = np.random.default_rng(4)
    a = premultiplied(rng, (30, 40))
    b = premultiplied(rng, (10, 20))
    result = run_merge(a, b, "plus")
    np.testing.assert_allclose(result, a[:10, :20] + b, rtol=1e-6)


def test_a_outside_b_is_an_error_naming_both_sizes():
    a = np.zeros((8, 12, 4), np.float32)
    b = np.zeros((20, 30, 4), np.float32)
    with pytest.raises(NodeInputError, match=r"12x8.*\[40, 0\].*30x20"):
        run_merge(a, b, "over", offset=(40, 0))


def test_fractional_offset_is_refused_at_load():
    with pytest.raises(graph.GraphError, match="whole pixels"):
        graph.load("maskgraph: 1\nnodes:\n"
                   "  fg: {type: input, kind: image}\n  bg: {type: input, kind: image}\n"
                   "  m: {type: merge, a: fg, b: bg, offset: [1.5, 0]}\n")


MASKED_MERGE = """
maskgraph: 1
nodes:
  fg: {type: input, kind: image}
  bg: {type: input, kind: image}
  matte: {type: input, kind: mask}
  comp: {type: merge, op: OP, a: fg, b: bg, mask: matte, mix: 0.7}
"""


@pytest.mark.parametrize("op", ["over", "screen", "difference"])
def test_mask_and_mix_follow_nukes_merge_mix(op):
    rng = np.random.default_rng(11)
    a = premultiplied(rng, (16, 24))
    b = premultiplied(rng, (16, 24))
    matte = rng.random((16, 24)).astype(np.float32)
    matte[:, :8] = 0.0
    g = graph.load(MASKED_MERGE.replace("OP", op))
    result = g.evaluate(outputs=["comp"], feed={"fg": a, "bg": b, "matte": matte})["comp"]
    assert result[:, :8].tobytes() == b[:, :8].tobytes()  # bit-exact outside the mask
    weight = (matte * 0.7)[..., None].astype(np.float64)
    expected = b + (reference(op, a, b) - b) * weight
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
