"""Video read/write through `read` and `write`, checked against PyAV's own decode."""
import os

import cv2
import numpy as np
import pytest

import graph
from graph.errors import GraphError, NodeFailure
from nodes import video

av = pytest.importorskip("av", reason="video tests need PyAV (extra maskgraph[video])")

FRAMES = 12


def srgb_decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v):
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(np.maximum(v, 0), 1 / 2.4) - 0.055)


def moving_photo(count=FRAMES, size=(96, 128)):
    """`count` frames of a real photo panning by 2 px per frame, (H, W, 3) uint8 RGB."""
    photo = pytest.importorskip("skimage.data").astronaut()[::2, ::2]
    rows, columns = size
    return [np.ascontiguousarray(photo[40:40 + rows, 20 + 2 * i:20 + 2 * i + columns])
            for i in range(count)]


def encode_clip(path, frames, codec="libx264", pix_fmt="yuv420p", options=None):
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        stream.options = options or {"crf": "12"}
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    encode_clip(path, moving_photo())
    return path


def pyav_frames(path):
    """Every frame as PyAV decodes it, converted to RGB with the Rec.709 matrix (swscale,
    bilinear chroma, full-range output)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24", src_colorspace="ITU709",
                                 dst_colorspace="ITU709", interpolation="BILINEAR",
                                 src_color_range=frame.color_range or 1,
                                 dst_color_range="JPEG")
                for frame in container.decode(video=0)]


def read_graph(path, first_frame=1):
    return graph.load(f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{path}', "
                      f"first_frame: {first_frame}}}\n")


def test_frames_read_equal_pyav_decode_and_hold_outside_the_clip(clip):
    reference = pyav_frames(clip)
    assert len(reference) == FRAMES
    g = read_graph(clip, first_frame=3)
    for frame in [1, 2, 3, 4, 7, 5, 14, 15, 40]:  # in and out of order, before and after
        image = g.evaluate(["r"], frame=frame, memory=None)["r"]
        index = min(max(frame - 3, 0), FRAMES - 1)
        np.testing.assert_allclose(image[..., :3], srgb_decode(reference[index] / 255.0),
                                   atol=1e-6)
        assert (image[..., 3] == 1).all()


def test_read_mask_of_a_video_equals_pyav_decode_per_channel(clip):
    """read_mask of a video reads the frame `read` reads: each channel's codes / 255 of
    PyAV's own decode, luma their Rec.709 weighting; first_frame shifts, outside holds."""
    reference = pyav_frames(clip)
    channels = ("red", "green", "blue", "luma", "auto")
    text = "maskgraph: 1\nnodes:\n" + "".join(
        f"  {name}: {{type: read_mask, path: '{clip}', channel: {name}, first_frame: 2}}\n"
        for name in channels)
    g = graph.load(text)
    for frame in [1, 2, 5, 4, 13, 30]:
        masks = g.evaluate(list(channels), frame=frame, memory=None)
        rgb = reference[min(max(frame - 2, 0), FRAMES - 1)] / 255.0
        for index, name in enumerate(("red", "green", "blue")):
            np.testing.assert_allclose(masks[name], rgb[..., index], atol=1e-6)
        luma = rgb @ np.array([0.2126, 0.7152, 0.0722])
        np.testing.assert_allclose(masks["luma"], luma, atol=1e-5)
        np.testing.assert_array_equal(masks["auto"], masks["luma"])  # no alpha in H.264


def test_read_mask_of_a_prores_matte_takes_its_alpha(tmp_path):
    out = tmp_path / "matte.mov"
    text = (f"maskgraph: 1\nnodes:\n"
            f"  c: {{type: constant, color: [0.2, 0.5, 0.8, 0.25], width: 64, height: 48}}\n"
            f"  w: {{type: write, input: c, path: '{out}'}}\n")
    graph.load(text).render([1, 2], memory=None)
    matte = graph.load(f"maskgraph: 1\nnodes:\n  m: {{type: read_mask, path: '{out}'}}\n")
    np.testing.assert_allclose(matte.evaluate(["m"], frame=2, memory=None)["m"], 0.25,
                               atol=2e-3)


