"""The buffer pool (graph.buffers) and the memory budget of the local executor: released
outputs are reused only when nothing else holds them, and the memory cache keeps no
released result over its budget."""
import weakref

import numpy as np

import graph
from graph import buffers, local
from graph.cache import MemoryCache
from graph.plan import make_plan
from graph.spec import Input, Output, Param, node
from graph.tiers import MemoryTier, Tiers
from tests.graph import counting_nodes

POOLS: list = []


@node("pooled_gain", version=1, inputs=[Input("input", "mask")],
      outputs=[Output("output", "mask")],
      params=[Param("amount", "float", 2.0, doc="factor")])
def pooled_gain(input, *, amount):
    """Multiply into a buffer from the pool (as the library's nodes do)."""
    POOLS.append(buffers.current())
    out = buffers.empty(input.shape, np.float32)
    np.multiply(input, np.float32(amount), out=out)
    return out


def chain_graph(length=6):
    g = graph.Graph(counting_nodes.registry([pooled_gain]))
    handle = g.ramp(width=5, height=3, level=0.25)
    for index in range(length):
        handle = g.pooled_gain(handle, amount=1.0 + index)
    return g, handle.node


def test_a_released_buffer_is_reused_only_when_nothing_else_holds_it():
    with buffers.pooled(2**20) as pool:
        first = buffers.empty((3, 4), np.float32)
        kept = buffers.empty((3, 4), np.float32)
        view = kept[1:]
        released = {"output": first}
        del first
        buffers.recycle(released)                  # nothing else holds it
        del released
        buffers.recycle({"output": kept})          # `kept` and `view` still hold it
        foreign = {"output": np.zeros((3, 4), np.float32)}
        buffers.recycle(foreign)                   # not handed out by the pool
        again = buffers.empty((3, 4), np.float32)
        fresh = buffers.empty((3, 4), np.float32)
        assert pool.reused == 1
        assert again is not kept and fresh is not kept and view.base is kept
        assert np.shares_memory(again, fresh) is False
    assert buffers.current() is None


def test_a_chain_reuses_its_buffers_and_gives_the_same_result():
    g, last = chain_graph()
    POOLS.clear()
    run = g.run([last], memory=None)
    expected = np.full((3, 5), 0.25 * np.prod(np.arange(1, 7)), np.float32)
    np.testing.assert_array_equal(run.results[last], expected)
    pool = POOLS[-1]
    assert pool is not None and pool.reused >= 4  # each node after the second reuses one


def test_a_cached_result_is_not_recycled():
    g, last = chain_graph()
    memory = MemoryCache(2**20)
    POOLS.clear()
    first = g.run([last], memory=memory).results[last].copy()
    assert POOLS[-1].reused == 0                    # every result stays in the cache
    for key in list(memory._entries):
        result = memory.get(key)
        assert all(not array.flags.writeable for array in result.values())
    np.testing.assert_array_equal(g.run([last], memory=memory).results[last], first)


def test_the_memory_cache_keeps_released_results_only_within_its_budget():
    g, last = chain_graph(8)
    one = 3 * 5 * 4                                  # bytes of one result
    memory = MemoryCache(3 * one)
    local.execute(make_plan(g, [last]), Tiers([MemoryTier(memory)]))
    assert memory.nbytes <= 3 * one and len(memory) == 3
    assert memory.holds(make_plan(g, [last]).sites[(last, 1)])  # the newest are kept


def test_make_room_counts_what_the_executor_holds_outside_the_cache():
    memory = MemoryCache(100)
    for key in "abc":
        memory.put(key, {"output": np.zeros(5, np.float32)})   # 20 bytes each
    memory.make_room(50)
    assert memory.nbytes == 40 and not memory.holds("a") and memory.holds("c")


class WeakTier:
    """A tier that keeps nothing but weak references to what was put (to see buffers)."""

    name, keeps_records = "weak", False

    def __init__(self):
        self.seen = {}

    def get(self, key):
        return None

    def put(self, key, result):
        self.seen[key] = {name: weakref.ref(array) for name, array in result.items()}

    def swap_record(self, slot, record):
        return None


def test_a_fused_chain_writes_into_an_input_nothing_reads_afterwards(monkeypatch):
    text = ("maskgraph: 1\nnodes:\n"
            "  src: {type: constant, width: 7, height: 5, color: [0.2, 0.4, 0.6, 1.0]}\n"
            "  lift: {type: grade, input: src, multiply: 1.5, add: 0.01}\n"
            "  warm: {type: saturation, input: lift, amount: 1.3}\n")
    plan = make_plan(graph.load(text), ["warm"])
    weak = WeakTier()
    fused, = local.execute(plan, Tiers([weak]))
    source = weak.seen[plan.sites[("src", 1)]]["output"]()
    assert source is fused.results["warm"]             # the source's buffer, reused
    monkeypatch.setenv("MASKGRAPH_FUSION", "0")
    unfused, = local.execute(plan, Tiers([]))
    np.testing.assert_array_equal(fused.results["warm"], unfused.results["warm"])


def test_an_input_someone_still_holds_is_not_overwritten():
    text = ("maskgraph: 1\nnodes:\n"
            "  src: {type: constant, width: 7, height: 5, color: [0.2, 0.4, 0.6, 1.0]}\n"
            "  lift: {type: grade, input: src, multiply: 1.5, add: 0.01}\n"
            "  warm: {type: saturation, input: lift, amount: 1.3}\n")
    run = graph.load(text).run(["warm", "src"], memory=None)
    np.testing.assert_array_equal(run.results["src"][..., :3],
                                  np.broadcast_to([0.2, 0.4, 0.6], (5, 7, 3)).astype(np.float32))
    assert not np.shares_memory(run.results["src"], run.results["warm"])


def test_a_masked_node_blends_into_its_own_fresh_output():
    plate = photo_rgba()
    mask = np.linspace(0, 1, plate.shape[1], dtype=np.float32)[None, :].repeat(plate.shape[0], 0)
    text = ("maskgraph: 1\nnodes:\n  p: {type: input, kind: image}\n"
            "  m: {type: input, kind: mask}\n"
            "  b: {type: blur, input: p, mask: m, size: 2}\n"
            "  whole: {type: blur, input: p, size: 2}\n")
    run = graph.load(text).run(["b", "whole"], feed={"p": plate, "m": mask}, memory=None)
    edited = run.results["whole"]
    expected = plate + (edited - plate) * mask[..., None].astype(np.float64)
    np.testing.assert_allclose(run.results["b"], expected, atol=1e-6)
    np.testing.assert_array_equal(run.results["b"][:, 0], plate[:, 0])   # mask 0: original
    np.testing.assert_array_equal(run.results["b"][:, -1], edited[:, -1])  # mask 1: the edit


def photo_rgba():
    import cv2
    from skimage import data
    rgb = cv2.resize(data.coffee(), (64, 48), interpolation=cv2.INTER_AREA)
    return np.dstack([(rgb / 255.0) ** 2.2, np.ones((48, 64))]).astype(np.float32)
