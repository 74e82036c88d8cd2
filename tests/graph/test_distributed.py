"""Rendering on a real `distributed` cluster (a LocalCluster of worker processes, one
per module): identical files to a local render, a worker killed mid-render, one placed
failure, stats with the worker, the CLI flags and their bad input."""
import json
import os

import numpy as np
import pytest

import graph
from graph.cli import main
from graph.errors import NodeFailure
from tests.graph import counting_nodes

distributed = pytest.importorskip("distributed", reason="the `dask` extra is not installed")

ANIMATED = """maskgraph: 1
nodes:
  pic: {{type: paint, width: 6, height: 4, color: [0.2, 0.4, 0.6, 1.0]}}
  still: {{type: gain, input: pic, amount: 1.5}}
  moving: {{type: gain, input: still, amount: {{keys: {{1: 0.5, 6: 2.0}}}}}}
{extra}  out: {{type: write, input: {last}, path: {folder}/f.####.png, depth: '16'}}
"""


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


def load(folder, extra="", last="moving"):
    text = ANIMATED.format(folder=folder, extra=extra, last=last)
    return graph.load(text, registry=counting_nodes.registry())


def files(folder) -> dict:
    return {name: open(os.path.join(folder, name), "rb").read()
            for name in sorted(os.listdir(folder))}


def test_cluster_render_writes_the_same_files_as_a_local_render(client, tmp_path):
    load(tmp_path / "local").render(range(1, 7), memory=None)
    finished = []
    render = load(tmp_path / "dask").render(range(1, 7), client=client,
                                            on_frame=lambda run: finished.append(run.frame))
    assert sorted(finished) == [1, 2, 3, 4, 5, 6]
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    assert len(files(tmp_path / "dask")) == 6
    workers = set(client.scheduler_info()["workers"])
    assert {stat["worker"] for stat in render.stats} <= workers
    assert sorted({stat["frame"] for stat in render.stats}) == [1, 2, 3, 4, 5, 6]


def test_a_lazy_input_renders_on_the_cluster_as_locally(client, tmp_path):
    """A node reading many frames through a lazy port (as propagate reads its plate):
    each worker evaluates the frames it asks for; the files equal a local render's."""
    def load_walk(folder):
        return graph.load(f"maskgraph: 1\nnodes:\n  src: {{type: frame_value}}\n"
                          f"  w: {{type: walk, input: src}}\n"
                          f"  out: {{type: write, input: w, path: {folder}/w.####.png, "
                          f"depth: '16'}}\n", registry=counting_nodes.registry())
    load_walk(tmp_path / "local").render(range(1, 9), memory=None)
    load_walk(tmp_path / "dask").render(range(1, 9), client=client)
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    assert len(files(tmp_path / "dask")) == 8


def test_a_worker_killed_mid_render_costs_only_time(client, tmp_path):
    marker = tmp_path / "died"
    extra = f"  fragile: {{type: die_once, input: moving, marker: {marker}}}\n"
    marker.touch()  # the local reference render must not kill this process
    load(tmp_path / "local", extra, "fragile").render(range(1, 5), memory=None)
    marker.unlink()
    load(tmp_path / "dask", extra, "fragile").render(range(1, 5), client=client)
    assert marker.exists()  # a worker did die
    assert files(tmp_path / "dask") == files(tmp_path / "local")


def test_a_node_failure_fails_the_render_once_with_the_placed_message(client, tmp_path):
    g = graph.load("maskgraph: 1\nnodes:\n  m: {type: ramp}\n  bad: {type: explode, input: m}\n"
                   f"  out: {{type: write, input: bad, path: {tmp_path}/x.####.png}}\n",
                   registry=counting_nodes.registry())
    with pytest.raises(NodeFailure) as caught:
        g.render(range(1, 4), client=client)
    message = str(caught.value)
    assert "node 'bad' (explode) failed: ZeroDivisionError: boom" in message
    assert "<string>:4:3: " in message and "on Dask worker tcp://" in message
    assert not list(tmp_path.iterdir())


CLI_GRAPH = """maskgraph: 1
nodes:
  c: {type: constant, width: 4, height: 2, color: {keys: {1: [0, 0, 0], 4: [1, 0.5, 0.25]}}}
  w: {type: write, input: c, path: out/c.####.png}
"""


def test_cli_renders_on_a_scheduler_with_worker_stats(client, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text(CLI_GRAPH)
    code = main(["run", "g.yaml", "--frames", "1-4", "--scheduler", client.scheduler.address,
                 "--stats", "json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(s["frame"] for s in report["nodes"] if s["name"] == "w") == [1, 2, 3, 4]
    assert all(s["worker"].startswith("tcp://") for s in report["nodes"])
    assert sorted(os.listdir(tmp_path / "out")) == [f"c.000{i}.png" for i in range(1, 5)]


def test_cli_read_path_a_worker_cannot_see_names_the_worker(client, tmp_path, monkeypatch,
                                                           capsys):
    import cv2
    monkeypatch.chdir(tmp_path)
    cv2.imwrite("p.0001.png", np.full((2, 3, 3), 50, np.uint8))  # frame 2 is missing
    (tmp_path / "g.yaml").write_text("maskgraph: 1\nnodes:\n  p: {type: read, path: p.####.png}\n"
                                     "  w: {type: write, input: p, path: out/p.####.png}\n")
    assert main(["run", "g.yaml", "--frames", "1-2", "--scheduler",
                 client.scheduler.address]) == 1
    error = capsys.readouterr().err
    assert "g.yaml:3:" in error and "node 'p' (read) failed" in error
    assert "p.0002.png" in error and "on Dask worker tcp://" in error
    assert "Traceback" not in error and error.count("failed") == 1


def test_cli_dead_scheduler_and_zero_workers_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text(CLI_GRAPH)
    assert main(["run", "g.yaml", "--frames", "1-2", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    error = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answers there" in error
    assert "Traceback" not in error
    assert main(["run", "g.yaml", "--frames", "1-2", "--workers", "0"]) == 2
    assert "--workers 0: at least 1 worker" in capsys.readouterr().err
    assert main(["run", "g.yaml", "--frames", "1-2", "--workers", "2", "--scheduler",
                 "tcp://127.0.0.1:9"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_workers_starts_a_local_cluster(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text(CLI_GRAPH)
    assert main(["run", "g.yaml", "--frames", "1-3", "--workers", "1", "--stats", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len({s["worker"] for s in report["nodes"]}) == 1
    assert sorted(os.listdir(tmp_path / "out")) == ["c.0001.png", "c.0002.png", "c.0003.png"]


def test_a_worker_memory_cache_keeps_only_the_keys_several_frames_share(tmp_path):
    from graph import distributed as executor
    from graph.cache import MemoryCache
    from graph.plan import make_plan
    from graph.tiers import MemoryTier, OnlyKeys
    plan = make_plan(load(str(tmp_path)), None, range(1, 4))
    shared = plan.shared_keys()
    part = plan.for_frames([2])
    memory = MemoryCache(2**30)
    tier = OnlyKeys(MemoryTier(memory), [key for key in part.tasks if key in shared])
    result = {"output": np.zeros((2, 2), np.float32)}
    for key in part.tasks:
        tier.put(key, result)
    held = {key for key in part.tasks if memory.get(key) is not None}
    assert held and held == {key for key in part.tasks if key in shared}
    assert all(tier.get(key) is None for key in part.tasks if key not in shared)
    # render_frame takes the shared keys and still renders the frame
    run = executor.render_frame(part, 2, None, frozenset(held))
    assert run.frame == 2 and os.path.exists(os.path.join(str(tmp_path), "f.0002.png"))
