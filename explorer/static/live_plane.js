// Live latent planes: hover, drag, touch or walk (arrow keys) over any model's plane, and every shown model
// decodes in the page, with ONNX Runtime Web running the decoders the server exported (explorer/onnx_export.py).
//
// The server (explorer/live.py) sends a small JSON view: per model its plane's extent and picture, its test
// codes, how a plane point maps to its latent, and its decoder's URL; and the constants the page draws with
// (view.rules). This controller keeps the state (the view, the pinned point, the point decoded now), decodes,
// and asks the server for nothing while the pointer moves. A click, a drag's release, a tap or a walk pins the
// point: the page then tells the server (the `pin` event) so the other tabs and the API use it. The rules it
// follows are rules.js, the server's own (explorer/rules.py) checked against one golden file.
//
// Modules: rules.js (pure rules), ort.js (loading), decode.js (sessions, decoding, verdicts), planes.js (the
// planes), input.js (pointer and keys), strip.js (link buttons, digits, key, options), frame.js (the boxes),
// draw.js (canvas), address.js (the address bar, Copy link), dom.js.

import { copyLink, selectedTab, showInAddressBar } from "./address.js";
import { classify, decodeAll, startSessions } from "./decode.js";
import { buildFrame, fitPlanes, moveStripTo, say } from "./frame.js";
import { listen } from "./input.js";
import { loadModel } from "./ort.js";
import { Planes } from "./planes.js";
import { linkTargets, shareQuery, walk } from "./rules.js";
import { paintTile, showLegend, showLinks, showOptions, showTiles, showVerdict } from "./strip.js";

const PIN_DELAY = 350; // ms after the last arrow key before the walked point is pinned
const STATS = 400; // pointer moves whose repaint time is kept (window.latentExplorer.stats())
const TAB_SETTLE = 50; // ms for Gradio to mark a clicked tab selected

class LivePlanes {
  constructor(element, trigger, tabIds = {}) {
    this.root = element;
    this.trigger = trigger;
    this.tabIds = tabIds; // a tab's label -> its id in a shared link (explorer/ui/app.py TABS)
    this.view = null;
    this.models = [];
    this.pinned = null; // {model, x, y}: what the server knows
    this.point = null; // {model, x, y}: what is decoded now (the hover, or the pinned point)
    this.wanted = null;
    this.busy = false;
    this.live = false;
    this.times = [];
    this.work = [];
    this.verdictTimes = [];
    this.generation = 0;
    this.pinTimer = null;
    this.pins = 0;
    this.ellipses = { pointed: true, random: false };
    this.id = Math.random().toString(36).slice(2); // pins count per page (a reload starts again at 1)
    this.frame = buildFrame(this.root);
    this.planes = new Planes(this.frame.planes, (canvas, k) => listen(canvas, k, this.planes, this.inputs()));
    new ResizeObserver(() => this.layout()).observe(this.root);
    document.addEventListener("click", (e) => { // a tab picked: the address bar says which
      if (e.target.closest && e.target.closest("button[role=tab]")) setTimeout(() => this.updateAddress(), TAB_SETTLE);
    });
  }

  // -- the view in the address bar, and a link to share it ---------------------------------------------------
  shareQuery() {
    const v = this.view;
    const pin = this.pinned && [this.pinned.model, this.pinned.x, this.pinned.y];
    return shareQuery({ models: v.models.map((m) => m.key), tab: selectedTab(this.tabIds), pin,
                        background: v.background, link: v.link, label: v.label, projector: v.projector }, v.rules);
  }

  updateAddress() {
    if (this.view && this.view.models) showInAddressBar(this.shareQuery());
  }

