"""The pieces of `maskgraph serve` that need no browser: YAML round-trip edits, the file
watcher, the CLI's URL and token, and the frame range guessed from a graph."""
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from ruamel.yaml import YAML

import graph
from graph.serve import edit
from graph.serve.session import frame_range
from graph.serve.watch import Watcher

GRAPH = """maskgraph: 1
# the comp
nodes:
  plate:  {type: read, path: plate.png}     # the shot
  key:    {type: luma_key, input: plate}
  grade:  {type: grade, input: plate, multiply: 1.1}
  out:    {type: write, input: grade, path: out.png}
"""


def test_a_new_polygon_keeps_comments_and_alignment_and_is_wired():
    new = edit.set_shape(GRAPH, "roto1", "polygon", [[1, 2], [30.004, 4.5], [5, 60]],
                         like="plate", wire=("grade", "mask"))
    assert "# the comp" in new and "# the shot" in new
    assert "  plate:  {type: read, path: plate.png}     # the shot" in new
    assert "  key:    {type: luma_key, input: plate}" in new
    nodes = YAML(typ="safe").load(new)["nodes"]
    assert nodes["roto1"] == {"type": "polygon", "like": "plate",
                              "points": [[1, 2], [30.0, 4.5], [5, 60]]}
    assert nodes["grade"]["mask"] == "roto1"
    assert list(nodes).index("roto1") == list(nodes).index("grade") - 1
    diff = edit.diff(GRAPH, new, "g.yaml")
    assert diff.count("\n+") >= 4 and diff.count("\n-  ") == 1  # only the wired line changed


def test_keys_are_added_in_frame_order_and_existing_points_are_updated():
    once = edit.set_shape(GRAPH, "r", "spline", [[0, 0], [9, 0], [9, 9]], frame=12, key=True)
    twice = edit.set_shape(once, "r", "spline", [[1, 1], [8, 1], [8, 8]], frame=3, key=True)
    keys = YAML(typ="safe").load(twice)["nodes"]["r"]["points"]["keys"]
    assert list(keys) == [3, 12] and keys[3][0] == [1, 1]
    fixed = edit.set_shape(once, "r", "spline", [[2, 2], [7, 2], [7, 7]])
    assert YAML(typ="safe").load(fixed)["nodes"]["r"]["points"] == [[2, 2], [7, 2], [7, 7]]


def test_edits_refuse_bad_names_other_types_and_unknown_targets():
    with pytest.raises(edit.EditError, match="node name"):
        edit.set_shape(GRAPH, "../x", "polygon", [[0, 0], [1, 0], [1, 1]])
    with pytest.raises(edit.EditError, match="is a grade, not a polygon"):
        edit.set_shape(GRAPH, "grade", "polygon", [[0, 0], [1, 0], [1, 1]])
    with pytest.raises(edit.EditError, match="not valid YAML"):
        edit.set_shape("nodes: {a: [}\n", "r", "polygon", [[0, 0], [1, 0], [1, 1]])
    with pytest.raises(edit.EditError, match="no such node"):
        edit.add_read_mask(GRAPH, "paint1", "masks/paint1.png", wire=("nothere", "mask"))


def test_an_edited_graph_still_loads(tmp_path):
    (tmp_path / "plate.png").write_bytes(open(os.path.join(os.path.dirname(__file__), "..", "..",
                                                           "graphs_examples", "images",
                                                           "roto_plate.png"), "rb").read())
    text = edit.add_read_mask(GRAPH, "paint1", "plate.png", wire=("grade", "mask"))
    (tmp_path / "g.yaml").write_text(text)
    loaded = graph.load(str(tmp_path / "g.yaml"))
    assert loaded.nodes["grade"].inputs["mask"].node == "paint1"


