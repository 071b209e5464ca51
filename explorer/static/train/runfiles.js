// A run folder written in the page: config.json (trainer/checkpoint.py's format), model.safetensors,
// metrics.json and history.jsonl, bundled as a stored (uncompressed) zip; and the readers the tests and the
// worker use (safetensors, zip, gzipped IDX). No dependency: the formats are small.

import { MODEL_DEFAULTS, TRAIN_DEFAULTS, stateShapes } from "./spec.js";

export const FORMAT = "latent-explorer-checkpoint";
export const FORMAT_VERSION = 1;
// trainer/data.py knows this name: `python -m trainer eval` reads the same shipped subset (explorer/static/data)
export const DATASET = {
  name: "mnist-train10k", classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  source: "explorer/static/data",
  note: "the first 10,000 images of the MNIST training split, as the page ships them; held out: the MNIST test split",
  train_size: 10000, test_size: 10000, limit: null,
};

// -- safetensors: 8-byte little-endian header length, a JSON header (dtype, shape, data_offsets), the data --
export function writeSafetensors(tensors, shapes, metadata = {}) {
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    const count = shape.reduce((a, b) => a * b, 1);
    if (tensors[name].length !== count) throw new Error(`${name}: ${tensors[name].length} values, shape ${shape}`);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20); // spaces: the data stays 8-aligned
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const data = Float32Array.from(tensors[name]);
    out.set(new Uint8Array(data.buffer), 8 + json.length + info.data_offsets[0]);
  }
  return out;
}

export function readSafetensors(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (info.dtype !== "F32") throw new Error(`${name}: dtype ${info.dtype}, the page reads F32`);
    const [start, end] = info.data_offsets;
    tensors[name] = new Float32Array(bytes.slice(8 + length + start, 8 + length + end).buffer);
  }
  return { tensors, metadata: header.__metadata__ || {}, header };
}

// -- zip: stored entries, CRC-32, local headers, central directory, end record ------------------------------
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function writeZip(files) { // files: [[path, Uint8Array | string], ...]
  const enc = new TextEncoder();
  const locals = [], centrals = [];
  let offset = 0;
  for (const [path, content] of files) {
    const name = enc.encode(path);
    const data = typeof content === "string" ? enc.encode(content) : content;
    const crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    // signature, version 2.0, flags (bit 11: UTF-8 names), method 0 (stored), time, date 1980-01-01
    [[0, 0x04034b50, 4], [4, 20, 2], [6, 0x800, 2], [8, 0, 2], [10, 0, 2], [12, 0x21, 2], [14, crc, 4],
      [18, data.length, 4], [22, data.length, 4], [26, name.length, 2], [28, 0, 2]].forEach(([at, v, n]) =>
      (n === 4 ? local.setUint32(at, v, true) : local.setUint16(at, v, true)));
    const central = new DataView(new ArrayBuffer(46));
    [[0, 0x02014b50, 4], [4, 20, 2], [6, 20, 2], [8, 0x800, 2], [10, 0, 2], [12, 0, 2], [14, 0x21, 2],
      [16, crc, 4], [20, data.length, 4], [24, data.length, 4], [28, name.length, 2], [30, 0, 2], [32, 0, 2],
      [34, 0, 2], [36, 0, 2], [38, 0, 4], [42, offset, 4]].forEach(([at, v, n]) =>
      (n === 4 ? central.setUint32(at, v, true) : central.setUint16(at, v, true)));
    locals.push(new Uint8Array(local.buffer), name, data);
    centrals.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + data.length;
  }
  const directory = centrals.reduce((a, b) => a + b.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  [[0, 0x06054b50, 4], [4, 0, 2], [6, 0, 2], [8, files.length, 2], [10, files.length, 2], [12, directory, 4],
    [16, offset, 4], [20, 0, 2]].forEach(([at, v, n]) => (n === 4 ? end.setUint32(at, v, true) : end.setUint16(at, v, true)));
  return concat([...locals, ...centrals, new Uint8Array(end.buffer)]);
}

// The entries of a stored zip (what writeZip makes), checked against their CRC-32: {path: Uint8Array}.
export function readZip(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - 22;
  if (view.getUint32(end, true) !== 0x06054b50) throw new Error("not a zip without comment");
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const out = {};
  for (let i = 0; i < count; i++) {
    const size = view.getUint32(at + 24, true), nameLength = view.getUint16(at + 28, true);
    const extra = view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    if (view.getUint16(at + 10, true) !== 0) throw new Error(`${name}: compressed; this reader takes stored entries`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const data = bytes.slice(start, start + size);
    if (crc32(data) !== view.getUint32(at + 16, true)) throw new Error(`${name}: CRC-32 mismatch`);
    out[name] = data;
    at += 46 + nameLength + extra;
  }
  return out;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

// -- IDX (MNIST's format), gzipped: decompressed by the browser's own DecompressionStream -------------------
export async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function readIdx(bytes) { // -> {dims, data: Uint8Array}
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08) throw new Error("not an IDX file of unsigned bytes");
  const dims = Array.from({ length: bytes[3] }, (_, i) => view.getUint32(4 + 4 * i));
  const start = 4 + 4 * dims.length, count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== start + count) throw new Error(`IDX body of ${bytes.length - start} bytes, expected ${count}`);
  return { dims, data: bytes.subarray(start) };
}

export function writeIdx(dims, data) {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

// -- the run folder -----------------------------------------------------------------------------------------
function timestamp(date) {
  const p = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:` +
    `${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

export function configJson(model, train, epoch, date = new Date()) {
  return JSON.stringify({
    format: FORMAT, format_version: FORMAT_VERSION, model: { ...MODEL_DEFAULTS, ...model },
    train: { ...TRAIN_DEFAULTS, ...train }, dataset: DATASET, epoch, created: timestamp(date),
  }, null, 1);
}

// The files of a run folder, as trainer/checkpoint.save writes them, zipped under the run's name.
export function runZip(name, { model, train, epoch, weights, history }) {
  const shapes = stateShapes(model);
  const epochs = history.filter((r) => r.kind === "epoch");
  const files = [
    [`${name}/config.json`, configJson(model, train, epoch)],
    [`${name}/model.safetensors`, writeSafetensors(weights, shapes, { epoch: String(epoch), model: model.model })],
    [`${name}/history.jsonl`, history.map((r) => JSON.stringify(r) + "\n").join("")],
  ];
  if (epochs.length) files.push([`${name}/metrics.json`, JSON.stringify(epochs[epochs.length - 1], null, 1)]);
  return writeZip(files);
}
