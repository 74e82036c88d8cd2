"""Colour management against OpenColorIO itself: colorspace, display_view, lut, and read /
write in any colour space of the config, each equal to PyOpenColorIO's own CPU processor
on the same (unpremultiplied) pixels within 1e-5."""
import os

import cv2
import numpy as np
import pytest

import graph
from graph.errors import GraphError

ocio = pytest.importorskip("PyOpenColorIO", reason="colour management needs opencolorio "
                                                   "(pip install 'maskgraph[colour]')")
OpenEXR = pytest.importorskip("OpenEXR", reason="EXR tests need OpenEXR")

CONFIG = ocio.Config.CreateFromFile("ocio://studio-config-latest")
# A dozen spaces: camera logs, ACES, display encodings, wide-gamut linears.
SPACES = ["ARRI LogC3 (EI800)", "ARRI LogC4", "S-Log3 S-Gamut3", "V-Log V-Gamut",
          "Log3G10 REDWideGamutRGB", "ACEScct", "ACES2065-1", "Linear Rec.2020",
          "Linear P3-D65", "sRGB Encoded Rec.709 (sRGB)", "Gamma 2.4 Encoded Rec.709",
          "DaVinci Intermediate WideGamut"]


def ocio_apply(straight_rgba, source, target):
    """PyOpenColorIO's default CPU processor on a copy of straight RGBA pixels."""
    out = np.ascontiguousarray(straight_rgba, np.float32).copy()
    CONFIG.getProcessor(source, target).getDefaultCPUProcessor().applyRGBA(out)
    return out


def premultiplied(straight):
    out = straight.copy()
    out[..., :3] *= out[..., 3:4]
    return out


@pytest.fixture(scope="module")
def picture():
    """A real photo (skimage astronaut, 300x260: big enough for the threaded path), linear,
    with a varying alpha (0.1..1) and a transparent corner; (straight, premultiplied)."""
    skimage_data = pytest.importorskip("skimage.data")
    photo = skimage_data.astronaut()[:260, :300].astype(np.float32) / 255
    straight = np.empty(photo.shape[:2] + (4,), np.float32)
    straight[..., :3] = photo ** 2.2 * 1.4  # some values above 1, as scene-linear has
    rows, columns = np.mgrid[0:260, 0:300]
    straight[..., 3] = 0.1 + 0.9 * columns / 299
    straight[:20, :20] = 0
    return straight, premultiplied(straight)


def run(text, outputs=None, **kwargs):
    return graph.load(text, **kwargs).evaluate(outputs, memory=None)


def feed_graph(body, working="ACEScg"):
    return (f"maskgraph: 1\ncolour: {{working: {working}}}\nnodes:\n"
            f"  src: {{type: constant, width: 4, height: 4}}\n{body}")


@pytest.mark.parametrize("space", SPACES)
def test_colorspace_from_acescg_equals_ocio(picture, space):
    straight, image = picture
    g = graph.load(feed_graph(f"  cs: {{type: colorspace, input: src, target: {space}}}\n"))
    ours = g.evaluate(["cs"], feed={"src": image}, memory=None)["cs"]
    expected = premultiplied(ocio_apply(straight, "ACEScg", space))
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(ours[..., 3], image[..., 3])  # alpha untouched
    assert (ours[:20, :20] == 0).all()  # transparent stays transparent


@pytest.mark.parametrize("space", ["ARRI LogC4", "S-Log3 S-Gamut3", "V-Log V-Gamut",
                                   "ARRI LogC3 (EI800)"])
