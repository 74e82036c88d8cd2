"""Biharmonic hole filling: the smoothest surface through the hole's surroundings.

The fill minimises sum_p (Laplacian u)(p)^2 over the pixels p whose 5-point Laplacian
stencil lies in the image, with the known pixels fixed (the discrete biharmonic
equation, as in scikit-image's `inpaint_biharmonic`, in its variational form). The
normal equations (L^T L restricted to the hole) are solved by conjugate gradients, one
independent solve per channel, matrix-free: only the hole and its two-pixel ring are
touched. Arrays are float32 except the solver state (float64); the caller allocates.
"""
import numpy as np

from graph.jit import kernel
from nodes.kernels import color


@kernel
def apply_normal_operator(field, support, hole, lap, out):
    """out[c, i] = (L^T L field)(hole[i]) for every hole pixel (flat indices) and channel c.

    field, lap : (H, W, C) float32; lap is scratch that must be zero on the image border
    (it is only written at `support`: the hole grown by one, minus the image border, so
    a neighbour read across a row end lands on a border zero). out : (C, N) float64.
    """
    height, width, channels = field.shape
    size = height * width
    values = field.reshape(size, channels)
    laplacian = lap.reshape(size, channels)
    for order in range(support.shape[0]):
        index = support[order]
        for channel in range(channels):
            laplacian[index, channel] = (values[index - 1, channel] + values[index + 1, channel]
                                         + values[index - width, channel]
                                         + values[index + width, channel]
                                         - 4.0 * values[index, channel])
    for order in range(hole.shape[0]):
        index = hole[order]
        for channel in range(channels):
            total = -4.0 * laplacian[index, channel]
            if index >= 1:
                total += laplacian[index - 1, channel]
            if index + 1 < size:
                total += laplacian[index + 1, channel]
            if index >= width:
                total += laplacian[index - width, channel]
            if index + width < size:
                total += laplacian[index + width, channel]
            out[channel, order] = total


@kernel
def _dot(first, second):
    total = 0.0
    for index in range(first.shape[0]):
        total += first[index] * second[index]
    return total


@kernel
def _conjugate_step(solution, residual, direction, product, rho):
    """One CG update of one channel's vectors; returns the new squared residual norm."""
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
def biharmonic_solve(image, hole, support, iterations, tolerance, field, lap, state, rho):
    """Fill the hole pixels of `image` (H, W, C) float32 in place with the biharmonic fill.

    Parameters
    ----------
    image : (H, W, C) float32; hole pixels hold the starting guess and receive the result.
    hole, support : int64 flat indices (see apply_normal_operator); support must lie
        inside the image border.
    iterations : int, most conjugate-gradient steps.
    tolerance : float, stop once every channel's residual norm fell by this factor.
    field, lap : (H, W, C) float32 scratch; state : (4, C, N) float64 scratch;
    rho : (2, C) float64 scratch.

    Returns the number of steps taken.
    """
    height, width, channels = image.shape
    solution, residual, direction, product = state[0], state[1], state[2], state[3]
    values, scratch = image.reshape(-1), field.reshape(-1)
    for index in range(values.shape[0]):
        scratch[index] = values[index]
    apply_normal_operator(field, support, hole, lap, product)
    for index in range(values.shape[0]):
        scratch[index] = 0.0
    for order in range(hole.shape[0]):
        y, x = hole[order] // width, hole[order] % width
        for channel in range(channels):
            solution[channel, order] = image[y, x, channel]
            residual[channel, order] = -product[channel, order]
            direction[channel, order] = residual[channel, order]
    for channel in range(channels):
        rho[0, channel] = _dot(residual[channel], residual[channel])
        rho[1, channel] = rho[0, channel] * tolerance * tolerance
    step = 0
    while step < iterations:
        converged = True
        for channel in range(channels):
            if rho[0, channel] > rho[1, channel] and rho[0, channel] > 1e-30:
                converged = False
        if converged:
            break
        for order in range(hole.shape[0]):
            y, x = hole[order] // width, hole[order] % width
            for channel in range(channels):
                field[y, x, channel] = direction[channel, order]
        apply_normal_operator(field, support, hole, lap, product)
        for channel in range(channels):
            if rho[0, channel] > 1e-30:
                rho[0, channel] = _conjugate_step(solution[channel], residual[channel],
                                                  direction[channel], product[channel],
                                                  rho[0, channel])
        step += 1
    for order in range(hole.shape[0]):
        y, x = hole[order] // width, hole[order] % width
        for channel in range(channels):
            image[y, x, channel] = solution[channel, order]
    return step


@kernel
def encode_pixels(values, out):
    """sRGB-encode the first three channels of (N, C) float32 pixels into `out`, keeping
    the others (serial: the pixel lists near a hole are short)."""
    for index in range(values.shape[0]):
        for channel in range(values.shape[1]):
            value = values[index, channel]
            out[index, channel] = color.srgb_encode(value) if channel < 3 else value


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
