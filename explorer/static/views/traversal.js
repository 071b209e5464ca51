// Latent traversal, in the page: one row per latent dim of a shown model, from -span to +span σ around a test
// digit's code or the pinned point (actions.traversal: rows ordered by mean KL for VAEs), and a slider per dim that
// decodes the edited code live (traverse.js). mount(element, props) with props.value page_views' views_json;
// window.latentViews.traversal is this component.

import { mount as mountSliders } from "../traverse.js";
import { linkTargets } from "../rules.js";
import { decodeBatch, el, field, input, loadModels, mountWith, ortOf, tiles } from "./common.js";
import { row } from "./samples.js";

const SPAN = { min: 1, max: 5, step: 0.5, initial: 3 };
const STEPS = { min: 5, max: 15, initial: 11 };

export function traversalCodes(z0, order, scale, span, steps) {
  // (rows * steps) codes: z0 with dim order[r] moved by linspace(-span, span, steps) of its σ
  const d = z0.length;
  const offsets = Array.from({ length: steps }, (_, s) => Math.fround(-span + (2 * span * s) / (steps - 1)));
  const z = new Float32Array(order.length * steps * d);
  order.forEach((j, r) => {
    for (let s = 0; s < steps; s++) {
      z.set(z0, (r * steps + s) * d);
      z[(r * steps + s) * d + j] = Math.fround(z0[j] + Math.fround(offsets[s] * scale[j]));
    }
  });
  return { z, offsets };
}

function choice(select, value, text) {
  select.append(Object.assign(el("option", null, text), { value }));
}

class Traversal {
  constructor(element) {
    this.root = element;
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    const was = this.model ? this.model.value : null;
    this.model = el("select");
    view.models.forEach((m, k) => choice(this.model, String(k), m.label));
    if (was !== null && Number(was) < view.models.length) this.model.value = was;
    const kept = (name, initial) => (this[name] ? this[name].value : initial); // a new view keeps what was typed
    const source = kept("source", "test digit");
    this.source = el("select");
    ["test digit", "pinned point"].forEach((s) => choice(this.source, s, s));
    this.source.value = source;
    this.index = input("number", { min: 0, max: view.test_count - 1, value: kept("index", 0) });
    this.span = input("number", { min: SPAN.min, max: SPAN.max, step: SPAN.step, value: kept("span", SPAN.initial) });
    this.steps = input("number", { min: STEPS.min, max: STEPS.max, step: 1, value: kept("steps", STEPS.initial) });
    for (const control of [this.model, this.source]) control.addEventListener("change", () => this.draw()); // at once
    const go = el("button", "lv-primary", "Draw traversal");
    go.type = "button";
    go.addEventListener("click", () => this.draw());
    const bar = el("div", "lv-bar");
    bar.append(field("Model", this.model), field("Around", this.source), field("Test digit #", this.index),
      field("Span (σ)", this.span), field("Steps", this.steps), go);
    this.caption = el("div", "lv-caption");
    this.sliders = el("div", "lv-sliders");
    this.rows = el("div", "lv-rows");
    this.root.append(bar, this.caption, this.sliders, this.rows);
    this.models = await loadModels(view);
    this.ort = await ortOf(view);
    if (view === this.view) await this.draw();
  }

  around(k) {
    // the code to move around, its label and what it is: test digit #i's, or the pinned point's as the planes link it
    const m = this.models[k];
    const d = m.latent_dim;
    const live = window.latentExplorer;
    if (this.source.value === "pinned point") {
      const pin = (live && live.pinned) || this.view.pinned;
      const link = (live && live.view && live.view.link) || this.view.link;
      const t = linkTargets(this.models, Math.min(pin.model, this.models.length - 1), pin.x, pin.y, link, this.view.label)[k];
      return { z0: Float32Array.from(t.z), label: t.label, where: `the pinned point (${t.how})` };
    }
    const i = Number(this.index.value);
    if (!(Number.isInteger(i) && i >= 0 && i < this.view.test_count)) throw new Error(`the test digit # must be between 0 and ${this.view.test_count - 1}`);
    const label = m.conditional ? (m.arrays.label_of || m.arrays.labels)[i] : null;
    return { z0: m.arrays.latents.slice(i * d, (i + 1) * d), label, where: `test digit #${i}` };
  }

  async draw() {
    if (!this.models || this.models.length !== this.view.models.length) return; // still loading this view's models
    const k = Number(this.model.value);
    const m = this.models[k];
    const info = this.view.models[k].traversal;
    const span = Number(this.span.value);
    const steps = Math.round(Number(this.steps.value));
    let at;
    try {
      if (!(span > 0 && span <= 10 && steps >= 2 && steps <= 25)) throw new Error("span must be in (0, 10] σ and steps between 2 and 25");
      at = this.around(k);
    } catch (e) {
      this.caption.textContent = e.message;
      return;
    }
    const { z, offsets } = traversalCodes(at.z0, info.order, info.scale, span, steps);
    const { probs } = await decodeBatch(this.ort, m, z, at.label);
    const rows = info.order.map((j, r) => {
      const name = `z${j + 1}` + (info.kl ? ` · KL ${info.kl[j].toFixed(2)}` : "");
      const notes = r === info.order.length - 1 ? offsets.map((v) => `${v >= 0 ? "+" : ""}${v.toFixed(1)}`) : null;
      return row(name, tiles(probs.subarray(r * steps * 784, (r + 1) * steps * 784), steps, steps, { gap: 2 }), notes);
    });
    this.rows.replaceChildren(...rows);
    this.caption.textContent = this.describe(m, info, at.where, span);
    this.slidersFor(m, info, at, span);
  }

  describe(m, info, where, span) {
    const scale = info.scale.every((v) => v === 1) ? "σ of N(0, I)" : "σ of the test codes";
    let text = `${m.label} around ${where}: one row per latent dim, from −${span} to +${span} σ (${scale})`;
    if (info.kl) {
      const limit = this.view.views.collapsed_kl;
      const collapsed = info.order.filter((j) => info.kl[j] < limit).map((j) => `z${j + 1}`);
      text += ". Rows are ordered by each dim's mean KL over the test split (nats): the top ones carry the digit, " +
        (collapsed.length ? `${collapsed.join(", ")} collapsed to the prior (KL < ${limit}): moving them changes nothing.`
          : "none collapsed to the prior.");
    }
    return text;
  }

  slidersFor(m, info, at, span) {
    // the sliders decode an edited code live (traverse.js); a kept browser model has no exported decoder
    this.sliders.innerHTML = "";
    if (!m.onnx) return;
    const value = { title: m.label, latent_dim: m.latent_dim, z0: Array.from(at.z0), scale: info.scale,
      order: info.order, span, kl: info.kl, conditional: m.conditional, num_classes: m.num_classes, label: at.label,
      onnx: m.onnx, ort: this.view.ort };
    mountSliders(this.sliders, { value: JSON.stringify(value) }, () => {}, () => {});
  }
}

export const mount = mountWith("traversal", (element) => new Traversal(element));
