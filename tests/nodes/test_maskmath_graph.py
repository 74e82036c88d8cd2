"""Mask math through the engine: the example graph, and bad input reported with node and
line."""
import os

import numpy as np
import pytest

graph = pytest.importorskip("graph")
if not hasattr(graph, "load"):
    pytest.skip("graph.load is not available yet", allow_module_level=True)

from graph.errors import GraphError, MaskgraphError  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "graphs_examples")


def test_mask_pipeline_example_stages():
    loaded = graph.load(os.path.join(EXAMPLES, "mask_pipeline.yaml"))
    stages = loaded.evaluate(outputs=["chosen", "cleaned", "grown", "matte", "rim", "result"])
    assert stages["result"].shape == (303, 384, 4)
    assert (stages["cleaned"] <= stages["chosen"] + 1e-6).all()     # subtract only removes
    assert (stages["matte"] <= stages["grown"] + 1e-6).all()        # feather inside-only
    assert stages["cleaned"][250:, :].max() < 0.05                  # the garbage matte's rows
    for name in ("grown", "matte", "rim"):
        assert 0.0 <= stages[name].min() and stages[name].max() <= 1.0


def test_size_mismatch_names_both_nodes_sizes_and_line():
    text = """maskgraph: 1
nodes:
  a: {type: rectangle, width: 40, height: 30, box: [5, 5, 20, 20]}
  b: {type: ellipse, width: 50, height: 30, center: [10, 10], radius: [5, 5]}
  both: {type: union, inputs: [a, b]}
"""
    with pytest.raises(MaskgraphError) as caught:
        graph.load(text).evaluate(outputs=["both"])
    message = str(caught.value)
    assert ":5:" in message and "'both'" in message
    assert "'a'" in message and "'b'" in message and "40x30" in message and "50x30" in message


def test_negative_feather_radius_is_a_load_error_with_its_line():
    text = """maskgraph: 1
nodes:
  m: {type: rectangle, width: 40, height: 30, box: [5, 5, 20, 20]}
  f: {type: feather, input: m, radius: -3}
"""
    with pytest.raises(GraphError, match=r":4:\d+: node 'f', 'radius': expected a number >= 0"):
        graph.load(text)


def test_nan_in_a_fed_mask_names_the_node():
    text = """maskgraph: 1
nodes:
  m: {type: input, kind: mask}
  g: {type: grow, input: m, radius: 2}
"""
    mask = np.zeros((20, 20), np.float32)
    mask[3, 3] = np.nan
    with pytest.raises(MaskgraphError, match=r"(?s)'g'.*NaN"):
        graph.load(text).evaluate(outputs=["g"], feed={"m": mask})
