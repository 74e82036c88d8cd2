"""cdl against OpenColorIO's CDLTransform (both styles) and the ASC formula."""
import numpy as np
import pytest

import graph
from nodes.grade import cdl

OCIO = pytest.importorskip("PyOpenColorIO", reason="OpenColorIO (package opencolorio)")

CASES = [
    dict(slope=(1.2, 0.9, 1.05), offset=(0.02, -0.01, 0.0), power=(1.0, 1.0, 1.0), saturation=1.0),
    dict(slope=(1.1, 1.0, 0.8), offset=(-0.03, 0.01, 0.05), power=(0.8, 1.25, 2.2),
         saturation=0.7),
    dict(slope=(0.6, 1.4, 1.0), offset=(0.1, 0.0, -0.2), power=(1.7, 0.5, 1.0), saturation=1.6),
]


def photo_rgba():
    data = pytest.importorskip("skimage.data")
    rgb = data.chelsea()[::2, ::2].astype(np.float32) / 255
    rng = np.random.default_rng(0)
    rgb = rgb * 1.4 - 0.1 + rng.normal(0, 0.02, rgb.shape).astype(np.float32)  # <0 and >1
    return np.dstack([rgb, np.ones(rgb.shape[:2], np.float32)]).astype(np.float32)


def ocio_cdl(image, style, slope, offset, power, saturation):
    transform = OCIO.CDLTransform()
    transform.setSlope(slope)
    transform.setOffset(offset)
    transform.setPower(power)
    transform.setSat(saturation)
    transform.setStyle(style)
    processor = OCIO.Config.CreateRaw().getProcessor(transform)
    pixels = np.ascontiguousarray(image.copy())
    processor.getDefaultCPUProcessor().applyRGBA(pixels)
    return pixels


def run_cdl(image, clamp, **values):
    image = image.copy()
    image.setflags(write=False)
    return cdl.compute(image, clamp=clamp, unpremult=False, **values)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("clamp,style", [(True, "CDL_ASC"), (False, "CDL_NO_CLAMP")])
def test_matches_opencolorio(case, clamp, style):
    image = photo_rgba()
    expected = ocio_cdl(image, getattr(OCIO, style), **case)
    result = run_cdl(image, clamp, **case)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)
    assert np.array_equal(result[..., 3], image[..., 3])


def test_matches_the_asc_formula():
    image = photo_rgba()
    case = CASES[1]
    x = image[..., :3].astype(np.float64)
    c = np.clip(x * case["slope"] + case["offset"], 0, 1) ** np.array(case["power"])
    luma = c @ np.array([0.2126, 0.7152, 0.0722])
    expected = np.clip(luma[..., None] + case["saturation"] * (c - luma[..., None]), 0, 1)
    result = run_cdl(image, True, **case)
    np.testing.assert_allclose(result[..., :3], expected, rtol=1e-5, atol=1e-6)


def test_unpremult_corrects_straight_colour():
    rng = np.random.default_rng(2)
    straight = rng.uniform(0, 1, (8, 10, 4)).astype(np.float32)
    alpha = straight[..., 3]
    alpha[0] = 0.0
    image = straight.copy()
    image[..., :3] *= alpha[..., None]
    case = CASES[1]
    image.setflags(write=False)
    result = cdl.compute(image, clamp=True, unpremult=True, **case)
    graded = ocio_cdl(np.dstack([straight[..., :3], np.ones_like(alpha)]).astype(np.float32),
                      OCIO.CDL_ASC, **case)
    np.testing.assert_allclose(result[1:, :, :3], (graded[..., :3] * alpha[..., None])[1:],
                               rtol=1e-4, atol=1e-4)
    assert np.array_equal(result[0], image[0])  # alpha 0: unchanged


def test_zero_power_is_refused_at_load():
    with pytest.raises(graph.GraphError, match="power"):
        graph.load("maskgraph: 1\nnodes:\n  p: {type: input, kind: image}\n"
                   "  c: {type: cdl, input: p, power: [1, 0, 1]}\n")