def test_write_atomic_keeps_the_permissions(tmp_path):
    target = tmp_path / "g.yaml"
    target.write_text("a: 1\n")
    os.chmod(target, 0o640)
    edit.write_atomic(str(target), b"a: 2\n")
    assert target.read_text() == "a: 2\n" and (os.stat(target).st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["g.yaml"]


def test_the_watcher_reports_changed_appearing_and_vanishing_files(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.png"
    first.write_text("1")
    watcher = Watcher(lambda: [str(first), str(second)], on_change=None)
    assert watcher.poll() == []
    os.utime(first, ns=(1, 1))
    second.write_bytes(b"x")
    assert sorted(watcher.poll()) == [str(first), str(second)]
    second.unlink()
    assert watcher.poll() == [str(second)]


def test_frame_range_comes_from_keys():
    example = os.path.join(os.path.dirname(__file__), "..", "..", "graphs_examples")
    assert frame_range(graph.load(os.path.join(example, "roto_animated.yaml"))) == (1, 24)
    assert frame_range(graph.load(os.path.join(example, "green_screen.yaml"))) is None


def test_the_cli_prints_a_url_with_a_token_and_refuses_others(tmp_path):
    (tmp_path / "g.yaml").write_text("maskgraph: 1\nnodes:\n"
                                     "  c: {type: constant, width: 8, height: 8, color: [1, 0, 0, 1]}\n")
    process = subprocess.Popen([sys.executable, "-m", "graph.cli", "serve", str(tmp_path / "g.yaml")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = process.stdout.readline().strip()
        assert address.startswith("http://127.0.0.1:") and "token=" in address
        with urllib.request.urlopen(address) as response:
            assert response.status == 200 and b"maskgraph" in response.read()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(address.split("token=")[0] + "token=nope")
        assert refused.value.code == 403
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("shape", [(37, 51), (37, 51, 3), (37, 51, 4), (1, 1, 4)])
def test_stored_png_decodes_to_the_same_pixels_in_opencv(shape):
    import cv2
    import numpy as np
    from graph.pictures import png_stored
    pixels = np.random.default_rng(len(shape)).integers(0, 256, shape, dtype=np.uint8)
    decoded = cv2.imdecode(np.frombuffer(png_stored(pixels), np.uint8), cv2.IMREAD_UNCHANGED)
    expected = pixels if pixels.ndim == 2 else pixels[..., ::-1] if shape[2] == 3 else \
        pixels[..., [2, 1, 0, 3]]
    np.testing.assert_array_equal(decoded, expected)


def test_a_saved_template_is_seen_and_its_instance_recomputed(tmp_path):
    from graph.serve.session import Session
    (tmp_path / "lift.yaml").write_text("maskgraph: 1\ninputs: {source: image}\noutputs: {result: up}\n"
                                        "nodes:\n  up: {type: exposure, input: source, stops: 1}\n")
    (tmp_path / "g.yaml").write_text(
        "maskgraph: 1\nnodes:\n"
        "  c: {type: constant, width: 8, height: 8, color: [0.2, 0.2, 0.2, 1]}\n"
        "  t: {type: template, file: lift.yaml, source: c}\n"
        "  out: {type: write, input: t.result, path: out.png}\n")
    session = Session(str(tmp_path / "g.yaml"))
    changes = []
    session.listeners.append(lambda snapshot: None)
    session.start()
    try:
        first = session.wait_published(0, 60)
        assert str(tmp_path / "lift.yaml") in first.files
        watcher = Watcher(lambda: session.snapshot.files, on_change=None)
        (tmp_path / "lift.yaml").write_text((tmp_path / "lift.yaml").read_text().replace(
            "stops: 1", "stops: 2"))
        os.utime(tmp_path / "lift.yaml", ns=(1, 1))  # a distinct mtime even on coarse clocks
        assert watcher.poll() == [str(tmp_path / "lift.yaml")]
        session.refresh()
        second = session.wait_published(first.serial, 60)
        assert second.nodes["t/up"]["status"] == "computed"
        assert second.nodes["c"]["status"] != "computed"
        assert abs(float(second.results["t/up"][0, 0, 0]) / float(first.results["t/up"][0, 0, 0]) - 2) < 1e-5
    finally:
        session.stop()
