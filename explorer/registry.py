"""Which models can be shown: shipped ones in pretrained/, runs under runs/, and per-session uploads.

Loaded models are shared read-only across users through a cache behind a lock; uploads live in the
uploading session's state only. Their weights in memory are bounded server-wide (MODELS, a ModelPool): the least
recently used give them back and read them again from their folder when next used. UMAP fits run one at a time,
in one background thread (FITS).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from trainer import checkpoint
from trainer.config import shown
from trainer.data import Split, bundled_test_split

from .projection import GridInverse, Identity2D, PCA2D

from . import priority, settings
from .settings import DEFAULT_MODELS, EXPORTS, PRETRAINED, ROOT, RUNS  # noqa: F401 (the app's folders, from one place)
from .model_files import ModelLoadError, check_showable, read_embedding  # noqa: F401 (registry.ModelLoadError too)
from .storage import folder_bytes  # noqa: F401 (registry.folder_bytes, as before)

EMBEDDING = "embedding.npz"
ALLOWED_FILES = {checkpoint.CONFIG, checkpoint.WEIGHTS, checkpoint.METRICS, checkpoint.HISTORY, EMBEDDING}


@dataclass
class View:
    """One 2-D plane of a model: coordinates of the test points and the latent behind any point."""
    name: str  # "latent", "pca" or "umap"
    xy: np.ndarray  # (N, 2) test points in plane coordinates
    inverse: object  # has inverse_transform(xy (M, 2)) -> latents (M, d)
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax shown


@dataclass
class Entry:
    key: str  # unique id, e.g. "pretrained/vae-2d"
    label: str  # what the user reads
    run: checkpoint.Run
    latents: np.ndarray  # (N, d) test codes
    labels: np.ndarray  # (N,)
    views: dict[str, View] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    umap_status: str = ""  # "", "computing", "ready" or an error message, for latents > 2-D without a shipped UMAP
    onnx: Path | None = None  # the decoder exported for the page (explorer.onnx_export), once it is current
    onnx_source: str = ""  # the hash of the config and weights it was exported from
    export_status: str = ""  # "", "exporting", "ready" or an error message
    encoder_onnx: Path | None = None  # the encoder exported for the page's reconstructions, once it is current
    label_of: np.ndarray | None = None  # (N,) what each test digit decodes with: its digit, or its cluster
    fingerprint: str = ""  # a hash of its config, weights, embedding and test split: caches are keyed by it
    test_fingerprint: str = ""  # the test split's, which its fingerprint includes
    loading: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one reload of evicted weights

    @property
    def takes_label(self) -> bool:
        """Its decoder takes a label beside the code: the digit (CVAE, CAAE) or the cluster (a clustered AAE)."""
        return self.config.conditional or self.config.clustered

    @property
    def model(self):
        """The model, its weights read again from its folder when the server dropped them (MODELS)."""
        return MODELS.use(self)

    @property
    def config(self):
        return self.run.model_config

    @property
    def kind(self) -> str:
        return self.config.model

    def view(self, projection: str = "umap") -> View:
        """The requested projection if this model has it, else the best available."""
        for name in (projection, "latent", "umap", "pca"):
            if name in self.views:
                return self.views[name]
        raise KeyError(self.key)

    def labels_for(self, n: int, y=None) -> torch.Tensor | None:
        """Labels for n inputs of a model whose decoder takes one: one label, one per input, or 0 when none is given.
        Conditional models take the digit; a clustered AAE the cluster (0..clusters - 1), which its encoder ignores."""
        if not (self.config.conditional or self.config.clustered):
            return None
        return torch.as_tensor(np.broadcast_to(0 if y is None else np.asarray(y), (n,)).copy()).long()

    @torch.no_grad()
    def decode(self, z: np.ndarray, y=None) -> np.ndarray:
        """Images (M, 28, 28) in [0, 1] for latents (M, d); conditional models use label(s) y (default 0), a clustered
        AAE cluster(s) y (default 0) with its style codes z."""
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32), device=self.model.device)
        with self.lock:  # one forward at a time per model: handlers of many users share it
            out = torch.sigmoid(self.model.decode(zt, self.labels_for(len(zt), y)))
        return out[:, 0].cpu().numpy()

    @torch.no_grad()
    def encode(self, images: np.ndarray, y=None) -> np.ndarray:
        x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 1, 28, 28).to(self.model.device)
        with self.lock:
            return self.model.embed(x, self.labels_for(len(x), y)).cpu().numpy()


def _extent(xy: np.ndarray, pad: float = 0.08, square: bool = True):
    lo, hi = np.percentile(xy, 0.2, axis=0), np.percentile(xy, 99.8, axis=0)
    center, span = (lo + hi) / 2, (hi - lo) * (1 + 2 * pad)
    if square:
        span = np.array([span.max(), span.max()])
    return (float(center[0] - span[0] / 2), float(center[0] + span[0] / 2),
            float(center[1] - span[1] / 2), float(center[1] + span[1] / 2))


def fingerprint(path: Path, test: Split | str) -> str:
    """What an entry's contents are made from: its folder's config, weights and embedding, and the test split (or
    the split's own fingerprint)."""
    h = hashlib.sha256((test if isinstance(test, str) else test.fingerprint).encode())
    for name in (checkpoint.CONFIG, checkpoint.WEIGHTS, EMBEDDING):
        h.update(name.encode() + b"\0")
        if (path / name).is_file():
            h.update(hashlib.sha256((path / name).read_bytes()).digest())
    return h.hexdigest()[:32]


def make_entry(key: str, label: str, path: Path, test: Split, max_parameters: int | None = None) -> Entry:
    """Load a run folder (a model of at most ``max_parameters``); use its embedding.npz when present, else encode
    the test split now."""
    try:
        run = checkpoint.load(path, max_parameters=max_parameters)
    except checkpoint.CheckpointError as e:
        raise ModelLoadError(str(e)) from None
    d = run.model_config.latent_dim
    check_showable(run.model_config, path / checkpoint.CONFIG)
    emb = read_embedding(path / EMBEDDING, test, d) if (path / EMBEDDING).is_file() else {}
    if emb:
        latents, labels = emb["latents"].astype(np.float32), emb["labels"].astype(np.int64)
    else:
        latents = run.model.embed_split(test).numpy()  # conditional models get each image's own label
        labels, emb = test.labels.numpy(), {}
    entry = Entry(key, label, run, latents, labels, fingerprint=fingerprint(path, test),
                  test_fingerprint=test.fingerprint)
    if run.model_config.clustered:  # the cluster q(y|x) puts each test digit in: its "label" on the plane
        entry.label_of = run.model.embed_split(test, code=lambda x, y: run.model.cluster(x)).numpy().astype(np.int64)
    elif run.model_config.conditional:
        entry.label_of = labels
    if d <= 2:
        identity = Identity2D().fit(latents)
        xy = identity.transform(latents)
        # the plane shows both where the codes are and where the prior expects them
        prior = run.model.sample_latent(2000, torch.arange(2000) % run.model_config.label_count,
                                        torch.Generator().manual_seed(0)).numpy()
        entry.views["latent"] = View("latent", xy, identity, _extent(np.r_[xy, identity.transform(prior)]))
        return entry
    if "pca_xy" in emb:
        pca = PCA2D()
        pca.mean_, pca.components_ = emb["pca_mean"].astype(np.float64), emb["pca_components"].astype(np.float64)
        pca_xy = emb["pca_xy"].astype(np.float32)
    else:
        pca = PCA2D().fit(latents)
        pca_xy = pca.transform(latents)
    entry.views["pca"] = View("pca", pca_xy, pca, _extent(pca_xy))
    if "umap_xy" in emb and "umap_grid" in emb:
        grid = GridInverse(emb["umap_grid"], emb["umap_extent"])
        entry.views["umap"] = View("umap", emb["umap_xy"].astype(np.float32), grid, tuple(grid.extent_))
        entry.umap_status = "ready"
    return entry


class ModelPool:
    """The models whose weights are in memory, bounded in bytes server-wide: shipped models, runs and every
    session's uploads alike (a new session is free, so a per-session cap alone bounds nothing). Over the bound,
    the least recently used give their weights back; ``use`` reads them again from the entry's folder. It knows
    every live entry (``entries``), held or not, until ``drop``."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self._lock = max_bytes, threading.Lock()
        self._known: dict[int, Entry] = {}
        self._held: OrderedDict[int, int] = OrderedDict()  # id(entry) -> bytes of its weights, least recent first

    def use(self, entry: Entry):
        """The entry's model, loaded again if it was dropped (a ModelLoadError says why it cannot be)."""
        model = entry.run.model
        if model is None:
            with entry.loading:
                model = entry.run.model or reload(entry)
                entry.run.model = model
        with self._lock:
            self._known[id(entry)] = entry
            entry.run.model = model  # again, if another thread dropped it meanwhile: it is held below
            if id(entry) in self._held:
                self._held.move_to_end(id(entry))
                return model
            self._held[id(entry)] = model_bytes(model)
            while sum(self._held.values()) > self.max_bytes and len(self._held) > 1:
                old, _ = self._held.popitem(last=False)
                self._known[old].run.model = None  # a request using it keeps its own reference until it is done
        return model

    def drop(self, entry: Entry) -> None:
        """Forget an entry (its session ended, its run was removed): its weights leave memory."""
        with self._lock:
            self._held.pop(id(entry), None)
            self._known.pop(id(entry), None)
        entry.run.model = None

    def held_bytes(self) -> int:
        with self._lock:
            return sum(self._held.values())

    def entries(self) -> list[Entry]:
        """Every entry in use (its weights held or not), until dropped."""
        with self._lock:
            return list(self._known.values())


def model_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def reload(entry: Entry):
    """An entry's model read again from its folder: refused when the folder is gone or holds other weights."""
    path = entry.run.path
    try:
        run = checkpoint.load(path)
    except checkpoint.CheckpointError:
        raise ModelLoadError(f"{entry.label} is no longer on this server (its files were removed): choose another "
                             "model, or upload it again") from None
    if fingerprint(path, entry.test_fingerprint) != entry.fingerprint:
        raise ModelLoadError(f"{entry.label} changed on disk since it was shown (a job saved a new epoch): choose "
                             "it again in the model picker")
    return run.model


MODELS = ModelPool(settings.MODELS_BYTES)


class OneAtATime:
    """Background work done one piece at a time by one thread (started when work arrives, ended when there is
    none): eight fresh 16-D uploads fitting UMAP at once took /decode from 0.16 s to over a second."""

    def __init__(self, name: str):
        self.name, self._pending, self._lock, self._running = name, [], threading.Lock(), False

    def submit(self, fn, *args) -> None:
        with self._lock:
            self._pending.append((fn, args))
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._work, daemon=True, name=self.name).start()

    def _work(self) -> None:
        priority.lower()  # this thread only: the requests of the people waiting come first
        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    return
                fn, args = self._pending.pop(0)
            fn(*args)  # each fn reports its own failures (compute_umap sets umap_status)


