"""Resource limits, checked where values and pictures come in (files, --set, Python, env).

- Alias expansion: YAML aliases let a short document describe a huge value ("billion
  laughs"). Values reached through aliases may number at most EXPANSION_RATIO times the
  values written, beyond a floor of EXPANSION_FLOOR, so a big real graph is never refused.
- Nesting: at most MAX_NESTING levels of lists/mappings.
- Numbers: finite, integers within 64 bits (YAML and Python params alike).
- Pixels: an image or canvas may have at most $MASKGRAPH_MAX_PIXELS pixels (default 2**28,
  a 16384x16384 picture: 4 GiB as float RGBA). Readers check a file's header before
  decoding; generators check their size when the graph loads.
"""
from __future__ import annotations

import math
import os
import re

from graph.errors import GraphError, Location, Problem, UsageError

MAX_NESTING = 64
EXPANSION_FLOOR = 100_000
EXPANSION_RATIO = 10
MAX_INT = 2**63
MAX_PIXELS_ENV = "MASKGRAPH_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 2**28


def check_expansion(count: int, distinct: int, where: Location | None) -> None:
    """Refuse once `count` values read exceed the floor and the ratio to `distinct`."""
    if count > EXPANSION_FLOOR and count > EXPANSION_RATIO * distinct:
        raise GraphError(Problem(
            f"aliases expand to more than {count} values from {distinct} written "
            f"(more than {EXPANSION_RATIO} times)", where,
            hint="YAML aliases (*name) that repeat other aliases grow exponentially: "
                 "write the values out, or use fewer nested aliases"))


def number_problem(value) -> str | None:
    """Why a number cannot be used (not finite, an integer beyond 64 bits), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not -MAX_INT <= value < MAX_INT:
        return f"the integer {str(value)[:20]}... is beyond 64 bits"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


def check_value(value, where: Location | None, key: str) -> None:
    """Walk a value from Python or --set with the loader's limits (nesting, size counted
    with shared references repeated, self-containing lists, numbers)."""
    count, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        check_expansion(count, 1, where)
        if depth > MAX_NESTING:
            raise GraphError(Problem(f"values nested more than {MAX_NESTING} levels deep",
                                     where, key=key))
        if isinstance(item, dict):
            stack += [(k, depth + 1) for k in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, (list, tuple)):  # a list holding itself ends at MAX_NESTING
            stack += [(v, depth + 1) for v in item]
        elif (problem := number_problem(item)) is not None:
            raise GraphError(Problem(problem, where, key=key))


def max_pixels() -> int:
    """$MASKGRAPH_MAX_PIXELS (default 2**28); a bad setting is a UsageError."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except (ValueError, OverflowError):
        value = 0
    if value <= 0:
        raise UsageError(Problem(f"{MAX_PIXELS_ENV}={text!r}: expected a positive number of "
                                 "pixels, such as 268435456"))
    return value


def pixel_problem(width: int, height: int, what: str) -> str | None:
    """A message when a width x height picture exceeds the pixel budget, else None."""
    budget = max_pixels()
    if width * height > budget:
        return (f"{what} is {width}x{height} = {width * height} pixels, over the budget of "
                f"{budget} (${MAX_PIXELS_ENV})")
    return None

MAX_GRAPH_BYTES = 64 * 2**20  # a graph or template file larger than this is not one


def flow_nesting(text: str) -> int:
    """The deepest nesting of [ ] and { } in YAML text (outside quotes and comments), plus
    the longest run of compact '- - -' items: an upper bound, found in linear time, so a
    deeply nested document is refused before the YAML parser (quadratic there) sees it."""
    depth = deepest = 0
    quote = None
    previous = "\n"
    for character in text:
        if quote:
            if character == quote:
                quote = None
        elif character == "#" and previous in " \t\n":
            quote = "\n"  # a comment runs to the end of the line
        elif character in "\"'" and previous in " \t\n[{,:":
            quote = character
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(depth - 1, 0)
        previous = character
    compact = max((match.group().count("-") for line in text.splitlines()
                   if (match := _COMPACT_ITEMS.match(line))), default=0)
    return max(deepest, compact)


_COMPACT_ITEMS = re.compile(r"(?:[ \t]*-(?=[ \t]))+")  # '- - - x': items nested on one line
