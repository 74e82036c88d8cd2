"""Header settings (`Param(setting=..., env=...)`) and named list inputs (`Input(names=...)`):
generic engine features, tested with tiny node types that know nothing of colour."""
import numpy as np
import pytest

import graph
from graph.errors import GraphError
from graph.spec import Input, Output, Param, node
from tests.graph import counting_nodes
from tests.graph.counting_nodes import CALLS


@node("tone", version=1, outputs=[Output("output", "mask")],
      params=[Param("width", "int", 4, min=1),
              Param("level", "float", 0.5, min=0, max=1, setting="look.level",
                    env="MASKGRAPH_TEST_LEVEL", doc="from the header's look: {level: ...}")])
def tone(*, width, level):
    """A constant mask whose value is a header setting (counting)."""
    CALLS["tone"] += 1
    return np.full((2, width), level, np.float32)


@node("stack", version=1, inputs=[Input("items", "mask", list_of=True, names="labels")],
      outputs=[Output("output", "mask")],
      params=[Param("labels", "any", None, optional=True, doc="one name per item")])
def stack(items, *, labels):
    """The item named 'top' times 2, plus the others (a named list input)."""
    return sum(item * (2 if label == "top" else 1) for label, item in zip(labels, items))


def load(text, **kwargs):
    return graph.load(text, registry=counting_nodes.registry([tone, stack]), **kwargs)


def test_a_header_setting_reaches_nodes_as_a_param_and_enters_the_key():
    text = "maskgraph: 1\nlook: {level: LEVEL}\nnodes:\n  t: {type: tone}\n"
    CALLS.clear()
    first = load(text.replace("LEVEL", "0.25")).evaluate(["t"])["t"]
    again = load(text.replace("LEVEL", "0.25")).evaluate(["t"])["t"]
    other = load(text.replace("LEVEL", "0.75")).evaluate(["t"])["t"]
    assert first[0, 0] == 0.25 and other[0, 0] == 0.75
    assert CALLS["tone"] == 2  # the same setting is a cache hit, a new one is not
    np.testing.assert_array_equal(first, again)


def test_the_environment_then_the_default_supply_an_unset_setting(monkeypatch):
    text = "maskgraph: 1\nnodes:\n  t: {type: tone}\n"
    assert load(text).nodes["t"].values["level"] == 0.5
    monkeypatch.setenv("MASKGRAPH_TEST_LEVEL", "0.125")
    with pytest.raises(GraphError, match=r"\$MASKGRAPH_TEST_LEVEL: expected a number"):
        load(text)  # environment values are strings: a float setting refuses one


def test_setting_problems_are_placed_in_the_header():
    message = str(pytest.raises(GraphError, load, "maskgraph: 1\nlook: {levl: 0.2}\n"
                                "nodes:\n  t: {type: tone}\n").value)
    assert "<string>:2:8" in message and "unknown setting 'levl'" in message \
        and "did you mean 'level'" in message
    message = str(pytest.raises(GraphError, load, "maskgraph: 1\nlook: {level: 2}\n"
                                "nodes:\n  t: {type: tone}\n").value)
    assert "<string>:2:8" in message and "a number <= 1" in message
    message = str(pytest.raises(GraphError, load, "maskgraph: 1\nlok: {level: 2}\n"
                                "nodes:\n  t: {type: tone}\n").value)
    assert "did you mean 'look'" in message
    message = str(pytest.raises(GraphError, load, "maskgraph: 1\nnodes:\n"
                                "  t: {type: tone, level: 0.3}\n").value)
    assert "'level' is a graph setting" in message and "look: {level: ...}" in message


def test_settings_round_trip_and_the_builder_uses_them():
    g = load("maskgraph: 1\nlook: {level: 0.3}\nnodes:\n  t: {type: tone}\n")
    assert load(g.to_yaml()) == g
    built = graph.Graph(counting_nodes.registry([tone, stack]))
    built.settings["look.level"] = 0.6
    built.tone(name="t")
    assert built.evaluate(["t"])["t"][0, 0] == np.float32(0.6)


def test_a_named_list_input_takes_a_mapping_in_yaml_and_python():
    text = ("maskgraph: 1\nnodes:\n  a: {type: ramp, level: 0.1}\n  b: {type: ramp, level: 0.2}\n"
            "  s: {type: stack, items: {top: a, rest: b}}\n")
    g = load(text)
    assert g.nodes["s"].values["labels"] == ["top", "rest"]
    assert g.evaluate(["s"])["s"][0, 0] == pytest.approx(0.4)
    assert load(g.to_yaml()) == g
    built = graph.Graph(counting_nodes.registry([tone, stack]))
    a, b = built.ramp(level=0.1), built.ramp(level=0.2)
    built.stack(items={"rest": a, "top": b}, name="s")
    assert built.evaluate(["s"])["s"][0, 0] == pytest.approx(0.5)


def test_named_list_input_problems():
    head = "maskgraph: 1\nnodes:\n  a: {type: ramp}\n"
    message = str(pytest.raises(GraphError, load, head + "  s: {type: stack, items: [a]}\n")
                  .value)
    assert "needs a name per node" in message and "items: {NAME: node, ...}" in message
    message = str(pytest.raises(GraphError, load, head + "  s: {type: stack, items: [a, a], "
                                "labels: [x, x]}\n").value)
    assert "repeated name(s): x" in message
    message = str(pytest.raises(GraphError, load, head + "  s: {type: stack, items: {x: nope}}\n")
                  .value)
    assert "unknown node 'nope'" in message
