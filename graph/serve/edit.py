"""Edits of a graph file made from the browser, keeping the user's comments and formatting.

The file is read and written with ruamel.yaml's round-trip mode: comments, key order,
flow/block style and quoting survive; only the values touched change. Every edit is a
pure function text -> text (so it is tested without a server) and the server shows the
unified diff of what it wrote. Writes are atomic (temporary file renamed into place, the
file's permissions kept).
"""
from __future__ import annotations

import difflib
import io
import os
import re

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from graph import atomic

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EditError(ValueError):
    """An edit that cannot be made (the message says why)."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _load(text: str):
    try:
        document = _yaml().load(text)
    except YAMLError as error:
        raise EditError(f"the graph file is not valid YAML; fix it first ({error})") from None
    if not isinstance(document, CommentedMap) or not isinstance(document.get("nodes"), CommentedMap):
        raise EditError("the graph file has no 'nodes:' mapping to edit")
    return document


def _dump(document, original: str) -> str:
    out = io.StringIO()
    _yaml().dump(document, out)
    return keep_spacing(original, out.getvalue())


def _normal(line: str) -> str:
    return re.sub(r"(?<=\S) {2,}", " ", line.rstrip())


def keep_spacing(old: str, new: str) -> str:
    """`new` with every line that differs from `old` only in inner spacing taken from `old`.

    ruamel.yaml keeps comments and styles but not the user's alignment spaces
    (`plate:  {type: read}`); lines the edit did not touch are restored as written.
    """
    old_lines, new_lines = old.splitlines(True), new.splitlines(True)
    matcher = difflib.SequenceMatcher(None, [_normal(x) for x in old_lines],
                                      [_normal(x) for x in new_lines], autojunk=False)
    merged = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        merged += old_lines[a0:a1] if tag == "equal" else new_lines[b0:b1]
    return "".join(merged)


def _number(value: float):
    rounded = round(float(value), 2)
    return int(rounded) if rounded == int(rounded) else rounded


def _point_list(points) -> CommentedSeq:
    outer = CommentedSeq()
    for x, y in points:
        pair = CommentedSeq([_number(x), _number(y)])
        pair.fa.set_flow_style()
        outer.append(pair)
    outer.fa.set_flow_style()
    return outer


def _check_name(name: str) -> None:
    if not NAME.match(name or ""):
        raise EditError(f"node name {name!r}: use letters, digits and _ (not starting with a digit)")


def _keyed(existing, frame: int, value):
    """`existing` (plain or {keys: ...}) with a key at `frame` set to `value`."""
    if isinstance(existing, CommentedMap) and "keys" in existing:
        keys = existing["keys"]
        keys[frame] = value
        ordered = sorted(keys.items(), key=lambda item: int(item[0]))
        for key in list(keys):
            del keys[key]
        for key, item in ordered:
            keys[key] = item
        return existing
    animated = CommentedMap()
    keys = CommentedMap()
    keys[frame] = value
    animated["keys"] = keys
    animated["interp"] = "linear"
    return animated


def set_shape(text: str, name: str, type_name: str, points, handles=None, frame: int = 1,
              key: bool = False, like: str | None = None, wire: tuple[str, str] | None = None,
              ) -> str:
    """Write a shape node's points (and handles): update `name` or create it.

    key: set a key at `frame` (animated roto) instead of replacing the fixed points.
    like: the node whose size the new shape's canvas copies. wire: (node, port) to connect.
    """
    _check_name(name)
    document = _load(text)
    nodes = document["nodes"]
    if name in nodes:
        body = nodes[name]
        if not isinstance(body, CommentedMap):
            raise EditError(f"node '{name}' is not a mapping")
        if body.get("type") != type_name:
            raise EditError(f"node '{name}' is a {body.get('type')}, not a {type_name}")
    else:
        body = CommentedMap()
        body["type"] = type_name
        if like:
            body["like"] = like
        _insert(nodes, name, body, wire)
    body["points"] = _keyed(body.get("points"), frame, _point_list(points)) if key \
        else _point_list(points)
    if handles is not None:
        body["handles"] = _keyed(body.get("handles"), frame, _point_list(handles)) if key \
            else _point_list(handles)
    if wire:
        _wire(nodes, name, wire)
    return _dump(document, text)


def add_read_mask(text: str, name: str, path: str, wire: tuple[str, str] | None = None) -> str:
    """Create a read_mask node reading `path` (relative to the graph) unless it exists."""
    _check_name(name)
    document = _load(text)
    nodes = document["nodes"]
    if name in nodes:
        if nodes[name].get("type") != "read_mask":
            raise EditError(f"node '{name}' is a {nodes[name].get('type')}, not a read_mask")
    else:
        body = CommentedMap()
        body["type"] = "read_mask"
        body["path"] = path
        body.fa.set_flow_style()
        _insert(nodes, name, body, wire)
    if wire:
        _wire(nodes, name, wire)
    return _dump(document, text)


def _insert(nodes: CommentedMap, name: str, body, wire) -> None:
    """A new node goes just before the node it feeds, else at the end."""
    position = list(nodes).index(wire[0]) if wire and wire[0] in nodes else len(nodes)
    nodes.insert(position, name, body)


def _wire(nodes: CommentedMap, name: str, wire: tuple[str, str]) -> None:
    target, port = wire
    if target not in nodes or not isinstance(nodes[target], CommentedMap):
        raise EditError(f"cannot connect to '{target}': no such node")
    nodes[target][port] = name


def diff(old: str, new: str, filename: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        f"a/{filename}", f"b/{filename}"))


def write_atomic(path: str, data: bytes) -> None:
    """Replace `path` with `data` atomically, keeping the permissions of the file it
    replaces (a new file gets the umask's)."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = None
    with atomic.atomic_path(path) as temporary:
        with open(temporary, "wb") as out:
            out.write(data)
        if mode is not None:
            os.chmod(temporary, mode)
