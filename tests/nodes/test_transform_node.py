"""transform: params and tracks, against SciPy's exact bilinear interpolation and OpenCV's
cubic warp; premultiplied filtering; stabilising a tracked shot."""

import cv2
import numpy as np
import pytest

import graph
from graph.errors import NodeFailure
from nodes import transform as transform_nodes

ndimage = pytest.importorskip("scipy.ndimage")


@pytest.fixture(scope="module")
def photo():
    rgb = pytest.importorskip("skimage.data").astronaut()[::4, ::4] / 255.0
    alpha = np.clip(np.linspace(-0.3, 1.3, 128)[None, :].repeat(128, 0), 0, 1)
    image = np.dstack([rgb ** 2.2 * alpha[..., None], alpha]).astype(np.float32)
    return np.ascontiguousarray(image)


def warp(image, **params):
    defaults = dict(translate=(0.0, 0.0), rotate=0.0, scale=(1.0, 1.0), center=None,
                    invert=False, filter="bilinear")
    return transform_nodes.transform.compute(image, None, **{**defaults, **params})


def index_matrix(matrix):
    """A continuous-coordinate matrix in array-index coordinates (centres at i)."""
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    return np.linalg.inv(shift) @ matrix @ shift


def test_bilinear_equals_scipy_exact_interpolation(photo):
    params = dict(translate=(7.3, -4.6), rotate=23.0, scale=(1.2, 0.9), center=(50.0, 70.0))
    ours = warp(photo, **params)
    matrix = transform_nodes.transform_matrix(params["translate"], params["rotate"],
                                              params["scale"], params["center"])
    inverse = index_matrix(np.linalg.inv(matrix))
    rows, columns = np.mgrid[0:128, 0:128].astype(np.float64)
    sx = inverse[0, 0] * columns + inverse[0, 1] * rows + inverse[0, 2]
    sy = inverse[1, 0] * columns + inverse[1, 1] * rows + inverse[1, 2]
    for channel in range(4):
        expected = ndimage.map_coordinates(photo[..., channel].astype(np.float64), [sy, sx],
                                           order=1, mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(ours[..., channel], expected, atol=2e-6)


def test_bicubic_matches_opencv_inter_cubic(photo):
    params = dict(translate=(3.25, 1.5), rotate=-12.0, scale=(1.1, 1.1))
    ours = warp(photo, filter="bicubic", **params)
    matrix = transform_nodes.transform_matrix(params["translate"], params["rotate"],
                                              params["scale"], (64.0, 64.0))
    reference = cv2.warpAffine(photo, index_matrix(matrix)[:2], (128, 128),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
    inner = (slice(20, 108), slice(20, 108))  # OpenCV's fixed-point weights: 1/32 px steps
    assert np.abs(ours[inner] - reference[inner]).mean() < 2e-3


def test_premultiplied_filtering_keeps_edge_colour_pure():
    alpha = np.zeros((64, 64), np.float32)
    cv2.circle(alpha, (32, 32), 20, 1.0, -1, lineType=cv2.LINE_AA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)
    image = np.dstack([alpha, alpha * 0.0, alpha * 0.0, alpha]).astype(np.float32)  # red
    for filter_name in ("bilinear", "bicubic"):
        out = warp(image, translate=(0.37, 0.61), rotate=17.0, filter=filter_name)
        seen = out[..., 3] > 0.02
        straight = out[..., :3][seen] / out[..., 3][seen][:, None]
        np.testing.assert_allclose(straight, np.broadcast_to([1, 0, 0], straight.shape),
                                   atol=1e-4)


def test_invert_undoes_the_transform(photo):
    params = dict(translate=(5.5, -3.25), rotate=30.0, scale=(1.3, 1.3))
    there = warp(photo, **params)
    back = warp(there, invert=True, **params)
    inner = (slice(40, 88), slice(40, 88))
    assert np.abs(back[inner] - photo[inner]).mean() < 0.01


def test_mask_result_is_clamped():
    mask = np.zeros((32, 32), np.float32)
    mask[8:24, 8:24] = 1.0
    out = warp(mask, translate=(0.5, 0.5), filter="bicubic")
    assert out.shape == (32, 32) and out.min() >= 0 and out.max() <= 1


def test_scale_zero_is_a_placed_error(tmp_path):
    cv2.imwrite(str(tmp_path / "p.png"), np.full((8, 8, 3), 100, np.uint8))
    text = (f"maskgraph: 1\nnodes:\n  r: {{type: read, path: '{tmp_path}/p.png'}}\n"
            f"  t: {{type: transform, input: r, scale: [0, 1]}}\n")
    with pytest.raises(NodeFailure, match="node 't' \\(transform\\).*squashes"):
        graph.load(text).evaluate(["t"], memory=None)


def test_track_with_invert_stabilises_a_moving_shot(tmp_path):
    from tests.nodes.test_track import POINTS, motion, moved_frames
    frames = moved_frames()[:12]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"plate.{index + 1:04d}.png"), frame[:, :, ::-1])
    text = (f"maskgraph: 1\nnodes:\n  plate: {{type: read, path: '{tmp_path}/plate.####.png'}}\n"
            f"  t: {{type: track, input: plate, points: {POINTS[:2]}}}\n"
            f"  stable: {{type: transform, input: plate, track: t, invert: true}}\n")
    g = graph.load(text)
    reference = g.evaluate(["plate"], frame=1, memory=None)["plate"]
    inner = (slice(50, 200), slice(50, 200))
    for frame in (6, 12):
        result = g.evaluate(["stable", "plate"], frame=frame, memory=None)
        exact = transform_nodes.transform.compute(
            result["plate"], motion(frame - 1).astype(np.float32), translate=(0, 0), rotate=0,
            scale=(1, 1), center=None, invert=True, filter="bilinear")
        moved_error = np.abs(result["plate"][inner] - reference[inner]).mean()
        stable_error = np.abs(result["stable"][inner] - reference[inner]).mean()
        exact_error = np.abs(exact[inner] - reference[inner]).mean()  # resampling blur only
        assert stable_error < 0.2 * moved_error and stable_error < 1.1 * exact_error
