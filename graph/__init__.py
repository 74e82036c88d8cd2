"""maskgraph's engine: load a YAML graph (or build one in Python) and evaluate it.

    import graph
    g = graph.load("graphs_examples/green_screen.yaml", params={"softness": 0.2})
    results = g.evaluate()                 # {sink name: the array it wrote}
    matte = g.evaluate(outputs=["key"])["key"]
    g.render(range(1, 49))                 # a frame range (client=... on a Dask cluster)

Images are (H, W, 4) float32 premultiplied linear RGBA, masks (H, W) float32, read-only.
The node library is found through the entry-point group `maskgraph.nodes`: each entry
point is a callable returning a list of NodeSpec (the built-in library registers
`nodes:specs`); `maskgraph.templates` and `maskgraph.commands` add template folders and
CLI commands. The engine is handed a registry and never imports nodes/.
"""
from __future__ import annotations

from graph import threads as _threads

_threads.apply_policy()  # before any engine module imports numba (see graph/threads.py)

import functools  # noqa: E402
from importlib.metadata import entry_points  # noqa: E402

from graph.errors import GraphError, MaskgraphError, NodeFailure, Problem  # noqa: E402
from graph.model import Graph, Handle  # noqa: E402
from graph.spec import Registry  # noqa: E402

ENTRY_POINT_GROUP = "maskgraph.nodes"

__all__ = ["load", "Graph", "Handle", "default_registry", "GraphError", "NodeFailure",
           "MaskgraphError", "Problem", "Registry"]


@functools.cache
def default_registry() -> Registry:
    """Every node type registered in the `maskgraph.nodes` entry-point group."""
    registry = Registry()
    found = entry_points(group=ENTRY_POINT_GROUP)
    if not found:
        raise MaskgraphError(f"no node library registered under '{ENTRY_POINT_GROUP}': "
                             "install maskgraph with `pip install -e .`")
    for entry in sorted(found, key=lambda e: e.name):
        for spec in entry.load()():
            registry.add(spec)
    return registry


def load(source, params: dict | None = None, registry: Registry | None = None) -> Graph:
    """A Graph from a YAML file path (any name or extension) or YAML text.

    A path-like object, or a string of one line not starting with '{', is a path; other
    strings are YAML text.

    params: overrides of the graph's params ({name: value}); relative paths among them
    resolve against the working directory. Raises GraphError listing every problem.
    """
    from graph.yaml_io import load_graph
    return load_graph(source, registry or default_registry(), params)
