"""Benchmark mask math on 4K float32 masks against OpenCV, SciPy and numpy (same run).

    python bench/bench_maskmath.py [--repeat N]

Prints median times (ms) and ratios, and the cold (first-call) time of our kernels,
measured in a fresh process so that it includes loading (or compiling) them.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

HEIGHT, WIDTH = 2160, 3840


class Timing:
    """Median and minimum of repeated calls, in ms."""

    def __init__(self, seconds):
        self.median = 1000.0 * float(np.median(seconds))
        self.minimum = 1000.0 * float(np.min(seconds))


def timed(function, repeat):
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return Timing(seconds)


def paired(ours, peer, repeat):
    """`ours` then `peer`, each timed in its own block after a warm-up call and a pause:
    OpenCV's and numba's worker threads spin for a while after a parallel call, and timing
    the two alternately would charge that spinning to the other one. Returns (ours Timing,
    peer Timing)."""
    timings = []
    for function in (ours, peer):
        time.sleep(0.3)
        function()
        timings.append(timed(function, repeat))
    return tuple(timings)


def test_masks():
    """A binary 4K mask of shapes and a soft (feathered) copy of it."""
    rows, columns = np.mgrid[:HEIGHT, :WIDTH].astype(np.float32)
    binary = np.zeros((HEIGHT, WIDTH), np.float32)
    binary[(columns - 1400) ** 2 + (rows - 1000) ** 2 < 600 ** 2] = 1.0
    binary[300:1900, 2300:3300] = 1.0
    binary[(columns - 2800) ** 2 + (rows - 1100) ** 2 < 250 ** 2] = 0.0
    from nodes import maskmath
    soft = maskmath.feather.compute(input=binary, radius=12.0, mode="center")
    return binary, soft


def cold_start_seconds(fresh_cache=False):
    """First call of every maskmath kernel in a fresh process: loading them from numba's
    on-disk cache, or compiling them all (`fresh_cache`: an empty cache directory)."""
    code = """
import time
import numpy as np
started = time.perf_counter()
from nodes import maskmath as M
m = np.zeros((64, 64), np.float32)
m[20:40, 20:40] = 1
s = M.feather.compute(input=m, radius=5.0, mode='inside')      # binary grow, Deriche
M.feather.compute(input=m, radius=2.0, mode='center')          # FIR
M.grow.compute(input=s, radius=2.0)                            # soft grow
M.blur.compute(input=np.zeros((32, 32, 4), np.float32), size=3.0)
M.union.compute(inputs=[m, s]); M.subtract.compute(a=m, b=s); M.difference.compute(a=m, b=s)
M.threshold.compute(input=s, value=0.5, softness=0.1)
M.levels.compute(input=s, low=0.1, high=0.9, gamma=2.0)
print(time.perf_counter() - started)
"""
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if fresh_cache:
            environment["NUMBA_CACHE_DIR"] = cache
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                text=True, check=True, env=environment)
    return float(result.stdout.strip().splitlines()[-1])


def row(table, name, ours, peer=None, peer_name=None):
    """One line: our median and minimum, the peer's, and peer/ours of both."""
    line = f"{name:<30} {ours.median:8.1f} {ours.minimum:8.1f}"
    if peer is not None:
        line += (f"  {peer_name:<22} {peer.median:8.1f} {peer.minimum:8.1f}"
                 f" {peer.median / ours.median:8.2f}x {peer.minimum / ours.minimum:6.2f}x")
    table.append(line)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    import cv2
    from scipy import ndimage
    from nodes import maskmath

    print(f"first call of all maskmath kernels in a fresh process: compiling "
          f"{cold_start_seconds(fresh_cache=True):.2f} s, from numba's cache "
          f"{cold_start_seconds():.2f} s (includes importing numpy and numba)")
    binary, soft = test_masks()
    image = np.ascontiguousarray(np.dstack([soft, soft * 0.5, soft * 0.25, soft]))
    table = [f"{'4K float32 (3840x2160), ms':<30} {'median':>8} {'min':>8}  {'peer':<22} "
             f"{'median':>8} {'min':>8} {'peer/ours (median, min)':>17}"]

    def blur_peer(sigma, array):
        return lambda: cv2.GaussianBlur(array, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)

    for sigma in (2.0, 4.0, 8.0, 32.0):  # 2 and 4: gaussian_blur's OpenCV bands
        row(table, f"blur mask size {sigma:g}", *paired(
            lambda: maskmath.blur.compute(input=soft, size=sigma), blur_peer(sigma, soft),
            repeat), peer_name="cv2.GaussianBlur")
    row(table, "blur mask size 8", *paired(
        lambda: maskmath.blur.compute(input=soft, size=8.0),
        lambda: ndimage.gaussian_filter(soft, 8.0, mode="nearest"), 3),
        peer_name="scipy gaussian_filter")
    row(table, "blur RGBA image size 8", *paired(
        lambda: maskmath.blur.compute(input=image, size=8.0), blur_peer(8.0, image), repeat),
        peer_name="cv2.GaussianBlur")

    feather = {}
    for radius in (4.0, 64.0):
        for mode in ("center", "inside"):
            feather[radius, mode] = timed(
                lambda: maskmath.feather.compute(input=binary, radius=radius, mode=mode), repeat)
            row(table, f"feather binary r={radius:g} {mode}", feather[radius, mode])

    disc = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    grow = {}
    for radius in (5, 64):
        for name, mask in (("binary", binary), ("soft", soft)):
            ours, peer = paired(lambda: maskmath.grow.compute(input=mask, radius=float(radius)),
                                lambda: cv2.dilate(mask, disc(radius)),
                                3 if radius > 10 else repeat)
            grow[radius, name] = ours
            row(table, f"grow {name} r={radius}", ours, peer, f"cv2.dilate disc r={radius}")

    for name, function, peer in (
            ("union of 3", lambda: maskmath.union.compute(inputs=[binary, soft, binary]),
             lambda: np.maximum(np.maximum(binary, soft), binary)),
            ("subtract", lambda: maskmath.subtract.compute(a=binary, b=soft),
             lambda: binary * (1 - soft)),
            ("levels gamma 2", lambda: maskmath.levels.compute(input=soft, low=0.1, high=0.9,
                                                               gamma=2.0),
             lambda: np.clip((soft - 0.1) / 0.8, 0, 1) ** 0.5)):
        row(table, name, *paired(function, peer, repeat), peer_name="numpy")

    print("\n".join(table))
    def ratio(big, small):
        return f"{big.median / small.median:.2f} (min {big.minimum / small.minimum:.2f})"

    print(f"\nfeather r=64 / r=4: center {ratio(feather[64.0, 'center'], feather[4.0, 'center'])}"
          f", inside {ratio(feather[64.0, 'inside'], feather[4.0, 'inside'])}")
    print(f"grow r=64 / r=5: binary {ratio(grow[64, 'binary'], grow[5, 'binary'])}"
          f", soft {ratio(grow[64, 'soft'], grow[5, 'soft'])}")


if __name__ == "__main__":
    main()
