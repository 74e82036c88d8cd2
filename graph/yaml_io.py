"""YAML <-> Graph, with file:line:column in every error.

graph.yaml_reader turns the text into plain values that know their place (and enforces
the limits); this module checks the shape of each section before walking it (params and
their long form, nodes, inputs, animated values) and builds the Graph.
"""
from __future__ import annotations

import os
import re
from typing import Any

import yaml

from graph import limits
from graph.errors import GraphError, Location, Problem, describe_value, did_you_mean
from graph.model import Animated, Graph, Node, Ref, validate_graph
from graph.spec import Registry
from graph.yaml_reader import (Located, plain, read_document, read_text_file,  # noqa: F401
                               read_value)

FORMAT_VERSION = 1
TOP_LEVEL_KEYS = ("maskgraph", "description", "params", "nodes", "inputs", "outputs")
PARAM_LONG_KEYS = ("default", "type", "min", "max", "doc", "choices")
PARAM_TYPES = {"float": float, "int": int, "bool": bool, "str": str, "path": str,
               "list": list, "color": list}
_SUBSTITUTION = re.compile(r"\$\{(\w+)\}|\$(\w+)")


# --------------------------------------------------------------------- params

class GraphParam:
    """A graph-level param: default, type, range, where it was declared."""

    def __init__(self, name, default, type_name, minimum=None, maximum=None, doc="",
                 choices=None, location=None, base_dir="."):
        self.name, self.default, self.type = name, default, type_name
        self.min, self.max, self.doc, self.choices = minimum, maximum, doc, choices
        self.location, self.base_dir = location, base_dir

    def check(self, value) -> str | None:
        """None if `value` fits, else what was expected."""
        expected = PARAM_TYPES.get(self.type)
        if self.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is not None and (not isinstance(value, expected)
                                     or (expected is int and isinstance(value, bool))):
            return f"a {self.type}"
        if self.choices and not any(value == choice and type(value) is type(choice)
                                    for choice in self.choices):
            return "one of " + ", ".join(map(str, self.choices))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return f"a number >= {self.min}"
            if self.max is not None and value > self.max:
                return f"a number <= {self.max}"
        return None


def _infer_type(value) -> str:
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str),
                       ("list", list)):
        if isinstance(value, kind):
            return name
    return "any"


def read_params(section, source, base_dir, problems) -> dict[str, GraphParam]:
    """Graph params from the `params:` section (short and long forms)."""
    params = {}
    if section is None:
        return params
    if not isinstance(section, Located) or not isinstance(section.value, dict):
        where = section.location if isinstance(section, Located) else Location(source)
        problems.append(Problem("'params' must be a mapping name: value", where,
                                hint="params: {softness: 0.8}"))
        return params
    for name, raw in section.value.items():
        where = section.where(name)
        if not isinstance(name, str):
            problems.append(Problem(f"a param name must be a name, found {name!r}", where))
            continue
        if isinstance(raw, Located) and isinstance(raw.value, dict) and (
                "default" in raw.value or "type" in raw.value):
            params[name] = _long_form(name, raw, where, base_dir, problems)
        else:
            value = plain(raw)
            params[name] = GraphParam(name, value, _infer_type(value), location=where,
                                      base_dir=base_dir)
    for param in params.values():
        if param.default is not None and (expected := param.check(param.default)):
            problems.append(Problem(f"default {describe_value(param.default)} is not "
                                    f"{expected}", param.location, key=param.name))
    return params


