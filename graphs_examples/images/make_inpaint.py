"""Make the small images of the inpaint examples (remove_object.yaml, outpaint.yaml).

- coffee.jpg: `coffee` from scikit-image's sample data (a cup of espresso, photo by Rachel
  Michetti, public domain), 600x400.
- coffee_spoon_mask.png: a hand-drawn mask of the spoon (handle strokes and the bowl,
  painted a little larger than the spoon, with anti-aliased edges), 8-bit grey.
- rocket_narrow.jpg: the centre 400 px of `rocket` from scikit-image's sample data
  (SpaceX Falcon 9 on its pad, public domain), 400x427, to be outpainted wider.

Run from anywhere: python graphs_examples/images/make_inpaint.py
"""
import os

import cv2
import numpy as np
from skimage import data

HERE = os.path.dirname(os.path.abspath(__file__))

# The spoon, as a painter would cover it: a brush stroke along the handle, the bowl.
SPOON_HANDLE = [(414, 66), (410, 100), (402, 140), (394, 180), (386, 212), (374, 242)]
SPOON_BOWL = {"center": (366, 284), "axes": (44, 47), "angle": -15}


def spoon_mask(shape):
    """(H, W) uint8 mask, 255 over the spoon, anti-aliased edges."""
    mask = np.zeros(shape, np.uint8)
    points = np.array(SPOON_HANDLE, np.int32)
    cv2.polylines(mask, [points], False, 255, thickness=20, lineType=cv2.LINE_AA)
    cv2.ellipse(mask, SPOON_BOWL["center"], SPOON_BOWL["axes"], SPOON_BOWL["angle"], 0, 360,
                255, thickness=-1, lineType=cv2.LINE_AA)
    return mask


def save(name, picture, *options):
    path = os.path.join(HERE, name)
    cv2.imwrite(path, picture, list(options))
    height, width = picture.shape[:2]
    print(f"{path}: {width}x{height}, {os.path.getsize(path) // 1024} KB")


def main():
    coffee = data.coffee()
    save("coffee.jpg", coffee[..., ::-1], cv2.IMWRITE_JPEG_QUALITY, 92)
    save("coffee_spoon_mask.png", spoon_mask(coffee.shape[:2]), cv2.IMWRITE_PNG_COMPRESSION, 9)
    rocket = data.rocket()
    left = (rocket.shape[1] - 400) // 2
    save("rocket_narrow.jpg", rocket[:, left:left + 400, ::-1], cv2.IMWRITE_JPEG_QUALITY, 92)


if __name__ == "__main__":
    main()
