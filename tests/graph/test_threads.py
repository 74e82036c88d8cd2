"""The threading policy (graph/threads.py): applied before numba starts its threads, in a
fresh process each time (the OpenMP runtime reads its settings once per process)."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Run a parallel kernel of the engine, then report what numba and the environment say.
PROBE = """
import json, os, sys
{before}
import numba, numpy as np
from graph.stencil import stencil
image = np.ones((4, 4, 4), np.float32)
stencil(image, image * 2, np.full((4, 4), 0.5, np.float32), 1.0, False)
print(json.dumps({{"threads": numba.get_num_threads(), "layer": numba.threading_layer(),
                  "wait": os.environ.get("OMP_WAIT_POLICY"),
                  "cores": numba.config.NUMBA_NUM_THREADS}}))
"""


def probe(before: str = "import graph", **environment) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("OMP_WAIT_POLICY", "MASKGRAPH_THREADS", "NUMBA_NUM_THREADS",
                          "NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")}
    env.update(environment, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_engine_sets_a_passive_openmp_layer_before_numba_starts():
    found = probe()
    assert found["wait"] == "passive"
    assert found["layer"] == "omp"
    assert found["threads"] == found["cores"]


def test_maskgraph_threads_caps_the_kernels():
    assert probe(MASKGRAPH_THREADS="1")["threads"] == 1


def test_a_setting_the_user_made_wins():
    found = probe(OMP_WAIT_POLICY="active", NUMBA_THREADING_LAYER="workqueue")
    assert found["wait"] == "active" and found["layer"] == "workqueue"


def test_kernels_imported_without_the_engine_wait_passively():
    found = probe(before="import nodes.kernels.grading")
    assert found["wait"] == "passive"


def test_cli_threads_flag(tmp_path):
    cv2.imwrite(str(tmp_path / "plate.png"), np.full((6, 8, 3), 100, np.uint8))
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  plate: {type: read, path: plate.png}\n"
        "  graded: {type: grade, input: plate, multiply: 1.5}\n"
        "  out: {type: write, input: graded, path: out.png}\n")
    before = ("from graph.cli import main\n"
              f"assert main(['run', {str(tmp_path / 'g.yaml')!r}, '--threads', '1']) == 0")
    assert probe(before=before)["threads"] == 1
    assert (tmp_path / "out.png").exists()


def test_cli_threads_must_be_positive(tmp_path, capsys):
    from graph.cli import main
    (tmp_path / "g.yaml").write_text("maskgraph: 1\nnodes:\n"
                                     "  c: {type: constant, width: 2, height: 2}\n")
    assert main(["run", str(tmp_path / "g.yaml"), "--threads", "0"]) == 2
    assert "--threads 0" in capsys.readouterr().err
