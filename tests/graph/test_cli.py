"""The maskgraph command line: exit codes, stats JSON with reasons, validate, nodes, dot, cache."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from graph.cli import main

GRAPH = """maskgraph: 1
params:
  color: [0.5, 0.25, 0.1]
  alpha_gain: 1.0
nodes:
  plate: {type: read, path: plate.png}
  bg: {type: constant, like: plate, color: $color}
  out: {type: write, input: plate, path: out/plate.png}
  outbg: {type: write, input: bg, path: out/bg.png}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    cv2.imwrite(str(tmp_path / "plate.png"), np.full((6, 8, 3), 100, np.uint8))
    (tmp_path / "g.yaml").write_text(GRAPH)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stats(capsys, *argv):
    code = main(list(argv))
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_run_writes_outputs_and_prints_stats(project, capsys):
    report = stats(capsys, "run", "g.yaml", "--stats", "json")
    assert (project / "out" / "plate.png").exists() and (project / "out" / "bg.png").exists()
    statuses = {n["name"]: n["status"] for n in report["nodes"]}
    assert statuses == {"plate": "computed", "out": "written", "bg": "computed",
                        "outbg": "written"}
    assert report["total_seconds"] > 0


def test_disk_cache_stats_say_what_recomputed_and_why(project, capsys):
    cache = str(project / "cache")
    stats(capsys, "run", "g.yaml", "--cache-dir", cache, "--stats", "json")
    report = stats(capsys, "run", "g.yaml", "--cache-dir", cache, "--stats", "json",
                   "--set", "color=[0.5, 0.25, 0.2]", "--output", "outbg", "--output", "out")
    nodes = {n["name"]: n for n in report["nodes"]}
    assert nodes["plate"]["status"] == "memory" or nodes["plate"]["status"] == "disk"
    assert nodes["bg"]["status"] == "computed"
    assert nodes["bg"]["reason"] == {"kind": "param", "detail": "color: [0.5, 0.25, 0.1, 1.0] -> [0.5, 0.25, 0.2, 1.0]"}


def test_second_process_with_the_same_disk_cache_computes_nothing(project):
    command = [sys.executable, "-m", "graph.cli", "run", "g.yaml", "--cache-dir", "cache",
               "--stats", "json"]
    subprocess.run(command, check=True, capture_output=True)
    cv2.imwrite(str(project / "plate.png"), np.full((6, 8, 3), 200, np.uint8))
    report = json.loads(subprocess.run(command, check=True, capture_output=True,
                                       text=True).stdout)
    nodes = {n["name"]: n for n in report["nodes"]}
    assert nodes["plate"]["reason"]["kind"] == "file"  # the file changed on disk
    report = json.loads(subprocess.run(command, check=True, capture_output=True,
                                       text=True).stdout)
    assert {n["status"] for n in report["nodes"]} == {"disk", "written"}


def test_invalid_graph_exits_2_with_a_placed_message(project, capsys):
    (project / "bad.yaml").write_text("maskgraph: 1\nnodes:\n  a: {type: raed, path: x.png}\n")
    assert main(["run", "bad.yaml"]) == 2
    error = capsys.readouterr().err
    assert "bad.yaml:3:7: node 'a', 'type': unknown node type 'raed'" in error
    assert "did you mean 'read'" in error and "Traceback" not in error


def test_bad_set_exits_2(project, capsys):
    assert main(["run", "g.yaml", "--set", "color=oops"]) == 2
    assert "--set color: expected a list" in capsys.readouterr().err
    assert main(["run", "g.yaml", "--set", "nonsense"]) == 2


def test_node_failure_exits_1(project, capsys):
    (project / "plate.png").write_bytes(b"not a png")
    assert main(["run", "g.yaml"]) == 1
    error = capsys.readouterr().err
    assert "node 'plate' (read) failed: cannot decode" in error and "Traceback" not in error


def test_validate_nodes_and_dot(project, capsys):
    assert main(["validate", "g.yaml"]) == 0
    assert "ok (4 nodes)" in capsys.readouterr().err
    assert main(["nodes"]) == 0
    assert "read " in capsys.readouterr().out
    assert main(["nodes", "write"]) == 0
    assert "depth (one of auto, 8, 16, float" in capsys.readouterr().out
    assert main(["nodes", "wrte"]) == 2
    assert "did you mean 'write'?" in capsys.readouterr().err
    assert main(["dot", "g.yaml"]) == 0
    assert '"plate" -> "out" [label="input"];' in capsys.readouterr().out


def test_frames_render_a_sequence(project, capsys):
    (project / "seq.yaml").write_text(
        "maskgraph: 1\nnodes:\n  c: {type: constant, width: 2, height: 2, "
        "color: {keys: {1: [0, 0, 0], 3: [1, 1, 1]}}}\n"
        "  w: {type: write, input: c, path: out/c.####.png}\n")
    report = stats(capsys, "run", "seq.yaml", "--frames", "1-3", "--stats", "json")
    assert [n["frame"] for n in report["nodes"] if n["name"] == "w"] == [1, 2, 3]
    middle = cv2.imread(str(project / "out" / "c.0002.png"))
    assert middle[0, 0, 0] == round(255 * (1.055 * 0.5 ** (1 / 2.4) - 0.055))


