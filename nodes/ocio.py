"""OpenColorIO for maskgraph: the config, colour space names, cached processors, applying them.

The config is the graph's `colour: {config: ...}` setting, else `$OCIO`, else OCIO's
built-in studio config. Processors are built once per process for each (config, source,
target) and applied with OCIO's own CPU path on float32 RGBA in place: the image is cut
into bands of rows and the bands run on `numba.get_num_threads()` threads (OCIO releases
the GIL while it applies). A transform made only of matrices without offsets is applied
as one 3x3 matrix by a numba kernel instead (it commutes with premultiplication). Any
other transform runs on unpremultiplied colour and is premultiplied again afterwards, as
Nuke and OCIO's own apps do; alpha is never changed.

The working space `lin_rec709` (scene-linear Rec.709, the default) and the names `srgb`,
`linear` and `raw` do not need OCIO at all: maskgraph's own exact kernels handle them.
"""
from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from graph.errors import NodeInputError, did_you_mean
from nodes.kernels import color as color_kernels

BUILTIN_CONFIG = "ocio://studio-config-latest"
DEFAULT_WORKING = "lin_rec709"
# maskgraph's own names -> the studio config's names for the same encodings.
ALIASES = {"srgb": "sRGB Encoded Rec.709 (sRGB)", "linear": "Linear Rec.709 (sRGB)"}
LINEAR_REC709_NAMES = ("lin_rec709", "Linear Rec.709 (sRGB)", "lin_rec709_srgb", "lin_srgb",
                       "linear")
BUILTIN_NAMES = ("auto", "srgb", "linear", "raw")
SMALL_IMAGE = 256 * 256  # below this many pixels one call, no threads
INSTALL_HINT = "pip install 'maskgraph[colour]' (the opencolorio wheel)"


class ColourError(NodeInputError):
    """A colour name, config or LUT that OCIO cannot use; the message lists what exists.

    subject: the param it is about, where the caller cannot tell ('display', 'view').
    """

    def __init__(self, message: str, hint: str | None = None, subject: str | None = None):
        super().__init__(message, hint)
        self.subject = subject


def is_default_working(working: str) -> bool:
    """True for scene-linear Rec.709, the space maskgraph's own kernels work in."""
    return working in LINEAR_REC709_NAMES


def ocio():
    """The PyOpenColorIO module, or a ColourError saying how to install it."""
    try:
        import PyOpenColorIO
    except ImportError:
        raise ColourError("colour management needs OpenColorIO", hint=INSTALL_HINT) from None
    return PyOpenColorIO


# ------------------------------------------------------------------ the config

def config_reference(config: str | None) -> str:
    """The config a node uses: its own setting, else $OCIO, else the built-in studio one."""
    return config or os.environ.get("OCIO") or BUILTIN_CONFIG


def load_config(config: str | None):
    """The OCIO Config (cached per file identity, so an edited config file reloads)."""
    reference = config_reference(config)
    identity = None
    if "://" not in reference:
        try:
            status = os.stat(reference)
            identity = (status.st_size, status.st_mtime_ns)
        except OSError:
            raise ColourError(f"no such OpenColorIO config: {reference}",
                              hint=_builtin_hint()) from None
    return _load_config(reference, identity)


@functools.lru_cache(maxsize=8)
def _load_config(reference: str, identity):
    module = ocio()
    try:
        return module.Config.CreateFromFile(reference)
    except Exception as error:  # OCIO raises its own Exception type for every load failure
        raise ColourError(f"cannot load the OpenColorIO config {reference}: {error}",
                          hint=_builtin_hint()) from None


def _builtin_hint() -> str:
    names = ["ocio://studio-config-latest", "ocio://cg-config-latest"]
    try:
        names += [f"ocio://{name}" for name in ocio().BuiltinConfigRegistry()]
    except ColourError:
        pass
    return "configs built into OpenColorIO: " + ", ".join(names)


def space_names(cfg) -> list[str]:
    """Every name the config accepts for a colour space: names, aliases and roles."""
    names = []
    for space in cfg.getColorSpaces():
        names.append(space.getName())
        names += list(space.getAliases())
    return names + list(cfg.getRoleNames())


