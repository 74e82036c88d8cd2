"""The layout shared by `preview` and `serve`: edges at their ports, never through a card."""
import glob
import os

import pytest

import graph
from graph.layout import layout, sample_edge

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..",
                                         "graphs_examples", "*.yaml")))


def loadable(path):
    try:
        return graph.load(path)
    except graph.GraphError:  # examples needing the segmentation models
        pytest.skip(f"{os.path.basename(path)} does not load here (models missing)")


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_no_edge_passes_through_a_card_and_edges_end_at_ports(path):
    g = loadable(path)
    drawn = layout(g)
    cards = drawn["cards"]
    assert set(cards) == set(g.nodes)
    for edge in drawn["edges"]:
        start, end = edge["points"][0], edge["points"][-1]
        source, target = cards[edge["from"]], cards[edge["to"]]
        assert start[0] == source["x"] + source["w"]              # leaves the right side
        assert end[0] == target["x"]                              # enters the left side
        assert (end[0], end[1]) in [(p["x"], p["y"]) for p in target["inputs"]]
        for x, y in sample_edge(edge["points"]):
            for name, box in cards.items():
                inside = box["x"] + 0.5 < x < box["x"] + box["w"] - 0.5 and \
                    box["y"] + 0.5 < y < box["y"] + box["h"] - 0.5
                assert not inside, f"{edge['from']} -> {edge['to']} crosses card {name}"


TEN_NODE_KEYING = """
maskgraph: 1
nodes:
  plate:  {type: read, path: IMAGES/actor_green.png}
  bg:     {type: read, path: IMAGES/keying_bg.png}
  key:    {type: chroma_key, input: plate, screen: auto}
  matte:  {type: feather, input: key, radius: 1.5}
  clean:  {type: despill, input: plate, screen: auto}
  keyed:  {type: set_alpha, input: clean, alpha: matte}
  comp:   {type: merge, op: over, a: keyed, b: bg}
  write_matte: {type: write, input: matte, path: matte.png}
  write_keyed: {type: write, input: keyed, path: keyed.png}
  write_comp:  {type: write, input: comp, path: comp.png}
"""


def test_cards_do_not_overlap_and_ten_nodes_fit_a_laptop_screen():
    images = os.path.join(os.path.dirname(__file__), "..", "..", "graphs_examples", "images")
    g = graph.load(TEN_NODE_KEYING.replace("IMAGES", os.path.abspath(images)))
    # (the flagship example's former shape)
    drawn = layout(g)
    boxes = list(drawn["cards"].values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or \
                a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    assert len(g.nodes) == 10 and drawn["width"] <= 1366
