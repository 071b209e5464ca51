// Live latent planes: hover, drag, touch or walk (arrow keys) over any model's plane, and every shown model
// decodes in the page, with ONNX Runtime Web running the decoders the server exported (explorer/onnx_export.py).
//
// The server (explorer/live.py) sends a small JSON view: per model its plane's extent and picture, its test
// codes, how a plane point maps to its latent, and its decoder's URL. This module draws the axes, the
// crosshairs and the moving point, decodes, and asks the server for nothing while the pointer moves. A click,
// a drag's release, a tap or a walk pins the point: the page then tells the server (the `pin` event) so the
// other tabs and the API use it. Every rule here mirrors one in explorer/actions.py (the link between models,
// "outside the codes", the plane -> latent map); tests/test_live_plane.py compares them with the server's.

const MARGIN = { left: 44, right: 6, top: 8, bottom: 40 }; // px around a plane's data rectangle
const WALK = 0.02; // an arrow key moves the point by this share of the plane's width (Shift: 5 times more)
const PIN_DELAY = 350; // ms after the last arrow key before the walked point is pinned
const TILE = 112; // px of a decoded digit on screen (28 x 4)
const STATS = 400; // pointer moves whose repaint time is kept (window.latentExplorer.stats())

// -- plane geometry and the rules shared with the server -----------------------------------------------------
export function ticks(lo, hi, n = 5) {
  // a 1-2-2.5-5 step, about n ticks
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((s) => s * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickText(v) {
  return String(Number(v.toPrecision(6))).replace("-", "\u2212");
}

export function nearest(xy, x, y) {
  // actions.nearest over float32 plane points (N*2): the index of the closest
  let best = 0;
  let bestD = Infinity;
  const fx = Math.fround(x);
  const fy = Math.fround(y);
  for (let i = 0, n = xy.length / 2; i < n; i++) {
    const dx = Math.fround(xy[2 * i] - fx);
    const dy = Math.fround(xy[2 * i + 1] - fy);
    const d = Math.fround(Math.fround(dx * dx) + Math.fround(dy * dy));
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return { index: best, d2: bestD };
}

export function inverse(model, x, y) {
  // view.inverse.inverse_transform of one point: identity, PCA basis or the UMAP grid (bilinear)
  const inv = model.inverse;
  const d = model.latent_dim;
  const z = new Float32Array(d);
  if (inv.kind === "identity") {
    const p = [Math.fround(x), Math.fround(y)];
    for (let j = 0; j < d; j++) z[j] = p[j];
  } else if (inv.kind === "pca") {
    for (let j = 0; j < d; j++) z[j] = x * inv.components[0][j] + y * inv.components[1][j] + inv.mean[j];
  } else {
    const g = model.arrays.grid;
    const r = model.arraysShape.grid[0];
    const [xmin, xmax, ymin, ymax] = inv.extent;
    const clip = (v) => Math.min(Math.max(v, 0), r - 1);
    const fx = clip(((x - xmin) / (xmax - xmin)) * (r - 1));
    const fy = clip(((y - ymin) / (ymax - ymin)) * (r - 1));
    const x0 = Math.min(Math.trunc(fx), r - 2);
    const y0 = Math.min(Math.trunc(fy), r - 2);
    const tx = fx - x0;
    const ty = fy - y0;
    const at = (row, col, j) => g[(row * r + col) * d + j];
    for (let j = 0; j < d; j++) {
      const top = at(y0, x0, j) * (1 - tx) + at(y0, x0 + 1, j) * tx;
      const bottom = at(y0 + 1, x0, j) * (1 - tx) + at(y0 + 1, x0 + 1, j) * tx;
      z[j] = top * (1 - ty) + bottom * ty;
    }
  }
  return z;
}

function isOutside(model, x, y) {
  // actions.is_outside: farther from every test code than the plane's radius
  const r = Math.fround(model.radius);
  return nearest(model.arrays.xy, x, y).d2 > Math.fround(r * r);
}

function conditionalLabel(model, x, y, label) {
  // actions.conditional_label: the chosen digit, or ("auto") the digit of the nearest test point
  if (!model.conditional) return null;
  const of = model.arrays.label_of || model.arrays.labels; // a clustered AAE's test digits: their clusters
  if (label === "auto" || label === null || label === undefined || label === "" || !(Number(label) >= 0 &&
      Number(label) < model.num_classes)) {
    return of[nearest(model.arrays.xy, x, y).index];
  }
  return Number(label);
}

export function linkTargets(models, clicked, px, py, link, label) {
  // actions.click_targets: what every model decodes for point (x, y) of model `clicked`'s plane (a float32
  // point, as the server takes it)
  const x = Math.fround(px);
  const y = Math.fround(py);
  const source = models[clicked];
  const near = nearest(source.arrays.xy, x, y).index;
  return models.map((m, k) => {
    const sameZ = link === "same z" && source.scale !== null && m.scale === source.scale;
    let point;
    let z;
    let how;
    if (k === clicked || sameZ) {
      point = [Math.fround(x), Math.fround(y)];
      z = inverse(m, x, y);
      how = k === clicked ? "the point" : `same z (${source.scale})`;
    } else {
      point = [m.arrays.xy[2 * near], m.arrays.xy[2 * near + 1]];
      z = m.arrays.latents.slice(near * m.latent_dim, (near + 1) * m.latent_dim);
      how = `test digit #${near}`;
      if (link === "same z") how += m.view === "latent" ? " (its codes have another scale)" : " (a projected plane)";
    }
    return { point, z, how, near, label: conditionalLabel(m, point[0], point[1], label),
             outside: isOutside(m, point[0], point[1]) };
  });
}

// -- loading ------------------------------------------------------------------------------------------------
const cache = new Map(); // URL -> promise (plane pictures, test codes, decoder sessions): all names are immutable

function once(url, make) {
  if (!cache.has(url)) cache.set(url, make().catch((e) => { cache.delete(url); throw e; }));
  return cache.get(url);
}

function loadImage(url) {
  return once(url, () => new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`could not load ${url}`));
    img.src = url;
  }));
}

