"""Make the clip of the propagate example, and the shape drawn on its first frame.

    python graphs_examples/images/make_motion.py

motion_clip.mp4: tests/motion_data.py's shot, 48 frames at 256x192, 24 fps, H.264 crf 14:
a cut-out of scikit-image's `chelsea` (the cat's eye and fur, public domain) moving along
a curve, turning and bending over a panning `coffee` photo (public domain). The polygon in
graphs_examples/propagate_grade.yaml is the outline of the subject on frame 1, simplified
to 0.7 px (what a user would draw with a few clicks), printed by this script.
"""
import sys
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.motion_data import make_clip  # noqa: E402

FRAMES = 48


def srgb8(frame):
    linear = np.clip(frame[..., :3], 0, 1)
    encoded = np.where(linear <= 0.0031308, linear * 12.92,
                       1.055 * linear ** (1 / 2.4) - 0.055)
    return np.ascontiguousarray(np.rint(encoded * 255).astype(np.uint8))


def main():
    frames, masks = make_clip(FRAMES)
    with av.open(str(HERE / "motion_clip.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 256, 192, "yuv420p"
        stream.options = {"crf": "14"}
        stream.codec_context.colorspace = 1
        stream.codec_context.color_range = 1
        for frame in frames:
            source = av.VideoFrame.from_ndarray(srgb8(frame), format="rgb24")
            converted = source.reformat(format="yuv420p", src_colorspace="ITU709",
                                        dst_colorspace="ITU709", src_color_range="JPEG",
                                        dst_color_range="MPEG")
            for packet in stream.encode(converted):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    contours, _ = cv2.findContours((masks[0] >= 0.5).astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    outline = cv2.approxPolyDP(max(contours, key=len), 0.7, True)[:, 0] + 0.5
    print("points:", [[round(float(x), 1), round(float(y), 1)] for x, y in outline])


if __name__ == "__main__":
    main()
