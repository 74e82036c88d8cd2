"""Multilevel foreground estimation (Germer, Uelwer, Conrad and Harmeling, 2020).

Given a picture I and its matte alpha, find a foreground F and a background B with
I = alpha F + (1 - alpha) B that are smooth where alpha is smooth. Per pixel and channel
the cost is

    (alpha F + (1 - alpha) B - I)^2 + sum over the 4 neighbours j of
        w_j ((F - F_j)^2 + (B - B_j)^2),   w_j = regularization + gradient_weight |alpha - alpha_j|

whose minimiser in (F, B), the neighbours held, is a 2x2 linear system. It is solved on
a pyramid from 1x1 up to the full size (each level's F and B start from the previous
level's, resized by nearest neighbour), a few sweeps per level. A sweep is Gauss-Seidel in
raster order, in place: it carries information along a whole row and down the picture in
one pass, which is what lets two sweeps per level suffice (a parallel red-black order
moves it one pixel per sweep and measured 3x worse edge colours for the same work).
"""
import numpy as np

from nodes.kernels.jit import kernel, parallel_kernel, prange


@kernel
def resize_nearest_into(source, out):
    """(h, w, c) float32 `source` resized by nearest neighbour into (H, W, c) `out`
    (output pixel y reads source row floor(y h / H), as Germer et al.'s code does).
    Serial: a pass over one level is too short to pay for waking a second thread
    (measured 30 ms a call instead of 1-2 on a busy machine)."""
    height, width = out.shape[0], out.shape[1]
    source_height, source_width = source.shape[0], source.shape[1]
    for y in range(height):
        source_y = min(source_height - 1, y * source_height // height)
        for x in range(width):
            source_x = min(source_width - 1, x * source_width // width)
            for channel in range(out.shape[2]):
                out[y, x, channel] = source[source_y, source_x, channel]


@kernel
def sweep(image, alpha, foreground, background, regularization, gradient_weight, ceiling):
    """One Gauss-Seidel sweep: update every pixel, in raster order, from its 4 neighbours.

    image, foreground, background: (h, w, 3) float32; alpha: (h, w) float32 in [0, 1];
    results are clamped to [0, ceiling].
    """
    height, width = alpha.shape
    for y in range(height):
        for x in range(width):
            a0 = alpha[y, x]
            a1 = 1.0 - a0
            m00 = a0 * a0
            m01 = a0 * a1
            m11 = a1 * a1
            rhs_f0, rhs_f1, rhs_f2 = a0 * image[y, x, 0], a0 * image[y, x, 1], a0 * image[y, x, 2]
            rhs_b0, rhs_b1, rhs_b2 = a1 * image[y, x, 0], a1 * image[y, x, 1], a1 * image[y, x, 2]
            for step in range(4):
                ny = y + (step == 3) - (step == 2)
                nx = x + (step == 1) - (step == 0)
                ny = min(max(ny, 0), height - 1)
                nx = min(max(nx, 0), width - 1)
                weight = regularization + gradient_weight * abs(a0 - alpha[ny, nx])
                m00 += weight
                m11 += weight
                rhs_f0 += weight * foreground[ny, nx, 0]
                rhs_f1 += weight * foreground[ny, nx, 1]
                rhs_f2 += weight * foreground[ny, nx, 2]
                rhs_b0 += weight * background[ny, nx, 0]
                rhs_b1 += weight * background[ny, nx, 1]
                rhs_b2 += weight * background[ny, nx, 2]
            inverse = 1.0 / (m00 * m11 - m01 * m01)
            i00, i01, i11 = m11 * inverse, -m01 * inverse, m00 * inverse
            foreground[y, x, 0] = min(max(i00 * rhs_f0 + i01 * rhs_b0, 0.0), ceiling)
            foreground[y, x, 1] = min(max(i00 * rhs_f1 + i01 * rhs_b1, 0.0), ceiling)
            foreground[y, x, 2] = min(max(i00 * rhs_f2 + i01 * rhs_b2, 0.0), ceiling)
            background[y, x, 0] = min(max(i01 * rhs_f0 + i11 * rhs_b0, 0.0), ceiling)
            background[y, x, 1] = min(max(i01 * rhs_f1 + i11 * rhs_b1, 0.0), ceiling)
            background[y, x, 2] = min(max(i01 * rhs_f2 + i11 * rhs_b2, 0.0), ceiling)


@parallel_kernel
def premultiplied_cutout_into(foreground, alpha, out):
    """out (h, w, 4) float32 = (F alpha, alpha): the cut-out, premultiplied."""
    height, width = alpha.shape
    for y in prange(height):
        for x in range(width):
            a = alpha[y, x]
            out[y, x, 0] = foreground[y, x, 0] * a
            out[y, x, 1] = foreground[y, x, 1] * a
            out[y, x, 2] = foreground[y, x, 2] * a
            out[y, x, 3] = a


@parallel_kernel
def refit_into(image, alpha, foreground, background, pull, ceiling, out):
    """Refit F to the compositing equation with the estimated background held:
    argmin_F (alpha F + (1 - alpha) B - I)^2 + pull (F - F_smooth)^2, clamped to
    [0, ceiling]. The smooth estimate blurs thin strands' colour into their
    surroundings; this gives them back the colour the picture says they have.

    image, foreground (F_smooth), background, out: (h, w, 3) float32; alpha: (h, w).
    """
    height, width = alpha.shape
    for y in prange(height):
        for x in range(width):
            a = alpha[y, x]
            scale = 1.0 / (a * a + pull)
            for channel in range(3):
                residual = image[y, x, channel] - (1.0 - a) * background[y, x, channel]
                value = (a * residual + pull * foreground[y, x, channel]) * scale
                out[y, x, channel] = min(max(value, 0.0), ceiling)
