"""rectangle, ellipse, polygon, spline: exact coverage against analytic areas and a
supersampled point-in-shape reference (matplotlib's Path); feather against SciPy."""
import math

import numpy as np
import pytest

from graph.errors import NodeInputError, ParamValueError
from graph.spec import coerce_param
from nodes.shapes import ellipse, polygon, rectangle, spline

mpl_path = pytest.importorskip("matplotlib.path", reason="matplotlib is the inside test")
ndimage = pytest.importorskip("scipy.ndimage", reason="SciPy is the feather reference")
special = pytest.importorskip("scipy.special", reason="SciPy's erf for the edge profile")

SUPERSAMPLE = 16


def supersampled(inside, height, width):
    """Coverage as the fraction of SUPERSAMPLE^2 sub-pixel centres where inside(x, y)."""
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    ys = (np.arange(height)[:, None] + offsets[None, :]).ravel()
    xs = (np.arange(width)[:, None] + offsets[None, :]).ravel()
    grid_x, grid_y = np.meshgrid(xs, ys)
    hits = inside(grid_x, grid_y)
    return hits.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE).mean(axis=(1, 3))


def inside_polygon(points):
    path = mpl_path.Path(np.asarray(points, np.float64))
    return lambda x, y: path.contains_points(np.stack([x.ravel(), y.ravel()], 1)).reshape(x.shape)


def shoelace(points):
    x, y = np.asarray(points, np.float64).T
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def test_rectangle_fractional_edges_exact():
    box = (10.3, 20.7, 100.2, 80.45)
    mask = rectangle.compute(box=box, width=128, height=96)
    assert mask.dtype == np.float32 and mask.shape == (96, 128)
    x = np.arange(128)
    y = np.arange(96)
    cover_x = np.clip(np.minimum(x + 1, box[2]) - np.maximum(x, box[0]), 0, None)
    cover_y = np.clip(np.minimum(y + 1, box[3]) - np.maximum(y, box[1]), 0, None)
    np.testing.assert_allclose(mask, np.outer(cover_y, cover_x), atol=1e-6)
    area = (box[2] - box[0]) * (box[3] - box[1])
    assert abs(mask.sum() - area) <= 1e-3 * area


def test_rectangle_leaving_the_canvas():
    mask = rectangle.compute(box=(-10.5, 50.25, 40.5, 200.0), width=64, height=64)
    assert abs(mask.sum() - 40.5 * (64 - 50.25)) < 1e-3


@pytest.mark.parametrize("rotation", [0.0, 30.0, 117.5])
def test_rotated_ellipse_area_and_coverage(rotation):
    center, radius = (60.3, 45.8), (38.7, 17.2)
    mask = ellipse.compute(center=center, radius=radius, rotation=rotation, width=128, height=96)
    area = math.pi * radius[0] * radius[1]
    assert abs(mask.sum() - area) <= 1e-3 * area
    turn = math.radians(rotation)

    def inside(x, y):
        dx, dy = x - center[0], y - center[1]
        u = dx * math.cos(turn) - dy * math.sin(turn)
        v = dx * math.sin(turn) + dy * math.cos(turn)
        return (u / radius[0]) ** 2 + (v / radius[1]) ** 2 <= 1
    reference = supersampled(inside, 96, 128)
    assert np.abs(mask - reference).max() < 0.06
    assert np.abs(mask - reference).mean() < 2e-3


def test_ellipse_rotation_is_counter_clockwise_on_screen():
    mask = ellipse.compute(center=(32, 32), radius=(30, 5), rotation=45, width=64, height=64)
    assert mask[17, 46] > 0.9 and mask[46, 46] < 0.1    # up-right arm, y down


@pytest.mark.parametrize("points", [
    [(10.3, 5.2), (120.7, 30.1), (60.2, 90.9)],
    [(20.5, 10.25), (100.75, 12.5), (70.1, 45.3), (110.6, 85.9), (15.2, 80.4), (40.7, 47.0)],
    [(64 + 40 * math.cos(a) * (1 if i % 2 else 0.45), 48 + 40 * math.sin(a) * (1 if i % 2 else 0.45))
     for i, a in enumerate(np.linspace(0, 2 * math.pi, 10, endpoint=False))],
])
def test_polygon_area_and_coverage(points):
    mask = polygon.compute(points=points, width=128, height=96)
    area = shoelace(points)
    assert abs(mask.sum() - area) <= 1e-3 * area
    reference = supersampled(inside_polygon(points), 96, 128)
    assert np.abs(mask - reference).max() < 0.07
    assert np.abs(mask - reference).mean() < 2e-3


