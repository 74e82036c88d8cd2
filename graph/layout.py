"""A readable drawing of a graph, shared by `maskgraph preview` and `maskgraph serve`.

Layered (Sugiyama-style) layout:
1. A node's column is its longest distance from a source, so every edge runs rightwards.
2. An edge spanning several columns gets a placeholder ("dummy") in each column it crosses;
   dummies take a thin slot of their own in the column, so an edge never passes over a card.
3. Nodes and dummies are ordered within their column by the barycentre of their neighbours
   (a few sweeps left-to-right and back), which removes most crossings.
4. Edges leave a card on its right side (one port per output) and enter on its left (one
   port per connection, in the order the node lists its inputs). Between two columns an
   edge is a cubic curve with horizontal ends, which stays inside the gap between the
   columns; through a dummy slot it is a straight line. So no edge crosses a card.

`layout(graph)` returns plain data (numbers and strings) that the static page draws in
Python and the live page draws in JavaScript.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

CARD_WIDTH, CARD_HEIGHT = 150, 128
COLUMN_GAP, ROW_GAP, DUMMY_HEIGHT = 74, 22, 10
MARGIN = 16
SWEEPS = 6


@dataclass
class _Slot:
    key: object          # a node name, or ("dummy", edge index, column)
    column: int
    height: float
    y: float = 0.0


def layout(graph, card_width: int = CARD_WIDTH, card_height: int = CARD_HEIGHT) -> dict:
    """{"width", "height", "cards": {name: box and ports}, "edges": [...]} in pixels."""
    digraph = graph.dependency_graph()
    column = _columns(digraph, list(graph.nodes))
    edges = _edges(graph)
    columns = _slots(graph, edges, column, card_height)
    _order(columns, edges)
    _stack(columns)
    pitch = card_width + COLUMN_GAP
    cards = {}
    for slots in columns:
        for slot in slots:
            if not isinstance(slot.key, tuple):
                cards[slot.key] = _card(graph, slot, pitch, card_width, card_height)
    drawn = [_route(edge, columns, cards, pitch, card_width) for edge in edges]
    width = MARGIN * 2 + len(columns) * pitch - COLUMN_GAP if columns else 0
    height = max((slot.y + slot.height for slots in columns for slot in slots), default=0)
    return {"width": round(width), "height": round(height + MARGIN),
            "card_width": card_width, "card_height": card_height,
            "cards": cards, "edges": drawn}


def _columns(digraph, names) -> dict:
    column = {}
    for name in nx.topological_sort(digraph):
        column[name] = max((column[p] + 1 for p in digraph.predecessors(name)), default=0)
    for name in names:
        column.setdefault(name, 0)
    return column


def _edges(graph) -> list[dict]:
    """One record per connection: source node and output, target node, port and slot."""
    edges = []
    for name, node in graph.nodes.items():
        for slot, (port, ref) in enumerate(node.refs()):
            source = ref.node
            if source not in graph.nodes:
                continue
            edges.append({"from": source, "output": ref.output or "", "to": name,
                          "port": port, "slot": slot})
    return edges


def _slots(graph, edges, column, card_height) -> list[list[_Slot]]:
    count = max(column.values(), default=-1) + 1
    columns: list[list[_Slot]] = [[] for _ in range(count)]
    for name in graph.nodes:
        columns[column[name]].append(_Slot(name, column[name], card_height))
    for index, edge in enumerate(edges):
        start, end = column[edge["from"]], column[edge["to"]]
        edge["dummies"] = []
        for middle in range(start + 1, end):
            key = ("dummy", index, middle)
            columns[middle].append(_Slot(key, middle, DUMMY_HEIGHT))
            edge["dummies"].append(key)
    return columns


def _chains(edges) -> tuple[dict, dict]:
    """Neighbours of every slot key in the previous and in the next column."""
    left: dict = {}
    right: dict = {}
    for edge in edges:
        chain = [edge["from"], *edge["dummies"], edge["to"]]
        for a, b in zip(chain, chain[1:]):
            right.setdefault(a, []).append(b)
            left.setdefault(b, []).append(a)
    return left, right


def _order(columns, edges) -> None:
    left, right = _chains(edges)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for index in indices:
            reference = columns[index - 1] if forward else columns[index + 1]
            position = {slot.key: place for place, slot in enumerate(reference)}
            neighbours = left if forward else right
            current = columns[index]
            order = {slot.key: place for place, slot in enumerate(current)}

            def barycentre(slot, position=position, neighbours=neighbours, order=order):
                places = [position[k] for k in neighbours.get(slot.key, []) if k in position]
                return sum(places) / len(places) if places else order[slot.key]
            current.sort(key=barycentre)


def _stack(columns) -> None:
    for slots in columns:
        y = MARGIN
        for slot in slots:
            slot.y = y
            y += slot.height + ROW_GAP


def _card(graph, slot, pitch, card_width, card_height) -> dict:
    x = MARGIN + slot.column * pitch
    node = graph.nodes[slot.key]
    refs = node.refs()
    spec = graph.registry.get(node.type)
    outputs = [output.name for output in spec.outputs] if spec else ["output"]
    return {"x": x, "y": slot.y, "w": card_width, "h": card_height,
            "inputs": [{"port": port, "x": x, "y": slot.y + _spread(i, len(refs), card_height)}
                       for i, (port, _) in enumerate(refs)],
            "outputs": {name: {"x": x + card_width,
                               "y": slot.y + _spread(i, len(outputs), card_height)}
                        for i, name in enumerate(outputs)}}


def _spread(index: int, count: int, height: float) -> float:
    """Port positions along a card side: evenly spaced in the card's middle part."""
    top, bottom = 0.2 * height, 0.85 * height
    return (top + bottom) / 2 if count == 1 else top + (bottom - top) * index / (count - 1)


