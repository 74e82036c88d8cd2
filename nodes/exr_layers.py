"""Layered OpenEXR: channels named `LAYER.CHANNEL` (Nuke's layers, OIIO's channel names).

An image layer is `NAME.R/G/B/A` (premultiplied, scene-linear, the EXR convention), a mask
layer one channel `NAME.Y`. Channels without a prefix (`R`, `G`, `B`, `A`, `Y`) are the
main layer, listed as `rgba`. Reading goes through the `OpenEXR` package with each channel
separate; the layer list comes from the header alone, so load-time checks cost no pixels.
A data window smaller than the display window (Nuke's bounding box) is placed in a
display-window-sized picture, zero outside it. `write_layers` (below) writes such files.
"""
from __future__ import annotations

import os

import numpy as np

from graph.atomic import atomic_path
from graph.errors import NodeInputError
from graph.spec import Input, Param, node

MAIN_LAYER = "rgba"
COLOUR_CHANNELS = ("R", "G", "B", "A")
COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab")


def openexr():
    try:
        import OpenEXR
    except ImportError:
        raise NodeInputError("OpenEXR files need the optional extra",
                             hint="pip install 'maskgraph[exr]'") from None
    return OpenEXR


def channel_names(path: str) -> list[str]:
    """Every channel name in the file's header, in the file's order."""
    module = openexr()
    if not os.path.isfile(path):
        raise NodeInputError(f"no such file: {path}",
                             hint="check the path (sequence frames: is this frame there?)")
    try:
        with module.File(path, header_only=True) as exr:
            return [channel.name for channel in exr.header()["channels"]]
    except Exception as error:  # OpenEXR raises plain exceptions for damaged files
        raise NodeInputError(f"cannot read {path} as OpenEXR: {error}") from None


def split(channel: str) -> tuple[str, str]:
    """'diffuse.R' -> ('diffuse', 'R'); 'R' -> ('rgba', 'R'); 'a.b.Y' -> ('a.b', 'Y')."""
    layer, dot, name = channel.rpartition(".")
    return (layer, name) if dot else (MAIN_LAYER, channel)


def layers(names: list[str]) -> dict[str, list[str]]:
    """layer -> its channel suffixes, in first-seen order."""
    found: dict[str, list[str]] = {}
    for channel in names:
        layer, name = split(channel)
        found.setdefault(layer, []).append(name)
    return found


def ordered(suffixes: list[str]) -> list[str]:
    """Channel suffixes with R, G, B, A first (EXR stores them sorted by name)."""
    return sorted(suffixes, key=lambda c: (COLOUR_CHANNELS.index(c) if c in COLOUR_CHANNELS
                                           else 4, c))


def describe(names: list[str]) -> str:
    """'beauty (R, G, B, A), key (Y)' for error messages."""
    return ", ".join(f"{layer} ({', '.join(ordered(chans))})"
                     for layer, chans in layers(names).items())


def _several(layer: str, suffixes: list[str]) -> str:
    example = "A" if "A" in suffixes else ordered(suffixes)[-1]
    return (f"layer '{layer}' has several channels ({', '.join(ordered(suffixes))}): name "
            f"one, e.g. {layer}.{example}")


def check_layer(path: str, layer: str) -> str | None:
    """None when `layer` (a layer, or one channel such as 'matte.A') is in the file."""
    try:
        names = channel_names(path)
    except NodeInputError as error:
        return str(error)
    if layer in names or layer in layers(names):
        return None
    from graph.errors import did_you_mean
    hint = did_you_mean(layer, list(layers(names)) + names)
    return (f"{os.path.basename(path)} has no layer or channel '{layer}'"
            f"{'; ' + hint if hint else ''} (its layers: {describe(names)})")


def read_codes(path: str, layer: str = "") -> np.ndarray:
    """(H, W, C) float32 in OpenCV's B,G,R[,A] order (C = 1, 3 or 4) of one layer.

    layer '' or 'rgba': the main (unprefixed) channels; a layer name: its R/G/B/A or its
    one channel; a full channel name ('matte.A'): that channel alone.
    """
    names = channel_names(path)
    wanted = layer or MAIN_LAYER
    if wanted in names:  # one channel by its full name
        selected = [wanted]
    else:
        available = layers(names)
        if wanted not in available:
            if not layer:
                raise NodeInputError(f"{os.path.basename(path)} has no main layer (R, G, B)",
                                     hint=f"choose one with layer: ... (its layers: "
                                          f"{describe(names)})")
            raise NodeInputError(check_layer(path, layer))
        suffixes = available[wanted]
        prefix = "" if wanted == MAIN_LAYER else wanted + "."
        colour = [c for c in COLOUR_CHANNELS if c in suffixes]
        if {"R", "G", "B"} <= set(colour):
            selected = [prefix + c for c in ("B", "G", "R", "A") if c in colour]
        else:
            selected = [prefix + ("Y" if "Y" in suffixes else suffixes[0])]
    planes = _planes(path, selected)
    return np.ascontiguousarray(np.stack(planes, axis=-1))


def _planes(path: str, names: list[str]) -> list[np.ndarray]:
    """The named channels as float32 planes the size of the display window (Nuke writes
    a bounding box as a smaller data window: outside it the values are 0)."""
    with openexr().File(path, separate_channels=True) as exr:
        header, channels = exr.header(), exr.channels()
        planes = [np.asarray(channels[name].pixels, np.float32) for name in names]
        (data_x, data_y), _ = header["dataWindow"]
        (display_x, display_y), (display_x1, display_y1) = header["displayWindow"]
    size = (display_y1 - display_y + 1, display_x1 - display_x + 1)
    if planes[0].shape == size and (data_x, data_y) == (display_x, display_y):
        return planes
    return [_in_display_window(plane, data_y - display_y, data_x - display_x, size)
            for plane in planes]


