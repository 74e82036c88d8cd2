"""Templates: graph files with typed `inputs:`, `params:` and `outputs:`, used as nodes.

An instance `shot: {type: template, file: keyed_comp.yaml, foreground: plate, softness: 0.2}`
is expanded when the graph loads: the template's nodes join the graph as `shot/<node>`,
its inputs are wired to the nodes the instance names, and references to `shot` or
`shot.<output>` are redirected to the template's output nodes. Because expansion yields
ordinary nodes, caching sees through templates: two instances with the same inputs and
params have the same keys. Paths inside a template resolve against its own folder; `file:`
may name a template on the search path (MASKGRAPH_TEMPLATE_PATH, then the folders node
libraries contribute through the `maskgraph.templates` entry points: the built-in library
contributes nodes/templates). The `input` placeholder a template gets when loaded on its
own is the engine type graph.spec.template_input.
"""
from __future__ import annotations

import contextvars
import os
from dataclasses import replace

from graph.errors import GraphError, Location, Problem, did_you_mean
from graph.model import Graph, Node, Ref
from graph.spec import PORT_TYPES, template_input

TEMPLATE_PATH_ENV = "MASKGRAPH_TEMPLATE_PATH"
TEMPLATE_ENTRY_POINTS = "maskgraph.templates"
INPUT_NODE_TYPE = template_input.id
_CHAIN: contextvars.ContextVar[tuple] = contextvars.ContextVar("template_chain", default=())


def is_template(body) -> bool:
    from graph.yaml_io import Located
    return (isinstance(body, Located) and isinstance(body.value, dict)
            and body.value.get("type") == "template")


def search_path() -> list[str]:
    """Folders searched for a template named without a folder."""
    folders = [p for p in os.environ.get(TEMPLATE_PATH_ENV, "").split(os.pathsep) if p]
    return folders + library_template_folders()


def library_template_folders() -> list[str]:
    """The folders node libraries contribute (entry points `maskgraph.templates`: each a
    callable returning a list of folders), in entry-point name order."""
    from importlib.metadata import entry_points
    folders = []
    for entry in sorted(entry_points(group=TEMPLATE_ENTRY_POINTS), key=lambda e: e.name):
        folders += list(entry.load()())
    return folders