def resolve_space(cfg, name: str) -> str:
    """The config's canonical name for `name` (maskgraph aliases first); ColourError if none."""
    wanted = ALIASES.get(name, name)
    space = cfg.getColorSpace(wanted)
    if space is not None:
        return space.getName()
    canonical = [space.getName() for space in cfg.getColorSpaces()]
    hint = did_you_mean(name, space_names(cfg))
    listing = f"{len(canonical)} colour spaces in '{cfg.getName()}': " + ", ".join(canonical)
    raise ColourError(f"unknown colour space '{name}'", hint=hint or listing)


def check_space(config: str | None, name: str) -> str | None:
    """None when `name` is a colour space of the config, else the message (for load checks)."""
    try:
        resolve_space(load_config(config), name)
    except ColourError as error:
        return message_with_hint(error)
    return None


def message_with_hint(error: NodeInputError) -> str:
    return f"{error}; {error.hint}" if error.hint else str(error)


# ------------------------------------------------------------------ processors

@dataclass(frozen=True)
class Conversion:
    """A ready-to-apply transform: OCIO's CPU processor, or a matrix when it is one."""

    cpu: object
    matrix: np.ndarray | None  # (3, 3) float32 when the transform is RGB matrices only
    noop: bool
    keeps_alpha: bool  # OCIO leaves alpha exactly as it was (not every transform does)


def conversion(config: str | None, source: str, target: str) -> Conversion:
    """source -> target colour space of the config (cached per process)."""
    cfg = load_config(config)
    return _conversion(config_reference(config), _identity(config), resolve_space(cfg, source),
                       resolve_space(cfg, target))


def display_conversion(config: str | None, source: str, display: str, view: str) -> Conversion:
    """source colour space -> (display, view), as OCIODisplayView (cached per process)."""
    cfg = load_config(config)
    source = resolve_space(cfg, source)
    display, view = resolve_display_view(cfg, display, view)
    return _display_conversion(config_reference(config), _identity(config), source, display,
                               view)


def lut_conversion(config: str | None, path: str, direction: str,
                   interpolation: str) -> Conversion:
    """A LUT file (.cube, .3dl, .clf, ...) through OCIO's FileTransform (cached per file)."""
    try:
        status = os.stat(path)
    except OSError:
        raise ColourError(f"no such LUT file: {path}") from None
    return _lut_conversion(config_reference(config), _identity(config), path,
                           (status.st_size, status.st_mtime_ns), direction, interpolation)


