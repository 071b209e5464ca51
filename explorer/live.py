"""The live planes: the page draws every plane and decodes every model itself (explorer/static/live_plane.js runs
the exported decoders with ONNX Runtime Web), from what this module sends.

- ``view_json``: a small JSON view of the shown models (extents, link rule inputs, URLs), the value of the
  page's live component. Sent when the models, the projection, the background, the link or the pin change.
- Content-addressed files behind those URLs, served by ``ROUTES`` with immutable names and cached compressed
  copies: each plane's picture (the data rectangle: background and test points, no axes), each model's test
  codes (one binary file), the ONNX decoders the server exported itself, and the static files (the page's code
  and the vendored ONNX Runtime Web).
Nothing here decodes: the page computes what ``rules.click_targets`` computes (explorer/rules.py and its golden
cases in tests/golden_rules.json, checked from both sides).
"""
from __future__ import annotations

import brotli
import gzip
import hashlib
import io
import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import actions, render, rules
from .cache import CACHE
from .registry import Entry

STATIC = Path(__file__).resolve().parent / "static"
ORT_DIR = "vendor/onnxruntime-web/"
LAYER_SIZE = 360  # px of a plane's picture (the page scales it to the plane's size on screen)
HATCH_CELLS = 90  # resolution of the "outside the codes" hatch
NO_PRIOR_ON_UMAP = ("no prior density here: UMAP places only the codes it was fitted on, not samples of the prior "
                    "(switch Projection to pca to see it)")
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".wasm": "application/wasm",
         ".json": "application/json", ".png": "image/png", ".onnx": "application/octet-stream",
         ".bin": "application/octet-stream", ".gz": "application/gzip", ".html": "text/html"}
PRECOMPRESSED = {".png", ".gz"}  # not worth compressing again


def _static_files() -> dict[str, Path]:
    return {p.relative_to(STATIC).as_posix(): p for p in sorted(STATIC.rglob("*")) if p.is_file()}


STATIC_FILES = _static_files()  # the allowlist: nothing else under /live/static is served


def _static_digest() -> str:
    h = hashlib.sha256()
    for name, path in STATIC_FILES.items():
        h.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


STATIC_DIGEST = _static_digest()  # in every static URL: a changed file gets a new URL, so caches never go stale


def static_url(name: str) -> str:
    return f"/live/static/{STATIC_DIGEST}/{name}"


class Assets:
    """Bytes and files served under /live/a/<sha256>.<ext>, an LRU bounded in bytes (files count nothing: they
    are read when asked for). Each is compressed once, when first asked for, and kept with it."""

    def __init__(self, max_bytes: int = 192 * 2**20):
        self.max_bytes, self._items, self._lock, self._bytes = max_bytes, OrderedDict(), threading.Lock(), 0

    def _put(self, name: str, item: dict) -> str:
        with self._lock:
            if name in self._items:
                self._items.move_to_end(name)
            else:
                self._items[name] = item
                self._bytes += item["size"]
                while self._bytes > self.max_bytes and len(self._items) > 1:
                    _, old = self._items.popitem(last=False)
                    self._bytes -= old["size"]
        return f"/live/a/{name}"

    def add_bytes(self, data: bytes, ext: str) -> str:
        return self._put(hashlib.sha256(data).hexdigest()[:32] + ext, {"data": data, "size": len(data)})

    def add_file(self, path: Path, name: str) -> str:
        """A file by a name the caller vouches is content-addressed (an export's source hash)."""
        return self._put(name, {"path": Path(path), "size": 0})

    def get(self, name: str) -> dict | None:
        with self._lock:
            item = self._items.get(name)
            if item is not None:
                self._items.move_to_end(name)
            return item

    def compressed(self, item: dict, encoding: str, read) -> bytes:
        """The item's bytes in ``encoding`` ("br", "gzip" or "identity"), made once and kept."""
        if encoding not in item:
            data = read()
            packed = (data if encoding == "identity" else brotli.compress(data, quality=9)
                      if encoding == "br" else gzip.compress(data, 6))
            with self._lock:
                if encoding != "identity":  # bytes kept beside the item count towards the bound
                    self._bytes += len(packed)
                item[encoding] = packed
        return item[encoding]


ASSETS = Assets()
_static_cache: dict[str, dict] = {}


def _encoding(request: Request, ext: str) -> str:
    if ext in PRECOMPRESSED:
        return "identity"
    accept = request.headers.get("accept-encoding", "")
    return "br" if "br" in accept else "gzip" if "gzip" in accept else "identity"


async def _respond(request: Request, item: dict, ext: str, read, cache: str) -> Response:
    encoding = _encoding(request, ext)
    body = await run_in_threadpool(ASSETS.compressed, item, encoding, read)
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    return Response(body, media_type=TYPES.get(ext, "application/octet-stream"), headers=headers)


