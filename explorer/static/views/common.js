// What every view of the page shares: reading its JSON value (explorer/page_views.py views_json: the live planes'
// view with each model's extras), the models' arrays and ONNX Runtime Web sessions (ort.js: one per URL, shared
// with the live planes), batches through a decoder, an encoder and the classifier, and drawing digits in tiles.
// A view module's mount(element, props, trigger, watch) reads props.value and redraws when "value" changes.

import { loadArrays, loadImage, runtime, session } from "../ort.js";

export { loadImage };

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

export function readView(value) {
  // the view a component is given (a JSON string or an object); null for none
  try {
    const view = typeof value === "string" ? JSON.parse(value || "null") : value;
    return view && view.models ? view : null;
  } catch (e) {
    return null;
  }
}

export async function withArrays(model) {
  // a model of the view with its test codes (ort.loadArrays); a kept browser model has them already
  if (model.arrays && !model.data) return model;
  const { arrays, shapes } = await loadArrays(model);
  return { ...model, arrays, arraysShape: shapes };
}

export async function loadModels(view) {
  return Promise.all(view.models.map(withArrays));
}

export async function ortOf(view) {
  return runtime(view.ort);
}

export function onehot(labels, classes) {
  // (n, classes) one-hot rows of whole-number labels
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => { out[i * classes + c] = 1; });
  return out;
}

export function labelRows(labels, n, classes) {
  // a decoder's label input (n, classes): from one label for all, a label each, or the rows themselves (a
  // Float32Array of n * classes: a clustered AAE's cluster probabilities, as its encoder gives them)
  if (labels instanceof Float32Array && labels.length === n * classes) return labels;
  const each = Array.isArray(labels) || ArrayBuffer.isView(labels);
  return onehot(Array.from({ length: n }, (_, i) => (each ? labels[i] : labels)), classes);
}

export async function decodeBatch(ort, model, z, labels = null) {
  // codes z (n * d, Float32Array) [with a label or cluster each] -> {probs, logits} (n * 784 each); a kept
  // browser-trained model decodes with its own function (no logits)
  const d = model.latent_dim;
  const n = z.length / d;
  if (model.decode) {
    const probs = new Float32Array(n * PIXELS);
    for (let i = 0; i < n; i++) probs.set(await model.decode(z.subarray(i * d, (i + 1) * d)), i * PIXELS);
    return { probs, logits: null };
  }
  if (!model.onnx) throw new Error(`${model.label}: its decoder is not ready yet`);
  const run = await session(ort, model.onnx);
  const feeds = { z: new ort.Tensor("float32", z, [n, d]) };
  if (model.conditional) feeds.label = new ort.Tensor("float32", labelRows(labels, n, model.num_classes), [n, model.num_classes]);
  const out = await run.run(feeds);
  return { probs: out.probs.data, logits: out.logits ? out.logits.data : null };
}

export async function encodeBatch(ort, model, images, labels = null) {
  // images (n * 784 in [0, 1]) -> the encoder's outputs {z, cov?, cluster?} as typed arrays (page_views.extras)
  if (!model.encoder) throw new Error(`${model.label}: no encoder was exported for it`);
  const n = images.length / PIXELS;
  const run = await session(ort, model.encoder);
  const feeds = { images: new ort.Tensor("float32", images, [n, PIXELS]) };
  if (model.encodes_label) feeds.label = new ort.Tensor("float32", onehot(Array.from(labels), model.num_classes), [n, model.num_classes]);
  const out = await run.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data]));
}

export async function classifyBatch(ort, view, images) {
  // the classifier's probabilities (n * classes) of images (n * 784), or null without a classifier
  if (!view.classifier) return null;
  const run = await session(ort, view.classifier);
  const n = images.length / PIXELS;
  return (await run.run({ images: new ort.Tensor("float32", images, [n, PIXELS]) })).probs.data;
}

export function confident(probs, n, sure) {
  // how many of n images the classifier gives more than `sure` to one class
  const classes = probs.length / n;
  let count = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 0; c < classes; c++) best = Math.max(best, probs[i * classes + c]);
    if (best > sure) count += 1;
  }
  return count;
}