async function loadArrays(model) {
  const buffer = await once(model.data, async () => {
    const response = await fetch(model.data);
    if (!response.ok) throw new Error(`${model.data}: HTTP ${response.status}`);
    return response.arrayBuffer();
  });
  const arrays = {};
  const shapes = {};
  for (const [name, a] of Object.entries(model.arrays)) {
    const count = a.shape.reduce((p, v) => p * v, 1);
    arrays[name] = a.dtype === "f32" ? new Float32Array(buffer, a.offset, count) : new Uint8Array(buffer, a.offset, count);
    shapes[name] = a.shape;
  }
  return { arrays, shapes };
}

let ortModule = null;

export async function runtime(base) {
  if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
  if (!ortModule) {
    ortModule = import(`${base}ort.wasm.min.mjs`).then((ort) => {
      ort.env.wasm.wasmPaths = base;
      ort.env.wasm.numThreads = 1; // no cross-origin isolation here; one thread is plenty for these decoders
      ort.env.wasm.proxy = false;
      return ort;
    });
  }
  return ortModule;
}

export function session(ort, url) {
  return once(url, () => ort.InferenceSession.create(url, { executionProviders: ["wasm"] }));
}

// -- the component --------------------------------------------------------------------------------------------
class LivePlanes {
  constructor(element, trigger, tabIds = {}) {
    this.root = element;
    this.trigger = trigger;
    this.tabIds = tabIds; // a tab's label -> its id in a shared link (explorer/ui.py TAB_IDS)
    this.view = null;
    this.models = [];
    this.pinned = null; // {model, x, y}: what the server knows
    this.point = null; // {model, x, y}: what is decoded now (the hover, or the pinned point)
    this.wanted = null;
    this.busy = false;
    this.live = false;
    this.scale = 1;
    this.times = [];
    this.work = [];
    this.verdictTimes = [];
    this.generation = 0;
    this.pinTimer = null;
    this.ellipses = { pointed: true, random: false };
    this.id = Math.random().toString(36).slice(2); // pins count per page (a reload starts again at 1)
    this.build();
    new ResizeObserver(() => this.layout()).observe(this.root);
    document.addEventListener("click", (e) => { // a tab picked: the address bar says which
      if (e.target.closest && e.target.closest("button[role=tab]")) setTimeout(() => this.updateAddress(), 50);
    });
  }

  // -- the view in the address bar, and a link to share it ---------------------------------------------------
  shareQuery() {
    const v = this.view;
    const tab = [...document.querySelectorAll("button[role=tab]")].find((b) => b.getAttribute("aria-selected") === "true");
    const params = new URLSearchParams();
    params.set("models", v.models.map((m) => m.key).join(","));
    const id = tab && this.tabIds[tab.textContent.trim()];
    if (id) params.set("tab", id);
    if (this.pinned) {
      params.set("z", `${this.pinned.x.toFixed(4)},${this.pinned.y.toFixed(4)}`);
      if (this.pinned.model) params.set("plane", String(this.pinned.model));
    }
    params.set("bg", v.background || "none");
    params.set("link", v.link);
    params.set("label", String(v.label));
    return params.toString();
  }

