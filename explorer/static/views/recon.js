// Reconstructions, in the page: test digits (one per class, random, or by index) and a digit drawn on the canvas,
// each through every shown model's encoder and decoder (encoder.onnx, decoder.onnx), with each image's Bernoulli
// error in nats (actions.reconstructions). The drawn digit's code is starred in every live plane (the window event
// "latent-explorer:drawn"). mount(element, props) with props.value page_views' views_json; window.latentViews.recon.

import { bernoulliNats, classifyBatch, decodeBatch, el, encodeBatch, field, input, loadImage, loadModels, mountWith,
  ortOf, PIXELS, testImages, tiles } from "./common.js";
import { Rng } from "./priors.js";
import { row } from "./samples.js";
import { Sketch } from "./sketch.js";

const COUNT = 10; // test digits shown
const PER_CLASS = 50; // "one per class": the (seed % 50)-th digit of each class (actions.pick_test_digits)
const MODES = ["one per class", "random", "by index"];

export function pickTestDigits(labels, mode, seed, indices) {
  // the test digits' indices, as actions.pick_test_digits picks them ("random": the page's own draw); an Error
  // says what is wrong with typed indices
  const n = labels.length;
  if (mode === "by index") {
    const idx = String(indices).replace(/;/g, ",").split(",").filter((v) => v.trim()).map((v) => Number(v.trim()));
    if (!idx.length || idx.some((i) => !Number.isInteger(i) || i < 0 || i >= n)) {
      throw new Error(`indices must be whole numbers between 0 and ${n - 1}, separated by commas`);
    }
    return idx;
  }
  if (mode === "random") {
    const order = new Rng(seed).permutation(n);
    return Array.from(order.subarray(0, COUNT));
  }
  const seen = new Array(COUNT).fill(0);
  const out = new Array(COUNT).fill(null);
  labels.forEach((l, i) => {
    if (l < COUNT && out[l] === null && seen[l]++ === seed % PER_CLASS) out[l] = i;
  });
  return out;
}

export async function reconstruct(ort, model, images, labels) {
  // images (n * 784) through a model's encoder and decoder: {codes, cov?, probs, errors (nats per image)}
  const n = images.length / PIXELS;
  const enc = await encodeBatch(ort, model, images, labels);
  const { probs, logits } = await decodeBatch(ort, model, enc.z, enc.cluster || labels);
  const errors = Array.from({ length: n }, (_, i) => bernoulliNats(logits.subarray(i * PIXELS, (i + 1) * PIXELS),
    images.subarray(i * PIXELS, (i + 1) * PIXELS)));
  return { codes: enc.z, cov: enc.cov || null, probs, errors };
}

export function planePoint(model, z) {
  // where a code lands in a model's plane (actions.embed_point): the code itself (latent), its PCA projection,
  // or (UMAP) the plane point of the nearest test code
  const d = model.latent_dim;
  if (model.inverse.kind === "identity") return [z[0], d > 1 ? z[1] : 0];
  if (model.inverse.kind === "pca") {
    const { mean, components } = model.inverse;
    const dot = (c) => c.reduce((s, v, j) => s + (z[j] - mean[j]) * v, 0);
    return [dot(components[0]), dot(components[1])];
  }
  let best = 0, bestD = Infinity;
  const a = model.arrays.latents;
  for (let i = 0; i < a.length / d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (a[i * d + j] - z[j]) ** 2;
    if (s < bestD) { bestD = s; best = i; }
  }
  return [model.arrays.xy[2 * best], model.arrays.xy[2 * best + 1]];
}

class Reconstructions {
  constructor(element) {
    this.root = element;
    this.times = [];
    this.sketch = new Sketch(() => this.draw());
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    const kept = (name, initial) => (this[name] ? this[name].value : initial); // a new view keeps what was typed
    const mode = kept("mode", MODES[0]);
    this.mode = el("select");
    MODES.forEach((m) => this.mode.append(Object.assign(el("option", null, m), { value: m })));
    this.mode.value = mode;
    this.indices = input("text", { placeholder: "3, 17, 256", value: kept("indices", "") });
    this.seed = input("number", { min: 0, value: kept("seed", 0) });
    const go = el("button", "lv-primary", "Reconstruct");
    go.type = "button";
    go.addEventListener("click", () => this.draw());
    const controls = el("div", "lv-column");
    controls.append(field("Test digits", this.mode), field("Indices (for 'by index')", this.indices),
      field("Seed (random / one per class)", this.seed), go);
    const top = el("div", "lv-bar lv-top");
    top.append(controls, this.sketch.box);
    this.status = el("div", "lv-status");
    this.rows = el("div", "lv-rows");
    this.table = el("table", "lv-table");
    this.root.append(top, this.status, this.rows, this.table);
    this.models = await loadModels(view);
    this.ort = await ortOf(view);
    if (view === this.view) await this.draw();
  }

