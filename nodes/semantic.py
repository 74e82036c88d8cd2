"""Semantic masks: a neural network says where the subject or the person is.

The network runs at its own small size (320 px for the subject, 256 px for the person);
its probability map is brought back to the picture's size either bilinearly or, with
`refine`, by a colour guided filter against the full-resolution picture (kernels/guided.py)
so that the mask's edge follows the picture's edges. Models and sessions: nodes/models.py.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes import models
from nodes.common import require_finite
from nodes.kernels import guided
from nodes.kernels.color import srgb_encode_into
from nodes.matting import refine_matte

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BUILTIN = {
    "subject": models.ModelDescriptor("u2netp", (320, 320), "nchw", IMAGENET_MEAN,
                                      IMAGENET_STD, normalize_max=True),
    "person": models.ModelDescriptor("selfie_segmentation", (256, 256), "nhwc"),
}
WORKING_SIDE = 1024       # the guided filter solves its coefficients at about this size
GATE_SIDE = 512           # the face gate looks at the picture at about this size
FACE_SCORE = 0.5          # minimum face-detection and face-landmark presence scores


def _check(params, connected):
    """Load-time check: the model (built-in or a descriptor) must be usable."""
    if params.get("model") is not None:
        try:
            models.load_descriptor(params["model"])
        except ValueError as error:
            return [("model", str(error))]
        if models.missing_runtimes(["u2netp"]):
            return [("model", f"onnxruntime is not installed: run `{models.EXTRA_INSTALL}`")]
        return []
    problem = models.install_problem(params["target"])
    return [("target", problem)] if problem else []


@node("segment", version=3, category="mask generators",
      inputs=[Input("input", "image", doc="the picture to segment")],
      outputs=[Output("output", "mask", doc="probability of the target at every pixel")],
      params=[
          Param("target", "choice", "subject", choices=("subject", "person"),
                doc="what to mask: the salient subject (u2netp) or a person (MediaPipe)"),
          Param("refine", "choice", "guided", choices=("guided", "matting", "none"),
                doc="edge: guided (guided-filter upsampling), matting (that, then "
                    "closed-form matting in a band, as the refine node), none (bilinear)"),
          Param("threshold", "float", None, min=0.0, max=1.0, optional=True,
                doc="binarise: 1 where the probability >= threshold (unset: soft mask)"),
          Param("model", "path", None, optional=True,
                doc="your own ONNX model: its descriptor .yaml/.json, or the .onnx beside one"),
          Param("refine_radius", "float", None, min=1.0, optional=True,
                doc="guided-filter window radius in pixels (unset: from the picture size)"),
          Param("refine_eps", "float", 1e-4, min=1e-6, max=1.0,
                doc="guided-filter regularisation: larger follows the picture's edges less"),
          Param("face_gate", "bool", True,
                doc="person: empty mask unless a face is found (stops false positives)"),
      ], check=_check)
def segment(input, *, target, refine, threshold, model, refine_radius, refine_eps, face_gate):
    """Mask the subject or the person of a picture with a neural network (offline).

    `target: subject` masks the salient object (u2netp, 320 px); `target: person` masks
    people (MediaPipe selfie segmentation, 256 px). With `face_gate` (default) the person
    mask is empty unless a face is found (MediaPipe face detection confirmed by the face
    landmark model's presence score): the selfie model alone marks a fifth of some
    person-free photos as person. A person seen only from behind needs `face_gate: false`.

    The output is the network's probability, soft by default (`threshold` binarises it).
    `refine: guided` (default) upsamples it with a colour guided filter against the
    picture, so the edge follows outlines; where the network is sure (probability near 0
    or 1) its value stays, the guided filter decides across its uncertain edge (weight
    4 p (1 - p)). `refine_radius` and `refine_eps` tune it. `refine: matting` then
    solves the edge band by closed-form matting, as the `refine` node does with its
    defaults: hair and fur become partial alpha, and regions the network left unsure
    but whose colours belong to the background drop out. `none`: bilinear upsampling.

    `model:` runs your own ONNX segmentation network (U-2-Net, BiRefNet, a SAM export...)
    described by a YAML/JSON file: `model` (the .onnx, relative to the descriptor),
    `input_size` [width, height], `layout` nchw|nhwc, `mean`, `std`, `normalize_max`,
    `output_index`, `class_index`, `activation` none|sigmoid|softmax; `target` is then
    unused. Install the built-in models once with `maskgraph models fetch` (the runtimes
    come with `pip install 'maskgraph[semantic]'`).
    """
    require_finite("input", input)
    if input.shape[0] < 2 or input.shape[1] < 2:
        raise NodeInputError(f"input is {input.shape[1]}x{input.shape[0]}: too small to segment")
    if model is not None:
        descriptor = models.load_descriptor(model)
        session = models.onnx_session(descriptor.model)
    else:
        descriptor = BUILTIN[target]
        session = models.builtin_session(descriptor.model)
    working = working_copy(input)
    probability = run_network(session, descriptor, working.rgb)
    if model is None and target == "person" and face_gate and not face_present(working.rgb):
        return np.zeros(input.shape[:2], np.float32)
    mask = upsample_probability(input, probability, refine != "none", refine_radius,
                                refine_eps, working)
    if refine == "matting":
        mask, _ = refine_matte(input, mask)
    if threshold is not None:
        mask = (mask >= threshold).astype(np.float32)
    return mask


# ---------------------------------------------------------------- network input and output

class Working(NamedTuple):
    """The picture box-averaged once by an integer `factor` (to about WORKING_SIDE px):
    `rgb` (h, w, 3) float32 linear premultiplied colour for the networks and the face
    gate, `guide` (h, w, 3) float32 mean of sqrt(clamp(rgb, 0, 1)) for the guided filter."""
    factor: int
    rgb: np.ndarray
    guide: np.ndarray


def working_copy(image: np.ndarray) -> Working:
    """One pass over the full-resolution `image` ((H, W, 4)) -> its Working copy."""
    height, width = image.shape[:2]
    factor = max(1, round(max(height, width) / WORKING_SIDE))
    low_height, low_width = math.ceil(height / factor), math.ceil(width / factor)
    rgb = np.empty((low_height, low_width, 3), np.float32)
    guide = np.empty_like(rgb)
    guided.downsample_into(np.ascontiguousarray(image, dtype=np.float32), factor, rgb, guide)
    return Working(factor, rgb, guide)


def network_rgb(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The picture as a network sees it: (height, width, 3) float32 sRGB-encoded in [0, 1].

    image: (H, W, 4) or (H, W, 3) float32 linear premultiplied colour (i.e. over black),
    resized by area in linear light.
    """
    small = cv2.resize(np.ascontiguousarray(image[..., :3]), (width, height),
                       interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(np.clip(small, 0.0, 1.0), dtype=np.float32)
    encoded = np.empty_like(small)
    srgb_encode_into(small, encoded)
    return encoded


def network_batch(rgb: np.ndarray, descriptor: models.ModelDescriptor) -> np.ndarray:
    """(h, w, 3) sRGB in [0, 1] -> the (1, 3, h, w) or (1, h, w, 3) float32 input tensor."""
    values = rgb
    if descriptor.normalize_max:
        values = values / max(float(values.max()), 1e-6)
    values = (values - np.float32(descriptor.mean)) / np.float32(descriptor.std)
    if descriptor.layout == "nchw":
        values = values.transpose(2, 0, 1)
    return np.ascontiguousarray(values[None], dtype=np.float32)


def run_network(session, descriptor: models.ModelDescriptor, image: np.ndarray) -> np.ndarray:
    """Run the network on `image` ((H, W, 4) or a Working copy's (h, w, 3) rgb); returns its (h, w) float32 probability map."""
    width, height = descriptor.input_size
    batch = network_batch(network_rgb(image, width, height), descriptor)
    if isinstance(session, models.TfliteModel):
        outputs = session.run(batch)
    else:
        outputs = session.run(None, {session.get_inputs()[0].name: batch})
    return probability_map(outputs[descriptor.output_index], descriptor)


def probability_map(output: np.ndarray, descriptor: models.ModelDescriptor) -> np.ndarray:
    """One network output (batch of 1, channels first or last, or no channel axis) ->
    the (h, w) float32 probability of `class_index` in [0, 1]."""
    values = np.asarray(output, dtype=np.float32)[0]
    if values.ndim == 2:
        values = values[None]
    elif values.ndim == 3 and descriptor.layout == "nhwc":
        values = np.moveaxis(values, -1, 0)
    if values.ndim != 3 or not 0 <= descriptor.class_index < values.shape[0]:
        raise NodeInputError(f"the model's output {descriptor.output_index} has shape "
                             f"{output.shape}: no class {descriptor.class_index} in it")
    if descriptor.activation == "softmax":
        values = np.exp(values - values.max(axis=0))
        values = values / values.sum(axis=0)
    elif descriptor.activation == "sigmoid":
        values = 1.0 / (1.0 + np.exp(-values))
    return np.ascontiguousarray(np.clip(values[descriptor.class_index], 0.0, 1.0))


# ---------------------------------------------------------------- upsampling

def upsample_probability(image, probability, refine, radius=None, eps=1e-4,
                         working=None) -> np.ndarray:
    """Bring the (h, w) `probability` to the size of `image` ((H, W, 4)) -> (H, W) float32.
    `working`: the image's Working copy if already made."""
    height, width = image.shape[:2]
    if not refine:
        resized = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(resized, 0.0, 1.0).astype(np.float32)
    if radius is None:
        radius = default_refine_radius(image.shape, probability.shape)
    return guided_upsample(image, probability, radius, eps, working)


def default_refine_radius(image_shape, map_shape) -> float:
    """A window one network pixel wide (at least 2 px): enough to re-place the edge."""
    pixel = max(image_shape[0] / map_shape[0], image_shape[1] / map_shape[1])
    return max(2.0, pixel)


def guided_upsample(image, probability, radius, eps, working=None) -> np.ndarray:
    """Fast colour guided filter: upsample `probability` ((h, w)) guided by `image`,
    blended with the bilinear upsampling where the probability is near 0 or 1.

    image: (H, W, 4) float32 premultiplied linear RGBA; radius in full-resolution pixels;
    working: the image's Working copy (made here if None). Returns (H, W) float32 in [0, 1].
    """
    height, width = image.shape[:2]
    working = working_copy(image) if working is None else working
    low_height, low_width = working.guide.shape[:2]
    low_probability = np.clip(cv2.resize(probability, (low_width, low_height),
                                         interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    coeffs = guided_coefficients(working.guide, low_probability,
                                 max(1, round(radius / working.factor)), float(eps))
    rows = np.empty((low_height, guided.COEFF_PLANES + 1, width), np.float32)
    out = np.empty((height, width), np.float32)
    guided.apply_into(np.ascontiguousarray(image, dtype=np.float32), working.factor, coeffs,
                      low_probability, rows, out)
    return out


def guided_coefficients(guide, probability, radius, eps) -> np.ndarray:
    """The box-averaged guided-filter coefficients (4, h, w) for guide (h, w, 3) and
    probability (h, w), both float32, at one resolution."""
    height, width = probability.shape
    planes = np.empty((guided.GUIDE_PLANES, height, width), np.float32)
    guided.products_into(guide, np.ascontiguousarray(probability, dtype=np.float32), planes)
    scratch = np.empty_like(planes)
    sums = np.empty((guided.GUIDE_PLANES, width), np.float64)
    means = np.empty_like(planes)
    guided.box_mean_into(planes, int(radius), scratch, sums, means)
    coeffs = np.empty((guided.COEFF_PLANES, height, width), np.float32)
    guided.coefficients_into(means, float(eps), coeffs)
    mean_coeffs = np.empty_like(coeffs)
    guided.box_mean_into(coeffs, int(radius), scratch[:guided.COEFF_PLANES],
                         sums[:guided.COEFF_PLANES], mean_coeffs)
    return mean_coeffs


# ---------------------------------------------------------------- the person face gate

def face_present(image: np.ndarray) -> bool:
    """True when a face is in `image` ((H, W, 4)): detected by either MediaPipe face
    detector (short or full range) and confirmed by the face landmark model's presence
    score on the detected box."""
    height, width = image.shape[:2]
    scale = min(1.0, GATE_SIDE / max(height, width))
    rgb = network_rgb(image, max(2, round(width * scale)), max(2, round(height * scale)))
    for name in ("face_detection_short_range", "face_detection_full_range_sparse"):
        score, box = best_face(models.builtin_session(name), rgb)
        if score >= FACE_SCORE and face_landmark_score(rgb, box) >= FACE_SCORE:
            return True
    return False


def square_crop(rgb: np.ndarray, center_x, center_y, side, size) -> np.ndarray:
    """The square of `side` px centred at (center_x, center_y), resized to size x size,
    zero outside the picture."""
    scale = size / side
    matrix = np.float32([[scale, 0, size / 2 - center_x * scale],
                         [0, scale, size / 2 - center_y * scale]])
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def detector_anchors(size: int):
    """Anchor centres (n, 2) in [0, 1] of MediaPipe's face detectors (128 px short range:
    strides 8 and 16 with 2 and 6 anchors; 192 px full range: stride 4, 1 anchor)."""
    layers = ((8, 2), (16, 6)) if size == 128 else ((4, 1),)
    centres = []
    for stride, per_cell in layers:
        cells = size // stride
        grid = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
    return np.concatenate(centres)


def best_face(detector: models.TfliteModel, rgb: np.ndarray):
    """(score, (centre x, centre y, side) in `rgb` pixels) of the best face detection."""
    size = int(detector.input_shape[1])
    height, width = rgb.shape[:2]
    side = max(height, width)
    batch = square_crop(rgb, width / 2, height / 2, side, size) * 2.0 - 1.0
    regressors, scores = detector.run(np.ascontiguousarray(batch[None], dtype=np.float32))
    logits = np.clip(scores[0, :, 0], -100, 100)
    best = int(np.argmax(logits))
    anchor = detector_anchors(size)[best]
    offset_x, offset_y, box_w, box_h = regressors[0, best, :4] / size
    centre_x = (width - side) / 2 + (anchor[0] + offset_x) * side
    centre_y = (height - side) / 2 + (anchor[1] + offset_y) * side
    return 1.0 / (1.0 + math.exp(-logits[best])), (centre_x, centre_y, max(box_w, box_h) * side)


def face_landmark_score(rgb: np.ndarray, box) -> float:
    """The face landmark model's face-presence probability in a 1.5x crop of `box`."""
    centre_x, centre_y, side = box
    if side <= 1:
        return 0.0
    landmarks = models.builtin_session("face_landmark")
    crop = square_crop(rgb, centre_x, centre_y, 1.5 * side, int(landmarks.input_shape[1]))
    outputs = landmarks.run(np.ascontiguousarray(crop[None], dtype=np.float32))
    presence = next(output for output in outputs if output.size == 1)
    return 1.0 / (1.0 + math.exp(-float(np.clip(presence.ravel()[0], -100, 100))))