FITS = OneAtATime("umap-fits")  # its thread's name starts with "umap-" (tests wait for it)


def compute_umap(entry: Entry) -> None:
    """Fit UMAP on a fresh model's test codes and add the view (seconds: run it in a background thread). Its
    settings were picked by measurement (docs/benchmarks.md): 200 epochs and a nearest-neighbour inverse."""
    from .projection import FRESH_EPOCHS, fit_umap, knn_grid

    try:
        reducer = fit_umap(entry.latents, n_epochs=FRESH_EPOCHS)
        xy = reducer.embedding_.astype(np.float32)
        if len(xy) < len(entry.latents):  # fitted on a subset: place the rest too
            xy = np.concatenate([xy, reducer.transform(entry.latents[len(xy):]).astype(np.float32)])
        grid, extent = knn_grid(xy, entry.latents)
        inverse = GridInverse(grid, extent)
        entry.views["umap"] = View("umap", xy, inverse, tuple(inverse.extent_))
        entry.umap_status = "ready"
    except Exception as e:  # report, never kill the app
        entry.umap_status = f"UMAP failed ({type(e).__name__}: {e}); PCA is shown"


class Registry:
    """Discovers model folders and caches loaded entries (shared, read-only) behind a lock."""

    def __init__(self, pretrained: Path = PRETRAINED, runs: Path = RUNS, *, background: bool = True):
        """``background``: make what a loaded model still needs (its UMAP plane, its decoder for the page) in the
        background, as the app does; off, a model shows PCA and decodes on the server (tests that need neither)."""
        self.pretrained, self.runs, self.background = Path(pretrained), Path(runs), background
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._test: Split | None = None
        self.skipped: dict[str, str] = {}  # folders the last available() left out, and why

    @property
    def test(self) -> Split:
        with self._lock:
            if self._test is None:
                self._test = bundled_test_split()
            return self._test

    def available(self) -> dict[str, Path]:
        """key -> folder for every loadable-looking model (pretrained first, then runs, newest first). A folder
        whose config.json cannot be read is left out and reported in ``skipped`` (key -> why), never an error
        for everyone."""
        found: dict[str, Path] = {}
        skipped: dict[str, str] = {}
        for base, prefix in ((self.pretrained, "pretrained"), (self.runs, "runs")):
            if not base.is_dir():
                continue
            folders = []
            for p in base.iterdir():
                try:
                    if (p / checkpoint.CONFIG).is_file() and (p / checkpoint.WEIGHTS).is_file():
                        checkpoint.read_config(p)
                        folders.append((p, p.stat().st_mtime))
                except (checkpoint.CheckpointError, OSError) as e:
                    skipped[f"{prefix}/{p.name}"] = str(e).replace(str(p), f"{prefix}/{p.name}")
            if prefix == "runs":
                folders.sort(key=lambda pm: -pm[1])
            else:
                folders.sort(key=lambda pm: (DEFAULT_MODELS.index(pm[0].name) if pm[0].name in DEFAULT_MODELS else 99,
                                             pm[0].name))
            found.update({f"{prefix}/{p.name}": p for p, _ in folders})
        self.skipped = skipped
        return found

    def get(self, key: str) -> Entry:
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        folders = self.available()
        if key not in folders:
            raise ModelLoadError(f"unknown model {shown(key)}; available: {', '.join(folders) or 'none'}")
        entry = make_entry(key, key.split("/", 1)[1], folders[key], self.test)
        with self._lock:
            entry = self._entries.setdefault(key, entry)
        MODELS.use(entry)
        if self.background:
            start_background(entry)
        return entry

    def forget(self, key: str) -> None:
        """Drop a cached entry (a run that was retrained or removed)."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is not None:
            MODELS.drop(entry)


def start_umap(entry: Entry) -> None:
    """Compute a missing UMAP view in the background (once per entry); the page shows PCA meanwhile."""
    with entry.lock:
        if entry.config.latent_dim <= 2 or entry.umap_status:
            return
        entry.umap_status = "computing"
    FITS.submit(compute_umap, entry)


def start_export(entry: Entry) -> None:
    """Make the decoder the page runs: the shipped ``decoder.onnx`` when it was exported from these very weights,
    else an export in the background into EXPORTS (kept there by its source hash, so a reload reuses it)."""
    from . import onnx_export

    with entry.lock:
        if entry.export_status:
            return
        entry.export_status = "exporting"
    try:
        source = onnx_export.run_source(entry.run.path)
    except (OSError, ValueError) as e:
        entry.export_status = f"no live decoding ({type(e).__name__}: {e})"
        return
    entry.onnx_source = source
    start_encoder_export(entry, source)
    for path in (entry.run.path / onnx_export.DECODER, EXPORTS / f"{source}.onnx"):
        if onnx_export.is_current(path, source):
            entry.onnx, entry.export_status = path, "ready"
            return

    path = EXPORTS / f"{source}.onnx"

    def done(message: str) -> None:
        if message or not onnx_export.is_current(path, source):
            entry.export_status = f"no live decoding ({message or 'the export is not readable'})"
        else:
            entry.onnx, entry.export_status = path, "ready"
    onnx_export.QUEUE.submit({"what": "decoder", "folder": entry.run.path, "out": path, "source": source}, done)


def start_encoder_export(entry: Entry, source: str) -> None:
    """The encoder the page's reconstructions run: the shipped ``encoder.onnx`` when current, else one exported in
    the background beside the decoders (until then the page says its encoder is not ready)."""
    from . import onnx_export

    for path in (entry.run.path / onnx_export.ENCODER, EXPORTS / f"{source}.encoder.onnx"):
        if onnx_export.is_current(path, source):
            entry.encoder_onnx = path
            return
    path = EXPORTS / f"{source}.encoder.onnx"

    def done(message: str) -> None:
        if not message and onnx_export.is_current(path, source):
            entry.encoder_onnx = path
    onnx_export.QUEUE.submit({"what": "encoder", "folder": entry.run.path, "out": path, "source": source}, done)


def start_background(entry: Entry) -> None:
    """What a freshly loaded model still needs, off the request path: its UMAP plane and its ONNX decoder."""
    start_umap(entry)
    start_export(entry)
