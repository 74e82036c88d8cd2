"""Colour encodings: the sRGB transfer curve, premultiplication, luma.

Scalar functions (`srgb_decode`, `srgb_encode`, `luma709`) are `scalar` helpers that other
kernels inline; the array kernels take float32 arrays and write into `out`.
"""
import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange, scalar

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


@parallel_kernel
def matrix_into(image, matrix, out):
    """(H, W, 4): RGB' = matrix @ RGB per pixel ((3, 3) float32 matrix); alpha copied."""
    height, width = image.shape[0], image.shape[1]
    m00, m01, m02 = matrix[0, 0], matrix[0, 1], matrix[0, 2]
    m10, m11, m12 = matrix[1, 0], matrix[1, 1], matrix[1, 2]
    m20, m21, m22 = matrix[2, 0], matrix[2, 1], matrix[2, 2]
    for y in prange(height):
        source = image[y]
        target = out[y]
        for x in range(width):
            red, green, blue = source[x, 0], source[x, 1], source[x, 2]
            target[x, 0] = m00 * red + m01 * green + m02 * blue
            target[x, 1] = m10 * red + m11 * green + m12 * blue
            target[x, 2] = m20 * red + m21 * green + m22 * blue
            target[x, 3] = source[x, 3]


@kernel
def unpremultiply_rows(image, out):
    """Serial unpremultiply of a band of rows into `out` (callers run bands on threads;
    nogil). Returns True when every alpha of the band is 1 (nothing to premultiply back)."""
    height, width = image.shape[0], image.shape[1]
    opaque = True
    for y in range(height):
        for x in range(width):
            alpha = image[y, x, 3]
            scale = np.float32(1.0) / alpha if alpha != 0 else np.float32(1.0)
            for channel in range(3):
                out[y, x, channel] = image[y, x, channel] * scale
            out[y, x, 3] = alpha
            opaque = opaque and alpha == 1
    return opaque


@kernel
def premultiply_rows(image, source, premultiply):
    """After a transform of a band in place: put back `source`'s alpha (a transform may
    touch it) and, when `premultiply`, multiply the colour by it. Serial, nogil."""
    height, width = image.shape[0], image.shape[1]
    for y in range(height):
        for x in range(width):
            alpha = source[y, x, 3]
            if premultiply:
                for channel in range(3):
                    image[y, x, channel] = image[y, x, channel] * alpha
            image[y, x, 3] = alpha


@scalar
def premultiply_pixel(red, green, blue, alpha, values):
    """One pixel of `premultiply_into` (values unused), for the engine's fused chains."""
    return red * alpha, green * alpha, blue * alpha, alpha


@scalar
def unpremultiply_pixel(red, green, blue, alpha, values):
    """One pixel of `unpremultiply_into` (values unused), for the engine's fused chains."""
    scale = np.float32(1.0) / alpha if alpha != 0 else np.float32(1.0)
    return red * scale, green * scale, blue * scale, alpha
