"""Node specs: colour corrections (grade, cdl, saturation, hue_shift, exposure) and the
alpha-state nodes (premultiply, unpremultiply, set_alpha, to_mask).

Images are (H, W, 4) float32 premultiplied linear RGBA. The colour nodes change RGB and
keep alpha; they are maskable (the framework blends the result with the input through
`mask` and `mix`).
"""
from __future__ import annotations

import math

import numpy as np

from graph import buffers
from graph.spec import Input, Output, Param, Pointwise, node
from nodes.common import require_same_size
from nodes.kernels.bands import run_bands
from nodes.kernels.color import (REC709_WEIGHTS, premultiply_into, premultiply_pixel,
                                 unpremultiply_into, unpremultiply_pixel)
from nodes.kernels.grading import (CDL_PIXELS, GRADE_PIXELS, cdl_rows, grade_rows,
                                   matrix_pixel, matrix_rows, repremultiply_rows,
                                   set_alpha_pixel, set_alpha_rows)

IMAGE_IN = [Input("input", "image", doc="the picture to correct")]
IMAGE_OUT = [Output("output", "image", doc="the corrected picture")]


def _rows(image: np.ndarray) -> np.ndarray:
    """(H, W, 4) image -> contiguous float32 (H, W*4) row view (a copy only if needed)."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    return image.reshape(image.shape[0], -1)


def _channels(values) -> np.ndarray:
    """Per-channel param values -> contiguous (3,) float32 array."""
    return np.ascontiguousarray(values, dtype=np.float32)


def _through_straight(image: np.ndarray, correct) -> np.ndarray:
    """Apply `correct(rows, out_rows)` to the unpremultiplied colour, then premultiply.

    Pixels with alpha 0 have no straight colour and pass unchanged.
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    straight = np.empty_like(image)
    unpremultiply_into(image, straight)
    graded = np.empty_like(image)
    correct(_rows(straight), _rows(graded))
    out = buffers.empty(image.shape, np.float32)
    repremultiply_rows(_rows(graded), _rows(image), _rows(out))
    return out


def _correct(image: np.ndarray, correct, unpremult: bool) -> np.ndarray:
    """Run a row kernel `correct(rows, out_rows)` on the image, optionally unpremultiplied."""
    if unpremult:
        return _through_straight(image, correct)
    out = buffers.empty(image.shape, np.float32)
    correct(_rows(image), _rows(out))
    return out


# ---------------------------------------------------------------- grade

def _positive_check(name):
    def check(params, connected):
        values = params.get(name)
        if values is not None and min(values) <= 0:
            return [(name, f"must be > 0 in every channel, found {list(values)}")]
        return []
    return check


def _grade_check(params, connected):
    problems = _positive_check("gamma")(params, connected)
    black, white = params.get("blackpoint"), params.get("whitepoint")
    if black is not None and white is not None and any(b == w for b, w in zip(black, white)):
        problems.append(("whitepoint", "must differ from blackpoint in every channel "
                                       f"(found {list(white)} and {list(black)})"))
    return problems


def grade_coefficients(blackpoint, whitepoint, black, white, multiply, add, gamma):
    """Nuke's Grade as slope, offset and power per channel: (slope*x + offset) ** power.

    Returns three (3,) float32 arrays.
    """
    blackpoint, whitepoint, black, white, multiply, add, gamma = (
        np.asarray(v, np.float64) for v in (blackpoint, whitepoint, black, white, multiply,
                                             add, gamma))
    slope = multiply * (white - black) / (whitepoint - blackpoint)
    offset = add + black - slope * blackpoint
    return _channels(slope), _channels(offset), _channels(1.0 / gamma)


def _grade_arrays(blackpoint, whitepoint, black, white, multiply, add, gamma, black_clamp,
                  white_clamp):
    """slope, offset, power, lower and upper clamp bounds: five (3,) float32 arrays."""
    slope, offset, power = grade_coefficients(blackpoint, whitepoint, black, white,
                                              multiply, add, gamma)
    lower = np.full(3, 0.0 if black_clamp else -np.inf, np.float32)
    upper = np.full(3, 1.0 if white_clamp else np.inf, np.float32)
    return slope, offset, power, lower, upper


