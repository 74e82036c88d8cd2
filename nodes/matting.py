"""Node specs: edges that hold up (refine, decontaminate).

`refine` turns a coarse mask (a key, a selection, a network's map) into a soft matte by
closed-form matting in a band around its edge (nodes/matting_solve.py,
nodes/kernels/matting.py); `decontaminate` estimates the true colour of edge pixels
(multilevel foreground estimation, nodes/kernels/foreground.py) and returns the cut-out
premultiplied by the matte.
"""
from __future__ import annotations

import math

import numpy as np

from graph.spec import Input, Output, Param, node
from nodes import matting_solve
from nodes.common import require_finite, require_same_size
from nodes.kernels import foreground as foreground_kernels

SMALL_SIZE = 32          # levels up to this size get SMALL_SWEEPS sweeps, larger ones BIG
SMALL_SWEEPS, BIG_SWEEPS = 10, 2


@node("refine", version=2, category="mask generators",
      inputs=[Input("input", "image", doc="the picture whose edges the matte follows"),
              Input("mask", "mask", doc="the coarse mask (right in the middle, rough at the edge)")],
      outputs=[Output("output", "mask", doc="the soft matte"),
               Output("trimap", "mask", doc="0 known background, 1 known subject, 0.5 solved")],
      params=[Param("band", "float", None, min=0.5, optional=True,
                    doc="half-width in px of the band solved around the mask's edge "
                        "(unset: from the mask's own edge width and the picture size)"),
              Param("method", "choice", "closed_form", choices=("closed_form", "guided"),
                    doc="closed_form: closed-form matting (Levin et al. 2008); guided: a "
                        "guided filter of the mask (faster, softer)"),
              Param("eps", "float", 1e-7, min=1e-12, max=1.0,
                    doc="regularisation of the colour model: larger gives smoother mattes"),
              Param("prior", "float", 0.001, min=0.0, max=10.0,
                    doc="pull towards the coarse mask where it is confident (0: none)")])
def refine(input, mask, *, band, method, eps, prior):
    """Refine a coarse mask into a soft matte (Select and Mask / Refine Edge).

    A trimap is made from the mask: pixels farther than `band` px from its 0.5 edge keep
    the mask's side exactly (0 or 1); the band, and wherever the mask is soft (between
    0.02 and 0.98), is solved. With `closed_form` (default) alpha in the band minimises
    the matting Laplacian of Levin, Lischinski and Weiss (2008) on the picture's linear
    colour (3x3 windows, regulariser `eps`), with the known pixels as boundary values,
    plus a weak pull of weight `prior` * (2 m - 1)^2 towards the coarse mask m (it keeps
    the mask where the colours cannot tell subject from background). The band is solved
    by conjugate gradients on the matrix-free Laplacian at the first half size whose long
    side is at most 640 px, then brought up to full size by the same local colour model
    (a . I + b per window, fitted to the coarse alpha and applied to the finer picture):
    faster than a full-size solve and, on hair and fur, closer to the truth. Hair, fur
    and motion blur come out as partial alpha. `guided` replaces the solve by a colour
    guided filter of the mask (radius `band`), a softer and faster edge.

    The automatic band is half the mask's own soft-edge width plus 0.5% of the
    picture's short side (at least 4 px): right for a network's map or an upsampled
    mask; give `band` for a sharp mask that is off by more. The `trimap` output shows
    what was solved.
    """
    require_same_size(input=input, mask=mask)
    require_finite("input", input)
    matte, trimap = refine_matte(input, mask, band, method, eps, prior)
    shown = np.where(trimap.unknown, np.float32(0.5), trimap.known.astype(np.float32))
    return {"output": matte, "trimap": shown.astype(np.float32)}


def refine_matte(image, mask, band=None, method="closed_form", eps=1e-7, prior=0.001):
    """The `refine` node's work (also used by `segment`): (matte, Trimap) for an
    (h, w, 4) image and an (h, w) coarse mask."""
    coarse = np.clip(np.nan_to_num(np.asarray(mask, np.float32)), 0.0, 1.0)
    width = matting_solve.automatic_band(coarse) if band is None else float(band)
    trimap = matting_solve.trimap(coarse, width)
    if method == "guided":
        return guided_matte(image, coarse, trimap, width), trimap
    guide = matting_solve.linear_guide(image)
    return matting_solve.solve_alpha(guide, trimap, float(eps), float(prior)), trimap


def guided_matte(image, coarse, trimap, radius) -> np.ndarray:
    """The coarse mask guided-filtered against the picture in the band, known elsewhere."""
    from nodes.semantic import guided_coefficients
    rgb = np.sqrt(np.clip(image[..., :3], 0.0, 1.0)).astype(np.float32)
    coeffs = guided_coefficients(np.ascontiguousarray(rgb), coarse, max(1, round(radius)), 1e-3)
    filtered = np.einsum("chw,hwc->hw", coeffs[:3], rgb) + coeffs[3]
    matte = trimap.known.astype(np.float32)
    matte[trimap.unknown] = np.clip(filtered[trimap.unknown], 0.0, 1.0)
    return matte


