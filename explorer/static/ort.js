// Loading: ONNX Runtime Web (vendored under vendor/onnxruntime-web/) and its sessions, plane pictures and test
// codes. Every URL the server sends names its content (explorer/live.py), so each is fetched once per page.

const cache = new Map(); // URL -> promise of what it holds

export function once(url, make) {
  // make() once per URL; a failure is forgotten, so that the next call tries again
  if (!cache.has(url)) cache.set(url, make().catch((e) => { cache.delete(url); throw e; }));
  return cache.get(url);
}

export function loadImage(url) {
  return once(url, () => new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`could not load ${url}`));
    img.src = url;
  }));
}

export async function loadArrays(model) {
  // a model's binary file (live._pack): typed arrays over one buffer, by the index the view sends
  const buffer = await once(model.data, async () => {
    const response = await fetch(model.data);
    if (!response.ok) throw new Error(`${model.data}: HTTP ${response.status}`);
    return response.arrayBuffer();
  });
  const arrays = {};
  const shapes = {};
  for (const [name, a] of Object.entries(model.arrays)) {
    const count = a.shape.reduce((p, v) => p * v, 1);
    arrays[name] = a.dtype === "f32" ? new Float32Array(buffer, a.offset, count) : new Uint8Array(buffer, a.offset, count);
    shapes[name] = a.shape;
  }
  return { arrays, shapes };
}

export async function loadModel(m) {
  // a model of the view with its arrays and its plane's picture
  const [{ arrays, shapes }, image] = await Promise.all([loadArrays(m), loadImage(m.layer)]);
  return { ...m, arrays, arraysShape: shapes, image };
}

let ortModule = null;

export async function runtime(base) {
  if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
  if (!ortModule) {
    ortModule = import(`${base}ort.wasm.min.mjs`).then((ort) => {
      ort.env.wasm.wasmPaths = base;
      ort.env.wasm.numThreads = 1; // no cross-origin isolation here; one thread is plenty for these decoders
      ort.env.wasm.proxy = false;
      return ort;
    });
  }
  return ortModule;
}

export function session(ort, url) {
  return once(url, () => ort.InferenceSession.create(url, { executionProviders: ["wasm"] }));
}