def _long_form(name, raw: Located, where, base_dir, problems) -> GraphParam:
    """A long-form param {default, type, min, max, choices, doc}, each setting checked."""
    spec = plain(raw)
    bad = []
    for key in spec:
        if key not in PARAM_LONG_KEYS:
            problems.append(Problem(f"unknown key '{key}' in the long form of param",
                                    raw.where(key), key=name,
                                    hint=did_you_mean(str(key), PARAM_LONG_KEYS)))
    type_name = spec.get("type")
    if type_name is not None and (not isinstance(type_name, str) or
                                  (type_name not in PARAM_TYPES and type_name != "any")):
        bad.append(("type", "one of " + ", ".join(PARAM_TYPES) + ", any", type_name))
    for key in ("min", "max"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or
                                  not isinstance(value, (int, float))):
            bad.append((key, "a number", value))
    choices = spec.get("choices")
    if choices is not None and (not isinstance(choices, list) or not choices or any(
            isinstance(item, (list, dict)) for item in choices)):
        bad.append(("choices", "a list of plain values", choices))
    if not isinstance(spec.get("doc", ""), str):
        bad.append(("doc", "text", spec.get("doc")))
    for key, expected, found in bad:
        problems.append(Problem(f"'{key}': expected {expected}, found {describe_value(found)}",
                                raw.where(key), key=name))
    if not bad and spec.get("min") is not None and spec.get("max") is not None \
            and spec["min"] > spec["max"]:
        problems.append(Problem(f"min {spec['min']} is above max {spec['max']}",
                                raw.where("min"), key=name))
        bad.append(("min", "", None))
    if bad:  # still declared (unchecked), so its uses do not add 'unknown param' noise
        return GraphParam(name, spec.get("default"), "any", location=where, base_dir=base_dir)
    type_name = type_name or _infer_type(spec.get("default"))
    return GraphParam(name, spec.get("default"), type_name, spec.get("min"), spec.get("max"),
                      spec.get("doc", ""), choices, where, base_dir)


def apply_overrides(params: dict[str, GraphParam], overrides: dict, source: str,
                    problems: list[Problem], override_base: str | None = None
                    ) -> dict[str, tuple[Any, str | None]]:
    """name -> (value, base dir for relative paths or None for the param's own file).

    Overrides come from --set or Python (relative paths resolve against the working
    directory) or from a template instance (against the instantiating file's folder).
    """
    values = {name: (param.default, None) for name, param in params.items()}
    for name, value in (overrides or {}).items():
        if not isinstance(name, str):
            problems.append(Problem(f"a param name must be text, found {name!r}",
                                    Location(source)))
            continue
        try:
            limits.check_value(value, Location(source), name)
        except GraphError as error:
            problems += error.problems
            continue
        param = params.get(name)
        if param is None:
            problems.append(Problem(f"the graph has no param '{name}'", Location(source),
                                    key=name, hint=did_you_mean(name, params) or
                                    f"its params: {', '.join(params) or 'none'}"))
            continue
        if param.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (expected := param.check(value)) is not None:
            problems.append(Problem(f"--set {name}: expected {expected}, found "
                                    f"{describe_value(value)}",
                                    param.location, key=name))
            continue
        values[name] = (value, override_base or os.getcwd())
    for name, (value, _) in values.items():
        if value is None:
            problems.append(Problem("param has no default and was not set",
                                    params[name].location, key=name,
                                    hint=f"pass --set {name}=VALUE"))
    return values


def substitute(value, values: dict, problems: list[Problem], where: Location,
               node: str, key: str):
    """Replace `$name` (whole value) and `${name}` (inside strings) by param values.

    Returns (value, base dir of a substituted override or None).
    """
    if isinstance(value, list):
        items = [substitute(item, values, problems, where, node, key) for item in value]
        base = next((b for _, b in items if b), None)
        return [item for item, _ in items], base
    if not isinstance(value, str) or "$" not in value:
        return value, None
    whole = re.fullmatch(r"\$(\w+)|\$\{(\w+)\}", value)
    if whole:
        name = whole.group(1) or whole.group(2)
        if name not in values:
            problems.append(Problem(f"unknown param '${name}'", where, node, key,
                                    did_you_mean(name, values) or
                                    "declare it under 'params:'"))
            return value, None
        return values[name]

    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            problems.append(Problem(f"unknown param '${name}'", where, node, key,
                                    did_you_mean(name, values)))
            return match.group(0)
        return str(values[name][0])
    return _SUBSTITUTION.sub(replace, value), None


# ---------------------------------------------------------------------- nodes