def test_camera_log_to_working_equals_ocio(picture, space):
    straight, _ = picture
    log_straight = ocio_apply(straight, "ACEScg", space)  # a log plate made by OCIO
    log_straight[..., 3] = 1
    g = graph.load(feed_graph(f"  cs: {{type: colorspace, input: src, source: {space}}}\n"))
    ours = g.evaluate(["cs"], feed={"src": log_straight}, memory=None)["cs"]
    np.testing.assert_allclose(ours, ocio_apply(log_straight, space, "ACEScg"), atol=1e-5,
                               rtol=1e-5)
    np.testing.assert_allclose(ours[..., :3], straight[..., :3], atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("space", ["Gamma 2.4 Encoded Rec.709", "ARRI LogC4"])
def test_opaque_pictures_keep_alpha_exactly_one(picture, space):
    """OCIO's exponent ops touch alpha (1 -> 1.000012): maskgraph puts it back."""
    straight = picture[0].copy()
    straight[..., 3] = 1
    g = graph.load(feed_graph(f"  cs: {{type: colorspace, input: src, target: {space}}}\n"))
    ours = g.evaluate(["cs"], feed={"src": straight}, memory=None)["cs"]
    assert (ours[..., 3] == 1).all()
    np.testing.assert_allclose(ours[..., :3], ocio_apply(straight, "ACEScg", space)[..., :3],
                               atol=1e-5, rtol=1e-5)


def test_matrix_only_transform_takes_the_matrix_kernel_and_equals_ocio(picture):
    from nodes import ocio as ours_ocio
    straight, image = picture
    assert ours_ocio.conversion(None, "ACEScg", "lin_rec2020").matrix is not None
    assert ours_ocio.conversion(None, "ACEScg", "ARRI LogC4").matrix is None
    g = graph.load(feed_graph("  cs: {type: colorspace, input: src, target: lin_rec2020}\n"))
    result = g.evaluate(["cs"], feed={"src": image}, memory=None)["cs"]
    np.testing.assert_allclose(result, premultiplied(ocio_apply(straight, "ACEScg",
                                                                "Linear Rec.2020")),
                               atol=1e-5, rtol=1e-5)


def test_read_log_exr_into_acescg_and_write_slog3_equal_ocio(tmp_path, picture):
    straight, _ = picture
    opaque = straight.copy()
    opaque[..., 3] = 1
    plate = ocio_apply(opaque, "ACEScg", "ARRI LogC4")
    OpenEXR.File({"type": OpenEXR.scanlineimage},
                 {"RGBA": np.ascontiguousarray(plate)}).write(str(tmp_path / "plate.exr"))
    text = feed_graph(f"  r: {{type: read, path: {tmp_path / 'plate.exr'}, "
                      f"colorspace: ARRI LogC4}}\n"
                      f"  w: {{type: write, input: r, path: {tmp_path / 'out.exr'}, "
                      f"colorspace: S-Log3 S-Gamut3}}\n")
    results = graph.load(text).run(memory=None).results
    read_back = results["w"]
    np.testing.assert_allclose(read_back, ocio_apply(plate, "ARRI LogC4", "ACEScg"),
                               atol=1e-5, rtol=1e-5)
    with OpenEXR.File(str(tmp_path / "out.exr")) as exr:
        written = np.asarray(exr.channels()["RGBA"].pixels, np.float32)
    expected = ocio_apply(ocio_apply(plate, "ARRI LogC4", "ACEScg"), "ACEScg",
                          "S-Log3 S-Gamut3")
    np.testing.assert_allclose(written, expected, atol=1e-5, rtol=1e-5)


def test_srgb_png_read_in_acescg_and_written_back_equal_ocio(tmp_path, picture):
    codes = (np.clip(picture[0][..., :3], 0, 1) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "p.png"), codes[..., ::-1])
    text = feed_graph(f"  r: {{type: read, path: {tmp_path / 'p.png'}}}\n"
                      f"  w: {{type: write, input: r, path: {tmp_path / 'o.png'}}}\n")
    image = run(text, ["r"])["r"]
    rgba = np.dstack([codes / np.float32(255), np.ones(codes.shape[:2], np.float32)])
    np.testing.assert_allclose(image, ocio_apply(rgba, "srgb_tx", "ACEScg"), atol=1e-5)
    run(text)
    back = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)[..., [2, 1, 0]]
    assert np.abs(back.astype(int) - codes).max() <= 1  # round trip through ACEScg


