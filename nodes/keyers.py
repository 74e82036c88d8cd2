"""Node specs: keyers and selections (chroma_key, despill, luma_key, color_range,
difference_key).

The wrappers validate, allocate and hand float32 arrays to nodes/kernels/keying.py.
The chroma key's backing analysis (dominant screen colour, clean-plate grid) works on a
sparse sample of the plate and a small grid, in numpy.
"""
from __future__ import annotations

import cv2
import numpy as np

from graph import buffers
from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.common import require_same_size
from nodes.kernels import keying
from nodes.kernels.bands import run_bands
from nodes.kernels.color import REC709_WEIGHTS

SCREEN_PRIMARIES = {"green": 1, "blue": 2}
PURE_SCREENS = {"green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}
METHOD_MAX_WEIGHTS = {"average": 0.5, "max": 1.0}
SAMPLE_TARGET = 65536
_ENCODE_TABLE = []


def encode_table() -> np.ndarray:
    """The shared sRGB encoding table (built once per process)."""
    if not _ENCODE_TABLE:
        _ENCODE_TABLE.append(keying.encode_table())
    return _ENCODE_TABLE[0]


def as_kernel_array(array: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 view or copy (one numba specialisation for every caller)."""
    return np.ascontiguousarray(array, dtype=np.float32)


def channel_order(primary: int) -> np.ndarray:
    """(3,) int64: the primary channel index, then the two others."""
    return np.array([primary] + [c for c in range(3) if c != primary], np.int64)


def color_differences(colors: np.ndarray, channels: np.ndarray, max_weight: float):
    """Screen-balanced colour difference of (..., 3) colours (numpy twin of the kernel's)."""
    primary = colors[..., channels[0]]
    others = colors[..., channels[1:]]
    return primary - (max_weight * others.max(-1) + (1 - max_weight) * others.min(-1))


def plate_samples(image: np.ndarray) -> np.ndarray:
    """(N, 3) colours on a regular sparse lattice of about SAMPLE_TARGET pixels."""
    height, width = image.shape[:2]
    step = max(1, int(np.sqrt(height * width / SAMPLE_TARGET)))
    return image[step // 2::step, step // 2::step, :3].reshape(-1, 3).astype(np.float64)


def estimate_screen(image: np.ndarray, primary: int | None = None) -> tuple[np.ndarray, int]:
    """The dominant backing colour of a plate and its primary channel.

    The primary channel (unless given) is the one whose excess over the other two,
    summed over the plate, is largest; the screen colour is the median of the pixels
    whose excess is at least half the 95th percentile excess (the clean backing).

    Returns
    -------
    screen : (3,) float32 linear colour.
    primary : 0, 1 or 2.
    """
    samples = plate_samples(image)
    if primary is None:
        excess = [np.clip(color_differences(samples, channel_order(c), 1.0), 0, None).sum()
                  for c in range(3)]
        primary = int(np.argmax(excess))
    difference = color_differences(samples, channel_order(primary), 1.0)
    strong = difference >= 0.5 * np.percentile(difference, 95)
    if difference.max() <= 0 or not strong.any():
        screen = np.zeros(3)
        screen[primary] = 1.0
        return screen.astype(np.float32), primary
    return np.median(samples[strong], axis=0).astype(np.float32), primary


def fill_missing(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown cells of a 2-D grid from coarser averages of the known ones (push-pull)."""
    if known.all() or not known.any():
        return values
    height, width = values.shape
    padded_h, padded_w = height + height % 2, width + width % 2
    sums = np.zeros((padded_h, padded_w))
    weights = np.zeros((padded_h, padded_w))
    sums[:height, :width] = np.where(known, values, 0.0)
    weights[:height, :width] = known
    coarse_sums = sums.reshape(padded_h // 2, 2, padded_w // 2, 2).sum((1, 3))
    coarse_weights = weights.reshape(padded_h // 2, 2, padded_w // 2, 2).sum((1, 3))
    coarse_known = coarse_weights > 0
    coarse = np.where(coarse_known, coarse_sums / np.maximum(coarse_weights, 1), 0.0)
    coarse = fill_missing(coarse, coarse_known)
    upsampled = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[:height, :width]
    return np.where(known, values, upsampled)


def smooth_grid(values: np.ndarray) -> np.ndarray:
    """One pass of a separable [1, 2, 1] / 4 filter with edge replication."""
    for axis in (0, 1):
        padded = np.pad(values, [(1, 1) if a == axis else (0, 0) for a in (0, 1)], "edge")
        before = padded[:-2] if axis == 0 else padded[:, :-2]
        centre = padded[1:-1] if axis == 0 else padded[:, 1:-1]
        after = padded[2:] if axis == 0 else padded[:, 2:]
        values = 0.25 * before + 0.5 * centre + 0.25 * after
    return values


def backing_cell_size(height: int, width: int) -> int:
    """Cell size in pixels of the clean-plate grid: about 96 cells across the long side."""
    return max(8, -(-max(height, width) // 96))


def backing_cell_colors(image, screen, channels, max_weight):
    """(GH, GW, 3) mean colour of the confident backing pixels per cell, (GH, GW) bool
    where a cell has enough of them, and the cell size in pixels."""
    height, width = image.shape[:2]
    cell = backing_cell_size(height, width)
    step = max(1, cell // 8)
    sums = np.zeros((-(-height // cell), -(-width // cell), 4))
    run_bands(keying.backing_cell_sums, sums.shape[0], width * cell // (step * step),
              image, screen, channels, float(max_weight), cell, step, sums)
    counts = sums[..., 3]
    known = counts >= max(3.0, 0.1 * (cell / step) ** 2)
    return sums[..., :3] / np.maximum(counts, 1)[..., None], known, cell


def local_screen_differences(image, screen, channels, max_weight, local: bool):
    """(GH, GW) float32 grid of the screen's colour difference, and the cell size.

    With `local`, each cell holds the difference of the mean colour of its confident
    backing pixels; cells with too few fill from their neighbours (push-pull).
    """
    height, width = image.shape[:2]
    cell = backing_cell_size(height, width)
    global_difference = float(color_differences(screen.astype(np.float64), channels, max_weight))
    grid_shape = (-(-height // cell), -(-width // cell))
    if not local:
        return np.full(grid_shape, global_difference, np.float32), cell
    colors, known, cell = backing_cell_colors(image, screen, channels, max_weight)
    differences = np.where(known, color_differences(colors, channels, max_weight), 0.0)
    if not known.any():
        differences[:] = global_difference
    differences = smooth_grid(fill_missing(differences, known))
    return np.ascontiguousarray(differences, np.float32), cell


def local_backing(image, screen, channels) -> np.ndarray:
    """(H, W, 3) float32 smooth estimate of the backing's colour everywhere (a clean
    plate): the per-cell means of `backing_cell_colors`, filled under the subject,
    smoothed and interpolated bilinearly (cell centres at (i + 0.5) * cell)."""
    height, width = image.shape[:2]
    colors, known, cell = backing_cell_colors(image, screen, channels, 1.0)
    if not known.any():
        return np.broadcast_to(screen.astype(np.float32), (height, width, 3))
    grid = np.stack([smooth_grid(fill_missing(colors[..., c], known)) for c in range(3)], -1)
    grid = grid.astype(np.float32)
    full = cv2.resize(grid, (grid.shape[1] * cell, grid.shape[0] * cell),
                      interpolation=cv2.INTER_LINEAR)
    return full[:height, :width]


def optional_mask(mask) -> tuple[np.ndarray, bool]:
    """A mask for a kernel, or a 1x1 dummy and False when not connected."""
    if mask is None:
        return np.zeros((1, 1), np.float32), False
    return as_kernel_array(mask), True


def resolve_screen(image, screen) -> tuple[np.ndarray, int]:
    """Screen colour and primary channel from the `screen` param value."""
    if isinstance(screen, str):
        return estimate_screen(image, SCREEN_PRIMARIES.get(screen))
    color = np.array(screen[:3], np.float32)
    return color, int(np.argmax(color))


def fill_enclosed_holes(matte, see_through, backing) -> None:
    """Set to 1, in place, the see-through regions of `matte` (8-connected regions of
    `see_through`, (H, W) uint8) that hold no pixel of `backing` ((H, W) uint8, 1 =
    surely the backing's own colour): a blue badge on a costume before a blue screen (a
    colour-difference key cannot tell it from the screen, but a real hole in the
    subject would show the backing)."""
    count, labels = cv2.connectedComponents(see_through, None, 8)
    holding = np.zeros(count, bool)
    keying.labels_holding(labels, backing, holding)
    holding[0] = True                                  # label 0: the subject itself
    if not holding.all():
        run_bands(keying.set_where_label, matte.shape[0], matte.shape[1],
                  matte, labels, ~holding, np.float32(1.0))


HOLE_LEVEL = 0.98


@node("chroma_key", version=2, category="keyers",
      inputs=[Input("input", "image", doc="the plate shot against a green or blue backing"),
              Input("garbage", "mask", optional=True, doc="where the result is forced to 0"),
              Input("core", "mask", optional=True, doc="where the result is forced to 1")],
      outputs=[Output("output", "mask", doc="1 = subject, 0 = backing")],
      params=[Param("screen", "color", "auto", keywords=("auto", "green", "blue"),
                    doc="backing colour; auto estimates it (green/blue: auto with that primary)"),
              Param("tolerance", "float", 0.05, min=0.0, max=1.0,
                    doc="raw alpha up to this is backing (absorbs backing noise)"),
              Param("softness", "float", 0.8, min=0.0,
                    doc="raw alpha at which the result reaches 1"),
              Param("balance", "float", 0.5, min=0.0, max=1.0,
                    doc="screen balance: weight of max (vs min) of the other two channels"),
              Param("local", "bool", True,
                    doc="follow uneven lighting of the backing (clean-plate estimate)"),
              Param("fill_holes", "bool", True,
                    doc="see-through regions that show no backing colour are subject"),
              Param("invert", "bool", False, doc="output 1 = backing instead")])
def chroma_key(input, garbage=None, core=None, *, screen, tolerance, softness, balance,
               local, fill_holes, invert):
    """Key a subject off a green or blue backing (colour-difference keyer).

    A Keylight/IBK-style colour-difference key: for a screen whose primary channel is P
    (green or blue) and other channels A, B, the difference D = P - (balance * max(A, B)
    + (1 - balance) * min(A, B)); the raw alpha is 1 - D(pixel) / D(screen), so a pixel
    that is a mix of subject and backing gets a partial alpha (hair, motion blur).
    The raw alpha then maps to the output: <= tolerance -> 0 (backing noise); above, a
    knee that rises at twice the slope to meet raw / softness at 2 x tolerance, then
    raw / softness up to 1. The noise is removed without shifting every partial alpha
    down (faint hair and the tails of motion blur survive). A pixel whose 3x3
    neighbourhood's mean raw alpha is at most tolerance is backing too: isolated
    specks of backing noise go, while a thin strand's neighbours carry it.

    `screen: auto` picks the dominant backing colour from the plate. With `local` (the
    default) the screen colour is also measured per region of about 1/96 of the frame
    from confidently-backing pixels, filled in under the subject and interpolated, so
    an unevenly lit backing keys cleanly without holes in the subject.
    With `fill_holes` (the default), a see-through region (result < 0.98) that holds no
    pixel of the backing's own colour is set to 1: a badge or a garment of the screen's
    hue inside the subject. A real gap in the subject shows the backing and stays.
    The `core` mask forces 1 (max), the `garbage` mask forces 0 (multiplies by
    1 - garbage), then `invert` applies. Works on the plate's premultiplied values.
    """
    require_same_size(input=input, garbage=garbage, core=core)
    image = as_kernel_array(input)
    screen_color, primary = resolve_screen(image, screen)
    channels = channel_order(primary)
    differences, cell = local_screen_differences(image, screen_color, channels, balance, local)
    raw = np.empty(image.shape[:2], np.float32)
    backing = np.empty(image.shape[:2], np.uint8)
    run_bands(keying.raw_alpha_into, raw.shape[0], raw.shape[1] * 4, image, differences,
              float(cell), screen_color, channels, float(balance), raw, backing)
    out = buffers.empty(image.shape[:2], np.float32)
    see_through = np.empty(image.shape[:2], np.uint8)
    run_bands(keying.key_from_raw_into, out.shape[0], out.shape[1],
              raw, float(tolerance), float(softness), HOLE_LEVEL, out, see_through)
    if fill_holes:
        fill_enclosed_holes(out, see_through, backing)
    garbage_mask, use_garbage = optional_mask(garbage)
    core_mask, use_core = optional_mask(core)
    if use_garbage or use_core or invert:
        run_bands(keying.finish_matte, out.shape[0], out.shape[1],
                  out, garbage_mask, core_mask, use_garbage, use_core, bool(invert))
    return out


@node("despill", version=2, category="keyers", maskable=True,
      inputs=[Input("input", "image", doc="the plate or keyed foreground"),
              Input("matte", "mask", optional=True,
                    doc="the key: the backing seen through partial pixels is taken out "
                        "first, and the result is the cut-out with this alpha")],
      outputs=[Output("output", "image", doc="the image with the spill removed")],
      params=[Param("screen", "color", "green", keywords=("green", "blue", "auto"),
                    doc="spill colour: green, blue, a colour, or auto (estimated backing)"),
              Param("method", "choice", "average", choices=("average", "max"),
                    doc="spill limit: average or max of the other two channels"),
              Param("amount", "float", 1.0, min=0.0, max=2.0,
                    doc="how much of the measured spill to remove"),
              Param("luminance", "choice", "auto", choices=("auto", "keep", "remove"),
                    doc="keep: the spill's luminance comes back as grey; remove: it goes "
                        "with the spill; auto: keep, or remove when a matte is given")])
def despill(input, matte=None, *, screen, method, amount, luminance):
    """Remove the backing's colour spill from a subject, keeping its luminance.

    The spill is the excess of the screen's primary channel over a limit made of the
    other two channels (`average`: their mean, softer; `max`: their maximum, stronger):
    t = (P - limit(A, B)) / (Ps - limit(As, Bs)) where positive. `amount * t` times the
    screen colour is subtracted and (`luminance: keep`) the Rec.709 luminance that
    removes is added back to all three channels, so brightness is kept. With
    `green`/`blue` the screen is the pure primary (the classic despill); with a colour
    or `auto` the spill is removed along the real backing colour. Works on
    premultiplied values (the operation commutes with premultiplication).

    Without `matte`, alpha is unchanged, and a partial pixel's share of the backing is
    treated as spill: its luminance comes back as grey (a hair strand turns light grey).
    With `matte` (the key), that share is taken out first: colour - (1 - matte) x alpha
    x the local backing colour (the backing measured around the subject, as chroma_key
    does, filled in under it), and alpha becomes alpha x matte. The result is the
    premultiplied cut-out, ready for `merge`; strands and motion blur keep the
    subject's hue (Keylight's screen subtraction). `luminance: auto` then removes the
    remaining spill without adding its luminance back: in a new scene the screen's
    light is gone, and adding it back as grey is what pales the strands.
    """
    image = as_kernel_array(input)
    if matte is not None:
        require_same_size(input=input, matte=matte)
        image = unmixed_foreground(image, as_kernel_array(matte), screen)
    if screen in PURE_SCREENS:
        screen_color = np.array(PURE_SCREENS[screen], np.float32)
    else:
        screen_color, _ = resolve_screen(as_kernel_array(input), screen)
    channels = channel_order(int(np.argmax(screen_color)))
    max_weight = METHOD_MAX_WEIGHTS[method]
    if float(color_differences(screen_color.astype(np.float64), channels, max_weight)) <= 0:
        return image
    keep = luminance == "keep" or (luminance == "auto" and matte is None)
    out = np.empty_like(image)
    run_bands(keying.despill_into, out.shape[0], out.shape[1] * 4,
              image, screen_color, channels, max_weight, float(amount), keep, out)
    return out


def unmixed_foreground(image, matte, screen) -> np.ndarray:
    """The cut-out of a plate under a key: (H, W, 4) colour - (1 - matte) x alpha x
    local backing (clamped at 0), alpha x matte."""
    backing_color, primary = resolve_screen(image, screen)
    backing = local_backing(image, backing_color, channel_order(primary))
    out = np.empty_like(image)
    run_bands(keying.unmix_backing_into, out.shape[0], out.shape[1] * 4,
              image, np.ascontiguousarray(backing), matte, out)
    return out


def window_check(*names):
    """Load-time check that each [low, high] param has low <= high."""
    def check(params, connected):
        return [(name, "low must not exceed high") for name in names
                if params.get(name) is not None and params[name][0] > params[name][1]]
    return check


def luma_key_check(params, connected):
    """low <= high."""
    if params.get("low") is not None and params.get("high") is not None:
        if params["low"] > params["high"]:
            return [("low", "low must not exceed high")]
    return []


@node("luma_key", version=1, category="keyers", split="rows", check=luma_key_check,
      inputs=[Input("input", "image")],
      outputs=[Output("output", "mask", doc="1 where luma lies in [low, high]")],
      params=[Param("low", "float", 0.5, doc="lowest luma fully selected"),
              Param("high", "float", 1.0, doc="highest luma fully selected"),
              Param("softness", "float", 0.1, min=0.0, doc="width of the ramps outside"),
              Param("weights", "floats", REC709_WEIGHTS, length=3,
                    doc="luma weights of red, green, blue (Rec.709 by default)"),
              Param("space", "choice", "encoded", choices=("encoded", "linear"),
                    doc="encoded: sRGB-encoded values (what the user sees); linear"),
              Param("invert", "bool", False, doc="select outside the range instead")])
def luma_key(input, *, low, high, softness, weights, space, invert):
    """Select by brightness: 1 where luma lies in [low, high].

    Luma is the weighted sum of the unpremultiplied colour, sRGB-encoded by default
    (`space: encoded`, the values a user sees and picks in a viewer) or linear. Outside
    [low, high] the mask falls linearly to 0 over `softness`; softness 0 gives a hard
    selection. `invert` selects the complement.
    """
    image = as_kernel_array(input)
    out = buffers.empty(image.shape[:2], np.float32)
    run_bands(keying.luma_key_into, out.shape[0], out.shape[1] * 4,
              image, np.array(weights, np.float32), float(low), float(high),
              float(softness), space == "encoded", bool(invert), encode_table(), out)
    return out


@node("color_range", version=1, category="keyers", split="rows",
      check=window_check("saturation", "value"),
      inputs=[Input("input", "image")],
      outputs=[Output("output", "mask", doc="1 where the colour is inside every window")],
      params=[Param("hue", "vec2", (0.0, 360.0), min=0.0, max=360.0,
                    doc="hue window [low, high] in degrees; low > high wraps through 360"),
              Param("saturation", "vec2", (0.0, 1.0), min=0.0, max=1.0,
                    doc="saturation window [low, high]"),
              Param("value", "vec2", (0.0, 1.0), min=0.0,
                    doc="value (max channel) window [low, high]"),
              Param("softness", "float", 0.05, min=0.0, max=1.0,
                    doc="ramp width outside the windows (x 360 degrees for hue)"),
              Param("space", "choice", "encoded", choices=("encoded", "linear"),
                    doc="encoded: sRGB-encoded values (what the user sees); linear"),
              Param("invert", "bool", False, doc="select outside the range instead")])
def color_range(input, *, hue, saturation, value, softness, space, invert):
    """Select a range of colours with an HSV qualifier (Photoshop's Color Range).

    HSV is computed from the unpremultiplied colour, sRGB-encoded by default (as
    OpenCV's cvtColor would on the displayed values). The mask is the minimum of three
    window weights: hue in [low, high] degrees (hue[0] > hue[1] selects the range
    through 360/0, e.g. [340, 20] for reds; greys have hue 0), saturation and value in
    [low, high]. Outside a window the weight falls linearly to 0 over `softness`
    (saturation and value units; softness * 360 degrees for hue). `invert` selects the
    complement.
    """
    image = as_kernel_array(input)
    windows = np.array([*hue, *saturation, *value], np.float32)
    out = buffers.empty(image.shape[:2], np.float32)
    flat = image.reshape(image.shape[0], image.shape[1] * 4)
    run_bands(keying.color_range_into, out.shape[0], flat.shape[1],
              flat, windows, float(softness), space == "encoded", bool(invert), out)
    return out


CLEAN_PLATE_LEVELS = 3        # the clean plate is smooth at 1/8 of the picture's size
CLEAN_PLATE_PASSES = 3


def clean_plate(image: np.ndarray, backing: np.ndarray, tolerance: float) -> np.ndarray:
    """A smooth clean background from the pixels where `backing` ((H, W) in [0, 1]) is at
    least 0.5: their colours averaged at 1/8 of the size, filled outwards over the rest
    by push-pull and brought back smoothly. Backing pixels that differ from that
    estimate by more than 2 x `tolerance` (structures the selection took in: dark
    towers with the sky's colour cast) are dropped and the estimate made again.
    Returns (H, W, 4) float32 with alpha 1."""
    weight = (backing >= 0.5).astype(np.float32)
    if not weight.any():
        raise NodeInputError("the backing mask selects no pixel (none >= 0.5)",
                             hint="widen the selection that feeds 'backing'")
    rgb = np.ascontiguousarray(image[..., :3], dtype=np.float32)
    for _ in range(CLEAN_PLATE_PASSES):
        smooth = push_pull(rgb * weight[..., None], weight, CLEAN_PLATE_LEVELS)
        difference = np.abs(rgb - smooth).sum(-1) / np.maximum(smooth.sum(-1), 1e-4)
        kept = weight * (difference <= 2 * tolerance)
        if kept.any():
            weight = kept.astype(np.float32)
    plate = np.ones(image.shape[:2] + (4,), np.float32)
    plate[..., :3] = smooth
    return plate


def push_pull(weighted: np.ndarray, weight: np.ndarray, skip: int) -> np.ndarray:
    """Fill (h, w, 3) colours premultiplied by (h, w) weights where the weight is low;
    the `skip` finest levels keep only what comes up from the coarser ones (smooth)."""
    height, width = weight.shape
    if min(height, width) <= 2:
        total = max(float(weight.sum()), 1e-6)
        return np.broadcast_to(weighted.reshape(-1, 3).sum(0) / total,
                               weighted.shape).astype(np.float32)
    coarse = push_pull(cv2.pyrDown(weighted), cv2.pyrDown(weight), skip - 1)
    up = cv2.pyrUp(coarse, dstsize=(width, height))
    if skip > 0:
        return up
    known = np.clip(weight, 0.0, 1.0)[..., None]
    own = weighted / np.maximum(weight, 1e-6)[..., None]
    return (own * known + up * (1 - known)).astype(np.float32)


@node("difference_key", version=1, category="keyers",
      inputs=[Input("input", "image", doc="the picture with the structures in front"),
              Input("reference", "image", optional=True,
                    doc="the clean background (a clean plate); else estimated from backing"),
              Input("backing", "mask", optional=True,
                    doc="where the picture surely shows the clean background (a selection)")],
      outputs=[Output("output", "mask", doc="1 = differs from the background (subject)"),
               Output("clean", "image", doc="the clean background used")],
      params=[Param("tolerance", "float", 0.06, min=0.0, max=10.0,
                    doc="relative difference that still counts as background (noise, grain)"),
              Param("softness", "float", 0.5, min=1e-3, max=10.0,
                    doc="relative difference over which the key goes from 0 to 1"),
              Param("invert", "bool", False, doc="output 1 = background instead")])
def difference_key(input, reference=None, backing=None, *, tolerance, softness, invert):
    """Key what differs from a clean background (a difference matte).

    The relative difference sum |I - R| / sum R (over r, g, b, linear) of each pixel
    from the clean background R is mapped by (difference - tolerance) / softness to
    [0, 1]. A dark structure covering a fraction a of a pixel gives a difference of
    about a, so thin wires, lattices and branches against a sky keep their partial
    coverage (no choke, no threshold eats them). Without `reference`, R is estimated
    from the picture where `backing` >= 0.5 (e.g. a colour_range of the sky): smooth
    (averaged at 1/8 of the size), filled over the rest by push-pull, with backing
    pixels far from it (structures the selection took in) dropped; the `clean` output
    shows it. Compose a new
    background as picture + matte * (new - clean): each pixel swaps the old
    background's share for the new one's, so edges carry no halo of the old.
    """
    if reference is None and backing is None:
        raise NodeInputError("connect a 'reference' (clean plate) or a 'backing' mask")
    require_same_size(input=input, reference=reference, backing=backing)
    image = as_kernel_array(input)
    clean = as_kernel_array(reference) if reference is not None \
        else clean_plate(image, backing, float(tolerance))
    out = buffers.empty(image.shape[:2], np.float32)
    run_bands(keying.difference_key_into, out.shape[0], out.shape[1] * 4,
              image, clean, float(tolerance), float(softness), bool(invert), out)
    return {"output": out, "clean": clean}
