"""The built-in node library. Each module declares its node specs; `specs()` collects them.

Registered through the entry-point group `maskgraph.nodes` (see pyproject.toml); third-party
node packages register there the same way, with a callable returning a list of NodeSpec.
"""
from graph.spec import specs_in


def specs():
    """Every built-in NodeSpec."""
    from nodes import (grade, inpaint, io, keyers, maskmath, merge, semantic, shapes, time,
                       transform)
    from nodes import track
    return specs_in(io, shapes, keyers, semantic, maskmath, grade, merge, inpaint, transform,
                    time, track)
