"""Node specs: one declaration per node type, and the registry that holds them.

A node module declares each node type once, with the `node` decorator on its compute
function::

    @node("feather", version=1,
          inputs=[Input("input", "mask")],
          outputs=[Output("output", "mask")],
          params=[Param("radius", "float", 4.0, min=0, doc="full width of the edge, px")])
    def feather(input, *, radius):
        '''Soften a mask's edge.'''
        ...

The spec drives YAML validation, the Python builder, `maskgraph nodes` and the docs.
`compute` is called with every input and param as keyword arguments (an optional input
that is not connected arrives as None, a list input as a list of arrays) and returns one
array, or a dict {output name: array} when the spec has several outputs.

Port types: `image` ((H, W, 4) float32 premultiplied linear RGBA), `mask` ((H, W)
float32), `image|mask` (either; an output of that type has the type of the node's first
`image|mask` input).
"""
from __future__ import annotations

import importlib
import inspect
import math
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from graph.errors import NodeInputError, ParamValueError

PORT_TYPES = ("image", "mask", "image|mask", "track")
# What an array on each port type looks like (checked on every node's outputs). A track
# is a small per-frame transform: rows 0-2 a 3x3 matrix from the reference frame's pixel
# coordinates to this frame's, then one row (x, y, lost) per tracked point.
PORT_SHAPES = {
    "image": ("(H, W, 4)", lambda array: array.ndim == 3 and array.shape[2] == 4),
    "mask": ("(H, W)", lambda array: array.ndim == 2),
    "track": ("(3 + points, 3)", lambda array: array.ndim == 2 and array.shape[0] >= 3
              and array.shape[1] == 3),
}


def port_accepts(expected: str, found: str | None) -> bool:
    """Whether an output of type `found` may feed an input of type `expected`."""
    if found is None or found == expected:
        return True
    pictures = ("image", "mask", "image|mask")
    return expected in pictures and found in pictures and "image|mask" in (expected, found)


@dataclass(frozen=True)
class Input:
    """An input port. `list_of=True` takes a list of nodes (variadic).

    `names` (list inputs only) names the param that holds one name per connected node:
    such an input may also be written as a mapping `{NAME: node, ...}`, which sets both.

    `lazy=True` (for a port that `reads_frames` reads at a list of frames): compute gets
    a sequence (graph.task.Frames) whose item k is evaluated when it is asked for,
    through the executor and its caches, and is not held by the engine afterwards; a node
    that walks many frames one at a time then holds one at a time, not all of them.
    """

    name: str
    type: str
    optional: bool = False
    list_of: bool = False
    doc: str = ""
    names: str | None = None
    lazy: bool = False

    def __post_init__(self):
        if self.type not in PORT_TYPES:
            raise ValueError(f"input {self.name}: unknown port type {self.type!r}")
        if self.names is not None and not self.list_of:
            raise ValueError(f"input {self.name}: only a list input can carry names")


@dataclass(frozen=True)
class Output:
    """An output port."""

    name: str
    type: str
    doc: str = ""

    def __post_init__(self):
        if self.type not in PORT_TYPES:
            raise ValueError(f"output {self.name}: unknown port type {self.type!r}")


@dataclass(frozen=True)
class Param:
    """A node param.

    type: one of PARAM_TYPES. `default` None with `optional=True` means "not set".
    `min`/`max` apply to every number in the value. `choices` for type `choice`;
    `keywords` are extra words a `color` param accepts (`auto`, `green`).
    `length` fixes the number of components of `floats` values; `min_items` the
    number of points of a `points` value.
    `setting` ("section.key"): the value comes from the graph header (`section: {key:
    ...}`), never from the node, so that one header setting reaches every node that needs
    it as an ordinary param (and enters its cache key). `env`: where the header does not
    set it, an environment variable that supplies the value before `default`.
    """

    name: str
    type: str
    default: Any = None
    doc: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    keywords: tuple = ()
    optional: bool = False
    length: int | None = None
    min_items: int = 0
    setting: str | None = None
    env: str | None = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f"param {self.name}: unknown param type {self.type!r}")
        if self.default is not None:
            coerce_param(self, self.default)

    def describe(self) -> str:
        """What a value of this param looks like, for error messages and docs."""
        return PARAM_TYPES[self.type][1](self)


