// A digit drawn with the mouse, a finger or a pen, made MNIST-like as actions.sketch_to_digit does: the strokes'
// bounding box fitted into 20 x 20, then centred by mass in 28 x 28, scaled to a maximum of 1. (The resize is the
// browser's smoothing, not PIL's Lanczos: close to the server's, not equal to it.)

import { el } from "./common.js";

const CANVAS = 280; // px of the drawing area
const BRUSH = 22; // px, as the app's sketchpad brush
const BOX = 20; // px the strokes' bounding box is fitted into
const INK = 0.05; // below this an ink value is background

export class Sketch {
  constructor(changed) {
    this.box = el("div", "lv-sketch");
    this.canvas = el("canvas", "lv-sketch-canvas");
    this.canvas.width = CANVAS;
    this.canvas.height = CANVAS;
    this.canvas.setAttribute("aria-label", "draw a digit here");
    const clear = el("button", null, "Clear");
    clear.type = "button";
    clear.addEventListener("click", () => { this.clear(); changed(); });
    this.box.append(el("div", "lv-label", "Draw a digit (optional)"), this.canvas, clear);
    this.g = this.canvas.getContext("2d", { willReadFrequently: true });
    this.drawn = false;
    let last = null;
    const at = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return [((e.clientX - r.left) / r.width) * CANVAS, ((e.clientY - r.top) / r.height) * CANVAS];
    };
    this.canvas.addEventListener("pointerdown", (e) => { last = at(e); this.canvas.setPointerCapture(e.pointerId); this.stroke(last, last); });
    this.canvas.addEventListener("pointermove", (e) => { if (last) { const p = at(e); this.stroke(last, p); last = p; } });
    const end = () => { if (last) { last = null; changed(); } };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
  }

  stroke(a, b) {
    const g = this.g;
    g.strokeStyle = "#000";
    g.lineWidth = BRUSH;
    g.lineCap = "round";
    g.beginPath();
    g.moveTo(a[0], a[1]);
    g.lineTo(b[0], b[1]);
    g.stroke();
    this.drawn = true;
  }

  clear() {
    this.g.clearRect(0, 0, CANVAS, CANVAS);
    this.drawn = false;
  }

  digit() {
    // the drawing as 784 values in [0, 1], or null when nothing is drawn
    return this.drawn ? toDigit(this.canvas) : null;
  }
}

export function toDigit(source) {
  // a canvas of dark strokes on a transparent or white background -> 28 x 28 ink in [0, 1] (or null)
  const w = source.width;
  const h = source.height;
  const data = source.getContext("2d").getImageData(0, 0, w, h).data;
  const ink = new Float32Array(w * h);
  let x0 = w, x1 = -1, y0 = h, y1 = -1;
  for (let i = 0; i < w * h; i++) {
    const gray = (data[4 * i] + data[4 * i + 1] + data[4 * i + 2]) / 765;
    ink[i] = (data[4 * i + 3] / 255) * (1 - gray);
    if (ink[i] > INK) {
      const x = i % w, y = Math.floor(i / w);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return null;
  const cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const crop = document.createElement("canvas");
  crop.width = cw;
  crop.height = ch;
  const cg = crop.getContext("2d");
  const img = cg.createImageData(cw, ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) img.data[4 * (y * cw + x) + 3] = Math.round(255 * ink[(y0 + y) * w + x0 + x]);
  cg.putImageData(img, 0, 0);
  const scale = BOX / Math.max(cw, ch);
  const sw = Math.max(1, Math.round(cw * scale)), sh = Math.max(1, Math.round(ch * scale));
  const small = document.createElement("canvas");
  small.width = sw;
  small.height = sh;
  const sg = small.getContext("2d", { willReadFrequently: true });
  sg.imageSmoothingQuality = "high";
  sg.drawImage(crop, 0, 0, sw, sh);
  return centred(sg.getImageData(0, 0, sw, sh).data, sw, sh);
}

function centred(rgba, sw, sh) {
  // the small picture's ink placed in 28 x 28 with its centre of mass (of inked pixels) at the middle
  let n = 0, cy = 0, cx = 0;
  for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) if (rgba[4 * (y * sw + x) + 3] > 0) { n += 1; cy += y; cx += x; }
  cy = n ? cy / n : sh / 2;
  cx = n ? cx / n : sw / 2;
  const top = Math.min(Math.max(Math.round(14 - cy), 0), 28 - sh);
  const left = Math.min(Math.max(Math.round(14 - cx), 0), 28 - sw);
  const out = new Float32Array(784);
  let max = 1e-6;
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const v = rgba[4 * (y * sw + x) + 3] / 255;
      out[(top + y) * 28 + left + x] = v;
      max = Math.max(max, v);
    }
  }
  return out.map((v) => Math.min(Math.max(v / max, 0), 1));
}
