"""Layered OpenEXR, checked with OpenImageIO: maskgraph's write_layers opens in OIIO with the
right channel names, types and values; an OIIO-written layered file reads layer by layer."""
import numpy as np
import pytest

import graph
from graph.errors import GraphError, NodeFailure

oiio = pytest.importorskip("OpenImageIO", reason="the EXR layer tests read with OpenImageIO")
pytest.importorskip("OpenEXR", reason="layered EXR needs OpenEXR (pip install 'maskgraph[exr]')")


@pytest.fixture(scope="module")
def plate():
    """A real photo (skimage coffee, 64x96) as linear premultiplied RGBA, varying alpha."""
    skimage_data = pytest.importorskip("skimage.data")
    photo = skimage_data.coffee()[::6, ::6][:64, :96].astype(np.float32) / 255
    image = np.empty(photo.shape[:2] + (4,), np.float32)
    image[..., 3] = np.linspace(0.2, 1, photo.shape[1], dtype=np.float32)
    image[..., :3] = photo ** 2.2 * image[..., 3:4]
    return image


def read_oiio(path):
    source = oiio.ImageInput.open(str(path))
    spec = source.spec()
    pixels = source.read_image(0, 0, 0, spec.nchannels, "float")
    compression = spec.get_string_attribute("compression")
    source.close()
    return list(spec.channelnames), [str(t) for t in spec.channelformats], pixels, compression