def _grade_pixel(*, unpremult, **params):
    """grade's per-pixel form: grade_pixel and its values (see nodes/kernels/grading.py)."""
    arrays = _grade_arrays(**params)
    has_power = bool(np.any(arrays[2] != 1.0))
    return GRADE_PIXELS[bool(unpremult), has_power], np.concatenate(arrays)


def _cdl_pixel(*, slope, offset, power, saturation, clamp, unpremult):
    """cdl's per-pixel form: the variant for its power and unpremult, and its values."""
    power = _channels(power)
    values = np.concatenate([_channels(slope), _channels(offset), power,
                             np.float32([saturation, clamp])])
    return CDL_PIXELS[bool(unpremult), bool(np.any(power != 1.0))], values


def _matrix_form(make_matrix):
    """A per-pixel form `kernel(**params)` for a node that applies make_matrix(**params)."""
    def kernel(**params):
        return matrix_pixel, np.ascontiguousarray(make_matrix(**params), np.float32).ravel()
    return kernel


def _fixed_form(pixel):
    """The per-pixel form of a node without params."""
    return lambda: (pixel, np.zeros(1, np.float32))


def _per_channel(name, default, doc, **limits):
    return Param(name, "floats", default, length=3, doc=doc, **limits)


@node("grade", version=1, category="color", maskable=True, inputs=IMAGE_IN, outputs=IMAGE_OUT,
      params=[_per_channel("blackpoint", 0.0, "input value mapped to black (`black`)"),
              _per_channel("whitepoint", 1.0, "input value mapped to white (`white`)"),
              _per_channel("black", 0.0, "lift: the output value of blackpoint"),
              _per_channel("white", 1.0, "gain: the output value of whitepoint"),
              _per_channel("multiply", 1.0, "multiplies the result of the levels"),
              _per_channel("add", 0.0, "offset added after multiply"),
              _per_channel("gamma", 1.0, "out = value ** (1 / gamma); > 0", min=0.0),
              Param("black_clamp", "bool", True, doc="clamp results below 0 to 0"),
              Param("white_clamp", "bool", False, doc="clamp results above 1 to 1"),
              Param("unpremult", "bool", False,
                    doc="grade the unpremultiplied colour, then premultiply again")],
      check=_grade_check, pointwise=Pointwise(_grade_pixel, "input"))
def grade(input, *, blackpoint, whitepoint, black, white, multiply, add, gamma, black_clamp,
          white_clamp, unpremult):
    """Levels, lift, gain, offset and gamma, as Nuke's Grade.

    Per channel (each param a number or [r, g, b]):

        A = multiply * (white - black) / (whitepoint - blackpoint)
        B = add + black - A * blackpoint
        out = (A * x + B) ** (1 / gamma)     (values <= 0 skip the gamma)

    then `black_clamp` sets negative results to 0 and `white_clamp` results above 1 to 1.
    Alpha is unchanged. The grade applies to the premultiplied values as they are (Nuke's
    default); `unpremult: true` grades the straight colour and premultiplies again, so
    that a lift or an offset does not lighten soft edges (pixels with alpha 0 are left as
    they are). Note that a grade at its defaults is not an identity: the black clamp sets
    negative values to 0.
    """
    slope, offset, power, lower, upper = _grade_arrays(blackpoint, whitepoint, black, white,
                                                       multiply, add, gamma, black_clamp,
                                                       white_clamp)
    use_power = bool(np.any(power != 1.0))

    def correct(rows, out_rows):
        grade_rows(rows, slope, offset, power, lower, upper, use_power, out_rows)
    return _correct(input, correct, unpremult)


# ---------------------------------------------------------------- cdl

@node("cdl", version=1, category="color", maskable=True, inputs=IMAGE_IN, outputs=IMAGE_OUT,
      params=[_per_channel("slope", 1.0, "multiplies the value (>= 0)", min=0.0),
              _per_channel("offset", 0.0, "added after the slope"),
              _per_channel("power", 1.0, "exponent applied after slope and offset (> 0)",
                           min=0.0),
              Param("saturation", "float", 1.0, min=0.0,
                    doc="saturation around Rec.709 luma (1 = unchanged)"),
              Param("clamp", "bool", True,
                    doc="ASC v1.2 clamps to [0, 1]; false: no clamps, negatives skip power"),
              Param("unpremult", "bool", False,
                    doc="correct the unpremultiplied colour, then premultiply again")],
      check=_positive_check("power"), pointwise=Pointwise(_cdl_pixel, "input"))
