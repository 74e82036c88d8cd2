"""decontaminate: multilevel foreground estimation against pymatting's and the truth of
composites built from real photographs (tests/matting_data.py)."""
import numpy as np
import pytest

import graph
from nodes import matting
from tests.matting_data import matting_composite, photo

SIZE = 256


@pytest.fixture(scope="module")
def composite():
    return matting_composite(SIZE, "coffee")


def decontaminated(composite, **params):
    values = {"method": "multilevel", "regularization": 1e-5, "gradient_weight": 1.0,
              "pull": 0.02}
    values.update(params)
    return matting.decontaminate.compute(composite.image, composite.alpha, **values)


def edge_band(alpha):
    return (alpha > 0.05) & (alpha < 0.95)


def test_foreground_matches_pymatting(composite):
    """The smooth multilevel estimate is Germer et al.'s: pymatting's
    estimate_foreground_ml gives the same colours (to float rounding)."""
    pymatting = pytest.importorskip("pymatting")
    ours, _ = matting.estimate_foreground(np.ascontiguousarray(composite.image[..., :3]),
                                          composite.alpha)
    reference = pymatting.estimate_foreground_ml(
        composite.image[..., :3].astype(np.float64), composite.alpha.astype(np.float64))
    difference = np.abs(ours - reference)
    assert difference[edge_band(composite.alpha)].max() < 1e-4
    assert difference.mean() < 1e-5


def test_new_comp_edge_error_at_most_0_7_of_the_plain_cut(composite):
    """Over a new background the edge band's colour error is <= 0.7x the plain cut's."""
    new_background = photo(lambda: np.full((4, 4, 3), (40, 90, 200), np.uint8), SIZE, SIZE)
    alpha = composite.alpha
    truth = composite.foreground * alpha[..., None] + new_background * (1 - alpha[..., None])
    cut = decontaminated(composite)
    plain = composite.image[..., :3] * alpha[..., None]
    band = edge_band(alpha)
    error = lambda rgb: np.abs(rgb + new_background * (1 - alpha[..., None]) - truth)[band].mean()  # noqa: E731
    print(f"edge error: decontaminated {error(cut[..., :3]):.4f}, plain {error(plain):.4f}")
    assert error(cut[..., :3]) <= 0.7 * error(plain)


def test_output_is_premultiplied_by_the_matte(composite):
    cut = decontaminated(composite)
    assert cut.shape == composite.image.shape and cut.dtype == np.float32
    np.testing.assert_array_equal(cut[..., 3], composite.alpha)
    assert np.all(cut[..., :3] <= cut[..., 3:] * max(1.0, composite.image.max()) + 1e-6)
    inside = composite.alpha == 1
    np.testing.assert_allclose(cut[inside][:, :3], composite.image[inside][:, :3], atol=0.02)


def test_method_none_is_the_plain_premultiplied_cut(composite):
    cut = decontaminated(composite, method="none")
    expected = composite.image[..., :3] * composite.alpha[..., None]
    np.testing.assert_allclose(cut[..., :3], expected, rtol=1e-6)


GRAPH = """
maskgraph: 1
nodes:
  plate: {type: constant, color: [0.2, 0.3, 0.4], width: 64, height: 48}
  matte: {type: ellipse, like: plate, center: [32, 24], radius: [20, 15], feather: 6}
  where: {type: rectangle, like: plate, box: [0, 0, 32, 48]}
  cut:   {type: decontaminate, input: plate, matte: matte, mask: where}
"""


def test_maskable_in_a_graph(tmp_path):
    """Outside the stencil the input passes through bit for bit."""
    path = tmp_path / "cut.yaml"
    path.write_text(GRAPH)
    plate = np.random.default_rng(3).random((48, 64, 4)).astype(np.float32)
    plate[..., 3] = 1
    out = graph.load(str(path)).evaluate(outputs=["cut"], feed={"plate": plate})["cut"]
    np.testing.assert_array_equal(out[:, 33:], plate[:, 33:])
    assert not np.array_equal(out[:, :30], plate[:, :30])
