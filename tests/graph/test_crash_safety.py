"""Crash safety and concurrency (bounded: well under a minute together).

- A writer killed with SIGKILL at random moments during large writes leaves the old file or
  the complete new one at the output path, never a partial one; the temporary files it
  leaves are swept by the next write.
- A disk-cache writer killed at random moments never leaves a torn entry: every entry on
  disk reads back whole and equal to what was stored; the next write sweeps the leftovers.
- 2 and 4 processes sharing one --cache-dir, rendering equal and different graphs, with
  and without a small size limit, never fail and write outputs bit-identical to one
  process.

Writers to kill are forked from one helper process that has imported everything (and ran
no parallel kernel, so forking it is safe): a kill costs a fork, not a Python start.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from graph.cache import DiskCache, read_entry

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WRITERS = r"""
import os, signal, sys
import numpy as np
from graph.cache import DiskCache
from nodes.io import write_atomically

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
BASE = np.random.default_rng(7).integers(0, 256, (700, 900, 3), np.uint8)

def image_writer(path, index):
    version = 0
    while True:
        version += 1
        write_atomically(path, BASE ^ np.uint8((index * 31 + version) % 256))

def cache_writer(folder, index):
    disk, number = DiskCache(folder), index * 1000
    while True:
        number += 1
        disk.put(f"{number:064x}", {"output": np.full((600, 800, 4), number, np.float32)})

print("ready", flush=True)
for line in sys.stdin:
    kind, target, index = line.split()
    pid = os.fork()
    if pid == 0:
        try:
            (image_writer if kind == "image" else cache_writer)(target, int(index))
        finally:
            os._exit(0)
    print(pid, flush=True)
"""


@pytest.fixture
def writers():
    process = subprocess.Popen([sys.executable, "-c", WRITERS], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.stdin.close()
    process.wait(timeout=30)


def kill_writers(writers, kind, target, kills, seed):
    """Start a writer `kills` times and SIGKILL it after a random delay."""
    rng = random.Random(seed)
    for index in range(kills):
        writers.stdin.write(f"{kind} {target} {index}\n")
        writers.stdin.flush()
        pid = int(writers.stdout.readline())
        time.sleep(rng.uniform(0.02, 0.4))
        os.kill(pid, signal.SIGKILL)


def test_sigkill_during_large_writes_leaves_old_or_complete_new_file(tmp_path, writers):
    from nodes.io import write_atomically
    out = tmp_path / "out" / "big.png"
    base = np.random.default_rng(7).integers(0, 256, (700, 900, 3), np.uint8)
    interrupted = 0
    for round_ in range(4):
        kill_writers(writers, "image", out, kills=5, seed=round_)
        time.sleep(0.05)
        interrupted = max(interrupted, len(os.listdir(out.parent)) - 1)
        if out.exists():
            decoded = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
            assert decoded is not None and decoded.shape == base.shape
            difference = decoded ^ base
            assert (difference == difference[0, 0]).all(), "a mix of two versions"
    assert interrupted > 0, "no kill landed during a write"
    write_atomically(str(out), base)  # the next write sweeps what killed writers left
    assert os.listdir(out.parent) == ["big.png"]
    np.testing.assert_array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), base)


def test_sigkill_during_cache_writes_never_leaves_a_torn_entry(tmp_path, writers):
    cache = tmp_path / "cache"
    kill_writers(writers, "cache", cache, kills=20, seed=5)
    time.sleep(0.05)
    disk = DiskCache(str(cache))
    entries = disk.entries()
    assert entries, "the writers had time to store something"
    for entry in entries:  # every entry on disk is whole (read without the repair path)
        with open(entry.path, "rb") as handle:
            stored = read_entry(handle, os.path.getsize(entry.path))["output"]
        assert stored.shape == (600, 800, 4)
        assert (stored == int(entry.name[:64], 16)).all()
    disk.put("ff" + "0" * 62, {"output": np.zeros(4, np.float32)})  # sweeps leftovers
    assert disk.info()["temporary_files"] == 0
    assert disk.info()["entries"] == len(entries) + 1


GRAPH = """maskgraph: 1
params:
  gain: 1.0
  size: 1.5
nodes:
  plate: {type: read, path: plate.png}
  graded: {type: grade, input: plate, multiply: [$gain, 1.0, 1.0]}
  soft: {type: blur, input: graded, size: $size}
  out: {type: write, input: soft, path: out/result.png}
"""
VARIANTS = [["--set", "gain=1.0"], ["--set", "gain=1.3"], ["--set", "size=2.5"]]

RENDERER = r"""
import hashlib, json, os, sys
from graph.cli import main
plan = json.loads(sys.argv[1])
results = []
for variant, limit in plan:
    if limit:
        os.environ["MASKGRAPH_CACHE_LIMIT"] = limit
    else:
        os.environ.pop("MASKGRAPH_CACHE_LIMIT", None)
    code = main(["run", "g.yaml", "-q", "--cache-dir", sys.argv[2]] + variant)
    with open("out/result.png", "rb") as handle:
        results.append([code, hashlib.sha256(handle.read()).hexdigest()])
print(json.dumps(results))
"""


def reference_hashes(folder, monkeypatch):
    import hashlib

    from graph.cli import main
    monkeypatch.chdir(folder)
    hashes = []
    for variant in VARIANTS:
        assert main(["run", "g.yaml", "-q"] + variant) == 0
        hashes.append(hashlib.sha256((folder / "out" / "result.png").read_bytes()).hexdigest())
    return hashes


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_sharing_a_cache_dir_never_fail(tmp_path, monkeypatch, processes):
    plate = np.random.default_rng(3).integers(0, 256, (48, 64, 3), np.uint8)
    folders = []
    for index in range(processes + 1):
        folder = tmp_path / f"p{index}"
        folder.mkdir()
        cv2.imwrite(str(folder / "plate.png"), plate)
        (folder / "g.yaml").write_text(GRAPH)
        folders.append(folder)
    expected = reference_hashes(folders[-1], monkeypatch)
    cache = tmp_path / "shared"
    plans = []
    for index in range(processes):  # equal graphs first, then each its own order
        order = [0, 0] + [(index + step) % len(VARIANTS) for step in range(4)]
        plans.append([[VARIANTS[v], None if step < 3 else "30K"]
                      for step, v in enumerate(order)])
    runs = [subprocess.Popen([sys.executable, "-c", RENDERER, json.dumps(plan), str(cache)],
                             cwd=folders[index], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": ROOT})
            for index, plan in enumerate(plans)]
    for plan, run in zip(plans, runs):
        results = json.loads(run.communicate(timeout=300)[0])
        assert [code for code, _ in results] == [0] * len(plan)
        assert [digest for _, digest in results] == [expected[VARIANTS.index(variant)]
                                                     for variant, _ in plan]
    info = DiskCache(str(cache)).info()
    assert info["temporary_files"] == 0
