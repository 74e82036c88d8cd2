"""crop, extend, resize against Pillow, OpenCV and plain numpy."""
import numpy as np
import pytest

from graph.errors import NodeInputError
from nodes.transform import crop, extend, resize

Image = pytest.importorskip("PIL.Image", reason="Pillow is the resize reference")
cv2 = pytest.importorskip("cv2", reason="OpenCV is the border reference")
skimage_data = pytest.importorskip("skimage.data", reason="skimage ships the test photos")

PIL_FILTERS = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC",
               "lanczos": "LANCZOS"}


@pytest.fixture(scope="module")
def photo():
    """A 160x200 premultiplied RGBA crop of skimage's astronaut, alpha a soft ramp."""
    rgb = skimage_data.astronaut()[40:200, 100:300].astype(np.float32) / 255.0
    alpha = np.clip(np.linspace(-0.2, 1.2, rgb.shape[1], dtype=np.float32), 0, 1)
    alpha = np.broadcast_to(alpha, rgb.shape[:2])
    return np.ascontiguousarray(np.dstack([rgb * alpha[..., None], alpha]), np.float32)


def pillow_resize(plane, width, height, filter_name):
    """Pillow's float ('F' mode) resize of one (H, W) plane."""
    filter_id = getattr(Image.Resampling, PIL_FILTERS[filter_name])
    picture = Image.fromarray(np.ascontiguousarray(plane, np.float32), mode="F")
    return np.asarray(picture.resize((width, height), filter_id), np.float32)


def resize_call(input, width=None, height=None, scale=None, filter="bicubic"):
    return resize.compute(input, width=width, height=height, scale=scale, filter=filter)


