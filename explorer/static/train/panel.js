// "Train in this browser": pick a model (or a race of 2-3), Start / Stop / Resume, watch every loss term and the
// latent planes move, hover a plane to decode, then Download run (.zip of a run folder) or Keep (adds the model
// to the explorer's planes through a "latent-explorer:keep" event). Mounted like traverse.js: mount(element,
// props, trigger, watch); the training runs in worker.js.

import { Charts, LANE_COLORS } from "./charts.js";
import { extentOf, decodeWith, project } from "./plane.js";
import { PALETTE, PlaneView } from "./planeview.js";
import { Rng, samplePrior } from "./spec.js";

const RACES = {
  one: { label: "one model (choose below)" },
  beta: { label: "race: VAE β = 1 vs β = 4", lanes: [{ model: "vae", kl_weight: 1 }, { model: "vae", kl_weight: 4 }] },
  kinds: { label: "race: AE vs VAE vs AAE", lanes: [{ model: "ae" }, { model: "vae" }, { model: "aae" }] },
};
const FIELDS = `
  <label>Race <select name="race">${Object.entries(RACES).map(([k, r]) => `<option value="${k}">${r.label}</option>`).join("")}</select></label>
  <label class="tb-one">Model <select name="model"><option value="vae">VAE</option><option value="ae">AE</option><option value="aae">AAE</option></select></label>
  <label class="tb-one tb-vae">β (KL weight) <input name="kl_weight" type="number" min="0" max="20" step="0.5" value="1"></label>
  <label class="tb-one tb-aae">Prior <select name="prior"><option value="gaussian">gaussian</option><option value="mixture10">mixture of 10</option></select></label>
  <label>Latent dims <select name="latent_dim"><option>2</option><option>16</option></select></label>
  <label>Epochs <input name="epochs" type="number" min="1" max="50" value="5"></label>
  <label>Seed <input name="seed" type="number" min="0" max="99999" value="0"></label>`;

export class TrainPanel {
  constructor(element, props) {
    this.root = element;
    this.base = props.data_url ? new URL(props.data_url, location.href) : new URL("../data/", import.meta.url);
    this.workerUrl = props.worker_url ? new URL(props.worker_url, location.href) : new URL("./worker.js", import.meta.url);
    this.worker = null;
    this.lanes = [];
    this.views = [];
    this.snapshots = [];
    this.state = "idle";
    this.firstTerms = null; // seconds from Start to the first curve point and plane (benchmarks read them)
    this.firstPlane = null;
    this.build();
  }

  build() {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("./panel.css", import.meta.url).href;
    this.root.innerHTML = `<div class="tb-panel"><form class="tb-form">${FIELDS}
      <button type="button" name="start" class="tb-primary">Start</button>
      <button type="button" name="stop" disabled>Stop</button>
      <button type="button" name="resume" disabled>Resume</button></form>
      <div class="tb-progress"><div class="tb-bar"><div class="tb-fill"></div></div><span class="tb-status">
      Trains in this browser tab on 10,000 MNIST training digits; the planes show 2,000 test digits.</span></div>
      <div class="tb-legend">digits: ${PALETTE.map((c, i) => `<span><i style="background:${c}"></i>${i}</span>`).join("")}</div>
      <div class="tb-body"><div class="tb-planes"></div><div class="tb-charts"></div></div></div>`;
    this.root.prepend(link);
    const $ = (s) => this.root.querySelector(s);
    this.form = $(".tb-form");
    this.fill = $(".tb-fill");
    this.status = $(".tb-status");
    this.planes = $(".tb-planes");
    this.charts = new Charts($(".tb-charts"));
    this.form.addEventListener("change", () => this.showFields());
    this.form.elements.start.addEventListener("click", () => this.start());
    this.form.elements.stop.addEventListener("click", () => this.send({ type: "stop" }));
    this.form.elements.resume.addEventListener("click", () => this.resume());
    this.showFields();
  }

  showFields() {
    const f = this.form.elements;
    const one = f.race.value === "one";
    for (const el of this.form.querySelectorAll(".tb-one")) el.hidden = !one;
    if (one) {
      this.form.querySelector(".tb-vae").hidden = f.model.value !== "vae";
      this.form.querySelector(".tb-aae").hidden = f.model.value !== "aae";
    }
  }

  // The lanes the form asks for: [{name, model, train}], named like run folders.
  specs() {
    const f = this.form.elements;
    const latent = Number(f.latent_dim.value), epochs = Number(f.epochs.value), seed = Number(f.seed.value);
    const chosen = f.race.value === "one"
      ? [{ model: f.model.value, ...(f.model.value === "vae" ? { kl_weight: Number(f.kl_weight.value) } : {}),
        ...(f.model.value === "aae" ? { prior: f.prior.value } : {}) }]
      : RACES[f.race.value].lanes;
    return chosen.map((m) => {
      const model = { ...m, latent_dim: latent };
      const extra = m.model === "vae" && (m.kl_weight ?? 1) !== 1 ? `-beta${m.kl_weight}` :
        m.model === "aae" && m.prior === "mixture10" ? "-mixture10" : "";
      return { name: `${m.model}${extra}-${latent}d-browser-seed${seed}`, model, train: { epochs, seed } };
    });
  }