def cdl(input, *, slope, offset, power, saturation, clamp, unpremult):
    """ASC CDL v1.2 (slope, offset, power, saturation), as OpenColorIO applies it.

        c = clamp(x * slope + offset, 0, 1) ** power
        L = 0.2126 R + 0.7152 G + 0.0722 B       (of c)
        out = clamp(L + saturation * (c - L), 0, 1)

    `clamp: false` is OpenColorIO's no-clamp style: both clamps are dropped and values
    <= 0 skip the power. Alpha is unchanged. Values are corrected as they are stored
    (premultiplied) unless `unpremult` is set.
    """
    slope, offset, power = _channels(slope), _channels(offset), _channels(power)
    saturation = np.float32(saturation)

    def correct(rows, out_rows):
        cdl_rows(rows, slope, offset, power, saturation, bool(clamp), out_rows)
    return _correct(input, correct, unpremult)


# ---------------------------------------------------------------- colour matrices

def _apply_matrix(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """RGB' = matrix @ RGB for every pixel of a (H, W, 4) image; alpha unchanged."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return _correct(image, lambda rows, out_rows: matrix_rows(rows, matrix, out_rows), False)


def saturation_matrix(amount: float) -> np.ndarray:
    """(3, 3) matrix scaling colour away from Rec.709 luma by `amount`; luma is kept."""
    weights = np.array(REC709_WEIGHTS, np.float64)
    return (1.0 - amount) * np.outer(np.ones(3), weights) + amount * np.eye(3)


def hue_rotation_matrix(degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about the grey axis (1, 1, 1); +120 maps red to green."""
    angle = math.radians(degrees)
    axis = np.ones(3) / math.sqrt(3.0)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]],
                      [-axis[1], axis[0], 0.0]])
    return (math.cos(angle) * np.eye(3) + math.sin(angle) * cross
            + (1.0 - math.cos(angle)) * np.outer(axis, axis))


@node("saturation", version=1, category="color", maskable=True, inputs=IMAGE_IN,
      outputs=IMAGE_OUT,
      params=[Param("amount", "float", 1.0, min=0.0,
                    doc="0 = grey (Rec.709 luma), 1 = unchanged, > 1 more saturated")],
      pointwise=Pointwise(_matrix_form(saturation_matrix), "input"))
def saturation(input, *, amount):
    """Scale saturation while keeping Rec.709 luma.

    out = L + amount * (rgb - L), L = 0.2126 R + 0.7152 G + 0.0722 B. Linear, so it gives
    the same result on premultiplied and straight colour. Alpha is unchanged.
    """
    return _apply_matrix(input, saturation_matrix(amount))


@node("hue_shift", version=1, category="color", maskable=True, inputs=IMAGE_IN,
      outputs=IMAGE_OUT,
      params=[Param("degrees", "float", 0.0, doc="hue rotation in degrees (+ = red towards "
                                                 "yellow and green)")],
      pointwise=Pointwise(_matrix_form(hue_rotation_matrix), "input"))
def hue_shift(input, *, degrees):
    """Rotate hues about the grey axis.

    A rotation of the RGB cube about the axis r = g = b: greys stay grey, saturation
    and the mean of r, g, b are kept, and +120 degrees turns red into green, green into
    blue and blue into red exactly (as the HSV hue would move). Intermediate angles
    follow the rotation, which is close to, not equal to, an HSV hue shift. Linear, so it
    works on premultiplied colour directly. Alpha is unchanged.
    """
    return _apply_matrix(input, hue_rotation_matrix(degrees))


@node("exposure", version=1, category="color", maskable=True, inputs=IMAGE_IN,
      outputs=IMAGE_OUT,
      params=[Param("stops", "float", 0.0, doc="exposure change in stops: RGB * 2 ** stops")],
      pointwise=Pointwise(_matrix_form(lambda stops: exposure_matrix(stops)), "input"))
