"""Make the images of the keying, luma, colour-range and roto examples.

    python graphs_examples/images/make_keying.py

actor_green.png: tests/data.py's synthetic green-screen plate (scikit-image's astronaut,
NASA, public domain) composited in linear light over an unevenly lit, noisy backing;
keying_bg.png: a new background (scikit-image's coffee, public domain);
rocket_sky.png: scikit-image's rocket (NASA, public domain) for the luma and sky examples;
roto_plate.png: the astronaut for the animated roto example. All 8-bit sRGB PNGs.
"""
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.data import linear_to_srgb, screen_plate  # noqa: E402

PLATE_SIZE = 384


def write_rgb(name, rgb_u8):
    cv2.imwrite(str(HERE / name), cv2.cvtColor(rgb_u8, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])


def encoded_u8(linear):
    return np.clip(np.round(linear_to_srgb(linear) * 255), 0, 255).astype(np.uint8)


def square_crop(photo, size):
    height, width = photo.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return cv2.resize(photo[top:top + side, left:left + side], (size, size),
                      interpolation=cv2.INTER_AREA)


def main():
    plate = screen_plate("green", size=PLATE_SIZE)
    write_rgb("actor_green.png", encoded_u8(plate.plate[..., :3]))
    write_rgb("keying_bg.png", square_crop(data.coffee(), PLATE_SIZE))
    rocket = data.rocket()
    write_rgb("rocket_sky.png", cv2.resize(rocket, (rocket.shape[1] * 3 // 4,
                                                    rocket.shape[0] * 3 // 4),
                                           interpolation=cv2.INTER_AREA))
    write_rgb("roto_plate.png", square_crop(data.astronaut(), 256))


if __name__ == "__main__":
    main()
