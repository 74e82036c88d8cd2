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

from graph.jit import kernel, parallel_kernel, prange, scalar

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


@scalar
def _add_parabola(column, height, count, parabola_at, boundary, heights):
    """Add the parabola of `column` (vertex height g^2 + q^2) to the lower envelope whose
    last parabola is `count` (-1: empty); returns the index of the new last parabola."""
    heights[column] = height
    if count < 0:
        parabola_at[0] = column
        boundary[0] = -np.inf
        boundary[1] = np.inf
        return 0
    crossing = 0.0
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
    return count


@kernel
def _lower_envelope(row, nearest_rows, parabola_at, boundary, heights):
    """Lower envelope of one row's parabolas (Felzenszwalb-Huttenlocher 1D).

    nearest_rows: (W,) view of this row of `nearest_row_in_column`'s result. Fills
    parabola_at (columns of the envelope's parabolas), boundary (where each one starts)
    and heights (g^2 + q^2 per column); returns the number of parabolas (0: none).
    """
    count = -1
    for column in range(nearest_rows.size):
        nearest = nearest_rows[column]
        if nearest >= NO_FEATURE or nearest <= -NO_FEATURE:
            continue
        offset = row - nearest
        height = float(offset * offset) + float(column * column)
        count = _add_parabola(column, height, count, parabola_at, boundary, heights)
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


@kernel
def _banded_envelope(row, nearest_rows, cap, parabola_at, boundary, heights):
    """`_lower_envelope` of only the parabolas that can lie within `cap` of this row: a
    column counts if its nearest feature pixel is at most `cap` rows away, and of a run
    of columns whose own pixel is a feature (offset 0) only the two ends count (the
    columns between are farther from every pixel outside the run, and pixels inside it
    are feature pixels themselves). Returns the number of parabolas (0: none)."""
    count = -1
    width = nearest_rows.size
    for column in range(width):
        nearest = nearest_rows[column]
        if nearest >= NO_FEATURE or nearest <= -NO_FEATURE:
            continue
        offset = row - nearest
        if offset > cap or -offset > cap:
            continue
        if offset == 0 and 0 < column < width - 1 and nearest_rows[column - 1] == row \
                and nearest_rows[column + 1] == row:
            continue
        height = float(offset * offset) + float(column * column)
        count = _add_parabola(column, height, count, parabola_at, boundary, heights)
    return count + 1


@parallel_kernel
def features_within(mask, threshold, nearest_row, cap, halo_min, feature, row_halo,
                    row_far, chunks):
    """Second pass restricted to a band: the nearest feature pixel (mask >= threshold) of
    every pixel with mask < threshold that has one within `cap` pixels, and the reach of
    the soft halo, all in one pass over the rows.

    Distances up to `cap` are exact and the nearest pixel is the one `envelope_rows`
    finds (the parabolas left out cannot be nearest, nor change a tie: the same flat
    index); columns whose nearest feature is farther than `cap` rows are skipped, so the
    cost follows the band around the edge rather than the frame.

    Parameters
    ----------
    mask : (H, W) float32; nearest_row : (H, W) int32 from `nearest_row_in_column`
        (below=False, the same threshold).
    cap : int >= 0, pixels.
    halo_min : float.
    feature : (H, W) int32 out; flat index of the nearest feature pixel where mask <
        threshold and it lies within cap, -1 where mask < threshold and none does (where
        mask >= threshold: either).
    row_halo : (H,) float32 out; per row, the largest squared distance of a pixel with
        halo_min <= mask < threshold (0 if none; exact where row_far is 0).
    row_far : (H,) int32 out; per row, the number of pixels with 0 < mask < threshold
        and no feature pixel within cap (their distance was not found).
    chunks : int, number of parallel chunks of rows (1 <= chunks <= H).
    """
    height, width = mask.shape
    cap_squared = float(cap) * float(cap)
    threshold = np.float32(threshold)
    halo_min = np.float32(halo_min)
    for chunk in prange(chunks):
        parabola_at = np.empty(width, dtype=np.int64)
        boundary = np.empty(width + 1, dtype=np.float64)
        heights = np.empty(width, dtype=np.float64)
        for row in range(chunk * height // chunks, (chunk + 1) * height // chunks):
            nearest_rows, values, feature_row = nearest_row[row], mask[row], feature[row]
            halo = np.float32(0.0)
            far = 0
            count = _banded_envelope(row, nearest_rows, cap, parabola_at, boundary, heights)
            done = 0                 # columns before `done` are written
            for segment in range(count):
                nearest_column = parabola_at[segment]
                # columns of this segment: boundary[segment] < column <= boundary[segment + 1]
                stop = width - 1 if segment == count - 1 else \
                    int(min(math.floor(boundary[segment + 1]), width - 1.0))
                if stop < done:
                    continue
                offset_squared = heights[nearest_column] - float(nearest_column * nearest_column)
                reach = int(math.sqrt(max(cap_squared - offset_squared, 0.0)))
                while (reach + 1) * (reach + 1) + offset_squared <= cap_squared:
                    reach += 1
                while reach > 0 and reach * reach + offset_squared > cap_squared:
                    reach -= 1
                near_start = max(done, nearest_column - reach)
                near_stop = min(stop, nearest_column + reach)
                if offset_squared > cap_squared:
                    near_start, near_stop = stop + 1, stop
                for column in range(done, min(near_start, stop + 1)):
                    value = values[column]
                    far += (value > 0.0) & (value < threshold)
                    feature_row[column] = -1
                base = nearest_rows[nearest_column] * width + nearest_column
                for column in range(near_start, near_stop + 1):
                    value = values[column]
                    feature_row[column] = base
                    if value >= halo_min and value < threshold:
                        squared = offset_squared + float((column - nearest_column)
                                                         * (column - nearest_column))
                        halo = max(halo, np.float32(squared))
                for column in range(max(near_stop + 1, done), stop + 1):
                    value = values[column]
                    far += (value > 0.0) & (value < threshold)
                    feature_row[column] = -1
                done = stop + 1
            for column in range(done, width):
                value = values[column]
                far += (value > 0.0) & (value < threshold)
                feature_row[column] = -1
            row_halo[row] = halo
            row_far[row] = far
