"""inpaint `method: model`: a user's ONNX inpainting network, run through its descriptor.

The networks are built here with the `onnx` package: each fills the hole with the mean
colour of the known pixels it was given (a LaMa-style float model with two inputs, a
uint8 MI-GAN-style one, an NHWC one with a concatenated mask), so what the node must
produce is computable with numpy: the real loading, cropping, resizing and blending code
runs, with no model file in the repository and nothing downloaded.
"""
import cv2
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the test networks are built with `onnx`")
pytest.importorskip("onnxruntime", reason="needs pip install 'maskgraph[semantic]'")
from onnx import TensorProto, helper  # noqa: E402

from graph import load  # noqa: E402
from graph.errors import MaskgraphError, NodeInputError  # noqa: E402
from nodes.inpaint import inpaint  # noqa: E402
from nodes.inpaint_model import hole_crops  # noqa: E402

skimage_data = pytest.importorskip("skimage.data", reason="skimage ships the test photos")


def srgb_to_linear(values):
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values):
    values = np.clip(values, 0, 1)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def photo_rgba(size):
    picture = skimage_data.coffee()
    picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA) / 255.0
    return np.dstack([srgb_to_linear(picture), np.ones(picture.shape[:2])]).astype(np.float32)


# ---------------------------------------------------------------- test networks

def mean_fill_graph(size, uint8=False, nhwc_concat=False):
    """A network: out = image where known, else the mean colour of the known pixels.

    float: image (1, 3, h, w) in [0, 1], mask (1, 1, h, w) 1 on the hole, output 0..255
    (as Carve's LaMa export). uint8: image 0..255, mask 255 on KNOWN pixels, output
    uint8 (as MI-GAN's pipeline export). nhwc_concat: one (1, h, w, 4) float input,
    the mask last, output (1, h, w, 3) in [0, 1].
    """
    width, height = size
    kind = TensorProto.UINT8 if uint8 else TensorProto.FLOAT
    nodes, inputs = [], []
    if nhwc_concat:
        inputs.append(helper.make_tensor_value_info("rgbm", kind, [1, height, width, 4]))
        nodes += [helper.make_node("Transpose", ["rgbm"], ["chw"], perm=[0, 3, 1, 2]),
                  helper.make_node("Split", ["chw", "split"], ["image", "hole"], axis=1)]
        initial = [helper.make_tensor("split", TensorProto.INT64, [2], [3, 1])]
    else:
        inputs += [helper.make_tensor_value_info("image", kind, [1, 3, height, width]),
                   helper.make_tensor_value_info("mask", kind, [1, 1, height, width])]
        initial = []
        if uint8:
            nodes += [helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
                      helper.make_node("Cast", ["mask"], ["mask_f"], to=TensorProto.FLOAT),
                      helper.make_node("Div", ["mask_f", "c255"], ["known_unit"]),
                      helper.make_node("Sub", ["one", "known_unit"], ["hole"])]
            initial.append(helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0]))
        else:
            nodes.append(helper.make_node("Identity", ["mask"], ["hole"]))
    image = "image_f" if uint8 else "image"
    initial += [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
                helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3]),
                helper.make_tensor("scale", TensorProto.FLOAT, [],
                                   [1.0 if uint8 or nhwc_concat else 255.0])]
    nodes += [helper.make_node("Sub", ["one", "hole"], ["known"]),
              helper.make_node("Mul", [image, "known"], ["kept"]),
              helper.make_node("ReduceSum", ["kept", "axes"], ["total"], keepdims=1),
              helper.make_node("ReduceSum", ["known", "axes"], ["count"], keepdims=1),
              helper.make_node("Div", ["total", "count"], ["mean"]),
              helper.make_node("Mul", ["mean", "hole"], ["fill"]),
              helper.make_node("Add", ["kept", "fill"], ["filled"]),
              helper.make_node("Mul", ["filled", "scale"], ["scaled"])]
    if uint8:
        nodes.append(helper.make_node("Cast", ["scaled"], ["output"], to=TensorProto.UINT8))
        shape = [1, 3, height, width]
    elif nhwc_concat:
        nodes.append(helper.make_node("Transpose", ["scaled"], ["output"], perm=[0, 2, 3, 1]))
        shape = [1, height, width, 3]
    else:
        nodes.append(helper.make_node("Identity", ["scaled"], ["output"]))
        shape = [1, 3, height, width]
    graph = helper.make_graph(nodes, "mean_fill", inputs,
                              [helper.make_tensor_value_info("output", kind, shape)], initial)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(model, path):
    onnx.save(model, str(path))
    return str(path)


def run(image, mask, model, grow=0.0, blend=0.0):
    return inpaint.compute(image, mask, method="model", grow=grow, blend=blend, radius=5,
                           model=model)


def expected_mean(image, hole, crop):
    """The sRGB mean colour of the known pixels of `crop` (what the network sees when
    the crop is its size: no resizing)."""
    rgb = linear_to_srgb(image[crop][..., :3].astype(np.float64))
    return rgb[~hole[crop]].mean(axis=0)


