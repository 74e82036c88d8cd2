"""Run-time checks and small helpers that node wrappers share.

They raise NodeInputError naming input ports; the evaluator adds the node, its upstream
node names and the YAML location to the message a user sees.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading

import numpy as np

from graph import limits
from graph.errors import NodeInputError


def require_same_size(**arrays) -> tuple[int, int]:
    """Check that every given (non-None) array has the same height and width.

    Returns (height, width). Raises NodeInputError naming each port and its size.
    """
    sizes = {name: array.shape[:2] for name, array in arrays.items() if array is not None}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"'{name}' is {w}x{h}" for name, (h, w) in sizes.items())
        raise NodeInputError(f"input sizes differ: {listed}",
                             hint="resize or crop the inputs to one size first")
    return next(iter(sizes.values()))


def require_finite(name: str, array: np.ndarray) -> None:
    """Refuse NaN or inf values in an input (counts them in the message): one parallel
    pass over a float32 array, no temporary arrays."""
    from nodes.kernels.bands import run_bands
    from nodes.kernels.maskops import count_nonfinite
    if array.dtype == np.float32:
        values = np.ascontiguousarray(array).reshape(-1)  # one signature
        bad = sum(run_bands(count_nonfinite, values.size, 1, values))
    else:
        bad = np.count_nonzero(~np.isfinite(array))
    if bad:
        raise NodeInputError(f"input '{name}' has {bad} NaN or infinite values",
                             hint="clamp or fix the upstream node that produced them")


def canvas_size(like, width, height) -> tuple[int, int]:
    """(height, width) of a generator's canvas: from `like` if connected, else the params."""
    if like is not None:
        return like.shape[0], like.shape[1]
    if width is None or height is None:
        raise NodeInputError("no canvas size: connect a 'like' input or set width and height")
    return int(height), int(width)


def canvas_check(params, connected):
    """Load-time check for generators: a `like` input or both width and height, within
    the pixel budget."""
    if "like" in connected:
        return []
    missing = [name for name in ("width", "height") if params.get(name) is None]
    if missing:
        return [(name, "needed when no 'like' input is connected") for name in missing]
    return budget_check(params["width"], params["height"], "width")


def budget_check(width, height, key: str, what: str = "the canvas"):
    """[(key, message)] when width x height pixels exceed $MASKGRAPH_MAX_PIXELS."""
    if not all(isinstance(side, int) for side in (width, height)):
        return []
    problem = limits.pixel_problem(width, height, what)
    return [(key, problem)] if problem else []


def require_budget(height: int, width: int, what: str) -> None:
    """Run-time form of budget_check (sizes that depend on an input)."""
    problem = limits.pixel_problem(width, height, what)
    if problem:
        raise NodeInputError(problem, hint=f"${limits.MAX_PIXELS_ENV} sets the budget")


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def captured_stderr():
    """Collect what C libraries (libpng, libjpeg, libtiff, OpenCV, TFLite) print on file
    descriptor 2 while the body runs, instead of letting it reach the user's terminal.

    Yields a list that holds the captured text (one string) after the body.
    """
    captured: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no stderr to redirect (a daemon): nothing to hide
            yield captured
            captured.append("")
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read(65536).decode("utf-8", "replace"))