  updateAddress() {
    if (!this.view || !this.view.models) return;
    try {
      history.replaceState(null, "", `${location.pathname}?${this.shareQuery()}`);
    } catch (e) {
      // a sandboxed frame may refuse: the Copy link button still works
    }
  }

  async copyLink(button) {
    this.updateAddress();
    const url = `${location.origin}${location.pathname}?${this.shareQuery()}`;
    try {
      await navigator.clipboard.writeText(url);
      button.textContent = "Link copied";
    } catch (e) { // no clipboard here (an http page): show the link to copy by hand
      window.prompt("Copy this link:", url);
    }
    this.sharedUrl = url;
    setTimeout(() => { button.textContent = "Copy link"; }, 2000);
  }

  build() {
    this.root.innerHTML = "";
    this.box = el("div", "le-live");
    this.status = el("div", "le-status");
    this.status.setAttribute("role", "status");
    const body = el("div", "le-body");
    this.planes = el("div", "le-planes");
    this.strip = el("div", "le-strip");
    this.linkBox = el("div", "le-link");
    this.tiles = el("div", "le-tiles");
    this.strip.append(this.linkBox, this.tiles);
    body.append(this.planes, this.strip);
    this.legend = el("div", "le-legend");
    this.options = el("div", "le-options");
    this.box.append(this.status, body, this.legend, this.options);
    this.root.append(this.box);
  }

  async setView(value) {
    let view;
    try {
      view = typeof value === "string" ? JSON.parse(value || "null") : value;
    } catch (e) {
      return this.say(`Could not read the planes (${e.message}).`, true);
    }
    if (!view || !view.models) return;
    const generation = ++this.generation;
    this.view = view;
    this.pinned = { ...view.pinned };
    this.point = this.pinned;
    this.box.classList.toggle("le-projector", Boolean(view.projector));
    this.scale = view.projector ? 1.35 : 1; // projector mode: text and lines a third bigger
    this.renderLinks();
    this.renderLegend();
    let loaded;
    try {
      loaded = await Promise.all(view.models.map(async (m) => {
        const [{ arrays, shapes }, image] = await Promise.all([loadArrays(m), loadImage(m.layer)]);
        return { ...m, arrays, arraysShape: shapes, image };
      }));
    } catch (e) {
      return this.say(`Could not load the planes (${e.message}). Reload the page.`, true);
    }
    if (generation !== this.generation) return; // a newer view arrived meanwhile
    this.models = loaded;
    this.renderPlanes();
    this.renderTiles();
    this.renderOptions();
    this.layout();
    await this.startDecoders(generation);
    if (generation !== this.generation) return;
    this.request(this.point, performance.now());
    this.updateAddress();
  }

  async startDecoders(generation) {
    const missing = this.models.filter((m) => !m.onnx).map((m) => m.label);
    let reason = "";
    try {
      const ort = await runtime(this.view.ort);
      const sessions = await Promise.all(this.models.map((m) => (m.onnx ? session(ort, m.onnx) : null)));
      this.classifier = this.view.classifier ? await session(ort, this.view.classifier) : null;
      if (generation !== this.generation) return;
      this.ort = ort;
      this.models.forEach((m, k) => { m.session = sessions[k]; });
    } catch (e) {
      reason = e.message || String(e);
    }
    const wasLive = this.live;
    this.live = !reason && missing.length === 0;
    if (reason) {
      this.say(`Live decoding is off in this browser (${reason}): click a plane to decode the point on the server.`, true);
    } else if (missing.length) {
      this.say(`Preparing live decoding for ${missing.join(", ")}; until then a click decodes on the server.`, false);
    } else {
      this.say("", false); // the tab's caption says what to do
    }
    // not live: the server's strip shows the pinned point meanwhile; live again: the server hides its strip
    if (!this.live || !wasLive) this.sendPin();
  }

  say(text, warn) {
    this.status.textContent = text;
    this.status.classList.toggle("le-warn", Boolean(warn));
  }

