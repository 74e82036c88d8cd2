"""Pixel format conversion between files' integer codes and maskgraph's float32 RGBA.

Decoding uses a lookup table per code value (256 or 65536 entries), so reading never
calls `pow`. Encoding to 8-bit uses the 255 decision thresholds of the sRGB curve
(binary search), which rounds exactly like round(encode(v) * 255).
"""
from functools import lru_cache

import numpy as np

from nodes.kernels.jit import kernel, scalar
from nodes.kernels.color import srgb_decode_into, srgb_encode


@lru_cache(maxsize=8)
def decode_table(bits: int, transfer: str) -> np.ndarray:
    """float32 table code -> linear value for `bits`-deep codes ('srgb' or 'raw'); built
    once per (bits, transfer) and shared, so read-only."""
    codes = np.arange(2**bits, dtype=np.float64) / (2**bits - 1)
    if transfer == "srgb":
        codes = np.where(codes <= 0.04045, codes / 12.92, ((codes + 0.055) / 1.055) ** 2.4)
    table = codes.astype(np.float32)
    table.flags.writeable = False
    return table


def srgb8_thresholds() -> np.ndarray:
    """Linear values at which the 8-bit sRGB code steps up: 255 increasing float32."""
    midpoints = (np.arange(255, dtype=np.float64) + 0.5) / 255
    linear = np.where(midpoints <= 0.04045, midpoints / 12.92,
                      ((midpoints + 0.055) / 1.055) ** 2.4)
    return linear.astype(np.float32)


@kernel
def codes_to_rgba(codes, table, premultiply, out, first, stop):
    """(H, W, C) integer codes in B,G,R[,A] order (C = 1..4) -> (H, W, 4) float32 RGBA,
    rows first:stop (a band kernel: nodes/kernels/bands.py).

    Colour goes through `table`; alpha is code / max (never a transfer curve). Gray (C=1,2)
    fills R, G and B. premultiply: multiply colour by alpha.
    """
    width, channels = codes.shape[1], codes.shape[2]
    alpha_scale = np.float32(1.0 / (table.size - 1))
    for y in range(first, stop):
        for x in range(width):
            alpha = np.float32(1.0)
            if channels == 4:
                alpha = codes[y, x, 3] * alpha_scale
            elif channels == 2:
                alpha = codes[y, x, 1] * alpha_scale
            factor = alpha if premultiply else np.float32(1.0)
            if channels >= 3:
                out[y, x, 0] = table[codes[y, x, 2]] * factor
                out[y, x, 1] = table[codes[y, x, 1]] * factor
                out[y, x, 2] = table[codes[y, x, 0]] * factor
            else:
                gray = table[codes[y, x, 0]] * factor
                out[y, x, 0] = gray
                out[y, x, 1] = gray
                out[y, x, 2] = gray
            out[y, x, 3] = alpha


SRGB8_TABLE_SIZE = 65536


def srgb8_table() -> np.ndarray:
    """uint8 sRGB code of the start of each of SRGB8_TABLE_SIZE bins of linear [0, 1]."""
    starts = np.arange(SRGB8_TABLE_SIZE, dtype=np.float32) / np.float32(SRGB8_TABLE_SIZE - 1)
    return np.searchsorted(srgb8_thresholds(), starts, side="right").astype(np.uint8)


@scalar
def _encode8(value, table, thresholds):
    """Exact 8-bit sRGB code of a linear value: a table lookup, then at most one step up."""
    if not value > 0.0:  # also NaN
        return 0
    if value >= 1.0:
        return 255
    code = table[int(value * (SRGB8_TABLE_SIZE - 1))]
    if code < 255 and value >= thresholds[code]:
        code += 1
    return code


@kernel
def rgba_to_srgb8(image, table, thresholds, unpremultiply, channels, out, first, stop):
    """(H, W, 4) float32 -> (H, W, channels) uint8 B,G,R[,A]; colour sRGB-encoded exactly;
    rows first:stop."""
    width = image.shape[1]
    for y in range(first, stop):
        for x in range(width):
            alpha = image[y, x, 3]
            scale = _straight_scale(alpha, unpremultiply)
            for c in range(3):
                out[y, x, 2 - c] = _encode8(image[y, x, c] * scale, table, thresholds)
            if channels == 4:
                out[y, x, 3] = _quantize(alpha, 255.0)


@scalar
def _straight_scale(alpha, unpremultiply):
    """The factor that unpremultiplies a pixel's colour (1 where alpha is 0, or when off)."""
    return np.float32(1.0) / alpha if (unpremultiply and alpha > 0) else np.float32(1.0)


@scalar
def _quantize(value, maximum):
    if not value > 0.0:
        return 0.0
    return min(np.floor(value * maximum + 0.5), maximum)


@kernel
def rgba_to_codes(image, maximum, srgb, unpremultiply, channels, out, first, stop):
    """(H, W, 4) float32 -> (H, W, channels) codes scaled to `maximum` (B,G,R[,A] order);
    rows first:stop."""
    width = image.shape[1]
    for y in range(first, stop):
        for x in range(width):
            alpha = image[y, x, 3]
            scale = _straight_scale(alpha, unpremultiply)
            for c in range(3):
                value = image[y, x, c] * scale
                if srgb:
                    value = srgb_encode(value)
                out[y, x, 2 - c] = _quantize(value, maximum)
            if channels == 4:
                out[y, x, 3] = _quantize(alpha, maximum)


@kernel
def rgba_to_float(image, srgb, unpremultiply, channels, out, first, stop):
    """(H, W, 4) float32 -> (H, W, channels) float32 B,G,R[,A], optionally sRGB-encoded;
    rows first:stop."""
    width = image.shape[1]
    for y in range(first, stop):
        for x in range(width):
            alpha = image[y, x, 3]
            scale = _straight_scale(alpha, unpremultiply)
            for c in range(3):
                value = image[y, x, c] * scale
                out[y, x, 2 - c] = srgb_encode(value) if srgb else value
            if channels == 4:
                out[y, x, 3] = alpha


def float_to_rgba(pixels: np.ndarray, srgb: bool, premultiply: bool) -> np.ndarray:
    """(H, W, C) float B,G,R[,A] (C = 1..4) -> (H, W, 4) float32 RGBA (numpy; float files are rare)."""
    pixels = pixels.astype(np.float32)
    height, width, channels = pixels.shape
    out = np.ones((height, width, 4), np.float32)
    colour = pixels[..., [2, 1, 0]] if channels >= 3 else np.repeat(pixels[..., :1], 3, 2)
    if srgb:
        decoded = np.empty_like(colour)
        srgb_decode_into(np.ascontiguousarray(colour), decoded)
        colour = decoded
    out[..., :3] = colour
    if channels in (2, 4):
        out[..., 3] = pixels[..., channels - 1]
        if premultiply:
            out[..., :3] *= out[..., 3:4]
    return out

