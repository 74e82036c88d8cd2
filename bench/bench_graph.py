"""Whole graphs at 4K: the engine against the same steps written with OpenCV and numpy,
fused against unfused (MASKGRAPH_FUSION=0), and with a busy neighbour process.

1. The mask-driven comp of the performance notes: colour range -> feather (16) ->
   grade (gain and offset) through the mask -> merge over a background; peer: the same steps written
   naively with OpenCV on float arrays (cvtColor HSV, inRange, GaussianBlur, pow,
   blend, over). Target: at most 0.2x the OpenCV time.
2. A merge over inside a chain: the marginal cost of one more `over` node in a chain of
   merges (each with its own foreground) against numpy's `a + b` into a preallocated
   frame. Target: at most 1.3x.
3. The comp with one busy neighbour (a process spinning on a core), all threads against
   one thread, each in a fresh process (`--neighbour`; slow). Target: all threads no
   slower than one.
Run: python bench/bench_graph.py [--neighbour]. Ratios are from one run; on a shared
machine (the load average is printed) the absolute numbers move.
"""
import json
import multiprocessing
import os
import subprocess
import sys

import numpy as np

from common import HEIGHT, REPO, WIDTH, median_seconds, print_table

COMP = """maskgraph: 1
nodes:
  plate: {type: constant, width: 8, height: 8}
  bg:    {type: constant, width: 8, height: 8}
  sel:   {type: color_range, input: plate, hue: [20, 60], saturation: [0.2, 1.0],
          softness: 0.1}
  soft:  {type: feather, input: sel, radius: 16}
  graded: {type: grade, input: plate, mask: soft, multiply: [1.2, 1.05, 0.9], add: 0.01}
  comp:  {type: merge, op: over, a: graded, b: bg}
"""


def pictures(seed=0):
    """A 4K plate (skimage's coffee, resized; alpha a soft ramp) and background."""
    import cv2
    from skimage import data
    plate = cv2.resize(data.coffee(), (WIDTH, HEIGHT)).astype(np.float32) / 255
    bg = cv2.resize(data.astronaut(), (WIDTH, HEIGHT)).astype(np.float32) / 255
    alpha = np.clip(np.linspace(-0.2, 1.4, WIDTH, dtype=np.float32), 0, 1)[None, :]
    plate_rgba = np.dstack([plate ** 2.2 * alpha[..., None], np.broadcast_to(
        alpha, (HEIGHT, WIDTH))]).astype(np.float32)
    bg_rgba = np.dstack([bg ** 2.2, np.ones((HEIGHT, WIDTH), np.float32)]).astype(np.float32)
    return np.ascontiguousarray(plate_rgba), np.ascontiguousarray(bg_rgba)


def opencv_comp(plate, bg):
    """The comp's steps written naively with OpenCV on float arrays."""
    import cv2
    alpha = plate[..., 3]
    rgb = plate[..., :3] / np.maximum(alpha, 1e-6)[..., None]
    encoded = cv2.pow(np.clip(rgb, 0, 1), 1 / 2.2)
    hsv = cv2.cvtColor(encoded, cv2.COLOR_RGB2HSV)
    hard = cv2.inRange(hsv, (20, 0.2, 0.0), (60, 1.0, 1.0)).astype(np.float32) / 255
    mask = cv2.GaussianBlur(hard, (0, 0), 16 / 3)
    graded = np.maximum(cv2.add(cv2.multiply(plate[..., :3], (1.2, 1.05, 0.9, 0)), 0.01), 0)
    colour = plate[..., :3] + cv2.multiply(graded - plate[..., :3], cv2.merge([mask] * 3))
    over = colour + bg[..., :3] * (1 - alpha)[..., None]
    return cv2.merge([over[..., 0], over[..., 1], over[..., 2], alpha + bg[..., 3] * (1 - alpha)])


def engine_runner(text, feed, output):
    """Execute the graph's plan (made once: planning hashes the fed 4K arrays, which is
    not what is measured) with no cache, so every node runs each time."""
    import graph
    from graph import local
    from graph.plan import make_plan
    from graph.tiers import Tiers
    plan = make_plan(graph.load(text), [output], (1,), feed)
    return lambda: local.execute(plan, Tiers([]))


def unfused(function):
    def run():
        os.environ["MASKGRAPH_FUSION"] = "0"
        try:
            return function()
        finally:
            os.environ.pop("MASKGRAPH_FUSION")
    return run


