"""The fast colour guided filter kernels against a plain numpy version of He et al.'s
formulas (Guided Image Filtering, TPAMI 2013, Algorithm 1 and eq. 19-21; Fast Guided
Filter, 2015) and against OpenCV's area resize and bilinear resize."""
import cv2
import numpy as np
import pytest
import skimage.data

from nodes.kernels import guided
from nodes.semantic import guided_coefficients, guided_upsample


def box_mean(values, radius):
    """He's boxfilter / N: mean over the window clipped to the array (cumulative sums)."""
    def along(array, axis):
        size = array.shape[axis]
        padded = np.cumsum(np.insert(array, 0, 0, axis=axis), axis=axis)
        index = np.arange(size)
        high = np.minimum(index + radius + 1, size)
        low = np.maximum(index - radius, 0)
        return np.take(padded, high, axis=axis) - np.take(padded, low, axis=axis)
    sums = along(along(values.astype(np.float64), 0), 1)
    ones = along(along(np.ones(values.shape[:2]), 0), 1)
    return sums / (ones if values.ndim == 2 else ones[..., None])


def he_guided_filter(guide, prob, radius, eps):
    """Colour guided filter, He et al. eq. 19-21, returning the mean coefficients."""
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(prob, radius)
    mean_ip = box_mean(guide * prob[..., None], radius)
    cov_ip = mean_ip - mean_i * mean_p[..., None]
    outer = guide[..., :, None] * guide[..., None, :]
    sigma = box_mean(outer.reshape(*guide.shape[:2], 9), radius).reshape(*guide.shape[:2], 3, 3)
    sigma -= mean_i[..., :, None] * mean_i[..., None, :]
    a = np.linalg.solve(sigma + eps * np.eye(3), cov_ip[..., None])[..., 0]
    b = mean_p - np.sum(a * mean_i, axis=-1)
    return box_mean(a, radius), box_mean(b, radius)


@pytest.fixture(scope="module")
def picture():
    rgb = skimage.data.astronaut()[100:292, 150:406].astype(np.float32) / 255.0
    image = np.ones(rgb.shape[:2] + (4,), np.float32)
    image[..., :3] = rgb ** 2.2
    return image


@pytest.fixture(scope="module")
def probability(picture):
    rng = np.random.default_rng(7)
    smooth = cv2.GaussianBlur(rng.random(picture.shape[:2]).astype(np.float32), (0, 0), 6)
    return np.clip((smooth - smooth.mean()) * 20 + 0.5, 0, 1).astype(np.float32)


def guide_of(image):
    return np.sqrt(np.clip(image[..., :3], 0, 1)).astype(np.float64)


@pytest.mark.parametrize("radius", [1, 4, 9])
def test_box_mean_matches_cumulative_sums(probability, radius):
    planes = np.ascontiguousarray(np.stack([probability, probability[::-1]]))
    out = np.empty_like(planes)
    sums = np.empty((2, planes.shape[2]), np.float64)
    guided.box_mean_into(planes, radius, np.empty_like(planes), sums, out)
    for plane in range(2):
        np.testing.assert_allclose(out[plane], box_mean(planes[plane], radius), atol=2e-6)


@pytest.mark.parametrize("shape, radius", [((5, 3), 4), ((3, 7), 2), ((9, 2), 1), ((1, 6), 3)])
def test_box_mean_on_arrays_narrower_than_the_window(shape, radius):
    planes = np.random.default_rng(5).random((1,) + shape).astype(np.float32)
    out = np.empty_like(planes)
    sums = np.empty((1, shape[1]), np.float64)
    guided.box_mean_into(planes, radius, np.empty_like(planes), sums, out)
    np.testing.assert_allclose(out[0], box_mean(planes[0], radius), atol=2e-6)


@pytest.mark.parametrize("radius, eps", [(2, 1e-3), (5, 1e-3), (8, 1e-2)])
def test_coefficients_match_he_formulas(picture, probability, radius, eps):
    guide = guide_of(picture)
    mean_a, mean_b = he_guided_filter(guide, probability.astype(np.float64), radius, eps)
    coeffs = guided_coefficients(guide.astype(np.float32), probability, radius, eps)
    np.testing.assert_allclose(np.moveaxis(coeffs[:3], 0, -1), mean_a, atol=2e-3)
    np.testing.assert_allclose(coeffs[3], mean_b, atol=2e-3)


