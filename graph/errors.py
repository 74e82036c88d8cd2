"""One exception family. Every error names the place (file:line:column), the node, the key.

`GraphError` collects every problem found while loading a graph and is raised once
with all of them (exit code 2 on the CLI). `NodeFailure` wraps an exception raised
while a node computes, naming the node, its type and its inputs' shapes (exit code 1).
Node code raises `NodeInputError` for bad input it can only see at run time (sizes that
do not match, an empty mask where one is required); the evaluator adds the node context.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a YAML file (1-based line and column)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph: what, where, and how to fix it."""

    message: str
    location: Location | None = None
    node: str | None = None
    key: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        subject = ""
        if self.node and self.key:
            subject = f"node '{self.node}', '{self.key}': "
        elif self.node:
            subject = f"node '{self.node}': "
        elif self.key:
            subject = f"'{self.key}': "
        text = f"{where}{subject}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class MaskgraphError(Exception):
    """Base class of every error maskgraph raises on purpose."""


class GraphError(MaskgraphError):
    """A graph (or its params, or a CLI argument) is invalid; lists every problem found."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        count = len(self.problems)
        head = "invalid graph" if count == 1 else f"invalid graph ({count} problems)"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))

    def __reduce__(self):  # pickles (a Dask worker returns it to the client)
        return (GraphError, (self.problems,))


class ParamValueError(ValueError):
    """A param value does not fit its declared type; `expected` says what would."""

    def __init__(self, expected: str, found: object, hint: str | None = None):
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(f"expected {expected}, found {describe_value(found)}")


class NodeInputError(MaskgraphError):
    """Raised by node code for input it can only judge at run time.

    `ports` names the input ports involved; the evaluator replaces them by the upstream
    node names in the message it shows.
    """

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (str(self), self.hint))


class NodeFailure(MaskgraphError):
    """A node failed while computing."""

    def __init__(self, node: str, node_type: str, message: str,
                 location: Location | None = None, hint: str | None = None):
        self.node = node
        self.node_type = node_type
        self.message = message
        self.location = location
        self.hint = hint
        where = f"{location}: " if location else ""
        text = f"{where}node '{node}' ({node_type}) failed: {message}"
        if hint:
            text += f"\n    hint: {hint}"
        super().__init__(text)

    def __reduce__(self):
        return (NodeFailure, (self.node, self.node_type, self.message, self.location,
                              self.hint))


def describe_value(value: object) -> str:
    """A short description of a found value for error messages: `'abc' (a string)`."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", type(None): "nothing"}
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    kind = kinds.get(type(value))
    return f"{text} ({kind})" if kind else text


def did_you_mean(word: str, candidates) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=3, cutoff=0.6)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"
