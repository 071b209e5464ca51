"""Write tests/golden_rules.json: inputs, and what the Python rules (explorer/rules.py, explorer/projection.py's
inverse maps, explorer/ui/share.py) return for them. tests/js/rules.test.mjs checks the page's rules
(explorer/static/rules.js) against the same file; tests/test_rules.py checks that the file is what Python gives.

    python tests/make_golden.py

Models come as the page receives them (rules.page_fields, and rules.page_arrays as base64 typed arrays): small
seeded synthetic ones, and shipped ones from pretrained/ (their real configs, inverse maps and extents, with their
first SUBSET test digits).
"""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer import rules  # noqa: E402
from explorer.projection import GridInverse, Identity2D, PCA2D, padded_extent  # noqa: E402
from explorer.registry import Entry, View  # noqa: E402
from explorer.ui import share  # noqa: E402
from trainer.config import ModelConfig  # noqa: E402

GOLDEN = Path(__file__).with_name("golden_rules.json")
SUBSET = 500  # test digits of each shipped model in the file
SYNTHETIC = 40  # test digits of each synthetic model


# -- the models ------------------------------------------------------------------------------------------------
def entry(name: str, config: ModelConfig, view: View, latents, labels, label_of=None) -> Entry:
    """An entry with one plane (so every projection asks it for that one), as the rules read it."""
    return Entry(name, name, SimpleNamespace(model_config=config), np.asarray(latents, np.float32),
                 np.asarray(labels), {view.name: view}, label_of=None if label_of is None else np.asarray(label_of))


def synthetic() -> dict[str, Entry]:
    rng = np.random.default_rng(30)
    n = SYNTHETIC
    labels = rng.integers(0, 10, n)
    xy = (rng.normal(size=(n, 2)) * [1.0, 1.5]).astype(np.float32)
    xy[7] = xy[3]  # a tie: the first of equally near points wins
    square = padded_extent(xy)

    latent = View("latent", xy, Identity2D().fit(xy), square)
    one_d = xy[:, :1].copy()
    codes5 = (rng.normal(size=(n, 5)) * [3, 2, 1, 0.5, 0.1]).astype(np.float32)
    pca = PCA2D().fit(codes5)
    grid = rng.normal(size=(5, 5, 3)).astype(np.float32)
    made = {
        "ae": (ModelConfig(model="ae"), latent, xy, None),
        "vae": (ModelConfig(model="vae"), latent, xy, None),
        "aae-gaussian": (ModelConfig(model="aae"), latent, xy, None),
        "aae-mixture10": (ModelConfig(model="aae", prior="mixture10"), latent, xy, None),
        "aae-mixture10-guided": (ModelConfig(model="aae", prior="mixture10", label_guided=True), latent, xy, None),
        "vae-fitted-prior": (ModelConfig(model="vae", prior_components=10), latent, xy, None),
        "cvae": (ModelConfig(model="cvae"), latent, xy, labels),
        "aae-cluster16": (ModelConfig(model="aae", clusters=16), latent, xy, rng.integers(0, 16, n)),
        "vae-1d": (ModelConfig(model="vae", latent_dim=1),
                   View("latent", np.c_[one_d, np.zeros(n, np.float32)], Identity2D().fit(one_d), square), one_d,
                   None),
        "vae-5d-pca": (ModelConfig(model="vae", latent_dim=5),
                       View("pca", pca.transform(codes5), pca, padded_extent(pca.transform(codes5))), codes5, None),
        "vae-3d-grid": (ModelConfig(model="vae", latent_dim=3), View("umap", xy, GridInverse(grid, square), square),
                        rng.normal(size=(n, 3)), None),
    }
    return {f"syn-{name}": entry(f"syn-{name}", config, view, codes, labels, label_of)
            for name, (config, view, codes, label_of) in made.items()}


def shipped() -> dict[str, Entry]:
    """Shipped models with their real configs, inverse maps and extents, cut to their first SUBSET test digits."""
    from explorer.registry import Registry

    registry = Registry(pretrained=ROOT / "pretrained", runs=ROOT / "no-runs-here")
    out = {}
    for name, projection in (("ae-2d", "latent"), ("vae-2d", "latent"), ("aae-2d", "latent"),
                             ("aae-mixture10-2d", "latent"), ("cvae-2d", "latent"), ("aae-cluster16", "latent"),
                             ("vae-16d", "pca"), ("vae-16d", "umap")):
        e = registry.get(f"pretrained/{name}")
        full = e.views[projection]
        view = View(full.name, full.xy[:SUBSET], full.inverse, full.extent)
        key = name if projection == "latent" else f"{name}-{projection}"
        out[key] = entry(key, e.config, view, e.latents[:SUBSET], e.labels[:SUBSET],
                         None if e.label_of is None else e.label_of[:SUBSET])
    return out


