"""grade, saturation, hue_shift, exposure against their formulas (numpy, float64), the
reference.md test vector, OpenCV and scikit-image where they have the operation, and the
stencil at graph level."""
import numpy as np
import pytest

import graph
from nodes.grade import exposure, grade, hue_shift, saturation

DEFAULTS = dict(blackpoint=(0.0,) * 3, whitepoint=(1.0,) * 3, black=(0.0,) * 3,
                white=(1.0,) * 3, multiply=(1.0,) * 3, add=(0.0,) * 3, gamma=(1.0,) * 3,
                black_clamp=True, white_clamp=False, unpremult=False)


def run_grade(image, **changes):
    image = image.copy()
    image.setflags(write=False)
    return grade.compute(image, **{**DEFAULTS, **changes})


def nuke_grade(x, blackpoint, whitepoint, black, white, multiply, add, gamma, black_clamp,
               white_clamp, unpremult=False):
    """reference.md's Grade in float64 on (..., 3) values."""
    A = np.array(multiply) * (np.array(white) - black) / (np.array(whitepoint) - blackpoint)
    B = np.array(add) + black - A * blackpoint
    linear = A * x.astype(np.float64) + B
    with np.errstate(invalid="ignore"):
        out = np.where(linear > 0, np.abs(linear) ** (1.0 / np.array(gamma)), linear)
    if black_clamp:
        out = np.maximum(out, 0)
    if white_clamp:
        out = np.minimum(out, 1)
    return out


def photo_rgba(name="astronaut"):
    data = pytest.importorskip("skimage.data")
    rgb = getattr(data, name)()[::2, ::2].astype(np.float32) / 255
    return np.dstack([rgb, np.ones(rgb.shape[:2], np.float32)]).astype(np.float32)


def test_reference_md_test_vector():
    image = np.full((2, 3, 4), 0.5, np.float32)
    image[..., 3] = 1.0
    result = run_grade(image, blackpoint=(0.1,) * 3, whitepoint=(0.9,) * 3, gamma=(2.0,) * 3)
    np.testing.assert_allclose(result[..., :3], 0.70711, atol=1e-5)
    assert (result[..., 3] == 1.0).all()


GRADES = [
    dict(multiply=(1.3, 1.0, 0.8), add=(0.02, -0.05, 0.0)),
    dict(blackpoint=(0.05, 0.0, -0.02), whitepoint=(0.9, 1.1, 0.95), black=(0.01, 0.0, 0.03),
         white=(1.2, 0.9, 1.0), gamma=(2.2, 1.0, 0.6)),
    dict(gamma=(0.45, 0.45, 0.45), black_clamp=False, white_clamp=True, add=(-0.1, 0.0, 0.1)),
]


