"""The in-memory graph: nodes, their params and connections, and the Python builder.

A Graph is plain data. `validate_graph` checks it against a registry and returns every
problem at once; the YAML loader and the builder both go through it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graph.errors import (GraphError, Location, ParamValueError, Problem, describe_value,
                          did_you_mean)
from graph.spec import (NUMERIC_TYPES, NodeSpec, Registry, coerce_param, port_accepts,
                        template_input)

INTERPOLATIONS = ("linear", "smooth", "step")


@dataclass(frozen=True)
class Ref:
    """A connection: the result of `node`, output `output` (None: the first output)."""

    node: str
    output: str | None = None

    def __str__(self) -> str:
        return self.node if self.output is None else f"{self.node}.{self.output}"

    @classmethod
    def parse(cls, text: str) -> "Ref":
        """'key' or 'key.matte' (node names may contain '/', never '.')."""
        name, _, output = text.partition(".")
        return cls(name, output or None)


@dataclass(frozen=True)
class Animated:
    """An animated param: {frame: value} keys and an interpolation."""

    keys: tuple  # ((frame, value), ...) sorted by frame
    interp: str = "linear"


@dataclass
class Node:
    """One node of a graph.

    params: name -> value as written (a plain value or an Animated); `values` holds the
    coerced ones after validation. inputs: port -> Ref, or list of Ref for list ports.
    locations: where each key was written ('' = the node itself).
    """

    name: str
    type: str
    params: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    disable: bool = False
    locations: dict = field(default_factory=dict)
    base_dir: str = "."
    values: dict = field(default_factory=dict)

    def location(self, key: str = "") -> Location | None:
        return self.locations.get(key) or self.locations.get("")

    def refs(self) -> list[tuple[str, Ref]]:
        """(port, Ref) for every connection, list ports flattened in order."""
        pairs = []
        for port, value in self.inputs.items():
            for ref in (value if isinstance(value, list) else [value]):
                pairs.append((port, ref))
        return pairs


class Graph:
    """A compositing graph. Build it from YAML (`graph.load`) or with the builder methods:

        g = Graph()
        plate = g.read(path="plate.png")
        g.write(g.blur(plate, size=2), path="out.png")

    Every node type of the registry is a method; inputs go positionally (in port order)
    or by name, params by name; `name=` picks the node's name.
    """

    def __init__(self, registry: Registry | None = None, source: str | None = None):
        self.nodes: dict[str, Node] = {}
        self.source = source
        self.params: dict[str, Any] = {}
        self.outputs: dict[str, Ref] = {}     # a template's declared outputs
        self.instances: dict[str, dict[str, Ref]] = {}  # template instance -> outputs
        self.port_checks: list = []  # (ref, expected type, location, node, port)
        self.instance_sites: dict = {}  # template instance -> where it was instantiated
        self.instance_fields: dict = {}  # template instance -> its file, ports and params
        # Header settings ("colour.working" -> value) that reach nodes as params declared
        # with `setting=`; setting_places: name -> (folder for relative paths, Location).
        self.settings: dict[str, Any] = {}
        self.setting_places: dict[str, tuple] = {}
        self._registry = registry

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from graph import default_registry
            self._registry = default_registry()
        return self._registry

    def __eq__(self, other) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return _comparable(self) == _comparable(other)

    # ------------------------------------------------------------------ builder
    def add(self, type: str, *inputs, name: str | None = None, disable: bool = False,
            **kwargs) -> "Handle":
        """Add a node of `type`; returns a handle to its (first) output."""
        spec = self.registry.get(type)
        if spec is None:
            raise GraphError(Problem(f"unknown node type '{type}'",
                                     hint=did_you_mean(type, self.registry.ids())))
        node_name = name or self._fresh_name(type)
        if node_name in self.nodes:
            raise GraphError(Problem("a node of this name exists already", node=node_name))
        node = Node(node_name, type, disable=disable, base_dir=os.getcwd())
        ports = [port.name for port in spec.inputs]
        for port, value in zip(ports, inputs):
            kwargs.setdefault(port, value)
        for key, value in kwargs.items():
            port = spec.input(key)
            if port is not None and port.names and isinstance(value, dict):
                node.inputs[key] = _as_refs(list(value.values()))
                node.params[port.names] = [str(name) for name in value]
            elif port is not None:
                node.inputs[key] = _as_refs(value)
            else:
                node.params[key] = _from_python(value)
        self.nodes[node_name] = node
        problems = validate_node(self, node, spec)
        if problems:
            del self.nodes[node_name]
            raise GraphError(problems)
        return Handle(self, node_name)

    def template(self, file: str, name: str | None = None, **ports_and_params) -> "Handle":
        """Add an instance of a template file; returns a handle to its first output
        (other outputs as attributes: `shot.matte`)."""
        from graph.templates import add_instance
        instance = name or self._fresh_name("template")
        outputs = add_instance(self, instance, file, ports_and_params)
        first = next(iter(outputs.values()))
        return Handle(self, first.node, first.output, outputs)

    def __getattr__(self, type_id: str):
        if type_id.startswith("_"):
            raise AttributeError(type_id)
        if type_id not in self.registry:
            raise AttributeError(f"no node type '{type_id}'"
                                 + (f" ({did_you_mean(type_id, self.registry.ids())})"
                                    if did_you_mean(type_id, self.registry.ids()) else ""))

        def build(*inputs, **kwargs):
            return self.add(type_id, *inputs, **kwargs)
        build.__doc__ = self.registry.get(type_id).doc
        build.__name__ = type_id
        return build

    def _fresh_name(self, type_id: str) -> str:
        index = 1
        while f"{type_id}{index}" in self.nodes:
            index += 1
        return f"{type_id}{index}"

    # ------------------------------------------------------------------ queries
    def resolve(self, ref: Ref) -> Ref:
        """Follow a reference to a template instance (or a declared output) to its node."""
        outputs = self.instances.get(ref.node)
        if not outputs:
            return ref
        return outputs.get(ref.output or next(iter(outputs)), ref)

    def resolve_instances(self, problems: list) -> None:
        """Point every reference to a template instance at the instance's output node."""
        for node in self.nodes.values():
            for port, value in node.inputs.items():
                refs = value if isinstance(value, list) else [value]
                for ref in refs:
                    outputs = self.instances.get(ref.node)
                    if outputs is not None and (ref.output or next(iter(outputs), None)) \
                            not in outputs:
                        problems.append(Problem(
                            f"template instance '{ref.node}' has no output '{ref.output}'",
                            node.location(port), node.name, port,
                            did_you_mean(ref.output, outputs) or
                            f"its outputs: {', '.join(outputs) or 'none'}"))
                resolved = [self.resolve(ref) for ref in refs]
                node.inputs[port] = resolved if isinstance(value, list) else resolved[0]

    def sinks(self) -> list[str]:
        """Names of the nodes that write files, in graph order."""
        return [name for name, node in self.nodes.items()
                if (spec := self.registry.get(node.type)) is not None and spec.sink]

    def dependency_graph(self) -> nx.DiGraph:
        """A networkx DiGraph with an edge upstream -> downstream for every connection."""
        digraph = nx.DiGraph()
        digraph.add_nodes_from(self.nodes)
        for name, node in self.nodes.items():
            for _, ref in node.refs():
                digraph.add_edge(ref.node, name)
        return digraph

    def validate(self) -> None:
        """Raise GraphError listing every problem, or return None."""
        problems = validate_graph(self)
        if problems:
            raise GraphError(problems)

    def evaluate(self, outputs=None, frame: int = 1, feed=None, **options):
        """Compute the requested outputs (default: every sink) -> {name: array}."""
        return self.run(outputs, frame=frame, feed=feed, **options).results

    def run(self, outputs=None, frame: int = 1, feed=None, **options):
        """Like `evaluate`, returning a Run with `results` and per-node `stats`."""
        from graph.evaluate import Evaluator
        return Evaluator(self, **options).run(outputs, frame=frame, feed=feed)

    def render(self, frames, outputs=None, client=None, on_frame=None, **options):
        """Render a frame range (sinks write their files) -> Render with every frame's
        stats. client: a `distributed.Client` to render on a Dask cluster (or
        workers=N for a LocalCluster of N single-threaded processes); on_frame(frame_run)
        after each finished frame; options: cache_dir, memory, on_node, feed."""
        from graph.evaluate import render
        return render(self, frames, outputs, client=client, on_frame=on_frame, **options)

    def to_yaml(self) -> str:
        from graph.yaml_io import dump_graph
        return dump_graph(self)


