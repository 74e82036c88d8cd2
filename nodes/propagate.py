"""Node spec: propagate (carry a mask that is right on keyframes through a shot).

At frame f between keyframes k0 <= f <= k1, the node reads the plate at every frame from
k0 to k1 and the mask at k0 and k1 (planning follows these reads; see `reads_frames`).
Working at a reduced size (`working_size` on the long side), it carries the k0 mask
forward frame by frame and the k1 mask backward:
1. dense optical flow both ways between neighbouring frames (nodes/kernels/flow.py:
   coarse-to-fine Lucas-Kanade at every pixel), the mask warped along it;
2. where the two flows disagree (revealed background, occlusion) within a few pixels of
   the edge, the warped mask is replaced by a colour model (histograms of the subject's
   and the background's colours on the pixels the flow is sure of);
3. the edge re-fitted to the frame (a colour guided filter of the warped mask against the
   frame, then a contrast curve that re-sharpens what the filter softened, applied within
   a few pixels of the edge so texture inside the subject cannot punch holes), so the
   edge follows the picture and does not drift or blur along the chain.
The two sides are blended linearly between the keyframes (before the first keyframe
or after the last, one side carries), and the result is upsampled to the plate's size
by the guided filter against the full-resolution frame.

Per process, working copies, flows and carried masks are remembered under the Merkle
keys of the frames they came from (the engine hands them over: `receives_keys`; a
direct Python call falls back to a digest of the working images), so rendering a range
in order costs one step per frame and no pixel hashing; results are the same either way.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, node
from nodes.kernels import flow as kernels
from nodes.kernels import guided
from nodes.semantic import Working, guided_coefficients, guided_upsample

WINDOW = 4  # LK window radius, working pixels
ITERATIONS = 4
DAMPING = 1e-4
MIN_LEVEL_SIDE = 12
REFIT_RADIUS = 3
REFIT_EPS = 2e-3
SHARPEN = 2.0
MEMO_SIZE = 512
BINS = 16  # colour histogram bins per channel
EDGE_BAND = 3  # working pixels around the edge that the refit may move
BAND = 6  # working pixels around the carried edge where the colour model may decide
_MEMO: OrderedDict = OrderedDict()


def _keyframes_check(params, connected):
    keyframes = params.get("keyframes")
    if not isinstance(keyframes, (list, tuple)) or not keyframes or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in keyframes):
        return [("keyframes", f"expected a list of whole frame numbers, found {keyframes!r}")]
    return []


def bracket(keyframes, frame) -> tuple:
    """(k0, k1): the nearest keyframes at or before / at or after `frame` (None if none)."""
    before = [k for k in keyframes if k <= frame]
    after = [k for k in keyframes if k >= frame]
    return (max(before) if before else None, min(after) if after else None)


def _reads(params, frame):
    k0, k1 = bracket(params["keyframes"], frame)
    first, last = (k0 if k0 is not None else frame), (k1 if k1 is not None else frame)
    return {"input": list(range(first, last + 1)),
            "mask": [k for k in (k0, k1) if k is not None]}


@node("propagate", version=1, category="motion", takes_frame=True, reads_frames=_reads,
      check=_keyframes_check, receives_keys=True,
      inputs=[Input("input", "image", lazy=True,
                    doc="the plate (its frames are read one at a time, when needed)"),
              Input("mask", "mask", doc="a mask that is right on the keyframes")],
      outputs=[Output("output", "mask", doc="the mask carried to every frame")],
      params=[Param("keyframes", "any", [1],
                    doc="frames where `mask` is right, e.g. [1] or [1, 40, 80]"),
              Param("working_size", "int", 512, min=64, max=4096,
                    doc="long side (px) at which flow and refit run"),
              Param("refit", "float", 1.0, min=0.0, max=1.0,
                    doc="how much each frame's edge is re-fitted to the picture (0: none)")])
def propagate(input, mask, *, keyframes, working_size, refit, frame, input_keys=None):
    """Carry a mask from its keyframes through the shot along the plate's motion.

    Dense optical flow both ways with a consistency check, re-anchored at every keyframe,
    the two sides blended between keyframes, the edge re-fitted to each frame. Draw a
    shape on frame 1 (or use a `segment` result), list the frames where it is right in
    `keyframes`, and get a soft mask on every frame.
    """
    k0, k1 = bracket(keyframes, frame)
    first = k0 if k0 is not None else frame
    keys = [k for k in (k0, k1) if k is not None]
    masks = dict(zip(keys, mask))
    here = input[frame - first]  # the one full-size frame held throughout
    size = here.shape[:2]
    plates = _Plates(first, input, (input_keys or {}).get("input"), working_size, size,
                     {frame: here})
    for key, keyframe_mask in masks.items():
        if keyframe_mask.shape != size:
            raise NodeInputError(f"the mask on keyframe {key} is {keyframe_mask.shape[1]}x"
                                 f"{keyframe_mask.shape[0]}, the plate {size[1]}x{size[0]}",
                                 hint="draw the shape with `like: <plate>`, or resize it")
    if frame in masks:
        return masks[frame]
    mask_ids = dict(zip(keys, (input_keys or {}).get("mask") or [None] * len(keys)))
    sides = []
    for key in keys:
        carried = _carry(plates, masks[key], mask_ids[key], key, frame, refit)
        sides.append((abs(frame - key), carried))
    if len(sides) == 2:
        total = sides[0][0] + sides[1][0]
        low = (sides[1][0] * sides[0][1] + sides[0][0] * sides[1][1]) / total
    else:
        low = sides[0][1]
    return _upsample(here, np.clip(low, 0, 1).astype(np.float32),
                     plates.working(frame).guide, plates.factor)


def _upsample(image, low, guide, factor) -> np.ndarray:
    """The working-size mask brought to the plate's size by the colour guided filter
    against the full-resolution frame, within the box around the subject's edge only:
    outside it the mask is all 0 (or all 1) over the filter's reach, which the filter
    leaves as it is, so the result is the same as filtering the whole frame."""
    radius = max(2.0, 1.5 * factor)
    reach = 2 * max(1, round(radius / factor)) + 2  # two box means and the bilinear step
    fill, box = _box_of_change(low, reach)
    out = np.full(image.shape[:2], fill, np.float32)
    if box is not None:
        top, bottom, left, right = box
        crop = np.ascontiguousarray(image[top * factor:bottom * factor,
                                          left * factor:right * factor])
        working = Working(factor, None, np.ascontiguousarray(guide[top:bottom, left:right]))
        out[top * factor:bottom * factor, left * factor:right * factor] = guided_upsample(
            crop, np.ascontiguousarray(low[top:bottom, left:right]), radius, REFIT_EPS,
            working)
    return out


def _box_of_change(mask, margin):
    """(fill, box): the value (0 or 1) that `mask` holds outside the smaller of the boxes
    around its pixels that are not 0 / not 1, and that box (top, bottom, left, right)
    grown by `margin` and clipped to the mask, or None where the mask is all `fill`."""
    best = None
    for fill in (0.0, 1.0):
        rows = np.flatnonzero((mask != fill).any(axis=1))
        if not rows.size:
            return fill, None
        columns = np.flatnonzero((mask != fill).any(axis=0))
        box = (max(rows[0] - margin, 0), min(rows[-1] + margin + 1, mask.shape[0]),
               max(columns[0] - margin, 0), min(columns[-1] + margin + 1, mask.shape[1]))
        area = (box[1] - box[0]) * (box[3] - box[2])
        if best is None or area < best[0]:
            best = (area, fill, box)
    return best[1], best[2]


class _Plates:
    """The plate frames (a lazy sequence from the engine: each is read when a step needs
    its working copy, and not held), their identities (Merkle keys from the engine, else
    a digest of the working image) and their working copies."""

    def __init__(self, first, images, keys, working_size, size, known):
        self.first, self.images, self.keys, self.known = first, images, keys, known
        self.factor = max(1, math.ceil(max(size) / working_size))

    def image(self, frame):
        if frame in self.known:  # the frame being made, read already
            return self.known[frame]
        return self.images[frame - self.first]

    def identity(self, frame) -> str:
        if self.keys is not None:
            return f"{self.keys[frame - self.first]}/{self.factor}"
        return self.working(frame).digest

    def working(self, frame) -> "_Working":
        if self.keys is None:
            return _working(self.image(frame), self.factor)
        identity = self.identity(frame)
        return _remember(("working", identity),
                         lambda: _working(self.image(frame), self.factor, identity))


class _Working:
    """A frame at working size: the guide (h, w, 3), its gray (h, w) and its identity
    (the frame's Merkle key and the factor, else a digest of the gray)."""
    __slots__ = ("guide", "gray", "digest")

    def __init__(self, guide, identity=None):
        self.guide = guide
        self.gray = (guide[..., 0] + guide[..., 1] + guide[..., 2]) * np.float32(1 / 3)
        self.digest = identity or hashlib.blake2b(self.gray.tobytes(),
                                                  digest_size=16).hexdigest()


def _working(image, factor, identity=None) -> _Working:
    height, width = image.shape[:2]
    shape = (math.ceil(height / factor), math.ceil(width / factor), 3)
    rgb, guide = np.empty(shape, np.float32), np.empty(shape, np.float32)
    guided.downsample_into(np.ascontiguousarray(image, dtype=np.float32), factor, rgb, guide)
    return _Working(guide, identity)


def _remember(key, compute):
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    value = compute()
    _MEMO[key] = value
    if len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)
    return value


