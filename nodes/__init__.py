"""The built-in node library. Each module declares its node specs; `specs()` collects them.

Registered through the entry-point group `maskgraph.nodes` (see pyproject.toml); third-party
node packages register there the same way, with a callable returning a list of NodeSpec.
"""


def specs():
    """Every built-in NodeSpec. (The engine is imported here, not at the top, so that
    importing a kernel from nodes.kernels does not import it.)"""
    from graph.spec import specs_in
    from nodes import (colour, exr_layers, grade, inpaint, io, keyers, matting, maskmath,
                       merge, propagate, semantic, shapes, time, track, transform)
    return specs_in(io, exr_layers, colour, shapes, keyers, semantic, matting, maskmath, grade,
                    merge, inpaint, transform, time, track, propagate)