def exposure(input, *, stops):
    """Change exposure by a number of stops (RGB multiplied by 2 ** stops; alpha kept)."""
    return _apply_matrix(input, exposure_matrix(stops))


def exposure_matrix(stops: float) -> np.ndarray:
    """(3, 3) matrix multiplying RGB by 2 ** stops."""
    return np.eye(3) * 2.0 ** stops


# ---------------------------------------------------------------- alpha state

@node("premultiply", version=1, category="alpha", inputs=IMAGE_IN, outputs=IMAGE_OUT,
      pointwise=Pointwise(_fixed_form(premultiply_pixel), "input"))
def premultiply(input):
    """Multiply RGB by alpha: for an image that arrived with straight (unpremultiplied)
    colour although it was read as premultiplied."""
    image = np.ascontiguousarray(input, dtype=np.float32)
    out = np.empty_like(image)
    premultiply_into(image, out)
    return out


@node("unpremultiply", version=1, category="alpha", inputs=IMAGE_IN, outputs=IMAGE_OUT,
      pointwise=Pointwise(_fixed_form(unpremultiply_pixel), "input"))
def unpremultiply(input):
    """Divide RGB by alpha (pixels with alpha 0 keep their colour): for an image that is
    premultiplied twice, or to hand straight colour to a node that expects it."""
    image = np.ascontiguousarray(input, dtype=np.float32)
    out = np.empty_like(image)
    unpremultiply_into(image, out)
    return out


@node("set_alpha", version=1, category="alpha",
      inputs=[Input("input", "image", doc="the picture that receives the alpha"),
              Input("alpha", "mask", doc="the new alpha (or the factor, mode multiply)")],
      outputs=[Output("output", "image", doc="the picture with its new alpha")],
      params=[Param("mode", "choice", "replace", choices=("replace", "multiply"),
                    doc="replace: alpha = mask; multiply: alpha = alpha * mask")],
      pointwise=Pointwise(lambda mode: (set_alpha_pixel, np.float32([mode == "multiply"])),
                          "input", sides=("alpha",)))
def set_alpha(input, alpha, *, mode):
    """Make a mask the image's alpha channel ("alpha channel export").

    replace: the straight colour is kept and premultiplied by the mask, and the mask
    becomes the alpha (an opaque plate becomes a cut-out). multiply: the image is scaled
    by the mask (alpha and colour together), which keeps an existing cut-out and fades it
    further. The result is premultiplied as every image is, so `write` to a PNG or TIFF
    stores straight colour with this alpha and other applications composite it correctly.
    """
    require_same_size(input=input, alpha=alpha)
    image = np.ascontiguousarray(input, dtype=np.float32)
    mask = np.ascontiguousarray(alpha, dtype=np.float32)
    out = np.empty_like(image)
    run_bands(set_alpha_rows, image.shape[0], image.shape[1] * 4,
              _rows(image), mask, mode == "multiply", _rows(out))
    return out


CHANNEL_INDEX = {"red": 0, "green": 1, "blue": 2, "alpha": 3}
TO_MASK_CHANNELS = ("alpha", "red", "green", "blue", "luma")


@node("to_mask", version=1, category="alpha",
      inputs=[Input("input", "image", doc="the picture to take a channel from")],
      outputs=[Output("output", "mask", doc="the channel, clamped to [0, 1]")],
      params=[Param("channel", "choice", "alpha", choices=TO_MASK_CHANNELS,
                    doc="alpha, red, green, blue, or Rec.709 luma of RGB")])
def to_mask(input, *, channel):
    """Turn a channel of an image into a mask (the way from an image to a mask).

    The value is taken as stored (linear, premultiplied: transparent pixels give 0) and
    clamped to [0, 1]. `luma` is 0.2126 R + 0.7152 G + 0.0722 B.
    """
    image = np.asarray(input, dtype=np.float32)
    if channel == "luma":
        values = image[..., :3] @ np.asarray(REC709_WEIGHTS, np.float32)
    else:
        values = image[..., CHANNEL_INDEX[channel]]
    return np.clip(values, 0.0, 1.0).astype(np.float32)
