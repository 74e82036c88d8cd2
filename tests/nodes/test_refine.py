"""refine: closed-form matting in a band, against pymatting and on composites with a
known soft alpha built from real photographs (tests/matting_data.py)."""
import cv2
import numpy as np
import pytest

import graph
from nodes import matting, matting_solve
from nodes.kernels import matting as kernels
from tests.matting_data import coarse_mask, matting_composite, sad

SIZE = 384


@pytest.fixture(scope="module")
def composite():
    return matting_composite(SIZE, "coffee_defocused")


@pytest.fixture(scope="module")
def refined(composite):
    coarse = coarse_mask(composite.alpha)
    result = matting.refine.compute(composite.image, coarse, band=None, method="closed_form",
                                    eps=1e-7, prior=0.001)
    return coarse, result


@pytest.mark.parametrize("box", [(6, 18, 8, 22), (0, 18, 0, 30), (1, 23, 2, 20)])
def test_laplacian_matches_pymatting_matrix(box):
    """Our matrix-free L_UU, its diagonal and -L_UK alpha_K equal pymatting's sparse
    Laplacian, also where the band touches the picture's border."""
    pymatting = pytest.importorskip("pymatting")
    rng = np.random.default_rng(0)
    guide = rng.random((24, 30, 3)).astype(np.float32)
    mask = np.zeros((24, 30), np.float32)
    mask[box[0]:box[1], box[2]:box[3]] = 1
    trimap = matting_solve.trimap(mask, 2.5)
    system = matting_solve.BandSystem(guide, trimap, 1e-5, 0.0)
    laplacian = pymatting.cf_laplacian(guide.astype(np.float64), epsilon=1e-5).tocsr()
    unknown = np.flatnonzero(trimap.unknown)
    vector = rng.random(unknown.size)
    expected = laplacian[unknown][:, unknown] @ vector
    np.testing.assert_allclose(system.apply(vector), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(system.diagonal, laplacian.diagonal()[unknown], atol=1e-9)
    known = np.setdiff1d(np.arange(guide.shape[0] * guide.shape[1]), unknown)
    expected_rhs = -laplacian[unknown][:, known] @ trimap.known.reshape(-1)[known]
    np.testing.assert_allclose(system.rhs, expected_rhs, rtol=1e-6, atol=1e-6)


def test_hard_regions_are_kept_exactly(composite, refined):
    coarse, result = refined
    trimap = result["trimap"]
    matte = result["output"]
    assert np.array_equal(matte[trimap == 1], np.ones(np.count_nonzero(trimap == 1)))
    assert np.array_equal(matte[trimap == 0], np.zeros(np.count_nonzero(trimap == 0)))
    assert 0.0 <= matte.min() and matte.max() <= 1.0 and matte.dtype == np.float32


def test_refine_beats_the_coarse_mask_the_guided_filter_and_pymatting(composite, refined):
    """SAD against the true alpha: well under the coarse mask's, under a guided filter's,
    and at most pymatting's closed-form on the same trimap."""
    pymatting = pytest.importorskip("pymatting")
    coarse, result = refined
    ours = sad(result["output"], composite.alpha)
    coarse_sad = sad(coarse, composite.alpha)
    guided = matting.refine.compute(composite.image, coarse, band=None, method="guided",
                                    eps=1e-7, prior=0.0)["output"]
    trimap = result["trimap"]
    guide = matting_solve.linear_guide(composite.image).astype(np.float64)
    reference = pymatting.estimate_alpha_cf(guide, trimap.astype(np.float64),
                                            laplacian_kwargs={"epsilon": 1e-7})
    print(f"SAD coarse {coarse_sad:.3f} guided {sad(guided, composite.alpha):.3f} "
          f"pymatting {sad(reference, composite.alpha):.3f} refine {ours:.3f}")
    assert ours <= 0.5 * coarse_sad
    assert ours < sad(guided, composite.alpha)
    assert ours <= sad(reference, composite.alpha)


def test_solution_converges_to_pymatting_closed_form():
    """Without the prior and with a tight tolerance the band solve is closed-form
    matting: equal to pymatting's."""
    pymatting = pytest.importorskip("pymatting")
    composite = matting_composite(128, "rocket")
    coarse = coarse_mask(composite.alpha)
    trimap = matting_solve.trimap(coarse, 5.0)
    guide = matting_solve.linear_guide(composite.image)
    ours = matting_solve.solve_alpha(guide, trimap, 1e-6, 0.0, tolerance=1e-9)
    reference = pymatting.estimate_alpha_cf(
        guide.astype(np.float64), np.where(trimap.unknown, 0.5, trimap.known),
        laplacian_kwargs={"epsilon": 1e-6})
    assert np.abs(ours - reference).mean() < 1e-4
    assert np.abs(ours - reference).max() < 1e-2


def test_affine_coefficients_match_a_least_squares_fit():
    """Each window's model a . I + b is the ridge least-squares fit of its nine pixels."""
    rng = np.random.default_rng(3)
    guide = rng.random((3, 7, 9)).astype(np.float32)
    alpha = rng.random((7, 9)).astype(np.float32)
    coeffs = np.empty((4, 7, 9), np.float32)
    kernels.affine_coefficients(guide, alpha, 1e-3, coeffs)
    for y, x in [(3, 4), (1, 1), (0, 0), (6, 8)]:
        rows = np.clip(np.arange(y - 1, y + 2), 0, 6)
        columns = np.clip(np.arange(x - 1, x + 2), 0, 8)
        colour = guide[:, rows][:, :, columns].reshape(3, 9).T.astype(np.float64)
        value = alpha[rows][:, columns].reshape(9).astype(np.float64)
        centred = colour - colour.mean(axis=0)
        a = np.linalg.solve(centred.T @ centred / 9 + 1e-3 * np.eye(3),
                            centred.T @ (value - value.mean()) / 9)
        b = value.mean() - a @ colour.mean(axis=0)
        np.testing.assert_allclose(coeffs[:, y, x], np.append(a, b), rtol=1e-4, atol=1e-4)


def test_guided_upsampling_recovers_a_colour_edge():
    """A matte that follows the picture's colours comes back at twice the size, with the
    fine edge the half-size matte cannot hold."""
    composite = matting_composite(192, "rocket")
    guide = matting_solve.linear_guide(composite.image)
    small = cv2.resize(guide, (96, 96), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(composite.alpha, (96, 96), interpolation=cv2.INTER_AREA)
    everywhere = np.ones((192, 192), bool)
    upsampled = matting_solve.guided_upsample(alpha, small, guide, everywhere, 1e-6)
    bilinear = cv2.resize(alpha, (192, 192), interpolation=cv2.INTER_LINEAR)
    error = np.abs(np.clip(upsampled, 0, 1).reshape(192, 192) - composite.alpha).sum()
    assert error < 0.8 * np.abs(bilinear - composite.alpha).sum()


def test_automatic_band_follows_the_mask_edge():
    sharp = np.zeros((200, 200), np.float32)
    sharp[50:150, 50:150] = 1
    soft = coarse_mask(sharp, factor=8)
    assert matting_solve.automatic_band(sharp) == 4.0
    assert matting_solve.automatic_band(soft) > matting_solve.automatic_band(sharp)


def test_uniform_masks_pass_through():
    image = np.random.default_rng(1).random((40, 50, 4)).astype(np.float32)
    for value in (0.0, 1.0):
        mask = np.full((40, 50), value, np.float32)
        result = matting.refine.compute(image, mask, band=None, method="closed_form",
                                        eps=1e-7, prior=0.001)
        assert np.array_equal(result["output"], mask)


GRAPH = """
maskgraph: 1
nodes:
  plate: {type: constant, color: [0.2, 0.3, 0.4], width: 80, height: 60}
  shape: {type: ellipse, like: plate, center: [40, 30], radius: [20, 15]}
  small: {type: ellipse, width: 10, height: 10, center: [5, 5], radius: [3, 3]}
  matte: {type: refine, input: plate, mask: shape}
  bad:   {type: refine, input: plate, mask: small}
"""


def test_refine_in_a_graph_and_size_error(tmp_path):
    path = tmp_path / "refine.yaml"
    path.write_text(GRAPH)
    plate = np.random.default_rng(2).random((60, 80, 4)).astype(np.float32)
    g = graph.load(str(path))
    result = g.evaluate(outputs=["matte"], feed={"plate": plate})["matte"]
    assert result.shape == (60, 80)
    with pytest.raises(graph.NodeFailure, match="sizes differ"):
        g.evaluate(outputs=["bad"], feed={"plate": plate})
