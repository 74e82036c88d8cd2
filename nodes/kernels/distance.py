"""Exact Euclidean distance transform in linear time, with the nearest feature pixel.

Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions" (Theory of
Computing, 2012): one pass down the columns finds, for every pixel, the nearest feature
pixel in its column; one pass along each row takes the lower envelope of the parabolas
(x - q)^2 + g(q)^2. Both passes are O(pixels) whatever the distances are, so a grow of
40 pixels costs what a grow of 1 costs. Distances are between pixel centres, as in
scipy.ndimage.distance_transform_edt.

Feature pixels are those with mask >= threshold.
"""
import numpy as np

from graph.jit import kernel, parallel_kernel, prange

NO_FEATURE = 1 << 30
COLUMN_BLOCK = 256


@parallel_kernel
def nearest_row_in_column(mask, threshold, nearest_row):
    """For each pixel, the row of the nearest feature pixel in its own column.

    Parameters
    ----------
    mask : (H, W) float32.
    threshold : float; feature pixels are mask >= threshold.
    nearest_row : (H, W) int32 out; a large negative number where the column has none.
    """
    height, width = mask.shape
    blocks = (width + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for block in prange(blocks):
        start = block * COLUMN_BLOCK
        stop = min(start + COLUMN_BLOCK, width)
        last = np.full(stop - start, -NO_FEATURE, dtype=np.int32)
        for row in range(height):
            for column in range(start, stop):
                if mask[row, column] >= threshold:
                    last[column - start] = row
                nearest_row[row, column] = last[column - start]
        following = np.full(stop - start, NO_FEATURE, dtype=np.int32)
        for row in range(height - 1, -1, -1):
            for column in range(start, stop):
                if mask[row, column] >= threshold:
                    following[column - start] = row
                below = following[column - start]
                if below - row < row - nearest_row[row, column]:
                    nearest_row[row, column] = below


@kernel
def _envelope_row(row, nearest_row, squared, feature, parabola_at, boundary, heights):
    """Lower envelope of the parabolas of one row (Felzenszwalb-Huttenlocher 1D)."""
    width = nearest_row.shape[1]
    count = -1
    for column in range(width):
        nearest = nearest_row[row, column]
        if nearest >= NO_FEATURE or nearest <= -NO_FEATURE:
            continue
        offset = row - nearest
        height = float(offset * offset)
        heights[column] = height
        if count < 0:
            count = 0
            parabola_at[0] = column
            boundary[0] = -np.inf
            boundary[1] = np.inf
            continue
        while True:
            other = parabola_at[count]
            crossing = ((height + column * column) - (heights[other] + other * other)) \
                / (2.0 * (column - other))
            if crossing <= boundary[count]:
                count -= 1
            else:
                break
        count += 1
        parabola_at[count] = column
        boundary[count] = crossing
        boundary[count + 1] = np.inf
    if count < 0:
        for column in range(width):
            squared[row, column] = np.inf
            feature[row, column] = -1
        return
    segment = 0
    for column in range(width):
        while boundary[segment + 1] < column:
            segment += 1
        nearest_column = parabola_at[segment]
        step = column - nearest_column
        squared[row, column] = step * step + heights[nearest_column]
        feature[row, column] = nearest_row[row, nearest_column] * width + nearest_column


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
            _envelope_row(row, nearest_row, squared, feature, parabola_at, boundary, heights)
