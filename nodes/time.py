"""Time nodes: read an input at another frame.

Both declare `reads_frames` on their spec: planning follows the edge to the frame they
read, and that frame enters their key. Their compute is the identity; all the work is in
the plan.
"""
from graph.spec import Input, Output, Param, node

CATEGORY = "time"


@node("time_offset", version=1, category=CATEGORY,
      inputs=[Input("input", "image|mask")],
      outputs=[Output("output", "image|mask")],
      params=[Param("offset", "int", 0,
                    doc="frames to delay the input by (negative: take it from later)")],
      reads_frames=lambda params, frame: {"input": frame - params["offset"]})
def time_offset(input, *, offset):
    """Shift the input in time: frame f shows the input at frame f - offset (Nuke's
    TimeOffset)."""
    return input


@node("frame_hold", version=1, category=CATEGORY,
      inputs=[Input("input", "image|mask")],
      outputs=[Output("output", "image|mask")],
      params=[Param("frame", "int", 1, doc="the frame every output frame shows")],
      reads_frames=lambda params, frame: {"input": params["frame"]})
def frame_hold(input, *, frame):
    """Hold one frame: every frame shows the input at `frame` (Nuke's FrameHold); over a
    range the input is computed once."""
    return input