def test_full_resolution_filter_matches_he(picture, probability):
    radius, eps = 4, 1e-3
    guide = guide_of(picture)
    mean_a, mean_b = he_guided_filter(guide, probability.astype(np.float64), radius, eps)
    guided_value = np.sum(mean_a * guide, axis=-1) + mean_b
    expected = np.clip(probability + (guided_value - probability) * 4 * probability
                       * (1 - probability), 0, 1)
    got = guided_upsample(picture, probability, radius, eps)
    np.testing.assert_allclose(got, expected, atol=2e-4)


def downsample(image, factor):
    height, width = -(-image.shape[0] // factor), -(-image.shape[1] // factor)
    rgb = np.empty((height, width, 3), np.float32)
    guide = np.empty_like(rgb)
    guided.downsample_into(image, factor, rgb, guide)
    return rgb, guide


def test_downsample_matches_area_resize(picture):
    factor = 4
    height, width = picture.shape[0] // factor, picture.shape[1] // factor
    hdr = picture.copy()
    hdr[:20, :20, :3] *= 3.0                        # over 1: the rgb mean keeps it
    rgb, guide = downsample(hdr, factor)
    expected_guide = cv2.resize(guide_of(hdr).astype(np.float32), (width, height),
                                interpolation=cv2.INTER_AREA)
    expected_rgb = cv2.resize(hdr[..., :3], (width, height), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(guide, expected_guide, atol=1e-5)
    np.testing.assert_allclose(rgb, expected_rgb, atol=1e-5)


def test_partial_blocks_average_what_they_hold():
    image = np.ones((5, 7, 4), np.float32)
    image[4, :, :3] = 0.25
    image[:, 6, :3] = 0.0
    rgb, guide = downsample(image, 4)
    np.testing.assert_allclose(guide[1, 0], 0.5, atol=1e-6)          # sqrt(0.25), 1 row of 4
    np.testing.assert_allclose(guide[1, 1], 0.5 * 2 / 3, atol=1e-6)  # 2 of 3 pixels at 0.5
    np.testing.assert_allclose(guide[0, 1], 2 / 3, atol=1e-6)
    np.testing.assert_allclose(rgb[1, 1], 0.25 * 2 / 3, atol=1e-6)


def test_apply_samples_coefficients_like_bilinear_resize(picture):
    factor = 4
    height, width = picture.shape[:2]
    rng = np.random.default_rng(3)
    coeffs = rng.random((4, height // factor, width // factor)).astype(np.float32) * 0.3
    low_probability = rng.random((height // factor, width // factor)).astype(np.float32)
    out = np.empty((height, width), np.float32)
    rows = np.empty((height // factor, 5, width), np.float32)
    guided.apply_into(picture, factor, coeffs, low_probability, rows, out)
    planes = [cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)
              for plane in coeffs]
    prob = cv2.resize(low_probability, (width, height), interpolation=cv2.INTER_LINEAR)
    guide = guide_of(picture)
    guided_value = sum(planes[c] * guide[..., c] for c in range(3)) + planes[3]
    expected = np.clip(prob + (guided_value - prob) * 4 * prob * (1 - prob), 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_edges_follow_the_guide():
    """A blurred step map upsampled against a sharp two-colour picture becomes sharp."""
    image = np.zeros((64, 64, 4), np.float32)
    image[..., 3] = 1
    image[:, :29, 0] = 0.8
    image[:, 29:, 2] = 0.8
    low = np.zeros((8, 8), np.float32)
    low[:, 4:] = 1
    refined = guided_upsample(image, low, 8, 1e-4)
    bilinear = cv2.resize(low, (64, 64), interpolation=cv2.INTER_LINEAR)
    truth = (np.arange(64) >= 29).astype(np.float32)[None].repeat(64, 0)
    assert np.abs(refined - truth).mean() < 0.8 * np.abs(bilinear - truth).mean()
    assert refined[:, :28].max() < 0.05             # the guide's edge is at 29, not 32
