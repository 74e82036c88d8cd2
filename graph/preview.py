"""`maskgraph preview`: one self-contained HTML page showing what every node did.

The graph is drawn in layers (a node's column is its longest distance from a source), with
its edges; each node shows a thumbnail of its result, its time and cache status. Masks are
shown twice: as greyscale and as a red overlay on the nearest upstream image, with the
percentage of the frame they cover. Clicking a thumbnail opens it full size (capped at
FULL_SIZE pixels on the long side to keep the page small). Images are inline PNG data, so
the page needs no network and no other file.
"""
from __future__ import annotations

import base64
import html
import os

import cv2
import networkx as nx
import numpy as np

from graph import atomic
from graph.errors import Problem, UsageError
from graph.model import Graph, output_types, resolve_output

THUMBNAIL = 168
FULL_SIZE = 1600
COLUMN_WIDTH, ROW_HEIGHT = 240, 300
CARD_WIDTH = 200


def write_preview(graph: Graph, path: str, frame: int = 1, cache_dir: str | None = None) -> str:
    """Evaluate every node of `graph` (writing no files) and write the HTML page to `path`."""
    graph.validate()
    types = output_types(graph)
    sinks = set(graph.sinks())
    shown = {name: name for name in graph.nodes if name not in sinks}
    for name in sinks:  # a sink's card shows what it would write, without writing it
        refs = [ref for _, ref in graph.nodes[name].refs()]
        if refs:
            shown[name] = str(refs[0])
    run = graph.run(list(set(shown.values())), frame=frame, cache_dir=cache_dir)
    stats = {stat["name"]: stat for stat in run.stats}
    cards = {}
    for name in graph.nodes:
        source = run.results.get(shown.get(name))
        kind = "mask" if source is not None and source.ndim == 2 else "image"
        backdrop = _backdrop(graph, name, types, run.results) if kind == "mask" else None
        cards[name] = _card(graph, name, source, backdrop, stats.get(name), name in sinks)
    page = _page(graph, cards, frame)
    try:
        atomic.write_text(path, page)
    except OSError as error:
        raise UsageError(Problem(f"cannot write {path}: {error.strerror or error}")) from None
    return path


def _backdrop(graph, name, types, results):
    """The nearest upstream image result (for a mask's overlay), or None."""
    digraph = graph.dependency_graph()
    for ancestor in _nearest_first(digraph, name):
        node = graph.nodes[ancestor]
        spec = graph.registry.get(node.type)
        if spec.outputs and types.get((ancestor, spec.outputs[0].name)) == "image":
            return results.get(ancestor)
    return None


def _nearest_first(digraph, name):
    seen, frontier = {name}, [name]
    while frontier:
        following = []
        for current in frontier:
            for upstream in digraph.predecessors(current):
                if upstream not in seen:
                    seen.add(upstream)
                    following.append(upstream)
                    yield upstream
        frontier = following


# ------------------------------------------------------------------ pictures

def _to_display(array: np.ndarray, limit: int) -> np.ndarray:
    """8-bit sRGB RGB(A) (or gray) for display, at most `limit` pixels on the long side."""
    height, width = array.shape[:2]
    scale = min(1.0, limit / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        array = cv2.resize(np.ascontiguousarray(array), size, interpolation=cv2.INTER_AREA)
    if array.ndim == 2:
        return np.clip(np.rint(array * 255), 0, 255).astype(np.uint8)
    alpha = array[..., 3:4]
    colour = np.where(alpha > 0, array[..., :3] / np.maximum(alpha, 1e-12), 0)
    colour = _srgb_encode(np.clip(colour, 0, 1))
    return np.clip(np.rint(np.concatenate([colour, alpha], axis=2) * 255), 0, 255).astype(np.uint8)


def _srgb_encode(values):
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def _overlay(mask: np.ndarray, backdrop: np.ndarray, limit: int) -> np.ndarray:
    """The backdrop image with the mask as a translucent red, 8-bit RGB."""
    if backdrop is None or backdrop.shape[:2] != mask.shape:
        picture = np.full(mask.shape + (3,), 0.18, np.float32)
    else:
        picture = backdrop[..., :3] + 0.18 * (1 - backdrop[..., 3:4])  # over mid grey
    red = np.array([1.0, 0.05, 0.05], np.float32)
    weight = 0.6 * mask[..., None]
    mixed = picture * (1 - weight) + red * weight
    rgba = np.concatenate([mixed, np.ones(mask.shape + (1,), np.float32)], axis=2)
    return _to_display(rgba.astype(np.float32), limit)[..., :3]


def _data_uri(pixels: np.ndarray) -> str:
    if pixels.ndim == 3:
        pixels = pixels[..., [2, 1, 0, 3]] if pixels.shape[2] == 4 else pixels[..., ::-1]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels))
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode()


# ------------------------------------------------------------------ html

