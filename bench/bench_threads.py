"""The threading policy with a busy neighbour: a 4K grade (one parallel kernel) in fresh
processes under each policy, quiet and next to one spinning neighbour process.

Each case runs in its own process (the OpenMP runtime reads its settings once per
process), with the environment the case names; the neighbour is a separate process that
spins on one core for the whole case. Prints medians and the ratio to the quiet default.
On a shared machine (look at `uptime`) the absolute numbers move; compare ratios from one
run.
"""
import json
import multiprocessing
import os
import subprocess
import sys

from common import REPO

CHILD = """
import json, os, sys
sys.path.insert(0, {repo!r})
import graph  # applies the threading policy (graph/threads.py)
import numba, numpy as np
from bench.common import median_seconds
from nodes.kernels.grading import grade_rows
rows = np.random.default_rng(1).random((2160, 3840 * 4), dtype=np.float32)
out = np.empty_like(rows)
c = lambda v: np.full(3, v, np.float32)
run = lambda: grade_rows(rows, c(1.2), c(0.01), c(1 / 1.1), c(0), c(np.inf), True, out)
seconds = median_seconds(run, repeat=9, warmup=2)
print(json.dumps({{"ms": seconds * 1e3, "layer": numba.threading_layer(),
                  "threads": numba.get_num_threads()}}))
"""

CASES = [  # label, environment
    ("policy (omp, passive), all threads", {}),
    ("policy, 1 thread", {"MASKGRAPH_THREADS": "1"}),
    ("omp, active wait (numba's default)", {"OMP_WAIT_POLICY": "active"}),
    ("workqueue layer", {"NUMBA_THREADING_LAYER": "workqueue"}),
]


def spin():
    while True:
        pass


def run_case(environment: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "MASKGRAPH_THREADS", "NUMBA_THREADING_LAYER")}
    env.update(environment, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", CHILD.format(repo=REPO)], env=env,
                          capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    print("load average:", os.getloadavg())
    results = {}
    for neighbour in (False, True):
        spinner = None
        if neighbour:
            spinner = multiprocessing.Process(target=spin, daemon=True)
            spinner.start()
        try:
            for label, environment in CASES:
                results[(label, neighbour)] = run_case(environment)
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.join()
    quiet = results[(CASES[0][0], False)]["ms"]
    print(f"\n4K grade (gamma 1.1), median ms; ratio to the policy's quiet all-thread time")
    print(f"{'case':<40} {'quiet ms':>9} {'busy ms':>9} {'busy/quiet(policy)':>19}")
    for label, _ in CASES:
        q, b = results[(label, False)], results[(label, True)]
        print(f"{label:<40} {q['ms']:9.1f} {b['ms']:9.1f} {b['ms'] / quiet:19.2f}"
              f"   [{b['layer']}, {b['threads']} thr]")
    busy_all = results[(CASES[0][0], True)]["ms"]
    busy_one = results[(CASES[1][0], True)]["ms"]
    print(f"\nbusy neighbour: all threads / 1 thread = {busy_all / busy_one:.2f} "
          "(target <= 1, never above 1.25)")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
