"""Benchmark of the segment node: inference per image for each model at 512 px and 4K, and
the refinement (our guided filter) against OpenCV's guided filter (ximgproc, if present)
and bilinear resize. Run: python bench/bench_segment.py [repeats]"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402

from nodes import models  # noqa: E402
from nodes.semantic import (BUILTIN, face_present, guided_upsample, run_network,  # noqa: E402
                            segment, upsample_probability)

COLD_SNIPPET = """
import time, numpy as np
start = time.perf_counter()
from nodes.semantic import guided_upsample
image = np.ones((64, 64, 4), np.float32)
guided_upsample(image, np.full((16, 16), 0.5, np.float32), 4, 1e-4)
print(time.perf_counter() - start)
"""


def median_ms(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def picture(width, height):
    rgb = cv2.resize(skimage.data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.ones((height, width, 4), np.float32)
    image[..., :3] = (rgb.astype(np.float32) / 255.0) ** 2.2
    return image


def compute(image, target, refine):
    return segment.compute(image, target=target, refine=refine, threshold=None, model=None,
                           refine_radius=None, refine_eps=1e-4, face_gate=True)


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    python = sys.executable
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cold = subprocess.run([python, "-c", COLD_SNIPPET], capture_output=True, text=True, cwd=root)
    print(f"cold first call of the guided-filter kernels (import + load/compile): "
          f"{float(cold.stdout.strip().splitlines()[-1]) * 1000:.0f} ms")
    rows = []
    for label, (width, height) in (("512", (512, 512)), ("4K", (3840, 2160))):
        image = picture(width, height)
        for target in ("subject", "person"):
            descriptor = BUILTIN[target]
            session = models.builtin_session(descriptor.model)
            network = median_ms(lambda: run_network(session, descriptor, image), repeats)
            probability = run_network(session, descriptor, image)
            bilinear = median_ms(lambda: upsample_probability(image, probability, False), repeats)
            refine = median_ms(lambda: upsample_probability(image, probability, True), repeats)
            gate = median_ms(lambda: face_present(image), repeats) if target == "person" else 0
            total = median_ms(lambda: compute(image, target, True), repeats)
            rows.append((label, target, network, gate, bilinear, refine, total))
    print(f"\n{'size':5} {'target':8} {'network+resize':>15} {'face gate':>10} "
          f"{'bilinear up':>12} {'refine (ours)':>14} {'whole node':>11}  (medians, ms)")
    for label, target, network, gate, bilinear, refine, total in rows:
        print(f"{label:5} {target:8} {network:15.1f} {gate:10.1f} {bilinear:12.1f} "
              f"{refine:14.1f} {total:11.1f}")
    compare_opencv_guided(repeats)


def compare_opencv_guided(repeats):
    """Our refinement at 4K against OpenCV's full-resolution guided filter (ximgproc)."""
    image = picture(3840, 2160)
    probability = run_network(models.builtin_session("u2netp"), BUILTIN["subject"], image)
    ours = median_ms(lambda: guided_upsample(image, probability, 12, 1e-4), repeats)
    line = f"\n4K refinement: ours (fast guided filter, radius 12) {ours:.1f} ms"
    if hasattr(cv2, "ximgproc"):
        guide = np.sqrt(np.clip(image[..., :3], 0, 1))
        upsampled = cv2.resize(probability, (3840, 2160), interpolation=cv2.INTER_LINEAR)
        peer = median_ms(lambda: cv2.ximgproc.guidedFilter(guide, upsampled, 12, 1e-4),
                         max(1, repeats // 2))
        line += f"; OpenCV ximgproc.guidedFilter full-res {peer:.1f} ms; ratio {peer / ours:.1f}x"
    else:
        upsampled = lambda: cv2.resize(probability, (3840, 2160), interpolation=cv2.INTER_LINEAR)
        peer = median_ms(upsampled, repeats)
        line += (f"; OpenCV bilinear resize alone {peer:.1f} ms (cv2.ximgproc not installed:"
                 " opencv-contrib has the guided filter peer)")
    print(line)


if __name__ == "__main__":
    main()
