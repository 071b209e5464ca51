// Beside and under the planes: how the other models follow (the link buttons, Copy link), the decoded digit of
// every model with its caption and the classifier's verdict, the key to the digit colours, and the options for
// q(z|x) ellipses. Each function draws what it is given and reports clicks through callbacks.

import { button, canvas, checkbox, el } from "./dom.js";
import { paintDigit } from "./draw.js";

export function showLinks(box, view, { pick, copy }) {
  // the link buttons (the chosen one pressed), Copy link, and a line on what the chosen link does
  box.innerHTML = "";
  box.append(el("span", "le-link-title", "Other models follow:"));
  for (const link of view.links) {
    const b = button("le-link-button", link, () => pick(link));
    b.setAttribute("aria-pressed", String(link === view.link));
    box.append(b);
  }
  const share = button("le-link-button le-copy", "Copy link", () => copy(share));
  share.title = "a link to this view: the models, the tab, the pinned point, the background, the link, the label";
  box.append(share);
  const scales = [...new Set(view.models.map((m) => m.scale).filter((s) => s))];
  const note = view.link === "same z"
    ? `Same z only between models whose codes were made to match the same prior (${scales.join(", ") || "none shown"}); ` +
      "the others show the test digit nearest to the point."
    : "Each other model decodes its own code of the test digit nearest to the point.";
  box.append(el("div", "le-link-note", note));
}

export function showTiles(box, models) {
  // one tile per model: its name, its decoded digit (28 x 28 canvas), a caption and the classifier's verdict
  box.innerHTML = "";
  return models.map((m) => {
    const tile = el("div", "le-tile");
    const digit = canvas("le-digit", 28, 28);
    const caption = el("div", "le-tile-caption");
    const verdict = el("div", "le-verdict");
    tile.append(el("div", "le-tile-title", m.label), digit, caption, verdict);
    box.append(tile);
    return { tile, canvas: digit, caption, verdict, pixels: digit.getContext("2d").createImageData(28, 28) };
  });
}

export function paintTile(tile, model, img, t, { fade, classifier }) {
  // a model's decoded digit (img: 784 probabilities, or null while nothing is decoded) for target t: outside its
  // codes the digit is faded and framed in red, as the server's strip draws it
  if (img) {
    paintDigit(tile.pixels, img, t.outside ? fade : 1);
    tile.canvas.getContext("2d").putImageData(tile.pixels, 0, 0);
  }
  tile.tile.classList.toggle("le-outside", t.outside);
  const z = Array.from(t.z.slice(0, 2), (v) => v.toFixed(2)).join(", ") + (t.z.length > 2 ? ", \u2026" : "");
  const kind = model.clustered ? "cluster" : "label";
  tile.caption.textContent = `z = (${z})` + (t.label !== null ? `, ${kind} ${t.label}` : "");
  tile.verdict.textContent = t.outside ? "outside its codes" : (classifier && img ? "classifier: \u2026" : "");
}

export function showVerdict(tile, probs) {
  // the classifier's most likely digit for a tile, and how sure it is
  let best = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
  tile.verdict.textContent = `classifier: ${best} (${Math.round(100 * probs[best])}%)`;
}

export function showLegend(box, palette) {
  box.innerHTML = "<b>Digit colors</b> (test points, <i>classifier</i> background): ";
  palette.forEach((color, d) => {
    const swatch = el("span", "le-swatch");
    const dot = el("span", "le-dot", "\u25cf");
    dot.style.color = color;
    swatch.append(dot, document.createTextNode(` ${d}`));
    box.append(swatch);
  });
  box.append(el("span", "le-hatch-key", "hatched: outside the test codes"));
}

export function showOptions(box, models, ellipses, count, changed) {
  // q(z|x) ellipses, when a 2-D VAE is on the page: for the test digit at the point, and for `count` random ones
  box.innerHTML = "";
  if (!models.some((m) => m.arrays.cov)) return;
  box.append(el("b", null, "A VAE encodes a region, not a point:"),
             document.createTextNode(" its q(z|x) as 1\u03c3 and 2\u03c3 ellipses, for "));
  for (const [key, text] of [["pointed", "the test digit at the point"], ["random", `${count} random test digits`]]) {
    box.append(checkbox("le-option", text, ellipses[key], (on) => {
      ellipses[key] = on;
      changed();
    }));
  }
}
