// maskgraph serve: the live page. Plain JavaScript, no build step.
// State arrives as server-sent events; pictures are URLs (PNG made on request, cached by
// node version); shapes and paint are posted back and written into the graph file.
"use strict";
const TOKEN = document.body.dataset.token;
const $ = (id) => document.getElementById(id);
const mg = window.mg = {state: null, a: null, b: "", tool: "view", shape: null,
                        view: {scale: 1, x: 0, y: 0, fitted: false}, images: {}};

function withToken(url) { return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN); }
function pictureUrl(name, kind) {
  const node = mg.state.nodes[name];
  return withToken(`/img/${encodeURIComponent(name)}?kind=${kind}&v=${node.version}&f=${mg.state.frame}`);
}
async function post(url, body, type) {
  const response = await fetch(withToken(url), {method: "POST", body,
    headers: {"Content-Type": type || "application/json"}});
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

// ------------------------------------------------------------------ state
const events = new EventSource(withToken("/events"));
events.addEventListener("state", (event) => apply(JSON.parse(event.data)));
events.addEventListener("progress", (event) => {
  const step = JSON.parse(event.data);
  $("status").textContent = `evaluating: ${step.node} ${step.status} (${step.done}/${step.total})`;
});
events.onerror = () => { $("status").textContent = "disconnected: is maskgraph serve running?"; };

function apply(state) {
  if (state.serial === 0) {  // nothing evaluated yet (a first run compiles the kernels)
    $("status").textContent = "evaluating the graph...";
    return;
  }
  const previous = mg.state;
  mg.state = state;
  $("title").textContent = state.graph_file;
  const count = Object.keys(state.nodes).length;
  const computed = Object.values(state.nodes).filter((n) => n.status === "computed").length;
  $("status").textContent = `${count} nodes · ${computed} computed · ${(state.seconds * 1000).toFixed(0)} ms`;
  showError(state.error);
  setupFrames(state);
  if (!mg.a || !state.nodes[mg.a]) mg.a = firstViewable(state);
  if (mg.b && !state.nodes[mg.b]) mg.b = "";
  // the viewer's picture first: thumbnails are asked for once it has arrived
  const waiting = loadViewer();
  const layoutChanged = !previous || JSON.stringify(previous.layout) !== JSON.stringify(state.layout);
  if (layoutChanged) buildGraph(state); else if (waiting) mg.cardsAfterViewer = true; else updateCards(state);
  fillSelects(state);
  markSelection();
  document.body.dataset.serial = state.serial;
}

function showError(error) {
  const box = $("error");
  box.hidden = !error;
  if (!error) return;
  const lines = error.problems.length ? error.problems.map((p) => p.text) : [error.message];
  box.textContent = "The graph file has a problem; showing the last good results.\n" + lines.join("\n");
}

function setupFrames(state) {
  const [first, last] = state.frames;
  const slider = $("frame");
  slider.min = first; slider.max = last;
  $("frame-box").hidden = first === last;
  if (document.activeElement !== slider) slider.value = state.frame;
  $("frame-value").textContent = state.frame;
}
$("frame").addEventListener("input", () => { $("frame-value").textContent = $("frame").value; });
$("frame").addEventListener("change", () => post("/api/frame", JSON.stringify({frame: Number($("frame").value)})));

function firstViewable(state) {
  const names = Object.keys(state.nodes).filter((n) => state.nodes[n].kind);
  const sinks = names.filter((n) => state.nodes[n].sink);
  return sinks[sinks.length - 1] || names[names.length - 1] || null;
}

// ------------------------------------------------------------------ graph panel
function buildGraph(state) {
  const box = $("graph");
  box.querySelectorAll(".card").forEach((card) => card.remove());
  const layout = state.layout;
  box.style.width = layout.width + "px";
  box.style.height = layout.height + "px";
  fitGraph();
  const svg = $("edges");
  svg.setAttribute("width", layout.width);
  svg.setAttribute("height", layout.height);
  let markup = "";
  for (const edge of layout.edges) {
    const end = edge.points[edge.points.length - 1];
    markup += `<path data-from="${esc(edge.from)}" data-to="${esc(edge.to)}" d="${edge.d}"/>`;
    markup += `<circle cx="${end[0]}" cy="${end[1]}" r="3"/>`;
    markup += `<text x="${end[0] - 5}" y="${end[1] - 4}" text-anchor="end">${esc(edge.port)}</text>`;
  }
  svg.innerHTML = markup;
  for (const [name, place] of Object.entries(layout.cards)) {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.node = name;
    card.style.cssText = `left:${place.x}px;top:${place.y}px;width:${place.w}px;height:${place.h}px`;
    card.innerHTML = `<div class="thumb-box"></div><h3></h3><div class="meta type"></div>
      <div class="meta stat"></div><div class="failure"></div>`;
    card.querySelector("h3").textContent = name;
    card.addEventListener("click", (event) => choose(name, event.shiftKey || event.altKey));
    box.appendChild(card);
  }
  updateCards(state);
}

function fitGraph() {
  // shrink the drawing (down to 70%) so that a graph a little larger than the panel fits
  if (!mg.state) return;
  const panel = $("graph-box"), layout = mg.state.layout;
  const scale = Math.min(1, panel.clientWidth / layout.width, panel.clientHeight / layout.height);
  $("graph").style.zoom = Math.max(0.7, scale);
}
window.addEventListener("resize", fitGraph);

function updateCards(state) {
  for (const card of document.querySelectorAll("#graph .card")) {
    const name = card.dataset.node, node = state.nodes[name];
    if (!node) continue;
    const problem = state.error && state.error.problems.find((p) => p.node === name);
    card.classList.toggle("failed", Boolean(node.failure || problem));
    card.classList.toggle("disabled", node.disabled);
    card.querySelector(".type").textContent = node.type + (node.line ? ` · line ${node.line}` : "") +
      (node.coverage !== undefined ? ` · ${node.coverage.toFixed(1)}%` : "");
    const stat = card.querySelector(".stat");
    stat.className = "meta stat " + node.status;
    stat.textContent = node.status + (node.seconds !== null ? ` · ${(node.seconds * 1000).toFixed(1)} ms` : "") +
      (node.reason ? ` · ${node.reason.detail}` : "");
    stat.title = stat.textContent;
    card.querySelector(".failure").textContent = problem ? problem.message : node.failure ? node.failure.message : "";
    card.title = node.failure ? (node.failure.text || node.failure.message) : `${name} (${node.type})`;
    const thumbBox = card.querySelector(".thumb-box");
    if (!node.kind) { thumbBox.innerHTML = ""; continue; }
    const kind = node.kind === "mask" && $("overlay").checked ? "overlay_thumb" : "thumb";
    const url = pictureUrl(name, kind);
    let img = thumbBox.querySelector("img");
    if (!img) { img = document.createElement("img"); img.className = "thumb"; img.alt = name; thumbBox.appendChild(img); }
    if (img.getAttribute("src") !== url) img.src = url;
    img.dataset.version = node.version;
  }
}

function esc(text) { return String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }

function fillSelects(state) {
  const names = Object.keys(state.nodes).filter((n) => state.nodes[n].kind);
  for (const [id, blank] of [["view-a", null], ["view-b", "(none)"]]) {
    const select = $(id), keep = select.value;
    select.innerHTML = (blank ? `<option value="">${blank}</option>` : "") +
      names.map((n) => `<option>${esc(n)}</option>`).join("");
    select.value = keep;
  }
  const wire = $("wire"), keep = wire.value;
  const ports = [];
  for (const [name, node] of Object.entries(state.nodes)) for (const port of node.mask_inputs) ports.push(`${name}.${port}`);
  wire.innerHTML = `<option value="">(nothing)</option>` + ports.map((p) => `<option>${esc(p)}</option>`).join("");
  wire.value = keep;
}
$("view-a").addEventListener("change", () => choose($("view-a").value, false));
$("view-b").addEventListener("change", () => { mg.b = $("view-b").value; markSelection(); loadViewer(); });
$("overlay").addEventListener("change", () => { updateCards(mg.state); loadViewer(); });

function choose(name, asB) {
  const size = String(imageSize());
  if (asB) mg.b = mg.b === name ? "" : name; else { mg.a = name; startTool(); }
  if (String(imageSize()) !== size) mg.view.fitted = false;  // another size: fit it again
  markSelection();
  loadViewer();
}
function markSelection() {
  $("view-a").value = mg.a || "";
  $("view-b").value = mg.b || "";
  for (const card of document.querySelectorAll("#graph .card")) {
    card.classList.toggle("a", card.dataset.node === mg.a);
    card.classList.toggle("b", card.dataset.node === mg.b);
  }
  for (const path of document.querySelectorAll("#edges path"))
    path.classList.toggle("active", path.dataset.to === mg.a || path.dataset.from === mg.a);
}

// ------------------------------------------------------------------ viewer
const canvas = $("viewer"), ctx = canvas.getContext("2d");

function loadPicture(name) {
  if (!name || !mg.state.nodes[name] || !mg.state.nodes[name].kind) return null;
  const node = mg.state.nodes[name];
  const kind = node.kind === "mask" && $("overlay").checked ? "overlay" : "image";
  const url = pictureUrl(name, kind);
  const cached = mg.images[name];
  if (cached && cached.url === url) return cached.img;
  const img = new Image();
  img.onload = img.onerror = () => {
    if (mg.cardsAfterViewer) { mg.cardsAfterViewer = false; updateCards(mg.state); }
    if (mg.images[name] && mg.images[name].img === img) { draw(); markLoaded(); }
  };
  img.src = url;
  mg.images[name] = {url, img};
  return img;
}
function markLoaded() {
  const a = mg.images[mg.a];
  if (a && a.img.complete && a.img.naturalWidth) canvas.dataset.loaded = `${mg.a}:${mg.state.nodes[mg.a].version}`;
}
function loadViewer() {
  const img = loadPicture(mg.a);
  loadPicture(mg.b);
  if (img && img.complete) { draw(); markLoaded(); } else draw();
  return Boolean(img && !img.complete);
}
function resize() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * ratio);
  canvas.height = Math.round(canvas.clientHeight * ratio);
  if (!mg.view.fitted) fit();
  draw();
}
function imageSize() {
  const node = mg.a && mg.state && mg.state.nodes[mg.a];
  return node && node.size ? node.size : [1, 1];
}
function fit() {
  const [w, h] = imageSize();
  if (!canvas.clientWidth) return;
  const scale = Math.min(canvas.clientWidth / w, canvas.clientHeight / h) * 0.96;
  mg.view = {scale, x: (canvas.clientWidth - w * scale) / 2, y: (canvas.clientHeight - h * scale) / 2,
             fitted: Boolean(mg.state && mg.a)};
  draw();
}
function oneToOne() {
  const [w, h] = imageSize();
  mg.view = {scale: 1, x: (canvas.clientWidth - w) / 2, y: (canvas.clientHeight - h) / 2, fitted: true};
  draw();
}
$("fit").addEventListener("click", fit);
$("one").addEventListener("click", oneToOne);
window.addEventListener("resize", resize);