def read_node(name, body: Located, where: Location, graph: Graph, registry: Registry,
              values: dict, base_dir: str, problems: list[Problem]) -> Node | None:
    """One node from its YAML mapping, or None when it cannot be read at all."""
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"a node name must be a name, found {name!r}", where,
                                hint="node names are text: plate, key, out"))
        return None
    if "." in name or "/" in name:
        problems.append(Problem("node names may not contain '.' or '/'", where, name,
                                hint="'.' selects an output and '/' a template's node"))
        return None
    if not isinstance(body, Located) or not isinstance(body.value, dict):
        problems.append(Problem("a node is a mapping with a 'type'", where, name,
                                hint=f"{name}: {{type: read, path: plate.png}}"))
        return None
    fields = body.value
    node_type = fields.get("type")
    if not isinstance(node_type, str):
        problems.append(Problem("missing 'type'", where, name, "type",
                                hint="`maskgraph nodes` lists the node types"))
        return None
    node = Node(name, node_type, base_dir=base_dir,
                locations={"": where, **body.item_locations})
    spec = registry.get(node_type)
    for key, raw in fields.items():
        if key == "type":
            continue
        if not isinstance(key, str):
            problems.append(Problem(f"a param or input name must be a name, found {key!r}",
                                    body.where(key), name))
            continue
        if key == "disable":
            node.disable = _read_disable(raw, body.where(key), name, problems)
        elif spec is not None and spec.input(key) is not None:
            node.inputs[key] = _read_refs(raw, body.where(key), name, key, values, problems,
                                          node, spec.input(key))
        else:
            node.params[key] = _read_param_value(raw, body.where(key), name, key, spec,
                                                 values, problems)
    return node


def _read_disable(raw, where, name, problems) -> bool:
    if not isinstance(raw, bool):
        problems.append(Problem(f"expected true or false, found {describe_value(raw)}", where, name,
                                "disable"))
        return False
    return raw


def _read_refs(raw, where, name, key, values, problems, node=None, port=None):
    value = plain(raw)
    if isinstance(value, dict) and port is not None and port.names:
        node.params[port.names] = [str(label) for label in value]  # {NAME: node, ...}
        value = list(value.values())
    value, _ = substitute(value, values, problems, where, name, key)
    if isinstance(value, str):
        return Ref.parse(value)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return [Ref.parse(item) for item in value]
    problems.append(Problem("an input names a node (or a list of nodes), found "
                            f"{describe_value(value)}",
                            where, name, key, hint=f"{key}: <node name>"))
    return []


def _read_param_value(raw, where, name, key, spec, values, problems):
    if isinstance(raw, Located) and isinstance(raw.value, dict) and "keys" in raw.value:
        return _read_animated(raw, where, name, key, values, problems)
    value, base = substitute(plain(raw), values, problems, where, name, key)
    param = spec.param(key) if spec is not None else None
    if base and param is not None and param.type == "path" and isinstance(value, str):
        return os.path.join(base, value)  # a --set path: relative to where it was given
    return value


def _read_animated(raw, where, name, key, values, problems):
    fields = raw.value
    for extra in set(fields) - {"keys", "interp"}:
        problems.append(Problem(f"unknown key '{extra}' in an animated value",
                                raw.where(extra), name, key, "use {keys: {...}, interp: ...}"))
    keys = fields["keys"]
    if not isinstance(keys, Located) or not isinstance(keys.value, dict) or not keys.value:
        problems.append(Problem("'keys' must map frame numbers to values", raw.where("keys"),
                                name, key, "keys: {1: 0.0, 24: 1.0}"))
        return None
    frames = []
    for frame, value in keys.value.items():
        if isinstance(frame, bool) or not isinstance(frame, (int, float)):
            problems.append(Problem(f"a key frame must be a number, found {frame!r}",
                                    keys.where(frame), name, key))
            continue
        frames.append((frame, substitute(plain(value), values, problems, where, name,
                                         key)[0]))
    interp = plain(fields.get("interp", "linear"))
    if not isinstance(interp, str):
        problems.append(Problem(f"'interp': expected linear, smooth or step, found "
                                f"{describe_value(interp)}", raw.where("interp"), name, key))
        interp = "linear"
    return Animated(tuple(sorted(frames, key=lambda pair: pair[0])), interp)


# ---------------------------------------------------------------------- load / dump

def load_graph(source, registry: Registry, params: dict | None = None) -> Graph:
    """A Graph from a YAML file path or YAML text; raises GraphError listing every problem."""
    text, name, base_dir = _read_source(source)
    document, problems = read_document(text, name)
    graph = build_graph(document, name, base_dir, registry, params, problems)
    problems += validate_graph(graph) if not problems else []
    if problems:
        from graph.templates import place_in_instances
        raise GraphError(place_in_instances(graph, problems))
    return graph


def _read_source(source) -> tuple[str, str, str]:
    """(text, name for messages, folder for relative paths) of a graph path or YAML text.

    A path-like object, or a string of one line that does not start with '{', is a file
    path (any extension); anything else is YAML text.
    """
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    if not isinstance(source, (str, os.PathLike)):
        raise GraphError(Problem(f"a graph is a file path or YAML text, found "
                                 f"{describe_value(source)}"))
    if isinstance(source, os.PathLike) or ("\n" not in source
                                           and not source.lstrip().startswith("{")):
        name = os.fspath(source)
        path = os.path.abspath(os.path.expanduser(name))
        return read_text_file(path, name, "graph file"), name, os.path.dirname(path)
    return source, "<string>", os.getcwd()


