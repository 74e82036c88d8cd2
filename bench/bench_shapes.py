"""Shape masks at 4K against OpenCV's anti-aliased drawing, with area accuracy.

    python bench/bench_shapes.py [--repeat 5]

OpenCV draws 8-bit LINE_AA shapes (not exact coverage); we time its float conversion too,
since the node's output is a float32 mask. Ratio = peer / ours (> 1: we are faster).
"""
import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from nodes.shapes import ellipse, polygon, rectangle, spline  # noqa: E402
from common import median_ms, print_cold_compile  # noqa: E402  (bench/ is on sys.path when run)

WIDTH, HEIGHT = 3840, 2160
CENTER, RADIUS, ROTATION = (1920.3, 1080.7), (1500.2, 800.9), 20.0
STAR = [(1920 + r * math.cos(a), 1080 + r * math.sin(a))
        for i, a in enumerate(np.linspace(0, 2 * math.pi, 24, endpoint=False))
        for r in [1000.37 if i % 2 else 430.61]]
ANCHORS = [(600.5, 400.2), (3200.7, 300.1), (3500.3, 1800.9), (500.2, 1900.4)]



def opencv_ellipse():
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(canvas, (int(CENTER[0] * 16), int(CENTER[1] * 16)),
                (int(RADIUS[0] * 16), int(RADIUS[1] * 16)), -ROTATION, 0, 360, 255, -1,
                cv2.LINE_AA, 4)
    return canvas.astype(np.float32) / 255


def opencv_polygon(points):
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    fixed = np.round(np.asarray(points) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_AA, 4)
    return canvas.astype(np.float32) / 255


def shoelace(points):
    x, y = np.asarray(points, np.float64).T
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def rows():
    size = dict(width=WIDTH, height=HEIGHT)
    ellipse_args = dict(center=CENTER, radius=RADIUS, rotation=ROTATION, **size)
    ellipse_area = math.pi * RADIUS[0] * RADIUS[1]
    return [
        ("ellipse", lambda: ellipse.compute(**ellipse_args), opencv_ellipse, ellipse_area),
        ("ellipse feather 10", lambda: ellipse.compute(feather=10.0, **ellipse_args),
         None, ellipse_area),
        ("polygon star 24 pts", lambda: polygon.compute(points=STAR, **size),
         lambda: opencv_polygon(STAR), shoelace(STAR)),
        ("polygon feather 10", lambda: polygon.compute(points=STAR, feather=10.0, **size),
         None, shoelace(STAR)),
        ("rectangle", lambda: rectangle.compute(box=(100.5, 200.25, 3500.75, 2000.5), **size),
         None, 3400.25 * 1800.25),
        ("spline 4 anchors", lambda: spline.compute(points=ANCHORS, **size), None, None),
    ]


COLD_SCRIPT = """
import time
from nodes.shapes import ellipse, polygon, rectangle, spline
for name, call in [("rectangle", lambda: rectangle.compute(box=(1, 1, 9, 9), width=16, height=16)),
                   ("ellipse", lambda: ellipse.compute(center=(8, 8), radius=(4, 3), width=16, height=16)),
                   ("polygon+feather", lambda: polygon.compute(points=((1, 1), (9, 2), (5, 9)), width=16, height=16, feather=3.0)),
                   ("spline", lambda: spline.compute(points=((1, 1), (9, 2), (5, 9)), width=16, height=16))]:
    t = time.perf_counter(); call()
    print(f"{name:16s} first call {1e3 * (time.perf_counter() - t):7.0f} ms")
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    print(f"4K masks {WIDTH}x{HEIGHT} float32, medians of {repeat} runs\n")
    print(f"{'shape':22s}{'ours ms':>9s}{'OpenCV AA ms':>14s}{'ratio':>8s}"
          f"{'our area err':>14s}{'OpenCV area err':>17s}")
    for name, ours, peer, area in rows():
        ours_ms = median_ms(ours, repeat)
        ours_error = abs(ours().sum(dtype=np.float64) - area) / area if area else float("nan")
        line = f"{name:22s}{ours_ms:9.1f}"
        if peer is not None:
            peer_ms = median_ms(peer, repeat)
            peer_error = abs(peer().sum(dtype=np.float64) - area) / area
            line += f"{peer_ms:14.1f}{peer_ms / ours_ms:7.1f}x{ours_error:14.1e}{peer_error:17.1e}"
        else:
            line += f"{'-':>14s}{'-':>8s}{ours_error:14.1e}{'-':>17s}"
        print(line)
    print("\nCompile / first call (16 px canvas, fresh process)")
    print_cold_compile(COLD_SCRIPT)


if __name__ == "__main__":
    main()
