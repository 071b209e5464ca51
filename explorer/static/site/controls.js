// The static edition's header: the title, the lesson and the report card (folded), and the controls every tab
// reads (the models, projection, background, label, projector mode). Each control calls changed({name: value}).

import { el } from "../dom.js";

const NARROW = 720; // px: narrower is a phone (the page's own breakpoint, frame.js)
const TITLE = "Latent Explorer — what do autoencoders learn? Compare an AE, a VAE and an AAE trained on MNIST, side by side.";

function html(cls, markup) {
  // HTML the builder rendered from the project's own Markdown (explorer/site.py: raw HTML in it is escaped)
  const box = el("div", cls);
  box.innerHTML = markup;
  return box;
}

function folded(summary, ...body) {
  const d = el("details", "ls-fold");
  d.append(el("summary", null, summary), ...body);
  return d;
}

function select(options, value, onChange) {
  const s = el("select");
  for (const [v, text] of options) s.append(Object.assign(el("option", null, text), { value: v }));
  s.value = String(value);
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

function labelled(text, control) {
  const box = el("label", "ls-control");
  box.append(el("span", "ls-control-name", text), control);
  return box;
}

export function header(site, state, changed) {
  const box = el("header", "ls-header");
  box.append(el("h1", "ls-title", TITLE));
  const folds = el("div", "ls-folds");
  if (site.lesson) folds.append(folded("A 10-minute lesson (for class)", html("ls-lesson", site.lesson)));
  folds.append(folded("How good is each model? (each measured on its held-out test digits)",
    html("ls-note", site.report_note), html("ls-report", site.report)));
  const settings = el("details", "ls-settings");
  settings.open = window.innerWidth > NARROW; // a phone: the planes first, the options a tap away
  const shown = el("summary", null, `Models and options (${state.models.length} shown)`);
  settings.append(shown, controls(site, state, (change) => {
    if (change.models) shown.textContent = `Models and options (${change.models.length} shown)`;
    changed(change);
  }));
  box.append(folds, settings);
  return box;
}

function modelPicker(site, state, changed) {
  // a checkbox per model; at most site.max_models at once (the first picked go first)
  const box = el("fieldset", "ls-models");
  box.append(el("legend", null, `Models to compare (up to ${site.max_models})`));
  for (const [key, info] of Object.entries(site.models)) {
    const item = el("label", "ls-model");
    const check = Object.assign(el("input"), { type: "checkbox", checked: state.models.includes(key), value: key });
    check.addEventListener("change", () => {
      let keys = state.models.filter((k) => k !== key);
      if (check.checked) keys = [...keys, key].slice(-site.max_models);
      if (!keys.length) { check.checked = true; return; } // at least one model
      changed({ models: keys });
    });
    item.append(check, document.createTextNode(` ${info.label}`));
    box.append(item);
  }
  return box;
}

function controls(site, state, changed) {
  const row = el("div", "ls-controls");
  const labels = [["auto", "auto"], ...Array.from({ length: 16 }, (_, k) => [String(k), String(k)])];
  const projector = Object.assign(el("input"), { type: "checkbox", checked: state.projector });
  projector.addEventListener("change", () => changed({ projector: projector.checked }));
  row.append(modelPicker(site, state, changed),
    labelled("Projection (> 2-D)", select(site.projections.map((p) => [p, p]), state.projection, (v) => changed({ projection: v }))),
    labelled("Plane background", select(site.backgrounds.map((b) => [b, b]), state.background, (v) => changed({ background: v }))),
    labelled("Label / cluster", select(labels, state.label, (v) => changed({ label: v === "auto" ? "auto" : Number(v) }))),
    labelled("Projector mode", projector));
  return row;
}
