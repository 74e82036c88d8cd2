"""`maskgraph preview`: an HTML page showing what every node did.

The graph is drawn with the layout `maskgraph serve` uses (graph/layout.py: layered, edges
attached to their ports, no edge through a card). Each node shows a thumbnail of its
result, its time and cache status; masks are shown twice: as greyscale and as a red
overlay on the nearest upstream image, with the percentage of the frame they cover.
Thumbnails are small inline JPEG (opaque pictures) or PNG (the page stays small); clicking one opens the
full-resolution picture, written beside the page in `<page name>_files/`. A node that
fails is shown failed, with its message, and the nodes that do not depend on it still
show their results: the page is written anyway.
"""
from __future__ import annotations

import html
import os
import re

from graph import atomic, pictures
from graph.errors import Problem, UsageError
from graph.layout import layout
from graph.model import Graph
from graph.serve.session import nearest_image, run_targets, shown_targets, warm_up_jit

THUMBNAIL = 168
CARD_WIDTH, CARD_HEIGHT = 200, 176


def write_preview(graph: Graph, path: str, frame: int = 1, cache_dir: str | None = None) -> str:
    """Evaluate every node of `graph` (writing no files but the page) and write the page.

    Returns the page's path. Full-size pictures go to the folder `<stem>_files/` beside it.
    """
    graph.validate()
    warm_up_jit()  # so that the first node's time is not numba's start-up
    shown = shown_targets(graph)
    results, stats, failures = run_targets(graph, shown.values(), frame, cache_dir)
    folder = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    files = f"{stem}_files"
    os.makedirs(os.path.join(folder, files), exist_ok=True)
    sinks = set(graph.sinks())
    cards = {}
    for index, name in enumerate(graph.nodes):
        array = results.get(shown.get(name))
        backdrop_name = nearest_image(graph, name, results) if array is not None and array.ndim == 2 else None
        backdrop = results.get(backdrop_name) if backdrop_name else None
        figures = _figures(array, backdrop, os.path.join(folder, files), files, index)
        cards[name] = _card(graph, name, figures, stats.get(name), failures.get(name),
                            name in sinks)
    _remove_stale(os.path.join(folder, files), len(graph.nodes))
    page = _page(graph, cards, frame)
    try:
        atomic.write_text(path, page)
    except OSError as error:
        raise UsageError(Problem(f"cannot write {path}: {error.strerror or error}")) from None
    return path


def _remove_stale(directory: str, count: int) -> None:
    """Pictures an earlier, larger graph left in the page's folder (ours by their names)."""
    for entry in os.listdir(directory):
        if re.fullmatch(r"node(\d{3})_\d\.png", entry) and int(entry[4:7]) >= count:
            os.remove(os.path.join(directory, entry))


def _figures(array, backdrop, directory, relative, index) -> list[tuple[str, str, str]]:
    """(thumbnail data URI, full-size file URL, caption) for each picture of a result."""
    if array is None:
        return []
    if array.ndim == 2:
        coverage = pictures.coverage_percent(array)
        pairs = [(pictures.to_display(array, THUMBNAIL), pictures.to_display(array), "mask"),
                 (pictures.overlay(array, backdrop, THUMBNAIL), pictures.overlay(array, backdrop),
                  f"{coverage:.1f}% covered")]
    else:
        height, width = array.shape[:2]
        pairs = [(pictures.to_display(array, THUMBNAIL), pictures.to_display(array),
                  f"{width}x{height}")]
    figures = []
    for part, (small, full, caption) in enumerate(pairs):
        name = f"node{index:03d}_{part}.png"
        with open(os.path.join(directory, name), "wb") as out:
            out.write(pictures.png_bytes(full))
        uri = pictures.thumbnail_uri(small)
        figures.append((uri, f"{relative}/{name}", caption))
    return figures


def _card(graph, name, figures, stat, failure, is_sink) -> str:
    node = graph.nodes[name]
    parts = "".join(f'<figure class="thumb" data-full="{html.escape(full)}">'
                    f'<img alt="{html.escape(caption)}" src="{uri}">'
                    f'<figcaption>{html.escape(caption)}</figcaption></figure>'
                    for uri, full, caption in figures)
    if failure:
        status = f'<span class="failure">{html.escape(failure["message"])}</span>'
    elif is_sink:
        status = "sink: " + html.escape(os.path.basename(str(node.values.get("path", ""))))
    elif stat is None:
        status = "not evaluated"
    else:
        status = f"{stat['status']} · {stat['seconds'] * 1e3:.1f} ms"
        if "reason" in stat:
            status += f" · {html.escape(stat['reason']['detail'])}"
    classes = "card" + (" disabled" if node.disable else "") + (" failed" if failure else "")
    return (f'<h2>{html.escape(name)}</h2><p class="type">{html.escape(node.type)}</p>'
            f'<div class="figures">{parts}</div><p class="status">{status}</p>', classes)


