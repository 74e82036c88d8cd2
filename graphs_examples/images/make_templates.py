"""Make the extra image of the template examples: a sunset sky the size of sky_plate.jpg.

    python graphs_examples/images/make_templates.py
"""
import os

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def sunset(height: int, width: int) -> np.ndarray:
    """A warm vertical gradient with soft horizontal cloud bands (8-bit BGR)."""
    t = np.linspace(0, 1, height)[:, None, None]
    top = np.array([110, 60, 40], float)      # deep blue-violet (BGR)
    bottom = np.array([80, 150, 250], float)  # orange glow
    sky = top * (1 - t) + bottom * t
    rng = np.random.default_rng(7)
    bands = cv2.GaussianBlur(rng.random((height, width)), (0, 0), sigmaX=60, sigmaY=6)
    bands = (bands - bands.mean()) / bands.std()
    sky = sky * (1 + 0.06 * bands[..., None])
    return np.clip(np.broadcast_to(sky, (height, width, 3)), 0, 255).astype(np.uint8)


if __name__ == "__main__":
    plate = cv2.imread(os.path.join(HERE, "sky_plate.jpg"))
    cv2.imwrite(os.path.join(HERE, "sunset_sky.jpg"), sunset(*plate.shape[:2]),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
