"""sky_replace and difference_key: thin dark structures with the sky's blue cast in front
of a dusk sky keep their coverage in the new comp, and carry no halo of the old sky."""
import cv2
import numpy as np
import pytest

import graph
from nodes import keyers

SIZE = 256
STRUCTURE = (0.006, 0.010, 0.024)         # dark, with the dusk's blue cast
GRAPH = """
maskgraph: 1
nodes:
  plate:  {type: constant, color: [0, 0, 0], width: 256, height: 256}
  sunset: {type: constant, color: [0, 0, 0], width: 256, height: 256}
  new:    {type: template, file: sky_replace, plate: plate, sky: sunset}
"""


def dusk_sky():
    """(S, S, 3) linear: navy at the top to a paler blue at the horizon, with grain."""
    t = np.linspace(0, 1, SIZE)[:, None, None]
    top, bottom = np.array([0.012, 0.022, 0.07]), np.array([0.05, 0.08, 0.21])
    sky = top * (1 - t) + bottom * t + np.zeros((1, SIZE, 1))
    noise = np.random.default_rng(0).normal(0, 0.0015, sky.shape)
    return np.clip(sky + noise, 0, None).astype(np.float32)


def sunset_sky():
    t = np.linspace(0, 1, SIZE)[:, None, None]
    top, bottom = np.array([0.15, 0.08, 0.2]), np.array([0.9, 0.35, 0.08])
    return (top * (1 - t) + bottom * t + np.zeros((1, SIZE, 1))).astype(np.float32)


def lattice():
    """(S, S) coverage of a lattice tower: two legs and cross-bracing 1-2 px wide."""
    big = np.zeros((SIZE * 4, SIZE * 4), np.float32)
    for x0, x1 in ((60, 90), (150, 190)):
        cv2.line(big, (x0 * 4, 20 * 4), (x0 * 4 - 20, 250 * 4), 1.0, 8)
        cv2.line(big, (x1 * 4, 20 * 4), (x1 * 4 + 10, 250 * 4), 1.0, 8)
        for y in range(30, 240, 24):
            cv2.line(big, (x0 * 4, y * 4), (x1 * 4, (y + 24) * 4), 1.0, 4 if y % 48 else 6)
            cv2.line(big, (x1 * 4, y * 4), (x0 * 4, (y + 24) * 4), 1.0, 4)
    return cv2.resize(big, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def rgba(rgb):
    return np.dstack([rgb, np.ones(rgb.shape[:2], np.float32)]).astype(np.float32)


def test_thin_structures_keep_their_alpha_and_lose_the_old_sky(tmp_path):
    coverage = lattice()
    sky, new_sky = dusk_sky(), sunset_sky()
    plate = coverage[..., None] * np.float32(STRUCTURE) + (1 - coverage[..., None]) * sky
    path = tmp_path / "sky.yaml"
    path.write_text(GRAPH)
    comp = graph.load(str(path)).evaluate(
        outputs=["new"], feed={"plate": rgba(plate), "sunset": rgba(new_sky)})["new"]
    ideal = coverage[..., None] * np.float32(STRUCTURE) + (1 - coverage[..., None]) * new_sky
    luma = lambda rgb: rgb @ np.float32([0.2126, 0.7152, 0.0722])  # noqa: E731
    structure_luma = luma(np.float32(STRUCTURE))
    kept = np.clip((luma(new_sky) - luma(comp[..., :3])) / (luma(new_sky) - structure_luma), 0, 1)
    thin = coverage > 0.05
    ratio = kept[thin].sum() / coverage[thin].sum()
    halo = np.abs(comp[..., :3] - ideal)[thin].mean() / np.abs(new_sky - ideal)[thin].mean()
    print(f"structure alpha kept {ratio:.3f}, edge error vs ideal / coverage contrast {halo:.3f}")
    assert ratio >= 0.85
    assert halo < 0.25


def test_difference_key_gives_a_dark_structure_its_coverage():
    """Against a known reference, a dark structure's key equals its coverage."""
    sky = dusk_sky()
    coverage = lattice()
    plate = coverage[..., None] * np.float32([0, 0, 0]) + (1 - coverage[..., None]) * sky
    result = keyers.difference_key.compute(rgba(plate), rgba(sky), None, tolerance=0.0,
                                           softness=1.0, invert=False)
    np.testing.assert_allclose(result["output"], coverage, atol=1e-5)


def test_clean_plate_ignores_structures_in_the_backing_selection():
    sky = dusk_sky()
    coverage = lattice()
    plate = coverage[..., None] * np.float32(STRUCTURE) + (1 - coverage[..., None]) * sky
    backing = np.ones((SIZE, SIZE), np.float32)            # the selection took in everything
    clean = keyers.clean_plate(rgba(plate), backing, 0.06)
    error = np.abs(clean[..., :3] - sky).sum(-1) / sky.sum(-1)
    assert np.median(error[coverage > 0.5]) < 0.1


def test_difference_key_needs_a_reference_or_a_backing():
    with pytest.raises(graph.MaskgraphError, match="reference"):
        keyers.difference_key.compute(rgba(dusk_sky()), None, None, tolerance=0.06,
                                      softness=0.5, invert=False)
