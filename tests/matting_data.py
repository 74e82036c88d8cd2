"""Composites with a known soft alpha, for matting tests and benchmarks.

`matting_composite` cuts the astronaut of scikit-image's sample data (public domain) with
a soft alpha and lays it, in linear light, over another real photograph (Chelsea the cat,
or the coffee cup, sharp or defocused as behind a portrait). The alpha has what real mattes have: a 1-px anti-aliased body edge
(tests/data.py's body_matte), thin semi-transparent hair strands growing out of the
head and shoulders (0.5-1.5 px wide, 4-18 px long, 35-95% opacity), a fur fringe whose strands come from a real photograph
(scikit-image's grass: the blades, thresholded softly, fade out over ~16 px beyond the
body's edge; light-brown fur shaded by the photo) and a motion-blurred right side.

`coarse_mask` is what a segmentation network gives: the truth thresholded at 0.5,
box-downsampled 8x and upsampled bilinearly.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import skimage.data

from tests.data import SUPERSAMPLE, body_matte, motion_blurred, srgb_to_linear

BACKGROUNDS = {"chelsea": skimage.data.chelsea, "coffee": skimage.data.coffee,
               "rocket": skimage.data.rocket,
               "coffee_defocused": lambda: cv2.GaussianBlur(skimage.data.coffee(), (0, 0), 4)}
STRAND_COLOR = (0.16, 0.10, 0.055)
FUR_COLOR = (0.42, 0.27, 0.14)


@dataclass
class Composite:
    """image: (H, W, 4) float32 linear premultiplied RGBA (alpha 1: a photograph);
    alpha: (H, W) float32 true alpha; foreground: (H, W, 3) float32 straight (not
    premultiplied) foreground colour; background: (H, W, 3) float32 linear."""

    image: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    background: np.ndarray


def photo(loader, width: int, height: int) -> np.ndarray:
    """(height, width, 3) float32 linear colour of a wheel photo, resized by area/cubic."""
    pixels = loader()
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    resized = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_CUBIC)
    return srgb_to_linear(np.clip(resized, 0, 255) / 255.0).astype(np.float32)


def fur_fringe(body: np.ndarray, size: int, reach: float) -> np.ndarray:
    """Fur beyond the body's edge: grass blades (a real photo) faded over `reach` px."""
    blades = cv2.resize(skimage.data.grass(), (size, size), interpolation=cv2.INTER_AREA)
    blades = np.clip((blades / 255.0 - 0.45) * 3.0, 0.0, 1.0)
    outside = cv2.distanceTransform((body < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    fade = np.clip(1.0 - outside / reach, 0.0, 1.0)
    return (blades * fade * (body < 0.5)).astype(np.float32)


def hair(body: np.ndarray, size: int, rng: np.random.Generator, count: int) -> np.ndarray:
    """Strands growing outward from the upper half of the body's edge (head, shoulders)."""
    unit = size / 384.0
    inside = (body >= 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(inside, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    edge = np.concatenate([c[:, 0, :] for c in contours]).astype(np.float64)
    edge = edge[edge[:, 1] < 0.55 * size]
    normals = cv2.Sobel(cv2.GaussianBlur(body, (0, 0), 3 * unit), cv2.CV_32F, 1, 0), \
        cv2.Sobel(cv2.GaussianBlur(body, (0, 0), 3 * unit), cv2.CV_32F, 0, 1)
    canvas = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.float32)
    strands = np.zeros((size, size), np.float32)
    for _ in range(count):
        x, y = edge[rng.integers(len(edge))]
        normal = -np.array([normals[0][int(y), int(x)], normals[1][int(y), int(x)]])
        normal = normal / max(np.linalg.norm(normal), 1e-6)
        side = np.array([-normal[1], normal[0]])
        length = rng.uniform(4, 18) * unit
        t = np.linspace(-0.15, 1, 12)[:, None]
        curve = np.array([x, y]) + normal * length * t + side * rng.uniform(-0.5, 0.5) * length * t ** 2
        canvas[:] = 0
        points = np.round(curve * SUPERSAMPLE * 16).astype(np.int32)
        thickness = max(1, int(round(rng.uniform(0.5, 1.5) * unit * SUPERSAMPLE)))
        cv2.polylines(canvas, [points], False, 1.0, thickness, cv2.LINE_AA, shift=4)
        coverage = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
        strands = 1 - (1 - strands) * (1 - coverage * rng.uniform(0.35, 0.95))
    return strands


def matting_composite(size: int = 384, background: str = "chelsea",
                      seed: int = 3) -> Composite:
    """A size x size composite with a known soft alpha (see the module doc)."""
    rng = np.random.default_rng(seed)
    subject = photo(skimage.data.astronaut, size, size)
    body = body_matte(size)
    fringe = fur_fringe(body, size, 16.0 * size / 512.0)
    strands = hair(body, size, rng, count=int(260 * size / 384))
    premultiplied = subject * body[..., None]
    fur = np.asarray(FUR_COLOR, np.float32) * (0.8 + 0.4 * subject.mean(-1, keepdims=True))
    premultiplied = fur * fringe[..., None] + premultiplied * (1 - fringe[..., None])
    alpha = 1 - (1 - body) * (1 - fringe)
    strand_color = np.asarray(STRAND_COLOR, np.float32)
    premultiplied = strand_color * strands[..., None] + premultiplied * (1 - strands[..., None])
    alpha = 1 - (1 - alpha) * (1 - strands)
    premultiplied, alpha = motion_blurred(premultiplied, alpha, size)
    back = photo(BACKGROUNDS[background], size, size)
    rgb = premultiplied + back * (1 - alpha[..., None])
    image = np.concatenate([rgb, np.ones((size, size, 1), np.float32)], -1)
    foreground = premultiplied / np.maximum(alpha, 1e-6)[..., None]
    return Composite(image.astype(np.float32), alpha.astype(np.float32),
                     np.clip(foreground, 0, 1).astype(np.float32), back)


def coarse_mask(alpha: np.ndarray, factor: int = 8) -> np.ndarray:
    """The truth thresholded at 0.5, box-downsampled by `factor`, upsampled bilinearly."""
    height, width = alpha.shape
    binary = (alpha >= 0.5).astype(np.float32)
    small = cv2.resize(binary, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    return np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1)


def sad(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Sum of absolute differences, in thousands (the alphamatting.com convention)."""
    return float(np.abs(estimate.astype(np.float64) - truth).sum() / 1000.0)
