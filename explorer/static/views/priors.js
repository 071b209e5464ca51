// Drawing codes from a model's prior in the page, from the parameters the server sends (page_views.prior_json):
// what each model's sample_latent draws (trainer/priors.py, trainer/models/*.py). The same distributions, not the
// same draws: tests/test_page_views.py checks their moments over 10,000 draws against torch's.

import { Rng } from "../train/spec.js";

export { Rng };

function normals(rng, n) {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

function affine(mean, tril, eps, out, at) {
  // out[at..] = mean + L eps (L lower-triangular, rows as lists)
  const d = mean.length;
  for (let r = 0; r < d; r++) {
    let v = mean[r];
    for (let c = 0; c <= r; c++) v += tril[r][c] * eps[c];
    out[at + r] = v;
  }
}

function pickComponent(rng, weights) {
  let u = rng.uniform();
  for (let k = 0; k < weights.length; k++) {
    u -= weights[k];
    if (u < 0) return k;
  }
  return weights.length - 1;
}

function softmax(logits) {
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

function pattern(prior, rng, label) {
  // the 2-D part of an AAE's mixture10 or swissroll code for one component
  const c = prior.num_classes;
  if (prior.kind === "mixture10") {
    const along = rng.normal() * prior.petal.long_std + prior.petal.shift;
    const across = rng.normal() * prior.petal.short_std;
    const angle = (2 * Math.PI * label) / c;
    return [along * Math.cos(angle) - across * Math.sin(angle), along * Math.sin(angle) + across * Math.cos(angle)];
  }
  const u = (rng.uniform() + label) / c;
  const radius = Math.sqrt(u) * prior.roll.radius;
  const angle = 2 * Math.PI * prior.roll.turns * Math.sqrt(u);
  return [radius * Math.cos(angle), radius * Math.sin(angle)];
}

export function sampleLabels(prior, n) {
  // the label each of n samples decodes with (i % label_count), or null for a model that takes none
  return prior.labels ? Array.from({ length: n }, (_, i) => i % prior.label_count) : null;
}

export function samplePrior(prior, n, rng) {
  // n codes (Float32Array n * dim) from the prior
  const d = prior.dim;
  const z = new Float32Array(n * d);
  const weights = prior.kind === "mixture" ? softmax(prior.logits) : null;
  for (let i = 0; i < n; i++) {
    if (prior.kind === "normal") {
      for (let j = 0; j < d; j++) z[i * d + j] = rng.normal();
    } else if (prior.kind === "gaussian") {
      affine(prior.mean, prior.scale_tril, normals(rng, d), z, i * d);
    } else if (prior.kind === "mixture") {
      const k = pickComponent(rng, weights);
      affine(prior.means[k], prior.scale_tril[k], normals(rng, d), z, i * d);
    } else if (prior.kind === "mixture10" || prior.kind === "swissroll") {
      const label = prior.labels === "guided" ? i % prior.num_classes : Math.floor(rng.uniform() * prior.num_classes);
      const xy = pattern(prior, rng, label);
      for (let j = 0; j < d; j++) z[i * d + j] = j < 2 ? xy[j] : rng.normal();
    } else {
      throw new Error(`no prior of kind ${prior.kind}`);
    }
  }
  return z;
}