// image <-> page coordinates (tests use toClient to click at image positions)
mg.toClient = (x, y) => { const r = canvas.getBoundingClientRect();
  return [r.left + mg.view.x + x * mg.view.scale, r.top + mg.view.y + y * mg.view.scale]; };
mg.toImage = (clientX, clientY) => { const r = canvas.getBoundingClientRect();
  return [(clientX - r.left - mg.view.x) / mg.view.scale, (clientY - r.top - mg.view.y) / mg.view.scale]; };

function draw() {
  if (!mg.state) return;
  if (!mg.view.fitted && mg.a) fit();
  const ratio = window.devicePixelRatio || 1, v = mg.view;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(ratio * v.scale, 0, 0, ratio * v.scale, ratio * v.x, ratio * v.y);
  ctx.imageSmoothingEnabled = v.scale < 1;
  const a = mg.images[mg.a], b = mg.b && mg.images[mg.b];
  if (a && a.img.complete && a.img.naturalWidth) ctx.drawImage(a.img, 0, 0);
  const [w, h] = imageSize();
  if (b && b.img.complete && b.img.naturalWidth) {
    const split = Number($("wipe").value) * w;
    ctx.save(); ctx.beginPath(); ctx.rect(split, 0, w - split + 1e6, h + 1e6); ctx.clip();
    ctx.drawImage(b.img, 0, 0); ctx.restore();
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const [sx] = [v.x + split * v.scale];
    ctx.strokeStyle = "#60b0f0"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(sx, v.y); ctx.lineTo(sx, v.y + h * v.scale); ctx.stroke();
  }
  ctx.setTransform(ratio * v.scale, 0, 0, ratio * v.scale, ratio * v.x, ratio * v.y);
  if (mg.tool === "paint" && mg.paint) { ctx.globalAlpha = 0.6; ctx.drawImage(mg.paint.canvas, 0, 0); ctx.globalAlpha = 1; }
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  if (mg.shape && (mg.tool === "polygon" || mg.tool === "spline")) drawShape(mg.shape);
  const node = mg.a && mg.state.nodes[mg.a];
  $("viewer-caption").textContent = node ? `A: ${mg.a} (${node.type})` + (node.size ? ` ${node.size[0]}x${node.size[1]}` : "") +
    (mg.b ? `  |  B: ${mg.b}` : "") + `  ·  ${(mg.view.scale * 100).toFixed(0)}%` : "";
}
$("wipe").addEventListener("input", draw);

