// The training engine on @jax-js/jax (WebAssembly): the trainer's MLP AE, VAE and AAE (trainer/models/*.py), one
// jit per optimizer step (loss, gradient and Adam in one compiled graph), from the layers, losses and Adam of
// ops.js. Interface: init(config, train, seed), step(x) -> terms, weights(), setWeights(w), encode(x), decode(z),
// evaluate(x). jax-js ops consume their inputs: every reuse takes `.ref` first.

import { init as initJax, defaultDevice, jit, numpy as np, tree, valueAndGrad } from "../vendor/jax-js/index.js";
import { ACTIVATIONS, Optimizer, adam, bceConstant, bernoulliNll, mlp, pick } from "./ops.js";
import { PIXELS, Rng, fitGaussian, initialWeights, layers, modelConfig, samplePrior, trainConfig } from "./spec.js";

const BETAS = { model: [0.9, 0.999], adversary: [0.5, 0.999] }; // the AAE's adversarial Adams use (0.5, 0.999)

let ready = null;

async function jaxReady() {
  ready = ready || initJax("wasm").then(() => defaultDevice("wasm"));
  return ready;
}

export class JaxEngine {
  async init(config, train = {}, seed = 0) {
    await jaxReady();
    this.config = modelConfig(config);
    this.train = trainConfig(train);
    this.rng = new Rng(seed ^ 0x5eed);
    this.d = this.config.latent_dim;
    this.act = ACTIVATIONS[this.config.activation];
    this.count = this.config.hidden.length + 1;
    this.buffers = {};
    this.setWeights(initialWeights(this.config, seed));
    this.compile();
    return this;
  }

  // Fresh optimizers (zero moments, step 0) over the given weights: what the trainer's configure_optimizers does.
  setWeights(weights) {
    tree.dispose(this.p);
    this.p = Object.fromEntries(layers(this.config).flatMap(([name, fanIn, fanOut]) => [
      [`${name}.weight`, np.array(Float32Array.from(weights[`${name}.weight`])).reshape([fanOut, fanIn])],
      [`${name}.bias`, np.array(Float32Array.from(weights[`${name}.bias`]))]]));
    for (const key of ["code_mean", "code_scale_tril"]) if (weights[key]) this.buffers[key] = weights[key];
    const names = Object.keys(this.p);
    const ae = names.filter((k) => !k.startsWith("discriminator."));
    const { lr, adv_lr: advLr } = this.train;
    this.optimizers = this.config.model === "aae" ? {
      reconstruction: new Optimizer(ae, this.p, lr, BETAS.model),
      discriminator: new Optimizer(names.filter((k) => k.startsWith("discriminator.")), this.p, advLr, BETAS.adversary),
      generator: new Optimizer(names.filter((k) => k.startsWith("encoder.")), this.p, advLr, BETAS.adversary),
    } : { model: new Optimizer(names, this.p, lr, BETAS.model) };
  }

  encoder(p, x) {
    return mlp(p, "encoder.head", this.count, x, this.act);
  }

  decoder(p, z) {
    return mlp(p, "decoder.net", this.count, z, this.act);
  }

  discriminator(p, z) {
    return mlp(p, "discriminator", this.config.disc_hidden.length + 1, z, ACTIVATIONS.leaky_relu);
  }

  // The VAE's terms (losses.vae_terms with losses.kl_normal) with eps given: [loss, {recon, kl}].
  vaeTerms(p, x, eps) {
    const d = this.d;
    const out = this.encoder(p, x.ref);
    const mu = out.ref.slice([], [0, d]);
    const logvar = out.slice([], [d, 2 * d]);
    const z = mu.ref.add(eps.mul(np.exp(logvar.ref.mul(0.5))));
    const recon = bernoulliNll(this.decoder(p, z), x);
    const kl = np.mean(np.sum(mu.ref.mul(mu).add(np.exp(logvar.ref)).sub(1).sub(logvar), 1)).mul(0.5);
    tree.dispose(p);
    return [recon.ref.add(kl.ref.mul(this.config.kl_weight)), { recon, kl }];
  }

  aeRecon(p, x) {
    const recon = bernoulliNll(this.decoder(p, this.encoder(p, x.ref)), x);
    tree.dispose(p);
    return recon;
  }