def page_model(e: Entry) -> dict:
    """What the page's rules get of one model: its fields, and its arrays as base64 of their bytes."""
    view = e.view()
    arrays = {name: {"dtype": {"float32": "f32", "uint8": "u8"}[a.dtype.name], "shape": list(a.shape),
                     "base64": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}
              for name, a in rules.page_arrays(e, view).items()}
    return {**rules.page_fields(e, view), "arrays": arrays}


# -- the cases -------------------------------------------------------------------------------------------------
def f32(values) -> list[float]:
    """float32 values, each as the shortest decimal that reads back to it."""
    return [float(str(v)) for v in np.asarray(values, np.float32).ravel()]


def probes(e: Entry, rng, k: int = 6) -> list[list[float]]:
    """Points of a plane: test points, random points of its extent, a little way off a test point, and outside."""
    view = e.view()
    xmin, xmax, ymin, ymax = view.extent
    width = max(xmax - xmin, ymax - ymin)
    radius = rules.outside_radius(view)
    points = [view.xy[i].tolist() for i in rng.choice(len(view.xy), 2, replace=False)]
    points += [[rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)] for _ in range(k)]
    left = view.xy[np.argmin(view.xy[:, 0])]  # left of the leftmost code, its distance decides: just in, just out
    points += [[float(left[0]) - radius * f, float(left[1])] for f in (1 - 1e-6, 1 + 1e-6)]
    points += [[xmin - width, ymax + width], [xmax, ymin], [xmin, ymax]]
    return [[float(x), float(y)] for x, y in points]


def nearest_cases(models, rng) -> list[dict]:
    cases = []
    for name in ("syn-ae", "syn-vae-1d", "vae-2d", "vae-16d-umap"):
        for x, y in probes(models[name], rng) + [models["syn-ae"].view().xy[3].tolist()]:
            cases.append({"model": name, "x": x, "y": y, "index": rules.nearest(models[name].view().xy, (x, y))})
    return cases


def inverse_cases(models, rng) -> list[dict]:
    cases = []
    for name in ("syn-ae", "syn-vae-1d", "syn-vae-5d-pca", "syn-vae-3d-grid", "vae-2d", "vae-16d-pca",
                 "vae-16d-umap"):
        view = models[name].view()
        for x, y in probes(models[name], rng):
            cases.append({"model": name, "x": x, "y": y, "z": f32(view.inverse.inverse_transform([[x, y]])[0])})
    return cases


def outside_cases(models, rng) -> list[dict]:
    return [{"model": name, "x": x, "y": y, "outside": rules.is_outside(models[name].view(), (x, y))}
            for name in ("syn-ae", "syn-vae-5d-pca", "vae-2d", "vae-16d-umap", "aae-cluster16")
            for x, y in probes(models[name], rng)]


def label_cases(models, rng) -> list[dict]:
    cases = []
    for name in ("syn-vae", "syn-cvae", "syn-aae-cluster16", "cvae-2d", "aae-cluster16"):
        e = models[name]
        for x, y in probes(e, rng, 2)[1:5]:  # a test point, random points, and near the edge of the codes
            for label in ("auto", None, 0, 3, 9, 10, 15, 16, 40, -1, "7"):
                cases.append({"model": name, "x": x, "y": y, "label": label,
                              "expected": rules.conditional_label(e, e.view(), (x, y), label)})
    return cases


LINK_GROUPS = {  # models shown together: every scale of code, labelled ones, planes that are projections
    "synthetic": ["syn-ae", "syn-vae", "syn-aae-gaussian", "syn-aae-mixture10", "syn-aae-mixture10-guided",
                  "syn-vae-fitted-prior", "syn-cvae", "syn-aae-cluster16", "syn-vae-1d", "syn-vae-3d-grid"],
    "shipped 2-D": ["ae-2d", "vae-2d", "aae-2d", "aae-mixture10-2d", "cvae-2d", "aae-cluster16"],
    "projected": ["vae-2d", "vae-16d-pca", "vae-16d-umap", "aae-2d"],
}


