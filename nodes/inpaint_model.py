"""The model fill: a user's ONNX inpainting network (LaMa, MI-GAN and the like).

A network of this kind takes a picture and a mask of its hole and returns the picture
with the hole made up. The fill runs it on crops: each part of the hole gets a crop of
the picture around it (at least the network's input size, and at least twice the part's
size, so that the network sees context), the crop is padded by mirroring to the
network's aspect ratio and resized to its input size, and the network's output is
resized back. Parts whose crops overlap share one crop; distant parts get their own, so
a small hole in a 4K frame is filled at full resolution. Only the hole's pixels take the
network's output (the inpaint node then mixes them in with its `blend` ramp).

How to feed a network is written in a descriptor (YAML or JSON), found as for the
`segment` node's custom models (nodes.models.read_descriptor): the file itself, or the
.yaml/.yml/.json of the same name beside the .onnx. An .onnx with no descriptor runs with
the defaults below (those of the LaMa exports: float NCHW image in [0, 1] and a mask
that is 1 on the hole). A bare name (`model: lama`) is looked up in the model cache
folder (`maskgraph models path`). Nothing is downloaded.
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from graph.errors import NodeInputError
from nodes import models

CONTEXT = 0.5          # a crop reaches this many hole sizes beyond the hole on each side
MASK_COVERAGE = 0.01   # a network pixel is hole when this much of it is hole


@dataclass(frozen=True)
class InpaintDescriptor:
    """How to feed and read an inpainting network.

    The image is sRGB-encoded RGB in [0, 1], then (x - mean) / std, then times
    `input_scale` (255 for networks that take 0..255); the mask is `mask_hole` on the
    hole and `mask_known` elsewhere; `image_input` / `mask_input` name the network's
    inputs (default: its first and second), `mask_input: concat` appends the mask to the
    image as a fourth channel of one input. The output `output_index` divided by
    `output_scale` is the sRGB picture in [0, 1]. `input_size` [width, height] defaults
    to the network's own fixed size, else 512 x 512.
    """

    model: str
    input_size: tuple | None = None
    layout: str = "nchw"
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    input_scale: float = 1.0
    mask_hole: float = 1.0
    mask_known: float = 0.0
    image_input: str | None = None
    mask_input: str | None = None
    output_index: int = 0
    output_scale: float = 1.0


DESCRIPTOR_KEYS = {"model", "input_size", "layout", "mean", "std", "input_scale", "mask_hole",
                   "mask_known", "image_input", "mask_input", "output_index", "output_scale"}
DESCRIPTOR_CHOICES = {"layout": ("nchw", "nhwc")}
DEFAULT_SIZE = (512, 512)
TENSOR_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                "tensor(uint8)": np.uint8, "tensor(double)": np.float64}


# ---------------------------------------------------------------- finding and checking

def find_model(value: str) -> str:
    """The descriptor or .onnx file a `model:` param names: the path as written (with
    .yaml/.yml/.json/.onnx added when it has no suffix), else the file of that name in
    the model cache. Raises ValueError saying where it looked."""
    path = Path(value)
    candidates = [path] if path.suffix else [path.with_suffix(s) for s in
                                             (".yaml", ".yml", ".json", ".onnx")]
    cache = models.model_dir()
    candidates += [cache / candidate.name for candidate in candidates]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise ValueError(f"inpainting model '{value}' not found: looked for {path} and in the "
                     f"model cache {cache} (place NAME.onnx and NAME.yaml there)")


@functools.lru_cache(maxsize=32)
def _load(value: str, identity: tuple) -> InpaintDescriptor:
    source = find_model(value)
    if source.lower().endswith(".onnx") and not _has_descriptor(Path(source)):
        data = {"model": str(Path(source).resolve())}
    else:
        source_path, data = models.read_descriptor(source, DESCRIPTOR_KEYS, DESCRIPTOR_CHOICES)
        data = _coerce(source_path, data)
    return InpaintDescriptor(**data)


def load_descriptor(value: str) -> InpaintDescriptor:
    """The checked InpaintDescriptor of a `model:` param (cached while its file is
    unchanged). Raises ValueError with one sentence saying what is wrong."""
    status = Path(find_model(value)).stat()
    return _load(value, (status.st_size, status.st_mtime_ns))


def _has_descriptor(onnx_path: Path) -> bool:
    return any(onnx_path.with_suffix(s).is_file() for s in (".yaml", ".yml", ".json"))


def _coerce(source: Path, data: dict) -> dict:
    """Descriptor values to their types; ValueError naming the key on a bad one."""
    shapes = {"input_size": (2, int), "mean": (3, float), "std": (3, float)}
    for key, (length, kind) in shapes.items():
        if key in data:
            value = data[key]
            if not isinstance(value, (list, tuple)) or len(value) != length:
                raise ValueError(f"{source}: '{key}' must be a list of {length} numbers")
            try:
                data[key] = tuple(kind(item) for item in value)
            except (TypeError, ValueError):
                raise ValueError(f"{source}: '{key}' must be a list of {length} numbers") from None
    for key in ("input_scale", "mask_hole", "mask_known", "output_scale", "output_index"):
        if key in data:
            try:
                data[key] = (int if key == "output_index" else float)(data[key])
            except (TypeError, ValueError):
                raise ValueError(f"{source}: '{key}' must be a number") from None
    if "input_size" in data and min(data["input_size"]) < 8:
        raise ValueError(f"{source}: 'input_size' must be at least 8 x 8")
    if any(value == 0 for value in data.get("std", (1,))) or data.get("output_scale", 1) == 0:
        raise ValueError(f"{source}: 'std' and 'output_scale' must not be 0")
    return data


def check_model(value: str) -> str | None:
    """Load-time check of a `model:` param: None, or one sentence saying what is wrong
    (descriptor, file, runtime, or the network's inputs against the descriptor)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return f"onnxruntime is not installed: run `{models.EXTRA_INSTALL}`"
    try:
        descriptor = load_descriptor(value)
        Network(descriptor)
    except ValueError as error:
        return str(error)
    return None


# ---------------------------------------------------------------- the network

class Network:
    """An onnxruntime session with what feeding it needs: input names, size, dtypes."""

    def __init__(self, descriptor: InpaintDescriptor):
        self.descriptor = descriptor
        try:
            self.session = models.onnx_session(descriptor.model)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ValueError(f"{descriptor.model}: onnxruntime cannot load it "
                             f"({str(error).splitlines()[0][:200]})") from None
        inputs = {item.name: item for item in self.session.get_inputs()}
        order = list(inputs)
        self.concat = descriptor.mask_input == "concat"
        wanted = 1 if self.concat else 2
        if len(order) != wanted:
            raise ValueError(f"{descriptor.model}: the network has {len(order)} inputs "
                             f"({', '.join(order)}); expected {wanted} (image"
                             f"{' with the mask as a 4th channel' if self.concat else ', mask'})"
                             "; set image_input / mask_input in the descriptor")
        self.image_name = descriptor.image_input or order[0]
        self.mask_name = None if self.concat else (descriptor.mask_input or
                                                   next(n for n in order if n != self.image_name))
        for name in (self.image_name, self.mask_name):
            if name is not None and name not in inputs:
                raise ValueError(f"{descriptor.model}: no input named '{name}'; its inputs: "
                                 f"{', '.join(order)}")
        self.image_type = _tensor_type(descriptor.model, inputs[self.image_name])
        self.mask_type = (None if self.concat else
                          _tensor_type(descriptor.model, inputs[self.mask_name]))
        self.size = descriptor.input_size or _fixed_size(inputs[self.image_name].shape,
                                                         descriptor.layout) or DEFAULT_SIZE
        _check_shape(descriptor, inputs[self.image_name].shape, 4 if self.concat else 3,
                     self.size, self.image_name)
        if not self.concat:
            _check_shape(descriptor, inputs[self.mask_name].shape, 1, self.size, self.mask_name)

    def run(self, rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """(h, w, 3) sRGB in [0, 1] and (h, w) bool hole at the network's size -> its
        (h, w, 3) float32 sRGB output in [0, 1]."""
        descriptor = self.descriptor
        image = (rgb - np.float32(descriptor.mean)) / np.float32(descriptor.std)
        image = image * np.float32(descriptor.input_scale)
        mask = np.where(hole, descriptor.mask_hole, descriptor.mask_known)[..., None]
        if self.concat:
            feed = {self.image_name: self._tensor(np.concatenate([image, mask], axis=2),
                                                  self.image_type)}
        else:
            feed = {self.image_name: self._tensor(image, self.image_type),
                    self.mask_name: self._tensor(mask, self.mask_type)}
        try:
            outputs = self.session.run(None, feed)
        except Exception as error:  # onnxruntime's own exception types
            raise NodeInputError(f"the inpainting model failed: {str(error).splitlines()[0]}",
                                 hint=f"check its descriptor against {descriptor.model}")
        return self._picture(outputs, rgb.shape[:2])

    def _tensor(self, values, dtype):
        if self.descriptor.layout == "nchw":
            values = values.transpose(2, 0, 1)
        if dtype == np.uint8:
            values = np.clip(np.rint(values), 0, 255)
        return np.ascontiguousarray(values[None], dtype=dtype)

    def _picture(self, outputs, shape):
        descriptor = self.descriptor
        if not 0 <= descriptor.output_index < len(outputs):
            raise NodeInputError(f"the inpainting model has {len(outputs)} outputs: no output "
                                 f"{descriptor.output_index}", hint="fix output_index")
        values = np.asarray(outputs[descriptor.output_index], np.float32)
        if values.ndim == 4 and values.shape[0] == 1:
            values = values[0]
        if values.ndim == 3 and descriptor.layout == "nchw":
            values = np.moveaxis(values, 0, -1)
        if values.ndim != 3 or values.shape[:2] != shape or values.shape[2] < 3:
            raise NodeInputError(f"the inpainting model's output {descriptor.output_index} has "
                                 f"shape {np.shape(outputs[descriptor.output_index])}: expected "
                                 f"an RGB picture of {shape[1]}x{shape[0]}",
                                 hint="check layout and output_index in its descriptor")
        return np.clip(values[..., :3] / np.float32(descriptor.output_scale), 0.0, 1.0)


def _tensor_type(model, item):
    if item.type not in TENSOR_TYPES:
        raise ValueError(f"{model}: input '{item.name}' is {item.type}; supported: "
                         f"{', '.join(TENSOR_TYPES)}")
    return TENSOR_TYPES[item.type]


def _fixed_size(shape, layout):
    """(width, height) of a static 4-D input shape, else None."""
    if len(shape) != 4:
        return None
    height, width = (shape[2], shape[3]) if layout == "nchw" else (shape[1], shape[2])
    return (width, height) if isinstance(width, int) and isinstance(height, int) else None


def _check_shape(descriptor, shape, channels, size, name):
    """ValueError when the network's input `name` cannot take (1, channels, h, w)."""
    if len(shape) != 4:
        raise ValueError(f"{descriptor.model}: input '{name}' has {len(shape)} dimensions; "
                         "an image or mask input has 4 (batch, channels, height, width)")
    axis = 1 if descriptor.layout == "nchw" else 3
    expected = {axis: channels}
    expected.update({2: size[1], 3: size[0]} if axis == 1 else {1: size[1], 2: size[0]})
    for index, value in expected.items():
        if isinstance(shape[index], int) and shape[index] != value:
            raise ValueError(f"{descriptor.model}: input '{name}' has shape {list(shape)}, "
                             f"not {channels} channels of {size[0]}x{size[1]} "
                             f"({descriptor.layout}); check input_size and layout")


# ---------------------------------------------------------------- crops

def hole_crops(hole: np.ndarray, size) -> list[tuple[slice, slice]]:
    """(rows, columns) crops of the picture that cover every part of `hole` (H, W bool)
    with context: each at least the network `size` (width, height) and CONTEXT hole
    sizes around its part; parts whose crops overlap share one crop."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), 8)
    boxes = [[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:]]
    crops = [_crop_around(box, hole.shape, size) for box in boxes]
    merged = True
    while merged:
        merged = False
        for first in range(len(crops)):
            for second in range(first + 1, len(crops)):
                if _overlap(crops[first], crops[second]):
                    box = _union(boxes[first], boxes[second])
                    boxes[first], crops[first] = box, _crop_around(box, hole.shape, size)
                    del boxes[second], crops[second]
                    merged = True
                    break
            if merged:
                break
    return [(slice(y0, y1), slice(x0, x1)) for x0, y0, x1, y1 in crops]


def _crop_around(box, shape, size):
    """[x0, y0, x1, y1] of the network's aspect around `box`, inside the picture."""
    width, height = box[2] - box[0], box[3] - box[1]
    scale = max(1.0, width * (1 + 2 * CONTEXT) / size[0], height * (1 + 2 * CONTEXT) / size[1])
    crop_width = min(shape[1], int(np.ceil(size[0] * scale)))
    crop_height = min(shape[0], int(np.ceil(size[1] * scale)))
    x0 = int(np.clip((box[0] + box[2] - crop_width) // 2, 0, shape[1] - crop_width))
    y0 = int(np.clip((box[1] + box[3] - crop_height) // 2, 0, shape[0] - crop_height))
    return [x0, y0, x0 + crop_width, y0 + crop_height]


def _overlap(first, second):
    return (first[0] < second[2] and second[0] < first[2]
            and first[1] < second[3] and second[1] < first[3])


def _union(first, second):
    return [min(first[0], second[0]), min(first[1], second[1]),
            max(first[2], second[2]), max(first[3], second[3])]


# ---------------------------------------------------------------- the fill

def model_fill(image, hole, network: Network, crops):
    """Fill `hole` of `image` (H, W, C>=3) float32 (sRGB-encoded colour, then alpha) with
    the network, crop by crop; returns a copy. Channels after the third (alpha) are
    filled with their value if constant over the known pixels, else by the smooth fill."""
    out = np.array(image, dtype=np.float32, copy=True)
    for rows, columns in crops:
        crop_hole = hole[rows, columns]
        if crop_hole.any():
            fill = _fill_crop(image[rows, columns, :3], crop_hole, network)
            out[rows, columns, :3][crop_hole] = fill[crop_hole]
    if image.shape[2] > 3:
        _fill_extra_channels(image, hole, out)
    return out


def _fill_crop(rgb, hole, network):
    """The network's (h, w, 3) picture for one crop (h, w, 3) with hole (h, w)."""
    rgb = np.clip(np.where(hole[..., None], 0.0, np.nan_to_num(rgb)), 0.0, 1.0)
    padded, padded_hole, (top, left) = _pad_to_aspect(rgb.astype(np.float32), hole, network.size)
    width, height = network.size
    shrink = padded.shape[1] > width or padded.shape[0] > height
    small = cv2.resize(padded, (width, height),
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    small_hole = cv2.resize(padded_hole.astype(np.float32), (width, height),
                            interpolation=cv2.INTER_AREA) > MASK_COVERAGE
    small = np.where(small_hole[..., None], np.float32(0.0), np.clip(small, 0.0, 1.0))
    output = network.run(np.ascontiguousarray(small, np.float32), small_hole)
    grown = cv2.resize(output, (padded.shape[1], padded.shape[0]),
                       interpolation=cv2.INTER_CUBIC if shrink else cv2.INTER_AREA)
    return np.clip(grown[top:top + rgb.shape[0], left:left + rgb.shape[1]], 0.0, 1.0)


def _pad_to_aspect(rgb, hole, size):
    """Mirror-pad (h, w, 3) and its hole to the aspect ratio of `size` (width, height);
    returns them and the (top, left) offset of the crop in the padded arrays."""
    height, width = hole.shape
    target_width = max(width, int(round(height * size[0] / size[1])))
    target_height = max(height, int(round(width * size[1] / size[0])))
    top, left = (target_height - height) // 2, (target_width - width) // 2
    pads = ((top, target_height - height - top), (left, target_width - width - left))
    mode = "reflect" if min(height, width) > 1 else "edge"
    padded = np.pad(rgb, pads + ((0, 0),), mode=mode)
    padded_hole = np.pad(hole, pads, mode=mode)
    return np.ascontiguousarray(padded), padded_hole, (top, left)


def _fill_extra_channels(image, hole, out):
    from nodes.inpaint_fill import smooth_fill, value_range
    extra = np.ascontiguousarray(image[..., 3:])
    low, high = value_range(np.where(hole[..., None], np.float32(0), extra), hole)
    if np.all(low == high):
        out[..., 3:][hole] = low
    else:
        out[..., 3:] = smooth_fill(extra, hole)
