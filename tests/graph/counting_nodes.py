"""Tiny node types for engine tests: each counts its computations, so tests can prove
cache hits and misses. They use no kernels of the node library."""
import weakref
from collections import Counter

import numpy as np

from graph.errors import NodeInputError
from graph.spec import Input, Output, Param, Registry, node, specs_in

CALLS: Counter = Counter()
LIVE: list = []  # weak references to every `frame_value` output


@node("ramp", version=1, outputs=[Output("output", "mask")],
      params=[Param("width", "int", 8, min=1, doc="width"),
              Param("height", "int", 6, min=1, doc="height"),
              Param("level", "float", 0.5, min=0, max=1, doc="value")])
def ramp(*, width, height, level):
    """A constant mask (counting)."""
    CALLS["ramp"] += 1
    return np.full((height, width), level, np.float32)


@node("paint", version=1, outputs=[Output("output", "image")],
      params=[Param("width", "int", 8, min=1, doc="width"),
              Param("height", "int", 6, min=1, doc="height"),
              Param("color", "color", (0.2, 0.4, 0.6, 1.0), doc="colour")])
def paint(*, width, height, color):
    """A constant image (counting)."""
    CALLS["paint"] += 1
    return np.broadcast_to(np.array(color, np.float32), (height, width, 4)).copy()


@node("gain", version=1, maskable=True, inputs=[Input("input", "image|mask")],
      outputs=[Output("output", "image|mask")],
      params=[Param("amount", "float", 2.0, doc="factor"),
              Param("mode", "choice", "multiply", choices=("multiply", "add"), doc="how")])
def gain(input, *, amount, mode):
    """Multiply (or add to) every value (counting)."""
    CALLS["gain"] += 1
    return input * np.float32(amount) if mode == "multiply" else input + np.float32(amount)


@node("combine", version=1, inputs=[Input("inputs", "mask", list_of=True)],
      outputs=[Output("output", "mask")])
def combine(inputs):
    """The largest value of several masks (counting)."""
    CALLS["combine"] += 1
    if len({m.shape for m in inputs}) > 1:
        raise NodeInputError("sizes differ")
    return np.maximum.reduce(inputs)


@node("split", version=1, inputs=[Input("input", "image")],
      outputs=[Output("color", "image"), Output("alpha", "mask")])
def split(input):
    """Two outputs: the image and its alpha (counting)."""
    CALLS["split"] += 1
    return {"color": input.copy(), "alpha": np.ascontiguousarray(input[:, :, 3])}


@node("explode", version=1, inputs=[Input("input", "mask")], outputs=[Output("output", "mask")])
def explode(input):
    """Always fails (for error reporting tests)."""
    raise ZeroDivisionError("boom")


@node("die_once", version=1, inputs=[Input("input", "image|mask")],
      outputs=[Output("output", "image|mask")],
      params=[Param("marker", "path", doc="file created by the first call")])
def die_once(input, *, marker):
    """Kills its own process the first time it runs (the marker file says it did): a Dask
    worker dying mid-render."""
    import os
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return input
    os._exit(17)


@node("frame_value", version=1, takes_frame=True, outputs=[Output("output", "mask")])
def frame_value(*, frame):
    """A 2x2 mask holding the frame number (counting; its outputs are watched in LIVE)."""
    CALLS["frame_value"] += 1
    out = np.full((2, 2), frame, np.float32)
    LIVE.append(weakref.ref(out))
    return out


def _walked(params, frame):
    return {"input": list(range(1, frame + 1))}


def _walk(input, *, frame):
    """The sum of the input over frames 1..frame / 1000, reading one frame at a time and
    noting the most `frame_value` outputs alive at once (CALLS['most_alive'])."""
    total = 0.0
    for index in range(len(input)):
        total += float(input[index][0, 0])
        CALLS["most_alive"] = max(CALLS["most_alive"], sum(r() is not None for r in LIVE))
    return np.full((2, 2), total / 1000, np.float32)


walk = node("walk", version=1, takes_frame=True, reads_frames=_walked,
            inputs=[Input("input", "mask", lazy=True)], outputs=[Output("output", "mask")])(_walk)
walk_eager = node("walk_eager", version=1, takes_frame=True, reads_frames=_walked,
                  inputs=[Input("input", "mask")], outputs=[Output("output", "mask")])(_walk)


def registry(extra=()) -> Registry:
    """The counting nodes plus the library's I/O nodes."""
    from nodes import io
    import sys
    return Registry(specs_in(sys.modules[__name__], io) + list(extra))
