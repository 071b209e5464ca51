"""The static edition: python -m explorer.site OUT/ [--models NAME ...]

Writes a self-contained folder that any static server serves (``cd OUT && python -m http.server``, GitHub Pages, a
school's file share, a static Hugging Face Space): the page's modules with the vendored ONNX Runtime Web and
jax-js (and the training digits of "Train in this browser"), and for each chosen model its ``decoder.onnx`` and
``encoder.onnx``, its view (``model.json``: the live planes' fields per projection, its prior, traversal and
clusters), its plane pictures and its test codes; the classifier, the test digits' sprite, the lesson and the
report card. The page builds its view in the browser from these (explorer/static/site/), reads it from the same
link as the app (rules.js parseQuery / shareQuery), and a service worker keeps every file it fetched for offline use.

    OUT/index.html  sw.js  site.json  classifier.onnx  sprite.png
    OUT/static/...                       the page's code (explorer/static as it is)
    OUT/models/NAME/model.json  decoder.onnx  encoder.onnx  VIEW.bin  VIEW-BACKGROUND[-safe].png
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from . import actions, live, page_views, render, rules
from .settings import ROOT, SHIPPED_DEFAULTS
from .ui.session import Session

SITE = live.STATIC / "site"  # the shell: index.html, sw.js, app.js, ...
ROOT_FILES = ("index.html", "sw.js")  # served from the folder's top (a service worker controls only what is below it)
PROJECTIONS = ("umap", "pca")
MAX_MODELS = 6  # planes side by side (explorer/ui/models.py MAX_MODELS)
TABS = (("planes", "Latent planes"), ("scatter", "Scatter"), ("manifold", "Manifold grids"),
        ("reconstructions", "Reconstructions"), ("traversal", "Latent traversal"), ("samples", "Samples"),
        ("conditional", "Conditional"), ("clusters", "Clusters"), ("train", "Train in this browser"))
PRETRAINED = ROOT / "pretrained"
ZOO_ORDER = ("ae-2d", "vae-2d", "aae-2d", "aae-mixture10-2d", "aae-guided-2d", "cvae-2d", "caae-2d", "ae-16d", "vae-16d",
             "aae-16d", "aae-cluster16", "aae-semi100")  # pretrained/build.py's ZOO: 2-D first, then 16-D, clusters


class SiteError(ValueError):
    """The static edition cannot be built as asked; the message says why."""


def _asset(url: str) -> bytes:
    """The bytes behind one of live.ASSETS' URLs (a picture, a model's test codes)."""
    item = live.ASSETS.get(url.rsplit("/", 1)[1])
    if item is None:
        raise SiteError(f"{url} is not in the asset store")
    return item["data"] if "data" in item else Path(item["path"]).read_bytes()


class Writer:
    """Writes the folder's files and remembers each one (the deploy uploads exactly these)."""

    def __init__(self, out: Path):
        self.out, self.files = out, []

    def write(self, name: str, data: bytes | str) -> str:
        from trainer.checkpoint import atomic_write

        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data.encode() if isinstance(data, str) else data)
        self.files.append(name)
        return name

    def copy(self, source: Path, name: str) -> str:
        return self.write(name, Path(source).read_bytes())


def model_files(writer: Writer, entry, test, classifier) -> str:
    """One model's folder: its views per projection (with a picture per background and palette), its decoder,
    encoder and extras; returns its model.json's name."""
    name = entry.key.split("/", 1)[1]
    base = f"models/{name}/"
    decoder = writer.copy(entry.onnx, base + "decoder.onnx") if entry.onnx else None
    views = {}
    for projection in PROJECTIONS:
        view = entry.view(projection)
        m = live.model_view(entry, projection, "none", True, None, test, False)
        data = base + f"{view.name}.bin"
        if data not in writer.files:
            writer.write(data, _asset(m["data"]))
        layers = {}
        for background in actions.BACKGROUNDS:
            for safe in (False, True):
                file = base + f"{view.name}-{background.replace(' ', '-')}{'-safe' if safe else ''}.png"
                if file not in writer.files:
                    clf = classifier if background == "classifier" else None
                    writer.write(file, _asset(live.layer_url(entry, projection, background, True, clf, safe)))
                layers[f"{background}{'|safe' if safe else ''}"] = file
        views[projection] = {**m, "data": data, "onnx": decoder, "layer": None, "layers": layers,
                             "home": list(Session().pinned([entry], projection)[1:])}  # the pin a page opens on
    publish = lambda path, _: writer.copy(path, base + "encoder.onnx")  # noqa: E731
    doc = {"key": entry.key, "label": entry.label, "views": views, "extras": page_views.extras(entry, test, publish)}
    return writer.write(base + "model.json", json.dumps(doc))


