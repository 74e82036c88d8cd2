"""Graph header settings: sections such as `colour: {config: ..., working: ACEScg}`.

The engine knows no setting by name. A node library declares them through its params
(`Param(..., setting="colour.working")`); the sections a graph header may hold are the
ones some registered param names. The loader checks the header against those params and
keeps the values on the Graph; validation then hands each value to every node whose
param names it, as an ordinary param value (so it enters the node's cache key).
"""
from __future__ import annotations

from graph.errors import ParamValueError, Problem, did_you_mean
from graph.spec import Param, Registry, coerce_param


def declared_settings(registry: Registry) -> dict[str, Param]:
    """'section.key' -> the first param declaring it, over every registered node type."""
    found: dict[str, Param] = {}
    for spec in registry:
        for param in spec.params:
            if param.setting:
                found.setdefault(param.setting, param)
    return found


def sections(registry: Registry) -> list[str]:
    """The header sections the registry's params declare (`colour`)."""
    return sorted({name.partition(".")[0] for name in declared_settings(registry)})


def read_settings(graph, top: dict, registry: Registry, substitute, base_dir: str,
                  problems: list[Problem]) -> None:
    """Check the header's setting sections and store their values on `graph`.

    substitute(value, where, key) -> value resolves `$param` references.
    """
    declared = declared_settings(registry)
    for section in sections(registry):
        body = top.value.get(section)
        if body is None:
            continue
        where = top.where(section)
        known = sorted(key.partition(".")[2] for key in declared if key.startswith(section + "."))
        if not hasattr(body, "value") or not isinstance(body.value, dict):
            problems.append(Problem(f"'{section}' must be a mapping", where, key=section,
                                    hint=f"{section}: {{{known[0]}: ...}}"))
            continue
        for key, raw in body.value.items():
            name = f"{section}.{key}"
            place = body.where(key)
            if name not in declared:
                problems.append(Problem(f"unknown setting '{key}' in '{section}'", place,
                                        key=section, hint=did_you_mean(key, known)
                                        or f"its settings: {', '.join(known)}"))
                continue
            value = substitute(raw, place, name)
            try:
                coerce_param(declared[name], value)
            except ParamValueError as error:
                problems.append(Problem(str(error), place, key=name, hint=error.hint))
                continue
            graph.settings[name] = value
            graph.setting_places[name] = (base_dir, place)


def header_sections(graph) -> dict:
    """The settings as nested header sections, for writing a graph back to YAML."""
    nested: dict = {}
    for name, value in graph.settings.items():
        section, _, key = name.partition(".")
        nested.setdefault(section, {})[key] = value
    return nested