def link_cases(models, rng) -> list[dict]:
    cases = []
    for group, names in LINK_GROUPS.items():
        entries = [models[n] for n in names]
        for clicked, e in enumerate(entries):
            for (x, y), link, label in zip(probes(e, rng, 2), [*rules.LINKS] * 4, ["auto", 3, 12, "auto"] * 3):
                targets = rules.click_targets(entries, clicked, (x, y), link=link, label=label)
                near = rules.nearest(e.view().xy, (x, y))
                cases.append({"group": group, "clicked": clicked, "x": x, "y": y, "link": link, "label": label,
                              "targets": [{"point": f32(t.xy), "z": f32(t.z), "how": t.how, "label": t.label,
                                           "outside": t.outside, "near": near} for t in targets]})
    return cases


def tick_cases(models) -> list[dict]:
    spans = [(0, 1), (-0.5, 0.5), (-1e-3, 2e-3), (100, 10000), (-3, 3), (0.1, 0.7), (-7.5, 12.25)]
    spans += [tuple(m.view().extent[i:i + 2]) for m in models.values() for i in (0, 2)]
    return [{"lo": float(lo), "hi": float(hi), "ticks": [float(t) for t in rules.ticks(lo, hi)]} for lo, hi in spans]


def layout_cases() -> dict:
    sizes = [{"n": n, "width": w, "height": h, "size": rules.plane_size(n, w, h)}
             for n in range(1, 7) for w, h in ((822, 436), (1500, 900), (400, 300), (90, 100), (1910.5, 640.25))]
    geometry = []
    for size, extent in ((332, (-51.9, 89.4, -56.5, 84.8)), (180, (-1.0, 1.0, -2.0, 3.0)), (520.5, (2.1, 14.2, -1, 9.3))):
        rect = rules.plane_rect(size)
        at = [(rect["left"], rect["top"]), (rect["left"] + rect["side"], rect["top"]),
              (rect["left"] - 0.01, 100.0), (rect["left"] + 0.3 * rect["side"], rect["top"] + 0.6 * rect["side"]),
              (10.0, rect["top"] + rect["side"] - 1e-9)]
        geometry.append({"size": size, "extent": list(extent), "rect": rect,
                         "points": [{"u": u, "v": v, "inside": rules.inside(rect, u, v),
                                     "plane": list(rules.to_plane(extent, rect, u, v)),
                                     "canvas": list(rules.to_canvas(extent, rect, *rules.to_plane(extent, rect, u, v)))}
                                    for u, v in at]})
    walks = [{"extent": list(extent), "point": list(point), "dir": list(d), "fast": fast,
              "to": list(rules.walk(extent, point, d, fast))}
             for extent, point in (((-4.8, 4.9, -4.8, 4.9), (0.3, -0.2)), ((2.1, 14.2, -1.0, 9.3), (14.1, 9.25)))
             for d in ((1, 0), (-1, 0), (0, 1), (0, -1)) for fast in (False, True)]
    return {"plane_size": sizes, "plane_geometry": geometry, "walk": walks}


def parse_label_cases() -> list[dict]:
    values = ["auto", "0", "9", "15", "99", "100", "-1", "3.5", "", " 3", "3 ", "0003", "\u0663", "1e1", "AUTO", 7]
    return [{"value": v, "expected": rules.parse_label(v)} for v in values]


