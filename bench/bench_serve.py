"""`maskgraph serve` speed, in a real browser (Playwright + the system Chromium).

1. Page load of a 20-node graph whose results are cached: from navigation to every card's
   thumbnail decoded. Peer: opening the static `maskgraph preview` page of the same graph
   (pre-rendered, from disk).
2. Edit to image: one param of a 1080p ten-node graph changed in the YAML file on disk, to
   the new full-resolution picture of the final node decoded in the page (kernels warm).
   Peer: the engine alone doing the same work in this process (graph.load + run of every
   node with the memory cache warm), the floor that serving adds to.

Targets (issue 18): page load < 1 s; edit to image < 1 s.
Run: python bench/bench_serve.py
"""
import os
import shutil
import statistics
import tempfile
import threading
import time

import cv2

from common import print_table  # noqa: E402  (adds the repo to sys.path)

import graph
from graph.preview import write_preview
from graph.serve import App, make_server, url
from graph.serve.session import shown_targets

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

TEN = """maskgraph: 1
nodes:
  plate: {type: read, path: plate.png}
  bg:    {type: constant, like: plate, color: [0.1, 0.3, 0.8, 1.0]}
  key:   {type: luma_key, input: plate, low: 0.3, high: 0.8}
  soft:  {type: feather, input: key, radius: RADIUS}
  oval:  {type: ellipse, like: plate, center: [960, 540], radius: [600, 400], feather: 40}
  both:  {type: intersect, inputs: [soft, oval]}
  warm:  {type: grade, input: plate, mask: both, multiply: [1.2, 1.0, 0.8]}
  sharp: {type: blur, input: warm, size: 1.5}
  comp:  {type: merge, op: over, a: sharp, b: bg, mask: both}
  out:   {type: write, input: comp, path: out/comp.png}
"""


def twenty_nodes() -> str:
    lines = ["maskgraph: 1", "nodes:", "  plate: {type: read, path: plate.png}"]
    previous = "plate"
    for index in range(19):
        name = f"g{index:02d}"
        lines.append(f"  {name}: {{type: grade, input: {previous}, multiply: {1 + index / 100}}}")
        previous = name
    return "\n".join(lines) + "\n"


def make_folder(text: str, size) -> str:
    from skimage import data
    folder = tempfile.mkdtemp(prefix="bench-serve-")
    plate = cv2.resize(data.astronaut()[..., ::-1], size, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(os.path.join(folder, "plate.png"), plate)
    with open(os.path.join(folder, "g.yaml"), "w") as out:
        out.write(text)
    return folder


def start(folder):
    app = App(os.path.join(folder, "g.yaml"))
    server = make_server(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.start()
    app.session.wait_published(0, 600)
    return app, server


ALL_THUMBS = """() => window.mg && mg.state && mg.state.serial > 0 &&
  [...document.querySelectorAll('#graph .card img.thumb')].length ===
    Object.values(mg.state.nodes).filter(n => n.kind).length &&
  [...document.querySelectorAll('#graph .card img.thumb')].every(i => i.complete && i.naturalWidth > 0)"""
ALL_PREVIEW = """() => [...document.querySelectorAll(".thumb img")].every(i => i.complete && i.naturalWidth > 0)"""


def page_load(browser, address, check, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1366, "height": 800})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(address)
        page.wait_for_function(check)
        times.append(time.perf_counter() - started)
        context.close()
    return statistics.median(times)


def edit_latency(browser, app, address, folder, repeat=6):
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.goto(address)
    page.wait_for_function(ALL_THUMBS)
    page.locator('.card[data-node="comp"]').click()
    page.wait_for_function("() => (document.getElementById('viewer').dataset.loaded || '').startsWith('comp:')")
    path = os.path.join(folder, "g.yaml")
    times, engine, published, publish = [], [], [], []
    app.session.listeners.append(lambda snapshot: published.append(time.perf_counter()))
    for index in range(repeat):
        version = page.evaluate("mg.state.nodes.comp.version")
        text = TEN.replace("RADIUS", str(4 + index * 0.5))
        started = time.perf_counter()
        with open(path, "w") as out:
            out.write(text)
        page.wait_for_function(f"() => document.getElementById('viewer').dataset.loaded === 'comp:{version + 1}'",
                               polling=5)
        times.append(time.perf_counter() - started)
        publish.append(published[-1] - started if published else float("nan"))
        # the same edit done by the engine alone, in an unwatched copy of the folder
        engine.append(engine_only(os.path.join(folder, "engine", "g.yaml"), text))
    context.close()
    return statistics.median(times), statistics.median(engine), times, publish


def engine_only(path, text) -> float:
    with open(path, "w") as out:
        out.write(text)
    started = time.perf_counter()
    g = graph.load(path)
    g.run(sorted(set(shown_targets(g).values())))
    return time.perf_counter() - started


def main():
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    folder20 = make_folder(twenty_nodes(), (1280, 720))
    folder10 = make_folder(TEN.replace("RADIUS", "3"), (1920, 1080))
    os.makedirs(os.path.join(folder10, "engine"))
    shutil.copy(os.path.join(folder10, "plate.png"), os.path.join(folder10, "engine"))
    engine_only(os.path.join(folder10, "engine", "g.yaml"), TEN.replace("RADIUS", "3"))
    app20, server20 = start(folder20)
    app10, server10 = start(folder10)
    preview = os.path.join(folder20, "report.html")
    write_preview(graph.load(os.path.join(folder20, "g.yaml")), preview)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=ARGS)
        ours = page_load(browser, url(server20, app20), ALL_THUMBS)
        theirs = page_load(browser, "file://" + preview, ALL_PREVIEW)
        latency, engine, samples, publish = edit_latency(browser, app10, url(server10, app10), folder10)
        browser.close()
    print_table("maskgraph serve (load average: %s)" % " ".join(f"{x:.1f}" for x in os.getloadavg()), [
        ("page load, 20 nodes cached (720p)", ours, "static preview page", theirs, "< 1 s"),
        ("edit -> new image, 10 nodes 1080p", latency, "engine alone (reload+run)", engine, "< 1 s"),
    ])
    print("edit -> image samples (ms):", " ".join(f"{s * 1e3:.0f}" for s in samples))
    print("edit -> results published (ms):", " ".join(f"{s * 1e3:.0f}" for s in publish))
    for server, app in ((server20, app20), (server10, app10)):
        server.shutdown()
        app.stop()


if __name__ == "__main__":
    main()
