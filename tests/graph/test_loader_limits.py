"""The loader's shape checks and limits: every finding of the fuzzer, as a fixture of its
own, raises GraphError (never another exception); --set and Python params get the same
limits; a big real graph is not called an alias bomb."""

import pytest

import graph
from graph.cli import main
from graph.errors import GraphError

HEAD = "maskgraph: 1\n"
NODE = "nodes:\n  c: {type: constant, width: 4, height: 4}\n"

FINDINGS = {
    "params a scalar": HEAD + "params: l\n" + NODE,
    "params a list": HEAD + "params: [1, 2]\n" + NODE,
    "max of the wrong kind": HEAD + "params:\n  p: {default: 3, max: k}\n" + NODE,
    "choices not a list": HEAD + "params:\n  p: {default: 0, choices: 5}\n" + NODE,
    "type not a name": HEAD + "params:\n  p: {default: 0, type: [1]}\n" + NODE,
    "type unknown": HEAD + "params:\n  p: {default: 0, type: nope}\n" + NODE,
    "min above max": HEAD + "params:\n  p: {default: 0, min: 3, max: 1}\n" + NODE,
    "float tag on text": HEAD + "params:\n  p: !!float e\n" + NODE,
    "int tag on text": HEAD + "params:\n  p: !!int s\n" + NODE,
    "bool tag on empty": HEAD + "params:\n  p: !!bool\n" + NODE,
    "timestamp tag": HEAD + "params:\n  p: !!timestamp ''\n" + NODE,
    "binary key": HEAD + "nodes:\n  !!binary aGk=: {type: constant, width: 4, height: 4}\n",
    "set tag": HEAD + "params: !!set {a}\n" + NODE,
    "python tag": HEAD + "params:\n  p: !!python/object:os.system x\n" + NODE,
    "huge integer": HEAD + "params:\n  p: " + "9" * 400 + "\n" + NODE,
    "huge float": HEAD + "params:\n  p: 1.0e+400\n" + NODE,
    "nan param": HEAD + "params:\n  p: .nan\n" + NODE,
    "self alias": HEAD + "params:\n  k: &a {x: *a}\n" + NODE,
    "self alias in a list": HEAD + "params:\n  k: &a [1, *a]\n" + NODE,
    "deep nesting": HEAD + "params:\n  p: " + "[" * 400 + "]" * 400 + "\n" + NODE,
    "deep block nesting": HEAD + "params:\n  p: " + "- " * 400 + "x\n" + NODE,
    "integer node name": HEAD + "nodes: {0: {type: constant, width: 4, height: 4}}\n",
    "integer param key": HEAD + "nodes:\n  c: {type: constant, 5: 1, width: 4, height: 4}\n",
    "nodes a list": HEAD + "nodes: [a, b]\n",
    "nodes a number": HEAD + "nodes: 3\n",
    "infinite key frame": HEAD + "nodes:\n  c: {type: constant, width: {keys: {.inf: 4}}, "
                                 "height: 4}\n",
    "interp a list": HEAD + "nodes:\n  c: {type: constant, width: {keys: {1: 4}, interp: []},"
                            " height: 4}\n",
    "outputs a number": HEAD + NODE + "outputs: 0\n",
    "outputs integer keys": HEAD + NODE + "outputs: {1: c}\n",
    "template inputs a scalar": HEAD + "inputs: .\n" + NODE,
    "document a list": "- maskgraph\n- 1\n",
    "document a number": "3\n",
    "top-level integer key": HEAD + NODE + "5: x\n",
    "merge key": HEAD + "base: &b {type: constant}\nnodes:\n  c: {<<: *b, width: 4}\n",
}


@pytest.mark.parametrize("name", FINDINGS, ids=list(FINDINGS))
def test_fuzzer_finding_is_a_graph_error(tmp_path, name):
    path = tmp_path / "g.yaml"
    path.write_text(FINDINGS[name])
    with pytest.raises(GraphError) as error:
        graph.load(str(path))
    assert "g.yaml" in str(error.value)


