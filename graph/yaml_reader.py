"""Plain YAML text to Python values that remember their place in the file.

The document is composed with libyaml (PyYAML's safe composer), then walked here: that is
where duplicate keys are caught (YAML's silent last-wins must not happen), where every
value keeps its file:line:column, where only plain YAML is accepted (text, numbers,
true/false, null, lists, mappings; no other tags), and where the limits of graph/limits.py
are applied: alias expansion, nesting depth, finite numbers, file size and encoding.
Nothing but GraphError leaves this module, whatever the text.
"""
from __future__ import annotations

import os

import yaml

from graph import limits
from graph.errors import GraphError, Location, Problem, describe_value


class Located:
    """A YAML mapping or sequence converted to Python, with the place of every item."""

    def __init__(self, value, location: Location, item_locations: dict):
        self.value = value
        self.location = location
        self.item_locations = item_locations  # key or index -> Location

    def where(self, key) -> Location:
        return self.item_locations.get(key, self.location)


class _Reader:
    """Converts a composed YAML node tree to Python values, collecting problems.

    Only plain YAML is accepted: mappings, sequences and scalars with the standard tags
    for strings, integers, floats, booleans and null (a scalar that does not read as its
    tag says is a problem, as is any other tag). Numbers must be finite and integers fit
    in 64 bits. Keys are names or numbers. An alias that contains itself is refused, and
    the values reached through aliases are counted (limits.check_expansion).
    """

    def __init__(self, source: str):
        self.source = source
        self.count = 0
        self.distinct: set[int] = set()
        self.open: set[int] = set()  # nodes being read: one met again is a loop
        self.depth = 0
        self.problems: list[Problem] = []

    def location(self, yaml_node) -> Location:
        mark = yaml_node.start_mark
        return Location(self.source, mark.line + 1, mark.column + 1)

    def read(self, yaml_node, located=False):
        """Python value of `yaml_node`; mappings/sequences as Located when `located`."""
        self.count += 1
        self.distinct.add(id(yaml_node))
        limits.check_expansion(self.count, len(self.distinct), self.location(yaml_node))
        if isinstance(yaml_node, yaml.ScalarNode):
            return self._scalar(yaml_node)
        if id(yaml_node) in self.open:
            self.problems.append(Problem("an alias refers to a value that contains it",
                                         self.location(yaml_node),
                                         hint="a value cannot include itself"))
            return None
        if self.depth >= limits.MAX_NESTING:
            raise GraphError(Problem(f"values nested more than {limits.MAX_NESTING} levels "
                                     "deep", self.location(yaml_node)))
        self.open.add(id(yaml_node))
        self.depth += 1
        try:
            if isinstance(yaml_node, yaml.MappingNode):
                return self._mapping(yaml_node, located)
            return self._sequence(yaml_node, located)
        finally:
            self.depth -= 1
            self.open.discard(id(yaml_node))

    def _unsupported(self, yaml_node):
        self.problems.append(Problem(f"unsupported YAML tag {yaml_node.tag}",
                                     self.location(yaml_node),
                                     hint="plain values only: text, numbers, true/false, "
                                          "lists and mappings"))
        return None

    def _scalar(self, yaml_node):
        convert = _SCALARS.get(yaml_node.tag)
        if convert is None:
            return self._unsupported(yaml_node)
        kind, function = convert
        try:
            value = function(yaml_node.value)
        except (ValueError, TypeError, OverflowError):
            self.problems.append(Problem(f"cannot read {_short_text(yaml_node.value)} as "
                                         f"{kind}", self.location(yaml_node)))
            return None
        problem = limits.number_problem(value)
        if problem:
            self.problems.append(Problem(problem, self.location(yaml_node)))
            return None
        return value

    def _mapping(self, yaml_node, located):
        if yaml_node.tag != "tag:yaml.org,2002:map":
            return self._unsupported(yaml_node)
        result, places = {}, {}
        for key_node, value_node in yaml_node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem("a key must be a plain name",
                                             self.location(key_node)))
                continue
            key = self.read(key_node)
            if key is None or isinstance(key, bool):
                self.problems.append(Problem("a key must be a plain name",
                                             self.location(key_node)))
                continue
            if key in result:
                self.problems.append(Problem(
                    f"duplicate key '{key}' (first at line {places[key].line})",
                    self.location(key_node), hint="each name may appear once"))
                continue
            places[key] = self.location(key_node)
            result[key] = self.read(value_node, located)
        return Located(result, self.location(yaml_node), places) if located else result

    def _sequence(self, yaml_node, located):
        if yaml_node.tag != "tag:yaml.org,2002:seq":
            return self._unsupported(yaml_node)
        items = [self.read(item, located) for item in yaml_node.value]
        if not located:
            return items
        places = {i: self.location(item) for i, item in enumerate(yaml_node.value)}
        return Located(items, self.location(yaml_node), places)