@dataclass(frozen=True)
class Pointwise:
    """The per-pixel form of a node whose every output pixel depends only on the same
    pixel of its inputs: what lets the engine fuse a chain of such nodes into one
    generated kernel (graph/fusion.py).

    kernel(params) -> (pixel, values) for the node's params at a frame, or None when these
    params are not pointwise (a merge with an offset). `pixel` is a numba scalar function
    (inlined into the generated kernel; it must be a module-level name of its module)
    taking (r, g, b, a, *side values, values) and returning the pixel (r, g, b, a) as
    float32; `values` holds whatever the pixel reads from the params (the kernel returns
    them as a 1-D float32 array; the pixel receives them as a tuple of float32).
    through: the image input the chain flows through (the previous node's output);
    sides: the other inputs, in the order `pixel` takes their values (an image input gives
    its four channels, a mask input its one value). The framework's stencil (maskable
    nodes) is applied inside the fused kernel too. The result must equal the node's own
    compute bit for bit (tests/graph/test_fusion.py checks every such node type).
    """

    kernel: Callable
    through: str
    sides: tuple = ()


@dataclass
class NodeSpec:
    """The declaration of one node type. Build it with the `node` decorator."""

    id: str
    version: int
    inputs: list[Input]
    outputs: list[Output]
    params: list[Param]
    compute: Callable
    doc: str = ""
    maskable: bool = False
    original: str | None = None
    reads_files: bool = False
    sink: bool = False
    check: Callable | None = None
    category: str = ""
    takes_frame: bool | Callable = False
    reads_frames: Callable | None = None
    finish: Callable | None = None
    receives_keys: bool = False
    pointwise: Pointwise | None = None
    split: str | None = None
    _inputs_by_name: dict = field(default_factory=dict, repr=False)
    _params_by_name: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._inputs_by_name = {port.name: port for port in self.inputs}
        self._params_by_name = {param.name: param for param in self.params}

    def wants_frame(self, params: dict) -> bool:
        """Whether compute receives the frame, for these params (see `node`)."""
        if callable(self.takes_frame):
            return bool(self.takes_frame(params))
        return bool(self.takes_frame)

    def input(self, name: str) -> Input | None:
        return self._inputs_by_name.get(name)

    def param(self, name: str) -> Param | None:
        return self._params_by_name.get(name)

    def output(self, name: str) -> Output | None:
        return next((port for port in self.outputs if port.name == name), None)

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def __reduce__(self):
        """Specs travel by id (and the module that declares them), never as code: the
        unpickling process looks the id up where it lands (see `find_spec`)."""
        return (find_spec, (self.id, getattr(self.compute, "__module__", None)))


DECLARED: dict[tuple, NodeSpec] = {}  # (module, id) -> every spec `node` declared here


def find_spec(type_id: str, module: str | None = None) -> NodeSpec:
    """The spec `type_id` of this process: the one declared in `module` (imported if
    needed), else the default registry's (the `maskgraph.nodes` entry points)."""
    spec = DECLARED.get((module, type_id))
    if spec is None and module:
        try:
            importlib.import_module(module)
        except ImportError:
            pass
        spec = DECLARED.get((module, type_id))
    if spec is None:
        from graph import default_registry
        spec = default_registry().get(type_id)
    if spec is None:
        raise LookupError(f"node type '{type_id}' is not installed here (declared in "
                          f"{module or 'an unknown module'})")
    return spec


