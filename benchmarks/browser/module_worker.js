// benchmarks/browser_train.py: the shipped engine (explorer/static/train/engine.js, jax-js with jit) and the
// plain-JS candidate in a module Worker, the whole step timed: batching from uint8, eps, the step, terms read.
import { JaxEngine } from "/static/train/engine.js";
import { PlainVae } from "./plain_engine.js";

self.onmessage = async (event) => {
  const { engine, images, steps, runs, model } = event.data;
  const B = 128, n = images.length / 784;
  const eng = engine === "jax" ? await new JaxEngine().init(model || { model: "vae" }, {}, 0) : new PlainVae();
  let at = 0;
  const step = async () => {
    const x = new Float32Array(B * 784);
    for (let i = 0; i < B; i++) {
      const from = ((at + i) % n) * 784;
      for (let j = 0; j < 784; j++) x[i * 784 + j] = images[from + j] / 255;
    }
    at += B;
    if (engine === "jax") return (await eng.step(x)).loss; // draws its own eps
    const eps = Float32Array.from({ length: B * 2 }, () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(6.283 * Math.random()));
    return eng.step(x, eps, B).loss;
  };
  const t0 = performance.now();
  await step();
  const first = performance.now() - t0;
  for (let i = 0; i < 2; i++) await step();
  const rates = [];
  let last = 0;
  for (let r = 0; r < runs; r++) {
    const t1 = performance.now();
    for (let i = 0; i < steps; i++) last = await step();
    rates.push((steps * B) / ((performance.now() - t1) / 1000));
  }
  self.postMessage({ rates, loss: last, firstStepMs: first, webgpu: typeof navigator.gpu !== "undefined" });
};
