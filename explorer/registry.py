"""Which models can be shown: shipped ones in pretrained/, runs under runs/, and per-session uploads.

Loaded models are shared read-only across users through a cache behind a lock; uploads live in the
uploading session's state only. Their weights in memory are bounded server-wide (MODELS, a ModelPool): the least
recently used give them back and read them again from their folder when next used. UMAP fits run one at a time,
in one background thread (FITS).
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import struct
import tempfile
import threading
import zipfile
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
from .storage import folder_bytes  # noqa: F401 (registry.folder_bytes, as before)

MAX_UPLOAD_BYTES = 64 * 2**20  # a zip or file bigger than this is refused before reading
MAX_UNPACKED_BYTES = 256 * 2**20
MAX_UPLOADS = 8  # models one session may upload (each stays in memory until its tab closes)
SESSION_BYTES = 512 * 2**20  # what one session's uploads and training data may take on disk, unpacked
EMBEDDING = "embedding.npz"
ALLOWED_FILES = {checkpoint.CONFIG, checkpoint.WEIGHTS, checkpoint.METRICS, checkpoint.HISTORY, EMBEDDING}
UMAP_GRID_MAX = 256  # cells per side of an embedding's UMAP inverse grid (pretrained.build writes 48)


class ModelLoadError(ValueError):
    """A model could not be loaded or an upload was refused; the message says why."""


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


def embedding_shapes(n: int, d: int) -> dict[str, tuple]:
    """The arrays an embedding.npz may hold (pretrained.build writes them) and their shapes (None: any size up to
    UMAP_GRID_MAX) for n test digits and latent size d."""
    return {"latents": (n, d), "labels": (n,), "pca_xy": (n, 2), "pca_mean": (d,), "pca_components": (2, d),
            "umap_xy": (n, 2), "umap_grid": (None, None, d), "umap_extent": (4,)}


def read_embedding(path: Path, test: Split, d: int) -> dict[str, np.ndarray]:
    """The arrays of an embedding.npz, each entry's name, dtype and shape checked from its header (against the
    model's latent size and the test split) before any array is read, so a small file cannot unpack to gigabytes."""
    expected, arrays = embedding_shapes(len(test), d), {}
    try:
        with open_zip(path) as zf:
            for info in zf.infolist():
                _check_npy_header(path, zf, info, expected)
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
    except ModelLoadError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, RuntimeError) as e:  # RuntimeError: bad zip data
        raise ModelLoadError(f"{path}: not a valid embedding file ({shown(str(e), 160)})") from None
    if not {"latents", "labels"} <= set(arrays):
        raise ModelLoadError(f"{path}: needs the arrays latents and labels, has {sorted(arrays) or 'none'}")
    for group in (("pca_xy", "pca_mean", "pca_components"), ("umap_xy", "umap_grid", "umap_extent")):
        if 0 < len(set(group) & set(arrays)) < len(group):
            raise ModelLoadError(f"{path}: has only some of {', '.join(group)}; they go together")
    if not np.array_equal(arrays["labels"], test.labels.numpy()):
        raise ModelLoadError(f"{path}: its labels are not those of the test split shown here; it belongs to "
                             "another data set (delete it and the app encodes the test digits itself)")
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ModelLoadError(f"{path}: contains NaN or infinite values")
    if "umap_extent" in arrays:
        xmin, xmax, ymin, ymax = arrays["umap_extent"].tolist()
        if not (xmin < xmax and ymin < ymax) or min(arrays["umap_grid"].shape[:2]) < 2:
            raise ModelLoadError(f"{path}: umap_extent must be xmin < xmax, ymin < ymax over a grid of 2x2 or more")
    return arrays


