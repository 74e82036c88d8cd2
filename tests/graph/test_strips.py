"""Strip execution (graph/strips.py): under a tiny memory budget, runs of row-splittable
nodes are computed in bands of rows, and the results equal the whole-frame run bit for bit."""
import cv2
import numpy as np
import pytest
from skimage import data

import graph
from graph import strips
from graph.cache import MemoryCache

COMP = """maskgraph: 1
nodes:
  plate:  {type: input, kind: image}
  bg:     {type: input, kind: image}
  sel:    {type: color_range, input: plate, hue: [20, 60], saturation: [0.2, 1.0],
           softness: 0.1}
  bright: {type: luma_key, input: plate, low: 0.2, high: 0.9, softness: 0.1}
  both:   {type: intersect, inputs: [sel, bright]}
  hard:   {type: threshold, input: both, value: 0.4, softness: 0.2}
  soft:   {type: feather, input: hard, radius: 6}
  less:   {type: subtract, a: soft, b: bright}
  graded: {type: grade, input: plate, mask: less, multiply: [1.2, 1.05, 0.9], add: 0.01}
  warm:   {type: saturation, input: graded, amount: 1.3}
  dim:    {type: exposure, input: bg, stops: -0.5}
  comp:   {type: merge, op: over, a: warm, b: dim}
"""


def photo(picture, height=101, width=77):
    """A real photograph (scikit-image's sample data) as linear premultiplied RGBA."""
    pixels = cv2.resize(getattr(data, picture)(), (width, height),
                        interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    alpha = np.linspace(0.3, 1.0, width, dtype=np.float32)[None, :].repeat(height, 0)
    return np.dstack([pixels ** 2.2 * alpha[..., None], alpha]).astype(np.float32)


def run(budget, outputs=("comp",), feed=None):
    feed = feed or {"plate": photo("coffee"), "bg": photo("astronaut")}
    return graph.load(COMP).run(list(outputs), feed=feed, memory=MemoryCache(budget))


def test_a_tiny_budget_runs_groups_in_strips_with_identical_results():
    whole = run(2**30)
    banded = run(40_000)
    assert not any("strips" in stat for stat in whole.stats)
    striped = {stat["name"]: stat["strips"] for stat in banded.stats if "strips" in stat}
    assert set(striped) >= {"sel", "bright", "both", "hard", "less", "graded", "warm",
                            "dim", "comp"}
    assert all(rows == strips.MIN_ROWS for rows in striped.values())  # 101 rows: 7 bands
    np.testing.assert_array_equal(banded.results["comp"], whole.results["comp"])


def test_a_requested_intermediate_is_made_whole_and_equal():
    names = ("comp", "both", "warm")
    whole, banded = run(2**30, names), run(40_000, names)
    assert any("strips" in stat for stat in banded.stats)
    for name in names:
        np.testing.assert_array_equal(banded.results[name], whole.results[name])


def test_a_budget_with_room_for_part_of_the_frame_gives_taller_bands():
    banded = run(500_000)
    rows = {stat["strips"] for stat in banded.stats if "strips" in stat}
    assert rows and all(strips.MIN_ROWS < value < 101 for value in rows)
    np.testing.assert_array_equal(banded.results["comp"], run(2**30).results["comp"])


def test_a_group_whose_inputs_differ_in_size_runs_whole():
    feed = {"plate": photo("coffee"), "bg": photo("astronaut", 90, 77)}  # over: b sets the size
    whole, banded = run(2**30, feed=feed), run(40_000, feed=feed)
    assert "strips" not in next(stat for stat in banded.stats if stat["name"] == "comp")
    assert banded.results["comp"].shape == (90, 77, 4)
    np.testing.assert_array_equal(banded.results["comp"], whole.results["comp"])
