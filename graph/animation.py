"""Animated param values and frame numbers in paths.

`value_at(animated, frame)` interpolates key values component-wise (numbers, lists of
numbers, lists of points): `linear`, `smooth` (Catmull-Rom through the keys) or `step`.
Values that are not numbers (choices, booleans, strings) always step. Before the first
key and after the last one the value holds.
"""
from __future__ import annotations

import bisect
import re

from graph.model import Animated

FRAME_PATTERN = re.compile(r"#+|%0?(\d*)d")


def value_at(value, frame: float):
    """The value of a param at `frame` (plain values are returned as they are)."""
    if not isinstance(value, Animated):
        return value
    frames = [key for key, _ in value.keys]
    values = [item for _, item in value.keys]
    if frame <= frames[0]:
        return values[0]
    if frame >= frames[-1]:
        return values[-1]
    index = bisect.bisect_right(frames, frame) - 1
    if value.interp == "step" or not _interpolable(values[index], values[index + 1]):
        return values[index]
    t = (frame - frames[index]) / (frames[index + 1] - frames[index])
    if value.interp == "linear":
        return _combine(lambda a, b: a + (b - a) * t, values[index], values[index + 1])
    before = values[max(index - 1, 0)]
    after = values[min(index + 2, len(values) - 1)]
    return _combine4(lambda p0, p1, p2, p3: _catmull_rom(p0, p1, p2, p3, t),
                     before, values[index], values[index + 1], after)


def _interpolable(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return all(_interpolable(x, y) for x, y in zip(a, b))
    return False


def _combine(function, a, b):
    if isinstance(a, (list, tuple)):
        return tuple(_combine(function, x, y) for x, y in zip(a, b))
    result = function(a, b)
    return round(result) if isinstance(a, int) and isinstance(b, int) else float(result)


def _combine4(function, p0, p1, p2, p3):
    if isinstance(p1, (list, tuple)):
        if not (_interpolable(p0, p1) and _interpolable(p2, p3)):
            p0, p3 = p1, p2
        return tuple(_combine4(function, a, b, c, d) for a, b, c, d in zip(p0, p1, p2, p3))
    result = function(p0, p1, p2, p3)
    return round(result) if all(isinstance(v, int) for v in (p1, p2)) else float(result)


def _catmull_rom(p0, p1, p2, p3, t):
    return 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * t * t * t)


def has_frame_pattern(path: str) -> bool:
    return bool(FRAME_PATTERN.search(path))


def path_at_frame(path: str, frame: int) -> str:
    """'plate.####.png' or 'plate.%04d.png' at frame 7 -> 'plate.0007.png'."""
    def replace(match):
        text = match.group(0)
        width = len(text) if text.startswith("#") else int(match.group(1) or 0)
        return f"{frame:0{width}d}"
    return FRAME_PATTERN.sub(replace, path)
