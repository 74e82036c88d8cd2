"""Arrays fed from Python (`evaluate(feed={node: array})`), checked at the boundary.

A fed array takes the place of a node's first output, so it must be what that output
is: an image is (H, W, 4) float premultiplied linear RGBA, a mask (H, W) float in [0, 1]
(`image|mask` outputs accept either), a track (3 + points, 3) (graph.spec.PORT_SHAPES).
Integer arrays are refused rather than guessed at (8-bit codes are sRGB-encoded and need
decoding, not a cast). Float16/float64 arrays are converted to float32. Sizes count
against the pixel budget.
"""
from __future__ import annotations

import numpy as np

from graph import limits
from graph.errors import GraphError, Problem, did_you_mean
from graph.model import Graph, output_types, resolve_output, Ref
from graph.spec import PORT_SHAPES


def check_feed(graph: Graph, feed: dict) -> dict:
    """{name: float32 C-contiguous array}; GraphError listing every problem."""
    problems, checked = [], {}
    types = output_types(graph) if feed else {}
    for name, array in feed.items():
        if name not in graph.nodes:
            problems.append(Problem(f"feed names no node '{name}'", key="feed",
                                    hint=did_you_mean(str(name), graph.nodes)))
            continue
        kind = types.get((name, resolve_output(graph, Ref(name))), "image|mask")
        problem = _array_problem(array, kind)
        if problem:
            problems.append(Problem(problem, node=name, key="feed", hint=_hint(kind)))
            continue
        checked[name] = np.ascontiguousarray(array, dtype=np.float32)
    if problems:
        raise GraphError(problems)
    return checked


def _array_problem(array, kind: str) -> str | None:
    if not isinstance(array, np.ndarray):
        return f"expected a numpy array, found {type(array).__name__}"
    if array.dtype.kind != "f":
        return (f"expected a float array ({_describe(kind)}), found dtype {array.dtype} "
                f"with shape {array.shape}")
    if kind == "track":
        if not PORT_SHAPES["track"][1](array):
            return f"expected {_describe(kind)}, found shape {array.shape}"
        return None
    is_image = array.ndim == 3 and array.shape[2] == 4
    is_mask = array.ndim == 2
    if kind == "image" and not is_image or kind == "mask" and not is_mask or \
            kind == "image|mask" and not (is_image or is_mask):
        return f"expected {_describe(kind)}, found shape {array.shape}"
    if 0 in array.shape[:2]:
        return f"the array is empty: shape {array.shape}"
    return limits.pixel_problem(array.shape[1], array.shape[0], "the fed array")


def _describe(kind: str) -> str:
    return {"image": "an image: (H, W, 4) premultiplied RGBA",
            "mask": "a mask: (H, W)",
            "track": "a track: (3 + points, 3), a 3x3 matrix then (x, y, lost) per point"
            }.get(kind, "an image (H, W, 4) or a mask (H, W)")


def _hint(kind: str) -> str:
    if kind == "track":
        return "feed what a `track` node gives: rows 0-2 the transform from the reference frame"
    if kind == "mask":
        return "a mask is one channel of float32 values in [0, 1]"
    return ("an image is float32 linear premultiplied RGBA: decode 8-bit sRGB codes and add "
            "an alpha channel (np.dstack([rgb, np.ones(rgb.shape[:2])]))")