def test_default_aliases_agree_with_ocio_and_need_no_config(tmp_path, picture):
    """Today's srgb decoding (maskgraph's own kernel) is OCIO's sRGB texture space."""
    codes = (np.clip(picture[0][..., :3], 0, 1) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "p.png"), codes[..., ::-1])
    image = run(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: {tmp_path / 'p.png'}}}\n",
                ["r"])["r"]
    rgba = np.dstack([codes / np.float32(255), np.ones(codes.shape[:2], np.float32)])
    # OCIO's default processor approximates pow (~2e-5); its lossless one is exact, as ours.
    exact = CONFIG.getProcessor("srgb_tx", "lin_rec709").getOptimizedCPUProcessor(
        ocio.OptimizationFlags.OPTIMIZATION_LOSSLESS)
    expected = np.ascontiguousarray(rgba, np.float32)
    exact.applyRGBA(expected)
    np.testing.assert_allclose(image, expected, atol=1e-5)


def test_display_view_equals_ocio_display_view_transform(picture):
    straight, image = picture
    view = "ACES 2.0 - SDR 100 nits (Rec.709)"
    g = graph.load(feed_graph(f"  dv: {{type: display_view, input: src, "
                              f"display: sRGB - Display, view: {view}}}\n"))
    ours = g.evaluate(["dv"], feed={"src": image}, memory=None)["dv"]
    transform = ocio.DisplayViewTransform(src="ACEScg", display="sRGB - Display", view=view)
    expected = straight.copy()
    CONFIG.getProcessor(transform).getDefaultCPUProcessor().applyRGBA(expected)
    np.testing.assert_allclose(ours, premultiplied(expected), atol=1e-5, rtol=1e-5)