class Handle:
    """What a builder method returns: a node and one of its outputs."""

    def __init__(self, graph: Graph, node: str, output: str | None = None,
                 template_outputs: dict | None = None):
        self.graph, self.node, self.output = graph, node, output
        self.template_outputs = template_outputs or {}

    @property
    def ref(self) -> Ref:
        return Ref(self.node, self.output)

    def __getattr__(self, output: str) -> "Handle":
        if output.startswith("_") or output == "template_outputs":
            raise AttributeError(output)
        if output in self.template_outputs:
            ref = self.template_outputs[output]
            return Handle(self.graph, ref.node, ref.output)
        spec = self.graph.registry.get(self.graph.nodes[self.node].type)
        if spec.output(output) is None:
            raise AttributeError(f"node '{self.node}' has no output '{output}'")
        return Handle(self.graph, self.node, output)

    def __repr__(self) -> str:
        return f"<{self.ref} ({self.graph.nodes[self.node].type})>"


def _as_refs(value):
    if isinstance(value, (list, tuple)):
        return [_as_refs(item) for item in value]
    if isinstance(value, Handle):
        return value.ref
    if isinstance(value, Ref):
        return value
    if isinstance(value, str):
        return Ref.parse(value)
    raise GraphError(f"an input must be a node handle or a node name, found {value!r}")


