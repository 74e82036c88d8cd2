"""Boolean operations, invert, threshold and levels against their numpy formulas."""
import numpy as np
import pytest

from graph.errors import NodeInputError
from nodes import maskmath


@pytest.fixture
def soft_masks():
    rng = np.random.default_rng(4)
    return [rng.random((97, 131), dtype=np.float32) for _ in range(3)]


def test_union_is_max(soft_masks):
    expected = np.maximum(np.maximum(soft_masks[0], soft_masks[1]), soft_masks[2])
    np.testing.assert_array_equal(maskmath.union.compute(inputs=soft_masks), expected)


def test_intersect_is_min(soft_masks):
    expected = np.minimum(np.minimum(soft_masks[0], soft_masks[1]), soft_masks[2])
    np.testing.assert_array_equal(maskmath.intersect.compute(inputs=soft_masks), expected)


def test_multiply_is_product(soft_masks):
    expected = soft_masks[0] * soft_masks[1] * soft_masks[2]
    np.testing.assert_allclose(maskmath.multiply.compute(inputs=soft_masks), expected,
                               rtol=1e-6)


def test_single_input_list_passes_through(soft_masks):
    np.testing.assert_array_equal(maskmath.union.compute(inputs=soft_masks[:1]), soft_masks[0])


def test_subtract_is_a_times_one_minus_b(soft_masks):
    a, b = soft_masks[:2]
    np.testing.assert_allclose(maskmath.subtract.compute(a=a, b=b), a * (1 - b), atol=1e-7)


def test_difference_is_absolute_difference(soft_masks):
    a, b = soft_masks[:2]
    np.testing.assert_allclose(maskmath.difference.compute(a=a, b=b), np.abs(a - b), atol=1e-7)


def test_invert(soft_masks):
    out = maskmath.invert.compute(input=soft_masks[0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 1 - soft_masks[0], atol=1e-7)


def test_inputs_are_not_modified(soft_masks):
    copies = [mask.copy() for mask in soft_masks]
    for mask in soft_masks:
        mask.flags.writeable = False
    maskmath.union.compute(inputs=soft_masks)
    maskmath.subtract.compute(a=soft_masks[0], b=soft_masks[1])
    for mask, copy in zip(soft_masks, copies):
        np.testing.assert_array_equal(mask, copy)


def test_hard_threshold(soft_masks):
    mask = soft_masks[0]
    out = maskmath.threshold.compute(input=mask, value=0.3, softness=0.0)
    np.testing.assert_array_equal(out, (mask >= 0.3).astype(np.float32))


def test_soft_threshold_is_smoothstep(soft_masks):
    mask = soft_masks[0]
    out = maskmath.threshold.compute(input=mask, value=0.5, softness=0.4)
    t = np.clip((mask - 0.3) / 0.4, 0, 1)
    np.testing.assert_allclose(out, t * t * (3 - 2 * t), atol=1e-6)


def test_levels(soft_masks):
    mask = soft_masks[0]
    out = maskmath.levels.compute(input=mask, low=0.2, high=0.7, gamma=2.0)
    expected = np.clip((mask - 0.2) / 0.5, 0, 1) ** 0.5
    np.testing.assert_allclose(out, expected, atol=2e-6)


def test_levels_check_refuses_high_below_low():
    problems = maskmath.levels.check({"low": 0.6, "high": 0.4, "gamma": 1.0}, set())
    assert problems and problems[0][0] == "high"


def test_size_mismatch_names_both_inputs_and_sizes(soft_masks):
    small = np.zeros((10, 20), np.float32)
    with pytest.raises(NodeInputError) as caught:
        maskmath.union.compute(inputs=[soft_masks[0], small])
    assert "inputs[0]" in str(caught.value) and "131x97" in str(caught.value)
    assert "inputs[1]" in str(caught.value) and "20x10" in str(caught.value)
    with pytest.raises(NodeInputError, match="'a' is 131x97, 'b' is 20x10"):
        maskmath.subtract.compute(a=soft_masks[0], b=small)


def test_empty_list_is_an_error():
    with pytest.raises(NodeInputError, match="empty"):
        maskmath.intersect.compute(inputs=[])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_are_an_error(soft_masks, bad):
    mask = soft_masks[0].copy()
    mask[5, 7] = bad
    with pytest.raises(NodeInputError, match="1 NaN or infinite"):
        maskmath.union.compute(inputs=[soft_masks[1], mask])
    with pytest.raises(NodeInputError, match="'input' has 1 NaN"):
        maskmath.feather.compute(input=mask, radius=3.0, mode="center")
    with pytest.raises(NodeInputError, match="NaN"):
        maskmath.grow.compute(input=mask, radius=2.0)
