"""Synthetic green/blue-screen plates with a known alpha, built from a real photograph.

`screen_plate` composites the astronaut of scikit-image's sample data (Eileen Collins,
NASA, public domain) in linear light over an unevenly lit, noisy coloured backing:
a soft matte (head, torso, helmet), thin semi-transparent hair strands, a motion-blurred
side, and green (or blue) spill on the subject's edges. Tests, benchmarks and
graphs_examples/images/make_keying.py share it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SCREENS = {"green": (0.06, 0.42, 0.09), "blue": (0.035, 0.09, 0.46)}
HAIR_COLOR = (0.10, 0.055, 0.025)
SUPERSAMPLE = 4


@dataclass
class Plate:
    """A synthetic keying plate and its ground truth.

    plate: (H, W, 4) float32 premultiplied linear RGBA, alpha 1 (what a camera saw).
    alpha: (H, W) float32 true subject alpha.
    foreground: (H, W, 3) float32 clean subject colour, premultiplied by `alpha`.
    spilled: (H, W, 3) float32 the subject with spill, premultiplied (what lies in the plate).
    backing: (H, W, 3) float32 the lit backing alone.
    screen: (3,) nominal backing colour (linear).
    """

    plate: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    spilled: np.ndarray
    backing: np.ndarray
    screen: np.ndarray


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding, written plainly."""
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding, written plainly (negative values pass linearly)."""
    linear = np.asarray(linear, np.float64)
    power = 1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055
    return np.where(linear <= 0.0031308, linear * 12.92, power)


def supersampled_coverage(draw, size: int) -> np.ndarray:
    """Anti-aliased coverage of shapes drawn by `draw(canvas, scale)` at 4x, box-filtered."""
    big = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.float32)
    draw(big, SUPERSAMPLE)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def body_matte(size: int) -> np.ndarray:
    """Head, torso and helmet of the astronaut as a soft (H, W) matte."""
    def draw(canvas, scale):
        unit = scale * size / 512.0
        point = lambda x, y: (int(round(x * unit)), int(round(y * unit)))  # noqa: E731
        cv2.ellipse(canvas, point(230, 112), point(74, 92), 0, 0, 360, 1.0, -1)
        torso = np.array([point(*p) for p in [(20, 512), (30, 230), (90, 175), (170, 160),
                                              (300, 165), (350, 215), (370, 330),
                                              (390, 512)]], np.int32)
        cv2.fillPoly(canvas, [torso], 1.0)
        cv2.ellipse(canvas, point(390, 440), point(112, 100), 0, 0, 360, 1.0, -1)
    matte = supersampled_coverage(draw, size)
    return cv2.GaussianBlur(matte, (0, 0), 0.8 * size / 512.0)


def hair_strands(size: int, rng: np.random.Generator) -> np.ndarray:
    """Thin curved strands (0.3-1.5 px wide, 25-85% opacity) around the top of the head."""
    strands = np.zeros((size, size), np.float32)
    unit = size / 512.0
    for _ in range(70):
        angle = rng.uniform(np.pi * 1.05, np.pi * 1.95)
        start = np.array([230 + 70 * np.cos(angle), 112 + 88 * np.sin(angle)])
        direction = np.array([np.cos(angle), np.sin(angle)])
        bend = rng.uniform(-0.8, 0.8)
        length = rng.uniform(15, 55)
        t = np.linspace(0, 1, 24)[:, None]
        side = np.array([-direction[1], direction[0]])
        curve = start + direction * length * t + side * bend * length * t ** 2 * 0.5

        def draw(canvas, scale, curve=curve, width=rng.uniform(0.3, 1.5)):
            points = np.round(curve * unit * scale * 16).astype(np.int32)
            thickness = max(1, int(round(width * unit * scale)))
            cv2.polylines(canvas, [points], False, 1.0, thickness, cv2.LINE_AA, shift=4)
        coverage = supersampled_coverage(draw, size) * rng.uniform(0.25, 0.85)
        strands = 1 - (1 - strands) * (1 - coverage)
    return strands


def lit_backing(size: int, screen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The backing colour under uneven light: a 0.55-1.15 falloff and a slight hue drift."""
    y, x = np.mgrid[0:size, 0:size] / size
    light = 1.15 - 0.45 * ((x - 0.3) ** 2 + (y - 0.25) ** 2) - 0.25 * y
    drift = 1 + 0.06 * np.stack([np.sin(3 * x + 1), np.cos(2 * y), np.sin(2 * x - 3 * y)], -1)
    return (screen * light[..., None] * drift).astype(np.float32)


def motion_blurred(premultiplied: np.ndarray, alpha: np.ndarray, size: int):
    """Blur the subject horizontally (25 px) on the right of the frame, where x > 60%."""
    length = max(3, int(25 * size / 512))
    kernel = np.ones((1, length), np.float32) / length
    blurred_rgb = cv2.filter2D(premultiplied, -1, kernel, borderType=cv2.BORDER_REFLECT)
    blurred_alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_REFLECT)
    x = np.arange(size) / size
    weight = np.clip((x - 0.6) / 0.1, 0, 1).astype(np.float32)[None, :]
    rgb = premultiplied + (blurred_rgb - premultiplied) * weight[..., None]
    return rgb, alpha + (blurred_alpha - alpha) * weight


def spill_weight(alpha: np.ndarray, size: int) -> np.ndarray:
    """How much backing light reaches the subject: strong at the edge, gone ~10 px in."""
    outside = cv2.GaussianBlur(1 - alpha, (0, 0), 5 * size / 512.0)
    return np.clip(2 * outside, 0, 1) * alpha


def screen_plate(screen: str = "green", size: int = 512, noise: float = 0.008,
                 spill: float = 0.3, seed: int = 7, photo: str = "astronaut") -> Plate:
    """A synthetic keying plate of `size` x `size` pixels with a known alpha.

    Parameters
    ----------
    screen : "green" or "blue".
    noise : standard deviation of the Gaussian sensor noise (linear units).
    spill : strength of the backing light added to the subject's edges.
    photo : the skimage.data photograph that gives the subject's colours ("chelsea",
        "coffee", ... for a second plate whose colours differ from the astronaut's).
    """
    rng = np.random.default_rng(seed)
    pixels = cv2.resize(getattr(__import__("skimage.data").data, photo)(), (size, size),
                        interpolation=cv2.INTER_AREA)
    subject = srgb_to_linear(pixels / 255.0).astype(np.float32)
    body = body_matte(size)
    strands = hair_strands(size, rng)
    premultiplied = subject * body[..., None]
    premultiplied = np.asarray(HAIR_COLOR, np.float32) * strands[..., None] \
        + premultiplied * (1 - strands[..., None])
    alpha = 1 - (1 - body) * (1 - strands)
    premultiplied, alpha = motion_blurred(premultiplied, alpha, size)
    screen_color = np.asarray(SCREENS[screen], np.float32)
    backing = lit_backing(size, screen_color, rng)
    spilled = premultiplied + spill * spill_weight(alpha, size)[..., None] * backing
    rgb = spilled + backing * (1 - alpha[..., None])
    rgb = np.clip(rgb + rng.normal(0, noise, rgb.shape), 0, None).astype(np.float32)
    plate = np.concatenate([rgb, np.ones((size, size, 1), np.float32)], axis=-1)
    return Plate(plate=plate, alpha=alpha.astype(np.float32),
                 foreground=premultiplied.astype(np.float32),
                 spilled=spilled.astype(np.float32), backing=backing, screen=screen_color)
