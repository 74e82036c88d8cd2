"""grow / shrink and the exact distance transform against scipy.ndimage."""
import numpy as np
import pytest
from scipy import ndimage

from nodes import maskmath
from nodes.kernels import distance


@pytest.fixture(scope="module")
def photo_mask():
    """A binary mask with real-world shapes: the dark parts of skimage's camera photo."""
    data = pytest.importorskip("skimage.data")
    camera = data.camera()[::2, ::2].astype(np.float32) / 255.0
    return (camera < 0.35).astype(np.float32)


def soft_disc(radius, softness, shape=(160, 200), center=(83.3, 97.6)):
    """A disc whose edge is a logistic ramp: value 0.5 at `radius` from `center`."""
    rows, columns = np.mgrid[:shape[0], :shape[1]]
    distance_to_center = np.hypot(rows - center[0], columns - center[1])
    return (1.0 / (1.0 + np.exp((distance_to_center - radius) / softness))).astype(np.float32)


def iou(first, second):
    return np.logical_and(first, second).sum() / np.logical_or(first, second).sum()


def test_distance_transform_matches_scipy(photo_mask):
    height, width = photo_mask.shape
    nearest_row = np.empty(photo_mask.shape, np.int32)
    squared = np.empty(photo_mask.shape, np.float32)
    feature = np.empty(photo_mask.shape, np.int32)
    distance.nearest_row_in_column(photo_mask, 0.5, False, nearest_row)
    distance.envelope_rows(nearest_row, squared, feature, 2)
    expected = ndimage.distance_transform_edt(photo_mask < 0.5)
    np.testing.assert_allclose(np.sqrt(squared), expected, atol=1e-4)
    rows, columns = np.mgrid[:height, :width]
    feature_rows, feature_columns = feature // width, feature % width
    assert photo_mask[feature_rows, feature_columns].min() == 1.0
    np.testing.assert_allclose((feature_rows - rows) ** 2 + (feature_columns - columns) ** 2,
                               squared)
    distance.nearest_row_in_column(photo_mask, 0.5, True, nearest_row)
    distance.envelope_rows(nearest_row, squared, feature, 2)
    np.testing.assert_allclose(np.sqrt(squared), ndimage.distance_transform_edt(photo_mask),
                               atol=1e-4)


def test_distance_transform_of_an_empty_mask_is_infinite():
    empty = np.zeros((9, 12), np.float32)
    nearest_row = np.empty(empty.shape, np.int32)
    squared = np.empty(empty.shape, np.float32)
    feature = np.empty(empty.shape, np.int32)
    distance.nearest_row_in_column(empty, 0.5, False, nearest_row)
    distance.envelope_rows(nearest_row, squared, feature, 2)
    assert np.isinf(squared).all() and (feature == -1).all()


@pytest.mark.parametrize("radius", [1.5, 5.0, 40.0])
def test_grow_binary_is_disc_dilation(photo_mask, radius):
    grown = maskmath.grow.compute(input=photo_mask, radius=radius)
    expected = ndimage.distance_transform_edt(photo_mask < 0.5) <= radius
    assert set(np.unique(grown)) <= {0.0, 1.0}
    assert iou(grown > 0.5, expected) >= 0.99
    np.testing.assert_array_equal(grown > 0.5, expected)     # in fact exactly the same


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.2, 7.07, 13.0])
def test_grow_binary_is_exact_at_awkward_radii(radius):
    rng = np.random.default_rng(int(radius * 100))
    mask = (rng.random((90, 70)) < 0.01).astype(np.float32)
    grown = maskmath.grow.compute(input=mask, radius=radius)
    expected = ndimage.distance_transform_edt(mask < 0.5) <= radius
    np.testing.assert_array_equal(grown > 0.5, expected)


@pytest.mark.parametrize("radius", [1.5, 5.0, 40.0])
def test_shrink_binary_is_disc_erosion(photo_mask, radius):
    shrunk = maskmath.grow.compute(input=photo_mask, radius=-radius)
    expected = ndimage.distance_transform_edt(photo_mask > 0.5) > radius
    assert iou(shrunk > 0.5, expected) >= 0.99
    np.testing.assert_array_equal(shrunk > 0.5, expected)


def test_grow_by_a_disc_not_a_square():
    dot = np.zeros((41, 41), np.float32)
    dot[20, 20] = 1.0
    grown = maskmath.grow.compute(input=dot, radius=10.0)
    assert grown[20, 30] == 1.0 and grown[27, 27] == 1.0   # 9.9 px away
    assert grown[28, 28] == 0.0                           # 11.3 px away: no square corner


def test_radius_zero_is_identity(photo_mask):
    np.testing.assert_array_equal(maskmath.grow.compute(input=photo_mask, radius=0.0),
                                  photo_mask)