# ---------------------------------------------------------------- tests

def test_lama_style_model_fills_only_the_hole_with_its_output(tmp_path):
    """No descriptor: LaMa's defaults except output_scale 255, from a descriptor."""
    onnx_path = save(mean_fill_graph((64, 64)), tmp_path / "lama.onnx")
    (tmp_path / "lama.yaml").write_text("output_scale: 255\n")
    image = photo_rgba((64, 64))
    mask = np.zeros((64, 64), np.float32)
    mask[20:40, 24:44] = 1.0
    out = run(image, mask, onnx_path)
    hole = mask > 0
    np.testing.assert_array_equal(out[~hole], image[~hole])
    filled = linear_to_srgb(out[hole][:, :3].astype(np.float64))
    full = (slice(0, 64), slice(0, 64))
    np.testing.assert_allclose(filled, np.broadcast_to(expected_mean(image, hole, full),
                                                       filled.shape), atol=2e-3)
    np.testing.assert_array_equal(out[hole][:, 3], 1.0)


def test_big_picture_is_tiled_per_hole_at_full_resolution(tmp_path):
    """Two holes far apart in a picture 4x the network's size: each is filled from its own
    network-sized crop (no resizing), so each takes the mean of its own surroundings."""
    onnx_path = save(mean_fill_graph((64, 48)), tmp_path / "net.onnx")
    (tmp_path / "net.yaml").write_text("model: net.onnx\noutput_scale: 255\n")
    image = photo_rgba((256, 192))
    mask = np.zeros((192, 256), np.float32)
    mask[20:30, 20:34] = 1.0
    mask[150:165, 200:220] = 1.0
    hole = mask > 0
    crops = hole_crops(hole, (64, 48))
    assert len(crops) == 2 and all((c[0].stop - c[0].start, c[1].stop - c[1].start) == (48, 64)
                                   for c in crops)
    out = run(image, mask, str(tmp_path / "net.yaml"))
    for crop in crops:
        here = np.zeros_like(hole)
        here[crop] = hole[crop]
        filled = linear_to_srgb(out[here][:, :3].astype(np.float64))
        np.testing.assert_allclose(filled.mean(axis=0), expected_mean(image, hole, crop),
                                   atol=2e-3)
        assert filled.std(axis=0).max() < 2e-3
    means = [linear_to_srgb(out[c][hole[c]][:, :3].astype(np.float64)).mean(0) for c in crops]
    assert np.abs(means[0] - means[1]).max() > 0.02  # two crops, two different fills


def test_hole_bigger_than_the_network_is_resized(tmp_path):
    """A 60 px hole and a 32 px network: the crop (120 px, mirrored to the network's
    aspect) is shrunk to 32 px and the output enlarged back; the fill is still close to
    the mean of the crop's known pixels, and the pixels outside the hole are untouched."""
    onnx_path = save(mean_fill_graph((32, 32)), tmp_path / "small.onnx")
    (tmp_path / "small.yaml").write_text("output_scale: 255\n")
    image = photo_rgba((160, 120))
    mask = np.zeros((120, 160), np.float32)
    mask[30:90, 50:110] = 1.0
    hole = mask > 0
    out = run(image, mask, onnx_path)
    np.testing.assert_array_equal(out[~hole], image[~hole])
    (crop,) = hole_crops(hole, (32, 32))
    assert crop[1].stop - crop[1].start == 120
    filled = linear_to_srgb(out[hole][:, :3].astype(np.float64))
    assert np.abs(filled.mean(axis=0) - expected_mean(image, hole, crop)).max() < 0.03


def test_uint8_model_with_inverted_mask_and_grow_blend(tmp_path):
    """MI-GAN style: uint8 image 0..255, mask 255 on the known pixels, uint8 output."""
    onnx_path = save(mean_fill_graph((64, 64), uint8=True), tmp_path / "migan.onnx")
    (tmp_path / "migan.yaml").write_text(
        "input_scale: 255\nmask_hole: 0\nmask_known: 255\noutput_scale: 255\n")
    image = photo_rgba((64, 64))
    mask = np.zeros((64, 64), np.float32)
    mask[26:36, 26:36] = 1.0
    out = run(image, mask, str(tmp_path / "migan.yaml"), grow=4.0, blend=2.0)
    weights_zero = np.ones((64, 64), bool)
    weights_zero[20:42, 20:42] = False
    np.testing.assert_array_equal(out[weights_zero], image[weights_zero])
    centre = linear_to_srgb(out[31, 31, :3].astype(np.float64))
    grown = np.zeros((64, 64), bool)
    grown[22:40, 22:40] = True
    full = (slice(0, 64), slice(0, 64))
    assert np.abs(centre - expected_mean(image, grown, full)).max() < 0.02


