"""Sources and sinks: read, read_mask, write, constant. (The `input` placeholder of a
template loaded on its own is an engine type: graph/spec.py.)

Files are decoded and encoded with OpenCV, which keeps 16-bit PNG and TIFF intact (Pillow
truncates 16-bit RGB); OpenEXR files with the `OpenEXR` package (extra `maskgraph[exr]`). 8/16-bit colour is sRGB-decoded to linear light and premultiplied on
read, and the inverse on write; masks are data and use their code values as they are.
Writes are atomic: the file is written under a temporary name beside the target and
renamed into place, so an error or a crash never leaves a partial output file.
"""
from __future__ import annotations

import logging
import os
import re

import numpy as np

from graph import buffers
from graph.animation import has_frame_pattern
from graph.atomic import atomic_path
from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from graph import limits
from nodes import colour, exr_layers, imageinfo, video
from nodes.common import canvas_check, canvas_size, captured_stderr
from nodes.kernels import convert
from nodes.kernels.bands import run_bands
from nodes.kernels.color import REC709_WEIGHTS

import cv2

READ_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp")
ALPHA_FORMATS = (".png", ".tif", ".tiff", ".exr", ".webp")
FLOAT_FORMATS = (".tif", ".tiff", ".exr")
SIXTEEN_BIT_FORMATS = (".png", ".tif", ".tiff")
SRGB8_TABLE, SRGB8_THRESHOLDS = convert.srgb8_table(), convert.srgb8_thresholds()


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _check_readable(params, connected, formats=READ_FORMATS):
    path = params["path"]
    problems = []
    if _extension(path) not in formats:
        problems.append(("path", f"unsupported file type '{_extension(path) or path}' "
                                 f"(readable: {', '.join(READ_FORMATS)})"))
    elif not has_frame_pattern(path) and not os.path.isfile(path):
        problems.append(("path", f"no such file: {path}"))
    return problems


def _check_read(params, connected):
    problems = (_check_readable(params, connected, READ_FORMATS + video.READ_EXTENSIONS)
                or colour.colour_problems(params, "colorspace"))
    layer, path = params["layer"], params["path"]
    if problems or not layer:
        return problems
    if _extension(path) != ".exr":
        return [("layer", "only OpenEXR files have layers")]
    if not has_frame_pattern(path) and (message := exr_layers.check_layer(path, layer)):
        return [("layer", message)]
    return []


def _check_read_mask(params, connected):
    problems = _check_readable(params, connected, READ_FORMATS + video.READ_EXTENSIONS)
    channel, path = params["channel"], params["path"]
    if problems or channel in MASK_CHANNELS:
        return problems
    if video.is_video(path):
        return [("channel", f"a video file has the channels {', '.join(MASK_CHANNELS)}, "
                            f"found '{channel}'")]
    if _extension(path) != ".exr":
        return [("channel", f"expected one of {', '.join(MASK_CHANNELS)} (named channels "
                            f"such as 'matte.A' exist in OpenEXR files), found '{channel}'")]
    if not has_frame_pattern(path) and (message := exr_layers.check_channel(path, channel)):
        return [("channel", message)]
    return []


def _openexr():
    try:
        import OpenEXR
    except ImportError:
        raise NodeInputError("OpenEXR files need the optional extra",
                             hint="pip install 'maskgraph[exr]'") from None
    return OpenEXR


def _write_exr(path: str, pixels: np.ndarray) -> None:
    """Write float32 (H, W, C) B,G,R[,A] pixels (or (H, W) values) as a ZIP-compressed EXR."""
    exr = _openexr()
    if pixels.ndim == 2:
        channels = {"Y": np.ascontiguousarray(pixels, np.float32)}
    else:
        order = [2, 1, 0, 3][:pixels.shape[2]]
        name = "RGBA" if pixels.shape[2] == 4 else "RGB"
        channels = {name: np.ascontiguousarray(pixels[..., order], np.float32)}
    header = {"compression": exr.ZIP_COMPRESSION, "type": exr.scanlineimage}
    exr.File(header, channels).write(path)


