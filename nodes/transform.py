"""Node specs: crop, extend, resize (canvas and size changes on images or masks) and
transform (move, turn, scale or follow a track)."""
from __future__ import annotations

import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.common import budget_check, require_budget
from nodes.kernels.resample import filter_weights, gather, resample_columns, resample_rows
from nodes.kernels.warp import warp_bicubic, warp_bilinear

FILTERS = ("nearest", "bilinear", "bicubic", "lanczos")
FILLS = ("transparent", "edge", "mirror", "color")


def _as_channels(array):
    """(H, W) mask or (H, W, 4) image -> contiguous float32 (H, W, C) view or copy."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    return array[:, :, None] if array.ndim == 2 else array


def _is_whole(value) -> bool:
    return float(value).is_integer()


# ---------------------------------------------------------------- crop

def _crop_check(params, connected):
    box = params.get("box")
    if box is None:
        return []
    problems = []
    if not all(_is_whole(value) for value in box):
        problems.append(("box", "corners must be whole pixels"))
    if box[2] <= box[0] or box[3] <= box[1]:
        problems.append(("box", f"needs x1 > x0 and y1 > y0, found {list(box)}"))
    return problems


@node("crop", version=1, category="transform",
      inputs=[Input("input", "image|mask", doc="the picture to crop")],
      outputs=[Output("output", "image|mask", doc="the pixels inside the box")],
      params=[Param("box", "box", None, doc="[x0, y0, x1, y1] in pixels, x1 and y1 excluded")],
      check=_crop_check)
def crop(input, *, box):
    """Keep the pixels inside a box.

    `box` is [x0, y0, x1, y1] in pixels from the top-left corner, x1 and y1 excluded, so
    the result is (x1 - x0) x (y1 - y0). Parts of the box outside the input are
    transparent (zero), as in Nuke's Crop with "reformat" on; a box that misses the input
    entirely is an error.
    """
    x0, y0, x1, y1 = (int(value) for value in box)
    height, width = input.shape[:2]
    if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0:
        raise NodeInputError(f"crop box {[x0, y0, x1, y1]} lies outside the {width}x{height} input",
                             hint="the box is [x0, y0, x1, y1] in pixels from the top-left")
    out = np.zeros((y1 - y0, x1 - x0) + input.shape[2:], np.float32)
    src_x0, src_y0 = max(x0, 0), max(y0, 0)
    src_x1, src_y1 = min(x1, width), min(y1, height)
    out[src_y0 - y0:src_y1 - y0, src_x0 - x0:src_x1 - x0] = input[src_y0:src_y1, src_x0:src_x1]
    return out


# ---------------------------------------------------------------- extend

def _fill_value(input, color):
    """The constant a `color` fill writes: premultiplied RGBA, or the alpha for a mask."""
    red, green, blue, alpha = color
    if input.ndim == 2:
        return np.float32(alpha)
    return np.array([red * alpha, green * alpha, blue * alpha, alpha], np.float32)


def _extend_check(params, connected):
    """Margins that alone (around a 1x1 picture) exceed the pixel budget."""
    sides = [params.get(name) for name in ("left", "right", "top", "bottom")]
    if not all(isinstance(side, int) for side in sides):
        return []
    left, right, top, bottom = sides
    return budget_check(1 + left + right, 1 + top + bottom, "left", "the extended canvas")


@node("extend", version=1, category="transform", check=_extend_check,
      inputs=[Input("input", "image|mask", doc="the picture to put on a larger canvas")],
      outputs=[Output("output", "image|mask", doc="the input on the larger canvas"),
               Output("added", "mask", doc="1 on the added canvas, 0 on the input's pixels")],
      params=[Param("left", "int", 0, min=0, doc="pixels added on the left"),
              Param("top", "int", 0, min=0, doc="pixels added at the top"),
              Param("right", "int", 0, min=0, doc="pixels added on the right"),
              Param("bottom", "int", 0, min=0, doc="pixels added at the bottom"),
              Param("fill", "choice", "transparent", choices=FILLS,
                    doc="what the new canvas holds: transparent, edge (repeat the border "
                        "pixels), mirror (reflect the picture), color"),
              Param("color", "color", (0.0, 0.0, 0.0, 1.0),
                    doc="colour of a `color` fill (linear RGBA; a mask uses its alpha)")])
def extend(input, *, left, top, right, bottom, fill, color):
    """Add canvas around a picture; `added` marks the new canvas (what outpainting fills).

    The output is (height + top + bottom) x (width + left + right). `mirror` reflects the
    picture about its border pixels without repeating them (OpenCV's BORDER_REFLECT_101),
    and keeps reflecting when the margin is wider than the picture. Feed `added` to an
    inpaint node (`method: patch`) to outpaint, or use the built-in `outpaint` template.
    """
    require_budget(input.shape[0] + top + bottom, input.shape[1] + left + right,
                   "the extended canvas")
    pad = ((top, bottom), (left, right)) + ((0, 0),) * (input.ndim - 2)
    if fill == "transparent":
        out = np.pad(input, pad, mode="constant")
    elif fill == "color":
        out = np.empty((input.shape[0] + top + bottom, input.shape[1] + left + right)
                       + input.shape[2:], np.float32)
        out[...] = _fill_value(input, color)
        out[top:top + input.shape[0], left:left + input.shape[1]] = input
    else:
        if fill == "mirror" and min(input.shape[:2]) < 2:
            raise NodeInputError("mirror fill needs an input at least 2 pixels on each side")
        out = np.pad(input, pad, mode="edge" if fill == "edge" else "reflect")
    added = np.ones(out.shape[:2], np.float32)
    added[top:top + input.shape[0], left:left + input.shape[1]] = 0.0
    return {"output": np.ascontiguousarray(out, dtype=np.float32), "added": added}


# ---------------------------------------------------------------- resize

def _resize_check(params, connected):
    if params.get("width") is not None and params.get("height") is not None:
        if problems := budget_check(params["width"], params["height"], "width",
                                    "the resized picture"):
            return problems
    sizes = [params.get(name) for name in ("width", "height")]
    if params.get("scale") is not None and any(size is not None for size in sizes):
        return [("scale", "give either scale or width/height, not both")]
    if params.get("scale") is None and all(size is None for size in sizes):
        return [("width", "give width and/or height, or scale")]
    return []


def output_size(height, width, *, new_width=None, new_height=None, scale=None):
    """(height, width) after resizing; a single given side keeps the aspect ratio."""
    if scale is not None:
        return max(1, round(height * scale)), max(1, round(width * scale))
    if new_width is None:
        new_width = max(1, round(width * new_height / height))
    if new_height is None:
        new_height = max(1, round(height * new_width / width))
    return int(new_height), int(new_width)


def resample(input, out_height, out_width, filter_name):
    """Resize an (H, W) or (H, W, C) float32 array with a separable filter.

    The pass that shrinks the data more runs first, so the second pass touches fewer
    pixels. Returns a new float32 array of the input's layout.
    """
    source = _as_channels(input)
    height, width, channels = source.shape
    x_indices, x_weights = filter_weights(width, out_width, filter_name)
    y_indices, y_weights = filter_weights(height, out_height, filter_name)
    if filter_name == "nearest":  # a gather: one tap of weight 1 per axis
        out = np.empty((out_height, out_width, channels), np.float32)
        gather(source, y_indices[:, 0].copy(), x_indices[:, 0].copy(), out)
        return out[:, :, 0] if input.ndim == 2 else out
    if out_width * height <= out_height * width:
        middle = np.empty((height, out_width, channels), np.float32)
        resample_columns(source, x_indices, x_weights, middle)
        out = np.empty((out_height, out_width, channels), np.float32)
        resample_rows(middle, y_indices, y_weights, out)
    else:
        middle = np.empty((out_height, width, channels), np.float32)
        resample_rows(source, y_indices, y_weights, middle)
        out = np.empty((out_height, out_width, channels), np.float32)
        resample_columns(middle, x_indices, x_weights, out)
    return out[:, :, 0] if input.ndim == 2 else out


@node("resize", version=1, category="transform",
      inputs=[Input("input", "image|mask", doc="the picture to resize")],
      outputs=[Output("output", "image|mask", doc="the resized picture")],
      params=[Param("width", "int", None, min=1, optional=True,
                    doc="output width in pixels (alone: height follows the aspect ratio)"),
              Param("height", "int", None, min=1, optional=True,
                    doc="output height in pixels (alone: width follows the aspect ratio)"),
              Param("scale", "float", None, min=0.0001, optional=True,
                    doc="size factor instead of width/height (0.5 halves each side)"),
              Param("filter", "choice", "bicubic", choices=FILTERS,
                    doc="nearest, bilinear, bicubic (Keys a=-0.5) or lanczos (3 lobes)")],
      check=_resize_check)
def resize(input, *, width, height, scale, filter):
    """Change a picture's size in pixels.

    Filters follow Pillow's and Nuke's conventions: pixel centres at i + 0.5, and when
    shrinking the filter widens with the scale factor, so downscaling is antialiased.
    Images are filtered premultiplied, so transparent pixels never darken an edge. Bicubic
    and lanczos ring slightly at hard edges (values may overshoot [0, 1] a little on images,
    as in Nuke); a mask's result is clamped to [0, 1].
    """
    out_height, out_width = output_size(input.shape[0], input.shape[1], new_width=width,
                                        new_height=height, scale=scale)
    require_budget(out_height, out_width, "the resized picture")
    out = resample(input, out_height, out_width, filter)
    if input.ndim == 2:
        np.clip(out, 0.0, 1.0, out=out)
    return out


# ---------------------------------------------------------------- transform

WARP_FILTERS = {"bilinear": warp_bilinear, "bicubic": warp_bicubic}


def transform_matrix(translate, rotate, scale, center) -> np.ndarray:
    """3x3: scale and turn `rotate` degrees (counter-clockwise on screen, y down) about
    `center`, then move by `translate`; continuous pixel coordinates."""
    angle = np.radians(rotate)
    cosine, sine = np.cos(angle), np.sin(angle)
    linear = np.array([[cosine, sine], [-sine, cosine]]) @ np.diag(scale)
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = np.asarray(center) + np.asarray(translate) - linear @ np.asarray(center)
    return matrix


@node("transform", version=1, category="transform",
      inputs=[Input("input", "image|mask", doc="the picture to move"),
              Input("track", "track", optional=True,
                    doc="follow a `track` node: the motion from its reference frame")],
      outputs=[Output("output", "image|mask", doc="the moved picture, same size")],
      params=[Param("translate", "vec2", (0.0, 0.0), doc="move by [x, y] pixels"),
              Param("rotate", "float", 0.0, doc="turn, degrees counter-clockwise"),
              Param("scale", "vec2", (1.0, 1.0), doc="scale [x, y] about the center"),
              Param("center", "vec2", None, optional=True,
                    doc="pivot of rotate and scale, px (default: the picture's centre)"),
              Param("invert", "bool", False,
                    doc="apply the inverse motion (with a track: stabilise the shot)"),
              Param("filter", "choice", "bilinear", choices=tuple(WARP_FILTERS),
                    doc="bilinear, or bicubic (Keys a=-0.75, as OpenCV's INTER_CUBIC)")])
def transform(input, track=None, *, translate, rotate, scale, center, invert, filter):
    """Move, turn and scale an image or mask, or move it as a track says.

    The params' transform (scale and rotate about `center`, then translate) is applied
    after the track's (reference frame -> this frame), so a matchmove can be nudged;
    `invert: true` applies the inverse, which with a track stabilises the shot on the
    tracked points. The canvas keeps its size; what comes from outside the input is
    transparent. Images are filtered premultiplied (no dark fringes at soft edges);
    a mask's result is clamped to [0, 1].
    """
    height, width = input.shape[:2]
    pivot = center if center is not None else (width / 2.0, height / 2.0)
    matrix = transform_matrix(translate, rotate, scale, pivot)
    if track is not None:
        matrix = matrix @ np.asarray(track[:3], np.float64)
    if abs(np.linalg.det(matrix)) < 1e-12:
        raise NodeInputError("the transform squashes the picture to nothing (scale 0, or "
                             "a degenerate track)", hint="check scale, or the track's points")
    inverse = matrix if invert else np.linalg.inv(matrix)
    source = _as_channels(input)
    out = np.empty(source.shape, np.float32)
    WARP_FILTERS[filter](source, np.ascontiguousarray(inverse), out)
    if input.ndim == 2:
        np.clip(out, 0.0, 1.0, out=out)
        return out[:, :, 0]
    return out