def _digest(*parts) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def _carry(plates, keyframe_mask, mask_id, start, end, refit) -> np.ndarray:
    """The keyframe mask carried at working size from `start` to `end`, one step per
    frame; each step's result is remembered under the identities it came from."""
    step = 1 if end > start else -1
    if mask_id is None:
        mask_id = hashlib.blake2b(keyframe_mask.tobytes(), digest_size=16).hexdigest()
    digests = [_digest(mask_id, str(refit), str(plates.factor), plates.identity(start))]
    for current in range(start + step, end + step, step):
        digests.append(_digest(digests[-1], plates.identity(current)))
    done = len(digests) - 1  # the furthest step already remembered
    while done > 0 and ("mask", digests[done]) not in _MEMO:
        done -= 1
    if plates.keys is not None and done < len(digests) - 1:
        # read the frames the steps need in frame order first (a video decodes forward;
        # the working copies are remembered), even when the steps run backward
        for current in sorted(start + index * step for index in range(done, len(digests))):
            plates.working(current)
    if done == 0:
        shape = plates.working(start).gray.shape
        low = _downsample_mask(keyframe_mask, plates.factor, shape)
    else:
        low = _remember(("mask", digests[done]), None)
    for index in range(done + 1, len(digests)):
        current = start + index * step
        low = _step(plates.working(current - step), plates.working(current), low, refit)
        _remember(("mask", digests[index]), lambda: low)  # noqa: B023
    return low