def test_polygon_partly_off_canvas_matches_reference():
    points = [(-20.0, -10.0), (150.5, 30.1), (60.2, 120.9)]
    mask = polygon.compute(points=points, width=128, height=96)
    reference = supersampled(inside_polygon(points), 96, 128)
    assert np.abs(mask - reference).max() < 0.07
    assert abs(mask.sum() - reference.sum()) < 1e-3 * reference.sum()


def test_polygon_orientation_does_not_matter():
    points = [(10.5, 10.5), (50.25, 12.0), (40.0, 50.75)]
    np.testing.assert_allclose(polygon.compute(points=points, width=64, height=64),
                               polygon.compute(points=points[::-1], width=64, height=64),
                               atol=1e-6)


def dense_bezier_outline(anchors, handles, samples=4000):
    """A closed cubic Bezier spline sampled densely (the test's own evaluation)."""
    anchors = np.asarray(anchors, np.float64)
    handles = np.asarray(handles, np.float64)
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    pieces = []
    for i in range(len(anchors)):
        j = (i + 1) % len(anchors)
        p0, p1, p2, p3 = anchors[i], handles[2 * i + 1], handles[2 * j], anchors[j]
        pieces.append((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1
                      + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3)
    return np.concatenate(pieces)


def test_spline_with_handles_area_and_coverage():
    anchors = [(20.0, 20.0), (100.0, 25.0), (90.0, 80.0), (25.0, 70.0)]
    handles = [(10.0, 45.0), (45.0, 0.0), (80.0, 5.0), (120.0, 40.0),
               (110.0, 90.0), (60.0, 95.0), (45.0, 80.0), (5.0, 60.0)]
    mask = spline.compute(points=anchors, handles=handles, width=128, height=96)
    outline = dense_bezier_outline(anchors, handles)
    area = shoelace(outline)
    assert abs(mask.sum() - area) <= 1e-3 * area
    coarse_outline = dense_bezier_outline(anchors, handles, samples=200)
    reference = supersampled(inside_polygon(coarse_outline), 96, 128)
    assert np.abs(mask - reference).mean() < 2e-3


def test_spline_without_handles_is_smooth_through_points():
    anchors = [(32.0, 8.0), (56.0, 32.0), (32.0, 56.0), (8.0, 32.0)]
    mask = spline.compute(points=anchors, width=64, height=64)
    square_area = shoelace(anchors)
    assert mask.sum() > square_area * 1.1          # bulges out between the anchors
    assert mask.sum() < math.pi * 24 ** 2 * 1.05    # but stays close to the circle
    for x, y in anchors:                            # the curve passes through each anchor
        toward_centre = np.sign([32 - x, 32 - y]) * 0.5
        inside_x, inside_y = np.floor(np.array([x, y]) + toward_centre).astype(int)
        outside_x, outside_y = np.floor(np.array([x, y]) - toward_centre).astype(int)
        assert mask[inside_y, inside_x] > 0.9
        assert mask[outside_y, outside_x] < 0.1


def edge_width(profile):
    """Distance between the 1% and 99% crossings of a rising profile (linear interp)."""
    positions = np.arange(profile.size) + 0.5

    def crossing(level):
        index = np.argmax(profile >= level)
        low, high = profile[index - 1], profile[index]
        return positions[index - 1] + (level - low) / (high - low)
    return crossing(0.99) - crossing(0.01)


@pytest.mark.parametrize("feather", [4.0, 10.0, 25.0])
def test_feather_is_a_monotone_ramp_of_the_requested_width(feather):
    mask = rectangle.compute(box=(100.0, 20.0, 300.0, 80.0), width=400, height=100,
                             feather=feather)
    profile = mask[50, :200].astype(np.float64)
    assert np.all(np.diff(profile) >= -1e-6)
    assert abs(edge_width(profile) - feather) < 0.5
    sigma = feather / 4.65
    centres = np.arange(200) + 0.5
    analytic = 0.5 * (1 + special.erf((centres - 100.0) / (sigma * math.sqrt(2))))
    assert np.abs(profile - analytic).max() < 0.02


def test_feather_matches_scipy_gaussian_of_the_hard_shape():
    points = [(30.5, 20.25), (150.0, 40.0), (100.0, 110.0), (20.0, 90.0)]
    soft = polygon.compute(points=points, width=180, height=128, feather=9.3)
    hard = polygon.compute(points=points, width=180, height=128)
    reference = ndimage.gaussian_filter(hard.astype(np.float64), 9.3 / 4.65, mode="constant",
                                        truncate=4.0)
    assert np.abs(soft - reference).max() < 2e-3
    assert abs(soft.sum() - hard.sum()) < 1e-3 * hard.sum()


def test_feather_beyond_the_canvas_sees_the_shape_outside():
    soft = rectangle.compute(box=(-50.0, -50.0, 30.0, 200.0), width=64, height=64, feather=12)
    assert np.all(soft[:, 0] > 0.999)


def test_like_input_and_invert():
    like_image = np.zeros((40, 70, 4), np.float32)
    like_mask = np.zeros((40, 70), np.float32)
    for like in (like_image, like_mask):
        mask = ellipse.compute(like, center=(35, 20), radius=(10, 8))
        assert mask.shape == (40, 70)
    inverted = ellipse.compute(like_mask, center=(35, 20), radius=(10, 8), invert=True)
    np.testing.assert_allclose(inverted, 1 - mask, atol=1e-6)


def test_no_canvas_size_is_a_node_input_error():
    with pytest.raises(NodeInputError, match="canvas"):
        rectangle.compute(box=(0, 0, 1, 1))


def test_4k_masks_are_exact_in_total():
    mask = ellipse.compute(center=(1920.3, 1080.7), radius=(1500.2, 800.9), rotation=20,
                           width=3840, height=2160)
    area = math.pi * 1500.2 * 800.9
    assert abs(mask.sum(dtype=np.float64) - area) <= 1e-4 * area


# ------------------------------------------------------------------ load-time errors

def test_bad_shape_params():
    with pytest.raises(ParamValueError, match="at least 3"):
        coerce_param(polygon.param("points"), [[0, 0], [1, 1]])
    with pytest.raises(ParamValueError):
        coerce_param(ellipse.param("radius"), [3, -1])
    with pytest.raises(ParamValueError):
        coerce_param(rectangle.param("feather"), -2)
    assert ellipse.check({"center": (1, 1), "radius": (0.0, 4.0), "width": 8, "height": 8},
                         set())
    assert rectangle.check({"box": (5, 5, 5, 9), "width": 8, "height": 8}, set())
    assert polygon.check({"points": ((0, 0), (1, 1), (2, 2)), "width": 8, "height": 8}, set())
    assert spline.check({"points": ((0, 0), (1, 1), (2, 0)), "handles": ((0, 0),),
                         "width": 8, "height": 8}, set())
    assert rectangle.check({"box": (0, 0, 1, 1)}, set())            # no canvas
    assert not rectangle.check({"box": (0, 0, 1, 1)}, {"like"})


def test_load_errors_name_node_and_line():
    graph = pytest.importorskip("graph")
    text = """maskgraph: 1
nodes:
  roto: {type: polygon, points: [[0, 0], [10, 0]], width: 32, height: 32}
  oval: {type: ellipse, center: [5, 5], radius: [0, 3], width: 32, height: 32}
  key:  {type: chroma_key, input: oval, screen: [0.1, 0.8]}
"""
    with pytest.raises(graph.GraphError) as error:
        graph.load(text)
    message = str(error.value)
    assert "roto" in message and ":3:" in message
    assert "oval" in message and ":4:" in message
    assert "key" in message and ":5:" in message


def test_animated_points_in_a_graph():
    graph = pytest.importorskip("graph")
    text = """maskgraph: 1
nodes:
  roto:
    type: polygon
    width: 64
    height: 48
    points: {keys: {1: [[4, 4], [20, 4], [12, 20]], 11: [[24, 4], [40, 4], [32, 20]]},
             interp: linear}
"""
    loaded = graph.load(text)
    first = loaded.evaluate(outputs=["roto"], frame=1)["roto"]
    middle = loaded.evaluate(outputs=["roto"], frame=6)["roto"]
    expected = polygon.compute(points=[[14, 4], [30, 4], [22, 20]], width=64, height=48)
    np.testing.assert_allclose(middle, expected, atol=1e-6)
    assert abs(first.sum() - middle.sum()) < 1e-3
