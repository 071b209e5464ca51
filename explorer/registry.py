"""Which models can be shown: shipped ones in pretrained/, runs under runs/, and per-session uploads.

Loaded models are shared read-only across users through a cache behind a lock; uploads live in the
uploading session's state only.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from trainer import checkpoint
from trainer.data import Split, bundled_test_split

from .projection import GridInverse, Identity2D, PCA2D

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = Path(os.environ.get("LATENT_EXPLORER_PRETRAINED", ROOT / "pretrained"))  # overridable for tests
RUNS = Path(os.environ.get("LATENT_EXPLORER_RUNS", ROOT / "runs"))
DEFAULT_MODELS = ("ae-2d", "vae-2d", "aae-mixture10-2d")
MAX_UPLOAD_BYTES = 64 * 2**20  # a zip or file bigger than this is refused before reading
MAX_UNPACKED_BYTES = 256 * 2**20
ALLOWED_FILES = {checkpoint.CONFIG, checkpoint.WEIGHTS, checkpoint.METRICS, checkpoint.HISTORY, "embedding.npz"}


class ModelLoadError(ValueError):
    """A model could not be loaded or an upload was refused; the message says why."""


@dataclass
class View:
    """One 2-D plane of a model: coordinates of the test points and the latent behind any point."""
    name: str  # "latent", "pca" or "umap"
    xy: np.ndarray  # (N, 2) test points in plane coordinates
    inverse: object  # has inverse_transform(xy (M, 2)) -> latents (M, d)
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax shown

    @property
    def shared(self) -> bool:
        """Identity planes of 2-D latents share one coordinate system (z1, z2) across models."""
        return self.name == "latent"


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

    @property
    def model(self):
        return self.run.model

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


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ModelLoadError(f"{path}: not a valid embedding file ({e})") from None


def make_entry(key: str, label: str, path: Path, test: Split) -> Entry:
    """Load a run folder; use its embedding.npz when present, else encode the test split now."""
    try:
        run = checkpoint.load(path)
    except checkpoint.CheckpointError as e:
        raise ModelLoadError(str(e)) from None
    d = run.model_config.latent_dim
    emb = _read_npz(path / "embedding.npz") if (path / "embedding.npz").is_file() else {}
    if emb.get("latents") is not None and emb["latents"].shape == (len(test), d):
        latents, labels = emb["latents"].astype(np.float32), emb["labels"].astype(np.int64)
    else:
        latents = run.model.embed_split(test).numpy()  # conditional models get each image's own label
        labels, emb = test.labels.numpy(), {}
    entry = Entry(key, label, run, latents, labels)
    if d <= 2:
        identity = Identity2D().fit(latents)
        xy = identity.transform(latents)
        # the plane shows both where the codes are and where the prior expects them
        prior = run.model.sample_latent(2000, torch.arange(2000) % run.model_config.num_classes,
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


def compute_umap(entry: Entry) -> None:
    """Fit UMAP on a fresh model's test codes and add the view (slow: run it in a background thread)."""
    from .projection import fit_umap, umap_grid

    try:
        reducer = fit_umap(entry.latents)
        xy = reducer.embedding_.astype(np.float32)
        if len(xy) < len(entry.latents):  # fitted on a subset: place the rest too
            xy = np.concatenate([xy, reducer.transform(entry.latents[len(xy):]).astype(np.float32)])
        grid, extent = umap_grid(reducer, xy)
        inverse = GridInverse(grid, extent)
        entry.views["umap"] = View("umap", xy, inverse, tuple(inverse.extent_))
        entry.umap_status = "ready"
    except Exception as e:  # report, never kill the app
        entry.umap_status = f"UMAP failed ({type(e).__name__}: {e}); PCA is shown"


class Registry:
    """Discovers model folders and caches loaded entries (shared, read-only) behind a lock."""

    def __init__(self, pretrained: Path = PRETRAINED, runs: Path = RUNS):
        self.pretrained, self.runs = Path(pretrained), Path(runs)
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._test: Split | None = None

    @property
    def test(self) -> Split:
        with self._lock:
            if self._test is None:
                self._test = bundled_test_split()
            return self._test

    def available(self) -> dict[str, Path]:
        """key -> folder for every loadable-looking model (pretrained first, then runs, newest first)."""
        found: dict[str, Path] = {}
        for base, prefix in ((self.pretrained, "pretrained"), (self.runs, "runs")):
            if not base.is_dir():
                continue
            folders = [p for p in base.iterdir() if (p / checkpoint.CONFIG).is_file() and (p / checkpoint.WEIGHTS).is_file()]
            if prefix == "runs":
                folders.sort(key=lambda p: -p.stat().st_mtime)
            else:
                folders.sort(key=lambda p: (DEFAULT_MODELS.index(p.name) if p.name in DEFAULT_MODELS else 99, p.name))
            for p in folders:
                try:
                    if checkpoint.read_config(p).get("format"):
                        found[f"{prefix}/{p.name}"] = p
                except checkpoint.CheckpointError:
                    continue
        return found

    def get(self, key: str) -> Entry:
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        folders = self.available()
        if key not in folders:
            raise ModelLoadError(f"unknown model {key!r}; available: {', '.join(folders) or 'none'}")
        entry = make_entry(key, key.split("/", 1)[1], folders[key], self.test)
        with self._lock:
            entry = self._entries.setdefault(key, entry)
        start_umap(entry)
        return entry

    def forget(self, key: str) -> None:
        """Drop a cached entry (a run that was retrained)."""
        with self._lock:
            self._entries.pop(key, None)


