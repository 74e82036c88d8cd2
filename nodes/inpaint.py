"""Node spec: inpaint (fill a masked hole from the pixels around it).

The wrapper prepares the hole (grown by `grow`, with a `blend` ramp), runs one fill method
on the bounding box of the hole, and mixes the fill into the input with the hole's
weights, so that pixels outside the grown hole are copied bit for bit. The fills live in
nodes.inpaint_fill (telea, smooth) and nodes.inpaint_patch (patch).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.common import require_same_size
from nodes.inpaint_fill import TELEA_RADIUS, hole_box, hole_thickness, smooth_fill, telea_fill
from nodes.inpaint_model import Network, check_model, hole_crops, load_descriptor, model_fill
from nodes.inpaint_patch import PATCH_RADIUS, context_box, patch_fill
from nodes.kernels import inpaint_smooth

METHODS = ("auto", "telea", "smooth", "patch", "model")
AUTO_MIX_THICKNESS = 4.0     # px: a hole part deeper than this mixes in the patch fill
AUTO_PATCH_THICKNESS = 20.0  # px: a hole part deeper than this gets the patch fill alone (texture)
AUTO_PATCH_SHARE = 0.4       # the patch fill's share where auto mixes it with the smooth one
AUTO_MIX_RADIUS = 2          # the patch radius of that mix's patch fill (5x5 patches)


# ---------------------------------------------------------------- hole preparation

def hole_weights(mask, grow, blend):
    """Weights (H, W) float32 of the fill: the mask grown by `grow` px with a `blend` ramp.

    The support (mask > 0) grows by `grow` pixels; within the grown band the weight falls
    linearly to 0 over the outer `blend` pixels (blend is at most grow); soft mask values
    are carried outwards (a grey dilation: the largest value within `grow` px). Weight 0
    means "keep the input". Only the support's bounding box (plus grow) is processed.
    """
    support = mask > 0
    if grow <= 0:
        return np.where(support, mask, 0.0).astype(np.float32)
    weights = np.zeros(mask.shape, np.float32)
    box = hole_box(support, int(math.ceil(grow)) + 1)
    distance = _distance_to(support[box])
    ramp_width = min(max(blend, 0.0), grow)
    if ramp_width > 0:
        ramp = np.clip((grow + 0.5 - distance) / ramp_width, 0.0, 1.0)
    else:
        ramp = (distance <= grow + 0.5).astype(np.float32)
    weights[box] = _grey_dilation(mask[box], distance, grow) * ramp
    return weights


def _distance_to(region):
    """Euclidean distance (float32) of every pixel to the nearest True pixel of `region`."""
    return cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _grey_dilation(mask, distance, grow, levels=16):
    """The largest mask value within `grow` px of each pixel (a disc grey dilation).

    A hard mask needs no work beyond `distance` (its distance to the support); a soft one
    is thresholded at up to `levels` values, each level's support grown with one distance
    transform (cost independent of grow). Outside the support the result is within
    1/levels of the exact dilation; inside it is at least the mask's own value.
    """
    values = np.unique(mask[mask > 0])
    if values.size == 1:
        return np.where(distance <= grow + 0.5, values[0], 0.0).astype(np.float32)
    if values.size > levels:  # keep the smallest value: the grown support stays exact
        steps = np.linspace(1.0 / levels, 1.0, levels) * values.max()
        values = np.concatenate([values[:1], steps[steps > values[0]]])
    spread = np.zeros(mask.shape, np.float32)
    for value in values:
        level = mask >= value - 1e-6
        spread[_distance_to(level) <= grow + 0.5] = value
    return np.maximum(spread, mask)


# ---------------------------------------------------------------- the node

def split_by_thickness(hole, thickness=AUTO_PATCH_THICKNESS):
    """(thin, thick): the hole's connected parts whose inside lies within `thickness`
    pixels of known pixels, and the others."""
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5)  # within 2%
    deep = depth > thickness
    if not deep.any():
        return hole, np.zeros_like(hole)
    count, labels = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    thick_labels = np.zeros(count, bool)
    thick_labels[labels[deep]] = True
    thick = thick_labels[labels] & hole
    return hole & ~thick, thick


def auto_parts(hole):
    """(mixed, wide): the connected parts of `hole` that `auto` fills with the mix of
    smooth and patch (deeper than AUTO_MIX_THICKNESS, up to AUTO_PATCH_THICKNESS px)
    and with the patch fill alone (deeper); the rest of the hole is thin."""
    textured = split_by_thickness(hole, AUTO_MIX_THICKNESS)[1]
    wide = split_by_thickness(textured, AUTO_PATCH_THICKNESS)[1]
    return textured & ~wide, wide


def auto_fill(image, hole, patch_radius=None, parts=None):
    """`auto`: per connected part of the hole, by its thickness (see auto_parts).

    Thin parts (scratches) take the biharmonic fill: the smooth continuation of their
    edges is the best guess there. Blobs up to AUTO_PATCH_THICKNESS px deep take a mix of the biharmonic fill and the patch fill (mean votes, 5x5 patches:
    better and faster there than 7x7), AUTO_PATCH_SHARE of the latter: two guesses with
    partly independent errors, one from the rim, one from similar places elsewhere, make
    a better estimate than either (on the inpaint benchmark's blobs the mix is above the
    better of the two), at the price of ~60 % of the texture's contrast. Wider parts
    (the benchmark's 48-64 px squares, object removal) need texture, which only the patch
    fill provides: they take it alone, with `patch_radius` (a mix there measured higher
    PSNR but visibly blurs an edge or a texture crossing the hole). Wide parts are first given a telea fill so that the
    smooth solve never reads garbage. `parts`: auto_parts(hole) when the caller has it.
    """
    mixed, wide = auto_parts(hole) if parts is None else parts
    smooth = hole & ~wide
    work = telea_fill(image, hole) if wide.any() else image
    if smooth.any():
        work = smooth_fill(work, smooth)
    if mixed.any():
        patched = patch_fill(work, mixed, AUTO_MIX_RADIUS, estimate=True)
        work[mixed] += AUTO_PATCH_SHARE * (patched[mixed] - work[mixed])
    if wide.any():
        work = patch_fill(work, wide, patch_radius)
    return work


FILLERS = {"auto": auto_fill, "telea": telea_fill, "smooth": smooth_fill, "patch": patch_fill,
           "model": model_fill}


def _check(params, connected):
    """Load-time check: `method: model` needs a usable `model`, and only it takes one."""
    method, model = params.get("method"), params.get("model")
    if method == "model" and model is None:
        return [("model", "method 'model' needs model: the name or path of an ONNX "
                          "inpainting model (see the README's 'Inpainting with your own model')")]
    if method != "model" and model is not None:
        return [("model", f"model is only used by method 'model' (method is '{method}')")]
    if model is not None:
        problem = check_model(model)
        return [("model", problem)] if problem else []
    return []


def _check_input(input, mask, weights):
    """NaN outside the hole, NaN in the mask, or a hole that leaves nothing to sample."""
    outside = weights == 0
    bad = 0
    if not np.isfinite(input).all():  # the common case costs one pass
        bad = np.count_nonzero(outside & ~np.isfinite(input).all(axis=-1))
    if bad:
        raise NodeInputError(f"input 'input' has {bad} NaN or infinite pixels outside the hole",
                             hint="add them to the mask so that inpaint fills them")
    if not np.isfinite(mask).all():
        raise NodeInputError("input 'mask' has NaN or infinite values")
    if not outside.any():
        raise NodeInputError("the mask (grown by 'grow') covers the whole image: nothing to "
                             "sample from", hint="paint only the part to remove, or lower grow")


@node("inpaint", version=3, category="inpaint", reads_files=True, check=_check,
      inputs=[Input("input", "image", doc="the picture to repair"),
              Input("mask", "mask", doc="the hole: 1 where pixels are replaced")],
      outputs=[Output("output", "image", doc="the picture with the hole filled")],
      params=[Param("method", "choice", "auto", choices=METHODS,
                    doc="auto, telea (fast marching), smooth (biharmonic), patch "
                        "(PatchMatch texture fill) or model (your ONNX network)"),
              Param("grow", "float", 4.0, min=0.0, max=256.0,
                    doc="pixels added around the mask before filling"),
              Param("blend", "float", 2.0, min=0.0, max=256.0,
                    doc="width in pixels of the soft transition at the grown hole's edge"),
              Param("radius", "int", 5, min=1, max=32,
                    doc="telea: neighbourhood radius in pixels"),
              Param("patch_radius", "int", PATCH_RADIUS, min=1, max=8,
                    doc="patch (and auto's wide parts): half-size of the compared patches, "
                        "3 = 7x7 px; larger follows bigger structures, slower"),
              Param("model", "path", None, optional=True,
                    doc="method model: an ONNX inpainting network (LaMa, MI-GAN...): its "
                        "descriptor .yaml/.json, the .onnx, or a name in the model cache")])
def inpaint(input, mask, *, method, grow, blend, radius, patch_radius=PATCH_RADIUS, model=None):
    """Fill a masked hole convincingly from the pixels around it.

    The mask marks the hole (any value > 0). It is grown by `grow` pixels first, so that the
    fill blends into clean surrounding content (paint masks a little larger than the
    defect), and the fill fades into the original over the outer `blend` pixels of the
    grown hole. Soft masks are honoured: a pixel at 0.5 gets half the fill. Outside the
    grown hole the output equals the input bit for bit, and an empty mask returns the input.

    Methods:
      telea   fast marching (Telea 2004): fastest; fine for scratches and thin wires.
      smooth  biharmonic fill (the smoothest continuation of the surroundings, as
              scikit-image's inpaint_biharmonic): best on scratches and small blobs.
      patch   structure first (edges that cross the hole are joined by curves; on
              wide holes each hole pixel is given the surface around it, so an
              object the mask cuts is not extruded), then
              PatchMatch exemplar fill, coarse to fine: copies texture and structure
              from the picture around the hole (a region twice the hole's size on
              each side, nearer sources preferred), what "content-aware fill" does.
              Use it for large holes and outpainting (see the built-in
              `outpaint` template).
      auto    (default) per connected part of the hole: smooth where every hole pixel
              lies within 4 px of known pixels (scratches); for blobs and holes up
              to ~64 px across, a mix of smooth (60 %) and patch (40 %): the best
              estimate of the missing pixels (highest PSNR and SSIM on the inpaint
              benchmark, bench/bench_inpaint.py), keeping ~40 % of the texture's
              contrast; patch alone for wider parts, where texture matters most.
      model   your own ONNX inpainting network (LaMa, MI-GAN... exported to ONNX;
              nothing is downloaded): `model` names its descriptor (.yaml/.json:
              input_size, layout, mean, std, input_scale, mask_hole, mask_known,
              image_input, mask_input, output_index, output_scale), or the .onnx
              (defaults: LaMa's float NCHW image in [0, 1], mask 1 on the hole), or
              a NAME placed in the model cache as NAME.onnx (+ NAME.yaml). Each part
              of the hole is run on a crop around it (at least the network's size
              and twice the part's), resized to the network's input; only the hole
              takes the result.

    Every method fills sRGB-encoded values (where patch distances and smooth gradients
    follow what the eye sees), converting only the pixels it reads, and converts the
    fill back to linear.

    NaN pixels inside the hole are ignored; NaN outside it are an error.
    """
    require_same_size(input=input, mask=mask)
    if not np.any(mask > 0):
        return input
    weights = hole_weights(mask, grow, blend)
    _check_input(input, mask, weights)
    hole = weights > 0
    parts = auto_parts(hole) if method == "auto" else None
    network = _network(model) if method == "model" else None
    crops = hole_crops(hole, network.size) if network else None
    near = pixels_read(method, hole, radius, parts, crops)
    box = hole_box(near, 0)
    region_hole = hole[box]
    working = to_working_space(input[box], near[box])
    options = {"telea": {"radius": radius}, "smooth": {}, "patch": {"patch_radius": patch_radius},
               "auto": {"patch_radius": patch_radius,
                        "parts": None if parts is None else tuple(part[box] for part in parts)},
               "model": {"network": network, "crops": _in_box(crops, box)}}[method]
    filled = from_working_space(FILLERS[method](working, region_hole, **options)[region_hole])
    return mix_fill(input, filled, weights, box)


def _network(model):
    if model is None:
        raise NodeInputError("method 'model' needs a model", hint="set model: NAME_OR_PATH")
    try:
        return Network(load_descriptor(model))
    except ValueError as error:
        raise NodeInputError(str(error), hint="see the README's 'Inpainting with your own "
                                              "model'") from None


def _in_box(crops, box):
    """Crops (full-picture slices) relative to `box`, when there are any."""
    if crops is None:
        return None
    return [(slice(rows.start - box[0].start, rows.stop - box[0].start),
             slice(columns.start - box[1].start, columns.stop - box[1].start))
            for rows, columns in crops]


def pixels_read(method, hole, radius, parts=None, crops=None):
    """(H, W) bool: the pixels a method reads to fill `hole` (only those are converted).

    telea: within its radius. smooth: within its coarsest level's ring, which grows with
    the hole's thickness. patch: the context box (see context_box). model: its `crops`.
    auto (`parts`: auto_parts(hole)): the smooth reach of the hole but its wide parts,
    the context boxes of the mixed and wide parts, and the telea start of the whole
    hole where it has wide parts.
    """
    if method == "telea":
        return _within(hole, radius + 1)
    if method == "smooth":
        return _within(hole, smooth_reach(hole_thickness(hole)))
    if method == "patch":
        return _box_mask(hole.shape, context_box(hole))
    near = np.zeros(hole.shape, bool)
    if method == "model":
        for crop in crops:
            near[crop] = True
        return near
    mixed, wide = parts
    smooth = hole & ~wide
    if smooth.any():
        near |= _within(smooth, smooth_reach(hole_thickness(smooth)))
    if mixed.any():
        near |= _box_mask(hole.shape, context_box(mixed))
    if wide.any():
        near |= _within(hole, TELEA_RADIUS + 1) | _box_mask(hole.shape, context_box(wide))
    return near


def smooth_reach(thickness):
    """Pixels the smooth fill reads around a hole `thickness` px deep (its coarsest level's
    telea start and CG ring, scaled back to full size)."""
    return 3 * thickness + 16


def _within(hole, distance):
    """Pixels at most `distance` px from the hole (the hole included)."""
    return cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3) <= distance


def _box_mask(shape, box):
    mask = np.zeros(shape, bool)
    mask[box] = True
    return mask


def to_working_space(image, near):
    """Premultiplied linear RGBA -> colour channels sRGB-encoded (alpha kept), where patch
    distances and smooth fills track what the eye sees. Only the pixels a method reads
    (`near`, (H, W) bool) are converted; the others are zeros. NaN stays NaN.
    """
    encoded = np.empty(image.shape, np.float32)
    inpaint_smooth.encode_where(np.asarray(image, np.float32), near, encoded)
    return encoded


def from_working_space(pixels):
    """The inverse of to_working_space on (N, 4) pixels."""
    decoded = np.ascontiguousarray(pixels, np.float32)
    inpaint_smooth.decode_pixels(decoded, decoded)
    return decoded


def mix_fill(input, filled, weights, box):
    """A copy of input with the fill mixed in: input + (fill - input) * weight.

    filled : (N, 4) fill values of the hole pixels (weights > 0) inside `box`, in
    raster order. Weight-1 pixels take the fill as it is; NaN under the hole never leaks.
    """
    out = np.array(input, dtype=np.float32, copy=True)
    region = out[box]
    box_weights = weights[box]
    inside = box_weights > 0
    hole_weights_flat = box_weights[inside][:, None]
    original = np.nan_to_num(region[inside])
    mixed = original + (filled - original) * hole_weights_flat
    region[inside] = np.where(hole_weights_flat >= 1.0, filled, mixed)
    return out
