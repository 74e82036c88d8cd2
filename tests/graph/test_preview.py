"""The preview page: content from Python, and rendering and clicking in a real browser."""
import json
import os
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

import graph
from graph.preview import write_preview

GRAPH = """maskgraph: 1
nodes:
  plate: {type: read, path: plate.png}
  bg: {type: constant, like: plate, color: [0.1, 0.3, 0.8, 1.0]}
  alpha: {type: read_mask, path: matte.png}
  out: {type: write, input: plate, path: out/never_written.png}
"""

# Test code injected into a copy of the page: checks every image and the click-to-enlarge.
CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  const images = Array.from(document.querySelectorAll(".thumb img"));
  const report = {count: images.length,
                  rendered: images.filter(i => i.complete && i.naturalWidth > 0).length};
  images[0].closest(".thumb").click();
  const viewerImage = document.getElementById("viewer-image");
  viewerImage.decode().then(function () {
    report.viewerOpen = getComputedStyle(document.getElementById("viewer")).display !== "none";
    report.viewerWidth = viewerImage.naturalWidth;
    const out = document.createElement("pre");
    out.id = "check-result";
    out.textContent = JSON.stringify(report);
    document.body.appendChild(out);
  });
});
</script>"""


@pytest.fixture
def report(tmp_path, monkeypatch):
    skimage_data = pytest.importorskip("skimage.data")
    cv2.imwrite(str(tmp_path / "plate.png"), skimage_data.chelsea()[::2, ::2, ::-1])
    matte = np.zeros((150, 226), np.uint8)
    cv2.circle(matte, (110, 75), 50, 255, -1)
    cv2.imwrite(str(tmp_path / "matte.png"), matte)
    (tmp_path / "g.yaml").write_text(GRAPH)
    monkeypatch.chdir(tmp_path)
    path = write_preview(graph.load("g.yaml"), str(tmp_path / "report.html"))
    return tmp_path, open(path, encoding="utf-8").read()


def test_page_is_self_contained_with_a_card_per_node(report):
    folder, page = report
    assert page.count('class="card') == 4
    assert "http://" not in page and "https://" not in page
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/(png|jpeg);base64,', page)) == 5
    matte = cv2.imread(str(folder / "matte.png"), cv2.IMREAD_GRAYSCALE)
    assert f"{matte.mean() / 255 * 100:.1f}% covered" in page
    assert not (folder / "out" / "never_written.png").exists()
    assert len(page) < 200_000  # thumbnails inline, full-size pictures beside the page
    full = re.findall(r'data-full="([^"]+)"', page)
    assert len(full) == 5 and all((folder / name).is_file() for name in full)
    assert cv2.imread(str(folder / full[0])).shape[:2] == (150, 226)


def test_a_failing_node_still_gets_a_page(tmp_path, monkeypatch):
    skimage_data = pytest.importorskip("skimage.data")
    cv2.imwrite(str(tmp_path / "plate.png"), skimage_data.chelsea()[::2, ::2, ::-1])
    (tmp_path / "g.yaml").write_text(GRAPH.replace("matte.png}", "plate.png, channel: alpha}"))
    monkeypatch.chdir(tmp_path)
    page = open(write_preview(graph.load("g.yaml"), str(tmp_path / "r.html")), encoding="utf-8").read()
    assert 'class="card failed" id="node-alpha"' in page
    assert "has no alpha channel" in page
    assert page.count('<img alt=') == 3  # plate, bg and the sink showing plate


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(find_chromium() is None,
                    reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
def test_every_image_renders_and_a_click_opens_the_full_size_view_in_chromium(report):
    folder, page = report
    checked = folder / "checked.html"
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    command = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={folder / 'profile'}", "--virtual-time-budget=10000",
               "--dump-dom", checked.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="check-result">(.*?)</pre>', dom)
    assert found, f"the check script did not report; DOM tail: {dom[-500:]}"
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result["count"] == 5 and result["rendered"] == 5
    assert result["viewerOpen"] is True and result["viewerWidth"] == 226