def _from_python(value):
    """Builder values: tuples become lists, {keys:...} dicts become Animated."""
    if isinstance(value, tuple):
        return [_from_python(item) for item in value]
    if isinstance(value, dict) and "keys" in value:
        frames = value["keys"]
        if not isinstance(frames, dict) or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f)
                for f in frames):
            raise GraphError("'keys' maps finite frame numbers to values, found "
                             f"{describe_value(frames)}")
        keys = tuple(sorted((int(frame), _from_python(v)) for frame, v in frames.items()))
        return Animated(keys, value.get("interp", "linear"))
    return value


def _comparable(graph: Graph):
    return {name: (node.type, node.values, {p: v for p, v in node.inputs.items()},
                   node.disable) for name, node in graph.nodes.items()}


# ---------------------------------------------------------------------- validation

def validate_graph(graph: Graph) -> list[Problem]:
    """Every problem of the graph: node types, params, connections, port types, cycles."""
    problems = []
    for node in graph.nodes.values():
        spec = graph.registry.get(node.type)
        if spec is None:
            problems.append(Problem(f"unknown node type '{node.type}'", node.location("type"),
                                    node.name, "type",
                                    did_you_mean(node.type, graph.registry.ids())
                                    or "`maskgraph nodes` lists the node types"))
            continue
        problems += validate_node(graph, node, spec)
    problems = list(dict.fromkeys(problems))  # a header setting's problem comes once
    problems += _cycle_problems(graph)
    if not problems:
        problems += _port_type_problems(graph)
    if not problems:
        from graph.outputs import path_conflicts
        problems += path_conflicts(graph)
    return problems


def validate_node(graph: Graph, node: Node, spec: NodeSpec) -> list[Problem]:
    """Problems of one node's params and inputs (references checked against the graph)."""
    problems = _param_problems(graph, node, spec) + _input_problems(graph, node, spec)
    if node.disable and not _original_port(spec):
        problems.append(Problem("cannot be disabled: it has no input to pass through",
                                 node.location("disable"), node.name, "disable"))
    if not problems and spec.check is not None:
        static = {name: _first_value(value) for name, value in node.values.items()}
        connected = {port for port, _ in node.refs()}
        for key, message in spec.check(static, connected):
            problems.append(_check_problem(graph, node, spec.param(key), key, message))
    return problems


def _check_problem(graph, node, param, key, message) -> Problem:
    """A check's problem; one about a header setting is placed there, once for all nodes."""
    if param is not None and param.setting in graph.setting_places \
            and key not in node.params:
        return Problem(message, graph.setting_places[param.setting][1], key=param.setting)
    return Problem(message, node.location(key), node.name, key)


def _first_value(value):
    return value.keys[0][1] if isinstance(value, Animated) else value


def _original_port(spec: NodeSpec) -> str | None:
    return spec.original or (spec.inputs[0].name if spec.inputs else None)