def _load_codes(path: str, layer: str = "") -> np.ndarray:
    """The file's pixels as (H, W, C) in OpenCV's B,G,R[,A] order, C = 1..4."""
    if not os.path.isfile(path):
        raise NodeInputError(f"no such file: {path}",
                             hint="check the path (sequence frames: is this frame there?)")
    _check_pixel_budget(path)
    if _extension(path) == ".exr":
        return exr_layers.read_codes(path, layer)
    with captured_stderr() as messages:  # libpng/libjpeg/libtiff warnings: ours to judge
        pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if pixels is None and _extension(path) in (".tif", ".tiff"):
        pixels = _read_tiff_other(path)  # half-float and other sample formats OpenCV lacks
    if pixels is None:
        raise NodeInputError(f"cannot decode {path}: not an image, or damaged",
                             hint=_first_line(messages[0]))
    if imageinfo.truncated_jpeg(path) or _DAMAGE_WORDS.search(messages[0]):
        raise NodeInputError(f"{path} is damaged: {_first_line(messages[0]) or 'truncated'}",
                             hint="the file ends early or holds corrupt data: export it again")
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


_DAMAGE_WORDS = re.compile(r"premature end of jpeg|corrupt jpeg", re.I)  # libjpeg warnings


def _first_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else None


def _check_pixel_budget(path: str) -> None:
    """Refuse a picture over $MASKGRAPH_MAX_PIXELS from its header, before decoding."""
    size = imageinfo.image_size(path)
    if size is not None and (problem := limits.pixel_problem(*size, path)):
        raise NodeInputError(problem, hint=f"raise ${limits.MAX_PIXELS_ENV} if the machine "
                                           "has the memory, or downscale the file")


def _read_tiff_other(path: str) -> np.ndarray | None:
    """A TIFF OpenCV cannot decode (half float), through tifffile when it is installed."""
    try:
        import tifffile
    except ImportError:
        raise NodeInputError(f"cannot decode {path} with OpenCV (a half-float TIFF?)",
                             hint="pip install tifffile (the 'tiff' extra) reads it") from None
    logger = logging.getLogger("tifffile")
    level, logger.level = logger.level, logging.CRITICAL  # its warnings are ours to judge
    try:
        with tifffile.TiffFile(path) as tiff:
            shape = tiff.pages.first.shape
            if len(shape) not in (2, 3) or len(shape) == 3 and not 1 <= shape[2] <= 4:
                return None
            if problem := limits.pixel_problem(shape[1], shape[0], path):
                raise NodeInputError(problem)
            pixels = tiff.pages.first.asarray()
    except NodeInputError:
        raise
    except Exception:  # noqa: BLE001 - tifffile's many errors all mean: not readable
        return None
    finally:
        logger.level = level
    if pixels.dtype == np.float16 or pixels.dtype == np.float64:
        pixels = pixels.astype(np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] in (3, 4):
        pixels = pixels[..., [2, 1, 0, 3][:pixels.shape[2]]]  # OpenCV's B,G,R[,A] order
    return np.ascontiguousarray(pixels)


def decode_image(pixels: np.ndarray, colorspace: str, alpha_mode: str,
                 working: str = colour.ocio.DEFAULT_WORKING, config=None) -> np.ndarray:
    """(H, W, C) file codes -> (H, W, 4) float32 premultiplied RGBA in the working space."""
    is_float = pixels.dtype.kind == "f"
    if colour.needs_ocio(colorspace, working):
        raw = decode_image(pixels, "raw", alpha_mode)
        return colour.to_working(raw, colour.file_space(colorspace, is_float, working),
                                 working, config)
    if colorspace == "auto":
        colorspace = "linear" if is_float else "srgb"
    premultiply = alpha_mode != "premultiplied" and not (alpha_mode == "auto" and is_float)
    if is_float:
        return convert.float_to_rgba(pixels, colorspace == "srgb", premultiply)
    bits = 16 if pixels.dtype == np.uint16 else 8
    if pixels.dtype not in (np.uint8, np.uint16):
        raise NodeInputError(f"unsupported pixel type {pixels.dtype}")
    table = convert.decode_table(bits, "srgb" if colorspace == "srgb" else "raw")
    out = buffers.empty(pixels.shape[:2] + (4,), np.float32)
    run_bands(convert.codes_to_rgba, out.shape[0], out.shape[1] * 4,
              np.ascontiguousarray(pixels), table, premultiply, out)
    return out


@node("read", version=2, reads_files=True, check=_check_read, category="io",
      takes_frame=lambda params: video.is_video(params.get("path")),
      outputs=[Output("output", "image")],
      params=[Param("path", "path", doc="image file, or a sequence plate.####.png / %04d"),
              Param("colorspace", "str", "auto",
                    doc="file encoding: auto (sRGB for 8/16-bit, the working space for float "
                        "files), srgb, linear (Rec.709), raw, or any OpenColorIO colour "
                        "space of the config (ACEScg, 'ARRI LogC4', ...)"),
              Param("alpha", "choice", "auto", choices=("auto", "straight", "premultiplied"),
                    doc="alpha in the file: auto = straight for 8/16-bit, premultiplied for float"),
              Param("layer", "str", "", doc="EXR layer ('diffuse') or one channel "
                                             "('matte.A'); empty: the main R, G, B, A"),
              Param("first_frame", "int", 1,
                    doc="video files: the graph frame that shows the clip's first frame"),
              *colour.COLOUR_PARAMS])
