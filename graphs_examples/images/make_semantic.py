"""Make the small images of the semantic-mask examples (segment node).

Public-domain photographs that ship with scikit-image (skimage.data):
- astronaut.jpg: `astronaut` (NASA), 512x512, a portrait (person_cutout.yaml,
  beauty_fix.yaml).

subject_pop.yaml uses coffee.jpg, made by make_inpaint.py (`coffee`, 600x400).

Run from anywhere: python graphs_examples/images/make_semantic.py
"""
import os

import cv2
from skimage import data

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, rgb):
    path = os.path.join(HERE, name)
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"{path}: {rgb.shape[1]}x{rgb.shape[0]}, {os.path.getsize(path) // 1024} KB")


def main():
    save("astronaut.jpg", data.astronaut())


if __name__ == "__main__":
    main()