  async inputs() {
    // the digits to reconstruct: the drawn one first (read as the classifier's digit), then the test digits
    const labels = this.models[0].arrays.labels;
    const idx = pickTestDigits(labels, this.mode.value, Number(this.seed.value) || 0, this.indices.value);
    const sprite = await loadImage(this.view.sprite);
    let images = testImages(sprite, idx);
    let digits = idx.map((i) => labels[i]);
    let notes = digits.map(String);
    const drawn = this.sketch.digit();
    if (drawn) {
      const probs = await classifyBatch(this.ort, this.view, drawn);
      const guess = probs ? probs.indexOf(Math.max(...probs)) : 0;
      const both = new Float32Array(images.length + PIXELS);
      both.set(drawn);
      both.set(images, PIXELS);
      images = both;
      digits = [guess, ...digits];
      notes = [probs ? `yours (${guess})` : "yours", ...notes];
    }
    return { idx, images, digits, notes, drawn: Boolean(drawn) };
  }

  async draw() {
    // every shown model's reconstructions and errors; returns the ms from the call to the painted table
    const started = performance.now();
    const view = this.view;
    let got;
    try {
      got = await this.inputs();
    } catch (e) {
      this.status.textContent = e.message;
      return null;
    }
    const n = got.images.length / PIXELS;
    const rows = [row("original", tiles(got.images, n, n, { gap: 2 }), got.notes)];
    const means = [];
    const stars = {};
    for (const m of this.models) {
      try {
        const r = await reconstruct(this.ort, m, got.images, got.digits);
        rows.push(row(m.label, tiles(r.probs, n, n, { gap: 2 }), r.errors.map((e) => e.toFixed(0))));
        means.push([m.label, r.errors.reduce((a, b) => a + b, 0) / n]);
        if (got.drawn) stars[m.key] = { xy: planePoint(m, r.codes.subarray(0, m.latent_dim)), q: this.posterior(m, r) };
      } catch (e) {
        rows.push(row(m.label, el("span", "lv-status", `no reconstruction (${e.message})`)));
      }
    }
    if (view !== this.view) return null;
    this.rows.replaceChildren(...rows);
    this.table.innerHTML = "<tr><th>model</th><th>mean error (nats)</th></tr>";
    means.forEach(([name, e]) => {
      const tr = el("tr");
      tr.append(el("td", null, name), el("td", null, e.toFixed(1)));
      this.table.append(tr);
    });
    this.status.textContent = `Test digits ${got.idx.join(", ")}` +
      (got.drawn ? " (first column: your drawing)" : " · draw a digit to see it reconstructed too (it becomes the first column)");
    window.dispatchEvent(new CustomEvent("latent-explorer:drawn", { detail: got.drawn ? stars : {} }));
    const ms = performance.now() - started;
    this.times.push(ms);
    return ms;
  }

  async drawnOnly() {
    // the drawn digit alone, made MNIST-like and reconstructed in every shown model: the ms it takes (benchmarks)
    const started = performance.now();
    const digit = this.sketch.digit();
    if (!digit) return null;
    const probs = await classifyBatch(this.ort, this.view, digit);
    const guess = probs ? probs.indexOf(Math.max(...probs)) : 0;
    for (const m of this.models) await reconstruct(this.ort, m, digit, [guess]);
    return performance.now() - started;
  }

  posterior(m, r) {
    // a 2-D VAE's q(z|x) of the drawn digit as the planes draw it: mean and (var1, cov12, var2)
    if (!r.cov || m.latent_dim !== 2 || m.inverse.kind !== "identity") return null;
    return { mu: [r.codes[0], r.codes[1]], cov: [r.cov[0], r.cov[1], r.cov[3]] };
  }
}

export const mount = mountWith("recon", (element) => new Reconstructions(element));
