"""inpaint: the fill methods against OpenCV / scikit-image / known content, and the node's
contract (grow, blend, soft masks, bit-exact outside the hole, bad input)."""
import cv2
import numpy as np
import pytest

from graph.errors import NodeInputError
from nodes.inpaint import (auto_fill, auto_parts, hole_weights, inpaint, patch_fill, smooth_fill,
                           split_by_thickness, telea_fill)

skimage_data = pytest.importorskip("skimage.data", reason="skimage ships the test photos")
restoration = pytest.importorskip("skimage.restoration", reason="biharmonic reference")


def photo(name="coffee", size=192):
    """An sRGB uint8 (H, W, 3) photo from skimage.data, long side `size`."""
    picture = getattr(skimage_data, name)()[..., :3]
    height, width = picture.shape[:2]
    scale = size / max(height, width)
    return cv2.resize(picture, (round(width * scale), round(height * scale)),
                      interpolation=cv2.INTER_AREA)


def rgba(picture):
    """uint8 RGB -> float32 (H, W, 4), values as they are, alpha 1."""
    values = picture.astype(np.float32) / 255.0
    return np.ascontiguousarray(np.dstack([values, np.ones(values.shape[:2], np.float32)]))


def psnr(result, truth, hole):
    error = np.mean((result[hole][:, :3] - truth[hole][:, :3]) ** 2)
    return 10 * np.log10(1.0 / error)


def scratches(shape, seed=3):
    rng = np.random.default_rng(seed)
    canvas = np.zeros(shape, np.uint8)
    for _ in range(5):
        ends = rng.integers(0, [shape[1], shape[0]], size=(2, 2))
        cv2.line(canvas, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 1, 3)
    return canvas > 0


def run(image, mask, method="auto", grow=0.0, blend=0.0, radius=5):
    return inpaint.compute(image, mask, method=method, grow=grow, blend=blend, radius=radius)


# ---------------------------------------------------------------- fill methods

def test_telea_is_as_good_as_opencv_and_close_to_it():
    picture = photo()
    hole = scratches(picture.shape[:2])
    truth = rgba(picture)
    ours = telea_fill(truth, hole, radius=5)
    theirs = rgba(cv2.inpaint(picture, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA))
    assert psnr(ours, truth, hole) > psnr(theirs, truth, hole) - 0.5
    assert np.abs(ours[hole] - theirs[hole])[:, :3].mean() < 0.02
    np.testing.assert_array_equal(ours[~hole], truth[~hole])


def test_smooth_matches_scikit_image_biharmonic():
    picture = photo("astronaut", 128)
    truth = rgba(picture)
    hole = np.zeros(picture.shape[:2], bool)
    hole[40:60, 50:75] = True
    hole[90:93, 10:110] = True
    ours = smooth_fill(truth, hole, iterations=5000, tolerance=1e-7)
    theirs = restoration.inpaint_biharmonic(truth, hole, channel_axis=-1)
    difference = np.abs(ours[hole] - theirs[hole])[:, :3]
    assert difference.max() < 0.02 and difference.mean() < 0.002


def test_patch_rebuilds_a_periodic_texture_that_smooth_fills_cannot():
    y, x = np.mgrid[0:160, 0:160]
    stripes = 0.5 + 0.4 * np.sign(np.sin(2 * np.pi * (x + 0.5 * y) / 12.0))
    texture = np.dstack([stripes, 1 - stripes, 0.5 * stripes, np.ones_like(stripes)])
    texture = np.ascontiguousarray(texture, np.float32)
    hole = np.zeros(stripes.shape, bool)
    hole[50:100, 60:110] = True
    patch_psnr = psnr(patch_fill(texture, hole), texture, hole)
    assert patch_psnr > 22  # only stripe edges differ, by a blend of neighbouring patches
    assert patch_psnr > psnr(smooth_fill(texture, hole), texture, hole) + 10