def test_write_layers_opens_in_openimageio_with_names_types_and_values(tmp_path, plate):
    g = graph.load(f"""maskgraph: 1
nodes:
  beauty: {{type: constant, width: 4, height: 4}}
  key: {{type: luma_key, input: beauty, low: 0.1, high: 1}}
  junk: {{type: rectangle, width: 96, height: 64, box: [0, 0, 20, 64]}}
  out: {{type: write_layers, path: {tmp_path / 'shot.exr'}, compression: piz,
         layers: {{beauty: beauty, key: key, garbage: junk}}, depth: {{key: float}}}}
""")
    results = g.run(feed={"beauty": plate}, memory=None)
    key = g.evaluate(["key"], feed={"beauty": plate})["key"]
    junk = g.evaluate(["junk"])["junk"]
    names, types, pixels, compression = read_oiio(tmp_path / "shot.exr")
    # EXR stores channels sorted by name; OIIO lists each layer as R, G, B, A
    assert names == ["beauty.R", "beauty.G", "beauty.B", "beauty.A", "garbage.Y", "key.Y"]
    assert types == ["half"] * 4 + ["half", "float"]
    assert compression == "piz"
    np.testing.assert_array_equal(pixels[..., :4], plate.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(pixels[..., 5], key)  # float: bit for bit
    np.testing.assert_array_equal(pixels[..., 4], junk.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(results.results["out"], plate)


def write_oiio_layered(path, plate):
    """diffuse.RGBA, spec.RGB, matte.A, written by OpenImageIO (not by maskgraph)."""
    height, width = plate.shape[:2]
    names = ["diffuse.R", "diffuse.G", "diffuse.B", "diffuse.A",
             "spec.R", "spec.G", "spec.B", "matte.A"]
    spec = oiio.ImageSpec(width, height, len(names), "float")
    spec.channelnames = tuple(names)
    spec.alpha_channel = 3
    data = np.zeros((height, width, len(names)), np.float32)
    data[..., :4] = plate
    data[..., 4:7] = plate[..., :3] * 0.25
    data[..., 7] = np.linspace(0, 1, width, dtype=np.float32)
    output = oiio.ImageOutput.create(str(path))
    output.open(str(path), spec)
    output.write_image(data)
    output.close()
    return data


def test_an_openimageio_layered_exr_reads_layer_by_layer(tmp_path, plate):
    path = tmp_path / "render.exr"
    data = write_oiio_layered(path, plate)
    g = graph.load(f"""maskgraph: 1
nodes:
  diffuse: {{type: read, path: {path}, layer: diffuse}}
  spec:    {{type: read, path: {path}, layer: spec}}
  matte:   {{type: read_mask, path: {path}, channel: matte.A}}
  alpha:   {{type: read_mask, path: {path}, channel: diffuse.A}}
  single:  {{type: read, path: {path}, layer: matte.A}}
""")
    out = g.evaluate(["diffuse", "spec", "matte", "alpha", "single"], memory=None)
    np.testing.assert_array_equal(out["diffuse"], data[..., :4])
    np.testing.assert_array_equal(out["spec"][..., :3], data[..., 4:7])
    assert (out["spec"][..., 3] == 1).all()
    np.testing.assert_array_equal(out["matte"], data[..., 7])
    np.testing.assert_array_equal(out["alpha"], data[..., 3])
    for channel in range(3):  # one channel read as an image: grey, opaque
        np.testing.assert_array_equal(out["single"][..., channel], data[..., 7])


def test_masks_round_trip_through_write_layers_and_read_mask(tmp_path, plate):
    text = f"""maskgraph: 1
nodes:
  a: {{type: ellipse, width: 40, height: 30, center: [20, 15], radius: [12, 9]}}
  b: {{type: rectangle, width: 40, height: 30, box: [5, 5, 30, 25], feather: 4}}
  out: {{type: write_layers, path: {tmp_path / 'mattes.exr'}, layers: {{hero: a, bg: b}},
         depth: float}}
"""
    first = graph.load(text).evaluate(["out", "a"], memory=None)
    back = graph.load(f"maskgraph: 1\nnodes:\n  hero: {{type: read_mask, "
                      f"path: {tmp_path / 'mattes.exr'}, channel: hero}}\n").evaluate(
        ["hero"], memory=None)["hero"]
    np.testing.assert_array_equal(back, first["a"])


def test_builder_takes_a_mapping_and_round_trips(tmp_path):
    g = graph.Graph()
    a = g.rectangle(width=8, height=8, box=[0, 0, 4, 4])
    b = g.constant(width=8, height=8)
    g.write_layers(layers={"matte": a, "plate": b}, path=str(tmp_path / "x.exr"),
                   name="out")
    assert g.nodes["out"].values["names"] == ["matte", "plate"]
    assert graph.load(g.to_yaml()) == g
    g.evaluate()
    assert read_oiio(tmp_path / "x.exr")[0] == ["matte.Y", "plate.R", "plate.G", "plate.B",
                                                  "plate.A"]


# ------------------------------------------------------------------ bad input

def problems(text):
    with pytest.raises(GraphError) as caught:
        graph.load(text)
    return str(caught.value)


def test_a_layer_that_does_not_exist_lists_the_layers(tmp_path, plate):
    path = tmp_path / "render.exr"
    write_oiio_layered(path, plate)
    message = problems(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {path}, "
                       f"layer: difuse}}\n")
    assert "3:" in message and "'layer'" in message and "did you mean 'diffuse'" in message
    assert "diffuse (R, G, B, A), matte (A), spec (R, G, B)" in message
    message = problems(f"maskgraph: 1\nnodes:\n  r: {{type: read_mask, path: {path}, "
                       f"channel: mate.A}}\n")
    assert "'channel'" in message and "'matte.A'" in message
    message = problems(f"maskgraph: 1\nnodes:\n  r: {{type: read_mask, path: {path}, "
                       f"channel: diffuse}}\n")
    assert "several channels (R, G, B, A)" in message and "e.g. diffuse.A" in message
    with pytest.raises(NodeFailure, match="no main layer"):
        graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {path}}}\n").evaluate(
            ["r"], memory=None)


def test_layer_and_channel_names_outside_exr_are_refused(tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / "p.png"), np.zeros((4, 4, 3), np.uint8))
    assert "only OpenEXR files have layers" in problems(
        f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'p.png'}, layer: a}}\n")
    message = problems(f"maskgraph: 1\nnodes:\n  r: {{type: read_mask, "
                       f"path: {tmp_path / 'p.png'}, channel: matte.A}}\n")
    assert "auto, red, green, blue, alpha, luma" in message