  start() {
    if (this.worker) this.worker.terminate();
    this.worker = new Worker(this.workerUrl, { type: "module" });
    this.worker.onmessage = (e) => this.receive(e.data);
    this.worker.onerror = (e) => this.fail(e.message || "the training worker failed to start");
    const specs = this.specs();
    this.lanes = specs;
    this.snapshots = specs.map(() => null);
    this.planes.innerHTML = "";
    this.views = specs.map((s, i) => this.laneView(s, i));
    this.charts.reset(specs.map((s) => s.name));
    this.started = performance.now();
    this.firstTerms = this.firstPlane = null;
    this.setState("running");
    this.status.textContent = "Loading the digits and compiling the model…";
    this.send({ type: "start", data: this.base.href, lanes: specs });
  }

  laneView(spec, i) {
    const view = new PlaneView(this.planes, spec.name, LANE_COLORS[i % LANE_COLORS.length]);
    const actions = document.createElement("div");
    actions.className = "tb-actions";
    const download = Object.assign(document.createElement("button"), { type: "button", textContent: "Download run (.zip)", disabled: true });
    const keep = Object.assign(document.createElement("button"), { type: "button", textContent: "Keep (add to the planes)", disabled: true });
    download.addEventListener("click", () => this.send({ type: "download", lane: i }));
    keep.addEventListener("click", () => this.send({ type: "keep", lane: i }));
    actions.append(download, keep);
    view.box.append(actions);
    view.buttons = { download, keep };
    return view;
  }

  resume() {
    this.setState("running");
    this.send({ type: "resume" });
  }

  send(message) {
    if (this.worker) this.worker.postMessage(message);
  }

  setState(state) {
    this.state = state;
    const f = this.form.elements;
    f.start.disabled = state === "running";
    f.stop.disabled = state !== "running";
    f.resume.disabled = state !== "stopped";
  }

  elapsed() {
    return (performance.now() - this.started) / 1000;
  }

  receive(m) {
    const handlers = {
      terms: () => {
        if (this.firstTerms === null) this.firstTerms = this.elapsed();
        this.charts.add(m.lane, m.rows);
      },
      plane: () => this.onPlane(m),
      progress: () => this.onProgress(m),
      epoch: () => {
        this.views[m.lane].buttons.download.disabled = false;
        this.views[m.lane].buttons.keep.disabled = false;
      },
      stopped: () => { this.setState("stopped"); this.status.textContent += " · stopped"; },
      done: () => { this.setState("done"); this.status.textContent += " · done"; },
      zip: () => saveFile(m.name, m.bytes),
      kept: () => this.onKept(m),
      error: () => this.fail(m.message),
    };
    (handlers[m.type] || (() => {}))();
  }

  onPlane(m) {
    if (this.firstPlane === null) this.firstPlane = this.elapsed();
    const spec = this.lanes[m.lane];
    this.snapshots[m.lane] = { ...m, activation: spec.model.activation || "elu", latentDim: spec.model.latent_dim };
    const shown = this.snapshots.filter(Boolean);
    const all = new Float32Array(shown.reduce((n, s) => n + s.xy.length, 0));
    shown.reduce((at, s) => (all.set(s.xy, at), at + s.xy.length), 0);
    const extent = extentOf(all); // shared axes: every plane of a race on the same scale
    this.snapshots.forEach((s, i) => s && this.views[i].show(s, extent));
  }

  onProgress(m) {
    const done = m.images.reduce((a, b) => a + b, 0), total = m.total.reduce((a, b) => a + b, 0);
    const rate = m.trained / Math.max(m.seconds, 1e-6);
    this.fill.style.width = `${(100 * done) / total}%`;
    const eta = (total - done) / Math.max(rate, 1);
    this.status.textContent = `${done.toLocaleString()} / ${total.toLocaleString()} images · ` +
      `${Math.round(rate).toLocaleString()} images/s · about ${Math.ceil(eta)} s left`;
  }

  // The kept model, in the shape the explorer's live planes take (explorer/live.py model_view).
  onKept(m) {
    const spec = this.lanes[m.lane];
    const d = spec.model.latent_dim, snap = this.snapshots[m.lane];
    const inverse = d === 2 ? { kind: "identity", dim: 2 } : snap.inverse;
    const xy = project(m.latents, d, inverse);
    const prior = spec.model.model === "ae" ? new Float32Array(0) : project(samplePrior(new Rng(0),
      spec.model.prior || "gaussian", 2000, d), d, inverse);
    const both = new Float32Array(xy.length + (d === 2 ? prior.length : 0));
    both.set(xy);
    if (d === 2) both.set(prior, xy.length); // a 2-D plane shows where the prior expects codes too
    const decoder = m.decoder, activation = spec.model.activation || "elu";
    const model = {
      key: `browser/${spec.name}`, label: `browser: ${spec.name}`, kind: spec.model.model, latent_dim: d,
      prior: spec.model.model === "ae" ? null : spec.model.prior || "gaussian",
      conditional: false, xy, latents: m.latents, labels: Uint8Array.from(m.labels), extent: extentOf(both),
      inverse, decode: async (z) => decodeWith(decoder, z, activation),
    };
    window.dispatchEvent(new CustomEvent("latent-explorer:keep", { detail: model }));
    this.status.textContent = `Kept ${spec.name}: it is on the explorer's planes now.`;
  }

  fail(message) {
    this.setState(this.state === "running" ? "stopped" : this.state);
    this.status.textContent = `Training stopped: ${message}`;
  }
}

function saveFile(name, bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function mount(element, props, trigger, watch) {
  const panel = new TrainPanel(element, props || {});
  window.latentTrain = panel; // the one object of this component, for tests and benchmarks
  return panel;
}
