"""Exact Euclidean distance transform in linear time, with the nearest feature pixel.

Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions" (Theory of
Computing, 2012): one pass down the columns finds, for every pixel, the nearest feature
pixel in its column; one pass along each row takes the lower envelope of the parabolas
(x - q)^2 + g(q)^2. Both passes are O(pixels) whatever the distances are, so a grow of
40 pixels costs what a grow of 1 costs. Distances are between pixel centres, as in
scipy.ndimage.distance_transform_edt.

Feature pixels are those with mask >= threshold, or those with mask < threshold.

Soft grow needs distances only near the edges: `banded_envelope` builds a row's envelope
from the parabolas within a band, and `envelope_features` stores it in one int per
segment for a later pass (`feature_at`, `envelope_boundary`, `segment_columns`).
"""
import math

import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange, scalar

NO_FEATURE = 1 << 30
COLUMN_BLOCK = 128
ENVELOPE_BLOCK = 32


@parallel_kernel
def nearest_row_in_column(mask, threshold, below, nearest_row):
    """For each pixel, the row of the nearest feature pixel in its own column.

    Parameters
    ----------
    mask : (H, W) float32.
    threshold : float, compared in float32 (the mask's precision); feature pixels are
        mask >= threshold (mask < threshold if below).
    below : bool.
    nearest_row : (H, W) int32 out; a large negative number where the column has none.
    """
    height, width = mask.shape
    threshold = np.float32(threshold)
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
            nearest = nearest_row[row, start:stop]
            for index in range(stop - start):
                above = nearest[index]           # == row where this pixel is a feature
                following[index] = row if above == row else following[index]
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


@scalar
def _may_keep(nearest_rows, start, stop, low, high, row):
    """Whether `banded_envelope` may keep a column in [start, stop), 0 < start, stop <
    nearest_rows.size: its nearest feature row lies in [low, high] and it is not inside
    a run of feature pixels. Branch-free with unsigned indices (no wraparound test), so
    it vectorises: a block of columns far from every feature costs a few instructions."""
    kept = 0
    for column in range(np.uint64(start), np.uint64(stop)):
        nearest = nearest_rows[column]
        kept += (nearest >= low) & (nearest <= high) & (
            (nearest != row) | (nearest_rows[column - np.uint64(1)] != row)
            | (nearest_rows[column + np.uint64(1)] != row))
    return kept > 0


@kernel
def banded_envelope(row, nearest_rows, cap, parabola_at, boundary, heights):
    """`_lower_envelope` of only the parabolas that can lie within `cap` of this row: a
    column counts if its nearest feature pixel is at most `cap` rows away, and of a run
    of columns whose own pixel is a feature (offset 0) only the two ends count (the
    columns between are farther from every pixel outside the run, and pixels inside it
    are feature pixels themselves). Blocks of ENVELOPE_BLOCK columns none of which counts
    are skipped after a vectorised test, so the cost follows the band around the edges
    rather than the frame.

    Distances up to `cap` are exact and the nearest feature pixel is the one
    `envelope_rows` finds (the parabolas left out cannot be nearest, nor change a tie).
    Returns the number of parabolas (0: none); parabola_at, boundary and heights as in
    `_lower_envelope`.
    """
    width = nearest_rows.size
    low = np.int32(max(row - cap, -NO_FEATURE))
    high = np.int32(min(row + cap, NO_FEATURE))
    count = -1
    for start in range(0, width, ENVELOPE_BLOCK):
        stop = min(start + ENVELOPE_BLOCK, width)
        if 0 < start and stop < width and \
                not _may_keep(nearest_rows, start, stop, low, high, np.int32(row)):
            continue
        for column in range(start, stop):
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


@scalar
def parabola_squared(heights, nearest_column, column):
    """Squared distance from `column` of a row to the feature pixel of the envelope's
    parabola at `nearest_column` (`heights` from `banded_envelope`; exact integers)."""
    return heights[nearest_column] - float(nearest_column * nearest_column) \
        + float((column - nearest_column) * (column - nearest_column))


@scalar
def envelope_features(row, nearest_rows, count, parabola_at, features):
    """Store the envelope of `banded_envelope` as the flat index (row * W + column) of
    the feature pixel of each of its `count` parabolas, in column order: (>= count,)
    int32 out. `feature_at` and `envelope_boundary` read it back."""
    width = nearest_rows.size
    for segment in range(count):
        column = parabola_at[segment]
        features[segment] = nearest_rows[column] * width + column


@scalar
def feature_at(features, segment, width):
    """(row, column) of the feature pixel of a stored envelope's segment."""
    # exact: (feature + 0.5) / width is at least 0.5 / width away from an integer
    feature_row = int((features[segment] + 0.5) * (1.0 / width))
    return feature_row, features[segment] - feature_row * width


@scalar
def envelope_boundary(row, features, segment, width):
    """boundary[segment] (0 < segment < count) of a stored envelope: the crossing that
    `_add_parabola` computed, from the same numbers, so the same bits."""
    feature_row, column = feature_at(features, segment, width)
    other_row, other = feature_at(features, segment - 1, width)
    height = float((row - feature_row) * (row - feature_row)) + float(column * column)
    other_height = float((row - other_row) * (row - other_row)) + float(other * other)
    return (height - other_height) / (2.0 * (column - other))


@scalar
def segment_columns(low, high, segment, count, width):
    """First and last column (inclusive; last < first: none) of envelope segment
    `segment` of `count`, whose boundaries are `low` = boundary[segment] and `high` =
    boundary[segment + 1] (infinite at the ends, not read): the columns with low <
    column <= high within the row, as `envelope_rows` assigns them."""
    start = 0 if segment == 0 else min(max(math.floor(low) + 1, 0), width)
    stop = width - 1 if segment == count - 1 else min(math.floor(high), width - 1)
    return start, stop


@scalar
def within_reach(limit, offset_squared):
    """The largest integer `reach` with reach^2 + offset_squared <= limit (exact for
    integer squares), -1 if offset_squared > limit."""
    if offset_squared > limit:
        return -1
    reach = int(math.sqrt(limit - offset_squared))
    while (reach + 1) * (reach + 1) + offset_squared <= limit:
        reach += 1
    while reach > 0 and reach * reach + offset_squared > limit:
        reach -= 1
    return reach