@pytest.mark.parametrize("filter_name", ["bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("size", [(97, 61), (200, 160), (413, 290), (57, 290)])
def test_resize_matches_pillow_per_channel(photo, filter_name, size):
    width, height = size
    ours = resize_call(photo, width=width, height=height, filter=filter_name)
    assert ours.shape == (height, width, 4) and ours.dtype == np.float32
    for channel in range(4):
        expected = pillow_resize(photo[:, :, channel], width, height, filter_name)
        np.testing.assert_allclose(ours[:, :, channel], expected, atol=2e-5)


@pytest.mark.parametrize("size", [(97, 61), (413, 290), (57, 290)])
def test_resize_nearest_picks_the_source_pixel_under_each_centre(photo, size):
    # exact integer arithmetic: source index = floor((2i + 1) * in / (2 * out)); Pillow
    # steps its coordinates in floating point and differs where a centre lands exactly
    # on a pixel boundary
    width, height = size
    ours = resize_call(photo, width=width, height=height, filter="nearest")
    rows = (2 * np.arange(height) + 1) * photo.shape[0] // (2 * height)
    columns = (2 * np.arange(width) + 1) * photo.shape[1] // (2 * width)
    np.testing.assert_array_equal(ours, photo[rows][:, columns])
    agree = pillow_resize(photo[:, :, 1], width, height, "nearest") == ours[:, :, 1]
    assert agree.mean() > 0.97  # one tied row or column at most


def test_resize_bilinear_upscale_matches_opencv(photo):
    ours = resize_call(photo, width=300, height=240, filter="bilinear")
    expected = cv2.resize(photo, (300, 240), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_resize_area_like_downscale_by_two_is_box_average():
    rng = np.random.default_rng(1)
    mask = rng.random((64, 48), dtype=np.float32)
    ours = resize_call(mask, scale=0.5, filter="bilinear")
    # a triangle filter widened to 2 source pixels covers 4 source pixels per axis with
    # weights 1/8, 3/8, 3/8, 1/8
    taps = np.array([1, 3, 3, 1], np.float64) / 8
    padded = np.pad(mask.astype(np.float64), 1, mode="edge")
    expected = np.zeros((32, 24))
    for dy, wy in enumerate(taps):
        for dx, wx in enumerate(taps):
            expected += wy * wx * padded[dy:dy + 64:2, dx:dx + 48:2]
    inside = (slice(1, -1), slice(1, -1))  # the edge rows renormalise instead of repeating
    np.testing.assert_allclose(ours[inside], expected[inside], atol=1e-5)


def test_resize_premultiplied_has_no_dark_fringe():
    # a white opaque square on transparent black: straight colour must stay white
    image = np.zeros((40, 40, 4), np.float32)
    image[10:30, 10:30] = 1.0
    out = resize_call(image, width=17, height=17, filter="bilinear")
    alpha = out[:, :, 3]
    partial = (alpha > 0.05) & (alpha < 0.95)
    assert partial.any()
    straight = out[:, :, 0][partial] / alpha[partial]
    np.testing.assert_allclose(straight, 1.0, atol=1e-5)


def test_resize_keeps_aspect_ratio_and_clamps_masks():
    mask = np.zeros((100, 50), np.float32)
    mask[:, 25:] = 1.0
    out = resize_call(mask, width=20, filter="lanczos")
    assert out.shape == (40, 20)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert resize_call(mask, height=30).shape == (30, 15)
    assert resize_call(mask, scale=0.37).shape == (37, 18)


def test_resize_check_requires_a_size():
    check = resize.check
    assert check({"width": None, "height": None, "scale": None}, set())
    assert check({"width": 10, "height": None, "scale": 2.0}, set())
    assert check({"width": 10, "height": None, "scale": None}, set()) == []


def test_crop_inside_and_partly_outside(photo):
    out = crop.compute(photo, box=(10, 20, 60, 45))
    np.testing.assert_array_equal(out, photo[20:45, 10:60])
    out = crop.compute(photo, box=(-5, -3, 10, 8))
    assert out.shape == (11, 15, 4)
    np.testing.assert_array_equal(out[3:, 5:], photo[:8, :10])
    assert not out[:3].any() and not out[:, :5].any()


def test_crop_errors(photo):
    with pytest.raises(NodeInputError, match="outside"):
        crop.compute(photo, box=(500, 0, 600, 10))
    assert crop.check({"box": (5, 5, 5, 10)}, set())
    assert crop.check({"box": (0.5, 0, 5, 10)}, set())
    assert crop.check({"box": (0, 0, 5, 10)}, set()) == []


CV_BORDERS = {"transparent": cv2.BORDER_CONSTANT, "edge": cv2.BORDER_REPLICATE,
              "mirror": cv2.BORDER_REFLECT_101}


@pytest.mark.parametrize("fill", ["transparent", "edge", "mirror"])
def test_extend_matches_opencv_borders(photo, fill):
    margins = dict(left=7, top=3, right=250, bottom=0)
    result = extend.compute(photo, fill=fill, color=(0, 0, 0, 1), **margins)
    expected = cv2.copyMakeBorder(photo, 3, 0, 7, 250, CV_BORDERS[fill], value=(0, 0, 0, 0))
    np.testing.assert_array_equal(result["output"], expected)
    added = result["added"]
    assert added.shape == expected.shape[:2]
    assert added.sum() == added.size - photo.shape[0] * photo.shape[1]
    assert not added[3:, 7:207].any()


def test_extend_color_fill_is_premultiplied_and_mask_uses_alpha(photo):
    result = extend.compute(photo, left=2, top=0, right=0, bottom=1, fill="color",
                            color=(1.0, 0.5, 0.25, 0.5))
    np.testing.assert_allclose(result["output"][0, 0], [0.5, 0.25, 0.125, 0.5])
    np.testing.assert_array_equal(result["output"][:-1, 2:], photo)
    mask = np.ones((4, 5), np.float32)
    out = extend.compute(mask, left=1, top=1, right=1, bottom=1, fill="color",
                         color=(1.0, 1.0, 1.0, 0.25))
    assert out["output"][0, 0] == 0.25 and out["output"].shape == (6, 7)
