// The static edition's state and the view the page builds from it (no server): which models are shown, the
// projection, background, label, link, projector mode, the pin and the tab; read from a link's query with the
// app's own rule (rules.parseQuery, explorer/ui/share.py's twin) and built into the JSON the live planes and the
// views take (the shape explorer/page_views.py views_json gives the Gradio app).

import { parseQuery } from "../rules.js";

export function known(site) {
  // what a link may name here (parseQuery's `known`)
  return { models: Object.keys(site.models), default: site.default, tabs: site.tabs.map(([id]) => id),
    backgrounds: site.backgrounds, links: site.links, maxModels: site.max_models, labelLimit: site.rules.label_limit };
}

export function stateFrom(site, query) {
  // the state a page opens with: the link's values that make sense, else the defaults; and what was ignored
  const { view, ignored } = parseQuery(query, known(site));
  return {
    state: { models: view.models || [...site.default], projection: site.projections[0], background: view.background || "none",
      link: view.link || site.links[0], label: view.label ?? "auto", projector: Boolean(view.projector),
      pin: view.pin || null, tab: view.tab || site.tabs[0][0] },
    ignored,
  };
}

export function ignoredNote(ignored) {
  // what a shared link held that was ignored (explorer/ui/share.py ignored_note's words)
  if (!ignored.length) return "";
  const said = ignored.map(([name, value]) => (name === "models" ? `no model "${value}" here` : `${name}="${value}" is not known here`));
  return `The shared link's ${said.join("; ")}: ignored.`;
}

const absolute = (url) => (url ? new URL(url, document.baseURI).href : url);

export function buildView(site, docs, state) {
  // the live planes' and views' JSON for the shown models (docs: their model.json)
  const models = docs.map((doc) => {
    const v = doc.views[state.projection] || doc.views[site.projections[0]];
    const layer = v.layers[`${state.background}${state.projector ? "|safe" : ""}`];
    const extras = { ...doc.extras, encoder: absolute(doc.extras.encoder) };
    return { ...v, ...extras, layer: absolute(layer), data: absolute(v.data), onnx: absolute(v.onnx), star: null, drawn_q: null };
  });
  const pin = state.pin && state.pin[0] < models.length ? state.pin : null;
  const home = docs.length ? (docs[0].views[state.projection] || docs[0].views[site.projections[0]]).home : [0, 0];
  return {
    models, projection: state.projection, background: state.background, projector: state.projector,
    palette: state.projector ? site.safe_palette : site.palette, link: state.link, links: site.links, label: state.label,
    rules: site.rules, pinned: pin ? { model: pin[0], x: pin[1], y: pin[2] } : { model: 0, x: home[0], y: home[1] },
    ort: absolute(site.ort), classifier: absolute(site.classifier), sprite: absolute(site.sprite),
    test_count: site.test_count, views: site.views,
  };
}

export function withRoom(shown, extra, max, needed = () => false) {
  // explorer/ui/models.py with_room: shown with extra added, at most max; the ones the step does not need go first,
  // the last picked of them first (the lesson's first models stay). Returns the models and the ones removed.
  const keep = [...new Set(shown)].filter((k) => !extra.includes(k));
  const added = [...new Set(extra)].slice(0, max);
  const over = keep.length + added.length - max;
  const order = [...keep].reverse().filter((k) => !needed(k)).concat([...keep].reverse().filter((k) => needed(k)));
  const removed = keep.filter((k) => order.slice(0, Math.max(0, over)).includes(k));
  return { models: [...keep.filter((k) => !removed.includes(k)), ...added], removed };
}