@node("decontaminate", version=1, category="keyers", maskable=True,
      inputs=[Input("input", "image", doc="the picture (the subject over its old background)"),
              Input("matte", "mask", doc="the subject's soft matte (from refine, a key...)")],
      outputs=[Output("output", "image", doc="the cut-out, premultiplied by the matte")],
      params=[Param("method", "choice", "multilevel", choices=("multilevel", "none"),
                    doc="multilevel: estimate the edge pixels' own colour (Germer et al. "
                        "2020); none: the picture's colour times the matte"),
              Param("regularization", "float", 1e-5, min=0.0, max=1.0,
                    doc="smoothness of the estimated colours everywhere"),
              Param("gradient_weight", "float", 1.0, min=0.0, max=100.0,
                    doc="extra smoothness where the matte changes"),
              Param("pull", "float", 0.02, min=1e-6, max=100.0,
                    doc="weight of the smooth colour estimate against the picture's own "
                        "colour when each edge pixel is refitted (larger: smoother)")])
def decontaminate(input, matte, *, method, regularization, gradient_weight, pull):
    """Cut the subject out with clean edge colours (Photoshop's Decontaminate Colors).

    A pixel at a soft edge is a mix alpha F + (1 - alpha) B of the subject's colour F and
    the old background's B. Premultiplying the picture by the matte keeps B's share, so
    hair and motion blur carry the old background into a new comp (a halo). With
    `multilevel` (default) F is estimated at every pixel by multilevel foreground
    estimation (Germer, Uelwer, Conrad and Harmeling 2020: F and B smooth where the matte
    is smooth, solved coarse to fine), in linear light; then each pixel's F is refitted
    to the compositing equation with the estimated background held, pulled towards the
    smooth estimate by `pull` (thin strands keep their own colour instead of taking the
    colour of the subject beside them). The output is F premultiplied
    by the matte (alpha = matte x the input's alpha), ready for `merge over`. Maskable:
    outside the stencil the input passes unchanged.
    """
    require_same_size(input=input, matte=matte)
    require_finite("input", input)
    alpha = np.ascontiguousarray(np.clip(np.nan_to_num(matte), 0.0, 1.0), dtype=np.float32)
    image = np.ascontiguousarray(input, dtype=np.float32)
    rgb = np.ascontiguousarray(image[..., :3])
    if method == "multilevel":
        ceiling = max(1.0, float(rgb.max()))
        smooth, background = estimate_foreground(rgb, alpha, float(regularization),
                                                 float(gradient_weight), ceiling)
        refitted = np.empty_like(smooth)
        foreground_kernels.refit_into(rgb, alpha, smooth, background, float(pull), ceiling,
                                      refitted)
        rgb = refitted
    out = np.empty(image.shape, np.float32)
    foreground_kernels.premultiplied_cutout_into(rgb, alpha * image[..., 3], out)
    return out


def estimate_foreground(image, alpha, regularization=1e-5, gradient_weight=1.0, ceiling=None):
    """Foreground and background colours ((h, w, 3) float32 each) of `image` ((h, w, 3)
    float32 linear) under the matte `alpha` ((h, w) float32), by multilevel foreground
    estimation; colours are clamped to [0, ceiling] (unset: the picture's maximum, at
    least 1)."""
    height, width = alpha.shape
    ceiling = max(1.0, float(image.max())) if ceiling is None else ceiling
    levels = max(1, math.ceil(math.log2(max(height, width))))
    mean = image.reshape(-1, 3).mean(axis=0).astype(np.float32)
    foreground = np.empty((1, 1, 3), np.float32)
    foreground[:] = mean
    background = foreground.copy()
    for level in range(levels + 1):
        level_h = max(1, round(height ** (level / levels)))
        level_w = max(1, round(width ** (level / levels)))
        level_image, level_alpha = image, alpha
        if (level_h, level_w) != (height, width):
            level_image = resized(image, level_h, level_w)
            level_alpha = resized(alpha[..., None], level_h, level_w)[..., 0]
        foreground = resized(foreground, level_h, level_w)
        background = resized(background, level_h, level_w)
        sweeps = SMALL_SWEEPS if max(level_h, level_w) <= SMALL_SIZE else BIG_SWEEPS
        level_alpha = np.ascontiguousarray(level_alpha)
        for _ in range(sweeps):
            foreground_kernels.sweep(level_image, level_alpha, foreground, background,
                                     regularization, gradient_weight, ceiling)
    return foreground, background


def resized(array, height, width) -> np.ndarray:
    """(h, w, c) float32 resized by nearest neighbour to (height, width, c)."""
    if array.shape[:2] == (height, width):
        return array
    out = np.empty((height, width, array.shape[2]), np.float32)
    foreground_kernels.resize_nearest_into(np.ascontiguousarray(array), out)
    return out
