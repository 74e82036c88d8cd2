"""`maskgraph serve`: a local web app showing a graph live, with roto drawing and painting.

Standard library only (http.server's ThreadingHTTPServer, server-sent events): one
session, one user, on 127.0.0.1.

Routes (every one needs `token=` in the query, or the X-Token header; else 403):
  GET  /                     the page (static/index.html)
  GET  /static/NAME          the page's script and style (a fixed list)
  GET  /events               server-sent events: a `state` message per evaluation and
                             a `progress` message per node while evaluating
  GET  /api/state            the current state as JSON
  GET  /img/NODE?kind=K&v=V  a node's result as PNG (K: image, thumb, overlay, overlay_thumb)
  GET  /file/RELATIVE        a file in the graph's folder, or a path the graph declares
  POST /api/frame            {"frame": N}
  POST /api/shape            {"name", "type", "points", "handles", "frame", "key", "like", "wire"}
  POST /api/paint?name=N&like=L&wire=NODE.PORT   body: PNG whose alpha is the mask

Security: only the graph's folder and the files the graph names are served (resolved
paths, so `..` and links cannot leave them: 404); writes go only to the graph file and to
PNG mask files of `read_mask` nodes (existing ones, or new ones under the graph's
folder). Requests whose Host is not this machine's loopback name are refused (DNS
rebinding).
"""
from __future__ import annotations

import hmac
import json
import mimetypes
import os
import queue
import secrets
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlparse

import cv2
import numpy as np

from graph import pictures
from graph.animation import has_frame_pattern, path_at_frame
from graph.serve import edit
from graph.serve.session import Session, declared_paths
from graph.serve.watch import Watcher

STATIC_FILES = ("index.html", "app.js", "style.css")
THUMBNAIL = 200
PICTURE_CACHE = 96
PICTURE_BUDGET = 256 * 2**20
MAX_BODY = 256 * 2**20
KEEPALIVE_SECONDS = 10
SHAPE_TYPES = ("polygon", "spline")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class PictureCache:
    """PNG bytes by (node, version, frame, kind), least recently used dropped first.

    Bounded by count and by bytes (a stored 1080p PNG is 6 MB).
    """

    def __init__(self, size: int = PICTURE_CACHE, budget: int = PICTURE_BUDGET):
        self.size = size
        self.budget = budget
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        data = make()
        with self.lock:
            self.entries[key] = data
            while len(self.entries) > 1 and (len(self.entries) > self.size or sum(
                    len(item) for item in self.entries.values()) > self.budget):
                self.entries.popitem(last=False)
        return data