def merge_chain(count):
    lines = ["maskgraph: 1", "nodes:", "  n0: {type: constant, width: 8, height: 8}"]
    for index in range(count):
        lines.append(f"  fg{index}: {{type: constant, width: 8, height: 8}}")
        lines.append(f"  n{index + 1}: {{type: merge, op: over, a: fg{index}, b: n{index}}}")
    return "\n".join(lines) + "\n"


def comp_rows(plate, bg):
    feed = {"plate": plate, "bg": bg}
    comp = engine_runner(COMP, feed, "comp")
    gamma = engine_runner(COMP.replace("add: 0.01", "add: 0.01, gamma: 1.1"), feed, "comp")
    ours = median_seconds(comp, repeat=5, warmup=2)
    theirs = median_seconds(lambda: opencv_comp(plate, bg), repeat=5, warmup=1)
    separate = median_seconds(unfused(comp), repeat=5, warmup=1)
    with_gamma = median_seconds(gamma, repeat=5, warmup=2)
    gamma_separate = median_seconds(unfused(gamma), repeat=5, warmup=1)
    return [("4K mask comp (fused)", ours, "OpenCV float pipeline", theirs, "<= 0.2x"),
            ("4K mask comp, fusion off", separate, "OpenCV float pipeline", theirs, ""),
            ("4K mask comp, grade with gamma 1.1", with_gamma, "OpenCV float pipeline",
             theirs, ""),
            ("  same, fusion off", gamma_separate, "OpenCV float pipeline", theirs, "")]


def merge_rows(plate, bg):
    rng = np.random.default_rng(1)
    count = 9
    fgs = {f"fg{i}": (plate * rng.uniform(0.5, 1.0)).astype(np.float32) for i in range(count)}
    feed = {"n0": bg, **fgs}
    long = engine_runner(merge_chain(count), feed, f"n{count}")
    short = engine_runner(merge_chain(1), {"n0": bg, "fg0": fgs["fg0"]}, "n1")
    per_node = (median_seconds(long, 5, 2) - median_seconds(short, 5, 2)) / (count - 1)
    per_node_unfused = (median_seconds(unfused(long), 3, 1)
                        - median_seconds(unfused(short), 3, 1)) / (count - 1)
    out = np.empty_like(bg)
    numpy_add = median_seconds(lambda: np.add(plate, bg, out=out), repeat=7, warmup=2)
    return [("merge over, one more node in a chain", per_node, "numpy a + b (prealloc)",
             numpy_add, "<= 1.3x"),
            ("  same, fusion off", per_node_unfused, "numpy a + b (prealloc)", numpy_add, "")]


CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
import bench_graph, graph
from common import median_seconds
plate, bg = bench_graph.pictures()
run = bench_graph.engine_runner(bench_graph.COMP, {{"plate": plate, "bg": bg}}, "comp")
print(json.dumps({{"ms": 1e3 * median_seconds(run, repeat=5, warmup=2)}}))
"""


def spin():
    while True:
        pass


def neighbour_rows():
    bench = os.path.dirname(os.path.abspath(__file__))

    def child(threads):
        env = {**os.environ, "PYTHONPATH": REPO}
        env.pop("MASKGRAPH_THREADS", None)
        if threads:
            env["MASKGRAPH_THREADS"] = str(threads)
        done = subprocess.run([sys.executable, "-c", CHILD.format(bench=bench)], env=env,
                              capture_output=True, text=True, check=True, cwd=bench)
        return json.loads(done.stdout.strip().splitlines()[-1])["ms"] / 1e3
    quiet = child(None)
    spinner = multiprocessing.Process(target=spin, daemon=True)
    spinner.start()
    try:
        busy_all, busy_one = child(None), child(1)
    finally:
        spinner.terminate()
        spinner.join()
    return [("comp, busy neighbour, all threads", busy_all, "same, 1 thread", busy_one,
             "<= 1.0x (never > 1.25)"),
            ("comp, busy neighbour, all threads", busy_all, "same, quiet", quiet, "<= 2x")]


def main():
    print("load average:", os.getloadavg())
    plate, bg = pictures()
    rows = comp_rows(plate, bg) + merge_rows(plate, bg)
    if "--neighbour" in sys.argv:
        rows += neighbour_rows()
    print_table("Whole graphs at 4K (3840x2160)", rows)
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
