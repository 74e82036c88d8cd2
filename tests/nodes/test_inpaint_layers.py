"""inpaint layers: a fill that removes an object in front of another (the spoon on the
coffee cup of remove_object.yaml) does not extrude the other object's colour past its
outline; texture rims make no layer map."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from nodes.inpaint import inpaint, patch_fill
from nodes.inpaint_layers import layer_colours

skimage_data = pytest.importorskip("skimage.data", reason="skimage ships the test photos")

SPOON_MASK = Path(__file__).parents[2] / "graphs_examples" / "images" / "coffee_spoon_mask.png"


def rgba(picture):
    values = picture.astype(np.float32) / 255.0
    return np.ascontiguousarray(np.dstack([values, np.ones(values.shape[:2], np.float32)]))


def spoon_hole():
    """The example's hand-painted spoon mask, grown by 4 px as the example grows it."""
    mask = cv2.imread(str(SPOON_MASK), cv2.IMREAD_GRAYSCALE) > 127
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    return cv2.dilate(mask.astype(np.uint8), disc) > 0


def lip_outline(picture, hole):
    """(H, W) bool: inside the cup's lip, an ellipse fitted to the outer outline of the
    cup's white (every channel > 0.6) region where it is visible: away from the hole and
    above row 150 (below it the white front of the lip is not the outline), grown 3 px."""
    white = picture[..., :3].min(axis=2) > 0.6 * 255
    count, labels, stats, _ = cv2.connectedComponentsWithStats(white.astype(np.uint8))
    cup = labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])
    contours, _ = cv2.findContours(cup.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    points = max(contours, key=len)[:, 0]
    near = cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    points = points[~near[points[:, 1], points[:, 0]] & (points[:, 1] < 150)]
    inside = np.zeros(hole.shape, np.uint8)
    cv2.ellipse(inside, cv2.fitEllipse(points.astype(np.float32)), 1, -1)
    return cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0


def bright_outside(filled, hole, inside):
    """Share of the hole pixels above row 150 and outside the lip's outline whose fill is
    bright (Rec. 709 luma > 0.7): the lip extruded into a slab. Wood and saucer there
    are darker (2.5% of the known pixels around are this bright)."""
    region = hole & ~inside
    region[150:] = False
    luma = filled[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return float((luma[region] > 0.7).mean())


def test_removing_the_spoon_does_not_extrude_the_cup_lip():
    """The fill keeps the cup's lip inside the lip's outline: under 1% of the hole beyond
    it is lip-bright (before the layer guide 1.5%, a slab; pypatchmatch 4.4%, OpenCV's
    telea 8.9% on this hole)."""
    picture = skimage_data.coffee()
    hole = spoon_hole()
    inside = lip_outline(picture, hole)
    ours = bright_outside(patch_fill(rgba(picture), hole, 4), hole, inside)
    theirs = rgba(cv2.inpaint(picture, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA))
    assert ours < 0.01
    assert ours < 0.25 * bright_outside(theirs, hole, inside)


def test_layers_follow_the_rim_and_skip_texture():
    """The spoon's rim is a few long runs of surfaces (wood, lip, saucer): a layer map,
    wood-coloured in the hole's top, saucer-red lower down. Grass and stripes change
    surface every few pixels along the rim: no map."""
    picture = rgba(skimage_data.coffee())[..., :3]
    hole = spoon_hole()
    layers = layer_colours(picture, hole)
    assert layers is not None
    top, low = layers[75, 415], layers[250, 400]  # wood above the saucer; the saucer
    assert abs(top - picture[60, 440]).max() < 0.15
    assert low[0] > 1.8 * low[1]  # red
    grass = cv2.resize(skimage_data.grass(), (256, 256), interpolation=cv2.INTER_AREA)
    square = np.zeros((256, 256), bool)
    square[100:156, 100:156] = True
    assert layer_colours(rgba(np.dstack([grass] * 3))[..., :3], square) is None
    y, x = np.mgrid[0:160, 0:160]
    stripes = (np.sin(2 * np.pi * (x + 0.5 * y) / 12.0) > 0).astype(np.float32)
    assert layer_colours(np.dstack([stripes, 1 - stripes, stripes]), square[:160, :160]) is None


def srgb_to_linear(values):
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values):
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def copied_objects(shown, plate, bands, block=16, horizon=340):
    """(x, y) of the 16 px blocks in the sky of `bands` (column ranges of the new canvas)
    that hold detail (grey standard deviation above 0.04; the clear sky has about 0.01)
    and match some block of `plate` with a normalised cross-correlation above 0.8: an
    object of the picture (a tower's lattice, a lamp) copied whole into the sky."""
    grey = np.ascontiguousarray(shown.mean(axis=2), np.float32)
    source = np.ascontiguousarray((plate / 255.0).mean(axis=2), np.float32)
    found = []
    for start, stop in bands:
        for x in range(start, stop - block + 1, 8):
            for y in range(0, horizon - block + 1, 8):
                piece = grey[y:y + block, x:x + block]
                if piece.std() > 0.04 and cv2.matchTemplate(
                        source, piece, cv2.TM_CCOEFF_NORMED).max() > 0.8:
                    found.append((x, y))
    return found


def test_outpaint_copies_no_tower_into_the_sky():
    """The outpaint example (the rocket's middle 400 px widened by 120 px on each side,
    the template's patch fill): no block of the new sky 16 px or more from the seams is a
    copy of the picture's detail (before the layer guide: 10 blocks, a partial tower in
    the left band)."""
    plate = np.ascontiguousarray(skimage_data.rocket()[:, 120:520])
    image = np.dstack([srgb_to_linear(plate / 255.0), np.ones(plate.shape[:2])])
    canvas = np.ascontiguousarray(np.pad(image, ((0, 0), (120, 120), (0, 0)), mode="reflect"),
                                  np.float32)
    added = np.zeros(canvas.shape[:2], np.float32)
    added[:, :120] = added[:, -120:] = 1.0
    out = inpaint.compute(canvas, added, method="patch", grow=4.0, blend=3.0, radius=5,
                          patch_radius=5)
    shown = linear_to_srgb(out[..., :3].astype(np.float64))
    assert copied_objects(shown, plate, [(0, 104), (536, 640)]) == []
