// The planes of the live view: one card per model (title, the plane's picture with its axes under an overlay
// canvas, a note), their size, and what the overlays show (the crosshair and ring of each model's target, the pin,
// the drawn digit's star, q(z|x) ellipses). The controller (live_plane.js) decides what is shown; input.js listens.

import { canvas, el } from "./dom.js";
import { drawAxes, drawCrosshair, drawEllipse, drawOutsideNote, drawPinMark, drawRing, drawStar, drawZoom,
         ellipseAxes } from "./draw.js";
import { inside, planeRect, toCanvas, toPlane } from "./rules.js";

const SPREAD = 7919; // a prime: test digits (r * SPREAD + SPREAD_START) % n, r = 0, 1, ..., spread over the split,
const SPREAD_START = 13; // the same ones every time
const POINTED = { color: "#1d4ed8", width: 2.5, fill: "rgba(29, 78, 216, 0.18)" }; // q(z|x) of the digit at the point
const DRAWN = { color: "#b8860b", width: 2.5, dash: [5, 3] }; // q(z|x) of the drawn digit
const RANDOM_WIDTH = 1.5;
const ZOOM_BELOW = 30; // px across a 2-sigma outline under which it is shown again, larger, in an inset
const ZOOM_SIDE = 120; // px of that inset

export class Planes {
  constructor(container, listen) {
    this.root = container;
    this.listen = listen; // (overlay canvas, model index) -> attaches the input handlers
    this.cards = [];
  }

  show(models, rules, scale) {
    // a card per model; sized and drawn by resize()
    this.models = models;
    this.rules = rules;
    this.scale = scale; // projector mode: text and lines bigger
    this.root.innerHTML = "";
    this.cards = models.map((m, k) => {
      const card = el("figure", "le-plane");
      card.dataset.k = String(k);
      const stack = el("div", "le-stack");
      const base = canvas("le-base");
      const over = canvas("le-over");
      over.tabIndex = 0;
      over.setAttribute("role", "application");
      over.setAttribute("aria-label", `${m.title}: latent plane; arrow keys move the point`);
      stack.append(base, over);
      const note = el("div", "le-note");
      card.append(el("figcaption", "le-title", m.title));
      if (m.caption) card.append(el("div", "le-caption", m.caption)); // what the plane cannot show, and why
      card.append(stack, note);
      this.root.append(card);
      this.listen(over, k);
      return { card, base, over, note };
    });
  }

  resize(size, dpr) {
    // every plane `size` css px at this device pixel ratio; false when nothing changed
    if (!this.cards.length || (this.cards[0].size === size && this.cards[0].dpr === dpr)) return false;
    this.cards.forEach((c, k) => {
      c.card.style.width = `${size}px`;
      for (const cv of [c.base, c.over]) {
        cv.style.width = `${size}px`;
        cv.style.height = `${size}px`;
        cv.width = Math.round(size * dpr);
        cv.height = Math.round(size * dpr);
      }
      c.size = size;
      c.dpr = dpr;
      this.drawBase(k);
    });
    return true;
  }

  rect(k) {
    return planeRect(this.cards[k].size, this.scale > 1 ? this.rules.projector_margins : this.rules.margins);
  }

  at(k) {
    // plane coordinates -> canvas pixels of plane k
    const extent = this.models[k].extent;
    const rect = this.rect(k);
    return (x, y) => toCanvas(extent, rect, x, y);
  }

  pointAt(k, u, v) {
    // the plane point under canvas pixel (u, v), or null outside the data rectangle
    const rect = this.rect(k);
    return inside(rect, u, v) ? toPlane(this.models[k].extent, rect, u, v) : null;
  }

  drawBase(k) {
    const c = this.cards[k];
    const m = this.models[k];
    const g = c.base.getContext("2d");
    g.setTransform(c.dpr, 0, 0, c.dpr, 0, 0);
    g.clearRect(0, 0, c.size, c.size);
    const rect = this.rect(k);
    g.imageSmoothingEnabled = true;
    g.drawImage(m.image, rect.left, rect.top, rect.side, rect.side);
    const count = Math.max(2, Math.floor(rect.side / (this.rules.tick_px * this.scale))); // values apart
    drawAxes(g, rect, c.size, m.extent, m.axes, this.scale, this.at(k), count);
  }