def unpack_upload(files: list[str | Path], dest: Path) -> Path:
    """Copy an uploaded checkpoint (a .zip or loose files) into ``dest`` safely; return the run folder.

    Only the checkpoint's own file names are accepted; paths inside zips are flattened after refusing any
    absolute or ``..`` path; sizes are capped before anything is read.
    """
    dest.mkdir(parents=True, exist_ok=True)
    paths = [Path(f) for f in files or []]
    if not paths:
        raise ModelLoadError("no file uploaded: choose a .zip of a run folder, or its config.json and model.safetensors")
    total = sum(p.stat().st_size for p in paths)
    if total > MAX_UPLOAD_BYTES:
        raise ModelLoadError(f"upload of {total / 2**20:.0f} MB is larger than the {MAX_UPLOAD_BYTES >> 20} MB allowed")
    for p in paths:
        if p.suffix.lower() == ".zip":
            _unzip(p, dest)
        elif p.name in ALLOWED_FILES or p.suffix in (".json", ".safetensors"):
            name = p.name if p.name in ALLOWED_FILES else (checkpoint.CONFIG if p.suffix == ".json" else checkpoint.WEIGHTS)
            shutil.copyfile(p, dest / name)
        elif p.suffix.lower() in (".pt", ".pth", ".pkl", ".ckpt", ".bin"):
            raise ModelLoadError(f"{p.name}: PyTorch pickles are never loaded (they can run code); "
                                 "upload config.json + model.safetensors")
        else:
            raise ModelLoadError(f"{p.name}: unexpected file; upload a .zip, config.json or model.safetensors")
    for required in (checkpoint.CONFIG, checkpoint.WEIGHTS):
        if not (dest / required).is_file():
            raise ModelLoadError(f"the upload has no {required}; a checkpoint needs config.json and model.safetensors")
    return dest


def _unzip(path: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            unpacked = sum(i.file_size for i in infos)
            if unpacked > MAX_UNPACKED_BYTES:
                raise ModelLoadError(f"{path.name}: unpacks to {unpacked / 2**20:.0f} MB, more than the "
                                     f"{MAX_UNPACKED_BYTES >> 20} MB allowed")
            for info in infos:
                name = info.filename.replace("\\", "/")
                if name.startswith("/") or ".." in name.split("/") or ":" in name:
                    raise ModelLoadError(f"{path.name}: refused the unsafe path {info.filename!r} inside the zip")
            for info in infos:
                base = Path(info.filename).name
                if info.is_dir() or base not in ALLOWED_FILES:
                    continue
                with zf.open(info) as src, open(dest / base, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except zipfile.BadZipFile:
        raise ModelLoadError(f"{path.name}: not a valid zip file") from None


def start_umap(entry: Entry) -> None:
    """Compute a missing UMAP view in the background (once per entry); the page shows PCA meanwhile."""
    with entry.lock:
        if entry.config.latent_dim <= 2 or entry.umap_status:
            return
        entry.umap_status = "computing"
    threading.Thread(target=compute_umap, args=(entry,), daemon=True, name=f"umap-{entry.key}").start()


def discard_upload(folder: Path, error: Exception) -> str:
    """Remove a refused upload's folder; return the error's message naming the user's files, not our temp path."""
    shutil.rmtree(folder, ignore_errors=True)
    return str(error).replace(f"{folder}{os.sep}", "").replace(str(folder), "your upload")


def load_upload(files, session_dir: Path, test: Split, index: int) -> Entry:
    """Unpack and load an upload into a fresh folder of this session; the folder is removed on failure."""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=session_dir))
    try:
        unpack_upload(files, folder)
        name = _upload_name(folder)
        entry = make_entry(f"upload/{index}-{name}", f"upload: {name}", folder, test)
        start_umap(entry)
        return entry
    except (ModelLoadError, checkpoint.CheckpointError) as e:
        raise ModelLoadError(discard_upload(folder, e)) from None
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _upload_name(folder: Path) -> str:
    try:
        cfg = checkpoint.read_config(folder)["model"]
        return f"{cfg.get('model', '?')}-{cfg.get('latent_dim', '?')}d"
    except (checkpoint.CheckpointError, TypeError, KeyError):
        return "model"


REPORT_COLUMNS = ("model", "type", "latent", "epochs", "train min", "−ELBO", "recon BCE", "kNN 2-D",
                  "samples look like a digit", "samples in holes", "samples from")


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
        cells = [key.split("/", 1)[1].replace("|", "\\|"), model.model.upper(), str(model.latent_dim),
                 str(cfg.get("epoch", "—")),
                 f"{seconds / 60:.0f}" if isinstance(seconds, (int, float)) else "—",
                 _cell(results.get("neg_elbo")), _cell(results.get("recon_bce")), knn,
                 _cell(results.get("confident_share"), percent=True), _cell(results.get("prior_holes"), percent=True),
                 model.sampled_from]
        order = (model.latent_dim, MODEL_TYPES.index(model.model) if model.model in MODEL_TYPES else 99, key)
        rows.append((order, "| " + " | ".join(cells) + " |"))
    if not rows:
        return ""
    head = "| " + " | ".join(REPORT_COLUMNS) + " |\n|" + "---|" * len(REPORT_COLUMNS)
    return head + "\n" + "\n".join(row for _, row in sorted(rows))


def _cell(value, percent: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{100 * value:.0f}%" if percent else f"{value:.1f}"
