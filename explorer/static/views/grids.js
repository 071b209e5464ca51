// Manifold grids, in the page: an N x N batch of codes through each shown model's decoder, over its plane
// (actions.manifold_grid: the plane's inverse at the grid's cell centres) or, for a 2-D VAE with the N(0, I) prior,
// through Gaussian quantiles (Kingma & Welling's Fig. 4). mount(element, props) with props.value page_views'
// views_json; window.latentViews.grids is this component (for tests and benchmarks).

import { inverse } from "../rules.js";
import { decodeBatch, el, field, input, labelFor, loadModels, mountWith, ortOf, panel, tiles } from "./common.js";
import { probit } from "./quantiles.js";

const SIZES = { min: 5, max: 25, initial: 15 }; // the grid's cells per side (explorer/ui/grids.py's slider)

export function gridCenters(extent, n) {
  // render.Geometry.grid_centers: the centres of n x n cells over the plane, row-major from the top
  const [xmin, xmax, ymin, ymax] = extent;
  const out = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) out.push([xmin + ((c + 0.5) / n) * (xmax - xmin), ymax - ((r + 0.5) / n) * (ymax - ymin)]);
  }
  return out;
}

export function quantileCodes(n, d, range) {
  // actions.manifold_grid(quantiles=True): x = Φ⁻¹ of n evenly spaced probabilities, y the same from the top
  const q = Array.from({ length: n }, (_, i) => probit(range[0] + ((range[1] - range[0]) * i) / (n - 1)));
  const z = new Float32Array(n * n * d);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      z[(r * n + c) * d] = q[c];
      if (d > 1) z[(r * n + c) * d + 1] = q[n - 1 - r];
    }
  }
  return z;
}

export function gridCodes(model, n) {
  const d = model.latent_dim;
  const z = new Float32Array(n * n * d);
  gridCenters(model.extent, n).forEach(([x, y], i) => z.set(inverse(model, x, y), i * d));
  return z;
}

class Grids {
  constructor(element) {
    this.root = element;
    this.times = [];
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    const bar = el("div", "lv-bar");
    this.size = input("range", { min: SIZES.min, max: SIZES.max, step: 1, value: this.size ? this.size.value : SIZES.initial });
    const shown = el("span", "lv-value", this.size.value);
    this.size.addEventListener("input", () => { shown.textContent = this.size.value; });
    this.size.addEventListener("change", () => this.draw());
    this.quantiles = input("checkbox", { checked: Boolean(this.quantiles && this.quantiles.checked) });
    this.quantiles.addEventListener("change", () => this.draw());
    const draw = el("button", "lv-primary", "Draw grids");
    draw.type = "button";
    draw.addEventListener("click", () => this.draw());
    const sizeBox = field("Grid size", this.size);
    sizeBox.append(shown);
    bar.append(sizeBox, field("VAE: through Gaussian quantiles", this.quantiles), draw);
    this.status = el("div", "lv-status");
    this.out = el("div", "lv-panels");
    this.root.append(bar, this.status, this.out);
    this.models = await loadModels(view);
    this.ort = await ortOf(view);
    if (view === this.view) await this.draw();
  }

  async draw(n = Number(this.size.value), quantiles = this.quantiles.checked) {
    // every shown model's grid, each painted as soon as it is decoded; returns the ms from the call to the last
    // (this.first: to the first)
    const started = performance.now();
    const view = this.view;
    const token = (this.drawing = {});
    const panels = this.models.map(() => null);
    try {
      for (const [k, m] of this.models.entries()) {
        const q = quantiles && view.models.find((v) => v.key === m.key).quantiles;
        const z = q ? quantileCodes(n, m.latent_dim, view.views.quantile_range) : gridCodes(m, n);
        const label = labelFor(m, view.label);
        const { probs } = await decodeBatch(this.ort, m, z, label);
        let title = `${m.label} · ${q ? "Gaussian quantiles" : `${m.view} plane`}`;
        if (label !== null) title += ` · ${m.clustered ? "cluster" : "label"} ${label}`;
        if (view !== this.view || token !== this.drawing) return null; // a newer draw took over
        panels[k] = panel(title, tiles(probs, n * n, n, { scale: 1 }));
        if (k === 0) this.first = performance.now() - started;
        this.out.replaceChildren(...panels.filter(Boolean), ...[...this.out.children].slice(k + 1));
      }
    } catch (e) {
      this.status.textContent = `Could not draw the grids (${e.message}).`;
      return null;
    }
    this.status.textContent = "";
    const ms = performance.now() - started;
    this.times.push(ms);
    return ms;
  }
}

export const mount = mountWith("grids", (element) => new Grids(element));