def test_read_mask_of_a_video_refuses_an_exr_channel_name(clip):
    with pytest.raises(GraphError, match="channel.*video file has the channels"):
        graph.load(f"maskgraph: 1\nnodes:\n  m: {{type: read_mask, path: '{clip}', "
                   f"channel: matte.A}}\n")


def test_read_mask_of_a_truncated_video_is_a_placed_error(tmp_path, clip):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[: os.path.getsize(clip) // 2])
    with pytest.raises(NodeFailure, match="node 'm' \\(read_mask\\).*broken.mp4"):
        graph.load(f"maskgraph: 1\nnodes:\n  m: {{type: read_mask, path: '{broken}'}}\n") \
            .evaluate(["m"], frame=FRAMES, memory=None)


def test_reading_a_range_in_order_decodes_each_frame_once(clip):
    decoder_count = []
    g = read_graph(clip)
    g.render(range(1, FRAMES + 1), outputs=["r"], memory=None)
    decoder = video._DECODERS[str(clip)]
    decoder_count.append(decoder.position)
    assert decoder.position == FRAMES  # forward only: no reopen, no seek per frame


def test_written_mp4_reads_back_with_every_frame_and_high_psnr(tmp_path, clip):
    out = tmp_path / "out" / "comp.mp4"
    text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{clip}'}}\n"
            f"  w: {{type: write, input: r, path: '{out}', crf: 16}}\n"
            f"  p: {{type: write, input: r, path: '{tmp_path}/png/f.####.png'}}\n")
    graph.load(text).render(range(1, FRAMES + 1), memory=None)
    assert out.is_file() and not os.path.exists(video.staging_folder(str(out)))
    assert [name for name in os.listdir(out.parent) if name.startswith(".")] == []
    decoded = pyav_frames(out)
    assert len(decoded) == FRAMES
    for index, pixels in enumerate(decoded):
        png = cv2.imread(str(tmp_path / "png" / f"f.{index + 1:04d}.png"))[:, :, ::-1]
        assert cv2.PSNR(png, pixels) >= 35


def test_written_mov_is_prores_4444_with_alpha(tmp_path):
    out = tmp_path / "matte.mov"
    text = (f"maskgraph: 1\nnodes:\n"
            f"  c: {{type: constant, color: [0.2, 0.5, 0.8, 0.5], width: 64, height: 48}}\n"
            f"  w: {{type: write, input: c, path: '{out}'}}\n")
    graph.load(text).render([1, 2, 3], memory=None)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        frames = list(container.decode(stream))
    assert len(frames) == 3 and frames[0].format.name.startswith("yuva444")
    image = read_graph(out).evaluate(["r"], frame=2, memory=None)["r"]
    np.testing.assert_allclose(image[..., 3], 0.5, atol=2e-3)
    np.testing.assert_allclose(image[..., :3] / 0.5, np.broadcast_to([0.2, 0.5, 0.8], (48, 64, 3)), atol=0.01)