def link_piece_cases() -> dict:
    """The pieces of a view's link both sides build it from: coordinates, the pinned point, the query's encoding."""
    coords = [0.5, -1.0, 1.03125, -1.03125, 0.00005, -0.0, -0.00001, 123.45675, 2.5e-5, -7.99995, 3.0,
              12345678.123456, 0.1 + 0.2, -84.81400299072266]
    pins = [("0.5,-1", None), ("0.5,-1", "2"), ("1e999,0", None), ("nan,1", None), ("inf,1", None), (" 1,2", None),
            ("1_0,2", None), (".5,5.", "0"), ("+1.5e-3,-2E2", "1"), ("1,2,3", None), ("1,2", "3"), ("1,2", "-1"),
            ("1,2", " 1"), ("1,2", "1.0"), ("1,2", "0003"), ("", None), ("x,y", None), ("1,", None), ("0x10,1", None),
            ("\u0663,1", None), ("1,2", "99999999999999999999")]
    pairs = [[["models", "pretrained/ae-2d,runs/my run~2"], ["z", "0.5000,-1.0000"], ["link", "same z"]],
             [["label", "auto"], ["bg", "prior density"], ["x", "a*b-c.d_e!f'g(h)i;j:k@l&m=n+o$p,q/r?s#t[u]v%w"]],
             [["models", "caf\u00e9,\u6f22\u5b57,\U0001F600"], ["empty", ""]]]
    return {"format_coord": [{"v": v, "text": rules.format_coord(v)} for v in coords],
            "parse_pin": [{"z": z, "plane": plane, "shown": 3, "pin": rules.parse_pin(z, plane, 3)} for z, plane in pins],
            "url_query": [{"pairs": p, "query": rules.url_query(p)} for p in pairs]}


SHARE_KNOWN = {"models": ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d", "runs/my run~2"],
               "default": ["pretrained/ae-2d", "pretrained/vae-2d"],
               "tabs": ["planes", "scatter", "manifold", "samples", "train"]}
SHARE_VIEWS = [  # share.share_query's view: models, tab, pin (plane #, x, y), background, link, label, projector
    {"models": ["pretrained/ae-2d", "pretrained/vae-2d"], "tab": None, "pin": None, "background": "none",
     "link": "same test digit", "label": "auto", "projector": False},
    {"models": ["pretrained/ae-2d", "runs/my run~2"], "tab": "samples", "pin": [1, 1.03125, -0.0],
     "background": "prior density", "link": "same z", "label": 12, "projector": True},
    {"models": ["pretrained/vae-2d"], "tab": "planes", "pin": [0, -84.81400299072266, 0.00005],
     "background": "manifold", "link": "same test digit", "label": 0, "projector": False},
]
SHARE_QUERIES = [  # links as a person might paste them: good, odd and wrong values
    "models=pretrained/ae-2d,pretrained/vae-2d&tab=samples&z=0.5000,-1.0000&plane=1&bg=manifold&link=same+z&label=3",
    "models=ae-2d,nope,runs/my+run%7E2&bg=rainbow&z=x,y&label=12&projector=1",
    "models=%20ae-2d%20,,vae-2d&label=auto&projector=2&tab=nowhere&link=same%20z",
    "z=0.5,-1&plane=2", "z=0.5,-1&plane=1", "z=1e999,0", "z=1_0,2", "z=%200.5,1", "z=0.5,1&plane=%201",
    "label=%D9%A3", "label=100", "label=99", "label=-1", "label=", "models=&bg=none", "bg=none&bg=classifier",
    "models=a,b,c,d,e,f,g,pretrained/ae-2d,pretrained/vae-2d,pretrained/aae-mixture10-2d,runs/my+run~2",
]


def share_cases(share=None) -> dict:
    """The view URL both ways, as explorer/ui/share.py (the module ``share``) writes and reads it:
    {"share_query": [...], "parse_query": [...]}; none without that module (before it is on this branch: golden()
    then passes none, and the JS test has no share checks yet)."""
    if share is None:
        return {}
    from urllib.parse import parse_qsl

    from explorer.actions import BACKGROUNDS

    known = {**SHARE_KNOWN, "backgrounds": list(BACKGROUNDS), "links": list(rules.LINKS),
             "maxModels": share.MAX_MODELS, "labelLimit": rules.LABEL_LIMIT}
    parsed = []
    for query in SHARE_QUERIES:  # read as the server reads a request's query (Starlette: the last repeated value)
        view, ignored = share.parse_view_query(dict(parse_qsl(query, keep_blank_values=True)), known["models"],
                                               known["default"], known["tabs"])
        parsed.append({"query": query, "known": known, "view": json.loads(json.dumps(view)),
                       "ignored": [list(i) for i in ignored]})
    views = [{"view": v, "query": share.share_query({**v, "pin": tuple(v["pin"]) if v["pin"] else None})}
             for v in SHARE_VIEWS]
    return {"share_query": views, "parse_query": parsed}