def _param_problems(graph: Graph, node: Node, spec: NodeSpec) -> list[Problem]:
    problems = []
    node.values = {}
    for key, raw in node.params.items():
        param = spec.param(key)
        if param is not None and param.setting:
            section, _, entry = param.setting.partition(".")
            problems.append(Problem(f"'{key}' is a graph setting, not a node param",
                                    node.location(key), node.name, key,
                                    f"set it once in the graph header: {section}: "
                                    f"{{{entry}: ...}}"))
            continue
        if param is None:
            known = [p.name for p in spec.params] + [i.name for i in spec.inputs]
            problems.append(Problem(f"'{spec.id}' has no param or input '{key}'",
                                    node.location(key), node.name, key,
                                    did_you_mean(key, known) or
                                    f"its params: {', '.join(p.name for p in spec.params) or 'none'}"))
            continue
        try:
            node.values[key] = _coerce_value(param, raw, node.base_dir)
        except ParamValueError as error:
            problems.append(Problem(str(error), node.location(key), node.name, key, error.hint))
    for param in spec.params:
        if param.name not in node.values and (param.setting or param.env) \
                and param.name not in node.params:
            problems += _setting_problems(graph, node, param)
        if param.name not in node.values:
            if param.default is None and not param.optional:
                problems.append(Problem(f"missing required param '{param.name}' "
                                        f"({param.describe()})", node.location(), node.name,
                                        param.name))
            else:
                node.values[param.name] = coerce_param(param, param.default) \
                    if param.default is not None else None
    return problems


def _setting_problems(graph: Graph, node: Node, param) -> list[Problem]:
    """Take a `setting=`/`env=` param's value from the graph header or the environment."""
    if param.setting in graph.settings:
        raw = graph.settings[param.setting]
        base_dir, where = graph.setting_places.get(param.setting, (os.getcwd(), None))
    elif param.env and os.environ.get(param.env):
        raw, base_dir, where = os.environ[param.env], os.getcwd(), None
    else:
        return []
    if where is not None:
        node.locations.setdefault(param.name, where)
    try:
        node.values[param.name] = _coerce_value(param, raw, base_dir)
    except ParamValueError as error:
        source = f"graph setting '{param.setting}'" if where is not None \
            else f"${param.env}"
        return [Problem(f"{source}: {error}", where or node.location(), node.name,
                        param.name, error.hint)]
    return []


def is_uri(value: str) -> bool:
    """'ocio://studio-config-latest', 'file:///x': a path param that is not resolved."""
    return "://" in value


def _coerce_value(param, raw, base_dir: str):
    if isinstance(raw, Animated):
        if param.type not in NUMERIC_TYPES + ("bool", "choice", "str", "path"):
            raise ParamValueError(f"a fixed value ('{param.type}' params do not animate)", raw)
        if raw.interp not in INTERPOLATIONS:
            raise ParamValueError("interp linear, smooth or step", raw.interp)
        if not raw.keys:
            raise ParamValueError("at least one key {frame: value}", {})
        keys = tuple((frame, _coerce_value(param, value, base_dir)) for frame, value in raw.keys)
        return Animated(keys, raw.interp)
    value = coerce_param(param, raw)
    if param.type == "path" and value is not None and not is_uri(value):
        value = os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))
    return value


def _input_problems(graph: Graph, node: Node, spec: NodeSpec) -> list[Problem]:
    problems = []
    for port in spec.inputs:
        value = node.inputs.get(port.name)
        if value is None or value == []:
            if not port.optional:
                problems.append(Problem(f"missing required input '{port.name}' ({port.type})",
                                        node.location(), node.name, port.name,
                                        f"connect it: {port.name}: <node name>"))
            continue
        if port.list_of and not isinstance(value, list):
            node.inputs[port.name] = value = [value]
        elif not port.list_of and isinstance(value, list):
            problems.append(Problem(f"input '{port.name}' takes one node, found a list",
                                    node.location(port.name), node.name, port.name))
        if port.names:
            problems += _names_problems(node, port, value)
    for port, ref in node.refs():
        if spec.input(port) is None:
            continue
        target = graph.nodes.get(ref.node)
        if target is None:
            problems.append(Problem(f"unknown node '{ref.node}'", node.location(port),
                                    node.name, port, did_you_mean(ref.node, graph.nodes)))
            continue
        target_spec = graph.registry.get(target.type)
        if target_spec is not None and ref.output is not None \
                and target_spec.output(ref.output) is None:
            outputs = ", ".join(o.name for o in target_spec.outputs)
            problems.append(Problem(f"node '{ref.node}' has no output '{ref.output}'",
                                    node.location(port), node.name, port,
                                    did_you_mean(ref.output, [o.name for o in
                                                              target_spec.outputs])
                                    or f"its outputs: {outputs or 'none'}"))
        elif target_spec is not None and not target_spec.outputs:
            problems.append(Problem(f"node '{ref.node}' ({target.type}) has no output to "
                                    "connect", node.location(port), node.name, port))
    return problems


