"""read / read_mask / write / constant, checked with independent readers and writers
(OpenCV, tifffile, OpenImageIO) and the sRGB formula of reference.md."""
import os

import cv2
import numpy as np
import pytest

import graph
from graph.errors import GraphError, NodeFailure
from nodes import io as io_nodes


def srgb_decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v):
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(np.maximum(v, 0), 1 / 2.4) - 0.055)


@pytest.fixture
def photo():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()[::4, ::4].copy()  # 128x128 RGB uint8, a real photo


def run_graph(text, outputs=None, **kwargs):
    return graph.load(text, **kwargs).evaluate(outputs, memory=None)


def test_read_8bit_png_decodes_srgb_to_linear_exactly(tmp_path, photo):
    cv2.imwrite(str(tmp_path / "p.png"), photo[:, :, ::-1])
    image = run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'p.png'}}}\n",
                      ["r"])["r"]
    assert image.shape == (128, 128, 4) and image.dtype == np.float32
    np.testing.assert_allclose(image[..., :3], srgb_decode(photo / 255.0), atol=1e-6)
    assert (image[..., 3] == 1).all()


def test_16bit_rgba_png_round_trips_exactly_and_stays_16bit(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 65536, (32, 48, 4), dtype=np.uint16)
    rgba[..., 3] = 65535  # opaque: no premultiplication loss
    cv2.imwrite(str(tmp_path / "in.png"), rgba)  # BGRA as OpenCV writes it
    text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'in.png'}}}\n"
            f"  w: {{type: write, input: r, path: {tmp_path / 'out.png'}, depth: 16}}\n")
    run_graph(text)
    back = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (32, 48, 4)
    np.testing.assert_array_equal(back, rgba)


def test_8bit_png_with_alpha_round_trips_where_alpha_is_nonzero(tmp_path):
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "in.png"), rgba)
    run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'in.png'}}}\n"
              f"  w: {{type: write, input: r, path: {tmp_path / 'out.png'}}}\n")
    back = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    visible = rgba[..., 3] > 0
    np.testing.assert_array_equal(back[visible], rgba[visible])


def test_read_premultiplies_straight_alpha(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[...] = (255, 128, 0, 128)  # B, G, R, A
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    image = run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'a.png'}}}\n",
                      ["r"])["r"]
    alpha = 128 / 255
    np.testing.assert_allclose(image[0, 0], [0, srgb_decode(128 / 255) * alpha, alpha, alpha],
                               atol=1e-6)


def test_tiff_16bit_written_is_read_by_openimageio(tmp_path, photo):
    oiio = pytest.importorskip("OpenImageIO")
    cv2.imwrite(str(tmp_path / "p.png"), photo[:, :, ::-1])
    run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'p.png'}}}\n"
              f"  w: {{type: write, input: r, path: {tmp_path / 'p.tif'}, depth: 16, channels: rgb}}\n")
    back = oiio.ImageBuf(str(tmp_path / "p.tif")).get_pixels(oiio.UINT16)
    assert back.dtype == np.uint16 and back.shape == (128, 128, 3)
    expected = np.rint(photo / 255.0 * 65535)  # the 8-bit codes, exactly re-encoded
    np.testing.assert_allclose(back, expected, atol=1)


def test_tiff_16bit_written_by_tifffile_is_read(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    codes = np.linspace(0, 65535, 64 * 3).astype(np.uint16).reshape(8, 8, 3)
    tifffile.imwrite(str(tmp_path / "t.tif"), codes, photometric="rgb")
    image = run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 't.tif'}}}\n",
                      ["r"])["r"]
    np.testing.assert_allclose(image[..., :3], srgb_decode(codes / 65535.0), atol=2e-6)


def test_written_png_is_read_identically_by_openimageio(tmp_path, photo):
    oiio = pytest.importorskip("OpenImageIO")
    cv2.imwrite(str(tmp_path / "p.png"), photo[:, :, ::-1])
    run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'p.png'}}}\n"
              f"  w: {{type: write, input: r, path: {tmp_path / 'o.png'}}}\n")
    pixels = oiio.ImageBuf(str(tmp_path / "o.png")).get_pixels(oiio.UINT8)
    np.testing.assert_array_equal(pixels[..., :3], photo)


def test_write_encodes_srgb_by_the_formula(tmp_path):
    linear = np.linspace(0, 1, 4096, dtype=np.float32)
    image = np.ones((1, 4096, 4), np.float32)
    image[0, :, :3] = linear[:, None]
    for depth, name, maximum in (("8", "a.png", 255), ("16", "b.png", 65535)):
        out = io_nodes.write.compute(image, path=str(tmp_path / name), colorspace="auto",
                                     depth=depth, channels="rgb", quality=95)
        assert out is image
        codes = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)[0, :, 0]
        expected = np.rint(srgb_encode(linear.astype(np.float64)) * maximum)
        np.testing.assert_array_equal(codes, expected)