def test_template_inputs_as_a_plain_list_work(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "maskgraph: 1\ninputs: [source]\nnodes:\n  g: {type: grade, input: source}\n"
        "outputs: {result: g}\n")
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  c: {type: constant, width: 4, height: 4}\n"
        "  t: {type: template, file: t.yaml, source: c}\n"
        "  w: {type: write, input: t, path: out.png}\n")
    assert "t/g" in graph.load(str(tmp_path / "g.yaml")).nodes


def test_template_file_that_is_an_image(tmp_path):
    (tmp_path / "t.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(50))
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  t: {type: template, file: t.yaml}\n")
    with pytest.raises(GraphError, match="binary file"):
        graph.load(str(tmp_path / "g.yaml"))


BOMB = "[" + ", ".join(["&a0 [x, x, x, x, x, x, x, x, x, x]"] + [
    f"&a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]" for level in range(1, 9)]) + "]"


def test_alias_bomb_through_set_is_refused_quickly(tmp_path, capsys):
    (tmp_path / "g.yaml").write_text("maskgraph: 1\nparams:\n  high: [1]\n" + NODE)
    assert main(["validate", str(tmp_path / "g.yaml"), "--set", f"high={BOMB}"]) == 2
    err = capsys.readouterr().err
    assert "aliases expand" in err and len(err) < 2000


def test_alias_bomb_through_python_params_is_refused(tmp_path):
    (tmp_path / "g.yaml").write_text("maskgraph: 1\nparams:\n  high: [1]\n" + NODE)
    value = ["x"] * 10
    for _ in range(8):
        value = [value] * 10
    with pytest.raises(GraphError, match="more than"):
        graph.load(str(tmp_path / "g.yaml"), params={"high": value})
    looped = [1]
    looped.append(looped)
    with pytest.raises(GraphError, match="nested more than"):
        graph.load(str(tmp_path / "g.yaml"), params={"high": looped})
    with pytest.raises(GraphError, match="not a finite number"):
        graph.load(str(tmp_path / "g.yaml"), params={"high": [float("nan")]})


def test_a_big_real_graph_is_not_called_a_bomb(tmp_path):
    lines = ["maskgraph: 1", "nodes:", "  c0: {type: constant, width: 2, height: 2}"]
    lines += [f"  c{i}: {{type: invert, input: c{i - 1}}}" for i in range(1, 20_000)]
    (tmp_path / "g.yaml").write_text("\n".join(lines) + "\n")
    try:
        loaded = graph.load(str(tmp_path / "g.yaml"))
    except GraphError as error:  # invert may take masks only: any other problem is fine
        assert "aliases" not in str(error)
    else:
        assert len(loaded.nodes) == 20_000


@pytest.mark.parametrize("name", ["g.txt", "G.YAML", "graph"])
def test_any_extension_or_case_loads(tmp_path, name):
    (tmp_path / name).write_text(HEAD + NODE)
    assert list(graph.load(str(tmp_path / name)).nodes) == ["c"]


@pytest.mark.parametrize("content,message", [
    (None, "folder"), (b"", "empty"), (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    (b"maskgraph: 1\nnodes: {c: {type: constant, color: '\xff'}}\n", "not UTF-8"),
    (b"just a sentence\n", "a graph file is a mapping"), ("missing", "No such file")])
def test_bad_graph_paths_exit_2_with_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "g.yaml"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_two_writes_to_one_path_are_refused_naming_both(tmp_path):
    (tmp_path / "g.yaml").write_text(
        HEAD + NODE + "  a: {type: write, input: c, path: out/x.png}\n"
                      "  b: {type: write, input: c, path: out/../out/x.png}\n")
    with pytest.raises(GraphError, match="as node 'a' does") as error:
        graph.load(str(tmp_path / "g.yaml"))
    assert "node 'b'" in str(error.value)


def test_a_write_onto_its_own_input_is_refused(tmp_path):
    import cv2
    import numpy as np
    cv2.imwrite(str(tmp_path / "plate.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "link.png").symlink_to(tmp_path / "plate.png")
    (tmp_path / "g.yaml").write_text(
        HEAD + "nodes:\n  p: {type: read, path: plate.png}\n  g: {type: grade, input: p}\n"
               "  w: {type: write, input: g, path: link.png}\n")
    with pytest.raises(GraphError, match="which node 'p' reads"):
        graph.load(str(tmp_path / "g.yaml"))