async def serve_static(request: Request) -> Response:
    name = request.path_params["path"]
    path = STATIC_FILES.get(name)
    if path is None:
        return Response("not found", status_code=404)
    item = _static_cache.setdefault(name, {"size": 0})
    # an old page asking for an older digest gets today's file, but must not keep it forever
    cache = IMMUTABLE if request.path_params["digest"] == STATIC_DIGEST else "no-cache"
    return await _respond(request, item, path.suffix, path.read_bytes, cache)


async def serve_asset(request: Request) -> Response:
    name = request.path_params["name"]
    item = ASSETS.get(name)
    if item is None:
        return Response("not found (the page is older than the server's cache: reload it)", status_code=404)
    read = (lambda: item["path"].read_bytes()) if "path" in item else (lambda: item["data"])
    return await _respond(request, item, Path(name).suffix, read, IMMUTABLE)


ROUTES = [Route("/live/static/{digest}/{path:path}", serve_static), Route("/live/a/{name}", serve_asset)]


# -- the classifier the page runs ------------------------------------------------------------------------------
_classifier_export: dict = {}
_classifier_lock = threading.Lock()


def classifier_onnx(folder: Path, exports: Path) -> tuple[Path, str] | None:
    """The shipped classifier as ONNX (its path and source hash) for the page's verdicts, or None while it is
    being exported in the background (only when the shipped file is missing or stale) or when there is none."""
    from . import onnx_export

    with _classifier_lock:
        if "result" in _classifier_export or "started" in _classifier_export:
            return _classifier_export.get("result")
        try:
            source = onnx_export.source_hash((folder / "config.json").read_bytes(),
                                             (folder / "model.safetensors").read_bytes())
        except OSError:
            _classifier_export["result"] = None
            return None
        for path in (folder / onnx_export.CLASSIFIER, exports / f"{source}.onnx"):
            if onnx_export.is_current(path, source):
                _classifier_export["result"] = (path, source)
                return _classifier_export["result"]
        _classifier_export["started"] = True

    path = exports / f"{source}.onnx"

    def done(message: str) -> None:  # without it the page shows no verdict while hovering (the strip still has it)
        _classifier_export["result"] = None if message else (path, source)
    onnx_export.QUEUE.submit({"what": "classifier", "folder": folder, "out": path, "source": source}, done)
    return None


def classifier_source() -> str | None:
    """The source hash of the classifier export the page runs (kept by the exports' sweep), once there is one."""
    result = _classifier_export.get("result")
    return result[1] if result else None


# -- what the page is sent -------------------------------------------------------------------------------------
def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def outside_mask(view, cells: int = HATCH_CELLS) -> np.ndarray:
    """(cells, cells) booleans, row 0 at the top: the cells whose centres ``rules.is_outside`` calls outside."""
    from scipy.spatial import cKDTree

    centers = render.Geometry(view.extent, cells, cells, 0, 0, 0, 0).grid_centers(cells)
    dist = cKDTree(view.xy.astype(np.float64)).query(centers)[0]
    return (dist > rules.outside_radius(view)).reshape(cells, cells)


def layer_url(entry: Entry, projection: str, background: str, points: bool, classifier=None,
              safe_colours: bool = False, cluster: int | None = None) -> str:
    """The plane's picture (kept in the shared cache) as an asset URL; ``safe_colours``:
    the projector's colour-blind-safe digit palette; ``cluster``: a clustered AAE's style plane of that cluster
    (only its test digits drawn)."""
    view = entry.view(projection)
    key = ("layer", entry.fingerprint, view.name, background, points, classifier is not None, safe_colours,
           cluster)
    palette = render.SAFE_PALETTE if safe_colours else render.PALETTE

    def make():
        bg = actions.plane_background(entry, view, background, classifier, palette)
        shown = np.ones(len(view.xy), bool) if cluster is None else entry.label_of == cluster
        if not points:
            shown[:] = False
        image = render.plane_layer(view.extent, LAYER_SIZE, LAYER_SIZE, view.xy[shown], entry.labels[shown],
                                   background=bg, hatch=outside_mask(view), palette=palette)
        return png_bytes(image)
    return ASSETS.add_bytes(CACHE.get(key, make), ".png")


def _pack(arrays: dict[str, np.ndarray]) -> tuple[bytes, dict]:
    """Arrays in one binary file (each 4-byte aligned) and where each one is in it."""
    out, index, offset = [], {}, 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        raw = array.tobytes()
        index[name] = {"offset": offset, "dtype": {"float32": "f32", "uint8": "u8"}[array.dtype.name],
                       "shape": list(array.shape)}
        pad = (-len(raw)) % 4
        out.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    return b"".join(out), index