def test_write_layers_bad_settings_are_placed(tmp_path):
    head = ("maskgraph: 1\nnodes:\n  a: {type: rectangle, width: 4, height: 4, "
            "box: [0, 0, 2, 2]}\n")
    message = problems(head + f"  w: {{type: write_layers, path: {tmp_path / 'x.png'}, "
                              "layers: {a: a}}\n")
    assert "'path'" in message and "name it .exr" in message
    message = problems(head + f"  w: {{type: write_layers, path: {tmp_path / 'x.exr'}, "
                              "layers: {key: a}, depth: {kye: float}}\n")
    assert "no layer 'kye'" in message and "did you mean 'key'" in message
    message = problems(head + f"  w: {{type: write_layers, path: {tmp_path / 'x.exr'}, "
                              "layers: {a: a}, depth: double}\n")
    assert "expected half or float" in message
    message = problems(head + f"  w: {{type: write_layers, path: {tmp_path / 'x.exr'}, "
                              "layers: [a, a], names: [k]}\n")
    assert "'names' has 1 names for 2 nodes" in message
    message = problems(head + f"  w: {{type: write_layers, path: {tmp_path / 'x.exr'}, "
                              "layers: {a.b: a}}\n")
    assert "'a.b' cannot be a layer name" in message
    message = problems(head + f"  w: {{type: write_layers, path: {tmp_path / 'x.exr'}, "
                              "layers: {k: a}, compression: zipp}\n")
    assert "did you mean 'zip'" in message


def test_layers_of_different_sizes_fail_without_writing(tmp_path):
    text = (f"maskgraph: 1\nnodes:\n  a: {{type: constant, width: 4, height: 4}}\n"
            f"  b: {{type: constant, width: 5, height: 4}}\n"
            f"  w: {{type: write_layers, path: {tmp_path / 'x.exr'}, layers: {{a: a, b: b}}}}\n")
    with pytest.raises(NodeFailure, match="layer sizes differ"):
        graph.load(text).evaluate(memory=None)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_exr_is_a_placed_error_not_a_traceback(tmp_path):
    damaged = tmp_path / "bad.exr"
    damaged.write_bytes(b"v/1\x01" + b"\x00" * 40)
    for text in [f"  r: {{type: read, path: {damaged}, layer: beauty}}\n",
                 f"  r: {{type: read_mask, path: {damaged}, channel: key}}\n"]:
        message = problems("maskgraph: 1\nnodes:\n" + text)
        assert "cannot read" in message and "as OpenEXR" in message
    with pytest.raises(NodeFailure, match="as OpenEXR"):
        graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {damaged}}}\n").evaluate(
            ["r"], memory=None)


def test_a_bounding_box_data_window_is_placed_in_the_display_window(tmp_path):
    """Nuke writes a layer's bounding box as a smaller data window (here by OIIO)."""
    spec = oiio.ImageSpec(4, 3, 4, "float")
    spec.channelnames = ("fx.R", "fx.G", "fx.B", "fx.A")
    spec.x, spec.y, spec.full_x, spec.full_y = 2, 1, 0, 0
    spec.full_width, spec.full_height = 8, 6
    data = np.arange(48, dtype=np.float32).reshape(3, 4, 4) / 48
    output = oiio.ImageOutput.create(str(tmp_path / "bbox.exr"))
    output.open(str(tmp_path / "bbox.exr"), spec)
    output.write_image(data)
    output.close()
    path = tmp_path / "bbox.exr"
    out = graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {path}, layer: fx}}\n"
                     f"  m: {{type: read_mask, path: {path}, channel: fx.A}}\n").evaluate(
        ["r", "m"], memory=None)
    expected = np.zeros((6, 8, 4), np.float32)
    expected[1:4, 2:6] = data
    np.testing.assert_array_equal(out["r"], expected)
    np.testing.assert_array_equal(out["m"], expected[..., 3])
