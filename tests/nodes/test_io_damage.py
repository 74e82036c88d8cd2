"""Damaged and oversized input files are errors, not silent pixels: a truncated JPEG, a
picture over the pixel budget (checked from the header, before decoding), a half-float
TIFF with NaN is readable (through tifffile), an unwritable destination is a placed error
with no temporary file left."""
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
import skimage.data

import graph
from graph.errors import NodeFailure


def run_read(tmp_path, picture, node="read"):
    (tmp_path / "g.yaml").write_text(
        f"maskgraph: 1\nnodes:\n  r: {{type: {node}, path: {picture}}}\n")
    return graph.load(str(tmp_path / "g.yaml")).evaluate(["r"], memory=None)["r"]


def test_truncated_jpeg_is_an_error(tmp_path):
    rgb = skimage.data.astronaut()
    cv2.imwrite(str(tmp_path / "full.jpg"), rgb[..., ::-1])
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 20])
    assert run_read(tmp_path, "full.jpg").shape == (512, 512, 4)
    with pytest.raises(NodeFailure, match="damaged"):
        run_read(tmp_path, "cut.jpg")


def png_header_only(width, height):
    """A PNG whose header claims width x height (its pixel data is missing)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(
        ">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize("node", ["read", "read_mask"])
def test_picture_over_the_pixel_budget_is_refused_from_its_header(tmp_path, node):
    (tmp_path / "huge.png").write_bytes(png_header_only(30000, 30000))
    with pytest.raises(NodeFailure, match="900000000 pixels, over the budget of 268435456"):
        run_read(tmp_path, "huge.png", node)


def test_pixel_budget_setting(tmp_path, monkeypatch):
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "small.jpg"), np.zeros((20, 30, 3), np.uint8))
    monkeypatch.setenv("MASKGRAPH_MAX_PIXELS", "599")
    for name in ("small.png", "small.jpg"):
        with pytest.raises(NodeFailure, match="30x20 = 600 pixels"):
            run_read(tmp_path, name)
    monkeypatch.setenv("MASKGRAPH_MAX_PIXELS", "600")
    assert run_read(tmp_path, "small.png").shape == (20, 30, 4)


def test_half_float_tiff_with_nan_is_read(tmp_path):
    tifffile = pytest.importorskip("tifffile", reason="needs pip install tifffile")
    values = np.full((4, 5, 3), 0.25, np.float16)
    values[1, 2, 0] = np.nan
    tifffile.imwrite(tmp_path / "half.tif", values, photometric="rgb")
    image = run_read(tmp_path, "half.tif")
    assert image.shape == (4, 5, 4)
    np.testing.assert_allclose(image[0, 0], [0.25, 0.25, 0.25, 1.0])
    assert np.isnan(image[1, 2, 0]) and np.isfinite(np.delete(image.ravel(), 1 * 20 + 2 * 4)).all()


@pytest.mark.parametrize("blocker", ["file", "readonly"])
def test_unwritable_destination_is_a_placed_error_without_leftovers(tmp_path, blocker):
    if blocker == "file":
        (tmp_path / "out").write_text("a file where a folder should be")
        target = "out/x.png"
    elif os.geteuid() == 0:  # root ignores mode bits; /proc takes no new files from anyone
        target = "/proc/self/x.png"
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        target = "ro/x.png"
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  c: {type: constant, width: 4, height: 4}\n"
        f"  w: {{type: write, input: c, path: {target}}}\n")
    with pytest.raises(NodeFailure, match=r"node 'w' \(write\) failed: cannot write .*x\.png"):
        graph.load(str(tmp_path / "g.yaml")).evaluate()
    leftovers = [name for _, _, names in os.walk(tmp_path) for name in names
                 if name.startswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("node", [
    "c: {type: constant, width: 100000, height: 100000}",
    "c: {type: ellipse, width: 100000, height: 100000, center: [1, 1], radius: [1, 1]}",
    "c: {type: resize, input: s, width: 100000, height: 100000}",
    "c: {type: extend, input: s, left: 100000, top: 100000}"])
def test_canvas_over_the_budget_is_refused_at_load(tmp_path, node):
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  s: {type: constant, width: 4, height: 4}\n"
        f"  {node}\n")
    with pytest.raises(graph.GraphError, match="over the budget of 268435456"):
        graph.load(str(tmp_path / "g.yaml"))


def test_resize_by_scale_over_the_budget_fails_before_allocating(tmp_path):
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  s: {type: constant, width: 4, height: 4}\n"
        "  c: {type: resize, input: s, scale: 10000}\n")
    with pytest.raises(NodeFailure, match="40000x40000"):
        graph.load(str(tmp_path / "g.yaml")).evaluate(["c"])


def test_bad_pixel_budget_setting_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from graph.cli import main
    cv2.imwrite(str(tmp_path / "p.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  r: {type: read, path: p.png}\n"
        "  w: {type: write, input: r, path: o.png}\n")
    monkeypatch.setenv("MASKGRAPH_MAX_PIXELS", "lots")
    assert main(["run", str(tmp_path / "g.yaml")]) in (1, 2)
    err = capsys.readouterr().err
    assert "MASKGRAPH_MAX_PIXELS='lots'" in err and "Traceback" not in err


# ------------------------------------------------------------------ the NaN rule

def image_with_nan():
    image = np.full((6, 6, 4), 0.5, np.float32)
    image[..., 3] = 1.0
    image[1, 1, 0] = np.nan
    image[2, 2, 1] = np.inf
    return image


@pytest.mark.parametrize("key", ["chroma_key", "luma_key", "color_range"])
def test_keys_never_create_nan(key):
    g = graph.load(f"maskgraph: 1\nnodes:\n  src: {{type: constant, width: 6, height: 6}}\n"
                   f"  k: {{type: {key}, input: src}}\n")
    mask = g.evaluate(["k"], feed={"src": image_with_nan()}, memory=None)["k"]
    assert np.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1


@pytest.mark.parametrize("extension,depth", [("png", "8"), ("png", "16"), ("jpg", "8")])
def test_integer_write_refuses_nan_and_inf_and_says_how_many(tmp_path, extension, depth):
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  src: {type: constant, width: 6, height: 6}\n"
        f"  w: {{type: write, input: src, path: out.{extension}, depth: '{depth}'}}\n")
    g = graph.load(str(tmp_path / "g.yaml"))
    with pytest.raises(NodeFailure, match="2 values are NaN or infinite"):
        g.evaluate(feed={"src": image_with_nan()}, memory=None)
    assert not (tmp_path / f"out.{extension}").exists()


def test_float_write_carries_nan(tmp_path):
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  src: {type: constant, width: 6, height: 6}\n"
        "  w: {type: write, input: src, path: out.tif, depth: float}\n")
    graph.load(str(tmp_path / "g.yaml")).evaluate(feed={"src": image_with_nan()}, memory=None)
    back = cv2.imread(str(tmp_path / "out.tif"), cv2.IMREAD_UNCHANGED)
    assert np.isnan(back).sum() == 1 and np.isinf(back).sum() == 1


def test_written_files_get_the_umask_permissions(tmp_path):
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  c: {type: constant, width: 4, height: 4}\n"
        "  w: {type: write, input: c, path: out/x.png}\n")
    old = os.umask(0o027)
    try:
        graph.load(str(tmp_path / "g.yaml")).evaluate()
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "out" / "x.png").st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path / "out") == ["x.png"]


def test_byte_damaged_pictures_fail_with_a_reason_never_a_raw_exception(tmp_path, capfd):
    """150 randomly damaged PNG/JPEG/TIFF/WebP files through read and read_mask: each is
    read or refused with maskgraph's own message (no IndexError etc.), and no codec
    prints on the terminal."""
    import random
    rng = random.Random(4)
    photo = skimage.data.astronaut()[::8, ::8, ::-1]
    seeds = {ext: cv2.imencode(ext, photo)[1].tobytes()
             for ext in (".png", ".jpg", ".tif", ".webp")}
    registry = graph.default_registry()
    raw = []
    for index in range(150):
        ext = rng.choice(list(seeds))
        data = bytearray(seeds[ext])
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[position] = rng.randrange(256)
            elif choice < 0.75:
                del data[position:position + rng.randint(1, 100)]
            else:
                data = data[:max(position, 1)]
        (tmp_path / f"case{ext}").write_bytes(bytes(data))
        node = rng.choice(["read", "read_mask"])
        g = graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: {node}, path: "
                       f"{tmp_path / ('case' + ext)}}}\n", registry=registry)
        try:
            g.evaluate(["r"], memory=None)
        except NodeFailure as error:
            if not isinstance(error.__cause__, graph.MaskgraphError):
                raw.append(f"{ext} {node}: {error}")
    assert raw == []
    assert capfd.readouterr().err == ""
