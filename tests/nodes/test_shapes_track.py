"""Shapes that follow a `track`: the outline drawn on the reference frame is carried by
the track's matrix (checked against the same shape drawn where the motion puts it)."""
import math

import cv2
import numpy as np
import pytest

import graph
from graph.errors import GraphError


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plate")
    cv2.imwrite(str(folder / "p.png"), np.full((96, 128, 3), 90, np.uint8))
    return folder / "p.png"


def shapes_graph(plate, shapes):
    nodes = "".join(f"  {name}: {{{spec}, like: plate, track: t}}\n" for name, spec in shapes.items())
    return graph.load(f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{plate}'}}\n"
                      f"  t: {{type: track, input: plate, points: [[10, 10]]}}\n" + nodes)


def moving(matrix, points):
    points = np.asarray(points, np.float64)
    mapped = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    return mapped[:, :2] / mapped[:, 2:]


def polygon(plate, points):
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{plate}'}}\n"
            f"  p: {{type: polygon, like: plate, points: {np.asarray(points).tolist()}}}\n")
    return graph.load(text).evaluate(["p"], memory=None)["p"]


def test_translation_track_moves_a_rectangle_exactly(plate):
    track = np.zeros((4, 3), np.float32)
    track[:3] = [[1, 0, 7.25], [0, 1, -3.5], [0, 0, 1]]
    g = shapes_graph(plate, {"r": "type: rectangle, box: [20, 30, 60, 70]"})
    moved = g.evaluate(["r"], feed={"t": track}, memory=None)["r"]
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{plate}'}}\n"
            f"  r: {{type: rectangle, like: plate, box: [27.25, 26.5, 67.25, 66.5]}}\n")
    expected = graph.load(text).evaluate(["r"], memory=None)["r"]
    np.testing.assert_allclose(moved, expected, atol=1e-5)


def test_every_shape_follows_a_turning_perspective_track(plate):
    angle = math.radians(20)
    matrix = np.array([[1.1 * math.cos(angle), -1.1 * math.sin(angle), 12.0],
                       [1.1 * math.sin(angle), 1.1 * math.cos(angle), -6.0],
                       [2e-4, -1e-4, 1.0]])
    track = np.vstack([matrix, [[10, 10, 0]]]).astype(np.float32)
    shapes = {
        "rect": "type: rectangle, box: [30, 20, 70, 50]",
        "poly": "type: polygon, points: [[40, 20], [80, 30], [60, 60]]",
    }
    results = shapes_graph(plate, shapes).evaluate(list(shapes), feed={"t": track},
                                                  memory=None)
    corners = {"rect": [[30, 20], [70, 20], [70, 50], [30, 50]],
               "poly": [[40, 20], [80, 30], [60, 60]]}
    for name, points in corners.items():
        expected = polygon(plate, moving(matrix.astype(np.float32).astype(np.float64), points))
        np.testing.assert_allclose(results[name], expected, atol=1e-4)
    ellipse = shapes_graph(plate, {"e": "type: ellipse, center: [60, 45], radius: [20, 12]"}
                           ).evaluate(["e"], feed={"t": track}, memory=None)["e"]
    from nodes.shapes import ellipse_polygon, polygon_area
    outline = moving(matrix.astype(np.float32).astype(np.float64),
                     ellipse_polygon((60, 45), (20, 12), 0.0))
    area = polygon_area(outline)  # exact coverage: the mask's sum is the moved area
    assert abs(ellipse.sum() - area) / area < 1e-4
    centre = moving(matrix, [[60, 45]])[0]
    rows, columns = np.nonzero(ellipse > 0.5)
    assert abs(columns.mean() + 0.5 - centre[0]) < 0.5 and abs(rows.mean() + 0.5 - centre[1]) < 0.5


def test_spline_follows_a_real_track(tmp_path):
    from tests.nodes.test_track import POINTS, moved_frames, motion
    frames = moved_frames()[:16]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"plate.{index + 1:04d}.png"), frame[:, :, ::-1])
    anchors = [[60, 60], [150, 50], [170, 140], [80, 170]]
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{tmp_path}/plate.####.png'}}\n"
            f"  t: {{type: track, input: plate, points: {POINTS[:2]}}}\n"
            f"  roto: {{type: spline, like: plate, track: t, points: {anchors}, feather: 2}}\n"
            f"  truth: {{type: spline, like: plate, points: {anchors}, feather: 2}}\n"
            f"  matched: {{type: transform, input: truth, track: t}}\n")
    g = graph.load(text)
    result = g.evaluate(["roto"], frame=16, memory=None)["roto"]
    exact = np.array(anchors, np.float64)
    # the truth: the spline through the anchors the motion moved (a similarity keeps the
    # Catmull-Rom curve's shape), rendered with the exact motion
    moved = moving(motion(15), exact)
    text_truth = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{tmp_path}/plate.0001.png'}}\n"
                  f"  s: {{type: spline, like: plate, points: {moved.tolist()}, feather: 2}}\n")
    expected = graph.load(text_truth).evaluate(["s"], memory=None)["s"]
    assert np.abs(result - expected).max() < 0.03