def _page(graph: Graph, cards: dict, frame: int) -> str:
    drawn = layout(graph, CARD_WIDTH, CARD_HEIGHT)
    positioned = []
    for name, place in drawn["cards"].items():
        body, classes = cards[name]
        positioned.append(f'<div class="{classes}" id="node-{html.escape(name)}" style="left:'
                          f'{place["x"]}px;top:{place["y"]}px;width:{place["w"]}px;'
                          f'height:{place["h"]}px">{body}</div>')
    edges = []
    for edge in drawn["edges"]:
        x, y = edge["points"][-1]
        edges.append(f'<path d="{edge["d"]}"/><circle cx="{x}" cy="{y}" r="3"/>'
                     f'<text x="{x - 5}" y="{y - 4}" text-anchor="end">'
                     f'{html.escape(edge["port"])}</text>')
    svg = (f'<svg class="edges" width="{drawn["width"]}" height="{drawn["height"]}">'
           f'{"".join(edges)}</svg>')
    title = html.escape(os.path.basename(graph.source or "graph"))
    return PAGE.format(title=title, frame=frame, width=drawn["width"], height=drawn["height"],
                       edges=svg, cards="".join(positioned))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>maskgraph preview: {title}</title>
<style>
body {{ font: 13px system-ui, sans-serif; background: #1e1f22; color: #ddd; margin: 16px; }}
h1 {{ font-size: 18px; }}
.canvas {{ position: relative; width: {width}px; height: {height}px; }}
.edges {{ position: absolute; left: 0; top: 0; pointer-events: none; }}
.edges path {{ fill: none; stroke: #6f9a7a; stroke-width: 1.6; }}
.edges circle {{ fill: #6f9a7a; }}
.edges text {{ fill: #8fb09a; font-size: 10px; }}
.card {{ position: absolute; background: #2b2d31; border: 1px solid #474a50; border-radius: 5px;
  padding: 5px; overflow: hidden; box-sizing: border-box; }}
.card.disabled {{ opacity: 0.55; border-style: dashed; }}
.card.failed {{ border-color: #d04040; background: #3a2525; }}
.card h2 {{ font-size: 13px; margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.type {{ color: #999; margin: 0 0 4px; }}
.figures {{ display: flex; gap: 4px; }}
.thumb {{ margin: 0; cursor: zoom-in; min-width: 0; }}
.thumb img {{ max-width: 100%; max-height: 96px; display: block;
  background: repeating-conic-gradient(#555 0 25%, #777 0 50%) 0 0 / 12px 12px; }}
figcaption, .status {{ color: #aaa; font-size: 11px; margin: 2px 0 0; }}
.failure {{ color: #f99; }}
#viewer {{ display: none; position: fixed; inset: 0; background: rgba(0,0,0,.88);
  align-items: center; justify-content: center; flex-direction: column; cursor: zoom-out; }}
#viewer.open {{ display: flex; }}
#viewer img {{ max-width: 96vw; max-height: 90vh;
  background: repeating-conic-gradient(#555 0 25%, #777 0 50%) 0 0 / 16px 16px; }}
</style></head><body>
<h1>maskgraph preview: {title} (frame {frame})</h1>
<div class="canvas">{edges}{cards}</div>
<div id="viewer" role="dialog"><img id="viewer-image" alt="full size"><p id="viewer-caption"></p></div>
<script>
const viewer = document.getElementById("viewer");
const viewerImage = document.getElementById("viewer-image");
document.querySelectorAll(".thumb").forEach(function (figure) {{
  figure.addEventListener("click", function () {{
    viewerImage.src = figure.dataset.full;
    document.getElementById("viewer-caption").textContent =
      figure.closest(".card").querySelector("h2").textContent + " - " +
      figure.querySelector("figcaption").textContent;
    viewer.classList.add("open");
  }});
}});
viewer.addEventListener("click", function () {{ viewer.classList.remove("open"); }});
document.addEventListener("keydown", function (event) {{
  if (event.key === "Escape") viewer.classList.remove("open");
}});
</script></body></html>
"""