class App:
    """The served session: state, files allowed, the edits."""

    def __init__(self, path: str, frames=None, cache_dir=None, params=None, token=None):
        self.session = Session(path, frames=frames, cache_dir=cache_dir, params=params)
        self.token = token or secrets.token_urlsafe(18)
        self.pictures = PictureCache()
        self.clients: list[queue.Queue] = []
        self.clients_lock = threading.Lock()
        self.edit_lock = threading.Lock()
        self.session.listeners.append(self._publish)
        self.session.progress_listeners.append(self._progress)
        self.watcher = None

    def start(self) -> None:
        self.session.start()
        self.watcher = Watcher(lambda: self.session.snapshot.files or [self.session.path],
                               lambda changed: self.session.refresh()).start()

    def stop(self) -> None:
        self.session.stop()
        if self.watcher:
            self.watcher.stop()

    # ------------------------------------------------------------ state
    def state(self) -> dict:
        registry = self._registry_info()
        return self.session.snapshot.public(registry)

    def _registry_info(self) -> dict:
        graph = self.session.snapshot.graph
        types = []
        if graph is not None:
            types = [name for name in SHAPE_TYPES if name in graph.registry]
        frames = self.session.frames or (self.session.frame, self.session.frame)
        return {"shape_types": types, "frames": list(frames),
                "graph_file": os.path.basename(self.session.path)}

    def _publish(self, snapshot) -> None:
        message = ("state", json.dumps(self.state()))
        with self.clients_lock:
            for client in self.clients:
                client.put(message)

    def _progress(self, record: dict) -> None:
        """Per-node progress while evaluating (shown in the page's status line)."""
        message = ("progress", json.dumps(record))
        with self.clients_lock:
            for client in self.clients:
                client.put(message)

    def subscribe(self) -> queue.Queue:
        client: queue.Queue = queue.Queue()
        client.put(("state", json.dumps(self.state())))
        with self.clients_lock:
            self.clients.append(client)
        return client

    def unsubscribe(self, client) -> None:
        with self.clients_lock:
            if client in self.clients:
                self.clients.remove(client)

    # ------------------------------------------------------------ pictures
    def picture(self, name: str, kind: str) -> bytes | None:
        snapshot = self.session.snapshot
        array = snapshot.results.get(name)
        if array is None:
            return None
        version = snapshot.versions.get(name, 0)
        backdrop_name = snapshot.backdrops.get(name)
        backdrop = snapshot.results.get(backdrop_name) if backdrop_name else None
        backdrop_version = snapshot.versions.get(backdrop_name, 0)
        limit = THUMBNAIL if kind.endswith("thumb") else None
        source = snapshot.shown.get(name, name).split(".")[0]  # a sink shares its input's
        if snapshot.results.get(source) is array:
            name, version = source, snapshot.versions.get(source, version)
        key = (name, version, snapshot.frame, kind, backdrop_name, backdrop_version)

        encode = pictures.png_bytes if limit else pictures.png_stored

        def make():
            if kind.startswith("overlay") and array.ndim == 2:
                return encode(pictures.overlay(array, backdrop, limit))
            return encode(pictures.to_display(array, limit))
        return self.pictures.get(key, make)

    # ------------------------------------------------------------ files
    def allowed_file(self, relative: str) -> str | None:
        """The real path of a servable file, or None (outside the folder, not declared)."""
        folder = os.path.realpath(self.session.folder)
        path = os.path.realpath(os.path.join(folder, relative))
        inside = os.path.commonpath([folder, path]) == folder
        declared = path in declared_paths(self.session.snapshot.graph)
        if (inside or declared) and os.path.isfile(path):
            return path
        return None

    # ------------------------------------------------------------ edits
    def save_shape(self, request: dict) -> dict:
        graph = self._graph()
        type_name = request.get("type")
        if type_name not in SHAPE_TYPES or type_name not in graph.registry:
            raise edit.EditError(f"shape type {type_name!r}: expected one of {SHAPE_TYPES}")
        points = _points(request.get("points"), "points")
        handles = request.get("handles")
        handles = _points(handles, "handles") if handles is not None else None
        wire = self._wire(graph, request.get("wire"))
        like = request.get("like")
        if like is not None and like not in graph.nodes:
            raise edit.EditError(f"like: no node named {like!r}")
        frame = int(request.get("frame", self.session.frame))
        return self._edit_graph(lambda text: edit.set_shape(
            text, request.get("name", ""), type_name, points, handles, frame,
            bool(request.get("key")), like, wire))

    def save_paint(self, name: str, like: str | None, wire_text: str | None, body: bytes) -> dict:
        graph = self._graph()
        mask = _decode_mask(body)
        wire = self._wire(graph, wire_text)
        if name in graph.nodes:
            node = graph.nodes[name]
            if node.type != "read_mask":
                raise edit.EditError(f"node '{name}' is a {node.type}, not a read_mask")
            target = str(node.values["path"])
            if has_frame_pattern(target):  # a painted sequence: this frame's file
                target = path_at_frame(target, self.session.snapshot.frame)
            if not target.lower().endswith(".png"):
                raise edit.EditError(f"read_mask '{name}' reads {target}: painting writes PNG only")
        else:
            edit._check_name(name)
            target = os.path.join(self.session.folder, "masks", f"{name}.png")
        if like in graph.nodes:
            expected = self.session.snapshot.results.get(like)
            if expected is not None and expected.shape[:2] != mask.shape:
                raise edit.EditError(f"painted mask is {mask.shape[1]}x{mask.shape[0]}, "
                                     f"'{like}' is {expected.shape[1]}x{expected.shape[0]}")
        ok, encoded = cv2.imencode(".png", mask)
        with self.edit_lock:
            edit.write_atomic(target, encoded.tobytes())
        relative = os.path.relpath(target, self.session.folder).replace(os.sep, "/")
        result = {"path": relative, "diff": ""}
        if name not in graph.nodes or wire:
            result.update(self._edit_graph(lambda text: edit.add_read_mask(text, name, relative,
                                                                           wire)))
        else:
            self.session.refresh()
        return result

    def _graph(self):
        graph = self.session.snapshot.graph
        if graph is None:
            raise edit.EditError("the graph did not load; fix its file first")
        return graph

    def _wire(self, graph, text):
        if not text:
            return None
        target, _, port = str(text).partition(".")
        node = graph.nodes.get(target)
        spec = graph.registry.get(node.type) if node else None
        port_spec = spec.input(port) if spec else None
        if port_spec is None or "mask" not in port_spec.type:
            raise edit.EditError(f"wire {text!r}: expected NODE.PORT naming a mask input")
        return target, port

    def _edit_graph(self, change) -> dict:
        with self.edit_lock:
            with open(self.session.path, encoding="utf-8") as handle:
                old = handle.read()
            new = change(old)
            if new != old:
                edit.write_atomic(self.session.path, new.encode("utf-8"))
        self.session.refresh()
        return {"diff": edit.diff(old, new, os.path.basename(self.session.path))}


