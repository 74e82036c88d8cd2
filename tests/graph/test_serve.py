"""`maskgraph serve` in a real browser: headless Chromium (the system one) driven by Playwright.

The server runs in this process on a free port; the page is driven with real mouse events.
Synchronisation waits on page state (the serial of the last state received over SSE, image
load flags, the diff panel), never on sleeps. Set MASKGRAPH_SCREENSHOTS=DIR to keep
screenshots of the page.
"""
import os
import shutil
import threading
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from ruamel.yaml import YAML

import graph
from graph.serve import App, make_server, url

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install -e '.[test]')")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


pytestmark = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed "
                                "(Debian package 'chromium'; .ci/run installs it)")

GRAPH = """maskgraph: 1
# a small comp: the cat, a warm grade through a luma key, over a blue card
nodes:
  plate: {type: read, path: plate.png}
  bg:    {type: constant, like: plate, color: [0.1, 0.3, 0.8, 1.0]}
  key:   {type: luma_key, input: plate, low: 0.2, high: 0.6}   # bright fur
  soft:  {type: feather, input: key, radius: 2}
  warm:  {type: grade, input: plate, mask: soft, multiply: [1.2, 1.0, 0.8]}
  comp:  {type: merge, op: over, a: warm, b: bg}
  out:   {type: write, input: comp, path: out/comp.png}
"""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def served(tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    cv2.imwrite(str(tmp_path / "plate.png"), skimage_data.chelsea()[::2, ::2, ::-1])
    (tmp_path / "g.yaml").write_text(GRAPH)
    app = App(str(tmp_path / "g.yaml"))
    server = make_server(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.start()
    app.session.wait_published(0, 120)
    yield app, url(server, app), tmp_path
    server.shutdown()
    server.server_close()
    app.stop()


@pytest.fixture
def page(browser, served):
    app, address, folder = served
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(address)
    wait_all_thumbnails(tab)
    yield tab
    assert not errors, f"JavaScript errors on the page: {errors}"
    context.close()


def wait_all_thumbnails(tab):
    tab.wait_for_function("""() => window.mg && mg.state && mg.state.serial > 0 &&
        [...document.querySelectorAll('#graph .card img.thumb')].length ===
          Object.values(mg.state.nodes).filter(n => n.kind).length &&
        [...document.querySelectorAll('#graph .card img.thumb')].every(i => i.complete && i.naturalWidth > 0)""")


def screenshot(tab, name):
    folder = os.environ.get("MASKGRAPH_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        tab.screenshot(path=os.path.join(folder, name))


def status(address, path, body=None):
    base = address.split("/?")[0]
    try:
        with urllib.request.urlopen(base + path, data=body) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_page_shows_every_node_with_its_image_and_stats(page, served):
    app, address, folder = served
    cards = page.locator("#graph .card")
    assert cards.count() == 7
    names = set(cards.evaluate_all("cards => cards.map(c => c.dataset.node)"))
    assert names == {"plate", "bg", "key", "soft", "warm", "comp", "out"}
    widths = page.eval_on_selector_all("#graph .card img.thumb", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 7 and min(widths) > 0
    assert "computed" in page.locator('.card[data-node="warm"] .stat').inner_text()
    page.wait_for_function("() => document.getElementById('viewer').dataset.loaded === 'out:1'")
    assert not (folder / "out" / "comp.png").exists()  # serving writes no output
    screenshot(page, "serve_loaded.png")


def test_bad_token_and_paths_outside_the_folder_are_refused(served):
    app, address, folder = served
    token = app.token
    (folder.parent / "secret.txt").write_text("not yours")
    assert status(address, f"/api/state?token={token}") == 200
    assert status(address, "/api/state?token=wrong") == 403
    assert status(address, "/img/comp?kind=image") == 403
    assert status(address, f"/file/g.yaml?token={token}") == 200
    assert status(address, f"/file/../secret.txt?token={token}") in (403, 404)
    assert status(address, f"/file/%2e%2e/secret.txt?token={token}") in (403, 404)
    assert status(address, f"/file/{folder.parent / 'secret.txt'}?token={token}") in (403, 404)
    assert status(address, f"/file//etc/passwd?token={token}") in (403, 404)
    before = (folder / "g.yaml").read_text()
    polygon = b'{"name": "r", "type": "polygon", "points": [[0, 0], [9, 0], [9, 9]]}'
    assert status(address, "/api/shape?token=wrong", polygon) == 403
    assert status(address, f"/api/shape?token={token}", polygon.replace(b'"r"', b'"../r"')) == 400
    png = cv2.imencode(".png", np.zeros((150, 226), np.uint8))[1].tobytes()
    assert status(address, f"/api/paint?token={token}&name=../../evil", png) == 400
    assert status(address, f"/api/paint?token={token}&name=plate", png) == 400  # not a read_mask
    assert status(address, f"/api/paint?token=nope&name=ok", png) == 403
    assert (folder / "g.yaml").read_text() == before
    assert sorted(p.name for p in folder.iterdir()) == ["g.yaml", "plate.png"]
    assert not (folder.parent / "evil.png").exists()


def test_editing_the_yaml_updates_that_node_and_recomputes_only_downstream(page, served):
    app, address, folder = served
    serial = page.evaluate("mg.state.serial")
    version = page.evaluate("mg.state.nodes.soft.version")
    text = (folder / "g.yaml").read_text()
    (folder / "g.yaml").write_text(text.replace("radius: 2", "radius: 6"))
    # the statuses are taken from the very state that brought the new result
    statuses = page.wait_for_function(f"""() => mg.state.serial > {serial} &&
        mg.state.nodes.soft.version > {version} &&
        Object.fromEntries(Object.entries(mg.state.nodes).map(([k, n]) => [k, n.status]))""").json_value()
    page.wait_for_function(f"""() => {{
        const img = document.querySelector('.card[data-node="soft"] img.thumb');
        return img.dataset.version === String(mg.state.nodes.soft.version) && img.complete && img.naturalWidth > 0; }}""")
    assert {name for name, value in statuses.items() if value == "computed"} == {"soft", "warm", "comp"}
    assert statuses["plate"] != "computed" and statuses["key"] != "computed"
    reason = page.locator('.card[data-node="soft"] .stat').inner_text()
    assert "computed" in reason
    expected = graph.load(str(folder / "g.yaml")).evaluate(outputs=["soft"])["soft"]
    np.testing.assert_array_equal(app.session.snapshot.results["soft"], expected)
    # an input picture saved again (flipped): the reader and everything after it recompute
    serial = page.evaluate("mg.state.serial")
    plate = cv2.imread(str(folder / "plate.png"))
    cv2.imwrite(str(folder / "plate.png"), plate[:, ::-1])
    page.wait_for_function(f"() => mg.state.serial > {serial} && mg.state.nodes.plate.status === 'computed'")
    assert page.evaluate("mg.state.nodes.bg.status") == "computed"  # like: plate, same size, new key


def test_a_graph_error_and_a_node_failure_show_on_the_page(page, served):
    app, address, folder = served
    text = (folder / "g.yaml").read_text()
    serial = page.evaluate("mg.state.serial")
    (folder / "g.yaml").write_text(text.replace("radius: 2", "radius: -3"))
    page.wait_for_function(f"() => mg.state.serial > {serial} && !document.getElementById('error').hidden")
    message = page.locator("#error").inner_text()
    assert "g.yaml:7:" in message and "soft" in message and "radius" in message
    page.wait_for_function("""() => document.querySelector('.card[data-node="soft"]').classList.contains('failed')""")
    screenshot(page, "serve_graph_error.png")
    serial = page.evaluate("mg.state.serial")
    (folder / "g.yaml").write_text(text.replace("path: plate.png}", "path: plate.png}\n"
                                                "  alpha: {type: read_mask, path: plate.png, channel: alpha}\n"
                                                "  side: {type: blur, input: alpha, size: 2}"))
    page.wait_for_function(f"() => mg.state.serial > {serial} && document.getElementById('error').hidden")
    wait_all_thumbnails(page)
    failed = page.locator('.card[data-node="alpha"]')
    assert "failed" in failed.get_attribute("class")
    assert "has no alpha channel" in failed.locator(".failure").inner_text()
    assert "upstream" in page.locator('.card[data-node="side"] .failure').inner_text()
    assert page.evaluate("mg.state.nodes.comp.kind") == "image"   # the rest still shows
    screenshot(page, "serve_node_failure.png")


def test_polygon_drawn_with_clicks_is_written_to_the_yaml_and_matches(page, served):
    skimage_draw = pytest.importorskip("skimage.draw")
    app, address, folder = served
    page.locator('.card[data-node="plate"]').click()
    page.wait_for_function("() => document.getElementById('viewer').dataset.loaded === 'plate:1'")
    page.check('input[name=tool][value=polygon]')
    page.fill("#target-name", "cat")
    clicked = [(40.0, 30.0), (180.0, 22.0), (200.0, 120.0), (90.0, 140.0), (30.0, 95.0)]
    for x, y in clicked:
        client = page.evaluate(f"mg.toClient({x}, {y})")
        page.mouse.click(client[0], client[1])
    points = page.evaluate("mg.shape.points")
    screenshot(page, "serve_polygon.png")
    page.click("#shape-save")
    page.wait_for_function("() => document.getElementById('diff').dataset.count === '1'")
    assert "+  cat:" in page.locator("#diff").inner_text()
    document = YAML(typ="safe").load((folder / "g.yaml").read_text())
    assert document["nodes"]["cat"]["type"] == "polygon"
    assert document["nodes"]["cat"]["like"] == "plate"
    assert "# a small comp" in (folder / "g.yaml").read_text()   # the comment survives
    page.wait_for_function("() => mg.state.nodes.cat && mg.state.nodes.cat.kind === 'mask'")
    screenshot(page, "serve_polygon_saved.png")
    mask = graph.load(str(folder / "g.yaml")).evaluate(outputs=["cat"])["cat"] > 0.5
    reference = np.zeros(mask.shape, bool)
    # skimage's polygon covers pixel centres: pixel (r, c) is centred at (c + 0.5, r + 0.5)
    rows, cols = skimage_draw.polygon([y - 0.5 for _, y in clicked], [x - 0.5 for x, _ in clicked],
                                      mask.shape)
    reference[rows, cols] = True
    iou = (mask & reference).sum() / (mask | reference).sum()
    assert iou >= 0.98, (iou, points)


def test_a_brush_stroke_writes_the_mask_file_and_wires_a_read_mask(page, served):
    app, address, folder = served
    page.locator('.card[data-node="plate"]').click()
    page.wait_for_function("() => document.getElementById('viewer').dataset.loaded === 'plate:1'")
    page.check('input[name=tool][value=paint]')
    page.fill("#target-name", "hand")
    page.select_option("#wire", "warm.mask")
    start, end = page.evaluate("mg.toClient(50, 75)"), page.evaluate("mg.toClient(170, 75)")
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(start[0] + (end[0] - start[0]) * step / 10, start[1])
    page.mouse.up()
    screenshot(page, "serve_paint.png")
    page.click("#paint-save")
    page.wait_for_function("() => document.getElementById('diff').dataset.count === '1'")
    mask = cv2.imread(str(folder / "masks" / "hand.png"), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.ndim == 2 and mask.shape == (150, 226)
    assert mask[75, 110] == 255 and mask[75, 5] == 0 and mask[5, 110] == 0
    document = YAML(typ="safe").load((folder / "g.yaml").read_text())
    assert document["nodes"]["hand"] == {"type": "read_mask", "path": "masks/hand.png"}
    assert document["nodes"]["warm"]["mask"] == "hand"
    page.wait_for_function("() => mg.state.nodes.hand && mg.state.nodes.hand.kind === 'mask'")
    # a second stroke (subtract) changes the existing file
    before = mask.copy()
    page.locator('.card[data-node="hand"]').click()
    page.check('input[name=tool][value=paint]')
    page.wait_for_function("() => mg.paint && mg.paint.name === 'hand' && mg.paint.ready")
    page.check('input[name=brush-mode][value=subtract]')
    centre = page.evaluate("mg.toClient(110, 75)")
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] + 1, centre[1])
    page.mouse.up()
    page.click("#paint-save")
    page.wait_for_function("() => document.getElementById('diff').dataset.count === '2'")
    after = cv2.imread(str(folder / "masks" / "hand.png"), cv2.IMREAD_UNCHANGED)
    assert after[75, 110] == 0 and after[75, 60] == before[75, 60]


ANIMATED = """maskgraph: 1
# roto over a sequence: the head shape is keyed at 1 and 24
nodes:
  plate: {type: read, path: plate.png}
  head:
    type: spline
    like: plate
    feather: 2
    points:
      keys:
        1:  [[60, 20], [160, 25], [170, 110], [118, 140], [50, 105]]
        24: [[80, 30], [180, 35], [190, 120], [138, 145], [70, 115]]
  lifted: {type: exposure, input: plate, stops: 1.0, mask: head}
"""


def test_frame_slider_wipe_and_a_spline_key_at_the_current_frame(browser, tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    cv2.imwrite(str(tmp_path / "plate.png"), skimage_data.chelsea()[::2, ::2, ::-1])
    (tmp_path / "g.yaml").write_text(ANIMATED)
    app = App(str(tmp_path / "g.yaml"), frames=(1, 24))
    server = make_server(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.start()
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    try:
        tab = context.new_page()
        tab.goto(url(server, app))
        wait_all_thumbnails(tab)
        assert tab.locator("#frame-box").is_visible()
        version = tab.evaluate("mg.state.nodes.head.version")
        tab.evaluate("() => { const s = document.getElementById('frame'); s.value = 12;"
                     " s.dispatchEvent(new Event('change')); }")
        tab.wait_for_function(f"() => mg.state.frame === 12 && mg.state.nodes.head.version > {version}")
        assert tab.evaluate("mg.state.nodes.plate.version") == 1   # the plate did not change
        tab.locator('.card[data-node="lifted"]').click()
        tab.locator('.card[data-node="plate"]').click(modifiers=["Shift"])
        tab.wait_for_function("() => document.getElementById('viewer-caption').textContent.includes('B: plate')")
        screenshot(tab, "serve_wipe.png")
        tab.locator('.card[data-node="head"]').click()
        tab.check('input[name=tool][value=spline]')
        assert tab.input_value("#target-name") == "head" and tab.is_checked("#key")
        start = tab.evaluate("mg.shape.points[0]")
        source = tab.evaluate(f"mg.toClient({start[0]}, {start[1]})")
        target = tab.evaluate(f"mg.toClient({start[0] - 10}, {start[1] + 6})")
        tab.mouse.move(*source)
        tab.mouse.down()
        tab.mouse.move(*target, steps=4)
        tab.mouse.up()
        screenshot(tab, "serve_spline.png")
        tab.click("#shape-save")
        tab.wait_for_function("() => document.getElementById('diff').dataset.count === '1'")
        text = (tmp_path / "g.yaml").read_text()
        assert "# roto over a sequence" in text
        keys = YAML(typ="safe").load(text)["nodes"]["head"]["points"]["keys"]
        assert sorted(keys) == [1, 12, 24]
        assert keys[12][0] == pytest.approx([start[0] - 10, start[1] + 6], abs=0.05)
        assert keys[1][0] == [60, 20]
        assert "handles" not in YAML(typ="safe").load(text)["nodes"]["head"]  # still automatic
        tab.wait_for_function("() => mg.state.nodes.head.shape.keys.includes(12)")
    finally:
        context.close()
        server.shutdown()
        server.server_close()
        app.stop()