def find_template(file: str, base_dir: str) -> str | None:
    """The template file `file` names: relative to base_dir, else on the search path."""
    candidate = os.path.normpath(os.path.join(base_dir, os.path.expanduser(file)))
    if os.path.isfile(candidate):
        return candidate
    if os.sep in file or "/" in file:
        return None
    for folder in search_path():
        for name in (file, file + ".yaml"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return os.path.abspath(path)
    return None


def list_templates() -> dict[str, str]:
    """name -> path of every template on the search path (first one wins)."""
    found = {}
    for folder in search_path():
        if not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            if entry.endswith(".yaml"):
                found.setdefault(entry[:-5], os.path.join(folder, entry))
    return found


def parse_port_type(text) -> tuple[str, bool] | None:
    """'image' -> ('image', False); 'mask?' -> ('mask', True); 'track' (a tracker's
    per-frame transform, as `track` gives and shapes take) -> ('track', False); anything
    else -> None."""
    if not isinstance(text, str):
        return None
    optional = text.endswith("?")
    kind = text.rstrip("?")
    return (kind, optional) if kind in PORT_TYPES else None


def read_template(path: str, where: Location):
    """(document, problems) of a template file."""
    from graph.yaml_reader import read_document, read_text_file
    return read_document(read_text_file(path, path, "template", where), path)


def expand_template(graph: Graph, name: str, body, where: Location, registry, values,
                    base_dir: str, problems: list[Problem]) -> None:
    """Add the nodes of template instance `name` to `graph`."""
    from graph.yaml_io import build_graph, plain, substitute
    fields = body.value
    file = plain(fields.get("file"))
    if not isinstance(file, str):
        problems.append(Problem("a template node needs 'file:' (a template file or name)",
                                where, name, "file"))
        return
    path = find_template(file, base_dir)
    if path is None:
        known = list(list_templates())
        problems.append(Problem(f"template '{file}' not found", body.where("file"), name,
                                "file", did_you_mean(file, known) or
                                f"templates on the search path: {', '.join(known) or 'none'}"))
        return
    chain = _CHAIN.get()
    if path in chain:
        loop = " -> ".join(os.path.basename(p) for p in chain + (path,))
        problems.append(Problem(f"template includes itself: {loop}", body.where("file"), name,
                                "file", "a template cannot contain an instance of itself"))
        return
    document, inner_problems = read_template(path, body.where("file"))
    declared_inputs = _declared_inputs(document, inner_problems)
    bindings, overrides = {}, {}
    for key, raw in fields.items():
        if key in ("type", "file", "disable"):
            continue
        if not isinstance(key, str):
            problems.append(Problem(f"a param or input name must be a name, found {key!r}",
                                    body.where(key), name))
            continue
        value, _ = substitute(plain(raw), values, problems, body.where(key), name, key)
        if key in declared_inputs:
            bindings[key] = (Ref.parse(value) if isinstance(value, str) else None,
                             body.where(key))
        else:
            overrides[key] = value
    graph.instance_fields[name] = {"file": path, **{port: str(ref) for port, (ref, _) in
                                                   bindings.items() if ref is not None},
                                   **overrides}
    token = _CHAIN.set(chain + (path,))
    try:
        inner = build_graph(document, path, os.path.dirname(path), registry, overrides,
                            inner_problems, override_base=base_dir)
    finally:
        _CHAIN.reset(token)
    problems += [_placed(problem, name, where) for problem in inner_problems]
    _splice(graph, name, inner, declared_inputs, bindings, where, problems)


def place_in_instances(graph: Graph, problems: list[Problem]) -> list[Problem]:
    """Name the instantiating node and place for problems of nodes inside templates."""
    placed = []
    for problem in problems:
        instance = (problem.node or "").rpartition("/")[0]
        while instance and instance not in graph.instance_sites:
            instance = instance.rpartition("/")[0]
        if instance and "(in template instance" not in problem.message:
            problem = replace(problem, message=f"{problem.message} (in template instance "
                                               f"'{instance}' at {graph.instance_sites[instance]})")
        placed.append(problem)
    return placed


def _placed(problem: Problem, instance: str, where: Location) -> Problem:
    node = f"{instance}/{problem.node}" if problem.node else instance
    return replace(problem, node=node,
                   message=f"{problem.message} (in template instance '{instance}' at {where})")


def _declared_inputs(document, problems) -> dict[str, tuple[str, bool]]:
    from graph.yaml_io import Located
    section = document.value.get("inputs")
    if section is None:
        return {}
    if isinstance(section, Located) and isinstance(section.value, list) and all(
            isinstance(item, str) for item in section.value):  # inputs: [a, b]: images
        return {port: ("image", False) for port in section.value}
    if not isinstance(section, Located) or not isinstance(section.value, dict):
        problems.append(Problem("'inputs' maps port names to types", document.where("inputs"),
                                hint="inputs: {foreground: image, garbage: 'mask?'}"))
        return {}
    declared = {}
    for port, text in section.value.items():
        if not isinstance(port, str):
            problems.append(Problem(f"an input name must be a name, found {port!r}",
                                    section.where(port)))
            continue
        parsed = parse_port_type(text)
        if parsed is None:
            problems.append(Problem(f"input '{port}': expected image, mask, image|mask or "
                                    f"track (with '?' when optional), found {text!r}",
                                    section.where(port)))
            continue
        declared[port] = parsed
    return declared


def _splice(graph, instance, inner: Graph, declared, bindings, where, problems) -> None:
    for port, (kind, optional) in declared.items():
        ref = bindings.get(port, (None, where))[0]
        if ref is None and not optional:
            problems.append(Problem(f"template input '{port}' ({kind}) is not connected",
                                    where, instance, port, f"add {port}: <node name>"))
        elif ref is not None:
            graph.port_checks.append((ref, kind, bindings[port][1], instance, port))
    prefix = instance + "/"
    for inner_name, node in inner.nodes.items():
        node.name = prefix + inner_name
        node.inputs = {port: _rebind(value, prefix, inner, declared, bindings)
                       for port, value in node.inputs.items()}
        node.inputs = {port: value for port, value in node.inputs.items()
                       if value not in (None, [])}
        graph.nodes[node.name] = node
    for ref, kind, location, node, port in inner.port_checks:
        ref = _rebind(ref, prefix, inner, declared, bindings)
        if ref is not None:
            graph.port_checks.append((ref, kind, location, prefix + node, port))
    graph.instance_sites[instance] = where
    for name, site in inner.instance_sites.items():
        graph.instance_sites[prefix + name] = site
    outputs = {}
    for output, ref in inner.outputs.items():
        outputs[output] = _rebind(ref, prefix, inner, declared, bindings)
    graph.instances[instance] = outputs


def _rebind(value, prefix, inner, declared, bindings):
    if isinstance(value, list):
        items = [_rebind(item, prefix, inner, declared, bindings) for item in value]
        return [item for item in items if item is not None]
    if value.node in declared:
        return bindings.get(value.node, (None, None))[0]
    if value.node in inner.instances:
        value = inner.resolve(value)
    return Ref(prefix + value.node, value.output)


def declare_interface(graph: Graph, top: dict, document, source, problems) -> None:
    """Record the template's outputs. At top level (a template file loaded on its own) its
    required inputs become `input` nodes to feed from Python; optional ones stay unconnected."""
    from graph.yaml_io import plain
    from graph.yaml_io import Located
    outputs = document.value.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, Located) or not isinstance(outputs.value, dict) \
                or not outputs.value:
            problems.append(Problem("'outputs' maps output names to nodes",
                                    document.where("outputs")))
        else:
            for output, target in outputs.value.items():
                if not isinstance(output, str) or not isinstance(target, str):
                    problems.append(Problem(f"output '{output}' must name a node",
                                            outputs.where(output)))
                    continue
                graph.outputs[output] = graph.resolve(Ref.parse(target))
    if _CHAIN.get() or document.value.get("inputs") is None:
        return
    declared = _declared_inputs(document, problems)
    for port, (kind, optional) in declared.items():
        if not optional and port not in graph.nodes:
            graph.nodes[port] = Node(port, INPUT_NODE_TYPE, params={"kind": kind},
                                     locations={"": document.where("inputs")})
    unbound = {port for port, (_, optional) in declared.items() if optional}
    for node in graph.nodes.values():  # optional inputs stay unconnected on their own
        node.inputs = {port: _without(value, unbound) for port, value in node.inputs.items()}
        node.inputs = {port: value for port, value in node.inputs.items() if value}


def _without(value, names):
    if isinstance(value, list):
        return [ref for ref in value if ref.node not in names]
    return None if value.node in names else value


def add_instance(graph: Graph, instance: str, file: str, ports_and_params: dict) -> dict:
    """Expand a template instance into a builder graph; returns its outputs {name: Ref}."""
    from graph.model import Handle
    from graph.yaml_io import Located
    if instance in graph.nodes or instance in graph.instances:
        raise GraphError(Problem("a node of this name exists already", node=instance))
    fields = {"type": "template", "file": file}
    for key, value in ports_and_params.items():
        fields[key] = str(value.ref) if isinstance(value, Handle) else value
    where = Location("<python>")
    problems: list[Problem] = []
    expand_template(graph, instance, Located(fields, where, {}), where, graph.registry, {},
                    os.getcwd(), problems)
    from graph.model import validate_node
    for name in [n for n in graph.nodes if n.startswith(instance + "/")]:
        node = graph.nodes[name]
        spec = graph.registry.get(node.type)
        if spec is not None:
            problems += validate_node(graph, node, spec)
    if problems:
        raise GraphError(problems)
    return graph.instances[instance]
