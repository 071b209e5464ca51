// Canvas drawing for the live planes: axes and ticks, the moving point's crosshair and ring, the pin, the drawn
// digit's star, q(z|x) ellipses, and a decoded digit's pixels. No state: every function draws what it is given.
// `at(x, y)` is a plane's map from plane coordinates to canvas pixels (rules.toCanvas with its rectangle).

import { ticks } from "./rules.js";

const INK = "#282828";
const OUTSIDE = "#c81e1e"; // the colour that says "outside its codes" (as the page's CSS and the server's strip)
const ELLIPSE_STEPS = 48; // segments of an ellipse
const TICK = 4; // px of a tick mark

export function tickText(v) {
  return String(Number(v.toPrecision(6))).replace("-", "\u2212");
}

export function drawAxes(g, rect, size, extent, axes, scale, at, count = 5) {
  // the frame, about `count` ticks per axis with their values, and the axes' names around a plane's data rectangle
  const [xmin, xmax, ymin, ymax] = extent;
  const bottom = rect.top + rect.side;
  g.strokeStyle = "#969696";
  g.lineWidth = 1;
  g.strokeRect(rect.left - 0.5, rect.top - 0.5, rect.side + 1, rect.side + 1);
  g.fillStyle = INK;
  g.strokeStyle = INK;
  g.font = `${Math.round(14 * scale)}px system-ui, sans-serif`;
  g.textAlign = "center";
  g.textBaseline = "top";
  for (const t of ticks(xmin, xmax, count)) {
    const [u] = at(t, ymin);
    g.beginPath(); g.moveTo(u, bottom); g.lineTo(u, bottom + TICK); g.stroke();
    g.fillText(tickText(t), u, bottom + TICK + 1);
  }
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (const t of ticks(ymin, ymax, count)) {
    const [, v] = at(xmin, t);
    g.beginPath(); g.moveTo(rect.left - TICK, v); g.lineTo(rect.left, v); g.stroke();
    g.fillText(tickText(t), rect.left - TICK - 2, v);
  }
  g.font = `${Math.round(15 * scale)}px system-ui, sans-serif`;
  g.textAlign = "center";
  g.textBaseline = "bottom";
  g.fillText(axes[0], rect.left + rect.side / 2, size - 1);
  g.save();
  g.translate(Math.round(13 * scale), rect.top + rect.side / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = "middle";
  g.fillText(axes[1], 0, 0);
  g.restore();
}

export function drawPinMark(g, u, v) {
  // where the pin is, while the pointer decodes somewhere else
  g.strokeStyle = "rgba(0,0,0,0.55)";
  g.lineWidth = 2;
  g.beginPath(); g.arc(u, v, 5, 0, 2 * Math.PI); g.stroke();
}

export function drawCrosshair(g, rect, u, v, outside, scale) {
  g.strokeStyle = "rgba(120,120,120,0.9)";
  g.lineWidth = scale > 1 ? 2 : 1;
  g.setLineDash(outside ? [4, 3] : []);
  g.beginPath();
  g.moveTo(rect.left, v); g.lineTo(rect.left + rect.side, v);
  g.moveTo(u, rect.top); g.lineTo(u, rect.top + rect.side);
  g.stroke();
  g.setLineDash([]);
}

export function drawRing(g, u, v, outside, scale) {
  // the decoded point: a dark ring on a white one, red outside the codes
  const radius = 8 * scale;
  g.strokeStyle = "#fff"; g.lineWidth = 5 * scale;
  g.beginPath(); g.arc(u, v, radius, 0, 2 * Math.PI); g.stroke();
  g.strokeStyle = outside ? OUTSIDE : "#000"; g.lineWidth = 3 * scale;
  g.beginPath(); g.arc(u, v, radius, 0, 2 * Math.PI); g.stroke();
}

export function drawOutsideNote(g, rect, u, v) {
  g.fillStyle = OUTSIDE;
  g.font = "bold 14px system-ui, sans-serif";
  g.textAlign = u > rect.left + rect.side / 2 ? "right" : "left"; // towards the middle: never cut off
  g.textBaseline = "bottom";
  g.fillText("outside its codes", u + (g.textAlign === "left" ? 12 : -12), v - 6);
}

export function ellipseAxes([a, b, d]) {
  // N(mu, [[a, b], [b, d]]): its variances along its axes (the eigenvalues, largest first) and the tilt
  const tr = (a + d) / 2;
  const disc = Math.sqrt(Math.max(((a - d) / 2) ** 2 + b * b, 0));
  const l1 = tr + disc;
  return { l1, l2: Math.max(tr - disc, 0), angle: Math.abs(b) < 1e-12 && a >= d ? 0 : Math.atan2(l1 - a, b) };
}

export function drawEllipse(g, at, mu, cov, sigmas, { color, width, dash = [], fill = null }) {
  // the level sets of N(mu, cov) at `sigmas` (cov as [c11, c12, c22]): the eigenvectors give the tilt
  const { l1, l2, angle } = ellipseAxes(cov);
  g.strokeStyle = color;
  g.lineWidth = width;
  g.setLineDash(dash);
  for (const s of sigmas) {
    g.beginPath();
    for (let i = 0; i <= ELLIPSE_STEPS; i++) {
      const t = (i / ELLIPSE_STEPS) * 2 * Math.PI;
      const ex = s * Math.sqrt(l1) * Math.cos(t);
      const ey = s * Math.sqrt(l2) * Math.sin(t);
      const [u, v] = at(mu[0] + ex * Math.cos(angle) - ey * Math.sin(angle),
                        mu[1] + ex * Math.sin(angle) + ey * Math.cos(angle));
      if (i === 0) g.moveTo(u, v); else g.lineTo(u, v);
    }
    if (fill) {
      g.fillStyle = fill;
      g.fill();
    }
    g.stroke();
  }
  g.setLineDash([]);
}

export function drawStar(g, u, v) {
  // the drawn digit, where its code lands
  g.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const r = i % 2 === 0 ? 9 : 4;
    g.lineTo(u + r * Math.cos(a), v + r * Math.sin(a));
  }
  g.closePath();
  g.fillStyle = "#ffd700";
  g.strokeStyle = "#000";
  g.lineWidth = 1;
  g.fill();
  g.stroke();
}

