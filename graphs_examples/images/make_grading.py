"""Make the small images of the grading, keying and alpha-export examples.

Public-domain photographs that ship with scikit-image (skimage.data):
- sky_plate.jpg: `rocket` (NASA), a launch pad under a blue sky (sky_grade.yaml).
- green_plate.jpg: `astronaut` (NASA), the subject cut out with a soft elliptical matte and
  put on a generated green backing with a little noise and spill (keyed_comp.yaml).
- comp_bg.jpg: `chelsea` (Stefan van der Walt, public domain), a square crop used as
  the background plate the keyed subject goes over (keyed_comp.yaml).
- portrait.jpg: `astronaut` at 384 px (cutout_alpha.yaml).

Run from anywhere: python graphs_examples/images/make_grading.py
"""
import os

import cv2
import numpy as np
from skimage import data

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, rgb):
    path = os.path.join(HERE, name)
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"{path}: {rgb.shape[1]}x{rgb.shape[0]}, {os.path.getsize(path) // 1024} KB")


def green_plate(size=384):
    """The astronaut on a generated green backing (sRGB uint8)."""
    subject = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[:size, :size] / size
    inside = ((xx - 0.45) / 0.33) ** 2 + ((yy - 0.55) / 0.5) ** 2
    matte = np.clip((1.0 - inside) / 0.08, 0, 1)[..., None]
    rng = np.random.default_rng(0)
    backing = np.array([40, 175, 60], np.float64) * (0.9 + 0.15 * yy[..., None])
    backing = backing + rng.normal(0, 3, backing.shape)
    spill = np.array([0, 12, 0]) * np.clip(1.0 - np.abs(inside - 1.0) / 0.3, 0, 1)[..., None]
    plate = subject * matte + backing * (1 - matte) + spill
    return np.clip(plate, 0, 255).astype(np.uint8)


def main():
    save("sky_plate.jpg", data.rocket())
    save("green_plate.jpg", green_plate())
    background = cv2.resize(data.chelsea(), (576, 384), interpolation=cv2.INTER_AREA)
    save("comp_bg.jpg", background[:, 96:480])
    save("portrait.jpg", cv2.resize(data.astronaut(), (384, 384), interpolation=cv2.INTER_AREA))


if __name__ == "__main__":
    main()
