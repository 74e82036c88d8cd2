"""A structure-aware mutator of graph documents, shared by the fuzz test and
bench/fuzz_loader.py.

Seeds are the example graphs and built-in templates. A case applies one to three
mutations to a seed's parsed document (values and keys swapped for values of other kinds,
huge and negative numbers, NaN, non-string keys, lists for maps, long-form param specs
with settings of the wrong kind, sections of the wrong shape), dumps it as YAML, then may
damage the text (YAML tags, anchors and aliases, self-referencing aliases, deep nesting,
unicode, byte-level damage, truncation). Some cases use a mutated built-in template as
the file of a template instance. `graph.load` must accept it or raise the project's error
type: anything else is an escape.
"""
from __future__ import annotations

import copy
import glob
import os
import random
import sys
import tempfile
import traceback

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = sorted(glob.glob(os.path.join(ROOT, "graphs_examples", "*.yaml")) +
               glob.glob(os.path.join(ROOT, "nodes", "templates", "*.yaml")))

WEIRD_VALUES = [None, 0, -1, 1, 3.5, -1e308, 1e308, 2**80, -(2**70), float("nan"),
                float("inf"), "", "x", "é漢字🎨", "a" * 300, "$nope", "${plate}x", "$plate",
                "a.b", "../../x", "/", [], {}, [1, 2], [[1, 2], [3]], {"a": 1}, True, False,
                {"keys": {1: 0.0, 24: 1.0}}, {"keys": {"x": 1}}, {"keys": []},
                {"keys": {1e300: 1}, "interp": 5}, {"default": 3, "max": "k"},
                {"default": 0, "choices": 5}, {"default": 1, "type": "nope"},
                {"default": 1, "min": [1]}, {"type": "int"}, {"default": [1, 2], "type": "list"},
                {"type": "template", "file": "cleanup"}, {"type": "template", "file": 5},
                {"type": "read"}, {"type": 7}, [{"type": "read"}]]
WEIRD_KEYS = [0, 1.5, -3, True, "", "a.b", "x/y", "type", "disable", "é", "keys", "<<"]
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
TAGS = ["!!float", "!!int", "!!bool", "!!timestamp", "!!binary", "!!set", "!!omap",
        "!!pairs", "!!str", "!!null", "!!map", "!!seq", "!!python/object:os.system",
        "!local", "!!merge"]


def _weird(rng: random.Random):
    return copy.deepcopy(rng.choice(WEIRD_VALUES))


def load_seeds() -> list[tuple[str, object]]:
    """(path, document) of every seed, its relative paths made absolute so that a case
    written elsewhere still finds its pictures."""
    seeds = []
    for path in SEEDS:
        with open(path, encoding="utf-8") as handle:
            seeds.append((path, _absolute(yaml.safe_load(handle), os.path.dirname(path))))
    return seeds


def _absolute(value, folder):
    if isinstance(value, dict):
        return {key: _absolute(item, folder) for key, item in value.items()}
    if isinstance(value, list):
        return [_absolute(item, folder) for item in value]
    if isinstance(value, str) and value.endswith((".png", ".jpg")):
        return os.path.join(folder, value)
    return value


def _containers(value, found):
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            _containers(item, found)
    elif isinstance(value, list):
        found.append(value)
        for item in value:
            _containers(item, found)
    return found


def _mutate_structure(document, rng: random.Random):
    containers = _containers(document, [])
    target = rng.choice(containers)
    if isinstance(target, list):
        if not target or rng.random() < 0.3:
            target.append(_weird(rng))
        else:
            target[rng.randrange(len(target))] = _weird(rng)
        return document
    if not target:
        target[rng.choice(WEIRD_KEYS)] = _weird(rng)
        return document
    key = rng.choice(list(target))
    choice = rng.random()
    if choice < 0.45:
        target[key] = _weird(rng)
    elif choice < 0.6:
        target[rng.choice(WEIRD_KEYS)] = target.pop(key)
    elif choice < 0.7:
        del target[key]
    elif choice < 0.8:
        target[key] = [target[key]]
    elif choice < 0.9:
        target[key] = {"x": target[key]}
    else:
        others = [c for c in containers if isinstance(c, dict) and "type" in c]
        if others:
            target["type"] = rng.choice(others)["type"]
    return document


