"""Separable resampling: filter weight tables and the row/column passes that apply them.

The weight tables follow Pillow's convention (pixel centres at i + 0.5, the filter widened
by the scale factor when shrinking so that downscaling is antialiased, taps outside the
source dropped and the remaining weights renormalised). `filter_weights` is plain numpy
(it runs once per axis); `resample_rows` / `resample_columns` are the numba passes over a
(H, W, C) float32 array. Premultiplied images are filtered as they are, which is what
makes resizing correct on them (no dark fringes around transparent edges).
"""
import math

import numpy as np

from nodes.kernels.jit import parallel_kernel, prange

FILTER_SUPPORT = {"nearest": 0.5, "bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _cubic(x, a=-0.5):
    """Keys' cubic convolution kernel (a = -0.5, as Pillow and Nuke's 'cubic')."""
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _lanczos3(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)


_FILTERS = {"bilinear": _triangle, "bicubic": _cubic, "lanczos": _lanczos3}


def filter_weights(in_size, out_size, filter_name):
    """Taps and weights that map `in_size` samples onto `out_size` samples.

    Parameters
    ----------
    in_size, out_size : int
        Source and destination lengths along one axis.
    filter_name : str
        One of FILTER_SUPPORT's keys.

    Returns
    -------
    indices : (out_size, taps) int32 array of source indices (clipped into range).
    weights : (out_size, taps) float32 array; each row sums to 1, unused taps are 0.
    """
    scale = in_size / out_size
    centres = (np.arange(out_size) + 0.5) * scale
    if filter_name == "nearest":
        # exact integer arithmetic: a centre on a pixel boundary picks the pixel after it
        nearest = ((2 * np.arange(out_size) + 1) * in_size // (2 * out_size)).astype(np.int32)
        return nearest[:, None], np.ones((out_size, 1), np.float32)
    filter_scale = max(scale, 1.0)
    support = FILTER_SUPPORT[filter_name] * filter_scale
    taps = int(math.ceil(support)) * 2 + 1
    first = np.floor(centres - support + 0.5).astype(np.int64)
    indices = first[:, None] + np.arange(taps)[None, :]
    weights = _FILTERS[filter_name]((indices - centres[:, None] + 0.5) / filter_scale)
    weights = np.where((indices >= 0) & (indices < in_size), weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    indices = np.clip(indices, 0, in_size - 1).astype(np.int32)
    return indices, weights.astype(np.float32)


@parallel_kernel
def resample_columns(source, indices, weights, out):
    """Resample along x: (H, W, C) -> (H, Wo, C) with (Wo, taps) indices and weights."""
    height, out_width, channels = out.shape[0], out.shape[1], out.shape[2]
    taps = indices.shape[1]
    for y in prange(height):
        row = source[y].reshape(-1)
        row_out = out[y].reshape(-1)
        for x in range(out_width):
            if channels == 4:
                red = green = blue = alpha = np.float32(0.0)
                for tap in range(taps):
                    weight = weights[x, tap]
                    start = indices[x, tap] * 4
                    red += weight * row[start]
                    green += weight * row[start + 1]
                    blue += weight * row[start + 2]
                    alpha += weight * row[start + 3]
                row_out[4 * x] = red
                row_out[4 * x + 1] = green
                row_out[4 * x + 2] = blue
                row_out[4 * x + 3] = alpha
            else:
                for channel in range(channels):
                    total = np.float32(0.0)
                    for tap in range(taps):
                        total += weights[x, tap] * row[indices[x, tap] * channels + channel]
                    row_out[x * channels + channel] = total


@parallel_kernel
def resample_rows(source, indices, weights, out):
    """Resample along y: (H, W, C) -> (Ho, W, C) with (Ho, taps) indices and weights.

    Each output row is a weighted sum of whole source rows (contiguous, vectorised).
    """
    out_height = out.shape[0]
    taps = indices.shape[1]
    for y in prange(out_height):
        row_out = out[y].reshape(-1)
        first = source[indices[y, 0]].reshape(-1)
        weight = weights[y, 0]
        for index in range(row_out.shape[0]):
            row_out[index] = weight * first[index]
        for tap in range(1, taps):
            weight = weights[y, tap]
            if weight == 0.0:
                continue
            row = source[indices[y, tap]].reshape(-1)
            for index in range(row_out.shape[0]):
                row_out[index] += weight * row[index]


@parallel_kernel
def gather(source, rows, columns, out):
    """Nearest-neighbour resampling: out[y, x] = source[rows[y], columns[x]], (H, W, C)."""
    channels = out.shape[2]
    for y in prange(out.shape[0]):
        row = source[rows[y]].reshape(-1)
        row_out = out[y].reshape(-1)
        for x in range(out.shape[1]):
            start = columns[x] * channels
            for channel in range(channels):
                row_out[x * channels + channel] = row[start + channel]
