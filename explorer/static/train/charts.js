// Live training curves drawn on canvas: one small chart per loss term, every model of a race overlaid on the
// same axes (its raw step values faint, an exponential moving average on top, as explorer/plots.py draws them).

export const LANE_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]; // explorer/plots.py RACE_COLORS
export const TERM_ORDER = ["loss", "neg_elbo", "recon", "kl", "disc", "gen"];
export const TERM_TITLES = {
  loss: "loss (what is minimised)", neg_elbo: "−ELBO (nats/image)", recon: "reconstruction (nats/image)",
  kl: "KL (nats/image, unweighted)", disc: "discriminator (BCE)", gen: "generator (BCE)",
};
const SMOOTHING = 0.8; // per step: a curve of ~80 points per epoch

export class Charts {
  constructor(root) {
    this.root = root;
    this.series = new Map(); // term -> lane -> [[step, value], ...]
    this.canvases = new Map();
    this.names = [];
    this.pending = false;
  }

  reset(laneNames) {
    this.series.clear();
    this.canvases.clear();
    this.root.innerHTML = "";
    this.names = laneNames;
  }

  add(lane, rows) {
    for (const row of rows) {
      for (const term of TERM_ORDER) {
        if (!(term in row)) continue;
        if (!this.series.has(term)) this.series.set(term, new Map());
        const byLane = this.series.get(term);
        if (!byLane.has(lane)) byLane.set(lane, []);
        byLane.get(lane).push([row.step, row[term]]);
      }
    }
    this.schedule();
  }

  schedule() { // at most one redraw per frame, however many rows arrive
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  canvasFor(term) {
    if (!this.canvases.has(term)) {
      const box = document.createElement("figure");
      box.className = "tb-chart";
      const title = document.createElement("figcaption");
      title.textContent = TERM_TITLES[term];
      const canvas = document.createElement("canvas");
      canvas.dataset.term = term;
      box.append(title, canvas);
      const at = TERM_ORDER.indexOf(term);
      const after = [...this.root.children].find((c) => TERM_ORDER.indexOf(c.querySelector("canvas").dataset.term) > at);
      this.root.insertBefore(box, after || null);
      this.canvases.set(term, canvas);
    }
    return this.canvases.get(term);
  }

  draw() {
    for (const [term, byLane] of this.series) drawChart(this.canvasFor(term), byLane);
  }
}

function ema(values) {
  const out = [];
  let s = null;
  for (const v of values) {
    s = s === null ? v : SMOOTHING * s + (1 - SMOOTHING) * v;
    out.push(s);
  }
  return out;
}

// The y range that shows the curves, not the first steps' spike: 2nd to 100th percentile of smoothed values.
function yRange(byLane) {
  const all = [];
  for (const points of byLane.values()) all.push(...ema(points.map((p) => p[1])).slice(Math.min(3, points.length - 1)));
  all.sort((a, b) => a - b);
  let lo = all[Math.floor(all.length * 0.02)], hi = all[all.length - 1];
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function drawChart(canvas, byLane) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 260, height = canvas.clientHeight || 130;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const left = 44, right = 6, top = 6, bottom = 18;
  let maxStep = 1;
  for (const points of byLane.values()) maxStep = Math.max(maxStep, points[points.length - 1][0]);
  const [lo, hi] = yRange(byLane);
  const sx = (s) => left + (s / maxStep) * (width - left - right);
  const sy = (v) => top + (1 - (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * (height - top - bottom);
  g.font = "10px system-ui, sans-serif";
  g.fillStyle = "#555";
  g.strokeStyle = "#e3e3e3";
  g.lineWidth = 1;
  for (const f of [0, 0.5, 1]) {
    const v = lo + f * (hi - lo);
    g.beginPath();
    g.moveTo(left, sy(v));
    g.lineTo(width - right, sy(v));
    g.stroke();
    g.textAlign = "right";
    g.fillText(formatValue(v), left - 4, sy(v) + 3);
  }
  g.textAlign = "center";
  g.fillText(`step ${maxStep}`, width - right - 24, height - 4);
  for (const [lane, points] of byLane) {
    const color = LANE_COLORS[lane % LANE_COLORS.length];
    line(g, points.map((p) => [sx(p[0]), sy(p[1])]), color, 0.25, 1);
    const smooth = ema(points.map((p) => p[1]));
    line(g, points.map((p, i) => [sx(p[0]), sy(smooth[i])]), color, 1, 2);
  }
}

function line(g, xy, color, alpha, width) {
  if (!xy.length) return;
  g.globalAlpha = alpha;
  g.strokeStyle = color;
  g.lineWidth = width;
  g.beginPath();
  xy.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
  g.stroke();
  g.globalAlpha = 1;
}

function formatValue(v) {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}