def read(*, path, colorspace, alpha, layer="", first_frame=1,
         working=colour.ocio.DEFAULT_WORKING, config=None, frame=None):
    """Read an image file (PNG, JPEG, TIFF 8/16-bit/float, EXR) as premultiplied RGBA in the
    graph's working space (linear Rec.709 unless the header's `colour:` says otherwise).

    Gray files fill R, G and B; files without alpha get alpha 1. `layer` picks one layer
    (or one channel) of a layered EXR. Relative paths resolve
    against the graph file's folder. A `####` or `%04d` in the path reads frame N of a
    sequence (`maskgraph run --frames 1-24`). A file over the pixel budget
    ($MASKGRAPH_MAX_PIXELS, default 2**28) is refused from its header, before decoding; a
    truncated or corrupt JPEG is an error, not a partly grey picture. A video file (.mp4,
    .mov, .mkv, .webm, .avi; extra `maskgraph[video]`) shows its frame
    `frame - first_frame + 1` on graph frame `frame`, holding the first/last frame outside
    the clip; its YUV is converted with the Rec.709 matrix as FFmpeg does, then decoded from
    sRGB like an 8-bit file.
    """
    if video.is_video(path):
        codes = video.read_video_frame(path, frame or 1, first_frame)
        return decode_image(codes, colorspace, alpha, working, config)
    return decode_image(_load_codes(path, layer), colorspace, alpha, working, config)


MASK_CHANNELS = ("auto", "red", "green", "blue", "alpha", "luma")


@node("read_mask", version=2, reads_files=True, check=_check_read_mask, category="io",
      takes_frame=lambda params: video.is_video(params.get("path")),
      outputs=[Output("output", "mask")],
      params=[Param("path", "path", doc="image file holding the mask (sequence allowed), "
                                        "or a video file"),
              Param("channel", "str", "auto",
                    doc="auto (the alpha where the file has one, else luma), red, green, "
                        "blue, alpha, luma; or an EXR channel ('matte.A') or one-channel "
                        "layer ('key')"),
              Param("first_frame", "int", 1,
                    doc="video files: the graph frame that shows the clip's first frame")])
def read_mask(*, path, channel, first_frame=1, frame=None):
    """Read a mask painted or exported elsewhere: one channel's code values, no transfer curve.

    A painted 50% grey reads as 0.5. Integer files are scaled to [0, 1]; float files are
    used as they are. A video file (a matte pass as .mp4/.mov/...) is read as `read` reads
    it: graph frame `frame` shows the clip's frame `frame - first_frame + 1`, holding the
    first/last frame outside the clip, its YUV converted to R,G,B codes as FFmpeg does
    (luma is then the Rec.709 weighting of those codes; alpha exists in ProRes 4444).
    """
    if channel not in MASK_CHANNELS:
        return exr_layers.read_channel(path, channel)
    if video.is_video(path):
        pixels = video.read_video_frame(path, frame or 1, first_frame)
    else:
        pixels = _load_codes(path)
    scale = 1.0 if pixels.dtype.kind == "f" else 1.0 / np.iinfo(pixels.dtype).max
    count = pixels.shape[2]
    has_alpha = count in (2, 4)
    if channel == "auto":
        channel = "alpha" if has_alpha else "luma"
    if channel == "alpha" and not has_alpha:
        raise NodeInputError(f"{path} has no alpha channel",
                             hint="use channel: luma (or red/green/blue)")
    if count <= 2 and channel in ("red", "green", "blue", "luma"):
        return pixels[:, :, 0].astype(np.float32) * np.float32(scale)
    if channel == "alpha":
        return pixels[:, :, count - 1].astype(np.float32) * np.float32(scale)
    if channel == "luma":
        weights = np.array(REC709_WEIGHTS[::-1], np.float32) * np.float32(scale)
        return pixels[:, :, :3].astype(np.float32) @ weights
    index = {"red": 2, "green": 1, "blue": 0}[channel]
    return pixels[:, :, index].astype(np.float32) * np.float32(scale)


def _require_finite_for_integers(values: np.ndarray, depth: str) -> None:
    """An 8/16-bit file cannot hold NaN or infinity: refuse rather than encode them as
    black or white (the NaN rule in the README)."""
    if np.isfinite(values.min()) and np.isfinite(values.max()):  # NaN propagates in both
        return
    bad = np.count_nonzero(~np.isfinite(values))
    raise NodeInputError(f"{bad} values are NaN or infinite: a {depth}-bit file cannot "
                         "store them", hint="fix the node that made them, or write "
                                            "depth: float to a .tif or .exr")