def model_view(entry: Entry, projection: str, background: str, points: bool, classifier=None, test=None,
               safe_colours: bool = False, label="auto") -> dict:
    """Everything the page needs to draw one model's plane and decode in it (with ``test``, a 2-D VAE's test
    posteriors for its ellipses)."""
    view = entry.view(projection)
    extra = {}
    if test is not None and actions.has_posterior_plane(entry):
        extra["cov"] = actions.test_posteriors(entry, test)
    data_key = ("data", entry.fingerprint, view.name, test.fingerprint if test is not None else None)
    blob, index = CACHE.get(data_key, lambda: _pack({**rules.page_arrays(entry, view), **extra}))
    config = entry.config
    names = actions.AXIS_NAMES[view.name]
    cluster = int(label) if config.clustered and label != "auto" and 0 <= int(label) < config.clusters else None
    title = entry.label if view.name == "latent" else f"{entry.label} · {view.name.upper()}"
    caption = (NO_PRIOR_ON_UMAP if background == "prior density" and view.name == "umap" else "")
    return {"key": entry.key, "label": entry.label, "kind": entry.kind,
            "title": title + (f" · cluster {cluster}" if cluster is not None else ""), "caption": caption,
            "axes": list(names),
            "layer": layer_url(entry, projection, background, points, classifier, safe_colours, cluster),
            "data": ASSETS.add_bytes(blob, ".bin"), "arrays": index, **rules.page_fields(entry, view),
            "onnx": ASSETS.add_file(entry.onnx, entry.onnx_source[:32] + ".onnx") if entry.onnx else None,
            "export": entry.export_status}


def view_json(entries: list[Entry], *, projection: str, background: str, points: bool, link: str, label,
              pinned: tuple[int, float, float], classifier=None, classifier_onnx: tuple[Path, str] | None = None,
              stars: dict | None = None, drawn_posteriors: dict | None = None, test=None,
              projector: bool = False) -> str:
    """The live component's value: every shown model's view, the link, the label and the pinned point; the drawn
    digit's star in every plane and its q(z|x) (mean, covariance) in the 2-D VAEs'."""
    models = [model_view(e, projection, background, points, classifier if background == "classifier" else None,
                         test, projector, label) for e in entries]
    for m in models:
        star = (stars or {}).get(m["key"])
        m["star"] = [float(star[0]), float(star[1])] if star is not None else None
        q = (drawn_posteriors or {}).get(m["key"])
        m["drawn_q"] = {"mu": [float(v) for v in q[0]], "cov": [float(v) for v in q[1]]} if q is not None else None
    clicked, x, y = pinned
    return json.dumps({
        "models": models, "projection": projection, "background": background, "projector": projector,
        "palette": ["#%02x%02x%02x" % tuple(c) for c in (render.SAFE_PALETTE if projector else render.PALETTE)],
        "link": link, "links": list(rules.LINKS), "label": label, "rules": rules.page_constants(),
        "pinned": {"model": int(clicked), "x": float(x), "y": float(y)},
        "ort": static_url(ORT_DIR),
        "classifier": ASSETS.add_file(classifier_onnx[0], classifier_onnx[1][:32] + ".onnx") if classifier_onnx
        else None,
    })


def traverse_json(entry: Entry, z0, scale, order, kl, span: float, label) -> str:
    """The traversal sliders' value (explorer/static/traverse.js): the code, each dim's σ and the rows' order."""
    config = entry.config
    return json.dumps({
        "title": entry.label, "latent_dim": config.latent_dim, "z0": [float(v) for v in np.asarray(z0)],
        "scale": [float(v) for v in scale], "order": [int(j) for j in order], "span": float(span),
        "kl": [float(v) for v in kl] if kl is not None else None, "conditional": entry.takes_label,
        "num_classes": config.label_count, "label": int(label) if label is not None else None,
        "onnx": ASSETS.add_file(entry.onnx, entry.onnx_source[:32] + ".onnx") if entry.onnx else None,
        "ort": static_url(ORT_DIR)})


def digit_sprite(test) -> str:
    """All test digits in one PNG (100 per row, 28 px each, dark on white) for the Scatter tab's hover."""
    def make():
        images = 255 - test.images.numpy()
        n, cols = len(images), 100
        rows = -(-n // cols)
        sprite = np.full((rows * 28, cols * 28), 255, np.uint8)
        for i in range(n):
            r, c = divmod(i, cols)
            sprite[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = images[i]
        buf = io.BytesIO()
        Image.fromarray(sprite).save(buf, format="PNG", compress_level=6)
        return buf.getvalue()
    return ASSETS.add_bytes(CACHE.get(("sprite", test.fingerprint), make), ".png")
