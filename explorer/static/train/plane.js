// The plane of a model's codes, computed the same way in the worker and the page: identity for 2-D codes, PCA
// (explorer.projection.PCA2D: mean and two main axes) above; its extent as explorer.registry._extent; and the
// decoder in plain JS for hovering (one point is ~0.5 M multiply-adds: about a millisecond).

import { meanAndScatter } from "./spec.js";

export function pcaAxes(codes, d) { // -> {mean: Float64Array(d), components: [Float64Array(d), Float64Array(d)]}
  const { mean, scatter: cov } = meanAndScatter(codes, d); // the covariance's axes, up to its scale
  const components = [];
  for (let c = 0; c < 2; c++) { // power iteration, deflating the first axis
    let v = Float64Array.from({ length: d }, (_, j) => 1 + j * 0.01);
    for (let it = 0; it < 300; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a] += cov[a * d + b] * v[b];
      for (const u of components) {
        const dot = w.reduce((s, x, j) => s + x * u[j], 0);
        for (let j = 0; j < d; j++) w[j] -= dot * u[j];
      }
      const norm = Math.hypot(...w) || 1;
      v = w.map((x) => x / norm);
    }
    const big = v.reduce((best, x, j) => (Math.abs(x) > Math.abs(v[best]) ? j : best), 0);
    if (v[big] < 0) v = v.map((x) => -x); // a fixed sign, so the plane does not flip between snapshots
    components.push(v);
  }
  return { mean, components };
}

export function project(codes, d, inverse) {
  const n = codes.length / d;
  if (inverse.kind === "identity") return Float32Array.from(codes);
  const xy = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (codes[i * d + j] - inverse.mean[j]) * inverse.components[c][j];
      xy[2 * i + c] = s;
    }
  }
  return xy;
}

export function inverseOf(codes, d) {
  if (d === 2) return { kind: "identity", dim: 2 };
  const { mean, components } = pcaAxes(codes, d);
  return { kind: "pca", mean: Array.from(mean), components: components.map((c) => Array.from(c)) };
}

export function unproject(x, y, inverse, d) { // a plane point -> the code it stands for
  if (inverse.kind === "identity") return Float32Array.of(x, y);
  return Float32Array.from({ length: d }, (_, j) => inverse.mean[j] + x * inverse.components[0][j] +
    y * inverse.components[1][j]);
}

function percentile(sorted, q) {
  const at = (sorted.length - 1) * q, lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function extentOf(xy, pad = 0.08) { // square, from the 0.2 and 99.8 percentiles
  const xs = [], ys = [];
  for (let i = 0; i < xy.length; i += 2) { xs.push(xy[i]); ys.push(xy[i + 1]); }
  xs.sort((a, b) => a - b);
  ys.sort((a, b) => a - b);
  const lo = [percentile(xs, 0.002), percentile(ys, 0.002)], hi = [percentile(xs, 0.998), percentile(ys, 0.998)];
  const span = Math.max(hi[0] - lo[0], hi[1] - lo[1], 1e-6) * (1 + 2 * pad);
  const cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
  return [cx - span / 2, cx + span / 2, cy - span / 2, cy + span / 2];
}

// sigmoid(decoder(z)) with the decoder's weights in torch's layout (decoder.net.{0,2,4}.weight is (out, in)).
export function decodeWith(weights, z, activation = "elu") {
  let h = Float32Array.from(z);
  const names = Object.keys(weights).filter((k) => k.endsWith(".weight")).sort((a, b) => layerIndex(a) - layerIndex(b));
  names.forEach((name, layer) => {
    const w = weights[name], b = weights[name.replace(/weight$/, "bias")];
    const fanIn = h.length, fanOut = b.length, out = new Float32Array(fanOut);
    for (let o = 0; o < fanOut; o++) {
      let s = b[o];
      const row = o * fanIn;
      for (let i = 0; i < fanIn; i++) s += w[row + i] * h[i];
      const last = layer === names.length - 1;
      out[o] = last ? 1 / (1 + Math.exp(-s)) : activation === "elu" ? (s > 0 ? s : Math.expm1(s)) :
        activation === "relu" ? Math.max(s, 0) : (s > 0 ? s : 0.01 * s);
    }
    h = out;
  });
  return h;
}

function layerIndex(name) {
  return Number(name.split(".").at(-2));
}