def _points(value, what: str) -> list:
    try:
        points = [[float(x), float(y)] for x, y in value]
    except (TypeError, ValueError):
        raise edit.EditError(f"{what}: expected [[x, y], ...]") from None
    if points and not np.all(np.isfinite(np.asarray(points))):
        raise edit.EditError(f"{what}: every coordinate must be a finite number")
    return points


def _decode_mask(body: bytes) -> np.ndarray:
    """The 8-bit mask of an uploaded PNG: its alpha where it has one, else its first channel."""
    pixels = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise edit.EditError("the painted mask is not a PNG")
    if pixels.ndim == 3:
        pixels = pixels[..., 3] if pixels.shape[2] == 4 else pixels[..., 2]
    if pixels.dtype != np.uint8:
        pixels = (pixels / 257).round().astype(np.uint8)
    return np.ascontiguousarray(pixels)


class Handler(BaseHTTPRequestHandler):
    app: App = None  # set on the subclass made by make_server
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet: the terminal shows the URL only
        return

    # ------------------------------------------------------------ plumbing
    def _query(self):
        parsed = urlparse(self.path)
        return unquote(parsed.path), {k: v[-1] for k, v in parse_qs(parsed.query).items()}

    def _authorised(self, query) -> bool:
        bound = self.server.server_address[0]
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if bound in LOOPBACK and host not in LOOPBACK:  # a rebinding DNS name: refused
            return False
        given = query.get("token") or self.headers.get("X-Token") or ""
        return hmac.compare_digest(given.encode(), self.app.token.encode())

    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # ------------------------------------------------------------ GET
    def do_GET(self):
        path, query = self._query()
        if not self._authorised(query):
            return self._error(403, "bad or missing token")
        if path == "/":
            return self._static("index.html")
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        if path == "/events":
            return self._events()
        if path == "/api/state":
            return self._json(200, self.app.state())
        if path.startswith("/img/"):
            return self._image(path[len("/img/"):], query.get("kind", "image"))
        if path.startswith("/file/"):
            return self._file(path[len("/file/"):])
        return self._error(404, "not found")

    def _static(self, name: str):
        if name not in STATIC_FILES:
            return self._error(404, "not found")
        data = resources.files("graph.serve").joinpath("static", name).read_bytes()
        if name == "index.html":
            data = data.replace(b"__TOKEN__", self.app.token.encode())
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(200, data, kind + "; charset=utf-8")

    def _image(self, name: str, kind: str):
        if kind not in ("image", "thumb", "overlay", "overlay_thumb"):
            return self._error(400, f"kind {kind!r}")
        data = self.app.picture(name, kind)
        if data is None:
            return self._error(404, f"no result for {name!r}")
        self._send(200, data, "image/png", cache=True)

    def _file(self, relative: str):
        path = self.app.allowed_file(relative)
        if path is None:
            return self._error(404, "not found (only the graph's folder and files it names)")
        with open(path, "rb") as handle:
            data = handle.read()
        self._send(200, data, mimetypes.guess_type(path)[0] or "application/octet-stream")

    def _events(self):
        client = self.app.subscribe()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                try:
                    kind, message = client.get(timeout=KEEPALIVE_SECONDS)
                    self.wfile.write(f"event: {kind}\ndata: {message}\n\n".encode())
                except queue.Empty:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.app.unsubscribe(client)

    # ------------------------------------------------------------ POST
    def do_POST(self):
        path, query = self._query()
        if not self._authorised(query):
            return self._error(403, "bad or missing token")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._error(413, "request too large")
        body = self.rfile.read(length)
        try:
            if path == "/api/frame":
                frame = int(json.loads(body)["frame"])
                self.app.session.refresh(frame=frame)
                return self._json(200, {"frame": frame})
            if path == "/api/shape":
                return self._json(200, self.app.save_shape(json.loads(body)))
            if path == "/api/paint":
                return self._json(200, self.app.save_paint(query.get("name", ""),
                                                           query.get("like"),
                                                           query.get("wire"), body))
        except edit.EditError as error:
            return self._error(400, str(error))
        except (ValueError, KeyError, TypeError) as error:
            return self._error(400, f"bad request: {error}")
        except OSError as error:
            return self._error(500, f"cannot write {error.filename}: {error.strerror}")
        return self._error(404, "not found")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app: App, host: str = "127.0.0.1", port: int = 0) -> Server:
    handler = type("BoundHandler", (Handler,), {"app": app})
    return Server((host, port), handler)


def url(server: Server, app: App) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/?token={app.token}"