def test_track_into_like_port_is_a_load_error(plate):
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{plate}'}}\n"
            f"  t: {{type: track, input: plate, points: [[10, 10]]}}\n"
            f"  r: {{type: rectangle, like: t, box: [1, 1, 5, 5]}}\n")
    with pytest.raises(GraphError, match=r"input 'like' takes an image\|mask, but 't' gives a track"):
        graph.load(text)


# ---------------------------------------------------------------- templates with track ports

ROTO = """maskgraph: 1
inputs: {plate: image, motion: track}
outputs: {matte: r}
nodes:
  r: {type: rectangle, like: plate, box: [20, 30, 60, 70], track: motion}
"""
FOLLOW = """maskgraph: 1
inputs: {plate: image}
outputs: {motion: t}
nodes:
  t: {type: track, input: plate, points: [[50, 40], [80, 60]], search: 24}
"""


@pytest.fixture(scope="module")
def photo_plates(tmp_path_factory):
    """Two frames of a real photo, the second moved by (3.5, -2.25) px."""
    folder = tmp_path_factory.mktemp("photo")
    photo = pytest.importorskip("skimage.data").astronaut()[::4, ::4].astype(np.float32)
    shifted = cv2.warpAffine(photo, np.float32([[1, 0, 3.5], [0, 1, -2.25]]), (128, 128),
                             flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    for index, pixels in enumerate((photo, shifted)):
        cv2.imwrite(str(folder / f"p.{index + 1:04d}.png"),
                    np.clip(np.rint(pixels), 0, 255).astype(np.uint8)[:, :, ::-1])
    return folder / "p.####.png"


def templates(tmp_path):
    (tmp_path / "roto.yaml").write_text(ROTO)
    (tmp_path / "follow.yaml").write_text(FOLLOW)


def test_a_template_takes_a_track_input(plate, tmp_path):
    templates(tmp_path)
    track = np.zeros((4, 3), np.float32)
    track[:3] = [[1, 0, 7.25], [0, 1, -3.5], [0, 0, 1]]
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{plate}'}}\n"
            f"  t: {{type: track, input: plate, points: [[10, 10]]}}\n"
            f"  shot: {{type: template, file: '{tmp_path}/roto.yaml', plate: plate, motion: t}}\n")
    moved = graph.load(text).evaluate(["shot.matte"], feed={"t": track}, memory=None)
    direct = shapes_graph(plate, {"r": "type: rectangle, box: [20, 30, 60, 70]"})
    expected = direct.evaluate(["r"], feed={"t": track}, memory=None)["r"]
    np.testing.assert_array_equal(moved["shot.matte"], expected)
    assert moved["shot.matte"].sum() > 0


def test_a_template_gives_a_track_output_that_drives_a_shape(photo_plates, tmp_path):
    templates(tmp_path)
    head = f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{photo_plates}'}}\n"
    through = graph.load(head + f"  shot: {{type: template, file: '{tmp_path}/follow.yaml', "
                                f"plate: plate}}\n"
                                f"  e: {{type: ellipse, like: plate, track: shot.motion, "
                                f"center: [64, 50], radius: [20, 12]}}\n")
    flat = graph.load(head + "  t: {type: track, input: plate, points: [[50, 40], [80, 60]], "
                             "search: 24}\n"
                             "  e: {type: ellipse, like: plate, track: t, center: [64, 50], "
                             "radius: [20, 12]}\n")
    ours = through.evaluate(["shot.motion", "e"], frame=2, memory=None)
    theirs = flat.evaluate(["t", "e"], frame=2, memory=None)
    np.testing.assert_array_equal(ours["shot.motion"], theirs["t"])
    np.testing.assert_array_equal(ours["e"], theirs["e"])
    np.testing.assert_allclose(ours["shot.motion"][:2, 2], [3.5, -2.25], atol=0.1)


def test_template_track_ports_are_type_checked(plate, tmp_path):
    templates(tmp_path)
    head = f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{plate}'}}\n"
    with pytest.raises(GraphError, match="template input 'motion' takes a track, but "
                                         "'plate' gives an image"):
        graph.load(head + f"  shot: {{type: template, file: '{tmp_path}/roto.yaml', "
                          f"plate: plate, motion: plate}}\n")
    with pytest.raises(GraphError, match=r"node 'b'.*input 'input' takes an image\|mask, "
                                         r"but 'shot/t' gives a track"):
        graph.load(head + f"  shot: {{type: template, file: '{tmp_path}/follow.yaml', "
                          f"plate: plate}}\n  b: {{type: blur, input: shot.motion}}\n")


def test_a_template_with_a_track_input_loads_on_its_own_and_is_fed(plate, tmp_path):
    templates(tmp_path)
    g = graph.load(str(tmp_path / "roto.yaml"))
    image = graph.load(f"maskgraph: 1\nnodes:\n  p: {{type: read, path: '{plate}'}}\n") \
        .evaluate(["p"], memory=None)["p"]
    track = np.zeros((4, 3), np.float32)
    track[:3] = np.eye(3)
    matte = g.evaluate(["matte"], feed={"plate": image, "motion": track}, memory=None)["matte"]
    assert matte.shape == image.shape[:2] and matte[40, 30] == 1 and matte[10, 10] == 0
    with pytest.raises(GraphError, match="expected a track"):
        g.evaluate(["matte"], feed={"plate": image, "motion": image[..., 0]}, memory=None)
