// Decoding in the page: ONNX Runtime Web sessions for the shown models' decoders and the classifier, one decode
// of every model's target (a kept browser model decodes with its own function), and the classifier's verdicts.

import { runtime, session } from "./ort.js";

export async function startSessions(view, models) {
  // the runtime, a session per model (null while its decoder is being exported) and the classifier's (or null)
  const ort = await runtime(view.ort);
  const sessions = await Promise.all(models.map((m) => (m.onnx && !m.kept ? session(ort, m.onnx) : null)));
  const classifier = view.classifier ? await session(ort, view.classifier) : null;
  return { ort, sessions, classifier };
}

export async function decodeAll(ort, models, targets) {
  // one run per model, one after another (ONNX Runtime Web's WebAssembly backend runs one at a time): a (1, d)
  // code (and the one-hot label of a conditional model or the cluster of a clustered AAE) -> (1, 784) pixels
  const images = [];
  for (const [k, m] of models.entries()) {
    if (m.kept) { // a model trained in this browser: its own decode function
      images.push(await m.decode(targets[k].z));
      continue;
    }
    if (!m.session) {
      images.push(null);
      continue;
    }
    const feeds = { z: new ort.Tensor("float32", targets[k].z, [1, m.latent_dim]) };
    if (m.conditional) {
      const onehot = new Float32Array(m.num_classes);
      onehot[targets[k].label] = 1;
      feeds.label = new ort.Tensor("float32", onehot, [1, m.num_classes]);
    }
    images.push((await m.session.run(feeds)).probs.data);
  }
  return images;
}

export async function classify(ort, classifier, images) {
  // the classifier's probabilities for each image (784 pixels each), in one batch
  const batch = new Float32Array(784 * images.length);
  images.forEach((img, k) => batch.set(img, 784 * k));
  const out = await classifier.run({ images: new ort.Tensor("float32", batch, [images.length, 784]) });
  const probs = out.probs.data;
  const classes = probs.length / images.length;
  return images.map((_, k) => Array.from(probs.slice(k * classes, (k + 1) * classes)));
}