  // -- DOM -----------------------------------------------------------------------------------------------------
  renderLinks() {
    const v = this.view;
    this.linkBox.innerHTML = "";
    const title = el("span", "le-link-title", "Other models follow:");
    this.linkBox.append(title);
    for (const link of v.links) {
      const b = el("button", "le-link-button", link);
      b.type = "button";
      b.setAttribute("aria-pressed", String(link === v.link));
      b.addEventListener("click", () => {
        if (this.view.link === link) return;
        this.view.link = link;
        this.renderLinks();
        this.request(this.point, performance.now());
        this.sendPin();
      });
      this.linkBox.append(b);
    }
    const copy = el("button", "le-link-button le-copy", "Copy link");
    copy.type = "button";
    copy.title = "a link to this view: the models, the tab, the pinned point, the background, the link, the label";
    copy.addEventListener("click", () => this.copyLink(copy));
    this.linkBox.append(copy);
    const scales = [...new Set(v.models.map((m) => m.scale).filter((s) => s))];
    const note = v.link === "same z"
      ? `Same z only between models whose codes were made to match the same prior (${scales.join(", ") || "none shown"}); ` +
        "the others show the test digit nearest to the point."
      : "Each other model decodes its own code of the test digit nearest to the point.";
    this.linkBox.append(el("div", "le-link-note", note));
  }

  renderLegend() {
    const palette = this.view.palette || [];
    this.legend.innerHTML = "<b>Digit colors</b> (test points, <i>classifier</i> background): ";
    palette.forEach((color, d) => {
      const s = el("span", "le-swatch");
      const dot = el("span", "le-dot", "\u25cf");
      dot.style.color = color;
      s.append(dot, document.createTextNode(` ${d}`));
      this.legend.append(s);
    });
    this.legend.append(el("span", "le-hatch-key", "hatched: outside the test codes"));
  }

  renderOptions() {
    // q(z|x) ellipses, for the 2-D VAEs on the page
    this.options.innerHTML = "";
    if (!this.models.some((m) => m.arrays.cov)) return;
    this.options.append(el("b", null, "A VAE encodes a region, not a point:"),
                        document.createTextNode(" its q(z|x) as 1σ and 2σ ellipses, for "));
    for (const [key, text] of [["pointed", "the test digit at the point"], ["random", "50 random test digits"]]) {
      const label = el("label", "le-option");
      const box = el("input");
      box.type = "checkbox";
      box.checked = this.ellipses[key];
      box.addEventListener("change", () => {
        this.ellipses[key] = box.checked;
        this.drawOverlays(this.lastTargets);
      });
      label.append(box, document.createTextNode(` ${text}`));
      this.options.append(label);
    }
  }

  renderPlanes() {
    this.planes.innerHTML = "";
    this.cards = this.models.map((m, k) => {
      const card = el("figure", "le-plane");
      card.dataset.k = String(k);
      const title = el("figcaption", "le-title", m.title);
      const stack = el("div", "le-stack");
      const base = el("canvas", "le-base");
      const over = el("canvas", "le-over");
      over.tabIndex = 0;
      over.setAttribute("role", "application");
      over.setAttribute("aria-label", `${m.title}: latent plane; arrow keys move the point`);
      stack.append(base, over);
      const note = el("div", "le-note");
      card.append(title, stack, note);
      this.planes.append(card);
      this.listen(over, k);
      return { card, base, over, note };
    });
  }

  renderTiles() {
    this.tiles.innerHTML = "";
    this.tileEls = this.models.map((m) => {
      const tile = el("div", "le-tile");
      const title = el("div", "le-tile-title", m.label);
      const canvas = el("canvas", "le-digit");
      canvas.width = 28;
      canvas.height = 28;
      const caption = el("div", "le-tile-caption");
      const verdict = el("div", "le-verdict");
      tile.append(title, canvas, caption, verdict);
      this.tiles.append(tile);
      return { tile, canvas, caption, verdict, pixels: canvas.getContext("2d").createImageData(28, 28) };
    });
  }

  layout() {
    if (!this.cards || !this.cards.length) return;
    const narrow = this.root.clientWidth < 720;
    this.box.classList.toggle("le-narrow", narrow);
    // the planes get the row's width but the strip's (their own box shrinks to them, the strip beside them)
    const width = narrow ? this.planes.clientWidth : this.box.clientWidth - this.strip.offsetWidth - 16;
    const n = this.cards.length;
    const size = narrow ? Math.max(180, Math.min(420, width)) : planeSize(n, width, window.innerHeight -
                 (this.planes.getBoundingClientRect().top + window.scrollY));
    const dpr = window.devicePixelRatio || 1;
    if (this.cards[0].size === size && this.cards[0].dpr === dpr) return; // a resize that changed nothing here
    this.cards.forEach((c, k) => {
      c.card.style.width = `${size}px`;
      for (const canvas of [c.base, c.over]) {
        canvas.style.width = `${size}px`;
        canvas.style.height = `${size}px`;
        canvas.width = Math.round(size * dpr);
        canvas.height = Math.round(size * dpr);
      }
      c.size = size;
      c.dpr = dpr;
      this.drawBase(k);
    });
    this.drawOverlays(this.lastTargets);
  }

