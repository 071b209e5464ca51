// The clusters of a clustered AAE, in the page: each cluster decoded at style z = 0 with its majority digit and
// purity, the test digits per cluster against their true digits (a heatmap), and in words which digits it found,
// split and merged: from page_views.clusters_json (the Clusters tab's own summary and words). mount(element, props)
// with props.value page_views' views_json; window.latentViews.clusters is this component.

import { decodeBatch, el, loadModels, mountWith, ortOf, panel, tiles } from "./common.js";

const NONE_SHOWN = "None of the shown models has clusters: pick aae-cluster16 or aae-semi100 among the models.";
const HEAT = [37, 99, 235]; // the heatmap's colour at a cluster's full share

export function headCodes(model) {
  // style z = 0 once per cluster, with cluster k's one-hot
  return { z: new Float32Array(model.num_classes * model.latent_dim), labels: Array.from({ length: model.num_classes }, (_, k) => k) };
}

function words(text) {
  // the tab's Markdown (bold and italics only) as DOM text
  const p = el("p", "lv-caption");
  text.split(/(\*\*[^*]+\*\*)/).forEach((part) => {
    p.append(part.startsWith("**") ? el("b", null, part.slice(2, -2)) : document.createTextNode(part.replace(/\\(.)/g, "$1")));
  });
  return p;
}

export function heatmap(summary) {
  // clusters (rows, ordered by majority digit then purity) against true digits; each cell its count, shaded by share
  const order = summary.counts.map((_, k) => k).sort((a, b) => {
    const ma = summary.majority[a] < 0 ? 1e6 : summary.majority[a];
    const mb = summary.majority[b] < 0 ? 1e6 : summary.majority[b];
    return ma - mb || summary.purity[b] - summary.purity[a];
  });
  const table = el("table", "lv-heat");
  const head = el("tr");
  head.append(el("th", null, "cluster → its majority digit"), ...summary.classes.map((c) => el("th", null, c)));
  table.append(head);
  for (const k of order) {
    const tr = el("tr");
    const major = summary.majority[k] >= 0 ? summary.classes[summary.majority[k]] : "—";
    tr.append(el("th", null, `cluster ${k} → ${major}`));
    const total = Math.max(1, summary.size[k]);
    summary.counts[k].forEach((count, c) => {
      const share = count / total;
      const td = el("td", null, String(count));
      td.title = `cluster ${k}, digit ${summary.classes[c]}: ${count} (${Math.round(100 * share)}% of the cluster)`;
      td.style.background = `rgba(${HEAT.join(", ")}, ${share.toFixed(3)})`;
      if (share > 0.5) td.style.color = "#fff";
      tr.append(td);
    });
    table.append(tr);
  }
  return table;
}

function scrolling(table) {
  // a wide table scrolls sideways on a phone, inside its own box
  const box = el("div", "lv-scroll");
  box.append(table);
  return box;
}

class Clusters {
  constructor(element) {
    this.root = element;
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    const shown = view.models.map((m, k) => [m, k]).filter(([m]) => m.clusters);
    if (!shown.length) {
      this.root.append(el("p", "lv-status", NONE_SHOWN));
      return;
    }
    const models = await loadModels(view);
    const ort = await ortOf(view);
    if (view !== this.view) return;
    for (const [info, k] of shown) {
      const m = models[k];
      const s = info.clusters;
      const { z, labels } = headCodes(m);
      const { probs } = await decodeBatch(ort, m, z, labels);
      const total = Math.max(1, s.size.reduce((a, b) => a + b, 0));
      const heads = el("div", "lv-heads");
      s.size.forEach((size, c) => {
        const caption = size ? `digit ${s.classes[s.majority[c]]} · ${Math.round(100 * s.purity[c])}% pure · ` +
          `${((100 * size) / total).toFixed(1)}% of digits` : "empty";
        heads.append(panel(`cluster ${c}`, tiles(probs.subarray(c * 784, (c + 1) * 784), 1, 1, { scale: 3 }), caption));
      });
      this.root.append(words(s.report), panel(`${m.label}: its clusters at style z = 0`, heads),
        panel(`${m.label}: test digits per cluster`, scrolling(heatmap(s))));
    }
  }
}

export const mount = mountWith("clusters", (element) => new Clusters(element));
