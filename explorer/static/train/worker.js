// The Web Worker that trains (explorer/static/train/loop.js), so the page stays free to draw and hover.
// In:  {type: "start", data: URL of the data folder, lanes: [{name, model, train}]}, {type: "stop"},
//      {type: "resume"}, {type: "decode", id, lane, z}, {type: "download", lane}, {type: "keep", lane}
// Out: "ready", "terms", "plane", "progress", "epoch", "stopped", "done", "decoded", "zip", "kept", "error".

import { loadData } from "./data.js";
import { Loop } from "./loop.js";
import { runZip } from "./runfiles.js";

const worker = { loop: null, data: null };

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

async function start({ data, lanes }) {
  worker.data = worker.data || await loadData(data);
  worker.loop = new Loop(worker.data, post);
  for (const spec of lanes) await worker.loop.add(spec);
  post({ type: "ready", lanes: worker.loop.lanes.map((l) => ({ id: l.id, name: l.name, config: l.config,
    train: l.train })), trainSize: worker.data.train.labels.length, testSize: worker.data.test.labels.length });
  await worker.loop.run();
}

async function handle(message) {
  const loop = worker.loop;
  const lane = loop && message.lane !== undefined ? loop.lanes[message.lane] : null;
  switch (message.type) {
    case "start":
      if (loop && loop.running) loop.stop();
      return start(message);
    case "stop":
      return loop && loop.stop();
    case "resume":
      return loop && !loop.running && loop.run();
    case "decode": {
      const probs = await lane.engine.decode(Float32Array.from(message.z));
      return post({ type: "decoded", id: message.id, lane: lane.id, probs }, [probs.buffer]);
    }
    case "download": {
      if (!lane.checkpoint) throw new Error(`${lane.name} has not finished an epoch yet: nothing to download`);
      const { epoch, weights, history } = lane.checkpoint;
      const bytes = runZip(lane.name, { model: lane.config, train: lane.train, epoch, weights, history });
      return post({ type: "zip", lane: lane.id, name: `${lane.name}.zip`, bytes }, [bytes.buffer]);
    }
    case "keep": {
      const kept = await loop.keep(lane);
      return post({ type: "kept", lane: lane.id, ...kept }, [kept.latents.buffer]);
    }
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}

self.onmessage = (event) => {
  handle(event.data).catch((error) => post({ type: "error", message: error.message, stack: error.stack }));
};