def code_scale_cases() -> list[dict]:
    """What each kind of model's plane coordinates mean (rules.code_scale): the page's kept browser models use it."""
    configs = [{"model": "ae"}, {"model": "vae"}, {"model": "vae", "prior_components": 10}, {"model": "cvae"},
               {"model": "aae"}, {"model": "aae", "prior": "mixture10"}, {"model": "aae", "prior": "swissroll"},
               {"model": "caae"}]
    cases = []
    for c in configs:
        config = ModelConfig(**c)
        for name in ("latent", "pca", "umap"):
            e = SimpleNamespace(config=config)
            cases.append({"config": {"model": config.model, "prior": config.prior,
                                     "prior_components": config.prior_components},
                          "view": name, "scale": rules.code_scale(e, SimpleNamespace(name=name))})
    return cases


def radius_cases(models) -> list[dict]:
    return [{"extent": list(e.view("umap").extent), "radius": rules.outside_radius(e.view("umap"))}
            for e in models.values()]


def quantile_cases() -> list[dict]:
    """The Gaussian-quantile grid's coordinates (explorer/page_views.py quantiles; the page's views/quantiles.js)."""
    from explorer import page_views

    return [{"n": n, "range": list(page_views.QUANTILE_RANGE), "q": page_views.quantiles(n)} for n in (2, 5, 15, 25)]


def pick_cases() -> list[dict]:
    """The test digits Reconstructions shows (actions.pick_test_digits; the page's views/recon.js pickTestDigits):
    one per class by seed, and typed indices (an error names what was wrong). "random" is each side's own draw."""
    import torch

    from explorer import actions

    labels = np.random.default_rng(7).integers(0, 10, 600)
    test = SimpleNamespace(labels=torch.as_tensor(labels), images=torch.zeros(len(labels), 28, 28, dtype=torch.uint8))
    cases = []
    for mode, seed, indices in [("one per class", 0, ""), ("one per class", 3, ""), ("one per class", 49, ""),
                                ("one per class", 57, ""), ("by index", 0, "3, 17, 256"), ("by index", 0, "5;6"),
                                ("by index", 0, "600"), ("by index", 0, "x"), ("by index", 0, "")]:
        try:
            picked = [int(i) for i in actions.pick_test_digits(test, mode, 10, indices, seed)[2]]
        except ValueError:
            picked = None
        cases.append({"labels": labels.tolist(), "mode": mode, "seed": seed, "indices": indices, "picked": picked})
    return cases


def golden() -> dict:
    rng = np.random.default_rng(0)
    models = {**synthetic(), **shipped()}
    cases = {"nearest": nearest_cases(models, rng), "inverse": inverse_cases(models, rng),
             "is_outside": outside_cases(models, rng), "conditional_label": label_cases(models, rng),
             "link_targets": link_cases(models, rng), "ticks": tick_cases(models), **layout_cases(),
             "parse_label": parse_label_cases(), **link_piece_cases(), **share_cases(share),
             "code_scale": code_scale_cases(), "outside_radius": radius_cases(models), "quantiles": quantile_cases(),
             "pick_test_digits": pick_cases()}
    return {"about": "written by python tests/make_golden.py from explorer/rules.py: do not edit by hand",
            "constants": rules.page_constants(), "link_groups": LINK_GROUPS,
            "models": {name: page_model(e) for name, e in models.items()}, "cases": cases}


def dumps(data: dict) -> str:
    """JSON with one line per model and per case, so that a change shows as a few changed lines."""
    line = lambda v: json.dumps(v, separators=(",", ":"), allow_nan=False)  # noqa: E731
    head = {k: v for k, v in data.items() if k not in ("models", "cases")}
    parts = [f" {json.dumps(k)}: {line(v)}" for k, v in head.items()]
    parts.append(' "models": {\n' + ",\n".join(f"  {json.dumps(k)}: {line(v)}" for k, v in data["models"].items())
                 + "\n }")
    parts.append(' "cases": {\n' + ",\n".join(
        f"  {json.dumps(k)}: [\n" + ",\n".join(f"   {line(c)}" for c in v) + "\n  ]" for k, v in data["cases"].items())
                 + "\n }")
    return "{\n" + ",\n".join(parts) + "\n}\n"


if __name__ == "__main__":
    GOLDEN.write_text(dumps(golden()))
    data = json.loads(GOLDEN.read_text())
    print(f"{GOLDEN.relative_to(ROOT)}: {len(data['models'])} models, "
          + ", ".join(f"{len(v)} {k}" for k, v in data["cases"].items()) + f"; {GOLDEN.stat().st_size:,} bytes")