def node(id: str, *, version: int, inputs=(), outputs=(), params=(), maskable=False,
         original: str | None = None, reads_files=False, sink=False,
         check: Callable | None = None, category: str = "", takes_frame=False,
         reads_frames: Callable | None = None,
         finish: Callable | None = None,
         receives_keys: bool = False,
         pointwise: Pointwise | None = None,
         split: str | None = None) -> Callable[[Callable], NodeSpec]:
    """Declare a node type on its compute function; returns the NodeSpec.

    maskable: the framework adds a `mask` input and `mix`, `invert_mask` params and
    applies `out = original + (edited - original) * mask * mix`; `original` names the
    input that is the unedited picture (the first input by default).
    reads_files: the node reads its `path` params; their files' identity enters its key.
    sink: the node writes files; it runs whenever requested.
    check(params, connected) -> list of (param name, message): cross-param validation at
    load time; `params` are the coerced values (an animated param appears as its value at
    the first key), `connected` the set of input names that have a node connected.
    takes_frame: compute receives the frame number as the keyword `frame` (the frame
    enters the node's key, so it is computed once per frame); or a function of the
    params (at the first frame) saying whether it does (a `read` of a video file does, a
    still image does not).
    reads_frames(params, frame) -> {port: frame}: the frame at which each named input is
    read (ports not named are read at the current frame); `params` are the values at
    `frame`. Planning follows these edges, and the frames read enter the key. A list of
    frames for a port reads it at each of them: compute receives a list of arrays (in
    that order) for that port (a tracker reads the reference frame and the current one).
    receives_keys: compute also receives `input_keys` {port: [Merkle key, ...]} (in the
    order of its arrays): the identity of what it is given, for a node that remembers work
    between frames (propagate's flows) without hashing pixels.
    finish(params, frames): for a sink that collects a frame range into one file (a
    video): called once after every frame of a render (or a single-frame run) has run,
    with the params at the first frame and the frames rendered, in order.
    pointwise: the node's per-pixel form (see `Pointwise`), so chains of such nodes run
    as one fused kernel.
    split: how the engine may run the node on parts of the frame (graph/strips.py):
    "rows" when any band of rows of its inputs (all of one size) gives the same band of
    its output, as a per-pixel node does (a pointwise spec may be split so too).
    """
    if split not in (None, "rows"):
        raise ValueError(f"node {id}: split must be None or 'rows', not {split!r}")
    def declare(compute: Callable) -> NodeSpec:
        all_inputs = list(inputs)
        all_params = list(params)
        original_name = None
        if maskable:
            original_name = original or all_inputs[0].name
            all_inputs.append(MASK_INPUT)
            all_params += [MIX_PARAM, INVERT_MASK_PARAM]
        spec = NodeSpec(id=id, version=version, inputs=all_inputs, outputs=list(outputs),
                        params=all_params, compute=compute, doc=inspect.getdoc(compute) or "",
                        maskable=maskable, original=original_name, reads_files=reads_files,
                        sink=sink, check=check, category=category,
                        takes_frame=takes_frame, reads_frames=reads_frames, finish=finish,
                        receives_keys=receives_keys, pointwise=pointwise, split=split)
        DECLARED[(compute.__module__, id)] = spec
        return spec
    return declare


def specs_in(*modules: ModuleType) -> list[NodeSpec]:
    """Every NodeSpec defined at the top level of the given modules, in definition order."""
    found = []
    for module in modules:
        found += [value for value in vars(module).values() if isinstance(value, NodeSpec)]
    return found


class Registry:
    """Node types by id."""

    def __init__(self, specs=()):
        self._specs: dict[str, NodeSpec] = {}
        for spec in ENGINE_SPECS + list(specs):
            self.add(spec)

    def add(self, spec: NodeSpec) -> None:
        if spec.id in self._specs and self._specs[spec.id] is not spec:
            raise ValueError(f"node type {spec.id!r} is registered twice")
        self._specs[spec.id] = spec

    def get(self, type_id: str) -> NodeSpec | None:
        return self._specs.get(type_id)

    def __contains__(self, type_id: str) -> bool:
        return type_id in self._specs

    def __iter__(self):
        return iter(sorted(self._specs.values(), key=lambda spec: spec.id))

    def ids(self) -> list[str]:
        return sorted(self._specs)


# ---------------------------------------------------------------- param value types