def _step(previous, here, mask, refit) -> np.ndarray:
    """One frame: warp along the flow, replace the inconsistent parts, re-fit the edge."""
    back = flow_between(here, previous)  # where each pixel of `here` was in `previous`
    ahead = flow_between(previous, here)
    warped = np.empty_like(mask)
    kernels.warp_mask(mask, back, warped)
    trust = np.empty_like(mask)
    kernels.consistency(ahead, back, trust)
    if refit == 0:
        return warped
    # the colour model decides the pixels the flow is unsure of, near the edge only (what
    # the subject revealed or covered); deep inside or outside, the carried mask stays
    zone = near((warped > 0.02) & (warped < 0.98), BAND)
    likely = colour_model(here.guide, warped, trust)
    blended = warped + zone * (1 - trust) * (likely - warped)
    edge = near((blended > 0.02) & (blended < 0.98), EDGE_BAND)  # the interior stays
    fitted = blended.copy()
    _, box = _box_of_change(edge, 2 * REFIT_RADIUS + 1)  # the filter's reach around it
    if box is not None:
        top, bottom, left, right = box
        fitted[top:bottom, left:right] = refit_edge(
            np.ascontiguousarray(here.guide[top:bottom, left:right]),
            np.ascontiguousarray(blended[top:bottom, left:right]))
    return (blended + refit * edge * (fitted - blended)).astype(np.float32)


