"""A loaded Graph and a Plan pickle and unpickle to objects that give the same pixels
(specs travel by id, never as code)."""
import os
import pickle
import subprocess
import sys

import numpy as np

import graph
from graph import local
from graph.plan import make_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "graphs_examples", "mask_pipeline.yaml")


def small(text_graph):
    """The example with its outputs requested directly (nothing written)."""
    return [name for name, node in text_graph.nodes.items()
            if not text_graph.registry.get(node.type).sink]


def test_a_loaded_graph_pickles_and_evaluates_to_the_same_pixels():
    g = graph.load(EXAMPLE)
    names = small(g)
    before = g.evaluate(names, memory=None)
    again = pickle.loads(pickle.dumps(g))
    assert again == g and again.registry.get("read") is g.registry.get("read")
    after = again.evaluate(names, memory=None)
    for name in names:
        np.testing.assert_array_equal(after[name], before[name])


def test_a_plan_pickles_and_runs_in_another_process(tmp_path):
    g = graph.load(EXAMPLE)
    names = small(g)
    plan = make_plan(g, names, [1])
    expected, = local.execute(plan)
    (tmp_path / "plan.pickle").write_bytes(pickle.dumps(plan))
    script = ("import pickle, sys, numpy as np\n"
              "from graph import local\n"
              f"plan = pickle.load(open({str(tmp_path / 'plan.pickle')!r}, 'rb'))\n"
              "run, = local.execute(plan)\n"
              f"np.savez({str(tmp_path / 'out.npz')!r}, **run.results)\n")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)
    found = np.load(tmp_path / "out.npz")
    for name in names:
        np.testing.assert_array_equal(found[name], expected.results[name])
