"""feather modes and the radius-independent Gaussian against scipy.ndimage."""
import numpy as np
import pytest
from scipy import ndimage

from nodes import maskmath
from nodes.kernels import gaussian


@pytest.fixture(scope="module")
def photo_mask():
    """A binary mask with real-world shapes: the bright parts of skimage's coins photo."""
    data = pytest.importorskip("skimage.data")
    coins = data.coins().astype(np.float32) / 255.0
    return (coins > 0.55).astype(np.float32)


def blur_kernel(mask, sigma):
    planes = np.ascontiguousarray(mask[:, :, None], dtype=np.float32)
    out = np.empty_like(planes)
    gaussian.gaussian_blur_into(planes, out, sigma)
    return out[:, :, 0]


@pytest.mark.parametrize("sigma", [0.3, 0.86, 1.5, 2.0, 3.0, 8.0, 13.8, 40.0])
def test_gaussian_core_matches_scipy(photo_mask, sigma):
    """Both the FIR (small sigma) and the Deriche filter are within 1e-3, borders included
    (the edge pixels repeat: scipy's mode 'nearest')."""
    expected = ndimage.gaussian_filter(photo_mask.astype(np.float64), sigma, mode="nearest",
                                       truncate=6.0)
    assert np.abs(blur_kernel(photo_mask, sigma) - expected).max() < 1e-3


def test_gaussian_keeps_constants_and_exact_zeros():
    for shape in ((50, 70), (33, 130), (129, 5)):      # strips of every width, repeatedly
        ones = np.ones(shape, np.float32)
        for sigma in (0.8, 3.0, 20.0, 20.0, 20.0):
            np.testing.assert_allclose(blur_kernel(ones, sigma), 1.0, atol=1e-6)
    dot = np.zeros((400, 50), np.float32)
    dot[10, 25] = 1.0
    far = blur_kernel(dot, 6.0)[300:]
    assert (far == 0.0).all()          # no denormal tails, no offset residue


def straight_edge(width=200, height=40, edge=100):
    mask = np.zeros((height, width), np.float32)
    mask[:, :edge] = 1.0
    return mask


@pytest.mark.parametrize("radius", [4.0, 10.0, 30.0])
def test_center_edge_is_symmetric_with_the_stated_width(radius):
    mask = straight_edge()
    row = maskmath.feather.compute(input=mask, radius=radius, mode="center")[20]
    # a Gaussian of sigma = radius / 4.65 across the edge (scipy as the reference)
    expected = ndimage.gaussian_filter1d(mask[20].astype(np.float64), radius / 4.65,
                                         mode="nearest", truncate=6.0)
    assert np.abs(row - expected).max() < 1e-3
    # symmetric about the edge (between columns 99 and 100)
    np.testing.assert_allclose(row[100:140], 1.0 - row[99:59:-1], atol=1e-3)
    # 1% to 99% across `radius` pixels: pixels whose centre lies beyond radius / 2
    offsets = np.arange(200) + 0.5 - 100
    assert row[offsets > radius / 2].max() <= 0.0101
    assert row[offsets < -radius / 2].min() >= 0.9899
    assert row[np.abs(offsets) < radius / 2 - 1].min() > 0.0101


@pytest.mark.parametrize("radius", [3.0, 12.0, 40.0])
def test_inside_never_exceeds_the_original(photo_mask, radius):
    out = maskmath.feather.compute(input=photo_mask, radius=radius, mode="inside")
    assert (out <= photo_mask).all()
    edge = maskmath.feather.compute(input=straight_edge(), radius=radius, mode="inside")[20]
    assert edge[100:].max() == 0.0                     # nothing spills outside
    assert edge[99] < 0.5 and edge[int(100 - radius) - 2] >= 0.989   # solid `radius` in


@pytest.mark.parametrize("radius", [3.0, 12.0, 40.0])
def test_outside_keeps_the_shape_solid(photo_mask, radius):
    out = maskmath.feather.compute(input=photo_mask, radius=radius, mode="outside")
    assert (out[photo_mask == 1.0] == 1.0).all()
    assert (out >= photo_mask).all()
    edge = maskmath.feather.compute(input=straight_edge(), radius=radius, mode="outside")[20]
    assert edge[:100].min() == 1.0
    assert edge[100] > 0.5 and edge[int(100 + radius) + 1] <= 0.011


def test_feather_of_a_soft_mask_stays_in_range(photo_mask):
    soft = ndimage.gaussian_filter(photo_mask, 2.0).astype(np.float32)
    for mode in maskmath.MODES:
        out = maskmath.feather.compute(input=soft, radius=9.0, mode=mode)
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_radius_zero_is_identity(photo_mask):
    out = maskmath.feather.compute(input=photo_mask, radius=0.0, mode="inside")
    np.testing.assert_array_equal(out, photo_mask)


def test_negative_radius_is_refused_by_the_spec():
    from graph.errors import ParamValueError
    from graph.spec import coerce_param
    with pytest.raises(ParamValueError, match=">= 0"):
        coerce_param(maskmath.feather.param("radius"), -2.0)