def _check_npy_header(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, expected: dict) -> None:
    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    if name not in expected:
        raise ModelLoadError(f"{path}: unexpected entry {shown(info.filename)}; an embedding holds "
                             f"{', '.join(expected)}")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    wanted = expected[name]
    fits = len(shape) == len(wanted) and all(n == w if w is not None else 2 <= n <= UMAP_GRID_MAX
                                             for n, w in zip(shape, wanted))
    kind = "u" if name == "labels" else "f"
    if dtype.kind not in (kind, "i" if kind == "u" else "f") or dtype.itemsize > 8 or not fits:
        raise ModelLoadError(f"{path}: {name} is {dtype} of shape {shown(shape)}; expected "
                             f"{'whole numbers' if kind == 'u' else 'floats'} of shape "
                             f"{tuple('R' if w is None else w for w in wanted)} (the model's latent size and the "
                             f"test split's {expected['labels'][0]:,} digits)")
    if info.file_size > math.prod(shape) * dtype.itemsize + 64 * 2**10:  # the array plus its header
        raise ModelLoadError(f"{path}: {name} holds more bytes than its shape {shown(shape)} needs")


def check_showable(config, where) -> None:
    """The explorer shows the 28x28 MNIST test digits (labels 0-9): a model it loads must take those."""
    if tuple(config.image_size) != (28, 28):
        raise ModelLoadError(f"{where}: the model takes {config.image_size[0]}x{config.image_size[1]} images; the "
                             "explorer shows 28x28 MNIST-format digits")
    if (config.conditional or config.label_guided) and config.num_classes < 10:
        raise ModelLoadError(f"{where}: the model knows {config.num_classes} classes; the explorer's digits have "
                             "labels 0-9")


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


def unpack_upload(files: list[str | Path], dest: Path, max_unpacked: int = MAX_UNPACKED_BYTES) -> tuple[str, list[str]]:
    """Copy an uploaded checkpoint (a .zip or loose files) into ``dest`` safely. Returns the run's name (the folder
    inside the zip, or the zip's name; "" for loose files) and the names of the files it ignored.

    Files are matched by their exact names (config.json, model.safetensors, metrics.json, history.jsonl,
    embedding.npz); others, like a run's optimizer.safetensors, are ignored, never renamed into place. Paths inside
    zips are flattened after refusing any absolute or ``..`` path; sizes are capped before anything is read."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = [Path(f) for f in files or []]
    if not paths:
        raise ModelLoadError("no file uploaded: choose a .zip of a run folder, or its config.json and model.safetensors")
    total = sum(p.stat().st_size for p in paths)
    if total > MAX_UPLOAD_BYTES:
        raise ModelLoadError(f"upload of {total / 2**20:.0f} MB is larger than the {MAX_UPLOAD_BYTES >> 20} MB allowed")
    name, ignored, taken = "", [], {}
    for p in paths:
        if p.suffix.lower() in (".pt", ".pth", ".pkl", ".ckpt", ".bin"):
            raise ModelLoadError(f"{p.name}: PyTorch pickles are never loaded (they can run code); "
                                 "upload config.json + model.safetensors")
    for p in paths:
        if p.suffix.lower() == ".zip":
            name, skipped = _unzip(p, dest, taken, max_unpacked)
            ignored += skipped
        elif p.name in ALLOWED_FILES:
            _claim(taken, p.name, p.name, p.stat().st_size, max_unpacked)
            shutil.copyfile(p, dest / p.name)
        else:
            ignored.append(p.name)
    for required in (checkpoint.CONFIG, checkpoint.WEIGHTS):
        if not (dest / required).is_file():
            got = f" (ignored: {', '.join(ignored[:5])})" if ignored else ""
            raise ModelLoadError(f"the upload has no {required}{got}; a checkpoint needs files named config.json "
                                 "and model.safetensors, as in a run folder")
    return name, ignored


def _claim(taken: dict[str, int], base: str, shown_as: str, size: int, limit: int) -> None:
    """Count one file to unpack: each name once (two config.json would overwrite each other), at most ``limit``
    bytes in all."""
    if base in taken:
        raise ModelLoadError(f"the upload holds two files named {base} ({shown(shown_as)} is the second): upload one "
                             "run folder at a time")
    if sum(taken.values()) + size > limit:
        raise ModelLoadError(f"{shown(shown_as)}: unpacking it would take more than the {limit / 2**20:.1f} MB this "
                             f"upload may still use on the server (one session keeps at most {SESSION_BYTES >> 20} MB "
                             "of uploads; reload the page to start again)")
    taken[base] = size


MAX_ZIP_DIRECTORY = 2**20  # bytes of a zip's central directory: a run folder's zip has a few hundred


def open_zip(path: Path) -> zipfile.ZipFile:
    """A zip file, opened only after its end record shows a central directory of sane size (ZipFile reads it
    whole into objects: a small file of a million empty entries would take gigabytes)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - 65_557))  # the end record (22 bytes) and its comment (< 64 KB) are at the end
        tail = f.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) < end + 22:
        raise zipfile.BadZipFile("no end of central directory")
    entries, directory = struct.unpack("<HI", tail[end + 10:end + 16])
    if entries == 0xFFFF or directory > MAX_ZIP_DIRECTORY:
        raise ModelLoadError(f"{path.name}: its zip directory is too large ({entries} entries, {directory:,} bytes) "
                             "for a run folder")
    return zipfile.ZipFile(path)


