"""blur (images and masks) against OpenCV's GaussianBlur."""
import numpy as np
import pytest

from graph.errors import NodeInputError
from nodes import maskmath

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def photo():
    """skimage's astronaut as a premultiplied linear RGBA image with a soft alpha."""
    data = pytest.importorskip("skimage.data")
    rgb = data.astronaut()[::2, ::2].astype(np.float32) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    height, width = linear.shape[:2]
    alpha = np.clip(np.linspace(-0.2, 1.2, width, dtype=np.float32), 0, 1)[None, :]
    alpha = np.repeat(alpha, height, axis=0)
    return np.ascontiguousarray(np.dstack([linear * alpha[..., None], alpha]),
                                dtype=np.float32)


def opencv_blur(array, sigma):
    size = 2 * int(np.ceil(6 * sigma)) + 1
    return cv2.GaussianBlur(array, (size, size), sigma, borderType=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("size", [0.7, 1.9, 4.0, 8.0, 25.0])
def test_image_blur_matches_opencv(photo, size):
    out = maskmath.blur.compute(input=photo, size=size)
    assert out.shape == photo.shape and out.dtype == np.float32
    assert np.abs(out - opencv_blur(photo, size)).max() < 1e-3


@pytest.mark.parametrize("size", [1.0, 8.0])
def test_mask_blur_matches_opencv(photo, size):
    mask = np.ascontiguousarray(photo[:, :, 1])
    out = maskmath.blur.compute(input=mask, size=size)
    assert out.shape == mask.shape
    assert np.abs(out - opencv_blur(mask, size)).max() < 1e-3


@pytest.mark.parametrize("size", [1.5, 3.44, 5.9])
def test_opencv_band_path_equals_scipy_on_a_tall_picture(photo, size):
    """Sigmas from 1 to 6 run as row bands of OpenCV's FIR, each read with context rows:
    the bands' seams must not show (against SciPy's whole-frame filter, a tall picture so
    that there are many bands)."""
    ndimage = pytest.importorskip("scipy.ndimage")
    tall = np.ascontiguousarray(np.concatenate([photo] * 6, axis=0))
    assert maskmath.gaussian.FIR_SIGMA_LIMIT <= size < maskmath.OPENCV_SIGMA_LIMIT
    out = maskmath.blur.compute(input=tall, size=size)
    expected = ndimage.gaussian_filter(tall, (size, size, 0), mode="nearest", truncate=4.0)
    assert np.abs(out - expected).max() < 1e-5


def test_size_zero_is_identity(photo):
    np.testing.assert_array_equal(maskmath.blur.compute(input=photo, size=0.0), photo)


def test_input_is_not_modified(photo):
    frozen = photo.copy()
    frozen.flags.writeable = False
    maskmath.blur.compute(input=frozen, size=5.0)
    np.testing.assert_array_equal(frozen, photo)


def test_nan_is_refused(photo):
    bad = photo.copy()
    bad[3, 4, 2] = np.nan
    with pytest.raises(NodeInputError, match="NaN"):
        maskmath.blur.compute(input=bad, size=2.0)


def test_blur_spec_is_maskable_on_image_or_mask():
    spec = maskmath.blur
    assert spec.maskable and spec.original == "input"
    assert spec.input("input").type == "image|mask" and spec.outputs[0].type == "image|mask"
