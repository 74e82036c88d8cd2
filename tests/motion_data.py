"""A synthetic-but-real shot with known masks, for propagate's tests, bench and example.

A cut-out of a real photo (the cat of scikit-image's `chelsea`, inside a soft wobbly
outline) moves along a curve, turns, and deforms non-rigidly (a smooth travelling wave
of a few pixels) over a panning real background (scikit-image's `coffee`). Composited
in linear light; the subject's alpha on each frame is the true mask.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

WIDTH, HEIGHT = 256, 192


def _subject():
    """(rgb linear float32 (H, W, 3), alpha (H, W)) of the cut-out, centred at its middle."""
    import skimage.data
    cat = skimage.data.chelsea()[30:230, 60:260].astype(np.float32) / 255.0  # 200x200
    size = 200
    angles = np.linspace(0, 2 * math.pi, 400, endpoint=False)
    radius = 78 + 9 * np.sin(3 * angles) + 5 * np.cos(5 * angles + 1)
    outline = np.stack([100 + radius * np.cos(angles), 100 + 0.85 * radius * np.sin(angles)], 1)
    supersampled = np.zeros((size * 4, size * 4), np.uint8)
    cv2.fillPoly(supersampled, [np.round(outline * 4).astype(np.int32)], 255)
    alpha = cv2.resize(supersampled, (size, size), interpolation=cv2.INTER_AREA) / 255.0
    return cat ** 2.2, alpha.astype(np.float32)


def frame_motion(index: int, count: int):
    """(centre x, centre y, angle degrees, scale, wave phase) of the subject on a frame."""
    t = index / max(count - 1, 1)
    return (80 + 100 * t, 100 + 25 * math.sin(2 * math.pi * t), 25 * math.sin(math.pi * t),
            0.55 + 0.1 * t, 2 * math.pi * 1.5 * t)


def make_clip(count: int = 64):
    """(frames: list of (H, W, 4) float32 linear premultiplied RGBA, masks: (H, W) float32)."""
    import skimage.data
    background = skimage.data.coffee().astype(np.float32) / 255.0
    background = cv2.resize(background, (600, 400)) ** 2.2
    rgb, alpha = _subject()
    frames, masks = [], []
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    for index in range(count):
        cx, cy, angle, scale, phase = frame_motion(index, count)
        # non-rigid: a travelling wave bends the subject by up to 4 px
        bend_x = 4.0 * np.sin(rows / 23.0 + phase)
        bend_y = 3.0 * np.sin(columns / 29.0 - phase)
        x, y = columns + 0.5 - cx - bend_x, rows + 0.5 - cy - bend_y
        turn = math.radians(-angle)
        u = (math.cos(turn) * x - math.sin(turn) * y) / scale + 100 - 0.5
        v = (math.sin(turn) * x + math.cos(turn) * y) / scale + 100 - 0.5
        subject = cv2.remap(rgb, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        matte = cv2.remap(alpha, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        pan_x, pan_y = 40 + 2.0 * index, 60 + 0.6 * index
        shift = np.float32([[1, 0, pan_x], [0, 1, pan_y]])
        plate = cv2.warpAffine(background, shift, (WIDTH, HEIGHT),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        colour = subject * matte[..., None] + plate * (1 - matte[..., None])
        frames.append(np.dstack([colour, np.ones_like(matte)]).astype(np.float32))
        masks.append(matte.astype(np.float32))
    return frames, masks


def iou(mask, truth, level=0.5) -> float:
    a, b = mask >= level, truth >= level
    return float((a & b).sum() / max((a | b).sum(), 1))


def dis_chain(frames, first_mask):
    """Baseline: OpenCV's DIS optical flow chained frame to frame to warp the first mask."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grays = [cv2.cvtColor((np.clip(f[..., :3], 0, 1) ** (1 / 2.2) * 255).astype(np.uint8),
                          cv2.COLOR_RGB2GRAY) for f in frames]
    rows, columns = np.mgrid[0:grays[0].shape[0], 0:grays[0].shape[1]].astype(np.float32)
    masks = [first_mask]
    for previous, current in zip(grays, grays[1:]):
        back = dis.calc(current, previous, None)
        masks.append(cv2.remap(masks[-1], columns + back[..., 0], rows + back[..., 1],
                               cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return masks