def _unzip(path: Path, dest: Path, taken: dict[str, int], limit: int) -> tuple[str, list[str]]:
    """Unpack a zip's checkpoint files into ``dest`` (``limit`` bytes for the whole upload); returns the run's
    name and the entries it ignored."""
    try:
        with open_zip(path) as zf:
            infos = zf.infolist()
            unpacked, room = sum(i.file_size for i in infos), min(limit, MAX_UNPACKED_BYTES) - sum(taken.values())
            if unpacked > room:
                raise ModelLoadError(f"{path.name}: unpacks to {unpacked / 2**20:.0f} MB, more than the "
                                     f"{room / 2**20:.0f} MB allowed")
            for info in infos:
                name = info.filename.replace("\\", "/")
                if name.startswith("/") or ".." in name.split("/") or ":" in name:
                    raise ModelLoadError(f"{path.name}: refused the unsafe path {shown(info.filename)} inside the zip")
            wanted = [i for i in infos if not i.is_dir() and Path(i.filename).name in ALLOWED_FILES]
            for info in wanted:
                _claim(taken, Path(info.filename).name, info.filename, info.file_size, limit)
            for info in wanted:
                with zf.open(info) as src, open(dest / Path(info.filename).name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            config = next((i.filename for i in wanted if Path(i.filename).name == checkpoint.CONFIG), "")
            ignored = [i.filename for i in infos if not i.is_dir() and i not in wanted]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, RuntimeError, NotImplementedError) as e:
        raise ModelLoadError(f"{path.name}: not a valid zip file ({shown(str(e), 120)})") from None
    name = Path(config).parent.name if config else ""
    name = next((n for n in (name, path.stem) if checkpoint.RUN_NAME.fullmatch(n)), "")  # else the model's kind
    return name, [shown(n, 80).strip("'") for n in ignored]


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


def discard_upload(folder: Path, error: Exception) -> str:
    """Remove a refused upload's folder; return the error's message naming the user's files, not our temp path."""
    shutil.rmtree(folder, ignore_errors=True)
    return str(error).replace(f"{folder}{os.sep}", "").replace(str(folder), "your upload")