  // -- a new view from the server ------------------------------------------------------------------------------
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
    this.frame.box.classList.toggle("le-projector", Boolean(view.projector));
    document.documentElement.classList.toggle("le-projector-page", Boolean(view.projector)); // tabs, labels too
    this.renderLinks();
    showLegend(this.frame.legend, view.palette || []);
    let loaded;
    try {
      loaded = await Promise.all(view.models.map(loadModel));
    } catch (e) {
      return this.say(`Could not load the planes (${e.message}). Reload the page.`, true);
    }
    if (generation !== this.generation) return; // a newer view arrived meanwhile
    this.models = loaded;
    this.planes.show(loaded, view.rules, view.projector ? view.rules.projector_scale : 1);
    this.tiles = showTiles(this.frame.tiles, loaded);
    showOptions(this.frame.options, loaded, this.ellipses, view.rules.random_ellipses, () => this.drawOverlays());
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
      const { ort, sessions, classifier } = await startSessions(this.view, this.models);
      if (generation !== this.generation) return;
      this.ort = ort;
      this.classifier = classifier;
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
    say(this.frame, text, warn);
  }

  renderLinks() {
    showLinks(this.frame.links, this.view, {
      pick: (link) => {
        if (this.view.link === link) return;
        this.view.link = link;
        this.renderLinks();
        this.request(this.point, performance.now());
        this.sendPin();
      },
      copy: (button) => {
        this.updateAddress();
        copyLink(this.shareQuery(), button);
      },
    });
  }

  layout() {
    if (!this.planes.cards.length) return;
    const size = fitPlanes(this.frame, this.root.clientWidth, this.models.length, this.view.rules.layout);
    if (this.planes.resize(size, window.devicePixelRatio || 1)) this.drawOverlays();
  }

  // -- input (input.js calls these with plane points) -------------------------------------------------------------
  inputs() {
    return {
      hover: (k, x, y, time) => this.request({ model: k, x, y }, time),
      leave: (time) => this.request(this.pinned, time),
      press: (k, p, time) => {
        moveStripTo(this.frame, this.planes.cards[k].card);
        if (p) this.request({ model: k, x: p[0], y: p[1] }, time);
      },
      release: (k, x, y) => this.pin({ model: k, x, y }), // a click, a tap or the end of a drag pins the point
      walk: (k, dir, fast, time) => {
        const from = this.point && this.point.model === k ? this.point : { model: k, ...this.center(k) };
        const [x, y] = walk(this.models[k].extent, [from.x, from.y], dir, fast, this.view.rules);
        this.pinned = { model: k, x, y };
        this.request(this.pinned, time);
        clearTimeout(this.pinTimer);
        this.pinTimer = setTimeout(() => this.sendPin(), PIN_DELAY);
      },
    };
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
    this.pins += 1; // the server applies pins in this order, whatever order they arrive in
    this.trigger("pin", { model: this.pinned.model, x: this.pinned.x, y: this.pinned.y, link: this.view.link,
                          live: this.live, seq: this.pins, page: this.id });
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

  decodeAll(targets) {
    return decodeAll(this.ort, this.models, targets);
  }

  async paint(w) {
    const p = w.point;
    const targets = linkTargets(this.models, p.model, p.x, p.y, this.view.link, this.view.label);
    const images = this.live ? await this.decodeAll(targets) : this.models.map(() => null);
    if (w.point !== this.point && this.wanted) return; // superseded while decoding: paint the newer one
    this.lastTargets = targets;
    this.lastImages = images;
    this.drawOverlays();
    const look = { fade: this.view.rules.outside_fade, classifier: Boolean(this.classifier) };
    images.forEach((img, k) => {
      paintTile(this.tiles[k], this.models[k], img, targets[k], look);
      this.planes.note(k, targets[k]);
    });
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

  async verdicts(images, targets) {
    // the classifier's digit for every decoded digit, once the pointer rests
    if (!this.classifier || !images || images.some((img) => !img)) return;
    const started = performance.now();
    const probs = await classify(this.ort, this.classifier, images);
    if (images !== this.lastImages) return; // the digits moved on meanwhile
    this.lastVerdicts = probs;
    probs.forEach((p, k) => { if (!targets[k].outside) showVerdict(this.tiles[k], p); });
    this.record(this.verdictTimes, performance.now() - started);
  }

  drawOverlays() {
    this.planes.drawOverlays({ targets: this.lastTargets, pinned: this.pinned, point: this.point,
                               ellipses: this.ellipses, palette: (this.view && this.view.palette) || [] });
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

export function mount(element, props, trigger, watch) {
  const live = new LivePlanes(element, trigger, props.tab_ids ? JSON.parse(props.tab_ids) : {});
  window.latentExplorer = live; // the one object of this component, for tests and benchmarks
  live.setView(props.value);
  watch("value", () => live.setView(props.value));
  return live;
}
