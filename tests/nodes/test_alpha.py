"""premultiply, unpremultiply, set_alpha, to_mask against numpy formulas, and the alpha
export: a PNG written after set_alpha, read back by OpenCV and composited with the
straight-alpha formula, equals our merge `over`."""
import numpy as np
import pytest

import graph
from nodes.grade import premultiply, set_alpha, to_mask, unpremultiply


def straight_rgba(rng, shape=(20, 30)):
    image = rng.uniform(0, 1, shape + (4,)).astype(np.float32)
    image[0, :, 3] = 0.0
    image[1, :, 3] = 1.0
    return image


def frozen(array):
    array = array.copy()
    array.setflags(write=False)
    return array


def test_premultiply_and_unpremultiply_match_numpy():
    rng = np.random.default_rng(0)
    straight = straight_rgba(rng)
    premultiplied = premultiply.compute(frozen(straight))
    expected = straight.copy()
    expected[..., :3] *= straight[..., 3:]
    np.testing.assert_allclose(premultiplied, expected, rtol=1e-7)
    restored = unpremultiply.compute(frozen(premultiplied))
    np.testing.assert_allclose(restored[2:], straight[2:], rtol=1e-5, atol=1e-6)
    assert np.array_equal(restored[0], premultiplied[0])  # alpha 0: colour left as is


def test_set_alpha_replace_keeps_straight_colour():
    rng = np.random.default_rng(1)
    straight = straight_rgba(rng)
    image = premultiply.compute(frozen(straight))
    matte = rng.uniform(0, 1, straight.shape[:2]).astype(np.float32)
    result = set_alpha.compute(frozen(image), frozen(matte), mode="replace")
    expected_colour = np.where(straight[..., 3:] > 0, straight[..., :3], image[..., :3])
    np.testing.assert_allclose(result[..., :3], expected_colour * matte[..., None],
                               rtol=1e-5, atol=1e-7)
    assert np.array_equal(result[..., 3], matte)


def test_set_alpha_multiply_scales_the_premultiplied_image():
    rng = np.random.default_rng(2)
    image = premultiply.compute(frozen(straight_rgba(rng)))
    matte = rng.uniform(0, 1, image.shape[:2]).astype(np.float32)
    result = set_alpha.compute(frozen(image), frozen(matte), mode="multiply")
    np.testing.assert_allclose(result, image * matte[..., None], rtol=1e-6)


def test_set_alpha_refuses_a_mask_of_another_size():
    from graph.errors import NodeInputError
    with pytest.raises(NodeInputError, match="30x20.*31x20|31x20.*30x20"):
        set_alpha.compute(np.zeros((20, 30, 4), np.float32), np.zeros((20, 31), np.float32),
                          mode="replace")


@pytest.mark.parametrize("channel,index", [("alpha", 3), ("red", 0), ("green", 1),
                                           ("blue", 2)])
def test_to_mask_takes_a_channel_clamped(channel, index):
    rng = np.random.default_rng(3)
    image = rng.uniform(-0.5, 1.5, (10, 12, 4)).astype(np.float32)
    result = to_mask.compute(frozen(image), channel=channel)
    assert result.dtype == np.float32 and result.shape == (10, 12)
    assert np.array_equal(result, np.clip(image[..., index], 0, 1))


def test_to_mask_luma_uses_rec709_weights():
    rng = np.random.default_rng(4)
    image = rng.uniform(0, 1, (10, 12, 4)).astype(np.float32)
    expected = image[..., :3].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    np.testing.assert_allclose(to_mask.compute(frozen(image), channel="luma"), expected,
                               rtol=1e-6)


def srgb_decode(codes):
    v = codes.astype(np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


EXPORT = """
maskgraph: 1
nodes:
  plate: {type: input, kind: image}
  matte: {type: input, kind: mask}
  bg: {type: input, kind: image}
  cutout: {type: set_alpha, input: plate, alpha: matte}
  save: {type: write, input: cutout, path: PATH, depth: DEPTH}
  comp: {type: merge, op: over, a: cutout, b: bg}
"""


@pytest.mark.parametrize("depth,tolerance", [("16", 2e-4), ("8", 6e-3)])
def test_png_with_alpha_composites_elsewhere_like_our_over(tmp_path, depth, tolerance):
    cv2 = pytest.importorskip("cv2")
    data = pytest.importorskip("skimage.data")
    plate = srgb_decode(data.astronaut()[::2, ::2] / 255.0).astype(np.float32)
    plate = np.dstack([plate, np.ones(plate.shape[:2], np.float32)])
    background = srgb_decode(data.coffee()[:256, :256] / 255.0).astype(np.float32)
    background = np.dstack([background, np.ones((256, 256), np.float32)])
    yy, xx = np.mgrid[:256, :256]
    matte = np.clip((70 - np.hypot(xx - 128, yy - 100)) / 20, 0, 1).astype(np.float32)
    path = tmp_path / "cutout.png"
    g = graph.load(EXPORT.replace("PATH", str(path)).replace("DEPTH", depth))
    ours = g.evaluate(outputs=["save", "comp"],
                      feed={"plate": plate, "matte": matte, "bg": background})["comp"]
    codes = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert codes.shape == (256, 256, 4)
    maximum = 65535.0 if depth == "16" else 255.0
    rgba = codes[..., [2, 1, 0, 3]] / maximum
    alpha = rgba[..., 3:]
    np.testing.assert_allclose(alpha[..., 0], matte, atol=0.5 / maximum + 1e-7)
    elsewhere = srgb_decode(rgba[..., :3]) * alpha + background[..., :3] * (1 - alpha)
    np.testing.assert_allclose(ours[..., :3], elsewhere, atol=tolerance)