  discLoss(disc, p, x, real) {
    const fake = this.encoder(p, x);
    const all = { ...p, ...disc };
    const loss = bceConstant(this.discriminator(all, real), 1).add(bceConstant(this.discriminator(all, fake), 0));
    tree.dispose(all);
    return loss;
  }

  genLoss(enc, p, x) {
    const all = { ...p, ...enc };
    const loss = bceConstant(this.discriminator(all, this.encoder(all, x)), 1);
    tree.dispose(all);
    return loss;
  }

  compile() {
    const betas = (name) => this.optimizers[name].betas;
    if (this.config.model === "vae") {
      this.vaeStep = jit((p, m, v, x, eps, s, c) => {
        const [[loss, aux], g] = valueAndGrad((q, xx, ee) => this.vaeTerms(q, xx, ee), { hasAux: true })(tree.ref(p), x, eps);
        const next = adam(p, g, m, v, s, c, betas("model"));
        return { ...next, terms: { loss, recon: aux.recon, kl: aux.kl } };
      });
    } else {
      const recon = this.config.model === "aae" ? "reconstruction" : "model";
      this.reconStep = jit((p, m, v, x, s, c) => {
        const [loss, g] = valueAndGrad((q, xx) => this.aeRecon(q, xx))(tree.ref(p), x);
        const next = adam(p, g, m, v, s, c, betas(recon));
        return { ...next, terms: { recon: loss } };
      });
    }
    if (this.config.model === "aae") {
      this.discStep = jit((disc, enc, m, v, x, real, s, c) => {
        const [loss, g] = valueAndGrad((q, e, xx, r) => this.discLoss(q, e, xx, r))(tree.ref(disc), enc, x, real);
        const next = adam(disc, g, m, v, s, c, betas("discriminator"));
        return { ...next, terms: { disc: loss } };
      });
      this.genStep = jit((enc, disc, m, v, x, s, c) => {
        const [loss, g] = valueAndGrad((q, dd, xx) => this.genLoss(q, dd, xx))(tree.ref(enc), disc, x);
        const next = adam(enc, g, m, v, s, c, betas("generator"));
        return { ...next, terms: { gen: loss } };
      });
      this.embedFn = jit((p, x) => this.encoder(p, x));
    } else {
      this.embedFn = jit((p, x) => {
        const out = this.encoder(p, x);
        return this.config.model === "vae" ? out.slice([], [0, this.d]) : out;
      });
    }
    this.decodeFn = jit((p, z) => np.reciprocal(np.exp(np.negative(this.decoder(p, z))).add(1)));
    if (this.config.model === "vae") {
      this.vaeEval = jit((p, x, eps) => this.vaeTerms(p, x, eps));
    }
  }

  async step(x, noise = {}) {
    const n = x.length / PIXELS;
    const batch = () => np.array(x).reshape([n, PIXELS]);
    const terms = {};
    const take = async (out, opt) => {
      Object.assign(this.p, out.p);
      opt.m = out.m;
      opt.v = out.v;
      for (const [k, v] of Object.entries(out.terms)) terms[k] = (await v.data())[0];
    };
    const own = (opt) => Object.fromEntries(opt.names.map((k) => [k, this.p[k]]));
    const others = (opt) => Object.fromEntries(Object.keys(this.p).filter((k) => !opt.names.includes(k))
      .map((k) => [k, this.p[k].ref]));
    if (this.config.model === "vae") {
      const eps = noise.eps || this.rng.normals(n * this.d);
      const opt = this.optimizers.model;
      const [s, c] = opt.scalars();
      await take(this.vaeStep(own(opt), opt.m, opt.v, batch(), np.array(eps).reshape([n, this.d]), s, c), opt);
      terms.neg_elbo = terms.recon + terms.kl;
      return terms;
    }
    const rec = this.optimizers[this.config.model === "aae" ? "reconstruction" : "model"];
    let [s, c] = rec.scalars();
    await take(this.reconStep(own(rec), rec.m, rec.v, batch(), s, c), rec);
    terms.loss = terms.recon;
    if (this.config.model !== "aae") return terms;
    const real = noise.real || samplePrior(this.rng, this.config.prior, n, this.d);
    const dis = this.optimizers.discriminator;
    [s, c] = dis.scalars();
    const enc = Object.fromEntries(Object.keys(this.p).filter((k) => k.startsWith("encoder.")).map((k) => [k, this.p[k].ref]));
    await take(this.discStep(own(dis), enc, dis.m, dis.v, batch(), np.array(real).reshape([n, this.d]), s, c), dis);
    const gen = this.optimizers.generator;
    [s, c] = gen.scalars();
    await take(this.genStep(own(gen), others(gen), gen.m, gen.v, batch(), s, c), gen);
    return terms;
  }