def colour_model(guide, mask, trust) -> np.ndarray:
    """P(subject | colour) per pixel from colour histograms (BINS^3) of the pixels the
    flow is sure of: inside (mask > 0.5) and outside. Decides the pixels the flow is not
    sure of (revealed background, occlusions)."""
    codes = np.minimum((guide * BINS).astype(np.int32), BINS - 1)
    index = (codes[..., 0] * BINS + codes[..., 1]) * BINS + codes[..., 2]
    inside = (trust * (mask > 0.5)).ravel()
    outside = (trust * (mask <= 0.5)).ravel()
    size = BINS ** 3
    subject = np.bincount(index.ravel(), inside, size)
    rest = np.bincount(index.ravel(), outside, size)
    # counts, not densities: a colour seen on neither side leans to the background
    return (subject / (subject + rest + 1.0))[index].astype(np.float32)


def near(where, radius) -> np.ndarray:
    """1 within `radius` working pixels of the True pixels of `where`, else 0."""
    plane = where.astype(np.float32)[None]
    spread = np.empty_like(plane)
    kernels.box_mean(plane, radius, np.empty_like(plane), spread)
    return (spread[0] > 0).astype(np.float32)


def refit_edge(guide, mask) -> np.ndarray:
    """The colour guided filter of `mask` against the frame, re-sharpened."""
    coeffs = guided_coefficients(guide, np.clip(mask, 0, 1).astype(np.float32),
                                 REFIT_RADIUS, REFIT_EPS)
    filtered = np.einsum("chw,hwc->hw", coeffs[:3], guide) + coeffs[3]
    return np.clip((filtered - 0.5) * SHARPEN + 0.5, 0, 1).astype(np.float32)


def flow_between(source: _Working, target: _Working) -> np.ndarray:
    """(2, h, w) flow from `source` to `target`, remembered per process."""
    return _remember(("flow", source.digest, target.digest),
                     lambda: dense_flow(source.gray, target.gray))


def dense_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Coarse-to-fine dense Lucas-Kanade flow from `first` to `second` ((h, w) float32)."""
    pyramid = [(first, second)]
    while min(pyramid[-1][0].shape) >= 2 * MIN_LEVEL_SIDE:
        smaller = []
        for image in pyramid[-1]:
            half = np.empty(((image.shape[0] + 1) // 2, (image.shape[1] + 1) // 2), np.float32)
            kernels.downsample2(image, half)
            smaller.append(half)
        pyramid.append(tuple(smaller))
    flow = np.zeros((2,) + pyramid[-1][0].shape, np.float32)
    for level in range(len(pyramid) - 1, -1, -1):
        one, two = pyramid[level]
        if flow.shape[1:] != one.shape:
            finer = np.empty((2,) + one.shape, np.float32)
            kernels.upsample_flow(flow, finer)
            flow = finer
        terms = np.empty((5,) + one.shape, np.float32)
        sums, scratch = np.empty_like(terms), np.empty_like(terms)
        for _ in range(ITERATIONS):
            kernels.lk_terms(one, two, flow, terms)
            kernels.box_mean(terms, WINDOW, scratch, sums)
            kernels.lk_update(sums, DAMPING, flow)
    return flow


def _downsample_mask(mask, factor, shape) -> np.ndarray:
    """A full-size mask box-averaged by `factor` to `shape` (partial edge blocks)."""
    height, width = mask.shape
    padded = np.zeros((shape[0] * factor, shape[1] * factor), np.float32)
    counts = np.zeros_like(padded)
    padded[:height, :width] = mask
    counts[:height, :width] = 1
    blocks = (shape[0], factor, shape[1], factor)
    return (padded.reshape(blocks).sum(axis=(1, 3))
            / counts.reshape(blocks).sum(axis=(1, 3))).astype(np.float32)