def _names_problems(node: Node, port, refs) -> list[Problem]:
    """A named list input: one distinct name per connected node."""
    names = node.values.get(port.names)
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n
                                                         for n in names):
        return [Problem(f"input '{port.name}' needs a name per node", node.location(port.name),
                        node.name, port.name,
                        f"write it as a mapping: {port.name}: {{NAME: node, ...}}")]
    if len(names) != len(refs):
        return [Problem(f"'{port.names}' has {len(names)} names for {len(refs)} nodes in "
                        f"'{port.name}'", node.location(port.names), node.name, port.names)]
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        return [Problem(f"repeated name(s): {', '.join(map(str, repeated))}",
                        node.location(port.name), node.name, port.name)]
    return []


def _cycle_problems(graph: Graph) -> list[Problem]:
    digraph = graph.dependency_graph()
    digraph.remove_nodes_from([n for n in list(digraph) if n not in graph.nodes])
    problems = []
    order = {name: index for index, name in enumerate(graph.nodes)}
    for cycle in nx.simple_cycles(digraph):
        start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
        cycle = cycle[start:] + cycle[:start]
        path = " -> ".join(cycle + [cycle[0]])
        first = graph.nodes[cycle[0]]
        problems.append(Problem(f"cycle: {path}", first.location(), cycle[0],
                                hint="a node cannot depend on its own result"))
        if len(problems) >= 5:
            break
    return problems


def output_types(graph: Graph) -> dict[tuple[str, str], str]:
    """(node, output) -> 'image' or 'mask', resolving `image|mask` outputs along the graph."""
    types: dict[tuple[str, str], str] = {}
    for name in nx.topological_sort(graph.dependency_graph()):
        node = graph.nodes[name]
        spec = graph.registry.get(node.type)
        follow = _followed_type(graph, node, spec, types)
        if node.type == template_input.id:  # a template's input gives what it declares
            follow = node.values.get("kind", node.params.get("kind", follow))
        for output in spec.outputs:
            types[(name, output.name)] = follow if output.type == "image|mask" else output.type
    return types


def resolve_output(graph: Graph, ref: Ref) -> str:
    spec = graph.registry.get(graph.nodes[ref.node].type)
    return ref.output or (spec.outputs[0].name if spec.outputs else "output")


def _followed_type(graph, node, spec, types) -> str:
    for port in spec.inputs:
        if port.type == "image|mask" and port.name in node.inputs:
            refs = node.inputs[port.name]
            ref = refs[0] if isinstance(refs, list) else refs
            return types.get((ref.node, resolve_output(graph, ref)), "image|mask")
    return "image|mask"


def _port_type_problems(graph: Graph) -> list[Problem]:
    types = output_types(graph)
    problems = []
    for name, node in graph.nodes.items():
        spec = graph.registry.get(node.type)
        for port, ref in node.refs():
            expected = spec.input(port).type
            found = types.get((ref.node, resolve_output(graph, ref)))
            if not port_accepts(expected, found):
                problems.append(Problem(f"input '{port}' takes {_a(expected)}, but '{ref}' "
                                        f"gives {_a(found)}", node.location(port), name, port,
                                        _conversion_hint(expected, found)))
    for ref, expected, location, name, port in graph.port_checks:
        if ref.node not in graph.nodes:
            problems.append(Problem(f"unknown node '{ref.node}'", location, name, port,
                                    did_you_mean(ref.node, graph.nodes)))
            continue
        found = types.get((ref.node, resolve_output(graph, ref)))
        if not port_accepts(expected, found):
            problems.append(Problem(f"template input '{port}' takes {_a(expected)}, but "
                                    f"'{ref}' gives {_a(found)}", location, name, port))
    return problems


def _conversion_hint(expected: str, found: str) -> str:
    if expected in ("image", "mask") and found in ("image", "mask"):
        return f"convert it with a '{'to_mask' if expected == 'mask' else 'set_alpha'}' node"
    if "track" in (expected, found):
        return "a track (from a `track` node) drives a `track` input: a shape's or transform's"
    return f"connect a node that gives {_a(expected)}"


def _a(kind: str) -> str:
    return f"an {kind}" if kind.startswith("i") else f"a {kind}"
