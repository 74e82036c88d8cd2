"""Templates: nesting, params, multiple outputs, errors, self-inclusion, cache sharing."""
import os

import numpy as np
import pytest

import graph
from graph.cache import MemoryCache
from graph.errors import GraphError
from tests.graph import counting_nodes
from tests.graph.counting_nodes import CALLS

HERE = os.path.join(os.path.dirname(__file__), "templates")


def load(text, **kwargs):
    path = os.path.join(HERE, "_graph.yaml")
    with open(path, "w") as handle:
        handle.write(text)
    try:
        return graph.load(path, registry=counting_nodes.registry(), **kwargs)
    finally:
        os.remove(path)


@pytest.fixture(autouse=True)
def fresh_counts():
    CALLS.clear()


def test_nested_template_gives_the_same_pixels_as_the_flat_graph():
    nested = load("maskgraph: 1\nnodes:\n  src: {type: ramp, level: 0.1}\n"
                  "  shot: {type: template, file: nested.yaml, source: src, first: 1.5}\n")
    flat = load("maskgraph: 1\nnodes:\n  src: {type: ramp, level: 0.1}\n"
                "  g1: {type: gain, input: src, amount: 1.5}\n  c1: {type: combine, inputs: [g1]}\n"
                "  g2: {type: gain, input: c1, amount: 3.0}\n  c2: {type: combine, inputs: [g2]}\n")
    a = nested.evaluate(["shot", "shot.inner"], memory=None)
    b = flat.evaluate(["c2", "g1"], memory=None)
    np.testing.assert_array_equal(a["shot"], b["c2"])
    np.testing.assert_array_equal(a["shot.inner"], b["g1"])
    assert "shot/inner/g" in nested.nodes and "shot/outer/both" in nested.nodes


def test_optional_template_input_can_be_bound_or_left_out():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp, level: 0.1}\n"
             "  big: {type: ramp, level: 0.9}\n"
             "  a: {type: template, file: boost.yaml, source: src}\n"
             "  b: {type: template, file: boost.yaml, source: src, extra: big}\n")
    result = g.evaluate(["a", "b", "b.boosted"], memory=None)
    assert result["a"][0, 0] == pytest.approx(0.2)
    assert result["b"][0, 0] == pytest.approx(0.9)
    assert result["b.boosted"][0, 0] == pytest.approx(0.2)


def test_stats_name_nodes_inside_an_instance_with_the_instance_prefix():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  shot: {type: template, file: boost.yaml, source: src}\n")
    names = [s["name"] for s in g.run(["shot"], memory=None).stats]
    assert names == ["src", "shot/g", "shot/both"]


def test_error_inside_a_template_names_its_file_line_and_the_instance():
    with pytest.raises(GraphError) as caught:
        load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  shot: {type: template, file: broken.yaml, source: src}\n")
    message = str(caught.value)
    assert "broken.yaml:8:34: node 'shot/g', 'amount': expected a number" in message
    assert "in template instance 'shot' at" in message and "_graph.yaml:4:3" in message


def test_port_types_are_checked_across_the_template_boundary():
    with pytest.raises(GraphError, match="template input 'source' takes a mask, but 'pic' gives an image"):
        load("maskgraph: 1\nnodes:\n  pic: {type: paint}\n"
             "  shot: {type: template, file: boost.yaml, source: pic}\n")


def test_missing_required_template_input_and_unknown_output_are_reported():
    with pytest.raises(GraphError) as caught:
        load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  shot: {type: template, file: boost.yaml}\n"
             "  g: {type: gain, input: shot.reslut}\n")
    message = str(caught.value)
    assert "template input 'source' (mask) is not connected" in message
    assert "template instance 'shot' has no output 'reslut'" in message
    assert "did you mean 'result'?" in message


def test_a_template_that_includes_itself_is_refused_with_the_chain():
    with pytest.raises(GraphError, match=r"template includes itself: loop_a.yaml -> loop_b.yaml -> loop_a.yaml"):
        load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  shot: {type: template, file: loop_a.yaml, source: src}\n")


def test_two_instances_with_the_same_inputs_and_params_share_cache_entries():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  one: {type: template, file: boost.yaml, source: src}\n"
             "  two: {type: template, file: boost.yaml, source: src}\n")
    run = g.run(["one", "two"], memory=MemoryCache(2**30))
    status = {s["name"]: s["status"] for s in run.stats}
    assert status["two/both"] == "memory"
    assert CALLS == {"ramp": 1, "gain": 1, "combine": 1}


def test_changing_one_instance_param_recomputes_only_what_depends_on_it():
    text = ("maskgraph: 1\nparams:\n  amount_two: 2.0\nnodes:\n  src: {type: ramp}\n"
            "  one: {type: template, file: boost.yaml, source: src}\n"
            "  two: {type: template, file: boost.yaml, source: src, amount: $amount_two}\n")
    memory = MemoryCache(2**30)
    load(text).run(["one", "two"], memory=memory)
    CALLS.clear()
    run = load(text, params={"amount_two": 5.0}).run(["one", "two"], memory=memory)
    computed = sorted(s["name"] for s in run.stats if s["status"] == "computed")
    assert computed == ["two/both", "two/g"]


def test_a_template_file_loads_on_its_own_and_its_inputs_can_be_fed():
    g = graph.load(os.path.join(HERE, "boost.yaml"), registry=counting_nodes.registry(),
                   params={"amount": 4.0})
    result = g.evaluate(feed={"source": np.full((2, 2), 0.25, np.float32)}, memory=None)
    np.testing.assert_allclose(result["result"], 1.0)


def test_builder_template_instances():
    g = graph.Graph(counting_nodes.registry())
    src = g.ramp(level=0.1, name="src")
    shot = g.template(os.path.join(HERE, "boost.yaml"), name="shot", source=src, amount=3.0)
    g.gain(shot.boosted, amount=2.0, name="after")
    result = g.evaluate(["after", "shot"], memory=None)
    assert result["after"][0, 0] == pytest.approx(0.6)
    assert result["shot"][0, 0] == pytest.approx(0.3)


def test_builder_graph_with_a_template_round_trips_through_yaml():
    g = graph.Graph(counting_nodes.registry())
    src = g.ramp(level=0.1, name="src")
    shot = g.template(os.path.join(HERE, "boost.yaml"), name="shot", source=src, amount=3.0)
    g.gain(shot.boosted, amount=2.0, name="after")
    g.gain(shot, amount=2.0, name="after2")
    text = g.to_yaml()
    assert "type: template" in text and "shot/" not in text
    again = graph.load(text, registry=counting_nodes.registry())
    assert again == g
    np.testing.assert_array_equal(again.evaluate(["after"], memory=None)["after"],
                                  g.evaluate(["after"], memory=None)["after"])
