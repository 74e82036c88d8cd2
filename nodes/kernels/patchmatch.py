"""PatchMatch kernels for exemplar-based hole filling (Barnes et al. 2009, Wexler et al. 2007).

A nearest-neighbour field (NNF) maps every target pixel p (a patch centre whose patch
touches the hole) to a source centre s whose whole patch lies in known pixels. The field
is improved by propagation (a neighbour's match shifted by one pixel) and random search
(candidates around the current match in shrinking windows), and the hole is re-estimated
by voting: every hole pixel q takes the similarity-weighted mean of I(s(p) + q - p) over
the target patches p that cover it. The caller runs this coarse to fine.

Arrays: `image` (H, W, C) float32 working image (the hole holds the current estimate),
`hole` (H, W) uint8, `valid` (H, W) uint8 (1 where a source patch may be centred),
`nnf` (H, W, 2) int32 (source y, x; -1 where p is not a target), `cost` (H, W) float32
(mean squared difference per compared sample of p's current match).
"""
import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange


@kernel
def patch_distance(image, confidence, ty, tx, sy, sx, radius, limit):
    """Confidence-weighted sum of squared differences between patches (ty, tx), (sy, sx).

    Each target-side pixel counts with its confidence (1 for known pixels, less deep in
    the hole). Offsets whose target pixel falls outside the image are skipped (the source
    patch is always inside). Returns early, with a value > limit, once the sum exceeds it.
    """
    height, width, channels = image.shape
    y0, y1 = max(ty - radius, 0), min(ty + radius + 1, height)
    x0, x1 = max(tx - radius, 0), min(tx + radius + 1, width)
    total = np.float32(0.0)
    for y in range(y0, y1):
        source_row = image[sy + y - ty]
        target_row = image[y]
        weights = confidence[y]
        for x in range(x0, x1):
            source = source_row[sx + x - tx]
            target = target_row[x]
            pixel = np.float32(0.0)
            for channel in range(channels):
                difference = target[channel] - source[channel]
                pixel += difference * difference
            total += weights[x] * pixel
        if total > limit:
            return total
    return total


@kernel
def patch_weight(confidence, ty, tx, radius):
    """Sum of the confidences patch_distance weighs for target (ty, tx)."""
    height, width = confidence.shape
    total = 0.0
    for y in range(max(ty - radius, 0), min(ty + radius + 1, height)):
        for x in range(max(tx - radius, 0), min(tx + radius + 1, width)):
            total += confidence[y, x]
    return total


@kernel
def _try(image, confidence, valid, nnf, best, ty, tx, sy, sx, radius):
    """Adopt source (sy, sx) for target (ty, tx) if it is valid and closer; returns best."""
    if sy < 0 or sx < 0 or sy >= valid.shape[0] or sx >= valid.shape[1] or valid[sy, sx] == 0:
        return best
    if sy == nnf[ty, tx, 0] and sx == nnf[ty, tx, 1]:
        return best
    distance = patch_distance(image, confidence, ty, tx, sy, sx, radius, best)
    if distance < best:
        nnf[ty, tx, 0] = sy
        nnf[ty, tx, 1] = sx
        return distance
    return best


