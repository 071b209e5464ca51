// benchmarks/browser_train.py: the own engine candidate, the 784-512-256-2 VAE written out on Float32Arrays
// (i-k-j matmuls, ELU, BCE with logits, KL, Adam). Measured only; the page ships engine.js (jax-js).

function dense(x, n, w, b, fanIn, fanOut) { // x (n, in) @ w (in, out) + b
  const y = new Float32Array(n * fanOut);
  for (let i = 0; i < n; i++) {
    const row = y.subarray(i * fanOut, (i + 1) * fanOut);
    row.set(b);
    for (let k = 0; k < fanIn; k++) {
      const a = x[i * fanIn + k];
      if (a === 0) continue;
      const wk = w.subarray(k * fanOut, (k + 1) * fanOut);
      for (let j = 0; j < fanOut; j++) row[j] += a * wk[j];
    }
  }
  return y;
}

function backDense(x, dy, n, w, fanIn, fanOut, gw, gb, needDx) {
  for (let i = 0; i < n; i++) {
    const d = dy.subarray(i * fanOut, (i + 1) * fanOut);
    for (let j = 0; j < fanOut; j++) gb[j] += d[j];
    for (let k = 0; k < fanIn; k++) {
      const a = x[i * fanIn + k];
      if (a === 0) continue;
      const g = gw.subarray(k * fanOut, (k + 1) * fanOut);
      for (let j = 0; j < fanOut; j++) g[j] += a * d[j];
    }
  }
  if (!needDx) return null;
  const dx = new Float32Array(n * fanIn);
  for (let i = 0; i < n; i++) {
    const d = dy.subarray(i * fanOut, (i + 1) * fanOut);
    for (let k = 0; k < fanIn; k++) {
      const wk = w.subarray(k * fanOut, (k + 1) * fanOut);
      let s = 0;
      for (let j = 0; j < fanOut; j++) s += wk[j] * d[j];
      dx[i * fanIn + k] = s;
    }
  }
  return dx;
}

const elu = (h) => h.map((v) => (v > 0 ? v : Math.expm1(v)));
const dElu = (pre, d) => d.map((v, i) => (pre[i] > 0 ? v : v * Math.exp(pre[i])));

export class PlainVae {
  constructor(sizes = [784, 512, 256, 2], seed = 1) {
    let s = seed;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
    const enc = [sizes[0], sizes[1], sizes[2], 2 * sizes[3]], dec = [sizes[3], sizes[2], sizes[1], sizes[0]];
    this.layers = [...[0, 1, 2].map((i) => [enc[i], enc[i + 1]]), ...[0, 1, 2].map((i) => [dec[i], dec[i + 1]])];
    this.p = this.layers.flatMap(([a, b]) => [Float32Array.from({ length: a * b }, () => (2 * rand() - 1) / Math.sqrt(a)),
      Float32Array.from({ length: b }, () => (2 * rand() - 1) / Math.sqrt(a))]);
    this.m = this.p.map((t) => new Float32Array(t.length));
    this.v = this.p.map((t) => new Float32Array(t.length));
    this.t = 0;
    this.d = sizes[3];
  }

  step(x, eps, n) {
    const d = this.d, L = this.layers, p = this.p;
    const acts = [x], pres = [];
    let h = x;
    for (let l = 0; l < 6; l++) {
      const pre = dense(h, n, p[2 * l], p[2 * l + 1], L[l][0], L[l][1]);
      pres.push(pre);
      if (l === 2) { // encoder output -> z
        const z = new Float32Array(n * d);
        for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) {
          z[i * d + j] = pre[i * 2 * d + j] + eps[i * d + j] * Math.exp(0.5 * pre[i * 2 * d + d + j]);
        }
        h = z;
      } else h = l === 5 ? pre : elu(pre);
      acts.push(h);
    }
    const logits = acts[6];
    let recon = 0, kl = 0;
    const dLogits = new Float32Array(logits.length);
    for (let i = 0; i < logits.length; i++) {
      const l = logits[i];
      recon += Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l)));
      dLogits[i] = (1 / (1 + Math.exp(-l)) - x[i]) / n;
    }
    const grads = p.map((t) => new Float32Array(t.length));
    let dy = dLogits;
    for (let l = 5; l >= 0; l--) {
      if (l !== 5 && l !== 2) dy = dElu(pres[l], dy);
      if (l === 2) { // back through z = mu + eps exp(logvar / 2) and the KL
        const enc = pres[2], dz = dy;
        dy = new Float32Array(n * 2 * d);
        for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) {
          const mu = enc[i * 2 * d + j], lv = enc[i * 2 * d + d + j], sd = Math.exp(0.5 * lv);
          kl += 0.5 * (mu * mu + sd * sd - 1 - lv);
          dy[i * 2 * d + j] = dz[i * d + j] + mu / n;
          dy[i * 2 * d + d + j] = dz[i * d + j] * eps[i * d + j] * 0.5 * sd + 0.5 * (sd * sd - 1) / n;
        }
      }
      dy = backDense(acts[l], dy, n, p[2 * l], L[l][0], L[l][1], grads[2 * l], grads[2 * l + 1], l > 0);
    }
    this.t += 1;
    const c1 = 1 - 0.9 ** this.t, c2 = Math.sqrt(1 - 0.999 ** this.t);
    p.forEach((w, k) => {
      const g = grads[k], m = this.m[k], v = this.v[k];
      for (let i = 0; i < w.length; i++) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        w[i] -= (1e-3 / c1) * m[i] / (Math.sqrt(v[i]) / c2 + 1e-8);
      }
    });
    return { loss: (recon + kl) / n, recon: recon / n, kl: kl / n };
  }
}
