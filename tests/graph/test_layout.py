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


def test_cards_do_not_overlap_and_ten_nodes_fit_a_laptop_screen():
    g = graph.load(os.path.join(os.path.dirname(__file__), "..", "..", "graphs_examples",
                                "green_screen.yaml"))
    drawn = layout(g)
    boxes = list(drawn["cards"].values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or \
                a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    assert len(g.nodes) == 10 and drawn["width"] <= 1366
