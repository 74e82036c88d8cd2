"""Biharmonic hole filling: the smoothest surface through the hole's surroundings.

The fill minimises sum_p (Laplacian u)(p)^2 over the pixels p whose 5-point Laplacian
stencil lies in the image, with the known pixels fixed (the discrete biharmonic
equation, as in scikit-image's `inpaint_biharmonic`, in its variational form). The
normal equations (L^T L restricted to the hole) are solved by conjugate gradients, one
independent solve per channel, matrix-free: only the hole and its two-pixel ring are
touched. Arrays are float32 except the solver state (float64); the caller allocates.
"""
import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange
from nodes.kernels import color


@kernel
def apply_normal_operator(field, support, hole, lap, out):
    """out[i] = (L^T L field)(hole[i]) for every hole pixel (flat indices) of one plane.

    field, lap : (H, W) float32; lap is scratch that must be zero on the image border
    (it is only written at `support`: the hole grown by one, minus the image border, so
    a neighbour read across a row end lands on a border zero). out : (N,) float64.
    """
    height, width = field.shape
    size = height * width
    values = field.reshape(size)
    laplacian = lap.reshape(size)
    for order in range(support.shape[0]):
        index = support[order]
        laplacian[index] = (values[index - 1] + values[index + 1] + values[index - width]
                            + values[index + width] - 4.0 * values[index])
    for order in range(hole.shape[0]):
        index = hole[order]
        total = -4.0 * laplacian[index]
        if index >= 1:
            total += laplacian[index - 1]
        if index + 1 < size:
            total += laplacian[index + 1]
        if index >= width:
            total += laplacian[index - width]
        if index + width < size:
            total += laplacian[index + width]
        out[order] = total


@kernel
def _dot(first, second):
    total = 0.0
    for index in range(first.shape[0]):
        total += first[index] * second[index]
    return total


@kernel
def _conjugate_step(solution, residual, direction, product, rho):
    """One CG update of the vectors; returns the new squared residual norm."""
    curvature = _dot(direction, product)
    if curvature <= 0.0:
        return 0.0
    alpha = rho / curvature
    new_rho = 0.0
    for index in range(solution.shape[0]):
        solution[index] += alpha * direction[index]
        residual[index] -= alpha * product[index]
        new_rho += residual[index] * residual[index]
    beta = new_rho / rho
    for index in range(solution.shape[0]):
        direction[index] = residual[index] + beta * direction[index]
    return new_rho


@kernel
def _solve_plane(plane, hole, support, iterations, tolerance, field, lap, state):
    """Conjugate gradients on one channel, in place; returns the number of steps.

    plane, field, lap : (H, W) float32 (field scratch, lap scratch zero on the border);
    state : (4, N) float64 scratch.
    """
    solution, residual, direction, product = state[0], state[1], state[2], state[3]
    values, scratch = plane.reshape(-1), field.reshape(-1)
    scratch[:] = values
    apply_normal_operator(field, support, hole, lap, product)
    scratch[:] = 0.0
    for order in range(hole.shape[0]):
        solution[order] = values[hole[order]]
        residual[order] = -product[order]
        direction[order] = residual[order]
    rho = _dot(residual, residual)
    goal = rho * tolerance * tolerance
    step = 0
    while step < iterations and rho > goal and rho > 1e-30:
        for order in range(hole.shape[0]):
            scratch[hole[order]] = direction[order]
        apply_normal_operator(field, support, hole, lap, product)
        rho = _conjugate_step(solution, residual, direction, product, rho)
        step += 1
    for order in range(hole.shape[0]):
        values[hole[order]] = solution[order]
    return step


@parallel_kernel
def biharmonic_solve(planes, hole, support, iterations, tolerance, fields, laps, state, steps):
    """Fill the hole pixels of `planes` (C, H, W) float32 in place with the biharmonic
    fill: one conjugate-gradient solve per channel, the channels in parallel.

    Parameters
    ----------
    planes : (C, H, W) float32; hole pixels hold the starting guess and receive the result.
    hole, support : int64 flat indices of one plane (see apply_normal_operator); support
        must lie inside the image border.
    iterations : int, most conjugate-gradient steps.
    tolerance : float, a channel stops once its residual norm fell by this factor.
    fields, laps : (C, H, W) float32 scratch, laps zero; state : (C, 4, N) float64
        scratch; steps : (C,) int64, receives each channel's number of steps.
    """
    for channel in prange(planes.shape[0]):
        steps[channel] = _solve_plane(planes[channel], hole, support, iterations, tolerance,
                                      fields[channel], laps[channel], state[channel])


@parallel_kernel
def encode_where(image, near, out):
    """out = `image` (H, W, C) float32 with its first three channels sRGB-encoded where
    `near` (H, W bool) is set, the other channels kept; 0 where `near` is not set."""
    for row in prange(image.shape[0]):
        for column in range(image.shape[1]):
            inside = near[row, column]
            for channel in range(image.shape[2]):
                value = image[row, column, channel]
                if not inside:
                    value = np.float32(0.0)
                elif channel < 3:
                    value = color.srgb_encode(value)
                out[row, column, channel] = value


@kernel
def decode_pixels(values, out):
    """The inverse of encode_pixels."""
    for index in range(values.shape[0]):
        for channel in range(values.shape[1]):
            value = values[index, channel]
            out[index, channel] = color.srgb_decode(value) if channel < 3 else value


@kernel
def channel_range(image, hole, out):
    """out[0, c], out[1, c] = min and max of channel c of `image` (H, W, C) outside `hole`
    (H, W bool); +inf / -inf when every pixel is in the hole."""
    out[0, :] = np.inf
    out[1, :] = -np.inf
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            if hole[y, x]:
                continue
            for channel in range(image.shape[2]):
                value = image[y, x, channel]
                out[0, channel] = min(out[0, channel], value)
                out[1, channel] = max(out[1, channel], value)
