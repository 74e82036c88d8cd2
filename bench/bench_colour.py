"""Benchmark: 4K (3840x2160) float32 RGBA colour space conversions, maskgraph's `colorspace`
path (nodes.ocio.apply: a fresh output, bands of rows on numba's thread count, a matrix
kernel for matrix-only transforms) against PyOpenColorIO's CPU processor on the same
array, in the same run.

Peers: OCIO's `applyRGBA` in place on a writable array (what a script would call; it
cannot be used on a read-only cached input without a copy first), that copy + apply
(what a node that must not modify its input pays) and, for pictures with alpha, the same
unpremultiply / apply / premultiply done with numpy around OCIO. The image is a real photo tiled to 4K
with a varying alpha, so the non-linear cases unpremultiply first as the node does.

    python bench/bench_colour.py [--repeat N]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import HEIGHT, WIDTH, median_seconds, print_cold_compile, print_table  # noqa: E402

# (label, source, target, opaque): an opaque camera plate skips the premultiply pass.
CASES = [("LogC4 plate -> ACEScg (opaque)", "ARRI LogC4", "ACEScg", True),
         ("ACEScg -> sRGB texture (alpha)", "ACEScg", "sRGB Encoded Rec.709 (sRGB)", False),
         ("ACEScg -> S-Log3 S-Gamut3 (alpha)", "ACEScg", "S-Log3 S-Gamut3", False),
         ("ACEScg -> Linear Rec.709 (matrix)", "ACEScg", "Linear Rec.709 (sRGB)", False)]


def four_k_picture(opaque: bool) -> np.ndarray:
    from skimage import data
    photo = data.astronaut().astype(np.float32) / 255
    tiled = np.tile(photo, (HEIGHT // 512 + 1, WIDTH // 512 + 1, 1))[:HEIGHT, :WIDTH]
    image = np.empty((HEIGHT, WIDTH, 4), np.float32)
    image[..., 3] = 1 if opaque else np.linspace(0.3, 1, WIDTH, dtype=np.float32)
    image[..., :3] = tiled ** 2.2 * image[..., 3:4]
    image.flags.writeable = False  # as the cache hands it out
    return image


def numpy_premultiplied(cpu, image) -> np.ndarray:
    """The same work as the node with numpy around OCIO: unpremultiply, apply, premultiply."""
    alpha = image[..., 3:4]
    out = np.array(image)
    np.divide(out[..., :3], alpha, out=out[..., :3], where=alpha != 0)
    cpu.applyRGBA(out)
    out[..., :3] *= alpha
    out[..., 3:4] = alpha
    return out


def in_place_seconds(cpu, image, repeat) -> float:
    """Median of OCIO applyRGBA in place, on a fresh copy of the picture each time (the
    copy is not timed, so repeated application never drifts to inf or NaN)."""
    scratch = np.array(image)
    times = []
    for _ in range(repeat + 1):
        scratch[...] = image
        started = time.perf_counter()
        cpu.applyRGBA(scratch)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import numba
    import PyOpenColorIO as OCIO

    from nodes import ocio
    pictures = {opaque: four_k_picture(opaque) for opaque in (False, True)}
    config = OCIO.Config.CreateFromFile("ocio://studio-config-latest")
    print(f"4K float32 RGBA, numba threads {numba.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = []
    for label, source, target, opaque in CASES:
        image = pictures[opaque]
        convert = ocio.conversion(None, source, target)
        cpu = config.getProcessor(source, target).getDefaultCPUProcessor()
        ours = median_seconds(lambda: ocio.apply(image, convert), repeat=args.repeat)
        in_place = in_place_seconds(cpu, image, args.repeat)

        def copy_and_apply(image=image, cpu=cpu):
            out = np.array(image)
            cpu.applyRGBA(out)
        copied = median_seconds(copy_and_apply, repeat=args.repeat)
        rows.append((label, ours, "OCIO applyRGBA", in_place, "<= 1.0"))
        rows.append(("", ours, "copy + OCIO applyRGBA", copied, "<= 1.0"))
        if not opaque and convert.matrix is None:
            premult = median_seconds(lambda: numpy_premultiplied(cpu, image),
                                     repeat=args.repeat)
            rows.append(("", ours, "numpy unpremult+OCIO", premult, "<= 1.0"))
    print_table("colour space conversion (ms, median)", rows)
    print_cold_compile("import time, numpy as np\nfrom nodes import ocio\n"
                       "image = np.random.default_rng(0).random((600, 600, 4), np.float32)\n"
                       "started = time.perf_counter()\n"
                       "ocio.apply(image, ocio.conversion(None, 'ACEScg', 'ARRI LogC4'))\n"
                       "ocio.apply(image, ocio.conversion(None, 'ACEScg', 'lin_rec709'))\n"
                       "print(f'first colorspace calls: {time.perf_counter() - started:.2f} s')")


if __name__ == "__main__":
    main()