def test_truncated_video_is_a_placed_error(tmp_path, clip):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[: os.path.getsize(clip) // 2])
    with pytest.raises(NodeFailure) as caught:
        read_graph(broken).evaluate(["r"], memory=None)
    message = str(caught.value)
    assert "node 'r' (read)" in message and "broken.mp4" in message
    assert "damaged" in message or "truncated" in message


def test_garbage_file_is_a_placed_error(tmp_path):
    fake = tmp_path / "fake.mov"
    fake.write_bytes(os.urandom(4096))
    with pytest.raises(NodeFailure, match="node 'r' .*fake.mov"):
        read_graph(fake).evaluate(["r"], memory=None)


def test_codec_missing_from_the_build_is_a_placed_error(tmp_path):
    good = tmp_path / "good.avi"
    encode_clip(good, moving_photo(3), codec="mpeg4", options={})
    data = good.read_bytes()
    tag = data.find(b"FMP4")
    assert tag > 0
    strange = tmp_path / "strange.avi"  # the same file with a codec tag FFmpeg does not know
    strange.write_bytes(data.replace(b"FMP4", b"QQZ9").replace(b"fmp4", b"qqz9"))
    with pytest.raises(NodeFailure) as caught:
        read_graph(strange).evaluate(["r"], memory=None)
    assert "codec" in str(caught.value) and "node 'r'" in str(caught.value)


def test_mp4_with_alpha_or_float_is_a_load_error(tmp_path):
    text = (f"maskgraph: 1\nnodes:\n  c: {{type: constant, width: 8, height: 8}}\n"
            f"  w: {{type: write, input: c, path: '{tmp_path}/o.mp4', channels: rgba}}\n")
    with pytest.raises(GraphError, match="use .mov"):
        graph.load(text)


def test_failed_render_leaves_no_video(tmp_path, clip):
    out = tmp_path / "never.mp4"
    text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{clip}'}}\n"
            f"  bad: {{type: crop, input: r, box: [500, 500, 600, 600]}}\n"
            f"  w: {{type: write, input: bad, path: '{out}'}}\n")
    with pytest.raises(NodeFailure):
        graph.load(text).render([1, 2], memory=None)
    assert not out.exists()


def test_an_encoder_the_build_lacks_is_a_placed_error_and_writes_nothing(tmp_path, clip,
                                                                         monkeypatch):
    """A build without ProRes (simulated: PyAV's codec lookup refuses prores_ks) says so
    at the writing node and leaves no file and no staged frames."""
    real = av.codec.Codec

    def without_prores(name, mode="r"):
        if name == "prores_ks":
            raise av.error.FFmpegError(0, f"unknown codec {name}")
        return real(name, mode)

    monkeypatch.setattr(av.codec, "Codec", without_prores)
    out = tmp_path / "matte.mov"
    text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{clip}'}}\n"
            f"  w: {{type: write, input: r, path: '{out}'}}\n")
    with pytest.raises(NodeFailure, match=r"node 'w' \(write\).*no ProRes 4444 \(prores_ks\) "
                                          r"encoder"):
        graph.load(text).render([1, 2], memory=None)
    assert os.listdir(tmp_path) == []


def test_a_truncated_plate_under_propagate_names_the_read_and_writes_nothing(tmp_path, clip):
    """propagate reads its plate frame by frame (a lazy input): a frame that does not decode
    fails at the `read` that reads it, placed there, and the video is not written."""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[: os.path.getsize(clip) // 2])
    out = tmp_path / "carried.mp4"
    text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{broken}'}}\n"
            f"  shape: {{type: ellipse, like: r, center: [64, 48], radius: [20, 15]}}\n"
            f"  carried: {{type: propagate, input: r, mask: shape, keyframes: [1]}}\n"
            f"  w: {{type: write, input: carried, path: '{out}'}}\n")
    with pytest.raises(NodeFailure) as caught:
        graph.load(text).render(range(1, FRAMES + 1), memory=None)
    message = str(caught.value)
    assert "node 'r' (read)" in message and ("damaged" in message or "truncated" in message)
    assert not out.exists() and not os.path.exists(video.staging_folder(str(out)))


def test_dask_render_stages_frames_on_workers_and_encodes_once(tmp_path, clip):
    pytest.importorskip("distributed", reason="needs the dask extra")
    outputs = {}
    for name, options in (("local", {}), ("dask", {"workers": 2})):
        out = tmp_path / name / "comp.mp4"
        text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{clip}'}}\n"
                f"  g: {{type: grade, input: r, multiply: [1.2, 1.0, 0.9]}}\n"
                f"  w: {{type: write, input: g, path: '{out}'}}\n")
        render = graph.load(text).render(range(1, FRAMES + 1), memory=None, **options)
        if name == "dask":
            assert all(stat.get("worker") for stat in render.stats)  # ran on workers
        assert os.listdir(out.parent) == ["comp.mp4"]
        outputs[name] = pyav_frames(out)
    assert len(outputs["dask"]) == len(outputs["local"]) == FRAMES
    for ours, theirs in zip(outputs["dask"], outputs["local"]):
        assert cv2.PSNR(ours, theirs) >= 45