def build_graph(document: Located, source: str, base_dir: str, registry: Registry,
                overrides: dict | None, problems: list[Problem],
                override_base: str | None = None) -> Graph:
    """The Graph a parsed document describes (templates expanded)."""
    top = document.value
    from graph.settings import read_settings, sections
    known_keys = TOP_LEVEL_KEYS + tuple(sections(registry))
    for key in top:
        if key not in known_keys:
            problems.append(Problem(f"unknown top-level key '{key}'", document.where(key),
                                    hint=did_you_mean(key, known_keys) or
                                    "a graph has 'maskgraph', 'params' and 'nodes'"))
    version = top.get("maskgraph")
    if version != FORMAT_VERSION:
        problems.append(Problem(f"expected 'maskgraph: {FORMAT_VERSION}' (the format "
                                f"version), found {version!r}", document.where("maskgraph"),
                                hint="start the file with 'maskgraph: 1'"))
    declared = read_params(top.get("params"), source, base_dir, problems)
    values = apply_overrides(declared, overrides, source, problems, override_base)
    graph = Graph(registry, source)
    graph.params = {name: value for name, (value, _) in values.items()}
    read_settings(graph, document, registry,
                  lambda raw, where, key: substitute(plain(raw), values, problems, where,
                                                     None, key)[0], base_dir, problems)
    nodes = top.get("nodes")
    if not isinstance(nodes, Located) or not isinstance(nodes.value, dict):
        found = "missing" if "nodes" not in top else f"found {describe_value(plain(nodes))}"
        problems.append(Problem(f"'nodes:' must map node names to nodes ({found})",
                                document.where("nodes"),
                                hint="nodes: {plate: {type: read, path: plate.png}}"))
        declare_interface_safely(graph, top, document, source, problems)
        return graph
    from graph.templates import expand_template, is_template
    for name, body in nodes.value.items():
        where = nodes.where(name)
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"a node name must be a name, found {name!r}", where,
                                    hint="node names are text: plate, key, out"))
            continue
        if is_template(body):
            expand_template(graph, name, body, where, registry, values, base_dir, problems)
            continue
        node = read_node(name, body, where, graph, registry, values, base_dir, problems)
        if node is not None:
            graph.nodes[name] = node
    graph.resolve_instances(problems)
    declare_interface_safely(graph, top, document, source, problems)
    return graph


def declare_interface_safely(graph, top, document, source, problems) -> None:
    from graph.templates import declare_interface
    declare_interface(graph, top, document, source, problems)


def dump_graph(graph: Graph) -> str:
    """YAML text that loads back into an equal graph (params as coerced values).

    Template instances are written as template nodes, not as their expanded nodes.
    """
    outer = [name for name in graph.instance_fields if "/" not in name]
    output_names = {ref: (f"{instance}.{output}" if index else instance)
                    for instance in outer
                    for index, (output, ref) in enumerate(graph.instances[instance].items())}

    def ref_text(ref):
        return output_names.get(ref, str(ref))
    nodes = {}
    for name, node in graph.nodes.items():
        instance = next((i for i in outer if name.startswith(i + "/")), None)
        if instance is not None:
            if instance not in nodes:
                nodes[instance] = {"type": "template", **graph.instance_fields[instance]}
            continue
        body: dict[str, Any] = {"type": node.type}
        if node.disable:
            body["disable"] = True
        for port, value in node.inputs.items():
            body[port] = [ref_text(r) for r in value] if isinstance(value, list) \
                else ref_text(value)
        for key in node.params:
            body[key] = _dump_value(node.values.get(key, node.params[key]))
        nodes[name] = body
    from graph.settings import header_sections
    return yaml.safe_dump({"maskgraph": FORMAT_VERSION, **header_sections(graph),
                           "nodes": nodes}, sort_keys=False, default_flow_style=None)


def _dump_value(value):
    if isinstance(value, Animated):
        return {"keys": {frame: _dump_value(v) for frame, v in value.keys},
                "interp": value.interp}
    if isinstance(value, tuple):
        return [_dump_value(item) for item in value]
    return value