def _route(edge, columns, cards, pitch, card_width) -> dict:
    source, target = cards[edge["from"]], cards[edge["to"]]
    outputs = source["outputs"]
    start = outputs.get(edge["output"]) or next(iter(outputs.values()))
    end = target["inputs"][edge["slot"]]
    slot_y = {slot.key: slot.y + slot.height / 2 for slots in columns for slot in slots}
    points = [(start["x"], start["y"])]
    for key in edge["dummies"]:
        x = MARGIN + key[2] * pitch
        points += [(x, slot_y[key]), (x + card_width, slot_y[key])]
    points.append((end["x"], end["y"]))
    path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for index in range(1, len(points)):
        (x1, y1), (x2, y2) = points[index - 1], points[index]
        if index % 2:  # a gap between columns: a curve with horizontal ends
            middle = (x1 + x2) / 2
            path += f" C{middle:.1f},{y1:.1f} {middle:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        else:          # through a dummy slot: straight
            path += f" L{x2:.1f},{y2:.1f}"
    return {"from": edge["from"], "output": edge["output"], "to": edge["to"],
            "port": edge["port"], "points": points, "d": path}


def sample_edge(points, steps: int = 24) -> list[tuple[float, float]]:
    """Points along a routed edge (the curves and lines `d` draws), for geometry checks."""
    samples = []
    for index in range(1, len(points)):
        (x1, y1), (x2, y2) = points[index - 1], points[index]
        for step in range(steps + 1):
            t = step / steps
            if index % 2:
                middle = (x1 + x2) / 2
                x = (1 - t) ** 3 * x1 + 3 * (1 - t) ** 2 * t * middle + 3 * (1 - t) * t ** 2 * middle + t ** 3 * x2
                y = (1 - t) ** 3 * y1 + 3 * (1 - t) ** 2 * t * y1 + 3 * (1 - t) * t ** 2 * y2 + t ** 3 * y2
            else:
                x, y = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
            samples.append((x, y))
    return samples