// ------------------------------------------------------------------ shapes
function screen(p) { return [mg.view.x + p[0] * mg.view.scale, mg.view.y + p[1] * mg.view.scale]; }

function autoHandles(shape) {
  // Catmull-Rom tangents (closed), as the spline node's automatic handles; manual ones stay
  const p = shape.points, n = p.length;
  if (!shape.handles) shape.handles = [];
  for (let i = 0; i < n; i++) {
    if (shape.manual[i]) continue;
    const prev = p[(i - 1 + n) % n], next = p[(i + 1) % n];
    const tx = (next[0] - prev[0]) / 6, ty = (next[1] - prev[1]) / 6;
    shape.handles[2 * i] = [p[i][0] - tx, p[i][1] - ty];
    shape.handles[2 * i + 1] = [p[i][0] + tx, p[i][1] + ty];
  }
  shape.handles.length = 2 * n;
}

function drawShape(shape) {
  const p = shape.points.map(screen);
  if (!p.length) return;
  ctx.lineWidth = 1.5; ctx.strokeStyle = "#ffd040"; ctx.fillStyle = "rgba(255,208,64,0.15)";
  ctx.beginPath(); ctx.moveTo(p[0][0], p[0][1]);
  if (shape.type === "spline" && p.length > 1) {
    const h = shape.handles.map(screen);
    for (let i = 0; i < p.length; i++) {
      const j = (i + 1) % p.length;
      ctx.bezierCurveTo(h[2 * i + 1][0], h[2 * i + 1][1], h[2 * j][0], h[2 * j][1], p[j][0], p[j][1]);
    }
  } else { for (const q of p.slice(1)) ctx.lineTo(q[0], q[1]); ctx.closePath(); }
  ctx.fill(); ctx.stroke();
  if (shape.type === "spline") {
    const h = shape.handles.map(screen);
    ctx.strokeStyle = "#80c0ff"; ctx.fillStyle = "#80c0ff";
    for (let i = 0; i < p.length; i++) for (const k of [2 * i, 2 * i + 1]) {
      ctx.beginPath(); ctx.moveTo(p[i][0], p[i][1]); ctx.lineTo(h[k][0], h[k][1]); ctx.stroke();
      ctx.beginPath(); ctx.arc(h[k][0], h[k][1], 3, 0, 7); ctx.fill();
    }
  }
  ctx.fillStyle = "#ffd040";
  for (const q of p) ctx.fillRect(q[0] - 3.5, q[1] - 3.5, 7, 7);
}

