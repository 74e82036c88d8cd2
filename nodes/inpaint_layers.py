"""Layers: which surface of the surroundings each hole pixel continues, so that a fill
does not extrude an object the mask cuts.

A mask painted over an object in front of another (a spoon on a cup) cuts the cup's
outline. The patch fill alone copies the cup's lip wherever a lip patch matches the
rim, and grows it into a slab beyond the cup's true outline. Here the known pixels
around the hole are clustered by colour into a few surfaces (k-means in Lab: the cup's
white lip, the red saucer, the wood), and each hole pixel is given the surface that
dominates the rim near it (a normalised Gaussian vote of the rim's labels, sigma half
the hole's thickness): a surface goes on into the hole only as far as it reaches the
rim around that place, and its border inside the hole runs between the places where
it meets the rim. The patch fill matches, as guide channels known inside the hole too,
each pixel's surface colour (the mean colour of its cluster), so a lip patch costs its
colour difference where the layer says wood, and no slab forms.

Texture (grass, gravel) clusters into speckle; there the rim changes surface every few
pixels and no layer map is made (the patch fill continues texture by itself). Nor is
one made for holes at most MIN_THICKNESS px from their rim (scratches, blobs): they hide
no object's outline whole, and the vote cost the patch fill 1 dB on the bench's blobs.
"""
from __future__ import annotations

import cv2
import numpy as np

LAYER_COUNT = 8      # surfaces the rim's colours are clustered into
LAYER_RING = 12      # px: known pixels this close to the hole are clustered and vote
LAYER_SPREAD = 0.5   # the vote's sigma over the hole's thickness (at least 3 px)
LAYER_BLUR = 2.0     # px: the surface colours are blurred, so sources compare like targets
MIN_THICKNESS = 20   # px: thinner holes (scratches, blobs) cut no object whole; no layers
MAX_CHANGES = 0.08   # more surface changes per rim pixel than this (a change every 12 px
                     # or less): texture or stripes, no layers
KMEANS_ROUNDS, SEED = 12, 7


def layer_colours(rgb, hole):
    """(H, W, 3) float32 surface colours of `rgb` (H, W, C) float32 sRGB-encoded around
    and inside `hole` (H, W) bool, or None where the rim is texture. Pixels far from
    the hole take the surface colour of their nearest cluster too (they are sources)."""
    thickness = float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max())
    if thickness <= MIN_THICKNESS:
        return None
    colours = np.ascontiguousarray(rgb[..., :3], np.float32)
    lab = cv2.cvtColor(np.clip(colours, 0.0, 1.0), cv2.COLOR_RGB2Lab)
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    ring = ~hole & (distance <= LAYER_RING)
    if np.count_nonzero(ring) < 4 * LAYER_COUNT:
        return None
    centres = kmeans(lab[ring], LAYER_COUNT)
    labels = nearest_centre(lab, centres)
    rim = ~hole & (distance <= 1.5)
    if surface_changes(labels, rim) > MAX_CHANGES:
        return None
    labels[hole] = vote(labels, ring, len(centres), thickness)[hole]
    means = np.stack([colours[ring & (labels == k)].mean(axis=0) if np.any(ring & (labels == k))
                      else np.zeros(3, np.float32) for k in range(len(centres))])
    return cv2.GaussianBlur(means[labels].astype(np.float32), (0, 0), LAYER_BLUR)


def kmeans(samples, count, rounds=KMEANS_ROUNDS):
    """(count, 3) cluster centres of `samples` (N, 3): k-means++ seeding with a fixed
    seed, then Lloyd rounds (deterministic)."""
    rng = np.random.default_rng(SEED)
    samples = samples.astype(np.float64)
    centres = [samples[rng.integers(len(samples))]]
    for _ in range(1, count):
        nearest = ((samples[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=2).min(axis=1)
        if nearest.sum() <= 0:
            break
        centres.append(samples[rng.choice(len(samples), p=nearest / nearest.sum())])
    centres = np.array(centres)
    for _ in range(rounds):
        labels = ((samples[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        centres = np.stack([samples[labels == k].mean(axis=0) if np.any(labels == k)
                            else centres[k] for k in range(len(centres))])
    return centres.astype(np.float32)


def nearest_centre(lab, centres):
    """(H, W) int32 index of the nearest centre of every pixel of `lab` (H, W, 3)."""
    distances = ((lab[..., None, :] - centres) ** 2).sum(axis=-1)
    return distances.argmin(axis=-1).astype(np.int32)


def surface_changes(labels, rim):
    """Share of the pairs of 4-neighbouring rim pixels whose surfaces differ."""
    pairs = np.concatenate([(rim[1:] & rim[:-1]).ravel(), (rim[:, 1:] & rim[:, :-1]).ravel()])
    differ = np.concatenate([(labels[1:] != labels[:-1]).ravel(),
                             (labels[:, 1:] != labels[:, :-1]).ravel()])
    return float(differ[pairs].mean()) if pairs.any() else 0.0


def vote(labels, ring, count, thickness):
    """(H, W) int32: the label with the largest Gaussian-weighted share among the `ring`
    pixels near each pixel (sigma LAYER_SPREAD times the hole's `thickness`, px)."""
    sigma = max(3.0, LAYER_SPREAD * thickness)
    scores = np.stack([cv2.GaussianBlur((ring & (labels == k)).astype(np.float32), (0, 0), sigma)
                       for k in range(count)], axis=2)
    return scores.argmax(axis=2).astype(np.int32)
