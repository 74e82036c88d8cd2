"""Exact Euclidean distance transform in linear time, with the nearest feature pixel.

Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions" (Theory of
Computing, 2012): one pass down the columns finds, for every pixel, the nearest feature
pixel in its column; one pass along each row takes the lower envelope of the parabolas
(x - q)^2 + g(q)^2. Both passes are O(pixels) whatever the distances are, so a grow of
40 pixels costs what a grow of 1 costs. Distances are between pixel centres, as in
scipy.ndimage.distance_transform_edt.

Feature pixels are those with mask >= threshold, or those with mask < threshold.
"""
import math

import numpy as np

from graph.jit import kernel, parallel_kernel, prange

NO_FEATURE = 1 << 30
COLUMN_BLOCK = 256


@parallel_kernel
def nearest_row_in_column(mask, threshold, below, nearest_row):
    """For each pixel, the row of the nearest feature pixel in its own column.

    Parameters
    ----------
    mask : (H, W) float32.
    threshold : float; feature pixels are mask >= threshold (mask < threshold if below).
    below : bool.
    nearest_row : (H, W) int32 out; a large negative number where the column has none.
    """
    height, width = mask.shape
    blocks = (width + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for block in prange(blocks):
        start = block * COLUMN_BLOCK
        stop = min(start + COLUMN_BLOCK, width)
        last = np.full(stop - start, -NO_FEATURE, dtype=np.int32)
        for row in range(height):
            values, nearest = mask[row, start:stop], nearest_row[row, start:stop]
            for index in range(stop - start):
                is_feature = (values[index] >= threshold) ^ below
                last[index] = row if is_feature else last[index]
                nearest[index] = last[index]
        following = np.full(stop - start, NO_FEATURE, dtype=np.int32)
        for row in range(height - 1, -1, -1):
            values, nearest = mask[row, start:stop], nearest_row[row, start:stop]
            for index in range(stop - start):
                is_feature = (values[index] >= threshold) ^ below
                following[index] = row if is_feature else following[index]
                above = nearest[index]
                nearest[index] = following[index] if following[index] - row < row - above \
                    else above


@kernel
def _lower_envelope(row, nearest_rows, parabola_at, boundary, heights):
    """Lower envelope of one row's parabolas (Felzenszwalb-Huttenlocher 1D).

    nearest_rows: (W,) view of this row of `nearest_row_in_column`'s result. Fills
    parabola_at (columns of the envelope's parabolas), boundary (where each one starts)
    and heights (g^2 + q^2 per column); returns the number of parabolas (0: none).
    """
    count = -1
    crossing = 0.0
    for column in range(nearest_rows.size):
        nearest = nearest_rows[column]
        if nearest >= NO_FEATURE or nearest <= -NO_FEATURE:
            continue
        offset = row - nearest
        height = float(offset * offset) + float(column * column)
        heights[column] = height
        if count < 0:
            count = 0
            parabola_at[0] = column
            boundary[0] = -np.inf
            boundary[1] = np.inf
            continue
        while True:
            other = parabola_at[count]
            crossing = (height - heights[other]) / (2.0 * (column - other))
            if crossing <= boundary[count]:
                count -= 1
            else:
                break
        count += 1
        parabola_at[count] = column
        boundary[count] = crossing
        boundary[count + 1] = np.inf
    return count + 1


@parallel_kernel
def envelope_rows(nearest_row, squared, feature, workers):
    """Second pass: squared distance and flat index of the nearest feature pixel.

    Parameters
    ----------
    nearest_row : (H, W) int32, from `nearest_row_in_column`.
    squared : (H, W) float32 out; inf where the mask has no feature pixel.
    feature : (H, W) int32 out; flat index (row * W + column) of the nearest feature
        pixel, -1 where there is none.
    workers : int, number of parallel chunks.
    """
    height, width = nearest_row.shape
    for worker in prange(workers):
        parabola_at = np.empty(width, dtype=np.int64)
        boundary = np.empty(width + 1, dtype=np.float64)
        heights = np.empty(width, dtype=np.float64)
        for row in range(worker, height, workers):
            nearest_rows, squared_row, feature_row = nearest_row[row], squared[row], feature[row]
            if _lower_envelope(row, nearest_rows, parabola_at, boundary, heights) == 0:
                squared_row[:] = np.inf
                feature_row[:] = -1
                continue
            segment = 0
            for column in range(width):
                while boundary[segment + 1] < column:
                    segment += 1
                nearest_column = parabola_at[segment]
                squared_row[column] = heights[nearest_column] \
                    - 2.0 * column * nearest_column + float(column * column)
                feature_row[column] = nearest_rows[nearest_column] * width + nearest_column


@kernel
def disc_half_widths(radius):
    """half_width[g] = the largest integer w with w^2 + g^2 <= radius^2, g = 0..floor(r).

    The half-width of a disc of `radius` (between pixel centres) at vertical offset g,
    computed exactly (integer arithmetic, no rounding of the square root).
    """
    limit = radius * radius
    rows = int(math.floor(radius)) + 1
    half_width = np.empty(rows, dtype=np.int64)
    for offset in range(rows):
        width = int(math.floor(math.sqrt(max(limit - offset * offset, 0.0))))
        while (width + 1) * (width + 1) + offset * offset <= limit:
            width += 1
        while width > 0 and width * width + offset * offset > limit:
            width -= 1
        half_width[offset] = width
    return half_width


@parallel_kernel
def within_distance_rows(nearest_row, half_width, out):
    """Second pass of a binary dilation by a disc: out = 1 where some feature pixel lies
    within the disc, else 0; (H, W) float32 out.

    Each column whose nearest feature pixel (in the column) is g <= r rows away covers
    the columns within half_width[g] of it; two running sweeps take the union of those
    intervals. O(W) per row whatever the radius, and exact: the same pixels as
    thresholding the Euclidean distance transform at the radius.
    """
    height, width = nearest_row.shape
    reach_rows = half_width.size
    for row in prange(height):
        nearest_rows, out_row = nearest_row[row], out[row]
        reach = -1
        for column in range(width):
            offset = abs(row - nearest_rows[column])
            if offset < reach_rows:
                reach = max(reach, column + half_width[offset])
            out_row[column] = 1.0 if reach >= column else 0.0
        reach = width
        for column in range(width - 1, -1, -1):
            offset = abs(row - nearest_rows[column])
            if offset < reach_rows:
                reach = min(reach, column - half_width[offset])
            if reach <= column:
                out_row[column] = 1.0