def test_read_mask_uses_code_values_without_a_transfer_curve(tmp_path):
    gray = np.array([[0, 128, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "m.png"), gray)
    mask = run_graph(f"maskgraph: 1\nnodes:\n  m: {{type: read_mask, path: {tmp_path / 'm.png'}}}\n",
                     ["m"])["m"]
    np.testing.assert_allclose(mask, [[0, 128 / 255, 1]], atol=1e-7)


def test_read_mask_auto_takes_alpha_where_there_is_one(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 51
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    mask = run_graph(f"maskgraph: 1\nnodes:\n  m: {{type: read_mask, path: {tmp_path / 'a.png'}}}\n",
                     ["m"])["m"]
    np.testing.assert_allclose(mask, 0.2, atol=1e-7)


def test_mask_is_written_as_one_channel_of_its_values(tmp_path):
    text = (f"maskgraph: 1\nnodes:\n  p: {{type: constant, width: 3, height: 2, color: [1, 1, 1, 0.6]}}\n"
            f"  w: {{type: write, input: p, path: {tmp_path / 'a.png'}, channels: alpha}}\n")
    run_graph(text)
    back = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert back.shape == (2, 3) and (back == 153).all()


def test_missing_file_is_a_load_time_error_naming_the_node_and_line(tmp_path):
    with pytest.raises(GraphError, match=r"<string>:3:19: node 'r', 'path': no such file"):
        graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'nope.png'}}}\n")


def test_bad_write_depth_for_format_is_refused_at_load():
    with pytest.raises(GraphError, match=r"'depth': .jpg cannot store 16 bits"):
        graph.load("maskgraph: 1\nnodes:\n  c: {type: constant, width: 2, height: 2}\n"
                   "  w: {type: write, input: c, path: out.jpg, depth: 16}\n")


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def failing_imwrite(path, pixels, flags):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")
    monkeypatch.setattr(io_nodes.cv2, "imwrite", failing_imwrite)
    g = graph.load(f"maskgraph: 1\nnodes:\n  c: {{type: constant, width: 2, height: 2}}\n"
                   f"  w: {{type: write, input: c, path: {target}}}\n")
    with pytest.raises(NodeFailure, match="disk full"):
        g.evaluate(memory=None)
    assert os.listdir(tmp_path) == []


def test_sequence_paths_read_and_write_per_frame(tmp_path):
    for frame in (1, 2):
        cv2.imwrite(str(tmp_path / f"in.{frame:04d}.png"), np.full((2, 2, 3), frame * 100, np.uint8))
    g = graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path}/in.####.png}}\n"
                   f"  w: {{type: write, input: r, path: {tmp_path}/out.%04d.png}}\n")
    for frame in (1, 2):
        g.evaluate(frame=frame)
        back = cv2.imread(str(tmp_path / f"out.{frame:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert (back[..., :3] == frame * 100).all()


def test_constant_color_is_premultiplied_and_hex_is_srgb():
    image = run_graph("maskgraph: 1\nnodes:\n  c: {type: constant, width: 2, height: 1, "
                      "color: '#ff8000'}\n", ["c"])["c"]
    np.testing.assert_allclose(image[0, 0], [1.0, srgb_decode(128 / 255), 0, 1], atol=1e-6)


def test_exr_float_round_trip_checked_with_openimageio(tmp_path):
    pytest.importorskip("OpenEXR", reason="the optional extra maskgraph[exr] is not installed")
    oiio = pytest.importorskip("OpenImageIO")
    rng = np.random.default_rng(3)
    image = rng.random((6, 9, 4), dtype=np.float32) * 4  # HDR values survive
    image[..., :3] *= image[..., 3:4] / 4
    io_nodes.write.compute(image, path=str(tmp_path / "a.exr"), colorspace="auto",
                           depth="auto", channels="auto", quality=95)
    pixels = oiio.ImageBuf(str(tmp_path / "a.exr")).get_pixels(oiio.FLOAT)
    straight = image.copy()
    straight[..., :3] /= image[..., 3:4]  # the writer stores straight colour, like every format
    np.testing.assert_allclose(pixels, straight, rtol=1e-6)
    back = run_graph(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'a.exr'}, "
                     f"alpha: straight}}\n", ["r"])["r"]
    np.testing.assert_allclose(back, image, rtol=1e-5)


def _python(code: str):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=120)


def test_default_colour_never_imports_opencolorio_and_its_absence_is_a_clear_error():
    """OpenColorIO is an extra: a graph in the default working space reads and writes
    without it; a colour-managed graph says how to install it (simulated absence)."""
    code = ("import sys, numpy as np, graph\n"
            "sys.modules['PyOpenColorIO'] = None  # as if not installed\n"
            "g = graph.load('maskgraph: 1\\nnodes:\\n  c: {type: constant, width: 2, "
            "height: 2}\\n')\n"
            "g.evaluate(['c'])\n"
            "try:\n"
            "    graph.load('maskgraph: 1\\ncolour: {working: ACEScg}\\nnodes:\\n"
            "  c: {type: constant, width: 2, height: 2}\\n"
            "  cs: {type: colorspace, input: c, target: ACEScct}\\n')\n"
            "except graph.GraphError as error:\n"
            "    print(error)\n")
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "colour management needs OpenColorIO" in result.stdout
    assert "pip install 'maskgraph[colour]'" in result.stdout