def test_nhwc_model_with_the_mask_as_a_fourth_channel(tmp_path):
    onnx_path = save(mean_fill_graph((48, 48), nhwc_concat=True), tmp_path / "cat.onnx")
    (tmp_path / "cat.json").write_text('{"layout": "nhwc", "mask_input": "concat"}')
    image = photo_rgba((48, 48))
    mask = np.zeros((48, 48), np.float32)
    mask[10:20, 10:30] = 1.0
    hole = mask > 0
    out = run(image, mask, onnx_path)
    filled = linear_to_srgb(out[hole][:, :3].astype(np.float64))
    full = (slice(0, 48), slice(0, 48))
    np.testing.assert_allclose(filled.mean(axis=0), expected_mean(image, hole, full), atol=2e-3)


def test_a_name_is_found_in_the_model_cache_from_a_yaml_graph(tmp_path, monkeypatch):
    cache = tmp_path / "models"
    cache.mkdir()
    monkeypatch.setenv("MASKGRAPH_MODELS", str(cache))
    save(mean_fill_graph((64, 64)), cache / "meanfill.onnx")
    (cache / "meanfill.yaml").write_text("output_scale: 255\n")
    picture = (skimage_data.coffee()[::6, ::6][:64, :64]).copy()
    cv2.imwrite(str(tmp_path / "plate.png"), picture[..., ::-1])
    spot = np.zeros((64, 64), np.uint8)
    spot[20:36, 20:36] = 255
    cv2.imwrite(str(tmp_path / "spot.png"), spot)
    (tmp_path / "fill.yaml").write_text(
        "maskgraph: 1\nnodes:\n  plate: {type: read, path: plate.png}\n"
        "  spot: {type: read_mask, path: spot.png}\n"
        "  clean: {type: inpaint, input: plate, mask: spot, method: model, model: meanfill,"
        " grow: 0, blend: 0}\n  out: {type: write, input: clean, path: out.png}\n")
    load(str(tmp_path / "fill.yaml")).evaluate()
    result = cv2.imread(str(tmp_path / "out.png"))[..., ::-1] / 255.0
    expected = (picture / 255.0)[spot == 0].mean(axis=0)
    assert np.abs(result[spot > 0] - expected).max() < 2.5 / 255
    np.testing.assert_array_equal(result[spot == 0] * 255, picture[spot == 0])


BAD_DESCRIPTORS = [
    ("layout: chw\n", "'layout' must be one of nchw, nhwc"),
    ("input_size: [64]\n", "'input_size' must be a list of 2 numbers"),
    ("colour: red\n", "unknown keys ['colour']"),
    ("input_size: [32, 32]\n", "not 3 channels of 32x32"),
    ("image_input: picture\n", "no input named 'picture'"),
    ("mask_input: concat\n", "expected 1 (image with the mask as a 4th channel)"),
    ("model: elsewhere.onnx\n", "model file not found"),
    ("std: [1, 0, 1]\n", "must not be 0"),
]


@pytest.mark.parametrize("text, message", BAD_DESCRIPTORS)
def test_bad_descriptors_are_load_errors_placed_on_model(tmp_path, text, message):
    save(mean_fill_graph((64, 64)), tmp_path / "net.onnx")
    (tmp_path / "net.yaml").write_text(text)
    graph_file = tmp_path / "g.yaml"
    graph_file.write_text(
        "maskgraph: 1\nnodes:\n  plate: {type: constant, color: [0.5, 0.5, 0.5], width: 64,"
        " height: 64}\n  spot: {type: rectangle, box: [8, 8, 20, 20], like: plate}\n"
        "  clean: {type: inpaint, input: plate, mask: spot, method: model,\n"
        "          model: net.onnx}\n")
    with pytest.raises(MaskgraphError) as caught:
        load(str(graph_file))
    text = str(caught.value)
    assert message in text and "g.yaml:6:11" in text and "model" in text


def test_not_an_onnx_file_and_missing_model_param_are_load_errors(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"this is not a network")
    problems = inpaint.check({"method": "model", "model": str(tmp_path / "junk.onnx")}, set())
    assert problems[0][0] == "model" and "onnxruntime cannot load it" in problems[0][1]
    problems = inpaint.check({"method": "model", "model": None}, set())
    assert problems[0][0] == "model" and "needs model" in problems[0][1]
    problems = inpaint.check({"method": "patch", "model": str(tmp_path / "junk.onnx")}, set())
    assert "only used by method 'model'" in problems[0][1]
    problems = inpaint.check({"method": "model", "model": str(tmp_path / "nothing")}, set())
    assert "not found" in problems[0][1] and "model cache" in problems[0][1]


def test_wrong_output_shape_is_a_run_time_error_with_a_hint(tmp_path):
    save(mean_fill_graph((64, 64), nhwc_concat=True), tmp_path / "net.onnx")
    (tmp_path / "net.yaml").write_text("layout: nhwc\nmask_input: concat\noutput_index: 1\n")
    image = photo_rgba((64, 64))
    mask = np.zeros((64, 64), np.float32)
    mask[8:16, 8:16] = 1
    with pytest.raises(NodeInputError, match="no output 1"):
        run(image, mask, str(tmp_path / "net.yaml"))
