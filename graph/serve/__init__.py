"""`maskgraph serve`: the graph live in a browser (see graph/serve/server.py for the routes).

    maskgraph serve shot.yaml            # prints http://127.0.0.1:PORT/?token=...

The page shows the graph's layout with every node's result, a full-resolution viewer
(zoom, pan, mask overlay, A/B wipe, frame slider), reloads what changed when the graph,
its templates or its input files are saved, and writes roto shapes and painted masks back
into the graph file.
"""
from __future__ import annotations

import sys

from graph.serve.server import App, make_server, url

__all__ = ["App", "make_server", "url", "serve"]


def serve(path: str, host: str = "127.0.0.1", port: int = 0, frames=None, cache_dir=None,
          params=None, open_browser: bool = False) -> None:
    """Serve `path` until interrupted (Ctrl-C)."""
    app = App(path, frames=frames, cache_dir=cache_dir, params=params)
    server = make_server(app, host, port)
    address = url(server, app)
    print(f"maskgraph: serving {path} at {address}", file=sys.stderr, flush=True)
    print(address, flush=True)
    app.start()
    if open_browser:
        import webbrowser
        webbrowser.open(address)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:  # Ctrl-C is how a user stops it: not an error
        print("maskgraph: stopped", file=sys.stderr)
    finally:
        app.stop()
        server.server_close()
