// A model trained in this browser and kept ("Keep" in train/panel.js: the window event "latent-explorer:keep"), as
// a plane of the live planes: its test codes, its plane (its 2-D latent, or the PCA plane its trainer drew), the
// rules' fields (rules.codeScale, rules.outsideRadius: the server's, golden-tested) and a picture of its points.
// It decodes with its own function (detail.decode), not an exported decoder; the server never hears of it.

import { codeScale, outsideRadius, toCanvas } from "./rules.js";

const PICTURE = 360; // px of its plane's picture (explorer/live.py LAYER_SIZE)
const POINT_ALPHA = 0.55; // as the server's plane pictures (render.plane_layer)

function picture(xy, labels, extent, palette) {
  const c = document.createElement("canvas");
  c.width = PICTURE;
  c.height = PICTURE;
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, PICTURE, PICTURE);
  g.globalAlpha = POINT_ALPHA;
  const rect = { left: 0, top: 0, side: PICTURE };
  for (let i = 0; i < labels.length; i++) {
    const [u, v] = toCanvas(extent, rect, xy[2 * i], xy[2 * i + 1]);
    g.fillStyle = palette[labels[i] % palette.length] || "#555";
    g.fillRect(u - 1, v - 1, 2, 2);
  }
  return c;
}

export function keptPlane(detail, rules, palette) {
  // the live planes' model (the shape loadModel gives for a server's model) of a kept browser model
  const d = detail.latent_dim;
  const n = detail.labels.length;
  const view = detail.inverse.kind === "identity" ? "latent" : "pca";
  const xy = Float32Array.from(detail.xy);
  const config = { model: detail.kind, prior: detail.prior || "gaussian", prior_components: 0 };
  return {
    key: detail.key, label: detail.label, kind: detail.kind, kept: true,
    title: view === "latent" ? detail.label : `${detail.label} · PCA`, axes: view === "latent" ? ["z1", "z2"] : ["PCA 1", "PCA 2"],
    latent_dim: d, view, extent: detail.extent, inverse: detail.inverse, conditional: false, num_classes: 10,
    clustered: false, scale: codeScale(config, view), radius: outsideRadius(detail.extent, rules), onnx: null,
    arrays: { xy, latents: Float32Array.from(detail.latents), labels: Uint8Array.from(detail.labels) },
    arraysShape: { xy: [n, 2], latents: [n, d], labels: [n] },
    image: picture(xy, detail.labels, detail.extent, palette), decode: detail.decode, star: null, drawn_q: null,
  };
}
