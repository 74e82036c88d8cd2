"""Picture sizes from file headers, read before decoding, and damage checks after it.

`image_size` reads only a file's header (PNG's IHDR, JPEG's SOF marker, EXR's data
window, Pillow's parsers for TIFF/BMP/WebP), so a picture over the pixel budget
($MASKGRAPH_MAX_PIXELS) is refused before a byte of it is decoded.
"""
from __future__ import annotations

import os
import struct
import warnings

_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(path: str) -> tuple[int, int] | None:
    """(width, height) from the header, or None when the header is not understood."""
    with open(path, "rb") as handle:
        head = handle.read(32)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" \
                and len(head) >= 24:
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"\xff\xd8"):
            handle.seek(2)
            return _jpeg_size(handle)
        if head.startswith(b"v/1\x01"):
            return _exr_size(path)
    return _pillow_size(path)


def _jpeg_size(handle) -> tuple[int, int] | None:
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
            continue
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if marker[1] in _SOF_MARKERS:
            data = handle.read(5)
            if len(data) < 5:
                return None
            height, width = struct.unpack(">HH", data[1:5])
            return width, height
        handle.seek(length - 2, os.SEEK_CUR)


def _exr_size(path: str) -> tuple[int, int] | None:
    try:
        import OpenEXR
        with OpenEXR.File(path, header_only=True) as exr:
            window = exr.header()["dataWindow"]
    except Exception:  # noqa: BLE001 - an unreadable header: let the decoder report it
        return None
    (x0, y0), (x1, y1) = window
    return int(x1 - x0 + 1), int(y1 - y0 + 1)


def _pillow_size(path: str) -> tuple[int, int] | None:
    from PIL import Image
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as picture:
                return picture.size
        except Image.DecompressionBombError:
            return (2**31, 1)  # Pillow saw more than 2 * its own limit: huge
        except Exception:  # noqa: BLE001 - not a format Pillow knows: size unknown
            return None


def truncated_jpeg(path: str) -> bool:
    """True when a JPEG file has no end-of-image marker after its last scan."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(b"\xff\xd8"):
        return False
    return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")
