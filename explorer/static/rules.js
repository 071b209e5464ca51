// The rules the page shares with the server, as pure functions of plain objects (no DOM, no state). Each one is
// the page's copy of one in explorer/rules.py (or explorer/ui/share.py); tests/golden_rules.json holds what the
// Python side returns for the same inputs, and tests/js/rules.test.mjs checks these functions against it.
//
// A model here is what explorer/rules.py's page_fields and page_arrays send for one plane: {latent_dim, view,
// extent, inverse, conditional, num_classes, clustered, scale, radius, arrays: {xy, latents, labels, label_of?,
// grid?} (typed arrays), arraysShape: {name: shape}}.

// -- where a point lands --------------------------------------------------------------------------------------
export function nearest(xy, x, y) {
  // rules.nearest over float32 plane points (N*2), in float32 arithmetic as numpy does it: the closest's index
  let best = 0;
  let bestD = Infinity;
  const fx = Math.fround(x);
  const fy = Math.fround(y);
  for (let i = 0, n = xy.length / 2; i < n; i++) {
    const dx = Math.fround(xy[2 * i] - fx);
    const dy = Math.fround(xy[2 * i + 1] - fy);
    const d = Math.fround(Math.fround(dx * dx) + Math.fround(dy * dy));
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return { index: best, d2: bestD };
}

function gridInverse(model, x, y, z) {
  // projection.GridInverse: bilinear between the latents precomputed on a regular grid over the plane
  const g = model.arrays.grid;
  const r = model.arraysShape.grid[0];
  const d = model.latent_dim;
  const [xmin, xmax, ymin, ymax] = model.inverse.extent;
  const clip = (v) => Math.min(Math.max(v, 0), r - 1);
  const fx = clip(((x - xmin) / (xmax - xmin)) * (r - 1));
  const fy = clip(((y - ymin) / (ymax - ymin)) * (r - 1));
  const x0 = Math.min(Math.trunc(fx), r - 2);
  const y0 = Math.min(Math.trunc(fy), r - 2);
  const tx = fx - x0;
  const ty = fy - y0;
  const at = (row, col, j) => g[(row * r + col) * d + j];
  for (let j = 0; j < d; j++) {
    const top = at(y0, x0, j) * (1 - tx) + at(y0, x0 + 1, j) * tx;
    const bottom = at(y0 + 1, x0, j) * (1 - tx) + at(y0 + 1, x0 + 1, j) * tx;
    z[j] = top * (1 - ty) + bottom * ty;
  }
}

export function inverse(model, x, y) {
  // view.inverse.inverse_transform of one point: identity, PCA basis or the UMAP grid
  const inv = model.inverse;
  const d = model.latent_dim;
  const z = new Float32Array(d);
  if (inv.kind === "identity") {
    const p = [Math.fround(x), Math.fround(y)];
    for (let j = 0; j < d; j++) z[j] = p[j];
  } else if (inv.kind === "pca") {
    for (let j = 0; j < d; j++) z[j] = x * inv.components[0][j] + y * inv.components[1][j] + inv.mean[j];
  } else if (inv.kind === "grid") {
    gridInverse(model, x, y, z);
  } else {
    throw new Error(`no inverse of kind ${inv.kind}`);
  }
  return z;
}

export function isOutside(model, x, y) {
  // rules.is_outside: farther from every test code than the plane's radius
  const r = Math.fround(model.radius);
  return nearest(model.arrays.xy, x, y).d2 > Math.fround(r * r);
}

export function conditionalLabel(model, x, y, label) {
  // rules.conditional_label: the chosen label (a digit or a cluster), or ("auto", or one this model has not) the
  // one of the nearest test point
  if (!model.conditional) return null;
  const chosen = label === null || label === undefined || label === "" || label === "auto" ? NaN
    : Math.trunc(Number(label));
  if (chosen >= 0 && chosen < model.num_classes) return chosen;
  const of = model.arrays.label_of || model.arrays.labels; // a clustered AAE's test digits: their clusters
  return of[nearest(model.arrays.xy, x, y).index];
}

export function linkTargets(models, clicked, px, py, link, label) {
  // rules.click_targets: what every model decodes for point (x, y) of model `clicked`'s plane (a float32 point, as
  // the server takes it); `near` is the clicked plane's test digit nearest to the point
  const x = Math.fround(px);
  const y = Math.fround(py);
  const source = models[clicked];
  const near = nearest(source.arrays.xy, x, y).index;
  return models.map((m, k) => {
    const sameZ = link === "same z" && source.scale !== null && m.scale === source.scale;
    let point;
    let z;
    let how;
    if (k === clicked || sameZ) {
      point = [x, y];
      z = inverse(m, x, y);
      how = k === clicked ? "the point" : `same z (${source.scale})`;
    } else {
      point = [m.arrays.xy[2 * near], m.arrays.xy[2 * near + 1]];
      z = m.arrays.latents.slice(near * m.latent_dim, (near + 1) * m.latent_dim);
      how = `test digit #${near}`;
      if (link === "same z") how += m.view === "latent" ? " (its codes have another scale)" : " (a projected plane)";
    }
    return { point, z, how, near, label: conditionalLabel(m, point[0], point[1], label),
             outside: isOutside(m, point[0], point[1]) };
  });
}

export function parseLabel(value, limit) {
  // rules.parse_label: "auto", or a whole number 0 <= n < limit; null for anything else
  const text = String(value);
  if (text === "auto") return "auto";
  return /^[0-9]+$/.test(text) && Number(text) < limit ? Number(text) : null;
}

// -- a plane on the page: its data rectangle, the walk of the arrow keys, its ticks, its size -------------------
export function planeRect(size, margins) {
  // the data rectangle (a square) in a plane of `size` px
  const side = size - Math.max(margins.left + margins.right, margins.top + margins.bottom);
  return { left: margins.left, top: margins.top, side };
}

export function toPlane(extent, rect, u, v) {
  const [xmin, xmax, ymin, ymax] = extent;
  return [xmin + ((u - rect.left) / rect.side) * (xmax - xmin), ymax - ((v - rect.top) / rect.side) * (ymax - ymin)];
}

export function toCanvas(extent, rect, x, y) {
  const [xmin, xmax, ymin, ymax] = extent;
  return [rect.left + ((x - xmin) / (xmax - xmin)) * rect.side, rect.top + ((ymax - y) / (ymax - ymin)) * rect.side];
}

export function inside(rect, u, v) {
  return u >= rect.left && u < rect.left + rect.side && v >= rect.top && v < rect.top + rect.side;
}

export function walk(extent, point, dir, fast, rules) {
  // an arrow key: a share of the plane's width and height (more with Shift), kept inside the plane
  const [xmin, xmax, ymin, ymax] = extent;
  const step = rules.walk_step * (fast ? rules.walk_fast : 1);
  return [Math.min(xmax, Math.max(xmin, point[0] + dir[0] * step * (xmax - xmin))),
          Math.min(ymax, Math.max(ymin, point[1] + dir[1] * step * (ymax - ymin)))];
}

export function ticks(lo, hi, n = 5) {
  // about n ticks at a 1-2-2.5-5 step
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((s) => s * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function planeSize(n, width, height, layout) {
  // the biggest planes for n models in a box of width x height: try every number of columns; when none keeps
  // every row in view with planes of layout.min px or more, as wide as they can be in one row (up to 3 models)
  // or two (layout: the view's rules.layout)
  const wide = (cols) => Math.floor((width - layout.gap * (cols - 1)) / cols);
  let best = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tall = Math.floor((height - layout.title * rows - layout.key) / rows);
    if (tall >= layout.min) best = Math.max(best, Math.min(layout.max, wide(cols), tall));
  }
  if (best < layout.min) best = Math.min(layout.max, wide(n <= 3 ? n : Math.ceil(n / 2)));
  return Math.max(Math.min(best, width), layout.smallest);
}

// -- the view in a link (explorer/ui/share.py reads and writes the same query) ----------------------------------
const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/; // a decimal number, nothing else

export function formatCoord(v, decimals) {
  // rules.format_coord: a tie rounds away from zero, and -0 is written 0
  return v.toFixed(decimals);
}

export function parsePin(z, plane, shown) {
  // rules.parse_pin: z "x,y" on plane # `plane` (a whole number; null for 0) of `shown` planes, or null
  const parts = String(z).split(",");
  const k = plane === null || plane === undefined ? "0" : String(plane);
  if (parts.length !== 2 || !parts.every((p) => NUMBER.test(p)) || !/^[0-9]+$/.test(k)) return null;
  const [x, y] = parts.map(Number);
  return Number.isFinite(x) && Number.isFinite(y) && Number(k) < shown ? [Number(k), x, y] : null;
}

export function urlQuery(pairs) {
  // rules.url_query: [name, value] pairs form-encoded
  const params = new URLSearchParams();
  for (const [name, value] of pairs) params.append(name, String(value));
  return params.toString();
}

export function shareQuery(view, rules) {
  // share.share_query: the query of a view {models: [keys], tab: id or null, pin: [plane #, x, y] or null,
  // background, link, label, projector}; rules: the view's rules (decimals of a coordinate)
  const pairs = [["models", view.models.join(",")]];
  if (view.tab) pairs.push(["tab", view.tab]);
  if (view.pin) {
    const [plane, x, y] = view.pin;
    pairs.push(["z", `${formatCoord(x, rules.z_decimals)},${formatCoord(y, rules.z_decimals)}`]);
    if (plane) pairs.push(["plane", String(plane)]);
  }
  pairs.push(["bg", view.background || "none"], ["link", view.link], ["label", String(view.label)]);
  if (view.projector) pairs.push(["projector", "1"]);
  return urlQuery(pairs);
}

export function parseQuery(query, known) {
  // share.parse_view_query: the view a link's query holds, and [name, value] of each value ignored (never an
  // error); known: {models: keys shown here, default: keys, tabs, backgrounds, links, maxModels, labelLimit}
  const q = {};
  for (const [name, value] of new URLSearchParams(query)) q[name] = value; // a repeated name: its last value
  const view = {};
  const ignored = [];
  if (q.models) {
    const keys = q.models.split(",").map((k) => k.trim()).filter((k) => k)
      .map((k) => (k.includes("/") ? k : `pretrained/${k}`)); // a bare name is a shipped model
    ignored.push(...keys.filter((k) => !known.models.includes(k)).map((k) => ["models", k]));
    const good = keys.filter((k) => known.models.includes(k)).slice(0, known.maxModels);
    view.models = good.length ? good : [...known.default];
  }
  for (const [name, allowed, key] of [["bg", known.backgrounds, "background"], ["link", known.links, "link"],
                                      ["tab", known.tabs, "tab"]]) {
    if (name in q) {
      if (allowed.includes(q[name])) view[key] = q[name];
      else ignored.push([name, q[name]]);
    }
  }
  if ("label" in q) {
    const label = parseLabel(q.label, known.labelLimit);
    if (label === null) ignored.push(["label", q.label]);
    else view.label = label;
  }
  if ("projector" in q) {
    if (q.projector === "0" || q.projector === "1") view.projector = q.projector === "1";
    else ignored.push(["projector", q.projector]);
  }
  if ("z" in q) {
    const pin = parsePin(q.z, "plane" in q ? q.plane : null, (view.models || known.default).length);
    if (pin === null) ignored.push(["z", q.z]);
    else view.pin = pin;
  }
  return { view, ignored };
}
