"""Benchmark: grade, cdl and the colour-matrix nodes on 4K (3840x2160) float32 RGBA.

Yardstick: numpy's `a + b` into a preallocated output (memory traffic of one pointwise
pass). Peers in the same run: the numpy expression, an OpenCV chain on the same float
input, OpenColorIO's CPU processor for the CDL, cv2.transform for the matrices. Prints
medians in ms and ratios, and cold compile times (fresh numba cache, in a subprocess).

    python bench/bench_grade.py [--repeat N]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nodes.grade import saturation_matrix  # noqa: E402
from nodes.kernels.grading import cdl_rows, grade_rows, matrix_rows  # noqa: E402
from common import median_ms  # noqa: E402  (bench/ is on sys.path when run)

HEIGHT, WIDTH = 2160, 3840
SLOPE = np.array([1.2, 1.05, 0.9], np.float32)
OFFSET = np.array([0.01, 0.0, -0.01], np.float32)
POWER = np.array([1 / 2.2, 1 / 2.0, 1 / 1.8], np.float32)
ONES = np.ones(3, np.float32)
LOWER, UPPER = np.zeros(3, np.float32), np.full(3, np.inf, np.float32)



def numpy_grade(image, power):
    rgb = np.maximum(image[..., :3] * SLOPE + OFFSET, 0)
    return np.power(rgb, power) if power is not None else rgb


def as_scalar(values):
    """A per-channel value as an OpenCV scalar (4 Python floats)."""
    return (*map(float, values), 0.0)


def opencv_grade(cv2, rgb, power):
    linear = cv2.max(cv2.add(cv2.multiply(rgb, as_scalar(SLOPE)), as_scalar(OFFSET)), 0)
    return cv2.pow(linear, float(power[0])) if power is not None else linear


def numpy_cdl(image, power):
    rgb = np.clip(image[..., :3] * SLOPE + OFFSET, 0, 1)
    if power is not None:
        rgb = np.power(rgb, power)
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return np.clip(luma[..., None] + 0.9 * (rgb - luma[..., None]), 0, 1)


def ocio_cdl_processor(power):
    import PyOpenColorIO as OCIO
    transform = OCIO.CDLTransform()
    transform.setSlope(SLOPE.tolist())
    transform.setOffset(OFFSET.tolist())
    transform.setPower(power.tolist())
    transform.setSat(0.9)
    return OCIO.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor()


def measure(image, repeat):
    rows = image.reshape(HEIGHT, -1)
    out = np.empty_like(image)
    out_rows = out.reshape(HEIGHT, -1)
    other = image[::-1].copy()
    table = {"numpy a + b (preallocated)": median_ms(lambda: np.add(image, other, out=out),
                                                     repeat)}
    for label, power in (("gamma 1", None), ("gamma 2.2", POWER)):
        exponent = ONES if power is None else power
        table[f"grade {label}: ours"] = median_ms(lambda: grade_rows(
            rows, SLOPE, OFFSET, exponent, LOWER, UPPER, power is not None, out_rows), repeat)
        table[f"grade {label}: numpy"] = median_ms(lambda: numpy_grade(image, power), repeat)
        table.update(opencv_peer(f"grade {label}: OpenCV", image, power, repeat))
    for label, power in (("power 1", None), ("power 0.8-1.25", np.array([0.8, 1.0, 1.25],
                                                                         np.float32))):
        exponent = ONES if power is None else power
        table[f"cdl {label}: ours"] = median_ms(lambda: cdl_rows(
            rows, SLOPE, OFFSET, exponent, np.float32(0.9), True, out_rows), repeat)
        table[f"cdl {label}: numpy"] = median_ms(lambda: numpy_cdl(image, power), repeat)
        table.update(ocio_peer(f"cdl {label}: OpenColorIO", image, exponent, repeat))
    matrix = saturation_matrix(0.6).astype(np.float32)
    table["saturation (3x3 matrix): ours"] = median_ms(
        lambda: matrix_rows(rows, matrix, out_rows), repeat)
    table.update(transform_peer(image, matrix, repeat))
    return table


def opencv_peer(name, image, power, repeat):
    try:
        import cv2
    except ImportError:
        return {}
    rgb = np.ascontiguousarray(image[..., :3])
    return {name: median_ms(lambda: opencv_grade(cv2, rgb, power), repeat)}


def ocio_peer(name, image, power, repeat):
    try:
        processor = ocio_cdl_processor(power)
    except ImportError:
        return {}
    scratch = image.copy()

    def run():
        np.copyto(scratch, image)
        processor.applyRGBA(scratch)
    copy_ms = median_ms(lambda: np.copyto(scratch, image), repeat)
    return {name + " (in place, copy excluded)": median_ms(run, repeat) - copy_ms}


def transform_peer(image, matrix, repeat):
    try:
        import cv2
    except ImportError:
        return {}
    matrix4 = np.eye(4, dtype=np.float32)
    matrix4[:3, :3] = matrix
    return {"saturation: cv2.transform": median_ms(lambda: cv2.transform(image, matrix4),
                                                   repeat)}


def cold_compile_seconds():
    """First-call seconds (import + compile) of each kernel, fresh cache, then cached."""
    code = ("import time, numpy as np; t0 = time.perf_counter(); "
            "from nodes.kernels import grading as g; x = np.zeros((2, 8), np.float32); "
            "c = np.ones(3, np.float32); lo = np.zeros(3, np.float32); "
            "hi = np.full(3, np.inf, np.float32); t = [time.perf_counter()]; "
            "g.grade_rows(x, c, c, c, lo, hi, True, x.copy()); t.append(time.perf_counter()); "
            "g.cdl_rows(x, c, c, c, np.float32(1), True, x.copy()); "
            "t.append(time.perf_counter()); "
            "g.matrix_rows(x, np.eye(3, dtype=np.float32), x.copy()); t.append(time.perf_counter()); "
            "print(*[b - a for a, b in zip([t0] + t, t)])")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
            output = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                                    capture_output=True, text=True, check=True).stdout
            runs.append([float(v) for v in output.split()])
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    rng = np.random.default_rng(0)
    image = rng.random((HEIGHT, WIDTH, 4), dtype=np.float32)
    table = measure(image, repeat)
    yardstick = table["numpy a + b (preallocated)"]
    print(f"grade / cdl / matrix, 4K float32 RGBA, median of {repeat} (ms); "
          "ratio = time / numpy a+b")
    print(f"{'implementation':52s} {'ms':>8s} {'ratio':>7s}")
    for name, ms in table.items():
        print(f"{name:52s} {ms:8.1f} {ms / yardstick:7.2f}")
    (imp, *cold), (imp_cached, *cached) = cold_compile_seconds()
    names = ("grade_rows", "cdl_rows", "matrix_rows")
    print(f"cold compile (fresh cache; import {imp:.2f} s): "
          + ", ".join(f"{n} {s:.2f} s" for n, s in zip(names, cold)))
    print(f"from the disk cache (import {imp_cached:.2f} s): "
          + ", ".join(f"{n} {s:.3f} s" for n, s in zip(names, cached)))


if __name__ == "__main__":
    main()
