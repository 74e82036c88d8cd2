"""Video files for `read` and `write` (the `video` extra: PyAV, whose wheels carry FFmpeg).

Reading: graph frame f is the clip's frame f - first_frame (0-based); frames before the
clip hold its first frame, frames after it its last. Each process keeps one open decoder
per file (keyed by path, size and mtime): asking for the next frame decodes forward from
where the decoder stands; asking for an earlier frame reopens the file and decodes from
the start. Nothing seeks per frame, so a frame range read in order costs one decode per
frame; and while the caller converts frame f, one background thread already decodes frame
f + 1 (to its B,G,R codes), so decoding overlaps the rest of the render. Pixels are converted as FFmpeg's swscale does (Rec.709 matrix unless the stream
is tagged otherwise, the stream's range, bilinear chroma with accurate rounding) to 8-bit
B,G,R (16-bit for deeper sources) and then go through the usual sRGB-to-linear
decode of `read`, like a PNG frame would.

Writing: a video sink collects a frame range into one file. Each frame run stages its
frame as a 16-bit PNG in a hidden folder beside the target (`.name.mp4.frames/`); when the
render ends, `finish_video` encodes the staged frames in frame order into a temporary
file and renames it into place, so a failed or interrupted render never leaves a partial
video. On a Dask render workers stage frames in parallel and the client encodes once.
.mp4: H.264 (libx264), yuv420p, `crf`. .mov: ProRes 4444 with alpha (prores_ks,
yuva444p10le) where the FFmpeg build has it, else an error saying so.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import cv2
import numpy as np

from graph.errors import NodeInputError

READ_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi")
WRITE_EXTENSIONS = (".mp4", ".mov")
CONVERSION = {"interpolation": "BILINEAR", "dst_color_range": "JPEG"}
_DECODERS: dict = {}  # path -> _Decoder, one per file per process


def is_video(path) -> bool:
    return isinstance(path, str) and os.path.splitext(path)[1].lower() in READ_EXTENSIONS


def _av():
    try:
        import av
    except ImportError:
        raise NodeInputError("video files need the optional extra",
                             hint="pip install 'maskgraph[video]'") from None
    return av


def bgr_from_frame(frame) -> np.ndarray:
    """A decoded av.VideoFrame -> (H, W, 3|4) uint8 or uint16 codes in B,G,R(,A) order
    (OpenCV's, what io.decode_image takes), as swscale converts it: the reference a test
    compares with is PyAV's own to_ndarray with the same arguments."""
    return frame.to_ndarray(format=target_format(frame), src_colorspace=_colorspace(frame),
                            dst_colorspace=_colorspace(frame),
                            src_color_range=frame.color_range or 1, **CONVERSION)


def target_format(frame) -> str:
    """bgr24 / bgra for 8-bit sources, bgr48le / bgra64le for deeper ones."""
    deep = frame.format.components[0].bits > 8
    has_alpha = len(frame.format.components) == 4
    if has_alpha:
        return "bgra64le" if deep else "bgra"
    return "bgr48le" if deep else "bgr24"


def _colorspace(frame) -> str:
    """swscale's matrix for the frame: its tag where it has one, else Rec.709."""
    tagged = {5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
    return tagged.get(int(frame.colorspace or 2), "ITU709")


class _Decoder:
    """One open file: decodes forward; `frame(index)` reopens only to go back."""

    def __init__(self, path: str):
        self.path = path
        self.identity = _identity(path)
        av = _av()
        try:
            self._open()
        except av.error.FFmpegError as error:
            raise NodeInputError(f"cannot read video {path}: {error.strerror or error}",
                                 hint="the file is damaged, truncated, or not a video") from None
        try:
            self.count = _frame_count(self.container, path)
        except BaseException:
            self.container.close()
            raise

    def _open(self):
        av = _av()
        self.container = av.open(self.path)
        if not self.container.streams.video:
            self.container.close()
            raise NodeInputError(f"{self.path} has no video stream")
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        self.frames = self.container.decode(stream)
        self.position = 0  # index of the next frame the decoder gives
        self.last = None
        self.ahead = None  # Future: the next frame's codes, decoding in the background

    def frame(self, index: int) -> np.ndarray:
        if index < self.position - 1 or (index == self.position - 1 and self.last is None):
            self.close()
            self._open()
        if index == self.position - 1:
            return self.last
        while self.position <= index:
            codes = self._take(convert=self.position == index)
            if codes is None:
                raise NodeInputError(f"{self.path}: frame {index + 1} of {self.count} does "
                                     f"not decode (the file ends after {self.position})",
                                     hint="the file is truncated or damaged")
            self.position += 1
        self.last = codes
        if self.position < self.count:  # read in order: the next frame is likely asked next
            self.ahead = _prefetcher().submit(self._decode_next, True)
        return self.last

    def _take(self, convert: bool):
        """The next frame's codes (the prefetched ones when there are), _SKIPPED when not
        `convert`, None past the end."""
        if self.ahead is not None:
            ahead, self.ahead = self.ahead, None
            return ahead.result()
        return self._decode_next(convert)

    def _decode_next(self, convert: bool):
        decoded = next(self.frames, None)
        if decoded is None:
            return None
        return bgr_from_frame(decoded) if convert else _SKIPPED

    def close(self):
        if self.ahead is not None:
            try:
                self.ahead.result()
            except Exception:  # noqa: BLE001 - the frame is not wanted; closing anyway
                pass
            self.ahead = None
        self.container.close()


_SKIPPED = object()  # a frame decoded on the way to a later one, never converted
_PREFETCH: list = []  # the one background thread that decodes ahead (made on first use)
_LOCK = threading.Lock()  # one caller at a time per process drives the decoders


def _forget_in_child() -> None:
    """A forked process has neither the parent's decode thread nor a usable copy of its
    decoders: it starts with none."""
    global _LOCK
    _DECODERS.clear()
    _PREFETCH.clear()
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _prefetcher() -> ThreadPoolExecutor:
    if not _PREFETCH:
        _PREFETCH.append(ThreadPoolExecutor(max_workers=1,
                                            thread_name_prefix="maskgraph-video"))
    return _PREFETCH[0]


def _identity(path: str) -> tuple:
    status = os.stat(path)
    return (status.st_size, status.st_mtime_ns)


def _frame_count(container, path: str) -> int:
    """Frames in the first video stream of the open `container`: its count, else packets
    counted in a second open of `path` (demuxing only, no decoding). Damaged files and
    unknown codecs raise NodeInputError."""
    stream = container.streams.video[0]
    codec = stream.codec_context
    if codec is None or codec.name in (None, "", "none"):
        raise NodeInputError(f"{path}: its video codec is not in this FFmpeg build",
                             hint="transcode it (e.g. to H.264 .mp4 or ProRes .mov)")
    if stream.frames:
        return int(stream.frames)
    av = _av()
    try:
        with av.open(path) as counting:
            video = counting.streams.video[0]
            return sum(1 for packet in counting.demux(video) if packet.size)
    except av.error.FFmpegError as error:
        raise NodeInputError(f"cannot read video {path}: {error.strerror or error}",
                             hint="the file is damaged, truncated, or not a video") from None


def read_video_frame(path: str, frame: int, first_frame: int) -> np.ndarray:
    """Graph frame `frame` of the clip as (H, W, C) B,G,R(,A) codes (uint8 or uint16)."""
    if not os.path.isfile(path):
        raise NodeInputError(f"no such file: {path}", hint="check the path")
    with _LOCK:
        return _read_locked(path, frame, first_frame)


def _read_locked(path: str, frame: int, first_frame: int) -> np.ndarray:
    decoder = _DECODERS.get(path)
    if decoder is None or decoder.identity != _identity(path):
        if decoder is not None:
            decoder.close()
        decoder = _DECODERS[path] = _Decoder(path)
    if decoder.count == 0:
        raise NodeInputError(f"{path} holds no frames", hint="the file is damaged or empty")
    index = min(max(frame - first_frame, 0), decoder.count - 1)
    av = _av()
    try:
        return decoder.frame(index)
    except av.error.FFmpegError as error:
        _DECODERS.pop(path, None)
        raise NodeInputError(f"cannot decode frame {index + 1} of {path}: "
                             f"{error.strerror or error}",
                             hint="the file is damaged or truncated") from None


# ---------------------------------------------------------------- writing

def staging_folder(path: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.frames")


def check_encoder(path: str) -> None:
    """Raise NodeInputError when this FFmpeg build cannot encode `path`'s format."""
    codec = _codec_for(path)
    av = _av()
    try:
        av.codec.Codec(codec, "w")
    except Exception:
        kind = "ProRes 4444 (prores_ks)" if codec == "prores_ks" else "H.264 (libx264)"
        raise NodeInputError(f"this FFmpeg build has no {kind} encoder for {path}",
                             hint="install a PyAV wheel built with it, or write a "
                                  "PNG sequence (out.####.png)") from None


def _codec_for(path: str) -> str:
    return "prores_ks" if path.lower().endswith(".mov") else "libx264"


def stage_frame(path: str, frame: int, codes_bgr: np.ndarray) -> None:
    """Keep one frame's 16-bit B,G,R,A codes for `finish_video` (atomic per frame)."""
    check_encoder(path)
    folder = staging_folder(path)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{frame:08d}.png")
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=folder)
    os.close(handle)
    try:
        if not cv2.imwrite(temporary, codes_bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise NodeInputError(f"cannot stage frame {frame} of {path}")
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def finish_video(path: str, frames, fps: float, crf: int) -> None:
    """Encode the staged frames, in frame order, into `path` (temporary file, renamed)."""
    folder = staging_folder(path)
    files = [os.path.join(folder, f"{frame:08d}.png") for frame in frames]
    missing = [frame for frame, file in zip(frames, files) if not os.path.isfile(file)]
    if missing:
        raise NodeInputError(f"{path}: frames {missing[:5]} were not staged",
                             hint="every frame of the range must render before encoding")
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1],
                                         dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    try:
        _encode(temporary, files, fps, crf, _codec_for(path))
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp made it private
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    shutil.rmtree(folder, ignore_errors=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _encode(target: str, files, fps: float, crf: int, codec: str) -> None:
    av = _av()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(target, "w") as container:
        stream = container.add_stream(codec, rate=rate)
        first = cv2.imread(files[0], cv2.IMREAD_UNCHANGED)
        height, width = first.shape[:2]
        if codec == "libx264":
            stream.pix_fmt, options = "yuv420p", {"crf": str(crf), "preset": "medium"}
            width, height = width + width % 2, height + height % 2
        else:
            stream.pix_fmt, options = "yuva444p10le", {"profile": "4", "vendor": "apl0"}
        stream.width, stream.height = width, height
        stream.options = options
        stream.codec_context.colorspace = 1  # BT.709 tags
        stream.codec_context.color_range = 1  # limited (MPEG) range
        for file in files:
            codes = cv2.imread(file, cv2.IMREAD_UNCHANGED)
            for packet in stream.encode(_video_frame(av, codes, width, height, stream.pix_fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _video_frame(av, codes_bgr: np.ndarray, width: int, height: int, pix_fmt: str):
    """16-bit B,G,R,A codes -> a frame in the encoder's format (Rec.709, limited range)."""
    rows, columns = codes_bgr.shape[:2]
    if (rows, columns) != (height, width):
        codes_bgr = cv2.copyMakeBorder(codes_bgr, 0, height - rows, 0, width - columns,
                                       cv2.BORDER_REPLICATE)
    rgba = np.ascontiguousarray(codes_bgr[:, :, [2, 1, 0, 3]])
    if pix_fmt == "yuv420p":
        source = av.VideoFrame.from_ndarray(
            np.ascontiguousarray((rgba[:, :, :3].astype(np.uint32) * 255 + 32767) // 65535)
            .astype(np.uint8), format="rgb24")
    else:
        source = av.VideoFrame.from_ndarray(rgba, format="rgba64le")
    frame = source.reformat(format=pix_fmt, src_colorspace="ITU709", dst_colorspace="ITU709",
                            src_color_range="JPEG", dst_color_range="MPEG",
                            interpolation="BILINEAR")
    frame.colorspace, frame.color_range = 1, 1
    return frame