function hit(shape, clientX, clientY) {
  const r = canvas.getBoundingClientRect(), x = clientX - r.left, y = clientY - r.top;
  const near = (q) => { const s = screen(q); return Math.hypot(s[0] - x, s[1] - y) <= 6; };
  for (let i = 0; i < shape.points.length; i++) if (near(shape.points[i])) return {kind: "point", i};
  if (shape.type === "spline") for (let k = 0; k < shape.handles.length; k++)
    if (near(shape.handles[k])) return {kind: "handle", i: k};
  return null;
}

function uniqueName(base) {
  let i = 1;
  while (mg.state.nodes[base + i]) i++;
  return base + i;
}

function startTool() {
  const node = mg.a && mg.state.nodes[mg.a];
  canvas.classList.toggle("drawing", mg.tool !== "view");
  $("shape-tools").hidden = !(mg.tool === "polygon" || mg.tool === "spline");
  $("paint-tools").hidden = mg.tool !== "paint";
  $("help").textContent = {view: "Drag to pan, wheel to zoom. Click a card to view it (shift-click: B for the wipe).",
    polygon: "Click to add points, drag a point to move it, Backspace removes the last. Right-drag pans.",
    spline: "Click to add anchors; drag anchors or their handles; Backspace removes the last. Right-drag pans.",
    paint: "Drag to paint. Right-drag pans."}[mg.tool];
  if (mg.tool === "polygon" || mg.tool === "spline") {
    if (node && node.shape && node.type === mg.tool) {
      const s = node.shape;
      mg.shape = {type: node.type, name: mg.a, points: s.points.map((p) => p.slice()),
                  handles: s.handles ? s.handles.map((p) => p.slice()) : null, manual: s.points.map(() => Boolean(s.handles)),
                  explicit: Boolean(s.handles)};
      $("target-name").value = mg.a;
      $("key").checked = s.animated;
    } else if (!mg.shape || mg.shape.type !== mg.tool) {
      mg.shape = {type: mg.tool, points: [], handles: [], manual: []};
      $("target-name").value = uniqueName("roto");
    }
    if (mg.shape.type === "spline") autoHandles(mg.shape);
  } else if (mg.tool === "paint") startPaint(node);
  draw();
}
for (const radio of document.querySelectorAll("input[name=tool]"))
  radio.addEventListener("change", () => { mg.tool = radio.value; mg.shape = null; startTool(); });
