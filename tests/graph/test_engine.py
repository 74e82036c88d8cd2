"""Engine v2: plans of (node, frame) tasks, the local executor, time edges, the cache
protocol. Counting nodes prove what runs how often."""
import os
import weakref

import numpy as np
import pytest

import graph
from graph import local
from graph.cache import MemoryCache
from graph.plan import make_plan
from graph.spec import Input, Output, node
from graph.task import run_task
from graph.tiers import MemoryTier, Tiers
from nodes import time as time_nodes
from tests.graph import counting_nodes
from tests.graph.counting_nodes import CALLS

ALIVE: list = []


@node("track", version=1, inputs=[Input("input", "mask")], outputs=[Output("output", "mask")])
def track(input):
    """Adds one; records how many earlier outputs of `track` are still alive."""
    CALLS["alive"] = max(CALLS["alive"], sum(ref() is not None for ref in ALIVE))
    out = input + np.float32(1)
    ALIVE.append(weakref.ref(out))
    return out


def registry():
    return counting_nodes.registry(graph.spec.specs_in(time_nodes) + [track])


def load(text):
    return graph.load(text, registry=registry())


@pytest.fixture(autouse=True)
def fresh_counts():
    CALLS.clear()
    ALIVE.clear()


ANIMATED = """maskgraph: 1
nodes:
  src: {type: ramp, level: {keys: {1: 0.0, 11: 1.0}}}
  boost: {type: gain, input: src, amount: 1.0}
"""


def values(runs, label):
    return [float(run.results[label][0, 0]) for run in runs]


def test_planning_does_no_pixel_work_and_a_static_subgraph_is_one_task():
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n"
             "  g: {type: gain, input: src, amount: {keys: {1: 1, 5: 5}}}\n")
    plan = make_plan(g, ["g"], range(1, 6))
    assert CALLS == {}
    assert len({plan.sites[("src", f)] for f in range(1, 6)}) == 1
    assert len({plan.sites[("g", f)] for f in range(1, 6)}) == 5
    runs = local.execute(plan)
    assert CALLS == {"ramp": 1, "gain": 5}
    np.testing.assert_allclose(values(runs, "g"), [0.5, 1.0, 1.5, 2.0, 2.5])


def test_frame_hold_computes_its_upstream_once_over_a_range():
    g = load(ANIMATED + "  hold: {type: frame_hold, input: boost, frame: 3}\n")
    runs = local.execute(make_plan(g, ["hold"], range(1, 9)))
    assert CALLS == {"ramp": 1, "gain": 1}
    np.testing.assert_allclose(values(runs, "hold"), [0.2] * 8)


def test_time_offset_reads_the_input_at_frame_minus_offset():
    g = load(ANIMATED + "  late: {type: time_offset, input: boost, offset: 2}\n"
                        "  early: {type: time_offset, input: boost, offset: -3}\n")
    plan = make_plan(g, ["late", "early", "boost"], range(3, 7))
    runs = local.execute(plan)
    np.testing.assert_allclose(values(runs, "late"), [0.0, 0.1, 0.2, 0.3], atol=1e-6)
    np.testing.assert_allclose(values(runs, "early"), [0.5, 0.6, 0.7, 0.8], atol=1e-6)
    assert plan.deps[("late", 5)] == (("boost", 3),)
    # each frame of the source is computed once although three nodes read it
    assert CALLS["ramp"] == len({3, 4, 5, 6} | {1, 2} | {7, 8, 9})
    record = plan.task(("late", 5)).record
    assert '"frames_read":{"input":3}' in record


def test_time_nodes_render_from_yaml_with_the_default_library(tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / "p.png"), np.full((2, 3, 3), 80, np.uint8))
    g = graph.load(f"maskgraph: 1\nnodes:\n  p: {{type: read, path: {tmp_path}/p.png}}\n"
                   "  h: {type: frame_hold, input: p, frame: 7}\n"
                   "  t: {type: time_offset, input: h, offset: 1}\n")
    runs = local.execute(make_plan(g, ["t", "p"], [1, 2]))
    np.testing.assert_array_equal(runs[1].results["t"], runs[0].results["p"])


def test_intermediates_are_freed_after_their_last_consumer():
    g = graph.Graph(registry())
    handle = g.ramp(width=4, height=4)
    for _ in range(12):
        handle = g.track(handle)
    g.run([handle.node], memory=None)
    assert CALLS["alive"] <= 2  # its input (and nothing older) is alive while a node runs


def test_a_lazy_input_is_read_one_frame_at_a_time():
    """A node that reads 40 frames of its input through a lazy port holds one of them at a
    time (the same node with an ordinary port is handed all 40 at once)."""
    for kind, most in (("walk", 2), ("walk_eager", 40)):
        CALLS.clear()
        counting_nodes.LIVE.clear()
        g = load(f"maskgraph: 1\nnodes:\n  src: {{type: frame_value}}\n"
                 f"  w: {{type: {kind}, input: src}}\n")
        result = g.evaluate(["w"], frame=40, memory=None)["w"]
        assert result[0, 0] == pytest.approx(sum(range(1, 41)) / 1000)
        assert CALLS["frame_value"] == 40  # each frame evaluated once
        assert CALLS["most_alive"] == most if kind == "walk_eager" else CALLS["most_alive"] <= most