def _check_writable(params, connected):
    return _check_format(params) or colour.colour_problems(params, "colorspace")


def _check_format(params):
    path, depth = params["path"], params["depth"]
    extension = _extension(path)
    if extension in video.WRITE_EXTENSIONS:
        if params["colorspace"] not in ("auto", "srgb"):
            return [("colorspace", f"{extension} video is written as sRGB-encoded Rec.709; "
                                   f"use auto or srgb (or convert with a colorspace node)")]
        if depth == "float" or (params["channels"] in ("rgba", "alpha") and extension == ".mp4"):
            return [("depth" if depth == "float" else "channels",
                     f"{extension} video stores 8-bit YUV without alpha; use .mov (ProRes "
                     f"4444, alpha) or an EXR sequence")]
        return []
    if extension not in READ_FORMATS:
        return [("path", f"unsupported file type '{extension or path}' "
                         f"(writable: {', '.join(READ_FORMATS)})")]
    if depth == "float" and extension not in FLOAT_FORMATS:
        return [("depth", f"{extension} cannot store float; use .tif or .exr, or depth 16")]
    if depth == "16" and extension not in SIXTEEN_BIT_FORMATS:
        return [("depth", f"{extension} cannot store 16 bits; use .png or .tif")]
    if params["channels"] in ("rgba", "alpha") and extension not in ALPHA_FORMATS:
        return [("channels", f"{extension} has no alpha channel; use .png or .tif")]
    return []


def _finish_write(params, frames):
    if video.is_video(params["path"]):
        video.finish_video(params["path"], frames, params["fps"], params["crf"])


@node("write", version=2, sink=True, check=_check_writable, category="io",
      takes_frame=lambda params: video.is_video(params.get("path")), finish=_finish_write,
      inputs=[Input("input", "image|mask")],
      params=[Param("path", "path", doc="output file (PNG, JPEG, TIFF, EXR; .mp4/.mov video); #### or %04d: frame"),
              Param("colorspace", "str", "auto",
                    doc="auto (sRGB for 8/16-bit images, the working space for float and "
                        "EXR; masks raw), srgb, linear, raw, or any OpenColorIO colour space"),
              Param("depth", "choice", "auto", choices=("auto", "8", "16", "float"),
                    doc="bits per channel; auto: float for EXR, else 8"),
              Param("channels", "choice", "auto", choices=("auto", "rgba", "rgb", "alpha"),
                    doc="auto: RGBA where the format has alpha, else RGB; masks one channel"),
              Param("quality", "int", 95, min=1, max=100, doc="JPEG quality"),
              Param("crf", "int", 18, min=0, max=51,
                    doc=".mp4: H.264 constant rate factor (lower: better, larger)"),
              Param("fps", "float", 24.0, min=1, max=240, doc="video frame rate"),
              *colour.COLOUR_PARAMS])
def write(input, *, path, colorspace, depth, channels, quality, crf=18, fps=24.0,
          working=colour.ocio.DEFAULT_WORKING, config=None, frame=None):
    """Write an image or a mask to a file, atomically (temporary file, then rename).

    Images are unpremultiplied and encoded (sRGB for 8/16-bit by default); a mask is
    written as a single-channel file of its values. Parent folders are created; the file
    gets the umask's permissions. 8/16-bit files refuse NaN and infinite values (counted in
    the error); float TIFF/EXR files store them. Returns the array it wrote. A video path
    (.mp4: H.264 yuv420p at `crf`; .mov: ProRes 4444 with alpha; extra `maskgraph[video]`)
    collects the rendered frame range into one file, encoded in frame order when the render
    ends and renamed into place.
    """
    extension = _extension(path)
    if extension in video.WRITE_EXTENSIONS:
        _require_finite_for_integers(input, "8")
        video.stage_frame(path, frame or 1, _video_codes(input, colorspace))
        return input
    if depth == "auto":
        depth = "float" if extension == ".exr" else "8"
    if depth != "float":
        _require_finite_for_integers(input, depth)
    if input.ndim == 2:
        if colorspace not in colour.ocio.BUILTIN_NAMES:
            raise NodeInputError(f"a mask is data: it is written without a colour space "
                                 f"(found colorspace '{colorspace}')", hint="use auto or raw")
        pixels = _encode_mask(input, depth, colorspace)
    elif colour.needs_ocio(colorspace, working):
        target = colour.file_space(colorspace, depth == "float", working)
        image = colour.from_working(input, target, working, config)
        pixels = _encode_image(image, extension, depth, "raw", channels)
    else:
        pixels = _encode_image(input, extension, depth, colorspace, channels)
    flags = [cv2.IMWRITE_JPEG_QUALITY, quality] if extension in (".jpg", ".jpeg") else []
    write_atomically(path, pixels, flags)
    return input