  drawOverlays({ targets, pinned, point, ellipses, palette }) {
    this.cards.forEach((c, k) => {
      const g = c.over.getContext("2d");
      g.setTransform(c.dpr, 0, 0, c.dpr, 0, 0);
      g.clearRect(0, 0, c.size, c.size);
      const rect = this.rect(k);
      const at = this.at(k);
      g.save();
      g.beginPath();
      g.rect(rect.left, rect.top, rect.side, rect.side);
      g.clip();
      const m = this.models[k];
      if (m.star) drawStar(g, ...at(m.star[0], m.star[1]));
      if (pinned && pinned.model === k && point && point !== pinned) drawPinMark(g, ...at(pinned.x, pinned.y));
      const t = targets && targets[k];
      if (t) {
        const [u, v] = at(t.point[0], t.point[1]);
        drawCrosshair(g, rect, u, v, t.outside, this.scale);
        drawRing(g, u, v, t.outside, this.scale);
        if (t.outside) drawOutsideNote(g, rect, u, v);
      }
      this.drawPosteriors(g, k, t, ellipses, palette); // over the crosshair: a 2-D VAE's regions are small
      g.restore();
    });
  }

  drawPosteriors(g, k, target, ellipses, palette) {
    // a 2-D VAE's q(z|x) of test digits (their means are the plane's points) and of the drawn digit
    const m = this.models[k];
    const cov = m.arrays.cov;
    if (!cov) return;
    const at = this.at(k);
    const of = (i) => [[m.arrays.latents[2 * i], m.arrays.latents[2 * i + 1]], [cov[3 * i], cov[3 * i + 1], cov[3 * i + 2]]];
    if (ellipses.random) {
      const n = m.arrays.labels.length;
      for (let r = 0; r < this.rules.random_ellipses; r++) {
        const i = (r * SPREAD + SPREAD_START) % n;
        const color = palette[m.arrays.labels[i] % palette.length] || "#555";
        drawEllipse(g, at, ...of(i), [1], { color, width: RANDOM_WIDTH });
      }
    }
    if (ellipses.pointed && target) {
      drawEllipse(g, at, ...of(target.near), [1, 2], POINTED);
      this.zoomIn(g, k, ...of(target.near));
    }
    if (m.drawn_q) drawEllipse(g, at, m.drawn_q.mu, m.drawn_q.cov, [1, 2], DRAWN);
  }

  zoomIn(g, k, mu, cov) {
    // a 2-sigma outline smaller than ZOOM_BELOW px shows as a dot: draw it again, larger, in an inset (in the
    // corner away from the point), so the lesson's "a VAE encodes a region" can be seen
    const rect = this.rect(k);
    const [xmin, xmax] = this.models[k].extent;
    const perUnit = rect.side / (xmax - xmin);
    const { l1 } = ellipseAxes(cov);
    const outline = 2 * 2 * Math.sqrt(l1) * perUnit; // px across the 2-sigma outline on the plane
    if (!(outline > 0) || outline >= ZOOM_BELOW * this.scale) return;
    const side = Math.round(Math.min(ZOOM_SIDE * this.scale, rect.side * 0.45));
    const [u, v] = this.at(k)(mu[0], mu[1]);
    const right = u < rect.left + rect.side / 2; // the side of the plane away from the point
    const lower = v < rect.top + rect.side / 2;
    const box = { left: right ? rect.left + rect.side - side - 4 : rect.left + 4,
                  top: lower ? rect.top + rect.side - side - 4 : rect.top + 4, side };
    const zoom = (side * 0.7) / (4 * Math.sqrt(l1)); // the 2-sigma outline across 70% of the inset
    drawZoom(g, box, mu, cov, zoom, POINTED, this.scale, `\u00d7${Math.round(zoom / perUnit)}`);
  }

  note(k, t) {
    // under plane k: where its target is and why
    const note = this.cards[k].note;
    const cov = this.models[k].arrays.cov; // a 2-D VAE: how large the region is that the digit there encodes to
    const sigma = cov ? ellipseAxes(Array.from(cov.slice(3 * t.near, 3 * t.near + 3))) : null;
    note.textContent = `(${t.point[0].toFixed(2)}, ${t.point[1].toFixed(2)}) \u00b7 ${t.how}` +
      (t.outside ? " \u00b7 outside its codes" : "") +
      (sigma ? ` \u00b7 q(z|x): \u03c3 ${Math.sqrt(sigma.l1).toFixed(2)} \u00d7 ${Math.sqrt(sigma.l2).toFixed(2)}` : "");
    note.classList.toggle("le-outside", t.outside);
  }
}
