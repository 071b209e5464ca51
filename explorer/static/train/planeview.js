// One model's live latent plane: the test digits' codes coloured by digit (explorer/render.py PALETTE), redrawn
// at each snapshot the worker sends; hovering decodes the point under the pointer with the snapshot's decoder
// (plain JS on this thread: a step holds the worker for tens of milliseconds) and shows the digit.

import { decodeWith, unproject } from "./plane.js";

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf"];
const SIZE = 260; // css px of a plane
const DIGIT = 84; // css px of the decoded digit

export class PlaneView {
  constructor(root, title, color) {
    this.box = document.createElement("figure");
    this.box.className = "tb-plane";
    this.caption = document.createElement("figcaption");
    this.caption.style.borderColor = color;
    this.title = title;
    this.caption.textContent = title;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "tb-plane-canvas";
    this.digit = document.createElement("canvas");
    this.digit.className = "tb-digit";
    this.digit.width = this.digit.height = 28;
    this.note = document.createElement("div");
    this.note.className = "tb-note";
    this.note.textContent = "hover the plane: decoded with the weights as they train";
    const row = document.createElement("div");
    row.className = "tb-plane-row";
    const side = document.createElement("div");
    side.className = "tb-plane-side";
    side.append(this.digit, this.note);
    row.append(this.canvas, side);
    this.box.append(this.caption, row);
    root.append(this.box);
    this.snapshot = null;
    this.extent = null;
    this.hover = null;
    this.times = []; // hover repaint durations (ms), for benchmarks/browser_train.py
    this.canvas.addEventListener("pointermove", (e) => this.onHover(e));
    this.canvas.addEventListener("pointerleave", () => { this.hover = null; this.draw(); });
  }

  show(snapshot, extent) {
    this.snapshot = snapshot;
    this.extent = extent;
    const what = snapshot.inverse.kind === "pca" ? " · PCA of the codes" : "";
    this.caption.textContent = `${this.title}${what} · step ${snapshot.step}`;
    this.draw();
    if (this.hover) this.decodeAt(this.hover);
  }

  toData(px, py) {
    const [x0, x1, y0, y1] = this.extent;
    return [x0 + (px / SIZE) * (x1 - x0), y1 - (py / SIZE) * (y1 - y0)];
  }

  toPixel(x, y) {
    const [x0, x1, y0, y1] = this.extent;
    return [((x - x0) / (x1 - x0)) * SIZE, ((y1 - y) / (y1 - y0)) * SIZE];
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== SIZE * ratio) {
      this.canvas.width = this.canvas.height = SIZE * ratio;
      this.canvas.style.width = this.canvas.style.height = `${SIZE}px`;
    }
    const g = this.canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, SIZE, SIZE);
    if (!this.snapshot) return;
    const { xy, labels } = this.snapshot;
    drawAxes(g, this.extent, (x, y) => this.toPixel(x, y));
    g.globalAlpha = 0.7;
    for (let i = 0; i < labels.length; i++) {
      const [px, py] = this.toPixel(xy[2 * i], xy[2 * i + 1]);
      g.fillStyle = PALETTE[labels[i] % 10];
      g.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
    g.globalAlpha = 1;
    if (this.hover) {
      const [px, py] = this.toPixel(...this.hover);
      g.strokeStyle = "#222";
      g.lineWidth = 1.5;
      g.strokeRect(px - 5, py - 5, 10, 10);
    }
  }

  onHover(event) {
    if (!this.snapshot) return;
    const rect = this.canvas.getBoundingClientRect();
    this.hover = this.toData(event.clientX - rect.left, event.clientY - rect.top);
    this.decodeAt(this.hover);
  }

  decodeAt([x, y]) {
    const t0 = performance.now();
    const { inverse, decoder, activation, latentDim } = this.snapshot;
    const z = unproject(x, y, inverse, latentDim);
    paintDigit(this.digit, decodeWith(decoder, z, activation));
    this.digit.style.width = this.digit.style.height = `${DIGIT}px`;
    this.note.textContent = `z = (${Array.from(z.slice(0, 3), (v) => v.toFixed(2)).join(", ")}` +
      `${z.length > 3 ? ", …" : ""})`;
    this.draw();
    this.times.push(performance.now() - t0);
    if (this.times.length > 2000) this.times.splice(0, 1000);
  }
}

function drawAxes(g, [x0, x1, y0, y1], toPixel) {
  g.strokeStyle = "#e6e6e6";
  g.lineWidth = 1;
  g.fillStyle = "#777";
  g.font = "10px system-ui, sans-serif";
  const step = niceStep((x1 - x0) / 4);
  for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) {
    const [px] = toPixel(v, y0);
    g.beginPath(); g.moveTo(px, 0); g.lineTo(px, SIZE); g.stroke();
    g.fillText(v.toFixed(step < 1 ? 1 : 0), px + 2, SIZE - 3);
  }
  for (let v = Math.ceil(y0 / step) * step; v <= y1; v += step) {
    const [, py] = toPixel(x0, v);
    g.beginPath(); g.moveTo(0, py); g.lineTo(SIZE, py); g.stroke();
    g.fillText(v.toFixed(step < 1 ? 1 : 0), 2, py - 2);
  }
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
}

export function paintDigit(canvas, probs) {
  const g = canvas.getContext("2d");
  const img = g.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round((1 - Math.min(Math.max(probs[i], 0), 1)) * 255);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}