@kernel
def _improve_one(image, confidence, valid, valid_list, nnf, best, ty, tx, step, radius, first,
                 last, search):
    """Propagation from the previous pixels in scan order, then random search.

    Only neighbours with flat index in [first, last] (this chunk's rows) propagate, so
    that parallel chunks never read each other's matches and results are deterministic.
    """
    height, width = valid.shape
    for axis in range(2):
        ny, nx = ty - step * (axis == 0), tx - step * (axis == 1)
        neighbour = ny * width + nx
        if (0 <= ny < height and 0 <= nx < width and first <= neighbour <= last
                and nnf[ny, nx, 0] >= 0):
            best = _try(image, confidence, valid, nnf, best, ty, tx,
                        nnf[ny, nx, 0] + step * (axis == 0),
                        nnf[ny, nx, 1] + step * (axis == 1), radius)
    window = search
    while window >= 1:
        sy = nnf[ty, tx, 0] + np.random.randint(-window, window + 1)
        sx = nnf[ty, tx, 1] + np.random.randint(-window, window + 1)
        best = _try(image, confidence, valid, nnf, best, ty, tx, sy, sx, radius)
        window //= 2
    pick = valid_list[np.random.randint(0, valid_list.shape[0])]
    return _try(image, confidence, valid, nnf, best, ty, tx, pick // width, pick % width, radius)


@parallel_kernel
def improve_nnf(image, confidence, valid, valid_list, targets, nnf, cost, radius, passes, seed,
                search):
    """Run `passes` propagation + random search passes over the targets.

    targets : (N,) int64 flat indices of target pixels in raster order. The list is cut
    into row-band chunks that never read each other's matches and run in parallel (each
    seeds its own random numbers: the result does not depend on the threads); each chunk
    scans forward on even passes and backward on odd passes. search : half-width in
    pixels of the first random-search window (then halved down to 1), plus one uniformly
    random valid source per target and pass.
    `cost` receives the per-sample distance (mean over the confidence-weighted samples).
    """
    height, width, channels = image.shape
    chunks = min(64, max(1, targets.shape[0] // 256))
    for chunk in prange(chunks):
        np.random.seed(seed + chunk)
        start = targets.shape[0] * chunk // chunks
        stop = targets.shape[0] * (chunk + 1) // chunks
        for iteration in range(passes):
            step = 1 if iteration % 2 == 0 else -1
            for order in range(start, stop):
                index = targets[order] if step == 1 else targets[start + stop - 1 - order]
                ty, tx = index // width, index % width
                if iteration == 0:
                    best = patch_distance(image, confidence, ty, tx, nnf[ty, tx, 0],
                                          nnf[ty, tx, 1], radius, 1e30)
                else:  # the image does not change during the call: last pass's distance
                    best = cost[ty, tx]
                cost[ty, tx] = _improve_one(image, confidence, valid, valid_list, nnf, best,
                                            ty, tx, step, radius, targets[start],
                                            targets[stop - 1], search)
        for order in range(start, stop):
            ty, tx = targets[order] // width, targets[order] % width
            cost[ty, tx] /= max(patch_weight(confidence, ty, tx, radius), 1e-12) * channels


@parallel_kernel
def vote(image, hole_pixels, nnf, weight, radius, heaviest, out):
    """Re-estimate every hole pixel from the patches that cover it: their weighted mean,
    or with `heaviest` the value of the heaviest one alone (no averaging, so no blur).

    hole_pixels : (N,) int64 flat indices of the hole; weight : (H, W) float32, the vote
    of the patch centred at each target (see vote_weights). Writes those pixels of `out`
    (H, W, C); `out` may be `image` (the votes read known pixels only).
    """
    chunks = min(64, max(1, hole_pixels.shape[0] // 1024))
    for chunk in prange(chunks):
        _vote_range(image, hole_pixels, nnf, weight, radius, heaviest, out,
                    hole_pixels.shape[0] * chunk // chunks,
                    hole_pixels.shape[0] * (chunk + 1) // chunks)


@kernel
def _vote_range(image, hole_pixels, nnf, weight, radius, heaviest, out, start, stop):
    """`vote` for hole_pixels[start:stop]."""
    height, width, channels = image.shape
    sums = np.zeros(channels, np.float64)
    for order in range(start, stop):
        y, x = hole_pixels[order] // width, hole_pixels[order] % width
        sums[:] = 0.0
        total = 0.0
        heaviest_weight = -1.0
        for dy in range(-radius, radius + 1):
            py = y - dy
            if py < 0 or py >= height:
                continue
            for dx in range(-radius, radius + 1):
                px = x - dx
                if px < 0 or px >= width or nnf[py, px, 0] < 0:
                    continue
                vote_weight = weight[py, px]
                sy, sx = nnf[py, px, 0] + dy, nnf[py, px, 1] + dx
                if not heaviest:
                    for channel in range(channels):
                        sums[channel] += vote_weight * image[sy, sx, channel]
                    total += vote_weight
                elif vote_weight > heaviest_weight:
                    heaviest_weight = vote_weight
                    for channel in range(channels):
                        sums[channel] = image[sy, sx, channel]
                    total = 1.0
        if total > 0.0:
            for channel in range(channels):
                out[y, x, channel] = sums[channel] / total


@kernel
def vote_weights(confidence, cost, targets, bandwidth, weight):
    """weight[p] = confidence[p] * exp(-cost[p] / bandwidth) for every target p.

    Well-matched patches, and patches nearer the known pixels, dominate the vote
    (Wexler et al. 2007); with the bandwidth at twice a high percentile of the costs
    (Newson et al. 2014 use the 75th), a few poor matches cannot blur the fill.
    """
    width = cost.shape[1]
    for order in range(targets.shape[0]):
        y, x = targets[order] // width, targets[order] % width
        weight[y, x] = confidence[y, x] * np.exp(-cost[y, x] / bandwidth)


@kernel
def upsample_nnf(coarse, valid, valid_list, targets, pad, nnf, seed):
    """Initialise a fine NNF from the coarse one: s = 2 * s_coarse(p // 2) + p % 2.

    Both levels are padded by `pad` pixels on every side (coordinates are padded ones;
    the halving applies to the picture inside the padding). Targets whose upsampled
    match is not a valid source take a random valid one.
    """
    height, width = valid.shape
    coarse_height, coarse_width = coarse.shape[0], coarse.shape[1]
    np.random.seed(seed)
    for order in range(targets.shape[0]):
        index = targets[order]
        ty, tx = index // width, index % width
        cy = min((ty - pad) // 2 + pad, coarse_height - 1)
        cx = min((tx - pad) // 2 + pad, coarse_width - 1)
        sy, sx = -1, -1
        if coarse[cy, cx, 0] >= 0:
            sy = 2 * coarse[cy, cx, 0] + ty - 2 * cy
            sx = 2 * coarse[cy, cx, 1] + tx - 2 * cx
        if sy < 0 or sx < 0 or sy >= height or sx >= width or valid[sy, sx] == 0:
            pick = valid_list[np.random.randint(0, valid_list.shape[0])]
            sy, sx = pick // width, pick % width
        nnf[ty, tx, 0] = sy
        nnf[ty, tx, 1] = sx


@kernel
def random_nnf(valid_list, targets, width, nnf, seed):
    """Give every target a uniformly random valid source."""
    np.random.seed(seed)
    for order in range(targets.shape[0]):
        index = targets[order]
        pick = valid_list[np.random.randint(0, valid_list.shape[0])]
        nnf[index // width, index % width, 0] = pick // width
        nnf[index // width, index % width, 1] = pick % width