def _damage_text(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    line = lines[index]
    choice = rng.random()
    if choice < 0.3 and ": " in line:
        head, _, tail = line.partition(": ")
        lines[index] = f"{head}: {rng.choice(TAGS)} {tail}"
    elif choice < 0.45 and ": " in line:
        head, _, tail = line.partition(": ")
        lines[index] = rng.choice([f"{head}: &a {{x: *a}}", f"{head}: &b [1, *b]",
                                   f"{head}: &c {tail}", f"{head}: *c"])
    elif choice < 0.55:
        depth = rng.choice([50, 200, 400, 1500])
        lines[index] = f"deep: {'[' * depth}{']' * depth}"
    elif choice < 0.62:
        lines[index:index] = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
            f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]"
            for level in range(1, rng.choice([3, 6, 9]))]
    elif choice < 0.7:
        lines[index] = line + rng.choice(["  # é", " ü", "\t", " {", " ]", " ?", " ! x"])
    elif choice < 0.8:
        return text[:rng.randrange(len(text) + 1)]
    else:
        position = rng.randrange(len(text) + 1)
        return text[:position] + rng.choice(["\x00", "\ufeff", "%", "&", "*", "|", ">",
                                             "---\n", "\u2028"]) + text[position:]
    return "\n".join(lines)


def make_template_case(seeds, rng: random.Random) -> tuple[bytes, bytes]:
    """(graph, template): a graph using a mutated built-in template as `t.yaml`, its
    inputs connected as the unmutated template declares them."""
    path, seed = rng.choice([seed for seed in seeds if "templates" in seed[0]])
    ports = []
    for port, kind in (seed.get("inputs") or {}).items():
        ports.append(f"{port}: {'matte' if str(kind).startswith('mask') else 'plate'}")
    graph_text = ("maskgraph: 1\nnodes:\n  plate: {type: constant, width: 8, height: 8}\n"
                  "  matte: {type: luma_key, input: plate}\n"
                  f"  shot: {{type: template, file: t.yaml, {', '.join(ports)}}}\n"
                  "  out: {type: write, input: shot, path: out.png}\n")
    return graph_text.encode(), make_case([(path, seed)], rng)


def dump(document) -> str:
    """A seed or mutated document as YAML text."""
    return yaml.dump(document, Dumper=DUMPER, allow_unicode=True, sort_keys=False)


def make_case(seeds, rng: random.Random) -> bytes:
    _, seed = rng.choice(seeds)
    document = copy.deepcopy(seed)
    for _ in range(rng.randint(1, 2)):
        document = _mutate_structure(document, rng)
    text = dump(document)
    if rng.random() < 0.5:
        text = _damage_text(text, rng)
    data = text.encode("utf-8")
    if rng.random() < 0.05:  # byte-level damage: not UTF-8
        position = rng.randrange(len(data) + 1)
        data = data[:position] + bytes([rng.choice([0xff, 0xc3, 0x80, 0x00])]) + data[position:]
    return data


def check_case(data: bytes, folder: str, registry, template: bytes | None = None):
    """None when `graph.load` accepts the case or raises MaskgraphError; else
    (exception type, where it was raised, text) of the escape."""
    from graph.errors import MaskgraphError
    from graph.yaml_io import load_graph
    path = os.path.join(folder, "case.yaml")
    with open(path, "wb") as handle:
        handle.write(data)
    if template is not None:
        with open(os.path.join(folder, "t.yaml"), "wb") as handle:
            handle.write(template)
    limit = sys.getrecursionlimit()
    try:
        load_graph(path, registry)
    except MaskgraphError:
        return None
    except Exception as error:  # an escape: what the fuzzer is looking for
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return (type(error).__name__, f"{os.path.basename(frame.filename)}:{frame.lineno}",
                str(error)[:200])
    finally:
        sys.setrecursionlimit(limit)
    return None


def run(count: int, seed: int = 0, folder: str | None = None):
    """(cases, escapes [(type, place, message, case bytes)])."""
    import graph
    registry = graph.default_registry()
    seeds = load_seeds()
    rng = random.Random(seed)
    escapes = []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(count):
            template = None
            if rng.random() < 0.15:
                data, template = make_template_case(seeds, rng)
            else:
                data = make_case(seeds, rng)
            escape = check_case(data, folder or scratch, registry, template)
            if escape is not None:
                escapes.append((*escape, template or data))
    return count, escapes