  rect(k) {
    const s = this.cards[k].size;
    const side = s - Math.max(MARGIN.left + MARGIN.right, MARGIN.top + MARGIN.bottom);
    return { left: MARGIN.left, top: MARGIN.top, side };
  }

  toPlane(k, u, v) {
    const [xmin, xmax, ymin, ymax] = this.models[k].extent;
    const r = this.rect(k);
    return [xmin + ((u - r.left) / r.side) * (xmax - xmin), ymax - ((v - r.top) / r.side) * (ymax - ymin)];
  }

  toCanvas(k, x, y) {
    const [xmin, xmax, ymin, ymax] = this.models[k].extent;
    const r = this.rect(k);
    return [r.left + ((x - xmin) / (xmax - xmin)) * r.side, r.top + ((ymax - y) / (ymax - ymin)) * r.side];
  }

  inside(k, u, v) {
    const r = this.rect(k);
    return u >= r.left && u < r.left + r.side && v >= r.top && v < r.top + r.side;
  }

  drawBase(k) {
    const c = this.cards[k];
    const m = this.models[k];
    const g = c.base.getContext("2d");
    g.setTransform(c.dpr, 0, 0, c.dpr, 0, 0);
    g.clearRect(0, 0, c.size, c.size);
    const r = this.rect(k);
    g.imageSmoothingEnabled = true;
    g.drawImage(m.image, r.left, r.top, r.side, r.side);
    g.strokeStyle = "#969696";
    g.lineWidth = 1;
    g.strokeRect(r.left - 0.5, r.top - 0.5, r.side + 1, r.side + 1);
    g.fillStyle = "#282828";
    g.strokeStyle = "#282828";
    g.font = `${Math.round(14 * this.scale)}px system-ui, sans-serif`;
    const [xmin, xmax, ymin, ymax] = m.extent;
    g.textAlign = "center";
    g.textBaseline = "top";
    for (const t of ticks(xmin, xmax)) {
      const [u] = this.toCanvas(k, t, ymin);
      g.beginPath(); g.moveTo(u, r.top + r.side); g.lineTo(u, r.top + r.side + 4); g.stroke();
      g.fillText(tickText(t), u, r.top + r.side + 5);
    }
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const t of ticks(ymin, ymax)) {
      const [, v] = this.toCanvas(k, xmin, t);
      g.beginPath(); g.moveTo(r.left - 4, v); g.lineTo(r.left, v); g.stroke();
      g.fillText(tickText(t), r.left - 6, v);
    }
    g.font = `${Math.round(15 * this.scale)}px system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "bottom";
    g.fillText(m.axes[0], r.left + r.side / 2, c.size - 1);
    g.save();
    g.translate(13, r.top + r.side / 2);
    g.rotate(-Math.PI / 2);
    g.textBaseline = "middle";
    g.fillText(m.axes[1], 0, 0);
    g.restore();
  }

  // -- input ---------------------------------------------------------------------------------------------------
  listen(canvas, k) {
    let down = null;
    const at = (e) => {
      const box = canvas.getBoundingClientRect();
      const u = e.clientX - box.left;
      const v = e.clientY - box.top;
      return this.inside(k, u, v) ? this.toPlane(k, u, v) : null;
    };
    canvas.addEventListener("pointermove", (e) => {
      const p = at(e);
      if (!p) return;
      this.hovering = { model: k, x: p[0], y: p[1] };
      this.request(this.hovering, e.timeStamp);
    });
    canvas.addEventListener("pointerleave", (e) => {
      if (down) return;
      this.hovering = null;
      this.request(this.pinned, e.timeStamp);
    });
    canvas.addEventListener("pointerdown", (e) => {
      down = { x: e.clientX, y: e.clientY };
      canvas.setPointerCapture(e.pointerId);
      this.moveStripTo(k);
      const p = at(e);
      if (p) this.request({ model: k, x: p[0], y: p[1] }, e.timeStamp);
    });
    const release = (e) => {
      if (!down) return;
      down = null;
      const p = at(e);
      if (p) this.pin({ model: k, x: p[0], y: p[1] }); // a click, a tap or the end of a drag pins the point
    };
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", () => { down = null; });
    canvas.addEventListener("keydown", (e) => {
      const dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
      if (!dir) return;
      e.preventDefault();
      const [xmin, xmax, ymin, ymax] = this.models[k].extent;
      const from = this.point && this.point.model === k ? this.point : { model: k, ...this.center(k) };
      const step = WALK * (e.shiftKey ? 5 : 1);
      const x = Math.min(xmax, Math.max(xmin, from.x + dir[0] * step * (xmax - xmin)));
      const y = Math.min(ymax, Math.max(ymin, from.y + dir[1] * step * (ymax - ymin)));
      this.pinned = { model: k, x, y };
      this.request(this.pinned, e.timeStamp);
      clearTimeout(this.pinTimer);
      this.pinTimer = setTimeout(() => this.sendPin(), PIN_DELAY);
    });
  }

  center(k) {
    const [xmin, xmax, ymin, ymax] = this.models[k].extent;
    return { x: (xmin + xmax) / 2, y: (ymin + ymax) / 2 };
  }

  pin(point) {
    this.pinned = { ...point };
    this.request(this.pinned, performance.now());
    this.sendPin();
  }

  sendPin() {
    if (!this.pinned || !this.view) return;
    this.updateAddress();
    this.pins = (this.pins || 0) + 1; // the server applies pins in this order, whatever order they arrive in
    this.trigger("pin", { model: this.pinned.model, x: this.pinned.x, y: this.pinned.y, link: this.view.link,
                          live: this.live, seq: this.pins, page: this.id });
  }

  moveStripTo(k) {
    // on a phone the decoded digits sit right under the plane being touched
    if (!this.box.classList.contains("le-narrow")) {
      if (this.strip.parentElement !== this.planes.parentElement) this.planes.after(this.strip);
      return;
    }
    this.cards[k].card.after(this.strip);
  }

  // -- decoding and painting ------------------------------------------------------------------------------------
  request(point, since) {
    if (!point || !this.models.length || point.model >= this.models.length) return;
    this.point = point === this.pinned ? point : { ...point }; // the pinned point itself, or a hover's copy
    this.wanted = { point: this.point, since, at: performance.now() };
    if (!this.busy) this.loop();
  }

  async loop() {
    this.busy = true;
    try {
      while (this.wanted) {
        const w = this.wanted;
        this.wanted = null;
        await this.paint(w);
        if (!this.wanted && this.live) await this.verdicts(this.lastImages, this.lastTargets);
      }
    } finally {
      this.busy = false;
    }
  }

  async decodeAll(targets) {
    // one run per model, one after another (ONNX Runtime Web's WebAssembly backend runs one at a time): a (1, d)
    // code (and the one-hot label of a conditional model or the cluster of a clustered AAE) -> (1, 784) pixels
    const images = [];
    for (const [k, m] of this.models.entries()) {
      if (!m.session) {
        images.push(null);
        continue;
      }
      const t = targets[k];
      const feeds = { z: new this.ort.Tensor("float32", t.z, [1, m.latent_dim]) };
      if (m.conditional) {
        const onehot = new Float32Array(m.num_classes);
        onehot[t.label] = 1;
        feeds.label = new this.ort.Tensor("float32", onehot, [1, m.num_classes]);
      }
      images.push((await m.session.run(feeds)).probs.data);
    }
    return images;
  }

  async paint(w) {
    const p = w.point;
    const targets = linkTargets(this.models, p.model, p.x, p.y, this.view.link, this.view.label);
    const images = this.live ? await this.decodeAll(targets) : this.models.map(() => null);
    if (w.point !== this.point && this.wanted) return; // superseded while decoding: paint the newer one
    this.lastTargets = targets;
    this.lastImages = images;
    this.drawOverlays(targets);
    images.forEach((img, k) => this.paintTile(k, img, targets[k]));
    if (this.live) {
      const now = performance.now();
      this.record(this.times, now - w.since); // from the event's time stamp: what the user waits for
      this.record(this.work, now - w.at); // from the handler: this module's own decoding and painting
      this.repaints = (this.repaints || 0) + 1;
    }
  }

  record(list, ms) {
    list.push(ms);
    if (list.length > STATS) list.shift();
  }

  paintTile(k, img, t) {
    const tile = this.tileEls[k];
    const px = tile.pixels.data;
    if (img) {
      const fade = t.outside ? 0.35 : 1; // outside the codes: faded, in a red frame (as the server's strip)
      for (let i = 0; i < 784; i++) {
        const v = Math.round(Math.min(Math.max(1 - img[i] * fade, 0), 1) * 255);
        px[4 * i] = v; px[4 * i + 1] = v; px[4 * i + 2] = v; px[4 * i + 3] = 255;
      }
      tile.canvas.getContext("2d").putImageData(tile.pixels, 0, 0);
    }
    tile.tile.classList.toggle("le-outside", t.outside);
    const z = Array.from(t.z.slice(0, 2), (v) => v.toFixed(2)).join(", ") + (t.z.length > 2 ? ", \u2026" : "");
    const kind = this.models[k].clustered ? "cluster" : "label";
    tile.caption.textContent = `z = (${z})` + (t.label !== null ? `, ${kind} ${t.label}` : "");
    tile.verdict.textContent = t.outside ? "outside its codes" : (this.classifier && img ? "classifier: \u2026" : "");
    const card = this.cards[k];
    card.note.textContent = `(${t.point[0].toFixed(2)}, ${t.point[1].toFixed(2)}) \u00b7 ${t.how}` +
      (t.outside ? " \u00b7 outside its codes" : "");
    card.note.classList.toggle("le-outside", t.outside);
  }

  async verdicts(images, targets) {
    if (!this.classifier || !images || images.some((img) => !img)) return;
    const started = performance.now();
    const batch = new Float32Array(784 * images.length);
    images.forEach((img, k) => batch.set(img, 784 * k));
    const out = await this.classifier.run({ images: new this.ort.Tensor("float32", batch, [images.length, 784]) });
    if (images !== this.lastImages) return; // the digits moved on meanwhile
    const probs = out.probs.data;
    const classes = probs.length / images.length;
    images.forEach((_, k) => {
      if (targets[k].outside) return;
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[k * classes + c] > probs[k * classes + best]) best = c;
      const p = probs[k * classes + best];
      this.tileEls[k].verdict.textContent = `classifier: ${best} (${Math.round(100 * p)}%)`;
    });
    this.lastVerdicts = Array.from({ length: images.length }, (_, k) => Array.from(probs.slice(k * classes, (k + 1) * classes)));
    this.record(this.verdictTimes, performance.now() - started);
  }

  drawOverlays(targets) {
    if (!this.cards) return;
    this.cards.forEach((c, k) => {
      const g = c.over.getContext("2d");
      g.setTransform(c.dpr, 0, 0, c.dpr, 0, 0);
      g.clearRect(0, 0, c.size, c.size);
      const r = this.rect(k);
      g.save();
      g.beginPath();
      g.rect(r.left, r.top, r.side, r.side);
      g.clip();
      const m = this.models[k];
      if (m.star) this.drawStar(g, ...this.toCanvas(k, m.star[0], m.star[1]));
      if (this.pinned && this.pinned.model === k && this.point && this.point !== this.pinned) {
        const [u, v] = this.toCanvas(k, this.pinned.x, this.pinned.y);
        g.strokeStyle = "rgba(0,0,0,0.55)";
        g.lineWidth = 2;
        g.beginPath(); g.arc(u, v, 5, 0, 2 * Math.PI); g.stroke(); // where the pin is, while hovering elsewhere
      }
      if (targets && targets[k]) {
        const t = targets[k];
        const [u, v] = this.toCanvas(k, t.point[0], t.point[1]);
        const color = t.outside ? "#c81e1e" : "#000";
        g.strokeStyle = "rgba(120,120,120,0.9)";
        g.lineWidth = this.scale > 1 ? 2 : 1;
        g.setLineDash(t.outside ? [4, 3] : []);
        g.beginPath(); g.moveTo(r.left, v); g.lineTo(r.left + r.side, v); g.moveTo(u, r.top); g.lineTo(u, r.top + r.side); g.stroke();
        g.setLineDash([]);
        const ring = 8 * this.scale;
        g.strokeStyle = "#fff"; g.lineWidth = 5 * this.scale;
        g.beginPath(); g.arc(u, v, ring, 0, 2 * Math.PI); g.stroke();
        g.strokeStyle = color; g.lineWidth = 3 * this.scale;
        g.beginPath(); g.arc(u, v, ring, 0, 2 * Math.PI); g.stroke();
        if (t.outside) {
          g.fillStyle = color;
          g.font = "bold 14px system-ui, sans-serif";
          g.textAlign = u > r.left + r.side / 2 ? "right" : "left";
          g.textBaseline = "bottom";
          g.fillText("outside its codes", u + (g.textAlign === "left" ? 12 : -12), v - 6);
        }
      }
      this.drawPosteriors(g, k, targets && targets[k]); // over the crosshair: a 2-D VAE's regions are small
      g.restore();
    });
  }

  drawPosteriors(g, k, target) {
    const m = this.models[k];
    const cov = m.arrays.cov;
    if (!cov) return;
    const palette = this.view.palette || [];
    const at = (i) => [[m.arrays.latents[2 * i], m.arrays.latents[2 * i + 1]], [cov[3 * i], cov[3 * i + 1], cov[3 * i + 2]]];
    if (this.ellipses.random) {
      const n = m.arrays.labels.length;
      for (let r = 0; r < 50; r++) {
        const i = (r * 7919 + 13) % n; // 50 test digits spread over the split, the same every time
        const [mu, c] = at(i);
        this.drawEllipse(g, k, mu, c, [1], palette[m.arrays.labels[i] % 10] || "#555", 1.5);
      }
    }
    if (this.ellipses.pointed && target) {
      const [mu, c] = at(target.near);
      this.drawEllipse(g, k, mu, c, [1, 2], "#1d4ed8", 2.5, [], "rgba(29, 78, 216, 0.18)");
    }
    if (m.drawn_q) this.drawEllipse(g, k, m.drawn_q.mu, m.drawn_q.cov, [1, 2], "#b8860b", 2.5, [5, 3]);
  }

  drawEllipse(g, k, mu, c, sigmas, color, width, dash = [], fill = null) {
    // the level sets of N(mu, [[c0, c1], [c1, c2]]) at `sigmas`: the eigenvectors give the tilt
    const [a, b, d] = c;
    const tr = (a + d) / 2;
    const disc = Math.sqrt(Math.max(((a - d) / 2) ** 2 + b * b, 0));
    const l1 = tr + disc;
    const l2 = Math.max(tr - disc, 0);
    const angle = Math.abs(b) < 1e-12 && a >= d ? 0 : Math.atan2(l1 - a, b);
    g.strokeStyle = color;
    g.lineWidth = width;
    g.setLineDash(dash);
    for (const s of sigmas) {
      g.beginPath();
      for (let i = 0; i <= 48; i++) {
        const t = (i / 48) * 2 * Math.PI;
        const ex = s * Math.sqrt(l1) * Math.cos(t);
        const ey = s * Math.sqrt(l2) * Math.sin(t);
        const [u, v] = this.toCanvas(k, mu[0] + ex * Math.cos(angle) - ey * Math.sin(angle),
                                     mu[1] + ex * Math.sin(angle) + ey * Math.cos(angle));
        if (i === 0) g.moveTo(u, v); else g.lineTo(u, v);
      }
      if (fill) {
        g.fillStyle = fill;
        g.fill();
      }
      g.stroke();
    }
    g.setLineDash([]);
  }

  drawStar(g, u, v) {
    g.beginPath();
    for (let i = 0; i < 10; i++) {
      const a = -Math.PI / 2 + (i * Math.PI) / 5;
      const rr = i % 2 === 0 ? 9 : 4;
      g.lineTo(u + rr * Math.cos(a), v + rr * Math.sin(a));
    }
    g.closePath();
    g.fillStyle = "#ffd700";
    g.strokeStyle = "#000";
    g.lineWidth = 1;
    g.fill();
    g.stroke();
  }

  // -- for tests and benchmarks (window.latentExplorer) ------------------------------------------------------------
  async decodeAt(model, x, y) {
    const targets = linkTargets(this.models, model, x, y, this.view.link, this.view.label);
    const images = await this.decodeAll(targets);
    return { targets: targets.map((t) => ({ ...t, z: Array.from(t.z) })),
             images: images.map((img) => (img ? Array.from(img) : null)) };
  }

  stats() {
    return { live: this.live, repaint: [...this.times], work: [...this.work], verdict: [...this.verdictTimes],
             repaints: this.repaints || 0,
             models: this.models.map((m) => m.key), link: this.view && this.view.link };
  }
}

export function planeSize(n, width, height, gap = 12, min = 180, max = 520) {
  // the biggest planes for n models in a box of width x height (a plane's title and note take 44 px, the key
  // under them 36): try every number of columns; when none keeps every row in view, the widest rows of `min` px
  let best = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const wide = Math.floor((width - gap * (cols - 1)) / cols);
    const tall = Math.floor((height - 44 * rows - 36) / rows);
    best = Math.max(best, Math.min(max, wide, Math.max(tall, min)));
  }
  return Math.max(Math.min(best, width), 120);
}

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function mount(element, props, trigger, watch) {
  const live = new LivePlanes(element, trigger, props.tab_ids ? JSON.parse(props.tab_ids) : {});
  window.latentExplorer = live; // the one object of this component, for tests and benchmarks
  live.setView(props.value);
  watch("value", () => live.setView(props.value));
  return live;
}
