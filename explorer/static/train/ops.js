// The engine's building blocks on @jax-js/jax: the trainer's layers (torch's Linear, ELU, ReLU, LeakyReLU), its
// losses (trainer/losses.py: Bernoulli NLL from logits, BCE against a constant target) and torch's Adam.
// jax-js ops consume their inputs: every reuse takes `.ref` first.

import { numpy as np } from "../vendor/jax-js/index.js";

const ADAM_EPS = 1e-8;

// torch's ELU is expm1 below zero; LeakyReLU slopes 0.01.
export const ACTIVATIONS = {
  elu: (h) => np.where(np.less(h.ref, 0), np.expm1(h.ref), h),
  relu: (h) => np.maximum(h, 0),
  leaky_relu: (h) => np.where(np.less(h.ref, 0), h.ref.mul(0.01), h),
};

export function dense(p, name, h) {
  return np.matmul(h, np.transpose(p[`${name}.weight`].ref)).add(p[`${name}.bias`].ref);
}

// An MLP of `count` linear layers at torch indices 0, 2, 4, ..., the activation between them.
export function mlp(p, prefix, count, h, act) {
  for (let i = 0; i < count; i++) {
    h = dense(p, `${prefix}.${2 * i}`, h);
    if (i < count - 1) h = act(h);
  }
  return h;
}

// log1p(exp(-|l|)) = 2 atanh(s) with s = u / (2 + u), u = exp(-|l|) in (0, 1], so s <= 1/3: eight terms of the
// atanh series are exact to ~3e-9. (jax-js's wasm log1p is off by up to 1.8e-5 relative, which over 784 pixels
// biases a reconstruction term by ~6e-3 nats.)
function softplusOfMinusAbs(l) {
  const u = np.exp(np.negative(np.abs(l)));
  const s = u.ref.div(u.add(2));
  const s2 = s.ref.mul(s.ref);
  let series = np.fullLike(s2.ref, 2 / 17);
  for (let k = 7; k >= 0; k--) series = series.mul(s2.ref).add(2 / (2 * k + 1));
  s2.dispose();
  return s.mul(series);
}

// -log p(x|z) with the decoder's logits, summed over pixels, averaged over the batch (losses.bernoulli_nll):
// max(l, 0) - l x + log1p(exp(-|l|)), which never overflows.
export function bernoulliNll(logits, x) {
  const per = np.maximum(logits.ref, 0).sub(logits.ref.mul(x)).add(softplusOfMinusAbs(logits));
  return np.mean(np.sum(per, 1));
}

// BCE with logits against an all-ones (target 1) or all-zeros batch, averaged (F.binary_cross_entropy_with_logits):
// softplus(-l) or softplus(l).
export function bceConstant(logits, target) {
  const l = target === 1 ? np.negative(logits) : logits;
  return np.mean(np.maximum(l.ref, 0).add(softplusOfMinusAbs(l)));
}

export function pick(weights, prefixes) {
  return Object.fromEntries(Object.entries(weights).filter(([k]) => prefixes.some((p) => k.startsWith(p))));
}

// One Adam step (torch.optim.Adam, no weight decay) on every array of `p`; stepSize = lr / (1 - b1^t) and
// bc2 = sqrt(1 - b2^t) come in as arrays so one compiled graph serves every step.
export function adam(p, g, m, v, stepSize, bc2, [b1, b2]) {
  const out = { p: {}, m: {}, v: {} };
  for (const k of Object.keys(p)) {
    const mk = m[k].mul(b1).add(g[k].ref.mul(1 - b1));
    const vk = v[k].mul(b2).add(g[k].ref.mul(g[k]).mul(1 - b2));
    const denom = np.sqrt(vk.ref).div(bc2.ref).add(ADAM_EPS);
    out.p[k] = p[k].sub(mk.ref.mul(stepSize.ref).div(denom));
    out.m[k] = mk;
    out.v[k] = vk;
  }
  stepSize.dispose();
  bc2.dispose();
  return out;
}

export class Optimizer {
  constructor(names, weights, lr, betas) {
    this.names = names;
    this.lr = lr;
    this.betas = betas;
    this.t = 0;
    this.m = Object.fromEntries(names.map((k) => [k, np.zeros(weights[k].shape)]));
    this.v = Object.fromEntries(names.map((k) => [k, np.zeros(weights[k].shape)]));
  }

  scalars() {
    this.t += 1;
    const [b1, b2] = this.betas;
    return [np.array(this.lr / (1 - b1 ** this.t)), np.array(Math.sqrt(1 - b2 ** this.t))];
  }
}
