"""Colour encodings: the sRGB transfer curve, premultiplication, luma.

Scalar functions (`srgb_decode`, `srgb_encode`, `luma709`) are `scalar` helpers that other
kernels inline; the array kernels take float32 arrays and write into `out`.
"""
import numpy as np

from nodes.kernels.jit import parallel_kernel, prange, scalar

REC709_WEIGHTS = (0.2126, 0.7152, 0.0722)


@scalar
def srgb_decode(value):
    """sRGB-encoded value -> linear (IEC 61966-2-1). Values <= 0 pass linearly."""
    if value <= 0.04045:
        return value / 12.92
    return ((value + 0.055) / 1.055) ** 2.4


@scalar
def srgb_encode(value):
    """Linear value -> sRGB-encoded (IEC 61966-2-1). Values <= 0 pass linearly."""
    if value <= 0.0031308:
        return value * 12.92
    return 1.055 * value ** (1.0 / 2.4) - 0.055


@scalar
def luma709(red, green, blue):
    """Rec.709 luma of one pixel."""
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


@parallel_kernel
def unpremultiply_into(image, out):
    """(H, W, 4) premultiplied -> straight colour in `out`; alpha 0 leaves colour as is."""
    height, width = image.shape[0], image.shape[1]
    for y in prange(height):
        for x in range(width):
            alpha = image[y, x, 3]
            scale = np.float32(1.0) / alpha if alpha != 0 else np.float32(1.0)
            for channel in range(3):
                out[y, x, channel] = image[y, x, channel] * scale
            out[y, x, 3] = alpha


@parallel_kernel
def premultiply_into(image, out):
    """(H, W, 4) straight colour -> premultiplied in `out`."""
    height, width = image.shape[0], image.shape[1]
    for y in prange(height):
        for x in range(width):
            alpha = image[y, x, 3]
            for channel in range(3):
                out[y, x, channel] = image[y, x, channel] * alpha
            out[y, x, 3] = alpha


@parallel_kernel
def srgb_encode_into(values, out):
    """Element-wise sRGB encoding of a float32 array of any shape (flattened views)."""
    flat_in = values.reshape(-1)
    flat_out = out.reshape(-1)
    for index in prange(flat_in.size):
        flat_out[index] = srgb_encode(flat_in[index])


@parallel_kernel
def srgb_decode_into(values, out):
    """Element-wise sRGB decoding of a float32 array of any shape (flattened views)."""
    flat_in = values.reshape(-1)
    flat_out = out.reshape(-1)
    for index in prange(flat_in.size):
        flat_out[index] = srgb_decode(flat_in[index])


@scalar
def premultiply_pixel(red, green, blue, alpha, values):
    """One pixel of `premultiply_into` (values unused), for the engine's fused chains."""
    return red * alpha, green * alpha, blue * alpha, alpha


@scalar
def unpremultiply_pixel(red, green, blue, alpha, values):
    """One pixel of `unpremultiply_into` (values unused), for the engine's fused chains."""
    scale = np.float32(1.0) / alpha if alpha != 0 else np.float32(1.0)
    return red * scale, green * scale, blue * scale, alpha