def _number(value, param: Param, integer=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamValueError(param.describe(), value)
    if integer and not float(value).is_integer():
        raise ParamValueError(param.describe(), value)
    if not math.isfinite(value):
        raise ParamValueError("a finite number", value)
    if param.min is not None and value < param.min:
        raise ParamValueError(f"a number >= {param.min}", value)
    if param.max is not None and value > param.max:
        raise ParamValueError(f"a number <= {param.max}", value)
    return int(value) if integer else float(value)


def _numbers(value, param: Param, count: int) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise ParamValueError(param.describe(), value)
    return tuple(_number(item, param) for item in value)


def _coerce_float(value, param):
    return _number(value, param)


def _coerce_int(value, param):
    return _number(value, param, integer=True)


def _coerce_bool(value, param):
    if not isinstance(value, bool):
        raise ParamValueError("true or false", value)
    return value


def _coerce_str(value, param):
    if not isinstance(value, str):
        raise ParamValueError("a string", value)
    return value


def _coerce_choice(value, param):
    if value not in param.choices and str(value) in param.choices and not isinstance(value, bool):
        value = str(value)  # `depth: 16` means the choice "16"
    if value not in param.choices:
        from graph.errors import did_you_mean
        hint = did_you_mean(value, param.choices)
        raise ParamValueError("one of " + ", ".join(map(str, param.choices)), value, hint)
    return value


def _coerce_path(value, param):
    if not isinstance(value, str) or not value:
        raise ParamValueError("a file path", value)
    return value


_HEX_COLOR = re.compile(r"^#([0-9a-fA-F]{6})$")


def srgb_to_linear_scalar(value: float) -> float:
    """The sRGB decoding curve (IEC 61966-2-1) for one value."""
    if value <= 0.04045:
        return value / 12.92
    return ((value + 0.055) / 1.055) ** 2.4


def _coerce_color(value, param):
    if isinstance(value, str) and value in param.keywords:
        return value
    if isinstance(value, str) and _HEX_COLOR.match(value):
        hex_digits = value[1:]
        rgb = [srgb_to_linear_scalar(int(hex_digits[i:i + 2], 16) / 255) for i in (0, 2, 4)]
        return (*rgb, 1.0)
    if isinstance(value, (list, tuple)) and len(value) in (3, 4):
        numbers = tuple(_number(item, param) for item in value)
        return numbers if len(numbers) == 4 else (*numbers, 1.0)
    raise ParamValueError(param.describe(), value)


def _coerce_floats(value, param):
    """A scalar or per-channel value; normalised to a tuple of `length` floats."""
    length = param.length or 4
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _number(value, param)
        return (number,) * length
    if isinstance(value, (list, tuple)) and len(value) == length:
        return tuple(_number(item, param) for item in value)
    raise ParamValueError(param.describe(), value)


def _coerce_vec2(value, param):
    return _numbers(value, param, 2)


def _coerce_box(value, param):
    box = _numbers(value, param, 4)
    return box


def _coerce_points(value, param):
    if not isinstance(value, (list, tuple)):
        raise ParamValueError(param.describe(), value)
    points = tuple(_numbers(point, param, 2) for point in value)
    if len(points) < param.min_items:
        raise ParamValueError(f"at least {param.min_items} points [x, y]", value)
    return points


def _coerce_any(value, param):
    return value


PARAM_TYPES: dict[str, tuple[Callable, Callable[[Param], str]]] = {
    "float": (_coerce_float, lambda p: "a number" + _range_text(p)),
    "int": (_coerce_int, lambda p: "a whole number" + _range_text(p)),
    "bool": (_coerce_bool, lambda p: "true or false"),
    "str": (_coerce_str, lambda p: "a string"),
    "choice": (_coerce_choice, lambda p: "one of " + ", ".join(map(str, p.choices))),
    "path": (_coerce_path, lambda p: "a file path"),
    "color": (_coerce_color, lambda p: "a colour [r, g, b] or [r, g, b, a] (linear) or '#rrggbb'"
              + "".join(f" or '{k}'" for k in p.keywords)),
    "floats": (_coerce_floats, lambda p: f"a number or a list of {p.length or 4} numbers"
               + _range_text(p)),
    "vec2": (_coerce_vec2, lambda p: "a pair of numbers [x, y]" + _range_text(p)),
    "box": (_coerce_box, lambda p: "a box [x0, y0, x1, y1]"),
    "points": (_coerce_points, lambda p: "a list of points [[x, y], ...]"
               + (f" (at least {p.min_items})" if p.min_items else "")),
    "any": (_coerce_any, lambda p: "any value"),
}

# Param types whose values interpolate component-wise when animated.
NUMERIC_TYPES = ("float", "int", "floats", "vec2", "box", "points", "color")


def _range_text(param: Param) -> str:
    if param.min is not None and param.max is not None:
        return f" in [{param.min}, {param.max}]"
    if param.min is not None:
        return f" >= {param.min}"
    if param.max is not None:
        return f" <= {param.max}"
    return ""


def coerce_param(param: Param, value):
    """Check `value` against the param's type; return the normalised value.

    Raises ParamValueError saying what was expected. None is accepted for optional params.
    """
    if value is None and param.optional:
        return None
    return PARAM_TYPES[param.type][0](value, param)


# Framework-provided ports and params of maskable nodes.
MASK_INPUT = Input("mask", "mask", optional=True,
                   doc="stencil: where the edit applies (framework-provided)")
MIX_PARAM = Param("mix", "float", 1.0, min=0.0, max=1.0,
                  doc="strength of the edit: out = original + (edited - original) * mask * mix")
INVERT_MASK_PARAM = Param("invert_mask", "bool", False, doc="use 1 - mask as the stencil")


# ------------------------------------------------------------------- engine node types

@node("input", version=1, category="io",
      outputs=[Output("output", "image|mask")],
      params=[Param("kind", "choice", "image|mask", choices=PORT_TYPES,
                    doc="the port type the template declares")])
def template_input(*, kind):
    """A template input, when a template file is loaded on its own: feed it from Python.

    `g = graph.load("keyed_comp.yaml"); g.evaluate(feed={"foreground": plate})`.
    """
    raise NodeInputError(f"this template input ({kind}) has no value",
                         hint="feed it: g.evaluate(feed={name: array}), or use the template "
                              "as a node that connects it")


# Every Registry holds them: the engine creates `input` nodes itself (graph.templates).
ENGINE_SPECS = [template_input]
