// The images the page trains on and the test digits its planes show: gzipped IDX files beside this folder
// (explorer/static/data, made by `python -m pretrained.train_subset`), decoded in the page.

import { gunzip, readIdx } from "./runfiles.js";

export const FILES = {
  trainImages: "train-images-idx3-ubyte.gz", trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz", testLabels: "t10k-labels-idx1-ubyte.gz",
};

async function fetchIdx(base, name) {
  const response = await fetch(new URL(name, base));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  // a server may have undone the gzip already (Content-Encoding); IDX files start with two zero bytes
  return readIdx(bytes[0] === 0x1f && bytes[1] === 0x8b ? await gunzip(bytes) : bytes);
}

// {train: {images: Uint8Array(N*784), labels}, test: {...}}; base is the folder's URL (ending in "/").
export async function loadData(base) {
  const [ti, tl, si, sl] = await Promise.all(
    [FILES.trainImages, FILES.trainLabels, FILES.testImages, FILES.testLabels].map((f) => fetchIdx(base, f)));
  for (const [images, labels] of [[ti, tl], [si, sl]]) {
    if (images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28 || images.dims[0] !== labels.dims[0]) {
      throw new Error(`expected N 28x28 images with N labels, got ${images.dims} and ${labels.dims}`);
    }
  }
  return { train: { images: ti.data, labels: tl.data }, test: { images: si.data, labels: sl.data } };
}

// Images idx[start:end] of a split as floats in [0, 1] (Split.batch: uint8 / 255).
export function batchOf(images, index, start = 0, end = index.length, out = null) {
  const n = end - start;
  const x = out && out.length === n * 784 ? out : new Float32Array(n * 784);
  for (let i = 0; i < n; i++) {
    const from = index[start + i] * 784;
    for (let j = 0; j < 784; j++) x[i * 784 + j] = images[from + j] / 255;
  }
  return x;
}

export function range(n) {
  return Uint32Array.from({ length: n }, (_, i) => i);
}