document.addEventListener("keydown", (event) => {  // Backspace / Delete: remove the last point
  if (!mg.shape || !["Backspace", "Delete"].includes(event.key) || event.target.tagName === "INPUT") return;
  if (mg.tool !== "polygon" && mg.tool !== "spline") return;
  mg.shape.points.pop(); mg.shape.manual.pop();
  if (mg.shape.type === "spline") autoHandles(mg.shape);
  draw();
});
$("shape-clear").addEventListener("click", () => { if (mg.shape) { mg.shape.points = []; mg.shape.handles = []; mg.shape.manual = []; draw(); } });

$("shape-save").addEventListener("click", async () => {
  const shape = mg.shape;
  if (!shape) return;
  const like = likeNode();
  const request = {name: $("target-name").value, type: shape.type, frame: mg.state.frame,
                   key: $("key").checked, like, wire: $("wire").value || null,
                   points: shape.points, handles: null};
  // automatic handles stay automatic in the file (they follow the points on every frame)
  if (shape.type === "spline" && (shape.explicit || shape.manual.some(Boolean))) request.handles = shape.handles;
  await saved(post("/api/shape", JSON.stringify(request)));
});

function likeNode() {
  // a new node's canvas copies the size of what is being viewed (an existing one keeps its own)
  const name = $("target-name").value;
  if (mg.state.nodes[name] || !mg.a) return null;
  return mg.a;
}

async function saved(promise) {
  try {
    const answer = await promise;
    showDiff(answer.diff || "(the graph file did not change)");
  } catch (error) { showDiff("not saved: " + error.message); }
}
function showDiff(text) {
  $("diff").innerHTML = text.split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
    return `<span class="${cls}">${esc(line)}</span>`;
  }).join("\n");
  $("diff").dataset.count = String(Number($("diff").dataset.count || 0) + 1);
}

// ------------------------------------------------------------------ paint
function startPaint(node) {
  const [w, h] = imageSize();
  const layer = document.createElement("canvas");
  layer.width = w; layer.height = h;
  mg.paint = {canvas: layer, ctx: layer.getContext("2d"), name: null, ready: true};
  if (node && node.type === "read_mask") {
    mg.paint.name = mg.a;
    mg.paint.ready = false;
    $("target-name").value = mg.a;
    const source = new Image();
    source.onload = () => {  // the mask's grey values become the layer's alpha
      const temp = document.createElement("canvas"); temp.width = w; temp.height = h;
      const t = temp.getContext("2d"); t.drawImage(source, 0, 0);
      const pixels = t.getImageData(0, 0, w, h);
      for (let i = 0; i < pixels.data.length; i += 4) {
        pixels.data[i + 3] = pixels.data[i]; pixels.data[i] = 255; pixels.data[i + 1] = 0; pixels.data[i + 2] = 0;
      }
      mg.paint.ctx.putImageData(pixels, 0, 0); mg.paint.ready = true; draw();
    };
    source.src = pictureUrl(mg.a, "image");
  } else $("target-name").value = uniqueName("paint");
}

