"""Transform benchmark: resize and extend on 4K float32 RGBA, ours against OpenCV and pyvips.

    python bench/bench_transform.py [--repeats N]

Resize: 3840x2160 -> 1920x1080 (antialiased shrink) and 1920x1080 -> 3840x2160 (enlarge),
each filter. Peers: cv2.resize (INTER_AREA for the shrink, the matching interpolation for
the enlarge; OpenCV does not antialias its bilinear/bicubic/lanczos when shrinking, so
its shrink is not the same filter) and pyvips resize (antialiased kernels) when
installed. Extend: 256 px on every side, edge and mirror fills, against
cv2.copyMakeBorder. Prints medians, ratios (ours / peer) and the cold compile time of the
resample kernels (a fresh process with an empty numba cache). No assertions on time.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nodes.transform import extend, resize  # noqa: E402
from common import median_seconds  # noqa: E402  (bench/ is on sys.path when run)

CV_FILTERS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR,
              "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
VIPS_KERNELS = {"nearest": "nearest", "bilinear": "linear", "bicubic": "cubic",
                "lanczos": "lanczos3"}


def frame(width, height):
    rng = np.random.default_rng(0)
    image = rng.random((height, width, 4), dtype=np.float32)
    return cv2.GaussianBlur(image, (0, 0), 3)  # smooth-ish content, like a photo


def vips_resize():
    try:
        import pyvips
    except (ImportError, OSError):
        return None

    def run(image, width, filter_name):
        height, source_width = image.shape[:2]
        picture = pyvips.Image.new_from_memory(image.tobytes(), source_width, height, 4,
                                               "float")
        scaled = picture.resize(width / source_width, kernel=VIPS_KERNELS[filter_name])
        return np.ndarray(buffer=scaled.write_to_memory(), dtype=np.float32,
                          shape=(scaled.height, scaled.width, 4))
    return run


def resize_rows(repeats):
    big, small = frame(3840, 2160), frame(1920, 1080)
    vips = vips_resize()
    rows = []
    for filter_name in CV_FILTERS:
        for label, source, size in (("4K -> 1080p", big, (1920, 1080)),
                                    ("1080p -> 4K", small, (3840, 2160))):
            ours = median_seconds(lambda: resize.compute(source, width=size[0], height=size[1],
                                                      scale=None, filter=filter_name), repeats)
            shrinking = size[0] < source.shape[1]
            flag = CV_FILTERS[filter_name]
            if shrinking and filter_name != "nearest":
                flag = cv2.INTER_AREA
            opencv = median_seconds(lambda: cv2.resize(source, size, interpolation=flag), repeats)
            peer = {"cv2": opencv}
            if vips is not None:
                peer["pyvips"] = median_seconds(lambda: vips(source, size[0], filter_name), repeats)
            rows.append((f"resize {filter_name} {label}", ours, peer))
    return rows


def extend_rows(repeats):
    image = frame(3840, 2160)
    rows = []
    for fill, border in (("edge", cv2.BORDER_REPLICATE), ("mirror", cv2.BORDER_REFLECT_101)):
        ours = median_seconds(lambda: extend.compute(image, left=256, top=256, right=256,
                                                  bottom=256, fill=fill, color=(0, 0, 0, 1)),
                           repeats)
        opencv = median_seconds(lambda: cv2.copyMakeBorder(image, 256, 256, 256, 256, border),
                             repeats)
        rows.append((f"extend {fill} 256 px", ours, {"cv2": opencv}))
    return rows


COLD_SCRIPT = """
import time, numpy as np
from nodes.transform import resize
image = np.zeros((64, 64, 4), np.float32)
started = time.perf_counter()
resize.compute(image, width=32, height=40, scale=None, filter="bicubic")
print(round(time.perf_counter() - started, 2))
"""


def cold_compile():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
        times = [subprocess.run([sys.executable, "-c", COLD_SCRIPT], env=env, cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
                 for _ in range(2)]
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = resize_rows(args.repeats) + extend_rows(args.repeats)
    print("| operation (float32 RGBA) | ours ms | cv2 ms | ours/cv2 | pyvips ms | ours/pyvips |")
    print("|---|---|---|---|---|---|")
    for name, ours, peer in rows:
        vips = peer.get("pyvips")
        vips_text = f"{1000 * vips:.0f} | {ours / vips:.2f}" if vips else "- | -"
        print(f"| {name} | {1000 * ours:.0f} | {1000 * peer['cv2']:.0f} | "
              f"{ours / peer['cv2']:.2f} | {vips_text} |")
    cold, cached = cold_compile()
    print(f"\nresize first call in a fresh process: {cold} s with an empty numba cache "
          f"(compile), {cached} s with the cache filled")


if __name__ == "__main__":
    main()
