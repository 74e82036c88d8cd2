"""The built-in node library. Each module declares its node specs; `specs()` collects them.

Registered through the entry-point group `maskgraph.nodes` (see pyproject.toml); third-party
node packages register there the same way, with a callable returning a list of NodeSpec.
"""


def specs():
    """Every built-in NodeSpec. (The engine is imported here, not at the top, so that
    importing a kernel from nodes.kernels does not import it.)"""
    from graph.spec import specs_in
    from nodes import (grade, inpaint, io, keyers, maskmath, merge, semantic, shapes, time,
                       transform)
    from nodes import propagate, track
    return specs_in(io, shapes, keyers, semantic, maskmath, grade, merge, inpaint, transform,
                    time, track, propagate)
