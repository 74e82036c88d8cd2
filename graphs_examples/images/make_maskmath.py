"""Make the small image of the mask pipeline example (mask_pipeline.yaml).

- coins.png: `coins` from scikit-image's sample data (Greek coins from Pompeii, Brooklyn
  Museum collection, public domain), 384x303, 8-bit grey saved as RGB.

Run from anywhere: python graphs_examples/images/make_maskmath.py
"""
import os

import cv2
import numpy as np
from skimage import data

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    path = os.path.join(HERE, "coins.png")
    grey = data.coins()
    cv2.imwrite(path, np.dstack([grey, grey, grey]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{path}: {grey.shape[1]}x{grey.shape[0]}, {os.path.getsize(path) // 1024} KB")


if __name__ == "__main__":
    main()