function stamp(x, y) {
  const size = Number($("brush-size").value) / 2, hard = Number($("brush-hardness").value);
  const p = mg.paint.ctx, subtract = document.querySelector("input[name=brush-mode]:checked").value === "subtract";
  const gradient = p.createRadialGradient(x, y, 0, x, y, size);
  gradient.addColorStop(0, "rgba(255,0,0,1)");
  gradient.addColorStop(Math.min(hard, 0.999), "rgba(255,0,0,1)");
  gradient.addColorStop(1, "rgba(255,0,0,0)");
  p.globalCompositeOperation = subtract ? "destination-out" : "source-over";
  p.fillStyle = gradient;
  p.beginPath(); p.arc(x, y, size, 0, 7); p.fill();
}
function strokeTo(point) {
  const last = mg.paint.last || point, spacing = Math.max(1, Number($("brush-size").value) * 0.1);
  const steps = Math.max(1, Math.ceil(Math.hypot(point[0] - last[0], point[1] - last[1]) / spacing));
  for (let i = 1; i <= steps; i++) stamp(last[0] + (point[0] - last[0]) * i / steps, last[1] + (point[1] - last[1]) * i / steps);
  mg.paint.last = point;
  draw();
}
$("brush-size").addEventListener("input", () => { $("brush-size-value").textContent = $("brush-size").value; });

$("paint-save").addEventListener("click", () => {
  if (!mg.paint) return;
  const name = $("target-name").value, like = likeNode();
  mg.paint.canvas.toBlob((blob) => {
    const query = `/api/paint?name=${encodeURIComponent(name)}` + (like ? `&like=${encodeURIComponent(like)}` : "") +
      ($("wire").value ? `&wire=${encodeURIComponent($("wire").value)}` : "");
    saved(post(query, blob, "image/png"));
  }, "image/png");
});

// ------------------------------------------------------------------ pointer
let drag = null;
canvas.addEventListener("contextmenu", (event) => event.preventDefault());
canvas.addEventListener("pointerdown", (event) => {
  canvas.setPointerCapture(event.pointerId);
  const pan = mg.tool === "view" || event.button !== 0;
  if (pan) { drag = {kind: "pan", x: event.clientX, y: event.clientY, vx: mg.view.x, vy: mg.view.y}; return; }
  const point = mg.toImage(event.clientX, event.clientY);
  if (mg.tool === "paint") { mg.paint.last = null; strokeTo(point); drag = {kind: "paint"}; return; }
  const shape = mg.shape, found = hit(shape, event.clientX, event.clientY);
  if (found) { drag = found; return; }
  shape.points.push(point); shape.manual.push(false);
  if (shape.type === "spline") autoHandles(shape);
  drag = {kind: "point", i: shape.points.length - 1};
  draw();
});
canvas.addEventListener("pointermove", (event) => {
  if (!drag) return;
  if (drag.kind === "pan") {
    mg.view.x = drag.vx + event.clientX - drag.x; mg.view.y = drag.vy + event.clientY - drag.y; draw(); return;
  }
  const point = mg.toImage(event.clientX, event.clientY);
  if (drag.kind === "paint") return strokeTo(point);
  const shape = mg.shape;
  if (drag.kind === "point") {
    const old = shape.points[drag.i], dx = point[0] - old[0], dy = point[1] - old[1];
    shape.points[drag.i] = point;
    if (shape.type === "spline") {
      for (const k of [2 * drag.i, 2 * drag.i + 1]) shape.handles[k] = [shape.handles[k][0] + dx, shape.handles[k][1] + dy];
      autoHandles(shape);
    }
  } else if (drag.kind === "handle") { shape.handles[drag.i] = point; shape.manual[drag.i >> 1] = true; }
  draw();
});
canvas.addEventListener("pointerup", () => { drag = null; if (mg.paint) mg.paint.last = null; });
canvas.addEventListener("wheel", (event) => {
  event.preventDefault();
  const r = canvas.getBoundingClientRect(), x = event.clientX - r.left, y = event.clientY - r.top;
  const factor = Math.exp(-event.deltaY * 0.0015), v = mg.view;
  v.x = x - (x - v.x) * factor; v.y = y - (y - v.y) * factor; v.scale *= factor;
  loadViewer();
}, {passive: false});

startTool();
resize();