_CONSTRUCTOR = yaml.SafeLoader("")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when built in


def _yaml_bool(text: str) -> bool:
    return _CONSTRUCTOR.bool_values[text.lower()]  # KeyError for anything else


def _yaml_int(text: str) -> int:
    return _CONSTRUCTOR.construct_yaml_int(yaml.ScalarNode("tag:yaml.org,2002:int", text))


def _yaml_float(text: str) -> float:
    return _CONSTRUCTOR.construct_yaml_float(yaml.ScalarNode("tag:yaml.org,2002:float", text))


def _yaml_null(text: str) -> None:
    if text not in ("", "~", "null", "Null", "NULL"):
        raise ValueError(text)
    return None


def _checked(function):
    def convert(text):
        try:
            return function(text)
        except (KeyError, IndexError, AttributeError):
            raise ValueError(text) from None
    return convert


_SCALARS = {"tag:yaml.org,2002:str": ("text", str),
            "tag:yaml.org,2002:int": ("an integer", _checked(_yaml_int)),
            "tag:yaml.org,2002:float": ("a number", _checked(_yaml_float)),
            "tag:yaml.org,2002:bool": ("true or false", _checked(_yaml_bool)),
            "tag:yaml.org,2002:null": ("null", _checked(_yaml_null))}


def _short_text(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def plain(value):
    """Strip Located wrappers recursively."""
    if isinstance(value, Located):
        value = value.value
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def read_document(text: str, source: str) -> tuple[Located, list[Problem]]:
    """Parse YAML text into a Located mapping; syntax errors raise GraphError."""
    try:
        root = _compose(text, source)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        hint = error.context
        if error.problem and "'?'" in error.problem:
            hint = ("YAML reads '?' in {flow: style} as syntax: quote optional port types "
                    "(garbage: 'mask?') or use block style")
        raise GraphError(Problem(f"YAML syntax error: {error.problem or error}", where,
                                 hint=hint)) from None
    except yaml.YAMLError as error:
        raise GraphError(Problem(f"YAML error: {error}", Location(source))) from None
    if root is None:
        raise GraphError(Problem("the document is empty", Location(source),
                                 hint="a graph starts with 'maskgraph: 1' and 'nodes:'"))
    reader = _Reader(source)
    document = reader.read(root, located=True)
    if not isinstance(document, Located) or not isinstance(document.value, dict):
        raise GraphError(reader.problems + [Problem(
            f"a graph file is a mapping with 'maskgraph' and 'nodes', found "
            f"{describe_value(plain(document))}", reader.location(root),
            hint="a graph starts with 'maskgraph: 1' and 'nodes:'")])
    for key in document.value:
        if not isinstance(key, str):
            reader.problems.append(Problem(f"a top-level key must be a name, found {key!r}",
                                           document.where(key)))
    return document, reader.problems


def _compose(text: str, source: str):
    """The YAML node tree of text, refused when nested too deep; YAML errors propagate."""
    too_deep = Problem(f"values nested more than {limits.MAX_NESTING} levels deep",
                       Location(source), hint="a graph needs a few levels at most")
    if limits.flow_nesting(text) > limits.MAX_NESTING:
        raise GraphError(too_deep)
    try:
        return yaml.compose(text, Loader=_LOADER)
    except RecursionError:
        raise GraphError(too_deep) from None


def read_value(text: str, source: str):
    """A plain value from YAML text (a --set value), with the loader's limits."""
    try:
        root = _compose(text, source)
    except yaml.YAMLError as error:
        raise GraphError(Problem(f"cannot read the value as YAML: "
                                 f"{getattr(error, 'problem', None) or error}",
                                 Location(source))) from None
    if root is None:
        return ""
    reader = _Reader(source)
    value = reader.read(root)
    if reader.problems:
        raise GraphError(reader.problems)
    return value


def read_text_file(path: str, name: str, what: str, where: Location | None = None) -> str:
    """The UTF-8 text of a graph or template file; GraphError saying what is wrong."""
    where = where or Location(name)
    if os.path.isdir(path):
        raise GraphError(Problem(f"this is a folder, not a {what}", where,
                                 hint="name the .yaml file inside it"))
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.MAX_GRAPH_BYTES + 1)
    except OSError as error:
        raise GraphError(Problem(f"cannot read the {what}: {error.strerror or error}", where)) from None
    if len(data) > limits.MAX_GRAPH_BYTES:
        raise GraphError(Problem(f"larger than {limits.MAX_GRAPH_BYTES // 2**20} MiB: "
                                 f"not a {what}", where))
    if b"\0" in data[:8192]:
        raise GraphError(Problem(f"a binary file (an image?), not a {what}", where,
                                 hint=f"a {what} is YAML text"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        raise GraphError(Problem(f"not UTF-8 text (byte 0x{data[error.start]:02x})",
                                 Location(name, line, column),
                                 hint=f"save the {what} as UTF-8")) from None