def texts() -> dict:
    """The lesson (README's "A 10-minute lesson") and the report card's note, as HTML."""
    from markdown_it import MarkdownIt

    from .ui.header import REPORT_NOTE, lesson_markdown

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    lesson = lesson_markdown()
    return {"lesson": md.render(lesson) if lesson else "", "report_note": md.render(REPORT_NOTE), "md": md}


def build(out: Path, names: list[str] | None = None, *, log=print) -> list[str]:
    """Write the static edition of the shipped models ``names`` (default: all) into ``out``; returns its files."""
    from trainer.classifier import load_classifier

    from .registry import Registry, start_export
    from .report import report_card

    registry = Registry(pretrained=PRETRAINED, runs=out / ".no-runs")
    available = [k.split("/", 1)[1] for k in registry.available() if k.startswith("pretrained/")]
    names = list(names or available)
    unknown = [n for n in names if n not in available]
    names.sort(key=lambda n: (ZOO_ORDER.index(n) if n in ZOO_ORDER else len(ZOO_ORDER), n))  # the picker's order
    if unknown:
        raise SiteError(f"no shipped model {', '.join(unknown)}; expected some of {', '.join(available)}")
    if out.exists() and any(out.iterdir()) and not (out / "site.json").exists():
        raise SiteError(f"{out} holds files that are not a static edition: give an empty or new folder")
    shutil.rmtree(out, ignore_errors=True)
    writer, test = Writer(out), registry.test
    classifier = load_classifier(PRETRAINED / "classifier")
    catalog = {}
    for name in names:
        started = time.time()
        entry = registry.get(f"pretrained/{name}")
        start_export(entry)
        if entry.export_status != "ready":
            raise SiteError(f"{name}: its shipped decoder.onnx is not a current export ({entry.export_status}); run "
                            "python -m pretrained.build --onnx-only")
        catalog[entry.key] = {"label": entry.label, "file": model_files(writer, entry, test, classifier),
                              "latent_dim": entry.config.latent_dim, "kind": entry.kind}
        log(f"{name}: {time.time() - started:.1f} s")
    for rel, path in live.STATIC_FILES.items():
        if not rel.startswith("site/") or Path(rel).name not in ROOT_FILES:
            writer.copy(path, f"static/{rel}")
    for file in ROOT_FILES:
        writer.copy(SITE / file, file)
    writer.copy(PRETRAINED / "classifier" / "classifier.onnx", "classifier.onnx")
    writer.write("sprite.png", _asset(live.digit_sprite(test)))
    words = texts()
    keys = list(catalog)
    defaults = [k for k in (f"pretrained/{n}" for n in SHIPPED_DEFAULTS) if k in catalog] or keys[:3]
    site = {"models": catalog, "default": defaults, "max_models": MAX_MODELS, "tabs": [list(t) for t in TABS],
            "projections": list(PROJECTIONS), "backgrounds": list(actions.BACKGROUNDS), "links": list(rules.LINKS),
            "rules": rules.page_constants(), "palette": _hex(render.PALETTE), "safe_palette": _hex(render.SAFE_PALETTE),
            "ort": f"static/{live.ORT_DIR}", "classifier": "classifier.onnx", "sprite": "sprite.png",
            "test_count": len(test), **page_views.page_constants(), "lesson": words["lesson"],
            "report": words["md"].render(report_card({k: PRETRAINED / k.split("/", 1)[1] for k in keys}) or ""),
            "report_note": words["report_note"]}
    site["version"] = _version(out, writer.files)
    writer.write("site.json", json.dumps(site))
    return sorted(writer.files)


def _hex(palette) -> list[str]:
    return ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in palette]


def _version(out: Path, files: list[str]) -> str:
    """A hash of every file written: the service worker's cache is named by it."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256((out / name).read_bytes()).digest())
    return h.hexdigest()[:16]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.site", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to write (made, or replaced if it holds an edition)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="shipped models to include (default: all)")
    args = parser.parse_args(argv)
    try:
        files = build(args.out, args.models)
    except SiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = sum((args.out / f).stat().st_size for f in files)
    print(f"wrote {len(files)} files, {size / 1e6:.1f} MB, to {args.out}: serve it with "
          f"cd {args.out} && python -m http.server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
