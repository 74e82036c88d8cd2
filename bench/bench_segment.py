"""Benchmark of the segment node: inference per image for each model at 512 px and 4K, and
the refinement (our guided filter) against OpenCV's guided filter (ximgproc, if present)
and bilinear resize; the refinement's quality against bilinear upsampling on composites
with a known alpha (as tests/nodes/test_segment.py). Run: python bench/bench_segment.py [repeats]

Measured on the shared 2-core machine (noisy; medians of 5), astronaut at 3840x2160:
  refinement at 4K (upsample_probability, its working copy included):
    before 300-700 ms (guide downsampled in blocks, five bilinear lookups and three sqrt
    per pixel), after 79-89 ms (one working copy pass, coefficients interpolated along x
    once per working row and along y in vectorised rows, branch-free box sums).
  whole node at 4K: person before 480-530 ms, after 100-110 ms (the networks and the
  face gate read the shared 960x540 working copy instead of resizing the 4K frame
  twice); subject 340-370 ms, of which u2netp itself takes ~245 ms.
  first call of the guided-filter kernels: 6.4 s compiling from an empty numba cache,
  0.56 s from the cache.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402

from nodes import models  # noqa: E402
from nodes.semantic import (BUILTIN, face_present, guided_upsample, run_network,  # noqa: E402
                            segment, upsample_probability, working_copy)
from tests.nodes.test_segment import composite  # noqa: E402
from common import median_ms  # noqa: E402  (bench/ is on sys.path when run)

COLD_SNIPPET = """
import time, numpy as np
start = time.perf_counter()
from nodes.semantic import guided_upsample
image = np.ones((64, 64, 4), np.float32)
guided_upsample(image, np.full((16, 16), 0.5, np.float32), 4, 1e-4)
print(time.perf_counter() - start)
"""



def picture(width, height):
    rgb = cv2.resize(skimage.data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.ones((height, width, 4), np.float32)
    image[..., :3] = (rgb.astype(np.float32) / 255.0) ** 2.2
    return image


def compute(image, target, refine):
    return segment.compute(image, target=target, refine=refine, threshold=None, model=None,
                           refine_radius=None, refine_eps=1e-4, face_gate=True)


def cold_start_ms(root, cache_dir=None):
    """First call of the guided-filter kernels in a fresh process; with `cache_dir`, an
    empty numba cache (compiled from scratch), else the repository's cache."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    cold = subprocess.run([sys.executable, "-c", COLD_SNIPPET], capture_output=True, text=True,
                          cwd=root, env=env)
    return float(cold.stdout.strip().splitlines()[-1]) * 1000


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as empty_cache:
        compiled = cold_start_ms(root, empty_cache)
    print(f"first call of the guided-filter kernels (import + compile): {compiled:.0f} ms "
          f"from an empty numba cache, {cold_start_ms(root):.0f} ms from the cache")
    rows = []
    for label, (width, height) in (("512", (512, 512)), ("4K", (3840, 2160))):
        image = picture(width, height)
        working = working_copy(image)
        copy = median_ms(lambda: working_copy(image), repeats)
        for target in ("subject", "person"):
            descriptor = BUILTIN[target]
            session = models.builtin_session(descriptor.model)
            network = median_ms(lambda: run_network(session, descriptor, working.rgb), repeats)
            probability = run_network(session, descriptor, working.rgb)
            bilinear = median_ms(lambda: upsample_probability(image, probability, False), repeats)
            refine = median_ms(lambda: upsample_probability(image, probability, True), repeats)
            gate = median_ms(lambda: face_present(working.rgb), repeats) if target == "person" else 0
            total = median_ms(lambda: compute(image, target, True), repeats)
            rows.append((label, target, copy, network, gate, bilinear, refine, total))
    print(f"\n{'size':5} {'target':8} {'working copy':>13} {'network':>8} {'face gate':>10} "
          f"{'bilinear up':>12} {'refine (ours)':>14} {'whole node':>11}  (medians, ms)")
    for label, target, copy, network, gate, bilinear, refine, total in rows:
        print(f"{label:5} {target:8} {copy:13.1f} {network:8.1f} {gate:10.1f} {bilinear:12.1f} "
              f"{refine:14.1f} {total:11.1f}")
    print("(refine includes its own working copy; the whole node makes one and shares it)")
    compare_opencv_guided(repeats)
    quality()


def quality():
    """Mean absolute error against the known alpha: refined vs bilinear upsampling of the
    network's map taken down to 1/ratio of the picture (as at 4K, where 320 px is 1/12)."""
    image, alpha = composite(skimage.data.coffee(), "grass")
    height, width = alpha.shape
    print("\nquality (coffee over grass, 600x400): mean |mask - alpha|")
    print(f"{'target':8} {'map ratio':>9} {'bilinear':>9} {'refined':>9} {'refined/bilinear':>17}")
    for target in ("subject", "person"):
        descriptor = BUILTIN[target]
        probability = run_network(models.builtin_session(descriptor.model), descriptor, image)
        for ratio in (4, 8):
            coarse = cv2.resize(probability, (width // ratio, height // ratio),
                                interpolation=cv2.INTER_AREA)
            bilinear = np.abs(upsample_probability(image, coarse, False) - alpha).mean()
            refined = np.abs(upsample_probability(image, coarse, True) - alpha).mean()
            print(f"{target:8} {ratio:9d} {bilinear:9.4f} {refined:9.4f} {refined / bilinear:17.2f}")


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
