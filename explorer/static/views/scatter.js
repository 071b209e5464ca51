// The scatter of the test codes, in the page: every shown model's 10,000 test digits at their plane coordinates,
// coloured by their true digit; the wheel zooms, a drag pans, a double click resets; hovering shows the digit's own
// image (from the sprite of test digits), its class and index. mount(element, props) with props.value page_views'
// views_json; window.latentViews.scatter is this component.

import { drawAxes } from "../draw.js";
import { nearest, planeRect, toCanvas } from "../rules.js";
import { el, loadImage, loadModels, mountWith, panel, SIDE } from "./common.js";

const KEY = "Digit colors: ";

const SIZE = 400; // css px of a scatter, its axes included (the live planes' margins: view.rules.margins)
const DOT = 1.6; // px radius of a point
const ZOOM = 1.15; // per wheel step
const HOVER_PX = 8; // a point within this many css px of the pointer is hovered
const SHOWN = 84; // px of the hovered digit

class Scatter {
  constructor(element) {
    this.root = element;
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    this.tip = el("div", "lv-tip");
    this.tipCanvas = Object.assign(el("canvas"), { width: SIDE, height: SIDE });
    this.tipCanvas.style.cssText = `width: ${SHOWN}px; height: ${SHOWN}px; image-rendering: pixelated;`;
    this.tipText = el("div");
    this.tip.append(this.tipCanvas, this.tipText);
    this.out = el("div", "lv-panels");
    const key = el("div", "lv-caption", KEY);
    view.palette.forEach((color, d) => {
      const dot = el("span", "lv-key", "\u25cf");
      dot.style.color = color;
      key.append(dot, document.createTextNode(` ${d}  `));
    });
    this.root.append(key, this.out, this.tip);
    const models = await loadModels(view);
    if (view !== this.view) return;
    this.plots = models.map((m) => this.plot(m));
    this.out.replaceChildren(...this.plots.map((p) => panel(p.model.title || p.model.label, p.canvas)));
    this.plots.forEach((p) => this.paint(p));
  }

  plot(model) {
    const canvas = el("canvas", "lv-scatter");
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(SIZE * dpr);
    canvas.height = Math.round(SIZE * dpr);
    canvas.style.width = `${SIZE}px`;
    canvas.style.height = `${SIZE}px`;
    const p = { model, canvas, dpr, extent: [...model.extent], rect: planeRect(SIZE, this.view.rules.margins) };
    canvas.addEventListener("wheel", (e) => { e.preventDefault(); this.zoom(p, e); }, { passive: false });
    canvas.addEventListener("dblclick", () => { p.extent = [...model.extent]; this.paint(p); });
    let drag = null;
    canvas.addEventListener("pointerdown", (e) => { drag = [e.offsetX, e.offsetY]; });
    canvas.addEventListener("pointerup", () => { drag = null; });
    canvas.addEventListener("pointerleave", () => { drag = null; this.tip.style.display = "none"; });
    canvas.addEventListener("pointermove", (e) => {
      if (drag) {
        this.pan(p, e.offsetX - drag[0], e.offsetY - drag[1]);
        drag = [e.offsetX, e.offsetY];
      } else {
        this.hover(p, e);
      }
    });
    return p;
  }

  toPlane(p, u, v) {
    const [xmin, xmax, ymin, ymax] = p.extent;
    const { left, top, side } = p.rect;
    return [xmin + ((u - left) / side) * (xmax - xmin), ymax - ((v - top) / side) * (ymax - ymin)];
  }

  zoom(p, e) {
    const [x, y] = this.toPlane(p, e.offsetX, e.offsetY);
    const f = e.deltaY > 0 ? ZOOM : 1 / ZOOM;
    const [xmin, xmax, ymin, ymax] = p.extent;
    p.extent = [x + (xmin - x) * f, x + (xmax - x) * f, y + (ymin - y) * f, y + (ymax - y) * f];
    this.paint(p);
  }

  pan(p, du, dv) {
    const [xmin, xmax, ymin, ymax] = p.extent;
    const dx = (du / p.rect.side) * (xmax - xmin);
    const dy = (dv / p.rect.side) * (ymax - ymin);
    p.extent = [xmin - dx, xmax - dx, ymin + dy, ymax + dy];
    this.paint(p);
  }

  paint(p) {
    const g = p.canvas.getContext("2d");
    g.setTransform(p.dpr, 0, 0, p.dpr, 0, 0);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, SIZE, SIZE);
    const { xy, labels } = p.model.arrays;
    const palette = this.view.palette;
    const { left, top, side } = p.rect;
    g.save();
    g.beginPath();
    g.rect(left, top, side, side);
    g.clip();
    g.globalAlpha = 0.6;
    for (let i = 0; i < labels.length; i++) {
      const [u, v] = toCanvas(p.extent, p.rect, xy[2 * i], xy[2 * i + 1]);
      g.fillStyle = palette[labels[i] % palette.length];
      g.fillRect(u - DOT, v - DOT, 2 * DOT, 2 * DOT);
    }
    g.restore();
    drawAxes(g, p.rect, SIZE, p.extent, p.model.axes, 1, (x, y) => toCanvas(p.extent, p.rect, x, y));
  }

  async hover(p, e) {
    const [x, y] = this.toPlane(p, e.offsetX, e.offsetY);
    const { index, d2 } = nearest(p.model.arrays.xy, x, y);
    const px = (Math.sqrt(d2) / (p.extent[1] - p.extent[0])) * p.rect.side;
    if (px > HOVER_PX) {
      this.tip.style.display = "none";
      return;
    }
    const sprite = await loadImage(this.view.sprite);
    const cols = sprite.naturalWidth / SIDE;
    const g = this.tipCanvas.getContext("2d");
    g.drawImage(sprite, (index % cols) * SIDE, Math.floor(index / cols) * SIDE, SIDE, SIDE, 0, 0, SIDE, SIDE);
    this.tipText.textContent = `digit ${p.model.arrays.labels[index]} · test #${index}`;
    this.tip.style.left = `${e.clientX + 18}px`;
    this.tip.style.top = `${e.clientY + 14}px`;
    this.tip.style.display = "block";
    this.lastIndex = index;
  }
}

export const mount = mountWith("scatter", (element) => new Scatter(element));
