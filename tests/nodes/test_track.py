"""track: sub-pixel accuracy on a real photo moved by known steps, against OpenCV's
pyramidal Lucas-Kanade chained frame to frame; lost points; the track port type."""
import math
import warnings

import cv2
import numpy as np
import pytest

import graph
from graph.errors import GraphError
from nodes import track as track_nodes

FRAMES = 30
POINTS = [[62.3, 46.2], [206.3, 38.4], [70.4, 118.3], [94.2, 174.6]]


def motion(index):
    """The 3x3 matrix (continuous pixel coordinates) of frame `index` (0-based): a slow
    turn (0.4 degrees a frame), a slight zoom and sub-pixel steps."""
    angle, scale = math.radians(0.4 * index), 1 + 0.002 * index
    centre = np.array([128.0, 128.0])
    linear = scale * np.array([[math.cos(angle), -math.sin(angle)],
                               [math.sin(angle), math.cos(angle)]])
    shift = centre + np.array([0.37 * index, -0.23 * index]) - linear @ centre
    return np.vstack([np.hstack([linear, shift[:, None]]), [0, 0, 1]])


def moved_frames():
    """FRAMES 8-bit RGB frames of a real photo (scikit-image's astronaut) under `motion`."""
    photo = pytest.importorskip("skimage.data").astronaut()[60:316, 180:436]
    to_index = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    frames = []
    for index in range(FRAMES):
        matrix = np.linalg.inv(to_index) @ motion(index) @ to_index
        frames.append(cv2.warpAffine(photo, matrix[:2], (256, 256), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_REFLECT))
    return frames


def truth(index, points):
    points = np.asarray(points, np.float64)
    return (motion(index) @ np.hstack([points, np.ones((len(points), 1))]).T).T[:, :2]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moved")
    frames = moved_frames()
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"plate.{index + 1:04d}.png"), frame[:, :, ::-1])
    return folder, frames


def track_graph(folder, points, **params):
    extra = "".join(f", {key}: {value}" for key, value in params.items())
    return graph.load(f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{folder}/plate.####.png'}}\n"
                      f"  t: {{type: track, input: plate, points: {points}{extra}}}\n")


def opencv_chained(frames, points):
    """calcOpticalFlowPyrLK from each frame to the next (OpenCV's pixel-centre origin)."""
    grays = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    current = np.asarray(points, np.float32).reshape(-1, 1, 2) - 0.5
    found = [current.reshape(-1, 2) + 0.5]
    for previous, following in zip(grays, grays[1:]):
        current, _, _ = cv2.calcOpticalFlowPyrLK(previous, following, current, None,
                                                 winSize=(31, 31), maxLevel=3)
        found.append(current.reshape(-1, 2) + 0.5)
    return found


def test_track_is_sub_pixel_and_beats_chained_opencv_lk(sequence):
    folder, frames = sequence
    g = track_graph(folder, POINTS)
    ours, theirs = [], []
    opencv = opencv_chained(frames, POINTS)
    for index in range(FRAMES):
        value = g.evaluate(["t"], frame=index + 1, memory=None)["t"]
        assert value.shape == (3 + len(POINTS), 3)
        expected = truth(index, POINTS)
        assert (value[3:, 2] == 0).all(), f"frame {index + 1}: a point was flagged lost"
        ours.append(np.hypot(*(value[3:, :2] - expected).T))
        theirs.append(np.hypot(*(opencv[index] - expected).T))
    ours, theirs = np.mean(ours), np.mean(theirs)
    print(f"mean error: track {ours:.4f} px, OpenCV LK chained {theirs:.4f} px")
    assert ours <= 0.1 and ours < theirs


def test_two_points_give_rotation_and_scale_four_a_perspective(sequence):
    folder, _ = sequence
    index = 20
    for points in (POINTS[:2], POINTS):
        value = track_graph(folder, points).evaluate(["t"], frame=index + 1, memory=None)["t"]
        matrix = value[:3].astype(np.float64)
        probe = np.array([[128.0, 100.0, 1.0], [90.0, 60.0, 1.0]])  # among the points
        mapped = (matrix @ probe.T).T
        mapped = mapped[:, :2] / mapped[:, 2:]
        np.testing.assert_allclose(mapped, truth(index, probe[:, :2]), atol=0.15)