def test_a_lazy_input_goes_through_the_caches_and_keeps_the_frames_live_set(tmp_path):
    """Over a range, lazily read frames come from the memory cache when it holds them; a
    frame that another node of the same frame also reads is computed once."""
    text = ("maskgraph: 1\nnodes:\n  src: {type: frame_value}\n"
            "  w: {type: walk, input: src}\n  g: {type: gain, input: src, amount: 1.0}\n")
    runs = local.execute(make_plan(load(text), ["w", "g"], range(1, 6)),
                         Tiers([MemoryTier(MemoryCache(2**30))]))
    np.testing.assert_allclose(values(runs, "w"), [sum(range(1, f + 1)) / 1000
                                                   for f in range(1, 6)])
    np.testing.assert_allclose(values(runs, "g"), [1, 2, 3, 4, 5])
    assert CALLS["frame_value"] == 5


def test_a_retried_task_is_harmless(tmp_path):
    g = load(ANIMATED + f"  out: {{type: write, input: boost, path: {tmp_path}/o.####.png}}\n")
    plan = make_plan(g, ["out"], [4])
    local.execute(plan)
    first = (tmp_path / "o.0004.png").read_bytes()
    results = {}
    for site in (("src", 4), ("boost", 4), ("out", 4), ("out", 4)):  # the sink runs twice
        task = plan.task(site)
        results[task.key] = run_task(plan, task, results)
    assert (tmp_path / "o.0004.png").read_bytes() == first
    assert sorted(os.listdir(tmp_path)) == ["o.0004.png"]  # no temporary file left
    assert CALLS == {"ramp": 2, "gain": 2}


class DictTier:
    """A complete cache backend in a dozen lines: the protocol is all an executor needs."""

    name = "dict"
    keeps_records = True

    def __init__(self):
        self.entries, self.records = {}, {}

    def get(self, key):
        return self.entries.get(key)

    def put(self, key, result):
        self.entries[key] = result

    def swap_record(self, slot, record):
        previous, self.records[slot] = self.records.get(slot), record
        return previous


def test_a_test_cache_backend_is_all_an_executor_needs():
    tier = DictTier()
    text = "maskgraph: 1\nnodes:\n  src: {type: ramp}\n  g: {type: gain, input: src, amount: $a}\n"
    text = text.replace("maskgraph: 1\n", "maskgraph: 1\nparams:\n  a: 2.0\n")
    first, = local.execute(make_plan(load(text), ["g"]), Tiers([tier]))
    assert [s["status"] for s in first.stats] == ["computed", "computed"]
    assert first.stats[0]["reason"]["kind"] == "new"
    again, = local.execute(make_plan(load(text), ["g"]), Tiers([tier]))
    assert [s["status"] for s in again.stats] == ["dict"]
    changed = graph.load(text, registry=registry(), params={"a": 3.0})
    third, = local.execute(make_plan(changed, ["g"]), Tiers([tier]))
    assert {s["name"]: s["status"] for s in third.stats} == {"g": "computed", "src": "dict"}
    assert third.stats[-1]["reason"] == {"kind": "param", "detail": "amount: 2.0 -> 3.0"}


def test_tiers_promote_a_slow_hit_into_the_fast_tier():
    slow, memory = DictTier(), MemoryCache(2**20)
    g = load("maskgraph: 1\nnodes:\n  src: {type: ramp}\n")
    local.execute(make_plan(g, ["src"]), Tiers([slow]))
    run, = local.execute(make_plan(g, ["src"]), Tiers([MemoryTier(memory), slow]))
    assert run.stats[0]["status"] == "dict" and len(memory) == 1
    run, = local.execute(make_plan(g, ["src"]), Tiers([MemoryTier(memory), slow]))
    assert run.stats[0]["status"] == "memory"


def test_render_calls_on_frame_once_per_frame_in_order(tmp_path):
    g = load(ANIMATED + f"  out: {{type: write, input: boost, path: {tmp_path}/o.####.png}}\n")
    seen = []
    render = g.render(range(1, 4), on_frame=lambda run: seen.append(run.frame), memory=None)
    assert seen == [1, 2, 3]
    assert sorted(os.listdir(tmp_path)) == ["o.0001.png", "o.0002.png", "o.0003.png"]
    assert [s["frame"] for s in render.stats if s["name"] == "out"] == [1, 2, 3]


def test_task_keys_are_the_hash_of_their_canonical_parts():
    from graph.cache import canonical, make_key
    import json
    g = load(ANIMATED + "  late: {type: time_offset, input: boost, offset: 1}\n"
                        "  muted: {type: gain, input: late, mix: 0}\n")
    plan = make_plan(g, ["muted", "late"], [2, 3])
    # src and boost at frames 1, 2 (late reads frame - 1), late and muted at 2, 3
    assert len(plan.tasks) == 8 and plan.task(("muted", 3)).kind == "pass"
    for task in plan.tasks.values():
        parts = json.loads(task.record)
        assert make_key(parts) == task.key
        assert json.dumps(canonical(parts), sort_keys=True, separators=(",", ":")) == task.record


def test_a_range_render_caches_in_memory_only_what_several_frames_share(tmp_path):
    g = load("maskgraph: 1\nnodes:\n  still: {type: ramp, level: 0.5}\n"
             "  src: {type: ramp, level: {keys: {1: 0.0, 11: 1.0}}}\n"
             "  both: {type: gain, input: src, amount: 1.0}\n"
             f"  out: {{type: write, input: both, path: {tmp_path}/o.####.png}}\n"
             f"  out2: {{type: write, input: still, path: {tmp_path}/s.####.png}}\n")
    memory = MemoryCache(2**30)
    g.render(range(1, 4), memory=memory)
    plan = make_plan(g, None, range(1, 4))
    shared = plan.shared_keys()
    held = {key for key in plan.tasks if memory.get(key) is not None}
    assert held and held <= set(shared)
    assert memory.get(plan.sites[("both", 2)]) is None
    # a one-frame render caches as before
    g.render([5], memory=memory)
    assert memory.get(make_plan(g, None, [5]).sites[("both", 5)]) is not None