def _identity(config):
    reference = config_reference(config)
    if "://" in reference:
        return None
    status = os.stat(reference)
    return (status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _conversion(reference, identity, source, target) -> Conversion:
    cfg = _load_config(reference, identity)
    return _prepare(cfg.getProcessor(source, target))


@functools.lru_cache(maxsize=32)
def _display_conversion(reference, identity, source, display, view) -> Conversion:
    module = ocio()
    cfg = _load_config(reference, identity)
    transform = module.DisplayViewTransform(src=source, display=display, view=view)
    return _prepare(cfg.getProcessor(transform))


@functools.lru_cache(maxsize=32)
def _lut_conversion(reference, identity, path, file_identity, direction, interpolation):
    module = ocio()
    cfg = _load_config(reference, identity)
    module.ClearAllCaches()  # OCIO caches LUT files and processors by path: an edited
    cfg.clearProcessorCache()  # file must be read again (our own cache keys on its mtime)
    transform = module.FileTransform(
        src=path, interpolation=getattr(module, f"INTERP_{interpolation.upper()}"),
        direction=(module.TRANSFORM_DIR_FORWARD if direction == "forward"
                   else module.TRANSFORM_DIR_INVERSE))
    try:
        return _prepare(cfg.getProcessor(transform))
    except Exception as error:  # OCIO's parse errors are plain Exceptions
        raise ColourError(f"cannot use the LUT {path}: {error}",
                          hint="OpenColorIO reads " + ", ".join(lut_extensions())) from None


def lut_extensions() -> list[str]:
    """File extensions OCIO's FileTransform reads (cube, 3dl, clf, ...)."""
    formats = ocio().FileTransform.getFormats()
    return sorted({f".{extension}" for _, extension in formats})


def resolve_display_view(cfg, display: str, view: str) -> tuple[str, str]:
    """('sRGB - Display', 'ACES 2.0 - SDR 100 nits (Rec.709)'); 'auto' = the defaults."""
    displays = list(cfg.getDisplays())
    if display == "auto":
        display = cfg.getDefaultDisplay()
    if display not in displays:
        raise ColourError(f"unknown display '{display}'", hint=(
            (did_you_mean(display, displays) or "") + f" (displays: {', '.join(displays)})"
        ).strip(), subject="display")
    views = list(cfg.getViews(display))
    if view == "auto":
        view = cfg.getDefaultView(display)
    if view not in views:
        raise ColourError(f"unknown view '{view}' of display '{display}'", hint=(
            (did_you_mean(view, views) or "") + f" (views: {', '.join(views)})").strip(),
            subject="view")
    return display, view


def _prepare(processor) -> Conversion:
    cpu = processor.getDefaultCPUProcessor()
    return Conversion(cpu, _rgb_matrix(processor), bool(cpu.isNoOp()), _keeps_alpha(cpu))


def _keeps_alpha(cpu) -> bool:
    """True when the processor returns every alpha unchanged (exponents may touch it)."""
    probe = np.random.default_rng(0).random((64, 4), dtype=np.float32) * 2
    probe[:, 3] = np.linspace(0, 1, 64, dtype=np.float32)
    alpha = probe[:, 3].copy()
    cpu.applyRGBA(probe)
    return bool(np.array_equal(probe[:, 3], alpha))


def _rgb_matrix(processor) -> np.ndarray | None:
    """The 3x3 matrix of a transform made only of offset-free RGB matrices, else None."""
    module = ocio()
    total = np.eye(4)
    for transform in processor.createGroupTransform():
        if not isinstance(transform, module.MatrixTransform):
            return None
        matrix = np.array(transform.getMatrix(), np.float64).reshape(4, 4)
        if any(transform.getOffset()):
            return None
        if transform.getDirection() == module.TRANSFORM_DIR_INVERSE:
            matrix = np.linalg.inv(matrix)
        total = matrix @ total
    if not np.allclose(total[3], [0, 0, 0, 1]) or not np.allclose(total[:3, 3], 0):
        return None  # touches alpha
    return total[:3, :3].astype(np.float32)


# ------------------------------------------------------------------ applying

def apply(image: np.ndarray, convert: Conversion, premultiplied: bool = True) -> np.ndarray:
    """A new (H, W, 4) float32 array: `image` converted; alpha unchanged.

    premultiplied: colour is multiplied by alpha, so non-linear transforms run on the
    unpremultiplied colour (alpha 0 pixels: on the colour as it is).
    """
    out = np.empty(image.shape, np.float32)
    if convert.noop:
        out[...] = image
        return out
    if convert.matrix is not None:
        color_kernels.matrix_into(image, convert.matrix, out)
        return out
    _in_bands(image, out, lambda source, target: _apply_band(source, target, convert,
                                                             premultiplied))
    return out


def _apply_band(source, target, convert: Conversion, premultiplied: bool) -> None:
    """unpremultiply + copy, OCIO in place, then alpha back and premultiply (skipped for an
    opaque band when OCIO keeps alpha)."""
    if premultiplied:
        opaque = color_kernels.unpremultiply_rows(source, target)
    else:
        target[...] = source
        opaque = True
    convert.cpu.applyRGBA(target)
    if not (opaque and convert.keeps_alpha):
        color_kernels.premultiply_rows(target, source, premultiplied)


def _in_bands(image, out, work) -> None:
    height, width = image.shape[:2]
    threads = _threads()
    if height * width <= SMALL_IMAGE or threads == 1 or height < 2:
        work(image, out)
        return
    rows = max(8, math.ceil(height / (threads * 16)))
    starts = range(0, height, rows)
    pool = _pool(threads, os.getpid())  # a forked child gets its own threads
    list(pool.map(lambda y: work(image[y:y + rows], out[y:y + rows]), starts))


def _threads() -> int:
    import numba
    return max(1, numba.get_num_threads())


@functools.lru_cache(maxsize=4)
def _pool(threads: int, process: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="maskgraph-ocio")
