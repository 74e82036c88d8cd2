"""Colour management nodes (OpenColorIO): colorspace, display_view, lut; and the colour
settings that `read`, `write` and `write_layers` share.

Every node here works in the graph's working space, `colour: {working: ...}` in the graph
header (default `lin_rec709`, scene-linear Rec.709: what maskgraph has always used). The
config is `colour: {config: ...}`, else `$OCIO`, else OCIO's built-in studio config. Names
are checked against the config when the graph loads, with a did-you-mean from its own list.
"""
from __future__ import annotations

import os

import numpy as np

from graph.spec import Input, Output, Param, node
from nodes import ocio

IMAGE_IN = [Input("input", "image", doc="the picture to convert")]
IMAGE_OUT = [Output("output", "image", doc="the converted picture")]
WORKING_PARAM = Param("working", "str", ocio.DEFAULT_WORKING, setting="colour.working",
                      doc="the graph's working colour space (header `colour: {working: ...}`)")
CONFIG_PARAM = Param("config", "path", None, optional=True, setting="colour.config", env="OCIO",
                     doc="OpenColorIO config (header `colour: {config: ...}`, else $OCIO, "
                         "else the built-in studio config)")
COLOUR_PARAMS = [WORKING_PARAM, CONFIG_PARAM]
INTERPOLATIONS = ("best", "linear", "tetrahedral", "nearest", "cubic", "default")


def needs_ocio(colorspace: str, working: str) -> bool:
    """True unless maskgraph's own kernels do the conversion (built-in names, default space)."""
    return not (colorspace in ocio.BUILTIN_NAMES and ocio.is_default_working(working))


def colour_problems(params, *names, always=False) -> list[tuple[str, str]]:
    """Load-time check of colour space params (and the working space) against the config.

    Nothing is loaded when only built-in names and the default working space are used,
    unless `always`.
    """
    working, config = params["working"], params.get("config")
    wanted = [(name, params[name]) for name in names
              if params.get(name) not in (*ocio.BUILTIN_NAMES, "working")]
    if not wanted and ocio.is_default_working(working) and not always:
        return []
    try:
        ocio.load_config(config)
    except ocio.ColourError as error:
        return [("config", ocio.message_with_hint(error))]
    problems = [] if ocio.is_default_working(working) else \
        [("working", message) for message in [ocio.check_space(config, working)] if message]
    for name, value in wanted:
        message = ocio.check_space(config, value)
        if message:
            problems.append((name, message))
    return problems


def file_space(colorspace: str, is_float: bool, working: str) -> str | None:
    """The OCIO name of a file's encoding, or None when its values are the working space's."""
    if colorspace == "auto":
        colorspace = "raw" if is_float else "srgb"
    if colorspace in ("raw", "working"):
        return None
    return colorspace


def to_working(image: np.ndarray, source: str | None, working: str, config) -> np.ndarray:
    """A premultiplied image from `source` into the working space (OCIO)."""
    if source is None:
        return image
    return ocio.apply(image, ocio.conversion(config, source, working))


def from_working(image: np.ndarray, target: str | None, working: str, config) -> np.ndarray:
    """A premultiplied image from the working space into `target` (OCIO)."""
    if target is None:
        return image
    return ocio.apply(image, ocio.conversion(config, working, target))


def _check_colorspace(params, connected):
    return colour_problems(params, "source", "target")


@node("colorspace", version=1, category="color", maskable=True, check=_check_colorspace,
      inputs=IMAGE_IN, outputs=IMAGE_OUT,
      params=[Param("source", "str", "working",
                    doc="colour space of the input: a name of the config, or `working`"),
              Param("target", "str", "working",
                    doc="colour space to convert to: a name of the config, or `working`"),
              *COLOUR_PARAMS])
def colorspace(input, *, source, target, working, config):
    """Convert between two colour spaces of the OpenColorIO config (Nuke's OCIOColorSpace).

    Any name the config knows works: names, aliases (`lin_ap1`, `srgb_tx`) and roles
    (`scene_linear`, `compositing_log`). Non-linear transforms run on unpremultiplied
    colour; alpha is unchanged.
    """
    source = working if source == "working" else source
    target = working if target == "working" else target
    return ocio.apply(input, ocio.conversion(config, source, target))


def _check_display_view(params, connected):
    problems = colour_problems(params, always=True)
    if problems:
        return problems
    try:
        ocio.resolve_display_view(ocio.load_config(params.get("config")), params["display"],
                                  params["view"])
    except ocio.ColourError as error:
        return [(error.subject or "display", ocio.message_with_hint(error))]
    return []


@node("display_view", version=1, category="color", check=_check_display_view,
      inputs=IMAGE_IN, outputs=[Output("output", "image",
                                        doc="display-encoded values (write them with "
                                            "colorspace: raw)")],
      params=[Param("display", "str", "auto",
                    doc="display device, e.g. 'sRGB - Display' (auto: the config's default)"),
              Param("view", "str", "auto",
                    doc="view, e.g. 'ACES 2.0 - SDR 100 nits (Rec.709)' (auto: the "
                        "display's default)"),
              *COLOUR_PARAMS])
def display_view(input, *, display, view, working, config):
    """The working-space image as a display shows it (Nuke's OCIODisplay): view transform
    and display encoding, from the graph's working space.

    The result is display-referred code values: write it with `colorspace: raw` (an
    sRGB display view written to an 8-bit PNG is what a viewer shows).
    """
    return ocio.apply(input, ocio.display_conversion(config, working, display, view))


def _check_lut(params, connected):
    path = params["file"]
    if not os.path.isfile(path):
        return [("file", f"no such LUT file: {path}")]
    try:
        extensions = ocio.lut_extensions()
        if os.path.splitext(path)[1].lower() not in extensions:
            return [("file", f"OpenColorIO does not read '{os.path.splitext(path)[1]}' LUTs "
                             f"(it reads {', '.join(extensions)})")]
        ocio.lut_conversion(params.get("config"), path, params["direction"],
                            params["interpolation"])
    except ocio.ColourError as error:
        return [("file", ocio.message_with_hint(error))]
    return []


@node("lut", version=1, category="color", maskable=True, reads_files=True, check=_check_lut,
      inputs=IMAGE_IN, outputs=IMAGE_OUT,
      params=[Param("file", "path", doc="LUT file: .cube, .3dl, .clf, .spi1d/.spi3d, ..."),
              Param("direction", "choice", "forward", choices=("forward", "inverse")),
              Param("interpolation", "choice", "best", choices=INTERPOLATIONS,
                    doc="3D LUT interpolation (best: tetrahedral)"),
              CONFIG_PARAM])
def lut(input, *, file, direction, interpolation, config):
    """Apply a LUT file through OpenColorIO's FileTransform (Nuke's OCIOFileTransform).

    The LUT applies to the image's values as they are (in the working space unless a
    `colorspace` node converts first); it runs on unpremultiplied colour unless it is a
    pure matrix. Editing the LUT file recomputes the node (its identity is in the key).
    """
    return ocio.apply(input, ocio.lut_conversion(config, file, direction, interpolation))
