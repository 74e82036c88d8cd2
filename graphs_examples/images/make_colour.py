"""Make the camera-log plate of the colour-managed example.

    python graphs_examples/images/make_colour.py

green_plate_logc4.exr: tests/data.py's synthetic green-screen plate (scikit-image's
astronaut, NASA, public domain; linear Rec.709), converted by OpenColorIO's built-in
studio config from linear Rec.709 to "ARRI LogC4" (ARRI Wide Gamut 4 primaries and the
LogC4 encoding, the inverse of the camera's log decoding curve), one stop over so that
highlights sit above 1.0 as a camera records them. Half-float RGB, DWAA (lossy, small), 384x384.
"""
import sys
from pathlib import Path

import numpy as np
import OpenEXR
import PyOpenColorIO as OCIO

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.data import screen_plate  # noqa: E402

PLATE_SIZE = 384


def main():
    linear = np.ascontiguousarray(screen_plate("green", size=PLATE_SIZE).plate[..., :3],
                                  np.float32) * 2.0  # one stop over
    config = OCIO.Config.CreateFromFile("ocio://studio-config-latest")
    processor = config.getProcessor("Linear Rec.709 (sRGB)", "ARRI LogC4")
    processor.getDefaultCPUProcessor().applyRGB(linear)
    header = {"compression": OpenEXR.DWAA_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": linear.astype(np.float16)}).write(
        str(HERE / "green_plate_logc4.exr"))


if __name__ == "__main__":
    main()
