// The training loop of trainer/train.py fit() for one or more models (a race) taking turns: shuffled batches
// per epoch, step rows every log_every steps, epoch rows with train and test means of every term, the AE's
// sampling Gaussian after each epoch, and a checkpoint (weights + history) kept at the end of every epoch, as
// the trainer's run folder keeps it. The page sees it through the messages worker.js posts.

import { JaxEngine } from "./engine.js";
import { batchOf, range } from "./data.js";
import { inverseOf, project } from "./plane.js";
import { PIXELS, Rng, modelConfig, trainConfig } from "./spec.js";

export const PLANE_DIGITS = 2000; // test digits whose codes the live plane shows
const TURN_IMAGES = 512; // a model trains this many images before the next one of a race takes its turn
const SNAPSHOT_IMAGES = 2048; // a model's plane is redrawn every this many of its images (2,000 codes cost ~600)

export class Lane {
  constructor(id, spec) {
    this.id = id;
    this.name = spec.name;
    this.config = modelConfig(spec.model || {});
    this.train = trainConfig(spec.train || {});
    this.engine = new JaxEngine();
    this.history = [];
    this.step = 0;
    this.epoch = 0; // finished epochs
    this.position = 0; // images of the current epoch done
    this.sums = {};
    this.seconds = 0;
    this.sinceSnapshot = Infinity;
    this.checkpoint = null; // {epoch, weights, history} of the last finished epoch
  }

  get done() {
    return this.epoch >= this.train.epochs;
  }

  async init() {
    await this.engine.init(this.config, this.train, this.train.seed);
  }
}

export class Loop {
  constructor(data, post) {
    this.data = data;
    this.post = post;
    this.lanes = [];
    this.running = false;
    this.planeIndex = range(Math.min(PLANE_DIGITS, data.test.labels.length));
    this.planeImages = batchOf(data.test.images, this.planeIndex);
    this.trainImages = null; // all training images as floats, made once for the AE's after-epoch fit
  }

  async add(spec) {
    const lane = new Lane(this.lanes.length, spec);
    await lane.init();
    this.lanes.push(lane);
    return lane;
  }

  // Trains the lanes in turns until all are done or stop() is called; resumable.
  async run() {
    this.running = true;
    const started = performance.now();
    let images = 0;
    while (this.running && this.lanes.some((l) => !l.done)) {
      for (const lane of this.lanes) {
        if (!this.running || lane.done) continue;
        if (lane.sinceSnapshot >= SNAPSHOT_IMAGES) await this.snapshot(lane);
        images += await this.turn(lane);
        this.post({ type: "progress", images: this.lanes.map((l) => l.epoch * l.trainSize + l.position),
          total: this.lanes.map((l) => l.train.epochs * l.trainSize), seconds: (performance.now() - started) / 1000,
          trained: images });
        await yieldToMessages(); // stop and decode requests are handled between turns
      }
    }
    for (const lane of this.lanes) if (lane.sinceSnapshot > 0) await this.snapshot(lane);
    this.running = false;
    this.post({ type: this.lanes.every((l) => l.done) ? "done" : "stopped" });
  }

  stop() {
    this.running = false;
  }

  // One turn of a lane: up to TURN_IMAGES images of its current epoch, then the epoch's end if reached.
  async turn(lane) {
    const n = this.data.train.labels.length;
    const { batch_size: size, log_every: logEvery } = lane.train;
    lane.trainSize = n;
    if (lane.position === 0) lane.order = new Rng(lane.train.seed * 100003 + lane.epoch + 1).permutation(n);
    const perEpoch = Math.ceil(n / size);
    let trained = 0;
    const t0 = performance.now();
    while (trained < TURN_IMAGES && lane.position < n) {
      const end = Math.min(lane.position + size, n);
      const x = batchOf(this.data.train.images, lane.order, lane.position, end);
      const terms = await lane.engine.step(x);
      const b = end - lane.position;
      lane.step += 1;
      lane.position = end;
      trained += b;
      for (const [k, v] of Object.entries(terms)) lane.sums[k] = (lane.sums[k] || 0) + v * b;
      const i = Math.ceil(end / size) - 1;
      const row = { kind: "step", epoch: lane.epoch + (i + 1) / perEpoch, step: lane.step, ...terms };
      if (!Number.isFinite(terms.loss)) {
        this.running = false;
        this.post({ type: "error", lane: lane.id, message: `training diverged: the loss became ${terms.loss} ` +
          `in epoch ${lane.epoch + 1}; kept the checkpoint of epoch ${lane.epoch}. Try a smaller learning rate.` });
        break;
      }
      if (lane.step % logEvery === 0 || end === n) lane.history.push(row);
      this.post({ type: "terms", lane: lane.id, rows: [row] }); // every step: the curves start at once
    }
    lane.seconds += (performance.now() - t0) / 1000;
    lane.sinceSnapshot += trained;
    if (lane.position >= n) await this.endEpoch(lane);
    return trained;
  }

  async endEpoch(lane) {
    const n = lane.position;
    if (lane.config.model === "ae") {
      this.trainImages = this.trainImages || batchOf(this.data.train.images, range(n));
      await lane.engine.afterEpoch(this.trainImages);
    }
    const t0 = performance.now();
    const test = await lane.engine.evaluate(this.testImages());
    lane.epoch += 1;
    const row = { kind: "epoch", epoch: lane.epoch, step: lane.step, seconds: round(lane.seconds, 3),
      images_per_s: round(n / lane.seconds, 1),
      ...Object.fromEntries(Object.entries(lane.sums).map(([k, v]) => [`train_${k}`, v / n])),
      ...Object.fromEntries(Object.entries(test).map(([k, v]) => [`test_${k}`, v])) };
    lane.history.push(row);
    lane.checkpoint = { epoch: lane.epoch, weights: await lane.engine.weights(), history: lane.history.slice() };
    lane.position = 0;
    lane.sums = {};
    lane.seconds = 0;
    this.post({ type: "epoch", lane: lane.id, row, evalSeconds: (performance.now() - t0) / 1000,
      snapshotSeconds: lane.snapshotSeconds });
  }

  testImages() {
    this.allTest = this.allTest || batchOf(this.data.test.images, range(this.data.test.labels.length));
    return this.allTest;
  }

  // The lane's plane now: 2-D codes (or their PCA) of the first PLANE_DIGITS test digits, and its decoder.
  async snapshot(lane) {
    const t0 = performance.now();
    const d = lane.config.latent_dim;
    const codes = await lane.engine.encode(this.planeImages);
    const inverse = inverseOf(codes, d);
    const xy = project(codes, d, inverse);
    const decoder = await lane.engine.weights("decoder.");
    lane.sinceSnapshot = 0;
    lane.snapshotSeconds = (lane.snapshotSeconds || 0) + (performance.now() - t0) / 1000;
    this.post({ type: "plane", lane: lane.id, xy, labels: this.data.test.labels.subarray(0, this.planeIndex.length),
      inverse, decoder, step: lane.step, images: lane.epoch * (lane.trainSize || 0) + lane.position },
    [xy.buffer, ...Object.values(decoder).map((w) => w.buffer)]);
  }

  // Every test digit's code and the final decoder: what "Keep" adds to the explorer's planes.
  async keep(lane) {
    const latents = await lane.engine.encode(this.testImages());
    return { latents, labels: this.data.test.labels.slice(), decoder: await lane.engine.weights("decoder.") };
  }
}

function round(v, digits) {
  return Math.round(v * 10 ** digits) / 10 ** digits;
}

// A resolved await never lets the worker read its messages; a MessageChannel round trip does, at once.
function yieldToMessages() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}