def test_patch_is_deterministic_and_only_touches_the_hole():
    truth = rgba(photo("chelsea", 160))
    hole = np.zeros(truth.shape[:2], bool)
    hole[40:80, 50:90] = True
    first, second = patch_fill(truth, hole), patch_fill(truth, hole)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first[~hole], truth[~hole])


def test_smooth_beats_navier_stokes_on_scratches():
    picture = photo("coffee")
    hole = scratches(picture.shape[:2], seed=5)
    truth = rgba(picture)
    theirs = rgba(cv2.inpaint(picture, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_NS))
    assert psnr(smooth_fill(truth, hole), truth, hole) > psnr(theirs, truth, hole)


def test_auto_splits_thin_and_thick_parts():
    hole = np.zeros((200, 220), bool)
    hole[10:13, 5:150] = True            # a scratch: thin (smooth fill)
    hole[40:80, 20:60] = True            # a 40 px square: mixed (smooth and patch)
    hole[100:190, 100:190] = True        # a 90 px square: wide (patch)
    thin, thick = split_by_thickness(hole, 4.0)
    assert thin[11, 20] and not thick[11, 20] and thick[60, 40] and thick[150, 150]
    np.testing.assert_array_equal(thin | thick, hole)
    mixed, wide = auto_parts(hole)
    assert not mixed[11, 20] and not wide[11, 20]
    assert mixed[60, 40] and not wide[60, 40] and mixed[41, 21]
    assert wide[150, 150] and not mixed[150, 150] and wide[101, 101]


def test_auto_mixes_smooth_and_patch_fills_of_blobs():
    """On blobs in four photos the auto mix is closer to the truth than either fill alone,
    and than scikit-image's biharmonic fill (mean PSNR and SSIM in the holes); thin
    scratches take the smooth fill as it is."""
    ssim = pytest.importorskip("skimage.metrics").structural_similarity
    scores = {"auto": [], "smooth": [], "patch": [], "biharmonic": []}
    for name in ("coffee", "chelsea", "rocket", "astronaut"):
        picture = photo(name, 256)
        truth = rgba(picture)
        hole = np.zeros(picture.shape[:2], np.uint8)
        for centre, axes in (((60, 60), (14, 10)), ((170, 100), (18, 12)), ((110, 150), (12, 16))):
            cv2.ellipse(hole, centre, axes, 30, 0, 360, 1, -1)
        hole = hole > 0
        scratch = np.zeros_like(hole)
        scratch[30:33, 120:240] = True
        auto = auto_fill(truth, hole | scratch)
        np.testing.assert_array_equal(auto[scratch], smooth_fill(truth, hole | scratch)[scratch])
        theirs = restoration.inpaint_biharmonic(picture / 255.0, hole, channel_axis=-1)
        fills = {"auto": auto, "smooth": smooth_fill(truth, hole), "patch": patch_fill(truth, hole),
                 "biharmonic": rgba((theirs * 255).round().astype(np.uint8))}
        for method, result in fills.items():
            _, full = ssim(truth[..., :3], result[..., :3], channel_axis=-1, data_range=1.0,
                           full=True)
            scores[method].append((psnr(result, truth, hole), float(full[hole].mean())))
    means = {method: np.mean(values, axis=0) for method, values in scores.items()}
    for method in ("smooth", "patch", "biharmonic"):
        assert means["auto"][0] > means[method][0] + 0.2, means
        assert means["auto"][1] > means[method][1], means


# ---------------------------------------------------------------- the node's contract

@pytest.fixture(scope="module")
def linear_photo():
    values = rgba(photo("rocket", 160))
    values[..., :3] **= 2.2
    return values