@pytest.mark.parametrize("radius", [0.7, 3.0, 12.0])
def test_soft_grow_never_lowers_and_shrink_never_raises(radius):
    rng = np.random.default_rng(2)
    blotches = ndimage.gaussian_filter((rng.random((120, 150)) < 0.02).astype(np.float32) * 8,
                                       3.0)
    mask = np.clip(blotches, 0, 1).astype(np.float32)
    assert ((mask > 0.05) & (mask < 0.95)).mean() > 0.1    # truly soft
    assert (maskmath.grow.compute(input=mask, radius=radius) >= mask).all()
    assert (maskmath.grow.compute(input=mask, radius=-radius) <= mask).all()


@pytest.mark.parametrize("radius", [2.5, 8.0, -6.0])
def test_soft_edge_keeps_its_profile_as_it_moves(radius):
    mask = soft_disc(40.0, 3.0)
    moved = maskmath.grow.compute(input=mask, radius=radius)
    expected = soft_disc(40.0 + radius, 3.0)
    assert np.abs(moved - expected).max() < 0.08
    assert np.abs(moved - expected).mean() < 0.004
    # the soft profile is kept: as many in-between pixels as the analytic moved disc
    in_between = lambda values: ((values > 0.1) & (values < 0.9)).sum()
    assert in_between(moved) == pytest.approx(in_between(expected), rel=0.05)


def test_tilted_soft_edge_moves_along_its_normal():
    rows, columns = np.mgrid[:120, :120]
    angle = np.deg2rad(27.0)
    signed = (columns - 60) * np.cos(angle) + (rows - 60) * np.sin(angle)
    ramp = lambda offset: np.clip(0.5 - (signed - offset) / 8.0, 0, 1).astype(np.float32)
    moved = maskmath.grow.compute(input=ramp(0.0), radius=5.0)
    inner = (slice(15, 105), slice(15, 105))
    assert np.abs(moved - ramp(5.0))[inner].max() < 0.04


@pytest.mark.parametrize("mode", ["center", "inside", "outside"])
def test_border_band_matches_distance_bands(photo_mask, mode):
    """The band against scipy's distance transforms of the mask and of its inverse."""
    width = 6.0
    band = maskmath.border.compute(input=photo_mask, width=width, mode=mode)
    outside = ndimage.distance_transform_edt(photo_mask < 0.5)   # 0 inside
    inside = ndimage.distance_transform_edt(photo_mask > 0.5)    # 0 outside
    expected = {
        "center": ((outside > 0) & (outside <= width / 2)) | ((inside > 0) & (inside <= width / 2)),
        "inside": (inside > 0) & (inside <= width),
        "outside": (outside > 0) & (outside <= width),
    }[mode]
    assert set(np.unique(band)) <= {0.0, 1.0}
    assert iou(band > 0.5, expected) >= 0.99


def test_border_of_a_soft_mask_is_soft_and_in_range():
    band = maskmath.border.compute(input=soft_disc(40.0, 2.0), width=8.0, mode="center")
    assert band.min() >= 0.0 and band.max() <= 1.0
    expected = soft_disc(44.0, 2.0) - soft_disc(36.0, 2.0)    # the edge moved both ways
    assert np.abs(band - expected).max() < 0.08
    assert band[83, 98] < 1e-6


def disc_footprint(radius):
    offsets = np.arange(-int(radius), int(radius) + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius ** 2


@pytest.mark.parametrize("radius", [3.0, 8.0])
def test_soft_grow_stays_close_to_grey_dilation(photo_mask, radius):
    """Against scipy's grey dilation by a disc, the morphological reference: never above
    the dilation by radius + 1.5 (the bilinear samples' reach), close to it on average."""
    soft = maskmath.feather.compute(input=photo_mask, radius=6.0, mode="center")
    grown = maskmath.grow.compute(input=soft, radius=radius)
    reach = ndimage.grey_dilation(soft, footprint=disc_footprint(radius + 1.5), mode="nearest")
    assert (grown <= reach + 1e-6).all()
    reference = ndimage.grey_dilation(soft, footprint=disc_footprint(radius), mode="nearest")
    assert np.abs(grown - reference).mean() < 0.025


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (2, 3)])
def test_tiny_masks(shape):
    soft = np.random.default_rng(0).random(shape).astype(np.float32)
    for mask in (soft, (soft > 0.5).astype(np.float32)):
        for out in (maskmath.grow.compute(input=mask, radius=1.5),
                    maskmath.grow.compute(input=mask, radius=-1.5),
                    maskmath.border.compute(input=mask, width=3.0, mode="center"),
                    maskmath.feather.compute(input=mask, radius=5.0, mode="inside")):
            assert out.shape == shape and np.isfinite(out).all()
    np.testing.assert_allclose(maskmath.blur.compute(input=np.ones(shape, np.float32), size=4.0),
                               1.0, atol=1e-6)