def test_one_point_is_a_translation(sequence):
    folder, _ = sequence
    value = track_graph(folder, POINTS[:1]).evaluate(["t"], frame=11, memory=None)["t"]
    np.testing.assert_allclose(value[:2, :2], np.eye(2), atol=0)
    np.testing.assert_allclose(value[:2, 2], value[3, :2] - POINTS[0], atol=1e-4)


def test_occluded_point_is_lost_not_drifting(tmp_path, sequence):
    folder, frames = sequence
    occluded = [frame.copy() for frame in frames]
    for index in range(10, FRAMES):  # a grey card covers the second point from frame 11
        x, y = truth(index, [POINTS[1]])[0]
        cv2.rectangle(occluded[index], (int(x) - 25, int(y) - 25), (int(x) + 25, int(y) + 25),
                      (128, 128, 128), -1)
    for index, frame in enumerate(occluded):
        cv2.imwrite(str(tmp_path / f"plate.{index + 1:04d}.png"), frame[:, :, ::-1])
    g = track_graph(tmp_path, POINTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = g.evaluate(["t"], frame=8, memory=None)["t"]
        after = g.evaluate(["t"], frame=20, memory=None)["t"]
    assert before[4, 2] == 0 and after[4, 2] == 1
    assert (after[[3, 5, 6], 2] == 0).all()
    matrix = after[:3].astype(np.float64)  # fitted to the three points still seen
    centre = matrix @ [128.0, 128.0, 1.0]
    np.testing.assert_allclose(centre[:2] / centre[2], truth(19, [[128.0, 128.0]])[0], atol=0.2)


def test_flat_area_and_outside_point_warn_and_are_lost(tmp_path, sequence):
    folder, frames = sequence
    flat = [frame.copy() for frame in frames]
    for frame in flat:
        frame[:60, 180:] = 90  # a flat patch
    for index, frame in enumerate(flat):
        cv2.imwrite(str(tmp_path / f"plate.{index + 1:04d}.png"), frame[:, :, ::-1])
    g = track_graph(tmp_path, [[230.0, 25.0], [300.0, 40.0], POINTS[0]])
    with pytest.warns(UserWarning) as caught:
        value = g.evaluate(["t"], frame=3, memory=None)["t"]
    messages = " ".join(str(w.message) for w in caught)
    assert "point 0" in messages and "flat" in messages
    assert "point 1" in messages and "outside" in messages
    assert list(value[3:, 2]) == [1, 1, 0]


def test_track_into_an_image_port_is_a_placed_load_error(sequence):
    folder, _ = sequence
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{folder}/plate.####.png'}}\n"
            f"  t: {{type: track, input: plate, points: [[50, 50]]}}\n"
            f"  g: {{type: grade, input: t}}\n")
    with pytest.raises(GraphError) as caught:
        graph.load(text)
    assert "input 'input' takes an image, but 't' gives a track" in str(caught.value)


def test_fit_transform_matches_opencv_homography():
    rng = np.random.default_rng(3)
    source = rng.uniform(0, 200, (6, 2))
    matrix = np.array([[1.05, 0.04, 3.0], [-0.03, 0.97, -2.0], [1e-4, -2e-4, 1.0]])
    target = (matrix @ np.hstack([source, np.ones((6, 1))]).T).T
    target = target[:, :2] / target[:, 2:]
    ours = track_nodes.fit_transform(source, target, np.zeros(6, bool))
    reference, _ = cv2.findHomography(source, target, 0)
    np.testing.assert_allclose(ours / ours[2, 2], reference / reference[2, 2], atol=1e-5)
    np.testing.assert_allclose(ours / ours[2, 2], matrix, atol=1e-9)


def test_point_moving_beyond_the_search_is_lost_not_a_crash(sequence):
    folder, _ = sequence
    g = track_graph(folder, POINTS[:1], search=3)  # frame 30 is 14 px and 12 degrees away
    near = g.evaluate(["t"], frame=3, memory=None)["t"]
    far = g.evaluate(["t"], frame=30, memory=None)["t"]
    assert near[3, 2] == 0 and far[3, 2] == 1
    assert np.isfinite(far).all()
