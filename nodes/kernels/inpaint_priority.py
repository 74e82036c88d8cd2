"""Structure-first exemplar fill (Criminisi, Pérez and Toyama 2004).

The hole is filled one patch at a time, always at the point of its fill front with the
highest priority P(p) = C(p) (D(p) + floor): C is the confidence (the mean, over p's
patch, of 1 for original pixels and of the confidence inherited by filled ones), D the
data term |isophote . normal|: how strongly an edge of the picture runs into the hole at
p. Edges that meet the hole are thus continued first, along their direction, before the
flat texture around them closes in; a straight edge stays straight and a curved rim keeps
its curve (each step copies the best-matching whole patch of original pixels, matched on
the known part of the target patch).

Arrays: `image` (H, W, C) float32, modified in place (hole pixels receive the fill);
`filled` (H, W) uint8, 1 on known pixels, updated; `confidence` (H, W) float32 (1 on
known pixels, 0 in the hole), updated; `valid_list` (V,) int64 flat indices of source
patch centres (their whole patch is original pixels); `grey` (H, W) float32 scratch.
"""
import numpy as np

from graph.jit import kernel


@kernel
def _patch_cost(image, filled, ty, tx, sy, sx, radius, limit):
    """Sum of squared differences over the known pixels of target patch (ty, tx) against
    source patch (sy, sx); stops early once above `limit`."""
    height, width, channels = image.shape
    total = 0.0
    for dy in range(-radius, radius + 1):
        y = ty + dy
        if y < 0 or y >= height:
            continue
        for dx in range(-radius, radius + 1):
            x = tx + dx
            if x < 0 or x >= width or filled[y, x] == 0:
                continue
            for channel in range(channels):
                difference = image[y, x, channel] - image[sy + dy, sx + dx, channel]
                total += difference * difference
        if total > limit:
            return total
    return total


@kernel
def _data_term(grey, filled, y, x, radius):
    """|isophote . front normal| at front pixel (y, x): the strongest gradient of the
    known pixels of its patch (central differences of known neighbours only), turned by
    90 degrees, against the normal of the hole's edge at (y, x)."""
    height, width = grey.shape
    normal_y, normal_x = 0.0, 0.0
    for dy in range(-1, 2):
        for dx in range(-1, 2):
            ny, nx = y + dy, x + dx
            if 0 <= ny < height and 0 <= nx < width and filled[ny, nx] == 0:
                normal_y -= dy
                normal_x -= dx
    norm = np.sqrt(normal_y * normal_y + normal_x * normal_x)
    if norm == 0.0:
        return 0.0
    normal_y, normal_x = normal_y / norm, normal_x / norm
    best, best_y, best_x = 0.0, 0.0, 0.0
    for dy in range(-radius, radius + 1):
        py = y + dy
        if py < 1 or py >= height - 1:
            continue
        for dx in range(-radius, radius + 1):
            px = x + dx
            if px < 1 or px >= width - 1:
                continue
            if (filled[py, px] == 0 or filled[py - 1, px] == 0 or filled[py + 1, px] == 0
                    or filled[py, px - 1] == 0 or filled[py, px + 1] == 0):
                continue
            gy = 0.5 * (grey[py + 1, px] - grey[py - 1, px])
            gx = 0.5 * (grey[py, px + 1] - grey[py, px - 1])
            if gy * gy + gx * gx > best:
                best, best_y, best_x = gy * gy + gx * gx, gy, gx
    # the isophote is the gradient turned by 90 degrees: (gx, -gy) in (y, x) order
    return abs(best_x * normal_y - best_y * normal_x)


@kernel
def _confidence_of(confidence, y, x, radius):
    height, width = confidence.shape
    total, count = 0.0, 0
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            py, px = y + dy, x + dx
            if 0 <= py < height and 0 <= px < width:
                total += confidence[py, px]
                count += 1
    return total / count


@kernel
def _on_front(filled, y, x):
    height, width = filled.shape
    if filled[y, x] != 0:
        return False
    for dy in range(-1, 2):
        for dx in range(-1, 2):
            ny, nx = y + dy, x + dx
            if 0 <= ny < height and 0 <= nx < width and filled[ny, nx] != 0:
                return True
    return False


@kernel
def priority_fill(image, filled, confidence, hole_list, valid_list, radius, floor, grey):
    """Fill every pixel with filled == 0, patch by patch in priority order (see module
    docstring). `floor` is added to the data term so that flat regions are filled in
    confidence order (onion peel) rather than all at once. hole_list: (N,) int64 flat
    indices of the pixels to fill. Returns the number of patches copied."""
    height, width, channels = image.shape
    for y in range(height):
        for x in range(width):
            value = 0.0
            for channel in range(channels):
                value += image[y, x, channel]
            grey[y, x] = value / channels
    remaining = hole_list.shape[0]
    width_sources = valid_list.shape[0]
    steps = 0
    while remaining > 0 and width_sources > 0:
        best_priority, ty, tx = -1.0, -1, -1
        for order in range(hole_list.shape[0]):
            y, x = hole_list[order] // width, hole_list[order] % width
            if _on_front(filled, y, x):
                priority = _confidence_of(confidence, y, x, radius) * (
                    _data_term(grey, filled, y, x, radius) + floor)
                if priority > best_priority:
                    best_priority, ty, tx = priority, y, x
        if ty < 0:
            break
        best_cost, sy, sx = 1e30, -1, -1
        for order in range(width_sources):
            index = valid_list[order]
            cy, cx = index // width, index % width
            cost = _patch_cost(image, filled, ty, tx, cy, cx, radius, best_cost)
            if cost < best_cost:
                best_cost, sy, sx = cost, cy, cx
        patch_confidence = _confidence_of(confidence, ty, tx, radius)
        for dy in range(-radius, radius + 1):
            y = ty + dy
            if y < 0 or y >= height:
                continue
            for dx in range(-radius, radius + 1):
                x = tx + dx
                if x < 0 or x >= width or filled[y, x] != 0:
                    continue
                total = 0.0
                for channel in range(channels):
                    image[y, x, channel] = image[sy + dy, sx + dx, channel]
                    total += image[y, x, channel]
                grey[y, x] = total / channels
                filled[y, x] = 1
                confidence[y, x] = patch_confidence
                remaining -= 1
        steps += 1
    return steps