def write_cube(path, size=5):
    """A small 3D .cube LUT: a warm, contrasty curve (r fastest, as the format says)."""
    lines = ["TITLE \"test\"", f"LUT_3D_SIZE {size}"]
    steps = np.linspace(0, 1, size)
    for b in steps:
        for g in steps:
            for r in steps:
                lines.append(f"{min(1, r ** 0.8 * 1.05):.6f} {g ** 1.1:.6f} "
                             f"{b ** 1.3 * 0.9:.6f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_cube_lut_equals_ocio_file_transform(tmp_path, picture, direction):
    straight, image = picture
    cube = write_cube(tmp_path / "look.cube")
    image = np.clip(image, 0, 1)
    straight = np.clip(straight, 0, 1)
    g = graph.load(f"maskgraph: 1\nnodes:\n  src: {{type: constant, width: 4, height: 4}}\n"
                   f"  l: {{type: lut, input: src, file: {cube}, direction: {direction}}}\n")
    ours = g.evaluate(["l"], feed={"src": image}, memory=None)["l"]
    transform = ocio.FileTransform(src=str(cube), interpolation=ocio.INTERP_BEST,
                                   direction=ocio.TRANSFORM_DIR_FORWARD if direction ==
                                   "forward" else ocio.TRANSFORM_DIR_INVERSE)
    expected = np.ascontiguousarray(straight).copy()
    CONFIG.getProcessor(transform).getDefaultCPUProcessor().applyRGBA(expected)
    np.testing.assert_allclose(ours, premultiplied(expected), atol=1e-5)


def test_working_space_enters_the_cache_key(tmp_path):
    text = ("maskgraph: 1\ncolour: {working: WS}\nnodes:\n"
            "  c: {type: constant, width: 2, height: 2, color: [0.5, 0.2, 0.1]}\n"
            "  cs: {type: colorspace, input: c, target: ACEScct}\n")
    first = graph.load(text.replace("WS", "ACEScg")).evaluate(["cs"])["cs"]
    second = graph.load(text.replace("WS", "lin_rec709")).evaluate(["cs"])["cs"]
    assert not np.allclose(first, second)


def test_round_trip_keeps_the_colour_header():
    text = feed_graph("  cs: {type: colorspace, input: src, target: ACEScct}\n")
    g = graph.load(text)
    again = graph.load(g.to_yaml())
    assert again == g and again.settings == {"colour.working": "ACEScg"}


# ------------------------------------------------------------------ bad input

def load_problems(text):
    with pytest.raises(GraphError) as caught:
        graph.load(text)
    return str(caught.value)


@pytest.mark.parametrize("body,expected", [
    ("  cs: {type: colorspace, input: src, target: ACEScgg}\n",
     ["4:38", "'target'", "unknown colour space 'ACEScgg'", "did you mean 'ACEScg'"]),
    ("  r: {type: read, path: plate.png, colorspace: 'ARRI LogC5'}\n",
     ["unknown colour space 'ARRI LogC5'", "'ARRI LogC4'"]),
    ("  dv: {type: display_view, input: src, view: Filmic}\n",
     ["'view'", "unknown view 'Filmic'", "ACES 2.0 - SDR 100 nits (Rec.709)"]),
    ("  dv: {type: display_view, input: src, display: sRGB}\n",
     ["'display'", "unknown display 'sRGB'", "sRGB - Display"]),
    ("  l: {type: lut, input: src, file: missing.cube}\n", ["'file'", "no such LUT file"]),
    ("  cs: {type: colorspace, input: src, target: ACEScct, working: ACEScg}\n",
     ["'working' is a graph setting", "colour: {working: ...}"]),
])
def test_bad_names_are_placed_with_what_exists(body, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cv2.imwrite("plate.png", np.zeros((2, 2, 3), np.uint8))
    text = ("maskgraph: 1\nnodes:\n  src: {type: constant, width: 4, height: 4}\n" + body)
    message = load_problems(text)
    for part in expected:
        assert part in message, message


def test_bad_working_space_is_reported_once_at_the_header():
    text = feed_graph("  a: {type: colorspace, input: src, target: ACEScct}\n"
                      "  b: {type: colorspace, input: src, target: ACEScc}\n", "ACES_cg")
    message = load_problems(text)
    assert message.count("unknown colour space 'ACES_cg'") == 1
    assert "<string>:2:" in message and "'colour.working'" in message


def test_header_section_is_checked():
    message = load_problems("maskgraph: 1\ncolour: {workng: ACEScg, confg: x}\nnodes: {}\n")
    assert "unknown setting 'workng'" in message and "did you mean 'working'" in message
    message = load_problems("maskgraph: 1\ncolour: ACEScg\nnodes: {}\n")
    assert "'colour' must be a mapping" in message
    message = load_problems("maskgraph: 1\ncolor: {working: ACEScg}\nnodes: {}\n")
    assert "did you mean 'colour'" in message


def test_config_that_fails_to_load_lists_the_builtin_configs(tmp_path):
    broken = tmp_path / "broken.ocio"
    broken.write_text("ocio_profile_version: 2\nroles: {scene_linear: nothing}\n"
                      "colorspaces: [5\n")
    for config in [str(broken), str(tmp_path / "absent.ocio"), "ocio://no-such-config"]:
        text = feed_graph("  cs: {type: colorspace, input: src, target: ACEScct}\n")
        message = load_problems(text.replace("colour: {", f"colour: {{config: '{config}', "))
        assert "'colour.config'" in message and "ocio://studio-config-latest" in message, \
            message


def test_ocio_environment_variable_chooses_the_config(tmp_path, monkeypatch):
    config = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    path = tmp_path / "cg.ocio"
    path.write_text(config.serialize())
    monkeypatch.setenv("OCIO", str(path))
    g = graph.load(feed_graph("  cs: {type: colorspace, input: src, target: ACEScct}\n"))
    assert g.nodes["cs"].values["config"] == str(path)
    message = load_problems(feed_graph("  cs: {type: colorspace, input: src, "
                                       "target: 'ARRI LogC4'}\n"))
    assert "unknown colour space 'ARRI LogC4'" in message  # the CG config has no camera logs


def test_malformed_lut_is_a_placed_error(tmp_path):
    bad = tmp_path / "bad.cube"
    bad.write_text("LUT_3D_SIZE 3\n0 0 0\n1 1\n")
    message = load_problems(f"maskgraph: 1\nnodes:\n  src: {{type: constant, width: 4, "
                            f"height: 4}}\n  l: {{type: lut, input: src, file: {bad}}}\n")
    assert "4:30" in message and "'file'" in message and "cannot use the LUT" in message
    (tmp_path / "x.png").write_bytes(b"")
    message = load_problems(f"maskgraph: 1\nnodes:\n  src: {{type: constant, width: 4, "
                            f"height: 4}}\n  l: {{type: lut, input: src, "
                            f"file: {tmp_path / 'x.png'}}}\n")
    assert "does not read '.png' LUTs" in message and ".cube" in message


def test_a_mask_is_not_colour_managed(tmp_path):
    text = (f"maskgraph: 1\nnodes:\n  m: {{type: rectangle, width: 4, height: 4, "
            f"box: [0, 0, 2, 2]}}\n  w: {{type: write, input: m, "
            f"path: {tmp_path / 'm.png'}, colorspace: ACEScct}}\n")
    with pytest.raises(graph.NodeFailure, match="a mask is data"):
        run(text)


def test_the_log_plate_example_renders_the_done_when_story(tmp_path):
    """LogC4 plate -> key in ACEScg -> sRGB view PNG + layered EXR with the matte."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    g = graph.load(os.path.join(root, "graphs_examples", "log_plate_aces.yaml"))
    for node in g.nodes.values():  # write into the test's folder, not the repo
        if node.type in ("write", "write_layers"):
            node.params["path"] = str(tmp_path / os.path.basename(node.values["path"]))
    results = g.evaluate(memory=None)
    view = cv2.imread(str(tmp_path / "log_plate_view.png"), cv2.IMREAD_UNCHANGED)
    assert view.shape == (384, 384, 4) and 40 < view[..., :3].mean() < 200
    with OpenEXR.File(str(tmp_path / "log_plate_comp.exr"), separate_channels=True) as exr:
        channels = exr.channels()
        assert sorted(channels) == ["beauty.A", "beauty.B", "beauty.G", "beauty.R", "matte.Y"]
        assert channels["matte.Y"].pixels.dtype == np.float32
        np.testing.assert_array_equal(channels["beauty.R"].pixels,
                                      results["write_layers"][..., 0].astype(np.float16))
        matte = np.array(channels["matte.Y"].pixels)
    assert 0.2 < matte.mean() < 0.8 and matte.min() == 0 and matte.max() == 1


@pytest.mark.parametrize("space", ["ACEScct", "S-Log3 S-Gamut3.Cine", "V-Log V-Gamut",
                                   "ARRI LogC3 (EI800)", "Linear P3-D65",
                                   "Gamma 2.2 Encoded AP1"])
def test_read_and_write_any_space_equal_ocio(tmp_path, picture, space):
    """A small EXR in `space` read into ACEScg, then written back out in `space`."""
    encoded = np.ascontiguousarray(picture[0][100:140, 100:160]).copy()
    encoded[..., 3] = 1
    encoded = ocio_apply(encoded, "ACEScg", space)
    encoded[..., 3] = 1  # OCIO's exponent ops nudge alpha; a file's alpha is exactly 1
    OpenEXR.File({"type": OpenEXR.scanlineimage},
                 {"RGBA": encoded}).write(str(tmp_path / "in.exr"))
    text = feed_graph(f"  r: {{type: read, path: {tmp_path / 'in.exr'}, colorspace: {space}}}\n"
                      f"  w: {{type: write, input: r, path: {tmp_path / 'out.exr'}, "
                      f"colorspace: {space}}}\n")
    image = graph.load(text).evaluate(memory=None)["w"]
    expected = ocio_apply(encoded, space, "ACEScg")
    np.testing.assert_allclose(image[..., :3], expected[..., :3], atol=1e-5, rtol=1e-5)
    assert (image[..., 3] == 1).all()
    with OpenEXR.File(str(tmp_path / "out.exr")) as exr:
        written = np.array(exr.channels()["RGBA"].pixels, np.float32)
    expected[..., 3] = 1
    np.testing.assert_allclose(written[..., :3], ocio_apply(expected, "ACEScg", space)[..., :3],
                               atol=1e-5, rtol=1e-5)


def test_display_view_auto_is_the_configs_default_display_and_view(picture):
    straight, image = picture
    g = graph.load(feed_graph("  dv: {type: display_view, input: src}\n"))
    ours = g.evaluate(["dv"], feed={"src": image}, memory=None)["dv"]
    display = CONFIG.getDefaultDisplay()
    transform = ocio.DisplayViewTransform(src="ACEScg", display=display,
                                          view=CONFIG.getDefaultView(display))
    expected = straight.copy()
    CONFIG.getProcessor(transform).getDefaultCPUProcessor().applyRGBA(expected)
    np.testing.assert_allclose(ours, premultiplied(expected), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("interpolation", ["linear", "tetrahedral", "nearest"])
def test_lut_interpolation_equals_ocio(tmp_path, picture, interpolation):
    cube = write_cube(tmp_path / "look.cube", size=4)
    straight = np.clip(picture[0][:64, :64], 0, 1)
    straight[..., 3] = 1
    g = graph.load(f"maskgraph: 1\nnodes:\n  src: {{type: constant, width: 4, height: 4}}\n"
                   f"  l: {{type: lut, input: src, file: {cube}, "
                   f"interpolation: {interpolation}}}\n")
    ours = g.evaluate(["l"], feed={"src": straight}, memory=None)["l"]
    transform = ocio.FileTransform(src=str(cube), direction=ocio.TRANSFORM_DIR_FORWARD,
                                   interpolation=getattr(ocio, f"INTERP_{interpolation.upper()}"))
    expected = np.ascontiguousarray(straight).copy()
    CONFIG.getProcessor(transform).getDefaultCPUProcessor().applyRGBA(expected)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_a_template_follows_the_header_of_the_graph_that_uses_it(tmp_path):
    (tmp_path / "to_log.yaml").write_text(
        "maskgraph: 1\ninputs:\n  image: image\noutputs: {result: cs}\n"
        "nodes:\n  cs: {type: colorspace, input: image, target: ACEScct}\n")
    text = ("maskgraph: 1\ncolour: {working: WS}\nnodes:\n"
            "  c: {type: constant, width: 2, height: 2, color: [0.5, 0.2, 0.1]}\n"
            f"  t: {{type: template, file: {tmp_path / 'to_log.yaml'}, image: c}}\n")
    for working in ("ACEScg", "lin_rec709"):
        g = graph.load(text.replace("WS", working))
        assert g.nodes["t/cs"].values["working"] == working
        value = g.evaluate(["t"], memory=None)["t"][0, 0]
        expected = ocio_apply(np.array([[0.5, 0.2, 0.1, 1]], np.float32), working, "ACEScct")
        np.testing.assert_allclose(value, expected[0], atol=1e-5)


def test_a_forked_child_converts_too(picture):
    """The band threads belong to one process: a forked worker makes its own."""
    import multiprocessing
    from nodes import ocio as ours_ocio
    straight, image = picture
    convert = ours_ocio.conversion(None, "ACEScg", "ARRI LogC4")
    parent = ours_ocio.apply(image, convert)  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply(_convert_in_child, (image,))
    np.testing.assert_array_equal(result, parent)


def _convert_in_child(image):
    from nodes import ocio as ours_ocio
    return ours_ocio.apply(image, ours_ocio.conversion(None, "ACEScg", "ARRI LogC4"))


def test_an_edited_lut_file_is_read_again(tmp_path):
    cube = tmp_path / "look.cube"
    text = (f"maskgraph: 1\nnodes:\n  c: {{type: constant, width: 2, height: 2, "
            f"color: [0.5, 0.5, 0.5]}}\n  l: {{type: lut, input: c, file: {cube}}}\n")
    cube.write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")
    first = graph.load(text).evaluate(["l"])["l"][0, 0]
    cube.write_text("LUT_1D_SIZE 2\n0 0 0\n0.5 0.5 0.5\n")
    os.utime(cube, ns=(os.stat(cube).st_mtime_ns + 10**9,) * 2)
    second = graph.load(text).evaluate(["l"])["l"][0, 0]
    np.testing.assert_allclose(first[:3], 0.5, atol=1e-6)
    np.testing.assert_allclose(second[:3], 0.25, atol=1e-6)
