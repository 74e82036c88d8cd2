"""Benchmark: merge on 4K (3840x2160) float32 premultiplied RGBA.

Compares our merge kernel (preallocated output) and node (allocates its output) with
numpy's `a + b` into a preallocated output (the memory-traffic yardstick: two frames read,
one written), the numpy `over` expression, OpenCV, pyvips' composite2 and OpenImageIO's
ImageBufAlgo.over, in the same run. Prints medians in ms and ratios, and the cold compile
time of a merge kernel (fresh numba cache, in a subprocess).

    python bench/bench_merge.py [--repeat N]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nodes.kernels.bands import run_bands  # noqa: E402
from nodes.kernels.blend import merge_kernel  # noqa: E402
from nodes.merge import merge  # noqa: E402
from common import median_ms  # noqa: E402  (bench/ is on sys.path when run)

HEIGHT, WIDTH = 2160, 3840
SAMPLE_OPS = ("over", "multiply", "screen", "divide", "hypot", "conjoint-over",
              "soft-light", "color-dodge")



def frames():
    rng = np.random.default_rng(0)
    images = []
    for _ in range(2):
        image = rng.random((HEIGHT, WIDTH, 4), dtype=np.float32)
        image[..., :3] *= image[..., 3:]
        images.append(image)
    return images


def peers(a, b, out, repeat):
    """{name: ms} for the yardstick and the peers that have `over`."""
    results = {"numpy a + b (preallocated)": median_ms(lambda: np.add(a, b, out=out), repeat),
               "numpy over expression": median_ms(lambda: a + b * (1 - a[..., 3:4]), repeat)}
    try:
        import cv2
        alpha = np.ascontiguousarray(np.repeat(a[..., 3:4], 4, axis=2))

        def opencv_over():
            return cv2.add(a, cv2.subtract(b, cv2.multiply(b, alpha)))
        results["OpenCV add/subtract/multiply"] = median_ms(opencv_over, repeat)
    except ImportError:
        pass
    try:
        import pyvips
        vips_a, vips_b = (pyvips.Image.new_from_memory(x.tobytes(), WIDTH, HEIGHT, 4, "float")
                          .copy(interpretation="scrgb") for x in (a, b))

        def vips_over():
            return vips_b.composite2(vips_a, "over", premultiplied=True,
                                     compositing_space="scrgb").write_to_memory()
        results["pyvips composite2 over"] = median_ms(vips_over, repeat)
    except (ImportError, OSError):
        pass
    try:
        import OpenImageIO as oiio
        buf_a, buf_b = oiio.ImageBuf(a), oiio.ImageBuf(b)
        results["OpenImageIO ImageBufAlgo.over"] = median_ms(
            lambda: oiio.ImageBufAlgo.over(buf_a, buf_b), repeat)
    except ImportError:
        pass
    return results


def cold_compile_seconds(op):
    """Seconds for the first merge call in a fresh process with an empty numba cache."""
    code = ("import time, numpy as np; t = time.perf_counter(); "
            "from nodes.merge import merge; a = np.zeros((8, 8, 4), np.float32); "
            f"merge.compute(a, a, op={op!r}, offset=(0, 0)); print(time.perf_counter() - t)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    timings = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):  # first: compile; second: load from the disk cache
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
            output = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                                    capture_output=True, text=True, check=True).stdout
            timings.append(float(output.strip().splitlines()[-1]))
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    a, b = frames()
    out = np.empty_like(b)
    rows = [x.reshape(HEIGHT, -1) for x in (a, b, out)]
    results = peers(a, b, out, repeat)
    yardstick = results["numpy a + b (preallocated)"]
    ours = {}
    for op in SAMPLE_OPS:
        kernel = merge_kernel(op)
        ours[f"ours: {op} kernel (preallocated)"] = median_ms(
            lambda: run_bands(kernel, HEIGHT, rows[0].shape[1], *rows), repeat)
    ours["ours: merge node, over (allocates)"] = median_ms(
        lambda: merge.compute(a, b, op="over", offset=(0, 0)), repeat)
    over = ours["ours: over kernel (preallocated)"]
    print(f"merge, 4K float32 RGBA, median of {repeat} (ms); "
          f"ratio = time / numpy a+b; speed-up = peer / our over kernel")
    print(f"{'implementation':44s} {'ms':>8s} {'ratio':>7s} {'speed-up':>9s}")
    for name, ms in {**results, **ours}.items():
        print(f"{name:44s} {ms:8.1f} {ms / yardstick:7.2f} {ms / over:9.2f}")
    first, cached = cold_compile_seconds("over")
    print(f"cold first call (compile 'over' + import): {first:.2f} s; "
          f"from the disk cache: {cached:.2f} s")


if __name__ == "__main__":
    main()