def _video_codes(input, colorspace) -> np.ndarray:
    """16-bit B,G,R,A codes of an image (sRGB by default) or a mask (grey, as it is)."""
    if input.ndim == 2:
        grey = _encode_mask(input, "16", colorspace)
        return np.dstack([grey, grey, grey, np.full_like(grey, 65535)])
    return _encode_image(input, ".png", "16", colorspace, "rgba")


def _encode_mask(mask: np.ndarray, depth: str, colorspace: str) -> np.ndarray:
    values = mask
    if colorspace == "srgb":
        values = np.empty_like(mask)
        from nodes.kernels.color import srgb_encode_into
        srgb_encode_into(mask, values)
    if depth == "float":
        return values.astype(np.float32)
    maximum = 255 if depth == "8" else 65535
    dtype = np.uint8 if depth == "8" else np.uint16
    return np.clip(np.rint(values * maximum), 0, maximum).astype(dtype)


def _encode_image(image, extension, depth, colorspace, channels) -> np.ndarray:
    if channels == "alpha":
        return _encode_mask(np.ascontiguousarray(image[:, :, 3]), depth, "raw")
    if channels == "auto":
        channels = "rgba" if extension in ALPHA_FORMATS else "rgb"
    count = 4 if channels == "rgba" else 3
    if colorspace == "auto":
        colorspace = "linear" if depth == "float" else "srgb"
    srgb = colorspace == "srgb"
    height, width = image.shape[:2]
    if depth == "float":
        out = np.empty((height, width, count), np.float32)
        run_bands(convert.rgba_to_float, height, width * 4, image, srgb, count == 4, count, out)
        return out
    if depth == "8" and srgb:
        out = np.empty((height, width, count), np.uint8)
        run_bands(convert.rgba_to_srgb8, height, width * 4, image, SRGB8_TABLE, SRGB8_THRESHOLDS,
                  count == 4, count, out)
        return out
    maximum = 255.0 if depth == "8" else 65535.0
    out = np.empty((height, width, count), np.uint8 if depth == "8" else np.uint16)
    run_bands(convert.rgba_to_codes, height, width * 4, image, maximum, srgb, count == 4, count,
              out)
    return out


def write_atomically(path: str, pixels: np.ndarray, flags=()) -> None:
    """Encode `pixels` to a temporary file beside `path`, then rename it into place.

    Nothing is left behind on failure; an unwritable destination is a NodeInputError
    naming the path and the reason.
    """
    try:
        with atomic_path(path) as temporary:
            if _extension(path) == ".exr":
                _write_exr(temporary, pixels)
            elif not cv2.imwrite(temporary, pixels, list(flags)):
                raise NodeInputError(f"cannot write {path}: the encoder failed (disk full?)")
    except OSError as error:
        raise NodeInputError(f"cannot write {path}: {error.strerror or error}",
                             hint=_write_hint(error)) from None


def _write_hint(error: OSError) -> str | None:
    import errno
    hints = {errno.ENOTDIR: "a folder in the path is a file",
             errno.EEXIST: "a folder in the path is a file",
             errno.EACCES: "the folder is not writable by you",
             errno.EROFS: "the file system is read-only",
             errno.ENOSPC: "the disk is full"}
    return hints.get(error.errno)


@node("constant", version=1, check=canvas_check, category="io",
      inputs=[Input("like", "image|mask", optional=True, doc="copy this input's size")],
      outputs=[Output("output", "image")],
      params=[Param("color", "color", (0.0, 0.0, 0.0, 1.0),
                    doc="straight (unpremultiplied) linear RGBA, or '#rrggbb'"),
              Param("width", "int", None, optional=True, min=1, doc="canvas width (no 'like')"),
              Param("height", "int", None, optional=True, min=1,
                    doc="canvas height (no 'like')")])
def constant(like, *, color, width, height):
    """A canvas of one colour (premultiplied on output), sized by `like` or width/height."""
    rows, columns = canvas_size(like, width, height)
    red, green, blue, alpha = color
    out = np.empty((rows, columns, 4), np.float32)
    out[:] = np.array([red * alpha, green * alpha, blue * alpha, alpha], np.float32)
    return out
