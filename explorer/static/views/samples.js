// Samples, in the page: 64 codes drawn from each shown model's prior (priors.js, from page_views.prior_json), decoded,
// and the share the classifier is over 90% sure of in each title; and the straight line between two test digits'
// codes decoded in every model (actions.interpolation). mount(element, props) with props.value page_views'
// views_json; window.latentViews.samples is this component.

import { classifyBatch, confident, decodeBatch, el, field, input, loadImage, loadModels, mountWith, ortOf, panel,
  PIXELS, testImages, tiles } from "./common.js";
import { Rng, sampleLabels, samplePrior } from "./priors.js";

const INTERPOLATION_STEPS = 10;
const FIRST = { from: 3, to: 2 }; // the test digits an interpolation starts with (explorer/ui/samples.py)

export function interpolationCodes(model, i, j, steps) {
  // codes on the line from test digit i's code to j's, and the label of each (a labelled model switches halfway)
  const d = model.latent_dim;
  const a = model.arrays.latents;
  const z = new Float32Array(steps * d);
  const labels = [];
  for (let s = 0; s < steps; s++) {
    const t = Math.fround(s / (steps - 1));
    for (let k = 0; k < d; k++) z[s * d + k] = Math.fround((1 - t) * a[i * d + k]) + Math.fround(t * a[j * d + k]);
    if (model.conditional) labels.push((model.arrays.label_of || model.arrays.labels)[t < 0.5 ? i : j]);
  }
  return { z, labels: model.conditional ? labels : null };
}

class Samples {
  constructor(element) {
    this.root = element;
    this.times = [];
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    this.seed = input("number", { min: 0, value: this.seed ? this.seed.value : 0 });
    const sample = el("button", "lv-primary", "Sample from the priors");
    sample.type = "button";
    sample.addEventListener("click", () => this.sample());
    const bar = el("div", "lv-bar");
    bar.append(field("Seed", this.seed), sample);
    this.status = el("div", "lv-status");
    this.out = el("div", "lv-panels");
    this.from = input("number", { min: 0, max: view.test_count - 1, value: this.from ? this.from.value : FIRST.from });
    this.to = input("number", { min: 0, max: view.test_count - 1, value: this.to ? this.to.value : FIRST.to });
    const go = el("button", null, "Interpolate");
    go.type = "button";
    go.addEventListener("click", () => this.interpolate());
    const bar2 = el("div", "lv-bar");
    bar2.append(field("From test digit #", this.from), field("To test digit #", this.to), go);
    this.lines = el("div", "lv-rows");
    this.root.append(bar, this.status, this.out, el("h3", "lv-head", "Interpolation"), bar2, this.lines);
    this.models = await loadModels(view);
    this.ort = await ortOf(view);
    if (view !== this.view) return;
    await this.sample();
    await this.interpolate();
  }

  async sample(seed = Number(this.seed.value) || 0, n = this.view.views.samples) {
    // n prior samples of every shown model, shown as soon as they are decoded; then the classifier's caption.
    // Returns the ms from the call to the samples shown (this.captioned: to the captions written)
    const started = performance.now();
    const view = this.view;
    const drawn = [];
    try {
      for (const [k, m] of this.models.entries()) {
        const prior = view.models[k].prior;
        const z = samplePrior(prior, n, new Rng(seed * 7919 + k));
        const { probs } = await decodeBatch(this.ort, m, z, sampleLabels(prior, n));
        const figure = panel(`${m.label} · ${view.models[k].sampled_from}`, tiles(probs, n, Math.ceil(Math.sqrt(n)), { scale: 1.5 }));
        drawn.push({ figure, probs });
      }
    } catch (e) {
      this.status.textContent = `Could not sample (${e.message}).`;
      return null;
    }
    if (view !== this.view) return null;
    this.out.replaceChildren(...drawn.map((d) => d.figure));
    this.status.textContent = "";
    const ms = performance.now() - started;
    this.times.push(ms);
    await this.caption(drawn, n);
    this.captioned = performance.now() - started;
    return ms;
  }

  async caption(drawn, n) {
    // each title: how many of its samples the classifier is over SURE sure of (one batch for all models)
    const all = new Float32Array(drawn.length * n * PIXELS);
    drawn.forEach((d, k) => all.set(d.probs, k * n * PIXELS));
    const verdicts = await classifyBatch(this.ort, this.view, all);
    if (!verdicts) return;
    const classes = verdicts.length / (drawn.length * n);
    drawn.forEach((d, k) => {
      const count = confident(verdicts.subarray(k * n * classes, (k + 1) * n * classes), n, this.view.views.sure);
      d.figure.querySelector(".lv-title").textContent += ` · ${count} of ${n} look like a digit`;
    });
  }

  async interpolate() {
    const i = Number(this.from.value);
    const j = Number(this.to.value);
    const n = this.view.test_count;
    if (![i, j].every((v) => Number.isInteger(v) && v >= 0 && v < n)) {
      this.lines.textContent = `Test indices must be between 0 and ${n - 1}.`;
      return;
    }
    const sprite = await loadImage(this.view.sprite);
    const ends = testImages(sprite, [i, j]);
    const first = new Float32Array(INTERPOLATION_STEPS * PIXELS);
    first.set(ends.subarray(0, PIXELS));
    first.set(ends.subarray(PIXELS), (INTERPOLATION_STEPS - 1) * PIXELS);
    const rows = [row(`#${i} to #${j}`, tiles(first, INTERPOLATION_STEPS, INTERPOLATION_STEPS, { gap: 2 }))];
    for (const m of this.models) {
      const { z, labels } = interpolationCodes(m, i, j, INTERPOLATION_STEPS);
      const { probs } = await decodeBatch(this.ort, m, z, labels);
      rows.push(row(m.label, tiles(probs, INTERPOLATION_STEPS, INTERPOLATION_STEPS, { gap: 2 })));
    }
    this.lines.replaceChildren(...rows);
  }
}

export function row(name, picture, notes) {
  // a named row of digits (a table's line: its name left, the digits, notes under them)
  const line = el("div", "lv-row");
  const cell = el("div", "lv-row-pics");
  cell.append(picture);
  if (notes) {
    const under = el("div", "lv-notes");
    under.style.width = picture.style.width;
    notes.forEach((t) => under.append(el("span", null, t)));
    cell.append(under);
  }
  line.append(el("div", "lv-row-name", name), cell);
  return line;
}

export const mount = mountWith("samples", (element) => new Samples(element));
