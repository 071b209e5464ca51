// The live component's boxes (status line, planes, the strip of link buttons and digits beside them, the key and
// the options under them) and how they share the width: beside each other, or stacked on a phone.

import { el } from "./dom.js";
import { planeSize } from "./rules.js";

const NARROW = 720; // px: a narrower component stacks the planes and the digits (a phone)
const NARROW_MAX = 420; // px of a plane on a phone
const STRIP_GAP = 16; // px between the planes and the digits (.le-body's gap in live_plane.css)

export function buildFrame(root) {
  root.innerHTML = "";
  const f = { box: el("div", "le-live"), status: el("div", "le-status"), planes: el("div", "le-planes"),
              strip: el("div", "le-strip"), links: el("div", "le-link"), tiles: el("div", "le-tiles"),
              legend: el("div", "le-legend"), options: el("div", "le-options") };
  f.status.setAttribute("role", "status");
  const body = el("div", "le-body");
  f.strip.append(f.links, f.tiles);
  body.append(f.planes, f.strip);
  f.box.append(f.status, body, f.legend, f.options);
  root.append(f.box);
  return f;
}

export function say(f, text, warn) {
  f.status.textContent = text;
  f.status.classList.toggle("le-warn", Boolean(warn));
}

export function fitPlanes(f, width, n, layout) {
  // the size of n planes in a component `width` px wide (the page's layout rules: the view's rules.layout)
  const narrow = width < NARROW;
  f.box.classList.toggle("le-narrow", narrow);
  if (narrow) return Math.max(layout.min, Math.min(NARROW_MAX, f.planes.clientWidth));
  // the planes get the row's width but the strip's (their own box shrinks to them, the strip beside them)
  const room = f.box.clientWidth - f.strip.offsetWidth - STRIP_GAP;
  return planeSize(n, room, window.innerHeight - (f.planes.getBoundingClientRect().top + window.scrollY), layout);
}

export function moveStripTo(f, card) {
  // on a phone the decoded digits sit right under the plane being touched; elsewhere beside the planes
  if (f.box.classList.contains("le-narrow")) {
    card.after(f.strip);
  } else if (f.strip.parentElement !== f.planes.parentElement) {
    f.planes.after(f.strip);
  }
}
