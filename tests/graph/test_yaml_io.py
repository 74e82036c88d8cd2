"""YAML loading: every kind of invalid graph gives a placed, helpful message."""
import glob
import os

import pytest

import graph
from graph.errors import GraphError
from graph.model import Animated
from tests.graph import counting_nodes

INVALID = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "invalid", "*.yaml")))


def expected_parts(path):
    with open(path) as handle:
        first = handle.readline()
    assert first.startswith("# expect: ")
    return [part.strip() for part in first[len("# expect: "):].split(" | ")]


@pytest.mark.parametrize("path", INVALID, ids=[os.path.basename(p) for p in INVALID])
def test_invalid_graph_fixture_gives_its_message(path):
    with pytest.raises(GraphError) as caught:
        graph.load(path, registry=counting_nodes.registry())
    message = str(caught.value)
    for part in expected_parts(path):
        assert part in message, f"{part!r} not in:\n{message}"
    assert os.path.basename(path) in message  # the file is named


def load(text, **kwargs):
    return graph.load(text, registry=counting_nodes.registry(), **kwargs)


def test_every_problem_is_reported_at_once():
    with pytest.raises(GraphError) as caught:
        load("maskgraph: 1\nnodes:\n  a: {type: ramp, level: 2}\n  b: {type: gain, input: zz}\n"
             "  c: {type: nope}\n")
    assert len(caught.value.problems) == 3


def test_billion_laughs_is_refused_quickly():
    lines = ["maskgraph: 1", "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"lol{level}: &a{level} [{refs}]")
    lines.append("nodes: {x: {type: ramp}}")
    # 10^10 items if expanded: the refusal comes from counting the aliases, not expanding
    with pytest.raises(GraphError, match="aliases expand to more than"):
        load("\n".join(lines) + "\n")


def test_params_short_and_long_form_substitution_and_overrides():
    text = """
maskgraph: 1
params:
  level: 0.25
  amount: {default: 3.0, type: float, min: 0, max: 10, doc: "the gain"}
nodes:
  src: {type: ramp, level: $level}
  boost: {type: gain, input: src, amount: $amount}
"""
    g = load(text)
    assert g.nodes["src"].values["level"] == 0.25
    assert g.nodes["boost"].values["amount"] == 3.0
    g = load(text, params={"amount": 5})
    assert g.nodes["boost"].values["amount"] == 5.0
    with pytest.raises(GraphError, match="expected a number <= 10"):
        load(text, params={"amount": 50})
    with pytest.raises(GraphError, match="expected a float"):
        load(text, params={"amount": "x"})
    with pytest.raises(GraphError, match="did you mean 'amount'"):
        load(text, params={"amont": 1})


def test_animated_value_is_parsed_and_validated():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp, level: {keys: {1: 0, 11: 1}, "
             "interp: smooth}}\n")
    value = g.nodes["src"].values["level"]
    assert isinstance(value, Animated) and value.interp == "smooth"
    assert value.keys == ((1, 0.0), (11, 1.0))
    with pytest.raises(GraphError, match="interp linear, smooth or step"):
        load("maskgraph: 1\nnodes:\n  src: {type: ramp, level: {keys: {1: 0}, interp: cubic}}\n")


def test_path_params_resolve_against_the_graph_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "g.yaml"
    path.write_text("maskgraph: 1\nnodes:\n  p: {type: paint}\n"
                    "  w: {type: write, input: p, path: out/x.png}\n")
    g = graph.load(str(path), registry=counting_nodes.registry())
    assert g.nodes["w"].values["path"] == str(tmp_path / "sub" / "out" / "x.png")


def test_set_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "g.yaml"
    path.write_text("maskgraph: 1\nparams:\n  target: out/x.png\nnodes:\n  p: {type: paint}\n"
                    "  w: {type: write, input: p, path: $target}\n")
    monkeypatch.chdir(tmp_path)
    g = graph.load(str(path), params={"target": "here.png"}, registry=counting_nodes.registry())
    assert g.nodes["w"].values["path"] == str(tmp_path / "here.png")
    g = graph.load(str(path), registry=counting_nodes.registry())
    assert g.nodes["w"].values["path"] == str(tmp_path / "sub" / "out" / "x.png")


def test_builder_and_yaml_round_trip():
    g = graph.Graph(counting_nodes.registry())
    src = g.ramp(level=0.3, name="src")
    pic = g.paint(color="#808080")
    parts = g.split(pic)
    g.gain(src, amount={"keys": {1: 1.0, 5: 2.0}, "interp": "linear"}, name="anim")
    g.combine([src, parts.alpha], name="both")
    g.gain(parts.alpha, disable=True, name="off")
    text = g.to_yaml()
    again = load(text)
    assert again == g
    assert again.to_yaml() == text


def test_builder_rejects_bad_values_immediately():
    g = graph.Graph(counting_nodes.registry())
    with pytest.raises(GraphError, match="expected a number <= 1"):
        g.ramp(level=3)
    with pytest.raises(AttributeError, match="did you mean 'ramp'"):
        g.rampp()


def test_disable_needs_an_input_to_pass_through():
    with pytest.raises(GraphError, match="cannot be disabled"):
        load("maskgraph: 1\nnodes:\n  src: {type: ramp, disable: true}\n")