@pytest.mark.parametrize("method", ["auto", "telea", "smooth", "patch"])
def test_outside_the_grown_hole_is_bit_exact(linear_photo, method):
    mask = np.zeros(linear_photo.shape[:2], np.float32)
    mask[30:50, 40:70] = 1.0
    out = run(linear_photo, mask, method=method, grow=4.0, blend=2.0)
    weights = hole_weights(mask, 4.0, 2.0)
    np.testing.assert_array_equal(out[weights == 0], linear_photo[weights == 0])
    assert not np.array_equal(out[30:50, 40:70], linear_photo[30:50, 40:70])
    assert np.isfinite(out).all() and out.dtype == np.float32


def test_grow_and_blend_weights():
    mask = np.zeros((40, 40), np.float32)
    mask[18:22, 18:22] = 1.0
    weights = hole_weights(mask, 4.0, 2.0)
    assert weights[20, 20] == 1.0
    assert weights[20, 22 + 1] == 1.0          # 2 px out: inside the grown hole, before the ramp
    assert 0.0 < weights[20, 22 + 3] < 1.0     # on the ramp
    assert weights[20, 22 + 5] == 0.0          # beyond grow
    row = weights[20, 21:]
    assert np.all(np.diff(row) <= 0)           # falls monotonically outwards
    np.testing.assert_array_equal(hole_weights(mask, 0.0, 0.0), mask)


def test_grown_soft_mask_follows_a_grey_dilation():
    hard = np.zeros((80, 90), np.float32)
    hard[30:50, 30:60] = 1.0
    soft = cv2.GaussianBlur(hard, (0, 0), 2.0)
    soft[soft < 0.01] = 0.0
    weights = hole_weights(soft, 6.0, 0.0)
    y, x = np.mgrid[-6:7, -6:7]
    disc = (x * x + y * y <= 6.5 ** 2).astype(np.uint8)  # the pixels within grow + 0.5
    reference = cv2.dilate(soft, disc)  # OpenCV's grey dilation with that disc
    inside = soft > 0
    np.testing.assert_array_equal(weights[inside] >= soft[inside], True)
    np.testing.assert_array_equal(weights > 0, reference > 0)
    error = np.abs(weights - reference)[reference > 0]
    assert error.mean() < 0.03 and error.max() <= 1 / 16 + 1e-6  # 16 quantisation levels


def test_soft_mask_gives_a_partial_fill(linear_photo):
    hard = np.zeros(linear_photo.shape[:2], np.float32)
    hard[60:80, 60:90] = 1.0
    full = run(linear_photo, hard, method="telea")
    half = run(linear_photo, hard * 0.5, method="telea")
    expected = linear_photo + (full - linear_photo) * 0.5
    np.testing.assert_allclose(half[60:80, 60:90], expected[60:80, 60:90], atol=1e-6)


def test_empty_mask_returns_the_input(linear_photo):
    mask = np.zeros(linear_photo.shape[:2], np.float32)
    assert run(linear_photo, mask) is linear_photo


def test_mask_of_another_size_names_both_sizes(linear_photo):
    mask = np.ones((10, 12), np.float32)
    height, width = linear_photo.shape[:2]
    with pytest.raises(NodeInputError, match=f"{width}x{height}.*12x10"):
        run(linear_photo, mask)


def test_mask_covering_everything_is_an_error(linear_photo):
    mask = np.ones(linear_photo.shape[:2], np.float32)
    with pytest.raises(NodeInputError, match="nothing to sample from"):
        run(linear_photo, mask)


def test_nan_inside_the_hole_is_filled_and_outside_is_an_error(linear_photo):
    image = linear_photo.copy()
    mask = np.zeros(image.shape[:2], np.float32)
    mask[20:30, 20:30] = 1.0
    image[25, 25] = np.nan
    for method in ("telea", "smooth", "patch"):
        assert np.isfinite(run(image, mask, method=method, grow=2.0, blend=1.0)).all()
    image[100, 100, 1] = np.nan
    with pytest.raises(NodeInputError, match="1 NaN"):
        run(image, mask)


