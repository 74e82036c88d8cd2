"""Keyers on a 4K plate against OpenCV / numpy equivalents, and key quality on the
synthetic screen plates of tests/data.py.

    python bench/bench_keyers.py [--repeat 5]

Prints medians, ratios (peer / ours, > 1 means we are faster), cold compile times and
the quality figures (alpha MAE against tuned simple keyers, despill colour error).
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from nodes.keyers import chroma_key, color_range, despill, luma_key  # noqa: E402
from tests.data import screen_plate  # noqa: E402
from common import median_ms, print_cold_compile  # noqa: E402  (bench/ is on sys.path when run)

WIDTH, HEIGHT = 3840, 2160
DEFAULTS = {spec.id: {p.name: p.default for p in spec.params
                      if p.name not in ("mix", "invert_mask")}
            for spec in (chroma_key, despill, luma_key, color_range)}



def plate_4k():
    small = screen_plate("green", size=540)
    return np.ascontiguousarray(cv2.resize(small.plate, (WIDTH, HEIGHT),
                                           interpolation=cv2.INTER_LINEAR), np.float32)


# ------------------------------------------------------------------ peers

def opencv_chroma_key(plate, screen, balance=0.5, tolerance=0.05, softness=0.8):
    """Global screen-balanced colour-difference key in OpenCV arithmetic."""
    red, green, blue, _ = cv2.split(plate)
    high, low = cv2.max(red, blue), cv2.min(red, blue)
    limit = cv2.addWeighted(high, balance, low, 1 - balance, 0)
    difference = cv2.subtract(green, limit)
    screen_difference = screen[1] - (balance * max(screen[0], screen[2])
                                     + (1 - balance) * min(screen[0], screen[2]))
    raw = cv2.addWeighted(difference, -1 / screen_difference, difference, 0, 1.0)
    alpha = cv2.addWeighted(raw, 1 / softness, raw, 0, -tolerance / softness)
    return np.clip(alpha, 0, 1, out=alpha)


def numpy_chroma_key(plate, screen, balance=0.5, tolerance=0.05, softness=0.8):
    rgb = plate[..., :3]
    others = rgb[..., [0, 2]]
    limit = balance * others.max(-1) + (1 - balance) * others.min(-1)
    screen_difference = screen[1] - (balance * max(screen[0], screen[2])
                                     + (1 - balance) * min(screen[0], screen[2]))
    raw = 1 - (rgb[..., 1] - limit) / screen_difference
    return np.clip((raw - tolerance) / softness, 0, 1)


def opencv_despill(plate):
    """Green average despill with luminance restore in OpenCV arithmetic."""
    red, green, blue, alpha = cv2.split(plate)
    limit = cv2.addWeighted(red, 0.5, blue, 0.5, 0)
    spill = cv2.max(cv2.subtract(green, limit), 0)
    restore = spill * np.float32(0.7152)
    return cv2.merge([cv2.add(red, restore), cv2.add(cv2.subtract(green, spill), restore),
                      cv2.add(blue, restore), alpha])


def numpy_despill(plate):
    out = plate.copy()
    spill = np.maximum(plate[..., 1] - 0.5 * (plate[..., 0] + plate[..., 2]), 0)
    out[..., 1] -= spill
    out[..., :3] += (0.7152 * spill)[..., None]
    return out


def numpy_unmix_despill(plate, matte, backing):
    """Cut-out: plate - (1 - matte) x backing (backing given, full size), then the green
    average despill without luminance restore, alpha = matte."""
    out = np.empty_like(plate)
    out[..., :3] = np.maximum(plate[..., :3] - (1 - matte)[..., None] * backing, 0)
    out[..., 3] = matte
    spill = np.maximum(out[..., 1] - 0.5 * (out[..., 0] + out[..., 2]), 0)
    out[..., 1] -= spill
    return out


def opencv_encoded_straight(plate):
    """Unpremultiply and sRGB-encode in OpenCV (np.where for the piecewise curve)."""
    rgb = cv2.cvtColor(plate, cv2.COLOR_RGBA2RGB)
    alpha = plate[..., 3]
    safe_alpha = np.where(alpha > 0, alpha, 1).astype(np.float32)
    straight = cv2.divide(rgb, cv2.merge([safe_alpha] * 3))
    powered = cv2.pow(straight, 1 / 2.4)
    encoded = cv2.addWeighted(powered, 1.055, powered, 0, -0.055)
    return np.where(straight <= 0.0031308, straight * 12.92, encoded).astype(np.float32)


def opencv_luma_key(plate, low=0.5, high=1.0, softness=0.1):
    encoded = opencv_encoded_straight(plate)
    luma = cv2.transform(encoded, np.array([[0.2126, 0.7152, 0.0722]], np.float32))
    below = cv2.addWeighted(luma, 1 / softness, luma, 0, 1 - low / softness)
    above = cv2.addWeighted(luma, -1 / softness, luma, 0, 1 + high / softness)
    return np.clip(cv2.min(below, above), 0, 1)


def opencv_color_range(plate, hue=(70.0, 170.0), saturation=(0.3, 1.0), value=(0.1, 1.0)):
    hsv = cv2.cvtColor(opencv_encoded_straight(plate), cv2.COLOR_RGB2HSV)
    return cv2.inRange(hsv, np.array([hue[0], saturation[0], value[0]], np.float32),
                       np.array([hue[1], saturation[1], value[1]], np.float32))


# ------------------------------------------------------------------ runs

def speed_rows(plate, repeat):
    screen = np.median(plate[::16, ::16, :3].reshape(-1, 3), axis=0)
    matte = chroma_key.compute(plate, **DEFAULTS["chroma_key"])
    backing = np.broadcast_to(screen.astype(np.float32), plate.shape[:2] + (3,))
    luma_args = {**DEFAULTS["luma_key"]}
    range_args = {**DEFAULTS["color_range"], "hue": (70.0, 170.0), "saturation": (0.3, 1.0),
                  "value": (0.1, 1.0)}
    return [
        ("chroma_key (auto, local)", lambda: chroma_key.compute(plate, **DEFAULTS["chroma_key"]),
         [("OpenCV colour difference", lambda: opencv_chroma_key(plate, screen)),
          ("numpy colour difference", lambda: numpy_chroma_key(plate, screen))]),
        ("despill green average", lambda: despill.compute(plate, **DEFAULTS["despill"]),
         [("OpenCV", lambda: opencv_despill(plate)), ("numpy", lambda: numpy_despill(plate))]),
        ("despill with matte", lambda: despill.compute(plate, matte, **DEFAULTS["despill"]),
         [("numpy (backing given)", lambda: numpy_unmix_despill(plate, matte, backing))]),
        ("luma_key encoded", lambda: luma_key.compute(plate, **luma_args),
         [("OpenCV pow+transform", lambda: opencv_luma_key(plate))]),
        ("color_range softness 0", lambda: color_range.compute(plate, **{**range_args,
                                                                       "softness": 0.0}),
         [("OpenCV cvtColor+inRange", lambda: opencv_color_range(plate))]),
        ("color_range softness .05", lambda: color_range.compute(plate, **range_args),
         [("OpenCV cvtColor+inRange (hard)", lambda: opencv_color_range(plate))]),
    ]


COLD_SCRIPT = """
import time, numpy as np
start = time.perf_counter()
from nodes.keyers import chroma_key, despill, luma_key, color_range
from tests.data import screen_plate
plate = screen_plate("green", size=64).plate
imported = time.perf_counter()
for spec in (chroma_key, despill, luma_key, color_range):
    params = {p.name: p.default for p in spec.params if p.name not in ("mix", "invert_mask")}
    t = time.perf_counter(); spec.compute(plate, **params)
    print(f"{spec.id:12s} first call {1e3 * (time.perf_counter() - t):7.0f} ms")