def stored_envelope_features(mask, cap):
    """Per pixel, the flat index of the nearest core pixel as the banded envelope stores it
    (-1 where the row's envelope is empty)."""
    height, width = mask.shape
    nearest_row = np.empty(mask.shape, np.int32)
    distance.nearest_row_in_column(mask, 0.5, False, nearest_row)
    parabola_at = np.empty(width, np.int64)
    boundary = np.empty(width + 1, np.float64)
    heights = np.empty(width, np.float64)
    features = np.empty(width, np.int32)
    result = np.full(mask.shape, -1, np.int64)
    for row in range(height):
        count = distance.banded_envelope(row, nearest_row[row], cap, parabola_at, boundary,
                                         heights)
        distance.envelope_features(row, nearest_row[row], count, parabola_at, features)
        for segment in range(count):
            low = distance.envelope_boundary(row, features, segment, width) if segment else 0.0
            high = distance.envelope_boundary(row, features, segment + 1, width) \
                if segment < count - 1 else 0.0
            start, stop = distance.segment_columns(low, high, segment, count, width)
            result[row, start:stop + 1] = features[segment]
    return result


@pytest.mark.parametrize("shape, cap", [((70, 1003), 9), ((83, 131), 40), ((40, 37), 200)])
def test_banded_envelope_finds_the_nearest_core_pixel_within_the_band(shape, cap):
    """Odd widths, features on the frame edges and runs across the skipped blocks: every
    pixel within `cap` of the core gets scipy's distance and the unrestricted transform's
    nearest pixel (the same one on ties)."""
    rng = np.random.default_rng(cap)
    mask = (ndimage.gaussian_filter(rng.random(shape), 2.0) > 0.56).astype(np.float32)
    mask[:, 0] = mask[:, -1] = 0.0
    mask[shape[0] // 2, 0] = mask[3, -1] = 1.0
    feature = stored_envelope_features(mask, cap)
    squared = ndimage.distance_transform_edt(mask < 0.5) ** 2
    within = (mask < 0.5) & (squared <= cap * cap)
    assert within.any()
    height, width = shape
    rows, columns = np.mgrid[:height, :width]
    found = ((feature // width - rows) ** 2 + (feature % width - columns) ** 2)[within]
    np.testing.assert_allclose(found, squared[within])
    nearest_row = np.empty(shape, np.int32)
    unrestricted = np.empty(shape, np.int32)
    distance.nearest_row_in_column(mask, 0.5, False, nearest_row)
    distance.envelope_rows(nearest_row, np.empty(shape, np.float32), unrestricted, 2)
    np.testing.assert_array_equal(feature[within], unrestricted[within])


@pytest.mark.parametrize("radius", [1.5, 6.0])
def test_soft_grow_of_a_nearly_binary_mask_covers_the_disc_dilation(radius):
    """One faint pixel sends a binary mask (touching the frame, a width that is no multiple
    of the blocks) down the soft path, and far enough from the core to widen the band to
    the whole frame: every pixel within `radius` of the core still takes the core's 1, and
    nothing exceeds the grey dilation by radius + 1.5."""
    mask = np.zeros((150, 1003), np.float32)
    rows, columns = np.mgrid[:150, :1003]
    mask[np.hypot(rows - 20, columns - 3) < 30] = 1.0
    mask[100:150, 940:1003] = 1.0
    mask[140, 500] = 0.3                                     # > radius + 64 from the core
    grown = maskmath.grow.compute(input=mask, radius=radius)
    within = ndimage.distance_transform_edt(mask < 0.5) <= radius
    assert (grown[within] == 1.0).all()
    reach = ndimage.grey_dilation(mask, footprint=disc_footprint(radius + 1.5), mode="nearest")
    assert (grown >= mask).all() and (grown <= reach + 1e-6).all()


def test_soft_grow_without_a_core_only_spreads_the_soft_pixels():
    """No pixel reaches 0.5: no nearest core anywhere; soft pixels spread by at most the
    radius (plus the bilinear footprint) and the rest stays 0."""
    mask = np.zeros((60, 71), np.float32)
    mask[10, 10], mask[40, 65], mask[59, 0] = 0.3, 0.45, 0.2
    grown = maskmath.grow.compute(input=mask, radius=4.0)
    reach = ndimage.grey_dilation(mask, footprint=disc_footprint(5.5), mode="nearest")
    assert (grown >= mask).all() and (grown <= reach + 1e-6).all()
    assert (grown[reach == 0] == 0).all()