# ---------------------------------------------------------------- the outpaint template

def test_outpaint_template_widens_the_canvas_and_keeps_the_middle(linear_photo):
    graph = pytest.importorskip("graph")
    if not hasattr(graph, "load"):
        pytest.skip("graph.load is not available yet")
    loaded = graph.load("""
maskgraph: 1
nodes:
  plate: {type: input, kind: image}
  wide: {type: template, file: outpaint, image: plate, left: 24, right: 16, grow: 4}
""")
    result = loaded.evaluate(outputs=["wide", "wide.added"], feed={"plate": linear_photo})
    wide, added = result["wide"], result["wide.added"]
    height, width = linear_photo.shape[:2]
    assert wide.shape == (height, width + 40, 4) and added.shape == (height, width + 40)
    assert added[:, :24].min() == 1 and added[:, -16:].min() == 1
    assert added[:, 24:24 + width].max() == 0
    # beyond the grown seam the original pixels are untouched
    np.testing.assert_array_equal(wide[:, 24 + 5:24 + width - 5], linear_photo[:, 5:-5])
    # the new canvas looks like the picture's sides, not like a flat or empty fill
    assert np.isfinite(wide).all()
    left_new, left_old = wide[:, :24, :3], linear_photo[:, :24, :3]
    assert abs(left_new.mean() - left_old.mean()) < 0.1
    assert left_new.std() > 0.25 * left_old.std()


def detail(image, region):
    """Standard deviation of the Laplacian of the mean colour over `region`: the fine
    texture a fill keeps (a smeared fill has little)."""
    grey = np.ascontiguousarray(image[..., :3].mean(axis=2), np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F)[region].std())


@pytest.mark.parametrize("name", ["grass", "gravel"])
def test_patch_keeps_texture_across_a_wide_hole(name):
    """A 56 px hole in a texture photo is filled with texture as fine as the photo's,
    where the smooth fills (OpenCV's telea, our biharmonic) leave a smear."""
    picture = cv2.resize(getattr(skimage_data, name)(), (256, 256),
                         interpolation=cv2.INTER_AREA)
    truth = rgba(np.dstack([picture] * 3))
    hole = np.zeros(truth.shape[:2], bool)
    hole[100:156, 100:156] = True
    inner = np.zeros_like(hole)
    inner[104:152, 104:152] = True  # away from the rim, where any fill meets the photo
    theirs = rgba(cv2.inpaint(np.dstack([picture] * 3), hole.astype(np.uint8) * 255, 5,
                              cv2.INPAINT_TELEA))
    original = detail(truth, inner)
    assert detail(patch_fill(truth, hole), inner) > 0.7 * original
    assert detail(theirs, inner) < 0.3 * original
    assert detail(smooth_fill(truth, hole), inner) < 0.3 * original


def test_patch_outpaint_continues_bands_that_meet_the_picture_edge():
    """Extending a picture of horizontal bands (sky, horizon, ground down to the bottom
    edge) sideways continues every band, the ones along the top and bottom edges too."""
    rng = np.random.default_rng(7)
    rows = np.repeat(np.array([[0.2, 0.3, 0.7], [0.9, 0.6, 0.2], [0.35, 0.25, 0.1]],
                              np.float32), [76, 12, 8], axis=0)
    picture = rows[:, None, :] + rng.normal(0, 0.03, (96, 160, 3)).astype(np.float32)
    image = np.dstack([picture, np.ones((96, 160), np.float32)])
    wide = np.ascontiguousarray(np.pad(image, ((0, 0), (0, 48), (0, 0))), np.float32)
    hole = np.zeros(wide.shape[:2], bool)
    hole[:, 160:] = True
    filled = patch_fill(wide, hole)
    row_error = np.abs(filled[:, 160:, :3].mean(axis=1) - rows).max(axis=1)
    assert row_error.max() < 0.1, np.flatnonzero(row_error >= 0.1)
