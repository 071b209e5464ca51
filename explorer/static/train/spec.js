// What a model is, independent of the engine that trains it: its configs (the trainer's ModelConfig and
// TrainConfig fields, trainer/config.py), the torch state_dict names and shapes of its weights
// (trainer/layers.py, trainer/models/*.py), torch's nn.Linear initialisation and a seeded RNG.

export const MODEL_DEFAULTS = {
  model: "vae", arch: "mlp", hidden: [512, 256], channels: [32, 64], activation: "elu", latent_dim: 2,
  kl_weight: 1.0, posterior: "diagonal", prior: "gaussian", prior_components: 0, label_guided: false,
  recon_loss: "bce", disc_hidden: [512, 512], clusters: 0, labels: 0, cluster_input: "softmax",
  cluster_disc_noise: 0.0, num_classes: 10, image_size: [28, 28],
};
export const TRAIN_DEFAULTS = {
  epochs: 10, batch_size: 128, lr: 1e-3, lr_schedule: "constant", adv_lr: 1e-3, weight_decay: 0.0,
  decoder_epochs: 0, seed: 0, device: "cpu", log_every: 20, limit: null,
};
export const PIXELS = 784;
export const KINDS = ["ae", "vae", "aae"];
export const PRIORS = ["gaussian", "mixture10"];

// The page trains what the trainer trains, within the scope it supports; anything else is refused by name.
export function modelConfig(options) {
  const config = { ...MODEL_DEFAULTS, ...options };
  if (!KINDS.includes(config.model)) throw new Error(`the page trains ae, vae or aae, not ${config.model}`);
  if (config.model === "aae" && !PRIORS.includes(config.prior)) {
    throw new Error(`the page's AAE priors are gaussian and mixture10, not ${config.prior}`);
  }
  if (config.arch !== "mlp" || config.posterior !== "diagonal" || config.prior_components || config.clusters ||
      config.label_guided || config.recon_loss !== "bce") {
    throw new Error("the page trains the MLP models with a diagonal posterior and the bce reconstruction only");
  }
  return config;
}

export function trainConfig(options) {
  return { ...TRAIN_DEFAULTS, ...options };
}

// The encoder's output width: the code itself, or the VAE's mean and log-variance (trainer/models/vae.py).
export function encoderWidth(config) {
  return config.model === "vae" ? 2 * config.latent_dim : config.latent_dim;
}

// [name, fan_in, fan_out] of every linear layer, named as torch's state_dict names them.
export function layers(config) {
  const out = [];
  const add = (prefix, sizes) => sizes.slice(1).forEach((b, i) => out.push([`${prefix}.${2 * i}`, sizes[i], b]));
  add("encoder.head", [PIXELS, ...config.hidden, encoderWidth(config)]);
  add("decoder.net", [config.latent_dim, ...[...config.hidden].reverse(), PIXELS]);
  if (config.model === "aae") add("discriminator", [config.latent_dim, ...config.disc_hidden, 1]);
  return out;
}

// Name -> shape of every tensor model.safetensors holds (weights, then the AE's sampling Gaussian).
export function stateShapes(config) {
  const shapes = {};
  for (const [name, fanIn, fanOut] of layers(config)) {
    shapes[`${name}.weight`] = [fanOut, fanIn];
    shapes[`${name}.bias`] = [fanOut];
  }
  if (config.model === "ae") {
    shapes.code_mean = [config.latent_dim];
    shapes.code_scale_tril = [config.latent_dim, config.latent_dim];
  }
  return shapes;
}

// xoshiro128** seeded through splitmix32: small, fast and good enough for init, shuffles and noise.
export class Rng {
  constructor(seed) {
    let s = (seed >>> 0) ^ 0x9e3779b9;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = Uint32Array.of(next(), next(), next(), next());
    this.spare = null;
  }

  uint32() {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    return result;
  }

  uniform() { // [0, 1) with 32 random bits
    return this.uint32() / 4294967296;
  }

  normal() { // Box-Muller, both draws used
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u = 1 - this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }

  normals(n) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  below(n) { // an integer in [0, n)
    return Math.floor(this.uniform() * n);
  }

  permutation(n) { // Fisher-Yates
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = order[i]; order[i] = order[j]; order[j] = t;
    }
    return order;
  }
}

function rotl(x, k) {
  return (x << k) | (x >>> (32 - k));
}

// torch's nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives U(±1/sqrt(fan_in)) weights, and the
// biases are U(±1/sqrt(fan_in)) too.
export function initialWeights(config, seed) {
  const rng = new Rng(seed);
  const weights = {};
  for (const [name, fanIn, fanOut] of layers(config)) {
    const bound = 1 / Math.sqrt(fanIn);
    const draw = (n) => Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * bound);
    weights[`${name}.weight`] = draw(fanIn * fanOut);
    weights[`${name}.bias`] = draw(fanOut);
  }
  return weights;
}

// Prior draws of the AAE (trainer/priors.py sample_prior): N(0, I), or the 10-petal mixture in the first two
// dims (further dims N(0, I)).
const PETAL_LONG_STD = 0.5, PETAL_SHORT_STD = 0.05, PETAL_SHIFT = 1.4;

export function samplePrior(rng, prior, n, d) {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    if (prior === "mixture10" && d >= 2) {
      const angle = (2 * Math.PI * rng.below(10)) / 10;
      const along = rng.normal() * PETAL_LONG_STD + PETAL_SHIFT;
      const across = rng.normal() * PETAL_SHORT_STD;
      out[i * d] = along * Math.cos(angle) - across * Math.sin(angle);
      out[i * d + 1] = along * Math.sin(angle) + across * Math.cos(angle);
      for (let j = 2; j < d; j++) out[i * d + j] = rng.normal();
    } else {
      for (let j = 0; j < d; j++) out[i * d + j] = rng.normal();
    }
  }
  return out;
}

// The codes' mean and their scatter matrix (the sum of outer products of the centered codes), in float64.
export function meanAndScatter(codes, d) {
  const n = codes.length / d;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += codes[i * d + j] / n;
  const scatter = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const da = codes[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) scatter[a * d + b] += da * (codes[i * d + b] - mean[b]);
    }
  }
  return { mean, scatter };
}

// The AE's sampling Gaussian (trainer/models/ae.py after_epoch): mean and Cholesky factor of the codes'
// covariance (unbiased, as torch.cov) plus 1e-5 I, in float64.
export function fitGaussian(codes, d) {
  const n = codes.length / d;
  const { mean, scatter } = meanAndScatter(codes, d);
  const cov = scatter.map((s) => s / (n - 1));
  for (let a = 0; a < d; a++) cov[a * d + a] += 1e-5;
  const tril = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      let s = cov[a * d + b];
      for (let k = 0; k < b; k++) s -= tril[a * d + k] * tril[b * d + k];
      tril[a * d + b] = a === b ? Math.sqrt(Math.max(s, 1e-30)) : s / tril[b * d + b];
    }
  }
  return { code_mean: Float32Array.from(mean), code_scale_tril: Float32Array.from(tril) };
}
