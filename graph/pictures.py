"""Results as 8-bit pictures for the pages (`preview`, `serve`): sRGB, straight alpha, PNG.

Images (H, W, 4) premultiplied linear become 8-bit sRGB RGBA (unpremultiplied); masks
(H, W) become 8-bit grey of their code values (no transfer curve: masks are data). The
mask overlay is the nearest upstream image with the mask as a translucent red.
"""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np

OVERLAY_RED = np.array([1.0, 0.05, 0.05], np.float32)
OVERLAY_WEIGHT = 0.6
PNG_LEVEL = 1  # fast zlib level: PNG bytes are made on request, speed beats size here


def shrink(array: np.ndarray, limit: int | None) -> np.ndarray:
    """At most `limit` pixels on the long side (area-averaged); None keeps full size."""
    height, width = array.shape[:2]
    if limit is None or max(height, width) <= limit:
        return array
    scale = limit / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(array), size, interpolation=cv2.INTER_AREA)


def to_display(array: np.ndarray, limit: int | None = None) -> np.ndarray:
    """8-bit sRGB RGBA (straight alpha) for an image, 8-bit grey for a mask."""
    array = shrink(array, limit)
    if array.ndim == 2:
        return np.clip(np.rint(array * 255), 0, 255).astype(np.uint8)
    alpha = array[..., 3:4]
    out = np.empty(array.shape, np.uint8)
    if np.all(alpha >= 1.0):  # opaque: no unpremultiply needed
        colour = array[..., :3]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            colour = np.where(alpha > 0, array[..., :3] / alpha, 0)
    out[..., :3] = _SRGB_LUT[_lut_index(colour)]
    out[..., 3] = np.clip(np.rint(alpha[..., 0] * 255), 0, 255)
    return out


LUT_SIZE = 65536


def _lut_index(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats (NaN and out of range clipped) as 16-bit indices into _SRGB_LUT."""
    scaled = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0) * (LUT_SIZE - 1) + 0.5
    return np.clip(scaled, 0, LUT_SIZE - 1).astype(np.uint16)


def srgb_encode(values):
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


# 8-bit sRGB code of every 16-bit linear level: a lookup instead of a power per pixel
_SRGB_LUT = np.clip(np.rint(srgb_encode(np.arange(LUT_SIZE) / (LUT_SIZE - 1)) * 255),
                    0, 255).astype(np.uint8)


def overlay(mask: np.ndarray, backdrop: np.ndarray | None, limit: int | None = None) -> np.ndarray:
    """The backdrop image (over mid grey) with the mask as a translucent red, 8-bit RGB."""
    mask = shrink(mask, limit)
    if backdrop is not None:
        backdrop = shrink(backdrop, limit)
    if backdrop is None or backdrop.shape[:2] != mask.shape:
        picture = np.full(mask.shape + (3,), 0.18, np.float32)
    else:
        picture = backdrop[..., :3] + 0.18 * (1 - backdrop[..., 3:4])
    weight = OVERLAY_WEIGHT * mask[..., None]
    mixed = picture * (1 - weight) + OVERLAY_RED * weight
    rgba = np.concatenate([mixed, np.ones(mask.shape + (1,), np.float32)], axis=2)
    return to_display(rgba.astype(np.float32))[..., :3]


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG file bytes of 8-bit grey, RGB or RGBA pixels."""
    if pixels.ndim == 3 and pixels.shape[2] == 4 and pixels[..., 3].min() == 255:
        pixels = pixels[..., :3]  # opaque: RGB is a quarter smaller and faster to encode
    if pixels.ndim == 3:
        pixels = pixels[..., [2, 1, 0, 3]] if pixels.shape[2] == 4 else pixels[..., ::-1]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels),
                               [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()


def png_stored(pixels: np.ndarray) -> bytes:
    """PNG bytes without compression (stored deflate blocks, no row filters).

    For full-resolution pictures sent over the loopback: writing is a copy and two
    checksums (a few ms for 1080p, where zlib at its fastest level takes 100+ ms), and
    the browser decodes it as fast. Grey, RGB or RGBA 8-bit.
    """
    if pixels.ndim == 3 and pixels.shape[2] == 4 and pixels[..., 3].min() == 255:
        pixels = pixels[..., :3]
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = np.zeros((height, width * channels + 1), np.uint8)   # filter byte 0 per row
    rows[:, 1:] = pixels.reshape(height, width * channels)
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 0)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def thumbnail_uri(pixels: np.ndarray) -> str:
    """A data URI for a small picture: JPEG (quality 88) when opaque colour, else PNG."""
    import base64
    opaque = pixels.ndim == 3 and (pixels.shape[2] == 3 or pixels[..., 3].min() == 255)
    if opaque:
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(pixels[..., 2::-1]),
                                   [cv2.IMWRITE_JPEG_QUALITY, 88])
        return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode()
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode()


def coverage_percent(mask: np.ndarray) -> float:
    return float(np.mean(np.clip(mask, 0, 1))) * 100
