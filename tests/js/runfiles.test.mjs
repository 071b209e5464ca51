// node --test tests/js/runfiles.test.mjs: the page's file writers and readers (explorer/static/train/runfiles.js),
// run by tests/test_browser_train.py so CI runs them.
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { test } from "node:test";

import { crc32, gunzip, readIdx, readSafetensors, readZip, runZip, writeIdx, writeSafetensors, writeZip }
  from "../../explorer/static/train/runfiles.js";
import { initialWeights, modelConfig, stateShapes } from "../../explorer/static/train/spec.js";

test("crc32 of the standard check string", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

test("a zip round-trips its stored entries, UTF-8 names included", () => {
  const files = [["run/config.json", "{\"a\": 1}"], ["run/ü.bin", Uint8Array.of(0, 255, 7)]];
  const back = readZip(writeZip(files));
  assert.deepEqual(Object.keys(back), ["run/config.json", "run/ü.bin"]);
  assert.equal(new TextDecoder().decode(back["run/config.json"]), "{\"a\": 1}");
  assert.deepEqual([...back["run/ü.bin"]], [0, 255, 7]);
});

test("a damaged zip entry is caught by its CRC", () => {
  const bytes = writeZip([["a.txt", "hello"]]);
  bytes[30 + 5] ^= 1; // first data byte of the only entry
  assert.throws(() => readZip(bytes), /CRC-32/);
});

test("safetensors: 8-byte header length, aligned JSON header, float32 data", () => {
  const shapes = { b: [2], w: [2, 3] };
  const tensors = { w: Float32Array.of(1, 2, 3, 4, 5, 6), b: Float32Array.of(-1, 0.5) };
  const bytes = writeSafetensors(tensors, shapes, { epoch: "3" });
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + length) % 8, 0);
  const back = readSafetensors(bytes);
  assert.deepEqual(back.metadata, { epoch: "3" });
  assert.deepEqual(back.header.w, { dtype: "F32", shape: [2, 3], data_offsets: [8, 32] });
  assert.deepEqual([...back.tensors.w], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...back.tensors.b], [-1, 0.5]);
});

test("IDX written, gzipped and read back", async () => {
  const data = Uint8Array.from({ length: 2 * 28 * 28 }, (_, i) => i % 256);
  const bytes = writeIdx([2, 28, 28], data);
  const back = readIdx(await gunzip(gzipSync(bytes)));
  assert.deepEqual(back.dims, [2, 28, 28]);
  assert.deepEqual([...back.data], [...data]);
  assert.throws(() => readIdx(bytes.subarray(0, bytes.length - 1)), /IDX body/);
});

test("a run zip holds the trainer's four files with every tensor of the model", () => {
  const model = modelConfig({ model: "aae", prior: "mixture10" });
  const weights = initialWeights(model, 1);
  const history = [{ kind: "step", epoch: 0.5, step: 1, loss: 2 }, { kind: "epoch", epoch: 1, step: 2, test_recon: 1 }];
  const files = readZip(runZip("my-aae", { model, train: { epochs: 1 }, epoch: 1, weights, history }));
  assert.deepEqual(Object.keys(files).sort(),
    ["my-aae/config.json", "my-aae/history.jsonl", "my-aae/metrics.json", "my-aae/model.safetensors"]);
  const config = JSON.parse(new TextDecoder().decode(files["my-aae/config.json"]));
  assert.equal(config.format, "latent-explorer-checkpoint");
  assert.equal(config.model.prior, "mixture10");
  const tensors = readSafetensors(files["my-aae/model.safetensors"]).tensors;
  assert.deepEqual(Object.keys(tensors).sort(), Object.keys(stateShapes(model)).sort());
  assert.equal(new TextDecoder().decode(files["my-aae/history.jsonl"]).trim().split("\n").length, 2);
});