export function paintDigit(pixels, img, fade) {
  // 784 probabilities -> dark ink on white RGBA; `fade` < 1 keeps that share of the ink (outside the codes)
  const px = pixels.data;
  for (let i = 0; i < 784; i++) {
    const v = Math.round(Math.min(Math.max(1 - img[i] * fade, 0), 1) * 255);
    px[4 * i] = v; px[4 * i + 1] = v; px[4 * i + 2] = v; px[4 * i + 3] = 255;
  }
}

export function drawZoom(g, box, mu, cov, zoom, style, scale, title) {
  // an inset `box` ({left, top, side}) that shows q(z|x) around its mean at `zoom` px per unit of z, with its 1
  // and 2 sigma outlines to scale and a `title`: on the plane itself a typical one is a dot
  g.save();
  g.fillStyle = "rgba(255, 255, 255, 0.94)";
  g.strokeStyle = style.color;
  g.lineWidth = 1.5;
  g.fillRect(box.left, box.top, box.side, box.side);
  g.strokeRect(box.left + 0.5, box.top + 0.5, box.side - 1, box.side - 1);
  g.beginPath();
  g.rect(box.left, box.top, box.side, box.side);
  g.clip();
  const cu = box.left + box.side / 2;
  const cv = box.top + box.side / 2;
  const at = (x, y) => [cu + (x - mu[0]) * zoom, cv - (y - mu[1]) * zoom];
  drawEllipse(g, at, mu, cov, [1, 2], style);
  g.fillStyle = style.color;
  g.beginPath(); g.arc(cu, cv, 2.5, 0, 2 * Math.PI); g.fill();
  g.fillStyle = INK;
  g.font = `${Math.round(Math.min(13 * scale, box.side / 6))}px system-ui, sans-serif`;
  g.textAlign = "left";
  g.textBaseline = "top";
  g.fillText(title, box.left + 4, box.top + 3);
  g.restore();
}