def _figure(pixels_small, pixels_full, caption: str) -> str:
    return (f'<figure class="thumb" data-full="{_data_uri(pixels_full)}">'
            f'<img alt="{html.escape(caption)}" src="{_data_uri(pixels_small)}">'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def _card(graph, name, array, backdrop, stat, is_sink) -> str:
    node = graph.nodes[name]
    figures = []
    if array is not None and array.ndim == 2:
        coverage = float(np.mean(np.clip(array, 0, 1))) * 100
        figures.append(_figure(_to_display(array, THUMBNAIL), _to_display(array, FULL_SIZE),
                               "mask"))
        figures.append(_figure(_overlay(array, backdrop, THUMBNAIL),
                               _overlay(array, backdrop, FULL_SIZE), f"{coverage:.1f}% covered"))
    elif array is not None:
        height, width = array.shape[:2]
        figures.append(_figure(_to_display(array, THUMBNAIL), _to_display(array, FULL_SIZE),
                               f"{width}x{height}"))
    if is_sink:
        status = "sink: " + html.escape(os.path.basename(str(node.values.get("path", ""))))
    elif stat is None:
        status = "not evaluated"
    else:
        status = f"{stat['status']} · {stat['seconds'] * 1e3:.1f} ms"
        if "reason" in stat:
            status += f" · {html.escape(stat['reason']['detail'])}"
    return (f'<div class="card{" disabled" if node.disable else ""}" id="node-{html.escape(name)}">'
            f'<h2>{html.escape(name)}</h2><p class="type">{html.escape(node.type)}</p>'
            f'<div class="figures">{"".join(figures)}</div>'
            f'<p class="status">{status}</p></div>')


def _layout(graph: Graph) -> dict[str, tuple[int, int]]:
    """name -> (column, row): column = longest path from a source."""
    digraph = graph.dependency_graph()
    column = {}
    for name in nx.topological_sort(digraph):
        column[name] = max((column[p] + 1 for p in digraph.predecessors(name)), default=0)
    rows: dict[int, int] = {}
    place = {}
    for name in graph.nodes:
        place[name] = (column[name], rows.get(column[name], 0))
        rows[column[name]] = rows.get(column[name], 0) + 1
    return place


def _edges_svg(graph, place, width, height) -> str:
    lines = []
    for name, node in graph.nodes.items():
        for index, (port, ref) in enumerate(node.refs()):
            (c1, r1), (c2, r2) = place[ref.node], place[name]
            x1, y1 = c1 * COLUMN_WIDTH + CARD_WIDTH, r1 * ROW_HEIGHT + 40
            x2, y2 = c2 * COLUMN_WIDTH, r2 * ROW_HEIGHT + 40 + 16 * index
            middle = (x1 + x2) / 2
            lines.append(f'<path d="M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"/>'
                         f'<text x="{x2 - 4}" y="{y2 - 4}" text-anchor="end">'
                         f'{html.escape(port)}</text>')
    return (f'<svg class="edges" width="{width}" height="{height}">{"".join(lines)}</svg>')


def _page(graph: Graph, cards: dict, frame: int) -> str:
    place = _layout(graph)
    width = (max(c for c, _ in place.values()) + 1) * COLUMN_WIDTH
    height = (max(r for _, r in place.values()) + 1) * ROW_HEIGHT
    positioned = "".join(
        f'<div class="slot" style="left:{c * COLUMN_WIDTH}px;top:{r * ROW_HEIGHT}px">'
        f'{cards[name]}</div>' for name, (c, r) in place.items())
    title = html.escape(os.path.basename(graph.source or "graph"))
    return PAGE.format(title=title, frame=frame, width=width, height=height,
                       edges=_edges_svg(graph, place, width, height), cards=positioned)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>maskgraph preview: {title}</title>
<style>
body {{ font: 13px system-ui, sans-serif; background: #1e1f22; color: #ddd; margin: 16px; }}
h1 {{ font-size: 18px; }}
.canvas {{ position: relative; width: {width}px; height: {height}px; }}
.edges {{ position: absolute; left: 0; top: 0; pointer-events: none; }}
.edges path {{ fill: none; stroke: #7a8; stroke-width: 1.5; }}
.edges text {{ fill: #9a9; font-size: 10px; }}
.slot {{ position: absolute; width: {card}px; }}
.card {{ background: #2b2d31; border: 1px solid #444; border-radius: 6px; padding: 6px; }}
.card.disabled {{ opacity: 0.5; border-style: dashed; }}
.card h2 {{ font-size: 13px; margin: 0; word-break: break-all; }}
.type {{ color: #999; margin: 0 0 4px; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 4px; }}
.thumb {{ margin: 0; cursor: zoom-in; }}
.thumb img {{ max-width: {card}px; max-height: 110px; display: block;
  background: repeating-conic-gradient(#555 0 25%, #777 0 50%) 0 0 / 12px 12px; }}
.figures .thumb + .thumb img {{ max-width: 94px; }}
.figures:has(.thumb + .thumb) .thumb img {{ max-width: 94px; }}
figcaption, .status {{ color: #aaa; font-size: 11px; margin: 2px 0 0; }}
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
PAGE = PAGE.replace("{card}", str(CARD_WIDTH))
