// benchmarks/browser_train.py: the TensorFlow.js 4.22 candidates in a classic Worker (tf.min.js registers the
// gradients; tf-core alone does not), wasm backend, one thread: the VAE as written and with a matMul whose
// gradient transposes explicitly (the wasm backend runs transposed matmuls in a scalar loop).
/* global tf, importScripts */
self.onmessage = async (event) => {
  const { npm, images, custom, steps, runs } = event.data;
  importScripts(`${npm}/tensorflow-tfjs-4.22.0/package/dist/tf.min.js`,
    `${npm}/tensorflow-tfjs-backend-wasm-4.22.0/package/dist/tf-backend-wasm.min.js`);
  tf.wasm.setWasmPaths(`${npm}/tensorflow-tfjs-backend-wasm-4.22.0/package/dist/`);
  tf.wasm.setThreadsCount && tf.wasm.setThreadsCount(1);
  await tf.setBackend("wasm");
  const mm = custom ? tf.customGrad((a, b, save) => {
    save([a, b]);
    return { value: tf.matMul(a, b), gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)] };
  }) : (a, b) => tf.matMul(a, b);
  const sizes = [[784, 512], [512, 256], [256, 4], [2, 256], [256, 512], [512, 784]];
  const vars = sizes.map(([a, b]) => [tf.variable(tf.randomUniform([a, b], -1 / Math.sqrt(a), 1 / Math.sqrt(a))),
    tf.variable(tf.randomUniform([b], -1 / Math.sqrt(a), 1 / Math.sqrt(a)))]);
  const elu = (h) => tf.elu(h);
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const B = 128, n = images.length / 784;
  let at = 0;
  const step = async () => {
    const x = new Float32Array(B * 784);
    for (let i = 0; i < B; i++) {
      const from = ((at + i) % n) * 784;
      for (let j = 0; j < 784; j++) x[i * 784 + j] = images[from + j] / 255;
    }
    at += B;
    const eps = Float32Array.from({ length: B * 2 }, () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(6.283 * Math.random()));
    const cost = opt.minimize(() => {
      const xb = tf.tensor2d(x, [B, 784]);
      let h = xb;
      for (let l = 0; l < 3; l++) { h = tf.add(mm(h, vars[l][0]), vars[l][1]); if (l < 2) h = elu(h); }
      const mu = tf.slice(h, [0, 0], [B, 2]), lv = tf.slice(h, [0, 2], [B, 2]);
      let z = tf.add(mu, tf.mul(tf.tensor2d(eps, [B, 2]), tf.exp(tf.mul(lv, 0.5))));
      for (let l = 3; l < 6; l++) { z = tf.add(mm(z, vars[l][0]), vars[l][1]); if (l < 5) z = elu(z); }
      const recon = tf.div(tf.sum(tf.add(tf.sub(tf.relu(z), tf.mul(z, xb)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))), B);
      const kl = tf.div(tf.mul(tf.sum(tf.sub(tf.sub(tf.add(tf.square(mu), tf.exp(lv)), 1), lv)), 0.5), B);
      return tf.add(recon, kl);
    }, true);
    const value = (await cost.data())[0];
    cost.dispose();
    return value;
  };
  for (let i = 0; i < 3; i++) await step();
  const rates = [];
  let last = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) last = await step();
    rates.push((steps * B) / ((performance.now() - t0) / 1000));
  }
  self.postMessage({ rates, loss: last });
};