@pytest.mark.parametrize("changes", GRADES)
def test_grade_matches_formula_on_a_photograph(changes):
    image = photo_rgba()
    image[..., :3] = image[..., :3] * 1.5 - 0.1  # values below 0 and above 1
    result = run_grade(image, **changes)
    expected = nuke_grade(image[..., :3], **{**DEFAULTS, **changes})
    np.testing.assert_allclose(result[..., :3], expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(result[..., 3], image[..., 3])


@pytest.mark.parametrize("gamma", [0.1, 0.4545, 0.8, 1.7, 2.2, 3.0, 8.0])
def test_fast_power_is_within_1e5_relative_over_a_wide_range(gamma):
    rng = np.random.default_rng(1)
    values = np.exp(rng.uniform(-80, 8, 40_000)).astype(np.float32)
    values[:4] = (1e-40, 1e-44, 1.0, 2.0)  # subnormals, exact points
    image = np.stack([values, values, values, np.ones_like(values)], -1)[None]
    result = run_grade(image, gamma=(gamma,) * 3)[0, :, 0].astype(np.float64)
    expected = values.astype(np.float64) ** (1.0 / gamma)
    representable = (expected > 1.2e-38) & (expected < 3e38)
    relative = np.abs(result - expected)[representable] / expected[representable]
    assert relative.max() < 1e-5


def test_grade_matches_opencv_pow_chain():
    cv2 = pytest.importorskip("cv2")
    image = photo_rgba("coffee")
    rgb = np.ascontiguousarray(image[..., :3])
    linear = cv2.max(cv2.add(cv2.multiply(rgb, (1.2, 1.2, 1.2, 0)), (0.01, 0.01, 0.01, 0)), 0)
    expected = cv2.pow(linear, 1 / 2.2)
    result = run_grade(image, multiply=(1.2,) * 3, add=(0.01,) * 3, gamma=(2.2,) * 3)
    np.testing.assert_allclose(result[..., :3], expected, rtol=1e-5, atol=1e-6)


def test_unpremult_grades_straight_colour_and_keeps_edges():
    rng = np.random.default_rng(5)
    straight = rng.uniform(0, 1, (12, 16, 4)).astype(np.float32)
    alpha = straight[..., 3]
    alpha[0] = 0.0
    image = straight.copy()
    image[..., :3] *= alpha[..., None]
    image[0, :, :3] = 0.25  # alpha 0 with colour: passes unchanged
    changes = dict(add=(0.1,) * 3, gamma=(1.5,) * 3, unpremult=True)
    result = run_grade(image, **changes)
    expected = nuke_grade(straight[..., :3], **{**DEFAULTS, **changes}) * alpha[..., None]
    np.testing.assert_allclose(result[1:, :, :3], expected[1:], rtol=1e-5, atol=1e-6)
    assert np.array_equal(result[0], image[0])
    assert np.array_equal(result[..., 3], alpha)


def test_defaults_only_clamp_negative_values():
    image = np.array([[[-0.5, 0.25, 2.0, 0.5]]], np.float32)
    assert run_grade(image).tolist() == [[[0.0, 0.25, 2.0, 0.5]]]


@pytest.mark.parametrize("yaml_params,message", [("gamma: 0", "gamma"),
                                                 ("whitepoint: 0.2, blackpoint: 0.2",
                                                  "whitepoint")])
def test_bad_params_are_refused_at_load(yaml_params, message):
    with pytest.raises(graph.GraphError, match=message):
        graph.load("maskgraph: 1\nnodes:\n  p: {type: input, kind: image}\n"
                   f"  g: {{type: grade, input: p, {yaml_params}}}\n")


def luma(rgb):
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


@pytest.mark.parametrize("amount", [0.0, 0.5, 1.7])
def test_saturation_matches_formula_and_keeps_luma(amount):
    image = photo_rgba()
    image.setflags(write=False)
    result = saturation.compute(image, amount=amount)
    rgb = image[..., :3].astype(np.float64)
    expected = luma(rgb)[..., None] + amount * (rgb - luma(rgb)[..., None])
    np.testing.assert_allclose(result[..., :3], expected, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(luma(result[..., :3]), luma(rgb), atol=2e-6)


def test_hue_shift_120_degrees_cycles_the_primaries():
    image = np.array([[[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 0.5, 0.5]]], np.float32)
    result = hue_shift.compute(image, degrees=120.0)
    expected = np.array([[[0, 1, 0, 1], [0, 0, 1, 1], [0.5, 0, 0, 0.5]]], np.float32)
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_hue_shift_moves_hsv_hue_like_scikit_image():
    color = pytest.importorskip("skimage.color")
    image = photo_rgba("rocket")
    saturated = color.rgb2hsv(image[..., :3])[..., 1] > 0.2
    for degrees in (120.0, 240.0):
        result = hue_shift.compute(image, degrees=degrees)
        hue_in = color.rgb2hsv(image[..., :3])[..., 0]
        hue_out = color.rgb2hsv(np.clip(result[..., :3], 0, 1))[..., 0]
        moved = np.mod(hue_out - hue_in, 1.0)[saturated]
        np.testing.assert_allclose(moved, degrees / 360.0, atol=1e-3)
    small = hue_shift.compute(image, degrees=10.0)
    hue_out = color.rgb2hsv(np.clip(small[..., :3], 0, 1))[..., 0]
    moved = np.mod(hue_out - color.rgb2hsv(image[..., :3])[..., 0] + 0.5, 1.0) - 0.5
    assert np.median(moved[saturated]) > 0  # positive degrees increase the hue
    np.testing.assert_allclose(hue_shift.compute(image, degrees=360.0), image, atol=1e-6)


def test_exposure_is_a_power_of_two_gain():
    image = photo_rgba()
    result = exposure.compute(image, stops=1.5)
    np.testing.assert_allclose(result[..., :3], image[..., :3] * 2 ** 1.5, rtol=1e-6)
    assert np.array_equal(result[..., 3], image[..., 3])


MASKED = """
maskgraph: 1
nodes:
  plate: {type: input, kind: image}
  matte: {type: input, kind: mask}
  edit: {type: NODE, input: plate, mask: matte, mix: 0.8, invert_mask: INVERT, PARAMS}
"""


@pytest.mark.parametrize("node_type,params", [("grade", "gamma: 2.2, add: 0.05"),
                                              ("cdl", "slope: [1.2, 1, 0.8], power: 1.3"),
                                              ("saturation", "amount: 0.3"),
                                              ("hue_shift", "degrees: 40"),
                                              ("exposure", "stops: -1")])
@pytest.mark.parametrize("invert", [False, True])
def test_masked_edit_is_bit_exact_outside_the_mask(node_type, params, invert):
    image = photo_rgba()[:64, :80].copy()
    image[0, 0, :3] = -0.2  # a value the black clamp would change
    matte = np.zeros(image.shape[:2], np.float32)
    matte[16:48, 20:60] = np.linspace(0.1, 1.0, 40, dtype=np.float32)
    text = (MASKED.replace("NODE", node_type).replace("PARAMS", params)
            .replace("INVERT", "true" if invert else "false"))
    g = graph.load(text)
    result = g.evaluate(outputs=["edit"], feed={"plate": image, "matte": matte})["edit"]
    stencil = (1 - matte) if invert else matte
    untouched = stencil == 0
    assert untouched.any()
    assert result[untouched].tobytes() == image[untouched].tobytes()
    full = graph.load(text.replace("mask: matte, mix: 0.8, ", ""))
    edited = full.evaluate(outputs=["edit"], feed={"plate": image})["edit"]
    expected = image + (edited - image) * (stencil * 0.8)[..., None]
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "graphs_examples"


@pytest.mark.parametrize("name,output", [("sky_grade.yaml", "richer"),
                                         ("keyed_comp.yaml", "warm"),
                                         ("cutout_alpha.yaml", "cutout")])
def test_examples_evaluate(name, output):
    result = graph.load(str(EXAMPLES / name)).evaluate(outputs=[output])[output]
    assert result.ndim == 3 and result.shape[2] == 4 and np.isfinite(result).all()
