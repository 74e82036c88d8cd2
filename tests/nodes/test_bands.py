"""Row bands on threads (nodes/kernels/bands.py): every row once, results in row order."""
import numba
import numpy as np
import pytest

from nodes.kernels import bands, maskops


@pytest.mark.parametrize("rows,row_size,threads", [(1, 10, 2), (7, 1, 2), (2160, 15360, 2),
                                                   (4320, 30720, 16), (100000, 1, 3)])
def test_band_edges_cover_every_row_once(rows, row_size, threads):
    edges = bands.band_edges(rows, row_size, threads)
    assert edges[0] == 0 and edges[-1] == rows
    assert all(low < high for low, high in zip(edges[:-1], edges[1:]))
    assert len(edges) - 1 <= threads * bands.BANDS_PER_THREAD


def test_small_frames_run_as_one_band():
    assert bands.band_edges(64, 64, 2) == [0, 64]


def test_count_nonfinite_over_bands_matches_numpy():
    values = np.random.default_rng(3).random(1_000_003).astype(np.float32)
    values[::997] = np.nan
    values[5::1999] = np.inf
    counts = bands.run_bands(maskops.count_nonfinite, values.size, 1, values)
    assert numba.get_num_threads() == 1 or len(counts) > 1
    assert sum(counts) == np.count_nonzero(~np.isfinite(values))


def test_kernel_error_is_raised_by_run_bands():
    def failing(first, stop):
        raise ValueError(f"band {first}:{stop}")
    with pytest.raises(ValueError, match="band"):
        bands.run_bands(failing, 1000, 1 << 16)
