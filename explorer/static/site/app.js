// The static edition (explorer/site.py writes the folder): the explorer's tabs with no server behind them. It reads
// site.json (the models, the rules, the lesson), opens the view a link's query holds, builds the view JSON in the
// page (view.js) and mounts the same modules the Gradio app mounts: the live planes (live_plane.js, with no server
// to tell of pins), the views (views/*.js), the traverse sliders and "Train in this browser" (train/panel.js), whose
// Keep adds a model to the live planes. A view is mounted when its tab is first opened, and told of a new view when
// its tab is open. A service worker (sw.js) keeps what was fetched for offline use. window.latentSite is this object.

import { el } from "../dom.js";
import { header } from "./controls.js";
import { buildView, ignoredNote, stateFrom, withRoom } from "./view.js";

const MODULES = { planes: "../live_plane.js", scatter: "../views/scatter.js", manifold: "../views/grids.js",
  reconstructions: "../views/recon.js", traversal: "../views/traversal.js", samples: "../views/samples.js",
  conditional: "../views/styles.js", clusters: "../views/clusters.js", train: "../train/panel.js" };
const CAPTIONS = {
  planes: "Hover, drag or tap a plane: every shown model decodes the point in your browser. Click to pin it.",
  scatter: "The 10,000 test digits at their codes (or a 2-D UMAP/PCA projection for bigger latents), coloured by their true class. Zoom with the wheel, drag to pan, double-click to reset; hover to see a digit.",
  manifold: "Each grid decodes evenly spaced points of a model's plane; the Gaussian-quantile grid (2-D VAE) takes equal steps of probability under the prior (Kingma & Welling's Fig. 4).",
  reconstructions: "Top row: the input digits. Then each model's reconstruction, with its error in nats under each image (lower is better). Draw your own digit: a star marks where it lands in every plane.",
  traversal: "Each row moves one latent dim from −span to +span σ around a test digit's code (or the pinned point). For a VAE the rows are ordered by how much KL each dim pays. The sliders decode an edited code live.",
  samples: "Digits generated from each model's prior, drawn in your browser; each title counts the samples the classifier is over 90% sure of. Interpolation decodes the straight line between two test digits' codes.",
  conditional: "Conditional models (CVAE, CAAE) get the digit label as an input, so their code only holds the style. Each row keeps a test digit's style and changes the label.",
  clusters: "A clustered AAE puts every digit in one of K clusters without labels. Which digits did it find, and which did it merge?",
  train: "Train an AE, a VAE or an AAE in this browser tab (a Worker: the page stays responsive). Keep adds it to the Latent planes.",
};

const SHORTCUTS = { // the lesson's buttons that put the models a step needs on the page (explorer/ui: the same);
  // the third item: which shown models the step needs (they go last when some must make room)
  samples: ["Add ae-16d and vae-16d", ["ae-16d", "vae-16d"], (m) => m.latent_dim > 2],
  conditional: ["Add the CVAE and CAAE", ["cvae-2d", "caae-2d"], (m) => m.kind === "cvae" || m.kind === "caae"],
  clusters: ["Add the clustered AAEs", ["aae-cluster16", "aae-semi100"], (m) => m.kind === "aae" || m.kind === "vae"],
};

class Site {
  constructor(root, site) {
    this.root = root;
    this.site = site;
    this.docs = new Map(); // model key -> its model.json
    this.mounted = {}; // tab id -> {props, watchers}
    const { state, ignored } = stateFrom(site, location.search);
    this.state = state;
    this.note = ignoredNote(ignored);
  }

  async start() {
    this.root.innerHTML = "";
    this.head = header(this.site, this.state, (change) => this.change(change));
    this.status = el("div", "ls-status", this.note);
    this.tabs = el("div", "ls-tabs");
    this.tabs.setAttribute("role", "tablist");
    this.panels = {};
    const body = el("div", "ls-panels");
    for (const [id, label] of this.site.tabs) {
      const tab = el("button", "ls-tab", label);
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.dataset.tab = id;
      tab.addEventListener("click", () => this.open(id));
      this.tabs.append(tab);
      const panel = el("section", "ls-panel");
      panel.setAttribute("role", "tabpanel");
      panel.append(el("p", "ls-caption", CAPTIONS[id] || ""));
      if (SHORTCUTS[id]) panel.append(this.shortcut(...SHORTCUTS[id]));
      panel.append(el("div", "ls-host"));
      this.panels[id] = panel;
      body.append(panel);
    }
    this.root.append(this.head, this.status, this.tabs, body);
    this.view = await this.buildView();
    await this.open(this.state.tab);
    if (this.state.tab !== "planes") await this.mount("planes"); // the planes hold the pin and Keep's models
  }

