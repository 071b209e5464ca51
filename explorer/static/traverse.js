// Latent traversal sliders: one slider per latent dim (up to 16) around a code; every move decodes the edited
// code in the page with the model's exported decoder (the same ONNX Runtime Web and sessions as the live
// planes: explorer/static/ort.js). The server draws the full traversal grid (actions.traversal) and
// sends this component its code, each dim's sigma and the rows' order (explorer/ui.py traverse).

import { el } from "./dom.js";
import { runtime, session } from "./ort.js";

const SIZE = 168; // px of the decoded digit

class TraverseSliders {
  constructor(element) {
    this.root = element;
    this.view = null;
    this.z = null;
    this.busy = false;
    this.again = false;
  }

  async setView(value) {
    let view;
    try {
      view = typeof value === "string" ? JSON.parse(value || "null") : value;
    } catch (e) {
      view = null;
    }
    this.root.innerHTML = "";
    this.view = view;
    if (!view || !view.order) return;
    const box = el("div", "lt-box");
    const head = el("div", "lt-head", `${view.title}: move a slider, the digit is decoded in your browser`);
    this.canvas = el("canvas", "lt-digit");
    this.canvas.width = 28;
    this.canvas.height = 28;
    this.canvas.style.width = `${SIZE}px`;
    this.canvas.style.height = `${SIZE}px`;
    this.note = el("div", "lt-note");
    const sliders = el("div", "lt-sliders");
    this.z = Float32Array.from(view.z0);
    this.inputs = view.order.map((j) => {
      const row = el("label", "lt-row");
      const name = el("span", "lt-name", view.kl ? `z${j + 1} · KL ${view.kl[j].toFixed(2)}` : `z${j + 1}`);
      const input = el("input", "lt-range");
      input.type = "range";
      input.min = String(-view.span);
      input.max = String(view.span);
      input.step = "0.05";
      input.value = "0";
      input.setAttribute("aria-label", `latent dim ${j + 1}, in sigmas`);
      const shown = el("span", "lt-value", "+0.0σ");
      input.addEventListener("input", () => {
        this.z[j] = view.z0[j] + Number(input.value) * view.scale[j];
        this.moved = j; // the note names it, whichever dim it is
        shown.textContent = `${Number(input.value) >= 0 ? "+" : ""}${Number(input.value).toFixed(1)}σ`;
        this.decode();
      });
      row.append(name, input, shown);
      sliders.append(row);
      return input;
    });
    const reset = el("button", "lt-reset", "Reset");
    reset.type = "button";
    reset.addEventListener("click", () => {
      this.z = Float32Array.from(view.z0);
      this.inputs.forEach((i) => { i.value = "0"; i.dispatchEvent(new Event("input")); });
    });
    const left = el("div", "lt-left");
    left.append(this.canvas, this.note, reset);
    box.append(head, el("div", "lt-body"));
    box.lastChild.append(left, sliders);
    this.root.append(box);
    if (!view.onnx) {
      this.note.textContent = "live decoding for this model is being prepared: draw the grid meanwhile";
      return;
    }
    try {
      this.ort = await runtime(view.ort);
      this.session = await session(this.ort, view.onnx);
    } catch (e) {
      this.note.textContent = `no live decoding in this browser (${e.message}); the grid above shows the traversal`;
      return;
    }
    this.decode();
  }

  async decode() {
    if (!this.session) return;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    try {
      do {
        this.again = false;
        const v = this.view;
        const feeds = { z: new this.ort.Tensor("float32", Float32Array.from(this.z), [1, v.latent_dim]) };
        if (v.conditional) {
          const onehot = new Float32Array(v.num_classes);
          onehot[v.label] = 1;
          feeds.label = new this.ort.Tensor("float32", onehot, [1, v.num_classes]);
        }
        const out = await this.session.run(feeds);
        this.paint(out.probs.data);
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  paint(probs) {
    const g = this.canvas.getContext("2d");
    const img = g.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round((1 - Math.min(Math.max(probs[i], 0), 1)) * 255);
      img.data[4 * i] = v; img.data[4 * i + 1] = v; img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
    }
    g.putImageData(img, 0, 0);
    this.lastImage = Array.from(probs);
    this.note.textContent = `z = (${Array.from(this.z.slice(0, 4), (v) => v.toFixed(2)).join(", ")}` +
      `${this.z.length > 4 ? ", \u2026" : ""})` +
      (this.moved >= 4 ? ` \u00b7 z${this.moved + 1} = ${this.z[this.moved].toFixed(2)}` : "");
  }
}

export function mount(element, props, trigger, watch) {
  const sliders = new TraverseSliders(element);
  window.latentTraverse = sliders; // the one object of this component, for tests
  sliders.setView(props.value);
  watch("value", () => sliders.setView(props.value));
  return sliders;
}
