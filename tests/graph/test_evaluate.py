"""The evaluator: laziness, caching (memory and disk), stencil, disable, feed, failures."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import graph
from graph.cache import DiskCache, MemoryCache
from graph.errors import NodeFailure
from tests.graph import counting_nodes
from tests.graph.counting_nodes import CALLS

TWO_BRANCHES = """
maskgraph: 1
params:
  amount: 2.0
nodes:
  left: {type: ramp, level: 0.25}
  right: {type: ramp, level: 0.5}
  boosted: {type: gain, input: left, amount: $amount}
  other: {type: gain, input: right, amount: 3}
  both: {type: combine, inputs: [boosted, other]}
"""


def load(text, **kwargs):
    return graph.load(text, registry=counting_nodes.registry(), **kwargs)


@pytest.fixture(autouse=True)
def fresh_counts():
    CALLS.clear()


def test_only_ancestors_of_requested_outputs_are_computed():
    g = load(TWO_BRANCHES)
    result = g.evaluate(outputs=["boosted"], memory=None)
    assert result["boosted"][0, 0] == pytest.approx(0.5)
    assert CALLS == {"ramp": 1, "gain": 1}


def test_param_change_recomputes_exactly_the_downstream_nodes():
    memory = MemoryCache(2**30)
    run = load(TWO_BRANCHES).run(["both"], memory=memory)
    assert {s["status"] for s in run.stats} == {"computed"}
    CALLS.clear()
    run = load(TWO_BRANCHES, params={"amount": 4.0}).run(["both"], memory=memory)
    status = {s["name"]: s["status"] for s in run.stats}
    assert status["boosted"] == "computed" and status["both"] == "computed"
    assert status["left"] == "memory" and status["other"] == "memory"
    assert "right" not in status  # not reached: its consumer was a cache hit
    assert CALLS == {"gain": 1, "combine": 1}


def test_results_are_read_only():
    result = load(TWO_BRANCHES).evaluate(["both"], memory=MemoryCache(2**30))
    with pytest.raises(ValueError):
        result["both"][0, 0] = 1


def test_disk_cache_is_reused_by_a_second_process(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(TWO_BRANCHES)
    script = (
        "import json, graph, sys\n"
        "from tests.graph import counting_nodes\n"
        f"g = graph.load({str(path)!r}, registry=counting_nodes.registry())\n"
        f"run = g.run(['both'], cache_dir={str(tmp_path / 'cache')!r}, memory=None)\n"
        "print(run.stats_json())\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))

    def run_process():
        output = subprocess.run([sys.executable, "-c", script], cwd=root, check=True,
                                capture_output=True, text=True).stdout
        return {s["name"]: s["status"] for s in json.loads(output)["nodes"]}
    assert set(run_process().values()) == {"computed"}
    assert run_process() == {"both": "disk"}


def test_corrupted_disk_entry_is_recomputed_not_trusted(tmp_path):
    g = load(TWO_BRANCHES)
    first = g.evaluate(["both"], cache_dir=str(tmp_path), memory=None)["both"].copy()
    disk = DiskCache(str(tmp_path))
    key = [e for e in disk.entries()]
    assert len(key) == 5
    for entry in key:  # flip one payload byte in every entry
        data = bytearray(open(entry.path, "rb").read())
        data[-1] ^= 0xFF
        open(entry.path, "wb").write(bytes(data))
    CALLS.clear()
    run = g.run(["both"], cache_dir=str(tmp_path), memory=None)
    assert {s["status"] for s in run.stats} == {"computed"}
    np.testing.assert_array_equal(run.results["both"], first)


def test_truncated_disk_entry_is_recomputed(tmp_path):
    g = load(TWO_BRANCHES)
    g.evaluate(["boosted"], cache_dir=str(tmp_path), memory=None)
    for entry in DiskCache(str(tmp_path)).entries():
        data = open(entry.path, "rb").read()
        open(entry.path, "wb").write(data[:-7])
    run = g.run(["boosted"], cache_dir=str(tmp_path), memory=None)
    assert [s["status"] for s in run.stats] == ["computed", "computed"]


def test_disk_cache_respects_its_size_limit(tmp_path):
    disk = DiskCache(str(tmp_path), limit=3000)
    for index in range(5):
        disk.put(f"{index:064x}", {"output": np.full((20, 20), index, np.float32)})
    assert disk.info()["bytes"] <= 3000
    assert disk.get(f"{4:064x}") is not None


def test_stencil_is_bit_exact_outside_the_mask_and_mix_applies():
    g = graph.Graph(counting_nodes.registry())
    pic = g.paint(width=8, height=6, name="pic")
    stencil = g.ramp(width=8, height=6, level=0.0, name="zero")
    g.gain(pic, amount=1.7, mask=stencil, name="masked")
    g.gain(pic, amount=3.0, mix=0.5, name="half")
    result = g.evaluate(["pic", "masked", "half"], memory=None)
    np.testing.assert_array_equal(result["masked"], result["pic"])
    expected = result["pic"] + (result["pic"] * 3 - result["pic"]) * 0.5
    np.testing.assert_allclose(result["half"], expected, rtol=1e-6)


def test_mix_zero_and_disable_pass_the_input_through_without_computing():
    g = graph.Graph(counting_nodes.registry())
    src = g.ramp(name="src")
    g.gain(src, mix=0.0, name="nothing")
    g.gain(src, disable=True, name="off")
    run = g.run(["nothing", "off", "src"], memory=None)
    assert CALLS == {"ramp": 1}
    assert {s["name"]: s["status"] for s in run.stats}["off"] == "passthrough"
    assert run.results["off"] is run.results["src"]
    assert run.results["nothing"] is run.results["src"]


def test_feed_supplies_a_node_result():
    g = load(TWO_BRANCHES)
    result = g.evaluate(["boosted"], feed={"left": np.ones((3, 4), np.float32)}, memory=None)
    np.testing.assert_array_equal(result["boosted"], np.full((3, 4), 2.0, np.float32))
    assert CALLS == {"gain": 1}


def test_animated_params_are_evaluated_per_frame():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp, level: {keys: {1: 0, 11: 1}}}\n")
    memory = MemoryCache(2**30)
    values = [g.evaluate(["src"], frame=frame, memory=memory)["src"][0, 0] for frame in (1, 6, 11, 20)]
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0, 1.0])


def test_unanimated_nodes_are_computed_once_per_sequence():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  g: {type: gain, input: src, amount: {keys: {1: 1, 3: 3}}}\n")
    memory = MemoryCache(2**30)
    for frame in (1, 2, 3):
        g.evaluate(["g"], frame=frame, memory=memory)
    assert CALLS == {"ramp": 1, "gain": 3}


def test_multiple_outputs_are_addressable():
    g = load("maskgraph: 1\nnodes:\n  pic: {type: paint, color: [1, 1, 1, 0.5]}\n"
             "  parts: {type: split, input: pic}\n  g: {type: gain, input: parts.alpha}\n")
    result = g.evaluate(["g", "parts.alpha", "parts"], memory=None)
    assert result["g"].shape == (6, 8) and result["g"][0, 0] == pytest.approx(1.0)
    assert result["parts"].shape == (6, 8, 4)


def test_a_failing_node_is_reported_with_name_type_and_input_shapes():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp, width: 5, height: 4}\n"
             "  bad: {type: explode, input: src}\n")
    with pytest.raises(NodeFailure) as caught:
        g.evaluate(["bad"], memory=None)
    message = str(caught.value)
    assert "node 'bad' (explode) failed: ZeroDivisionError: boom" in message
    assert "input = 'src' (5x4)" in message and ":4:3:" in message


def test_stencil_size_mismatch_names_both_sizes():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp, width: 5, height: 4}\n"
             "  m: {type: ramp, width: 6, height: 4}\n  g: {type: gain, input: src, mask: m}\n")
    with pytest.raises(NodeFailure, match=r"the mask is 6x4 but the picture is 5x4"):
        g.evaluate(["g"], memory=None)


def test_hundred_node_chain_evaluates():
    g = graph.Graph(counting_nodes.registry())
    node = g.ramp(width=4, height=4, level=0.001)
    for _ in range(99):
        node = g.gain(node, amount=1.01)
    result = g.evaluate([node.node], memory=None)[node.node]
    assert result[0, 0] == pytest.approx(0.001 * 1.01 ** 99, rel=1e-4)
