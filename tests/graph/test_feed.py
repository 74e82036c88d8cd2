"""feed= is checked at the boundary: dtype, shape and channel count, with the node named."""
import numpy as np
import pytest

import graph
from graph.errors import GraphError

GRAPH = ("maskgraph: 1\nnodes:\n  src: {type: constant, width: 4, height: 4}\n"
         "  m: {type: luma_key, input: src}\n  g: {type: grade, input: src, mask: m}\n")


@pytest.mark.parametrize("node,array,message", [
    ("src", np.zeros((4, 4, 4), np.uint8), "expected a float array"),
    ("src", np.zeros((4, 4, 3), np.float32), "found shape (4, 4, 3)"),
    ("src", np.zeros((4, 4), np.float32), "found shape (4, 4)"),
    ("m", np.zeros((4, 4, 4), np.float32), "expected a mask"),
    ("src", [[0.0]], "expected a numpy array"),
    ("src", np.zeros((0, 4, 4), np.float32), "empty"),
    ("nope", np.zeros((4, 4), np.float32), "feed names no node 'nope'")])
def test_bad_feed_is_refused_at_the_boundary(node, array, message):
    g = graph.load(GRAPH)
    with pytest.raises(GraphError) as error:
        g.evaluate(["g"], feed={node: array})
    assert message in str(error.value) and "bug in the node" not in str(error.value)


def test_good_feed_of_other_float_types_is_converted():
    g = graph.load(GRAPH)
    image = np.full((4, 4, 4), 0.5, np.float64)
    result = g.evaluate(["g"], feed={"src": image}, memory=None)["g"]
    assert result.dtype == np.float32 and result.shape == (4, 4, 4)