def test_cache_info_and_clear(project, capsys, monkeypatch):
    monkeypatch.setenv("MASKGRAPH_KERNEL_DIR", str(project / "kernels"))
    stats(capsys, "run", "g.yaml", "--cache-dir", "cache", "--stats", "json")
    assert main(["cache", "info", "--cache-dir", "cache"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["entries"] == 2 and info["kernels"]["directory"] == str(project / "kernels")
    assert main(["cache", "clear", "--cache-dir", "cache"]) == 0
    err = capsys.readouterr().err
    assert "removed 2 entries" in err and "compiled kernels from" in err


# ------------------------------------------------------------------ talking

def test_run_lists_the_files_it_wrote_and_is_quiet_with_q(project, capsys):
    assert main(["run", "g.yaml"]) == 0
    err = capsys.readouterr().err
    assert "wrote 2 files:" in err
    assert os.path.join("out", "plate.png") in err and os.path.join("out", "bg.png") in err
    assert main(["run", "g.yaml", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("maskgraph ")


def test_argument_errors_are_not_called_graph_errors(project, capsys):
    assert main(["run", "g.yaml", "--frames", "abc"]) == 2
    err = capsys.readouterr().err
    assert "invalid graph" not in err and "--frames 'abc'" in err
    assert main(["nodes", "chromakey"]) == 2
    err = capsys.readouterr().err
    assert "invalid graph" not in err and "did you mean 'chroma_key'?" in err


def test_cache_info_on_a_missing_folder_says_so(project, capsys):
    assert main(["cache", "info", "--cache-dir", str(project / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (project / "nowhere").exists()


def test_huge_frame_range_is_refused_without_building_it(project, capsys):
    assert main(["run", "g.yaml", "--frames", "1-1000000000"]) == 2
    assert "1000000000 frames" in capsys.readouterr().err


def test_frame_range_onto_a_video_file_is_one_file(tmp_path, capsys):
    """A video sink collects the range into one file: no frame number needed."""
    pytest.importorskip("av")
    (tmp_path / "v.yaml").write_text(
        "maskgraph: 1\nnodes:\n  c: {type: constant, width: 32, height: 16, "
        "color: {keys: {1: [0, 0, 0, 1], 3: [1, 1, 1, 1]}}}\n"
        "  w: {type: write, input: c, path: out/v.mp4}\n")
    assert main(["run", str(tmp_path / "v.yaml"), "--frames", "1-3", "-q"]) == 0
    import av
    with av.open(str(tmp_path / "out" / "v.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_frame_range_onto_a_path_without_frame_number_is_refused(project, capsys):
    assert main(["run", "g.yaml", "--frames", "1-5"]) == 2
    err = capsys.readouterr().err
    assert "5 frames would all be written to" in err and "plate.png" in err
    assert not (project / "out").exists()


def test_animated_graph_at_one_frame_warns(project, capsys):
    (project / "anim.yaml").write_text(
        "maskgraph: 1\nnodes:\n  c: {type: constant, width: 2, height: 2, "
        "color: {keys: {1: [0, 0, 0], 9: [1, 1, 1]}}}\n"
        "  w: {type: write, input: c, path: out/c.####.png}\n")
    assert main(["run", "anim.yaml"]) == 0
    assert "keys on frames 1-9" in capsys.readouterr().err


def test_closed_stdout_is_not_a_traceback(project):
    process = subprocess.Popen([sys.executable, "-m", "graph.cli", "nodes", "--markdown"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(10)
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait() in (0, 1) and "Traceback" not in err and "Broken" not in err


def test_first_run_says_it_is_compiling(tmp_path):
    """A numba function compiled for the first time triggers the one-line notice."""
    script = ("import numba, sys\nfrom graph.cli import Talker\n"
              "with Talker(quiet=False, frame_count=1):\n"
              "    numba.njit(lambda x: x + 1)(1)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert done.stderr.count("compiling kernels") == 1


def test_sigterm_during_a_run_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    import signal
    noise = np.random.default_rng(1).integers(0, 256, (1200, 1600, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "noise.png"), noise)
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n  r: {type: read, path: noise.png}\n"
        "  w: {type: write, input: r, path: out/copy.png}\n")
    monkeypatch.chdir(tmp_path)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    try:
        code = main(["run", "g.yaml", "-q"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert code in (0, 143)
    written = os.listdir(tmp_path / "out") if (tmp_path / "out").exists() else []
    assert written in ([], ["copy.png"])
    if code == 143:
        assert "terminated" in capsys.readouterr().err


def test_odd_arguments_exit_2_with_a_message(project, capsys):
    for argv in (["run", "g.yaml", "--output", "plate.nope"],
                 ["run", "g.yaml", "--frames", "99999999999999999999"],
                 ["run", "g.yaml", "--set", "color=!!python/object:os.system x"],
                 ["run", "g.yaml", "--set", "color=" + "[" * 100 + "]" * 100],
                 ["run", "g.yaml", "--cache-dir", "g.yaml"],
                 ["preview", "g.yaml", "-o", "."]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("maskgraph: ") and "Traceback" not in err, argv