"""


def quality():
    from tests.nodes.test_keyers import (chromaticity, tuned_difference_key_error,
                                         tuned_distance_key_error)
    print("\nKey quality (384 px synthetic plates, alpha MAE; baselines tuned on the truth;"
          " ratio = ours / best tuned; specks = clean backing pixels keyed > 0.02)")
    print(f"{'photo':11s}{'screen':8s}{'chroma_key':>11s}{'local off':>11s}"
          f"{'tuned dist.':>13s}{'tuned diff.':>13s}{'ratio':>7s}{'specks':>8s}")
    for photo in ("astronaut", "chelsea", "coffee"):
        for name in ("green", "blue"):
            data = screen_plate(name, size=384, photo=photo)
            alpha = chroma_key.compute(data.plate, **DEFAULTS["chroma_key"])
            ours = np.abs(alpha - data.alpha).mean()
            no_local = chroma_key.compute(data.plate,
                                          **{**DEFAULTS["chroma_key"], "local": False})
            distance = tuned_distance_key_error(data)
            difference = tuned_difference_key_error(data, 1 if name == "green" else 2)
            backing = cv2.erode((data.alpha < 0.001).astype(np.uint8), np.ones((5, 5))) > 0
            print(f"{photo:11s}{name:8s}{ours:11.4f}{np.abs(no_local - data.alpha).mean():11.4f}"
                  f"{distance:13.4f}{difference:13.4f}{ours / min(distance, difference):6.2f}x"
                  f"{100 * np.mean(alpha[backing] > 0.02):7.2f}%")
    print("\nDespill (screen auto, average) where spill is visible on the opaque subject:"
          " chromaticity error vs the clean subject; luma change")
    for name in ("green", "blue"):
        data = screen_plate(name, size=256)
        out = despill.compute(data.plate, **{**DEFAULTS["despill"], "screen": "auto"})
        primary = 1 if name == "green" else 2
        others = [c for c in range(3) if c != primary]

        def excess(rgb):
            return rgb[..., primary] - rgb[..., others].mean(-1)
        visible = ((data.alpha > 0.99) & (excess(data.spilled) > 0.005)
                   & (excess(data.foreground) <= 0))
        before = np.abs(chromaticity(data.plate[..., :3]) - chromaticity(data.foreground))
        after = np.abs(chromaticity(out[..., :3]) - chromaticity(data.foreground))
        weights = np.array([0.2126, 0.7152, 0.0722])
        luma_in, luma_out = data.plate[..., :3] @ weights, out[..., :3] @ weights
        change = np.max(np.abs(luma_out - luma_in) / np.maximum(luma_in, 1e-3))
        print(f"{name:8s} before {before[visible].mean():.4f} after {after[visible].mean():.4f}"
              f"  max relative luma change {change:.1e}")
    strand_quality()


def strand_quality():
    """Hair strands after despill (green plate, screen auto, average), straight colour
    against the truth foreground's: hue error (OpenCV HSV, degrees) and saturation."""
    from tests.nodes.test_keyers import hue_saturation, strand_pixels
    data = screen_plate("green", size=384)
    strands = strand_pixels(data)
    truth_hue, truth_saturation = hue_saturation(
        data.foreground / np.maximum(data.alpha[..., None], 1e-4))
    matte = chroma_key.compute(data.plate, **DEFAULTS["chroma_key"])
    args = {**DEFAULTS["despill"], "screen": "auto"}
    rows = [("despill of the plate", despill.compute(data.plate, **args)),
            ("despill with matte: key", despill.compute(data.plate, matte, **args))]
    print(f"\nHair strands ({strands.sum()} px): truth saturation "
          f"{truth_saturation[strands].mean():.2f}")
    for label, out in rows:
        straight = out[..., :3] / np.maximum(out[..., 3:], 1e-4)
        hue, saturation = hue_saturation(straight)
        error = np.abs((hue - truth_hue + 180) % 360 - 180)[strands]
        print(f"{label:26s} hue error {error.mean():5.1f} deg  saturation "
              f"{saturation[strands].mean():.2f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    plate = plate_4k()
    print(f"4K float32 RGBA plate {WIDTH}x{HEIGHT}, medians of {repeat} runs\n")
    print(f"{'ours':28s}{'ms':>8s}   {'peer':32s}{'ms':>8s}{'ratio':>8s}")
    for name, ours, peers in speed_rows(plate, repeat):
        ours_ms = median_ms(ours, repeat)
        for peer_name, peer in peers:
            peer_ms = median_ms(peer, repeat)
            print(f"{name:28s}{ours_ms:8.1f}   {peer_name:32s}{peer_ms:8.1f}"
                  f"{peer_ms / ours_ms:7.1f}x")
    print("\nCompile / first call (64 px plate, fresh process)")
    print_cold_compile(COLD_SCRIPT)
    quality()


if __name__ == "__main__":
    main()