  // Mean terms of model.loss over images (for the epoch rows' test_* columns): the VAE draws its eps, the AAE
  // its prior samples, as trainer.train.evaluate_terms does.
  async evaluate(images, batchSize = 1000) {
    const n = images.length / PIXELS;
    const sums = {};
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const x = images.subarray(start * PIXELS, (start + b) * PIXELS);
      const terms = await this.lossTerms(x);
      for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] || 0) + v * b;
    }
    return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / n]));
  }

  async lossTerms(x) {
    const n = x.length / PIXELS;
    const batch = np.array(x).reshape([n, PIXELS]);
    if (this.config.model === "vae") {
      const eps = np.array(this.rng.normals(n * this.d)).reshape([n, this.d]);
      const [loss, aux] = this.vaeEval(tree.ref(this.p), batch, eps);
      const recon = (await aux.recon.data())[0], kl = (await aux.kl.data())[0];
      return { loss: (await loss.data())[0], recon, kl, neg_elbo: recon + kl };
    }
    const codes = await this.encode(x);
    const logits = this.decoder(tree.ref(this.p), np.array(codes).reshape([n, this.d]));
    const recon = (await bernoulliNll(logits, batch.ref).data())[0];
    if (this.config.model === "ae") {
      batch.dispose();
      return { loss: recon, recon };
    }
    const real = np.array(samplePrior(this.rng, this.config.prior, n, this.d)).reshape([n, this.d]);
    const z = () => np.array(codes).reshape([n, this.d]);
    const disc = bceConstant(this.discriminator(tree.ref(this.p), real), 1)
      .add(bceConstant(this.discriminator(tree.ref(this.p), z()), 0));
    const gen = bceConstant(this.discriminator(tree.ref(this.p), z()), 1);
    batch.dispose();
    return { loss: recon, recon, disc: (await disc.data())[0], gen: (await gen.data())[0] };
  }

  async encode(images) {
    const n = images.length / PIXELS;
    const out = this.embedFn(tree.ref(this.p), np.array(images).reshape([n, PIXELS]));
    return Float32Array.from(await out.data());
  }

  async decode(z) {
    const n = z.length / this.d;
    const out = this.decodeFn(tree.ref(this.p), np.array(Float32Array.from(z)).reshape([n, this.d]));
    return Float32Array.from(await out.data());
  }

  // The AE's sampling Gaussian, refitted to the codes of (up to 10,000) training images after every epoch.
  async afterEpoch(trainImages) {
    if (this.config.model !== "ae") return;
    const head = trainImages.subarray(0, Math.min(trainImages.length, 10000 * PIXELS));
    const parts = [];
    for (let s = 0; s < head.length; s += 1000 * PIXELS) parts.push(await this.encode(head.subarray(s, s + 1000 * PIXELS)));
    const codes = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (codes.set(p, at), at + p.length), 0);
    Object.assign(this.buffers, fitGaussian(codes, this.d));
  }

  // Every tensor of model.safetensors under its torch name (the AE's Gaussian: N(0, I) until the first epoch);
  // with a prefix, only those whose name starts with it (the decoder for the page's hover).
  async weights(prefix = "") {
    const out = {};
    for (const [k, v] of Object.entries(this.p)) if (k.startsWith(prefix)) out[k] = Float32Array.from(await v.ref.data());
    if (this.config.model === "ae" && !prefix) {
      const d = this.d;
      out.code_mean = this.buffers.code_mean || new Float32Array(d);
      out.code_scale_tril = this.buffers.code_scale_tril ||
        Float32Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0));
    }
    return out;
  }
}