def _in_display_window(plane, top, left, size) -> np.ndarray:
    canvas = np.zeros(size, np.float32)
    rows, columns = plane.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + rows, size[0]), min(left + columns, size[1])
    if y1 > y0 and x1 > x0:
        canvas[y0:y1, x0:x1] = plane[y0 - top:y1 - top, x0 - left:x1 - left]
    return canvas


def read_channel(path: str, channel: str) -> np.ndarray:
    """(H, W) float32 of one named channel, or of a one-channel (or Y) layer."""
    names = channel_names(path)
    if channel not in names:
        suffixes = layers(names).get(channel)
        if not suffixes or (len(suffixes) > 1 and "Y" not in suffixes):
            message = check_layer(path, channel) or _several(channel, suffixes)
            raise NodeInputError(message)
        channel = f"{channel}.{'Y' if 'Y' in suffixes else suffixes[0]}"
    return np.ascontiguousarray(_planes(path, [channel])[0])


def check_channel(path: str, channel: str) -> str | None:
    try:
        names = channel_names(path)
    except NodeInputError as error:
        return str(error)
    suffixes = layers(names).get(channel)
    if channel in names or (suffixes and (len(suffixes) == 1 or "Y" in suffixes)):
        return None
    if suffixes:
        return _several(channel, suffixes)
    return check_layer(path, channel)


def layer_planes(name: str, array: np.ndarray, dtype) -> dict[str, np.ndarray]:
    """{'NAME.R': plane, ...} for an (H, W, 4) image, {'NAME.Y': plane} for a mask."""
    if array.ndim == 2:
        return {f"{name}.Y": np.ascontiguousarray(array, dtype)}
    return {f"{name}.{channel}": np.ascontiguousarray(array[:, :, index], dtype)
            for index, channel in enumerate(COLOUR_CHANNELS)}


def write_file(path: str, planes: dict[str, np.ndarray], compression: str) -> None:
    """Write the planes as one scanline EXR, atomically (temporary file, then rename)."""
    exr = openexr()
    header = {"compression": getattr(exr, f"{compression.upper()}_COMPRESSION"),
              "type": exr.scanlineimage}
    with atomic_path(path) as temporary:
        exr.File(header, planes).write(temporary)


# ------------------------------------------------------------------ the write_layers node
DEPTHS = ("half", "float")


def _layer_depths(depth, names) -> dict[str, str]:
    """depth 'half'/'float' for every layer, or {NAME: depth} (others half)."""
    if isinstance(depth, str):
        return {name: depth for name in names}
    return {name: depth.get(name, "half") for name in names}


def _check_write_layers(params, connected):
    path, depth, names = params["path"], params["depth"], params["names"] or []
    if os.path.splitext(path)[1].lower() != ".exr":
        return [("path", f"write_layers writes OpenEXR files: name it .exr, found '{path}'")]
    problems = [("names", f"'{name}' cannot be a layer name (no dots, not empty)")
                for name in names if not name or "." in name]
    if isinstance(depth, str):
        if depth not in DEPTHS:
            problems.append(("depth", f"expected half or float, found '{depth}'"))
    elif isinstance(depth, dict):
        from graph.errors import did_you_mean
        for name, value in depth.items():
            if name not in names:
                hint = did_you_mean(name, names)
                problems.append(("depth", f"no layer '{name}'{'; ' + hint if hint else ''} "
                                          f"(layers: {', '.join(names)})"))
            elif value not in DEPTHS:
                problems.append(("depth", f"layer '{name}': expected half or float, found "
                                          f"{value!r}"))
    else:
        problems.append(("depth", f"expected half, float or {{LAYER: half|float}}, found "
                                  f"{depth!r}"))
    return problems


@node("write_layers", version=1, sink=True, check=_check_write_layers, category="io",
      inputs=[Input("layers", "image|mask", list_of=True, names="names",
                    doc="the layers, as a mapping {NAME: node, ...}")],
      params=[Param("path", "path", doc="output .exr file (#### or %04d: frame number)"),
              Param("names", "any", None, optional=True,
                    doc="layer names in the order of `layers` (set for you when `layers` "
                        "is a mapping)"),
              Param("depth", "any", "half",
                    doc="half or float for every layer, or {NAME: half|float} (others half)"),
              Param("compression", "choice", "zip", choices=COMPRESSIONS,
                    doc="EXR compression (zip: lossless, good for mattes; dwaa/dwab lossy)")])
def write_layers(layers, *, path, names, depth, compression):
    """Write several images and masks into one OpenEXR file as named layers (Nuke's
    layers): an image as NAME.R, NAME.G, NAME.B, NAME.A (premultiplied, working space),
    a mask as one channel NAME.Y. Every layer must have the same size. Written atomically;
    returns the first layer.

        out: {type: write_layers, path: out/shot.exr,
              layers: {beauty: comp, key: matte, garbage: junk}, depth: {key: float}}
    """
    sizes = {name: array.shape[:2] for name, array in zip(names, layers)}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"'{name}' is {w}x{h}" for name, (h, w) in sizes.items())
        raise NodeInputError(f"layer sizes differ: {listed}",
                             hint="resize or crop the layers to one size first")
    kinds = _layer_depths(depth, names)
    planes = {}
    for name, array in zip(names, layers):
        planes.update(layer_planes(name, array, np.float16 if kinds[name] == "half"
                                   else np.float32))
    write_file(path, planes, compression)
    return layers[0]
