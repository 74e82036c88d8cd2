"""Numba kernels: pure functions on arrays, no graph knowledge."""
