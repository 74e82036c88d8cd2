"""The dense-flow kernels of propagate (nodes/kernels/flow.py) against SciPy and OpenCV."""
import cv2
import numpy as np
import pytest
from scipy import ndimage

from nodes.kernels import flow as kernels
from nodes.propagate import dense_flow


@pytest.mark.parametrize("shape, radius", [((5, 270, 480), 4), ((1, 7, 300), 6),
                                           ((2, 33, 129), 3)])
def test_box_mean_equals_scipy_uniform_filter_with_held_edges(shape, radius):
    planes = np.random.default_rng(3).random(shape, dtype=np.float32)
    out = np.empty_like(planes)
    kernels.box_mean(planes, radius, np.empty_like(planes), out)
    expected = ndimage.uniform_filter(planes.astype(np.float64), (1, 2 * radius + 1,
                                                                  2 * radius + 1),
                                      mode="nearest")
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_dense_flow_recovers_a_sub_pixel_shift_of_a_real_photo():
    photo = pytest.importorskip("skimage.data").camera().astype(np.float32) / 255
    first = np.ascontiguousarray(cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA))
    second = cv2.warpAffine(first, np.float32([[1, 0, 2.4], [0, 1, -1.3]]), (256, 256),
                            flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    flow = dense_flow(first, np.ascontiguousarray(second))
    inner = flow[:, 32:-32, 32:-32]
    assert abs(np.median(inner[0]) - 2.4) < 0.1 and abs(np.median(inner[1]) + 1.3) < 0.1