def load_upload(files, session_dir: Path, test: Split, index: int,
                room: int = MAX_UNPACKED_BYTES) -> tuple[Entry, list[str]]:
    """Unpack and load an upload into a fresh folder of this session (using at most ``room`` bytes); the folder
    is removed on failure. Returns the entry and the names of the files it ignored."""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=session_dir))
    try:
        name, ignored = unpack_upload(files, folder, room)
        name = name or _upload_name(folder)
        entry = make_entry(f"upload/{index}-{name}", f"upload: {name}", folder, test,
                           max_parameters=settings.UPLOAD_PARAMETERS)
        MODELS.use(entry)
        start_background(entry)
        return entry, ignored
    except (ModelLoadError, checkpoint.CheckpointError) as e:
        raise ModelLoadError(discard_upload(folder, e)) from None
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def session_room(folder) -> int:
    """Bytes a session may still unpack into its folder (SESSION_BYTES in all)."""
    return max(0, SESSION_BYTES - folder_bytes(folder))


def _upload_name(folder: Path) -> str:
    try:
        cfg = checkpoint.read_config(folder)["model"]
        return f"{cfg.get('model', '?')}-{cfg.get('latent_dim', '?')}d"
    except (checkpoint.CheckpointError, TypeError, KeyError, AttributeError):
        return "model"


REPORT_COLUMNS = ("model", "type", "latent", "−ELBO", "recon BCE", "kNN 2-D", "samples look like a digit",
                  "samples in holes", "β", "samples from", "epochs", "train min", "test digits")  # a class's first


def report_card(folders: dict[str, Path]) -> str:
    """A markdown table of every model folder that holds measured results (``metrics.json`` with an ``eval``
    block, as ``python -m trainer eval --save`` or ``pretrained.build`` write it); "" if none does."""
    from trainer.config import MODEL_TYPES, ModelConfig, from_dict

    rows = []
    for key, folder in folders.items():
        try:
            results = checkpoint.read_json(folder / checkpoint.METRICS).get("eval")
            cfg = checkpoint.read_config(folder)
            model = from_dict(ModelConfig, cfg["model"])
        except (checkpoint.CheckpointError, OSError, KeyError, TypeError, ValueError, AttributeError):
            continue  # no measured results, or not readable: the model picker reports real problems
        if not isinstance(results, dict):
            continue
        # > 2-D: of the UMAP plane (pretrained.build measures it), else of the PCA plane (eval/Measure do)
        knn = results.get("knn_accuracy") if model.latent_dim == 2 else results.get("knn_accuracy_umap")
        pca = results.get("knn_accuracy_pca")
        if model.latent_dim > 2 and not isinstance(knn, (int, float)) and isinstance(pca, (int, float)):
            knn = _cell(pca, percent=True) + " (PCA)"
        else:
            knn = _cell(knn, percent=True)
        seconds = results.get("train_seconds")
        cells = {"model": key.split("/", 1)[1].replace("|", "\\|"), "type": model.model.upper(),
                 "latent": str(model.latent_dim), "epochs": str(cfg.get("epoch", "—")),
                 "train min": f"{seconds / 60:.0f}" if isinstance(seconds, (int, float)) else "—",
                 "−ELBO": _cell(results.get("neg_elbo")), "recon BCE": _cell(results.get("recon_bce")),
                 "kNN 2-D": knn, "samples look like a digit": _cell(results.get("confident_share"), percent=True),
                 "samples in holes": _cell(results.get("prior_holes"), percent=True),
                 "samples from": model.sampled_from,
                 "β": f"{model.kl_weight:g}" if model.model in ("vae", "cvae") else "—",
                 "test digits": f"{results['test_images']:,}" if isinstance(results.get("test_images"), int) else "—"}
        order = (model.latent_dim, MODEL_TYPES.index(model.model) if model.model in MODEL_TYPES else 99, key)
        rows.append((order, "| " + " | ".join(cells[column] for column in REPORT_COLUMNS) + " |"))
    if not rows:
        return ""
    head = "| " + " | ".join(REPORT_COLUMNS) + " |\n|" + "---|" * len(REPORT_COLUMNS)
    return head + "\n" + "\n".join(row for _, row in sorted(rows))


def _cell(value, percent: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{100 * value:.0f}%" if percent else f"{value:.1f}"