export function bernoulliNats(logits, x) {
  // the Bernoulli negative log-likelihood of one image x (784 in [0, 1]) under its logits, summed over pixels, in
  // nats: max(l, 0) - l x + log(1 + exp(-|l|)), as trainer.losses.bernoulli_nll (binary_cross_entropy_with_logits)
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const l = logits[i];
    total += Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l)));
  }
  return total;
}

export function testImages(sprite, indices) {
  // test digits (n * 784 in [0, 1]) read from the sprite (dark on white, 100 per row): what actions.test_digits gives
  const cols = sprite.naturalWidth / SIDE;
  const c = document.createElement("canvas");
  c.width = SIDE;
  c.height = SIDE;
  const g = c.getContext("2d", { willReadFrequently: true });
  const out = new Float32Array(indices.length * PIXELS);
  indices.forEach((index, k) => {
    g.clearRect(0, 0, SIDE, SIDE);
    g.drawImage(sprite, (index % cols) * SIDE, Math.floor(index / cols) * SIDE, SIDE, SIDE, 0, 0, SIDE, SIDE);
    const data = g.getImageData(0, 0, SIDE, SIDE).data;
    for (let p = 0; p < PIXELS; p++) out[k * PIXELS + p] = (255 - data[4 * p]) / 255;
  });
  return out;
}

export function tiles(images, n, cols, { scale = 2, gap = 0, fade = null } = {}) {
  // n digits (n * 784 probabilities) in rows of `cols` on one canvas, dark on white, each `scale` times its size
  // (CSS); fade[i] < 1 keeps that share of a digit's ink
  const rows = Math.ceil(n / cols);
  const step = SIDE + gap;
  const c = document.createElement("canvas");
  c.width = cols * step - gap;
  c.height = rows * step - gap;
  c.style.width = `${c.width * scale}px`;
  c.style.imageRendering = "pixelated";
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  const img = g.createImageData(SIDE, SIDE);
  for (let i = 0; i < n; i++) {
    const keep = fade ? fade[i] : 1;
    for (let p = 0; p < PIXELS; p++) {
      const v = Math.round(255 * (1 - keep * Math.min(Math.max(images[i * PIXELS + p], 0), 1)));
      img.data[4 * p] = v; img.data[4 * p + 1] = v; img.data[4 * p + 2] = v; img.data[4 * p + 3] = 255;
    }
    g.putImageData(img, (i % cols) * step, Math.floor(i / cols) * step);
  }
  return c;
}

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function field(label, input) {
  // a labelled control
  const box = el("label", "lv-field");
  box.append(el("span", "lv-label", label), input);
  return box;
}

export function input(type, attrs) {
  return Object.assign(el("input"), { type, ...attrs });
}

export function panel(title, body, caption) {
  // one model's figure: its title, its picture, a caption
  const figure = el("figure", "lv-panel");
  figure.append(el("figcaption", "lv-title", title), body);
  if (caption) figure.append(el("div", "lv-caption", caption));
  return figure;
}

function style() {
  // the views' style sheet, once per page (the Gradio app and the static edition alike)
  if (document.querySelector("link[data-latent-views]")) return;
  const link = Object.assign(document.createElement("link"), { rel: "stylesheet", href: new URL("./views.css", import.meta.url).href });
  link.dataset.latentViews = "1";
  document.head.append(link);
}

export function mountWith(name, make) {
  // a view module's mount: make(element) -> an object with show(view); shown again when the value changes; the
  // page's views by name in window.latentViews (for tests and benchmarks)
  return (element, props, trigger, watch) => {
    style();
    const view = make(element, trigger);
    window.latentViews = { ...(window.latentViews || {}), [name]: view };
    const show = () => view.show(readView(props.value));
    show();
    if (watch) watch("value", show);
    return view;
  };
}

export function labelFor(model, chosen) {
  // the label a view decodes a model with: the chosen one when this model has it, else 0 (explorer/ui/grids.py)
  if (!model.conditional) return null;
  const k = chosen === "auto" || chosen === null || chosen === undefined ? NaN : Number(chosen);
  return k >= 0 && k < model.num_classes ? k : 0;
}