  shortcut(text, names, needs) {
    const keys = names.map((n) => `pretrained/${n}`).filter((k) => k in this.site.models);
    const b = el("button", "ls-shortcut", text);
    b.type = "button";
    b.hidden = !keys.length; // this edition was built without them
    b.addEventListener("click", async () => {
      const { models, removed } = withRoom(this.state.models, keys, this.site.max_models,
        (k) => k in this.site.models && needs(this.site.models[k]));
      this.status.textContent = removed.length ? `To make room, removed ${removed.map((k) => this.site.models[k].label).join(", ")}.` : "";
      this.head.querySelectorAll(".ls-model input").forEach((c) => { c.checked = models.includes(c.value); });
      await this.change({ models });
    });
    return b;
  }

  async docsFor(keys) {
    return Promise.all(keys.map(async (key) => {
      if (!this.docs.has(key)) {
        const url = this.site.models[key].file;
        this.docs.set(key, fetch(url).then((r) => {
          if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
          return r.json();
        }));
      }
      return this.docs.get(key);
    }));
  }

  async buildView() {
    return JSON.stringify(buildView(this.site, await this.docsFor(this.state.models), this.state));
  }

  async open(id) {
    this.state.tab = id;
    for (const tab of this.tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.tab === id));
    for (const [key, panel] of Object.entries(this.panels)) panel.hidden = key !== id;
    await this.mount(id);
    const m = this.mounted[id];
    if (m.props.value !== this.view) this.tell(id);
    if (window.latentExplorer) window.latentExplorer.updateAddress();
  }

  async mount(id) {
    if (this.mounted[id]) return;
    const props = { value: this.view, tab_ids: JSON.stringify(Object.fromEntries(this.site.tabs.map(([i, l]) => [l, i]))) };
    const watchers = [];
    this.mounted[id] = { props, watchers };
    const host = this.panels[id].querySelector(".ls-host");
    try {
      const code = await import(MODULES[id]);
      // the trainer's panel finds its data and worker beside itself (static/data/, static/train/worker.js)
      code.mount(host, props, () => {}, (name, fn) => watchers.push(fn)); // no server: nothing to trigger
    } catch (e) {
      host.textContent = `This tab could not start (${e.message}). Reload the page.`;
    }
  }

  tell(id) {
    // a mounted component's view changed: its watchers redraw
    const m = this.mounted[id];
    m.props.value = this.view;
    m.watchers.forEach((fn) => fn());
  }

  async change(change) {
    // a control changed: a new view for the planes at once and for the open tab (the others when opened)
    const models = change.models && change.models.join() !== this.state.models.join();
    Object.assign(this.state, change);
    if (models || "projection" in change) this.state.pin = null; // the pin was on a plane no longer shown as it was
    if (window.latentExplorer && window.latentExplorer.pinned && !models && !("projection" in change)) {
      const p = window.latentExplorer.pinned;
      this.state.pin = [p.model, p.x, p.y];
    }
    this.view = await this.buildView();
    if (this.mounted.planes) this.tell("planes");
    if (this.state.tab !== "planes" && this.mounted[this.state.tab]) this.tell(this.state.tab);
  }
}

async function boot() {
  const root = document.getElementById("app");
  try {
    const response = await fetch("site.json");
    if (!response.ok) throw new Error(`site.json: HTTP ${response.status}`);
    window.latentSite = new Site(root, await response.json());
    await window.latentSite.start();
  } catch (e) {
    root.textContent = `The Latent Explorer could not start (${e.message}).`;
  }
  if ("serviceWorker" in navigator && window.latentSite) offline(window.latentSite.site.version).catch(() => {});
}

async function offline(version) {
  // the service worker (sw.js) keeps every file fetched once it controls the page, and those fetched before: each
  // file the page has loaded (a PerformanceObserver sees them as they finish, earlier ones too) is named to it
  await navigator.serviceWorker.register("sw.js");
  const worker = (await navigator.serviceWorker.ready).active;
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.type === "kept") window.latentOffline = e.data; // for tests: the last answer
  });
  worker.postMessage({ type: "keep", version, urls: [location.href] });
  new PerformanceObserver((list) => {
    worker.postMessage({ type: "keep", version, urls: list.getEntries().map((e) => e.name) });
  }).observe({ type: "resource", buffered: true });
}

boot();
