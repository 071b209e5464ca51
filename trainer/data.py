"""MNIST-format IDX data: read, validate, keep as uint8 tensors in memory, batch by index.

Works for any set that uses MNIST's four file names (MNIST, Fashion-MNIST, KMNIST, ...),
raw or gzipped, either directly in a folder or in torchvision's ``<root>/<Name>/raw`` layout.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import ConfigError, check_class_names

ASSETS = Path(__file__).resolve().parent / "assets" / "mnist"
DATA_ENV = "LATENT_EXPLORER_DATA"  # environment variable naming a full MNIST-format folder
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
MAX_SIDE = 512  # pixels per image side (config.SIZES["image_size"])
MAX_IDX_BYTES = 2**30  # one IDX file's body; full MNIST's training images are 47 MB
RUN_DATA = "data"  # a run trained on uploaded files keeps a copy of them in this subfolder (the app's Train tab)
DEFAULT_CLASSES = tuple(str(d) for d in range(10))
BUNDLED_TRAIN, BUNDLED_VAL = 8000, 2000  # split of the bundled 10k test set when no training set exists
# The data the page trains on (pretrained/train_subset.py): the first 10,000 MNIST training images and the test split
PAGE_SUBSET = Path(__file__).resolve().parents[1] / "explorer" / "static" / "data"
PAGE_SUBSET_NAME, PAGE_SUBSET_SIZE = "mnist-train10k", 10_000


class DataError(ValueError):
    """A data file or folder is missing or malformed; the message names it and what was expected."""


@dataclass
class Split:
    images: torch.Tensor  # uint8, (N, 28, 28)
    labels: torch.Tensor  # int64, (N,)

    def __len__(self) -> int:
        return len(self.labels)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of the images and labels, for caches of what is computed from a split."""
        h = hashlib.sha256(self.images.numpy().tobytes())
        h.update(self.labels.numpy().tobytes())
        return h.hexdigest()[:32]

    def head(self, n: int | None) -> "Split":
        return self if n is None else Split(self.images[:n], self.labels[:n])

    def batch(self, index: torch.Tensor, device: torch.device | str = "cpu"):
        """Float images in [0, 1] of shape (B, 1, H, W) and their labels."""
        x = self.images[index].to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)
        return x, self.labels[index].to(device, non_blocking=True)

    def batches(self, batch_size: int, *, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu"):
        """Yield (x, y) batches; shuffled when a generator is given, in order otherwise."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        for start in range(0, n, batch_size):
            yield self.batch(order[start:start + batch_size], device)


def balanced_subset(labels: torch.Tensor, n: int, num_classes: int, *, seed: int = 0) -> torch.Tensor:
    """Indices (sorted) of exactly n images, n // C of each of the C classes (the first n % C classes one more),
    drawn at random (seeded) within each class: the labelled images of a semi-supervised run."""
    labels = torch.as_tensor(labels).long()
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).squeeze(1)
        want = n // num_classes + (c < n % num_classes)
        if len(members) < want:
            raise DataError(f"{n} labelled images balanced over {num_classes} classes need {want} of class {c}; "
                            f"the training split has {len(members)}")
        picked.append(members[torch.randperm(len(members), generator=g)[:want]])
    return torch.cat(picked).sort().values


@dataclass
class Dataset:
    name: str
    classes: tuple[str, ...]
    train: Split
    test: Split
    source: str  # folder the data came from
    note: str = ""  # loud warning to show the user (e.g. bundled fallback), empty when none

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train.images.shape[1:])


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path, *, expect_magic: int, max_items: int | None = None) -> torch.Tensor:
    """Read one IDX file (raw or .gz) into a uint8 tensor. The header is checked before the body is read (or
    decompressed): unsigned bytes, (N, H, W) images or (N,) labels of sane sizes, at most ``max_items`` of them;
    then exactly the bytes the header promises, no fewer and no more."""
    path = Path(path)
    kind = "images" if expect_magic == IMAGE_MAGIC else "labels"
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4:
                raise DataError(f"{path}: too short for an IDX header ({len(head)} bytes)")
            (magic,) = struct.unpack(">i", head)
            if magic != expect_magic:
                raise DataError(f"{path}: magic number {magic}, expected {expect_magic} (IDX {kind} file)")
            ndim = head[3]
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DataError(f"{path}: too short for an IDX header of {ndim} dimensions")
            dims = struct.unpack(f">{ndim}I", raw_dims)  # unsigned, as IDX defines them
            _check_dims(path, kind, dims, max_items)
            expected = math.prod(dims)
            body = bytearray(expected)  # read into, so the body is in memory once
            got = 0
            while got < expected and (n := f.readinto(memoryview(body)[got:])):
                got += n
            if got != expected:
                raise DataError(f"{path}: {got + 4 + 4 * ndim} bytes, expected {expected + 4 + 4 * ndim} "
                                f"for shape {dims}")
            if f.read(1):
                raise DataError(f"{path}: more than {expected + 4 + 4 * ndim} bytes, expected "
                                f"{expected + 4 + 4 * ndim} for shape {dims}")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims) if expected else torch.zeros(dims, dtype=torch.uint8)


def _check_dims(path: Path, kind: str, dims: tuple[int, ...], max_items: int | None) -> None:
    if len(dims) != (3 if kind == "images" else 1):
        wanted = "3 dimensions (N, H, W)" if kind == "images" else "1 dimension (N,)"
        raise DataError(f"{path}: expected {wanted}, got {dims}")
    if kind == "images" and not all(1 <= side <= MAX_SIDE for side in dims[1:]):
        raise DataError(f"{path}: images of {dims[1]}x{dims[2]} pixels; expected sides of 1 to {MAX_SIDE}")
    if max_items is not None and dims[0] > max_items:
        raise DataError(f"{path}: holds {dims[0]:,} {kind}, more than the {max_items:,} allowed here")
    if math.prod(dims) > MAX_IDX_BYTES:
        raise DataError(f"{path}: its header promises {math.prod(dims):,} bytes, more than the "
                        f"{MAX_IDX_BYTES >> 20} MB allowed")


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_idx_folder(root: str | Path) -> Path:
    """The folder holding the IDX files: ``root`` itself, or torchvision's ``root/<Name>/raw``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    wanted = ["test_images", "test_labels", "train_images", "train_labels"]
    candidates = [root, root / "raw"] + sorted(p for p in root.glob("*/raw") if p.is_dir())
    for folder in candidates:
        if all(_find(folder, FILES[k]) for k in wanted):
            return folder
    names = ", ".join(FILES[k] + "[.gz]" for k in wanted)
    raise DataError(f"{root}: expected the MNIST-format files {names} in it or in {root}/<Name>/raw")


def read_classes(folder: Path, classes=None) -> tuple[str, ...]:
    """Class names: the argument, else ``classes.json`` (a list of names) next to the data, else 0-9."""
    if classes is not None:
        return tuple(str(c) for c in classes)
    for path in (folder / "classes.json", folder.parent / "classes.json"):
        if path.is_file():
            try:
                names = json.loads(path.read_text()) if path.stat().st_size <= 2**20 else None
            except (ValueError, RecursionError) as e:
                raise DataError(f"{path}: not valid JSON ({type(e).__name__})") from None
            if not isinstance(names, list) or not 1 <= len(names) <= 1000:
                raise DataError(f"{path}: expected a JSON list of 1 to 1000 class names")
            try:
                return check_class_names([str(c) for c in names], where=path.name)
            except ConfigError as e:
                raise DataError(str(e)) from None
    return DEFAULT_CLASSES


def read_split(folder: Path, prefix: str, max_items: int | None = None) -> Split:
    images = read_idx(_find(folder, FILES[f"{prefix}_images"]), expect_magic=IMAGE_MAGIC, max_items=max_items)
    labels = read_idx(_find(folder, FILES[f"{prefix}_labels"]), expect_magic=LABEL_MAGIC, max_items=max_items)
    if images.ndim != 3:
        raise DataError(f"{folder}/{FILES[prefix + '_images']}: expected 3 dimensions (N, H, W), got {tuple(images.shape)}")
    if labels.ndim != 1:
        raise DataError(f"{folder}/{FILES[prefix + '_labels']}: expected 1 dimension (N,), got {tuple(labels.shape)}")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} {prefix} images but {len(labels)} {prefix} labels")
    return Split(images, labels.long())


def bundled_test_split() -> Split:
    """The MNIST test split shipped with the repository (10,000 images)."""
    return read_split(ASSETS, "test")


def _dataset_name(folder: Path) -> str:
    return folder.parent.name if folder.name == "raw" else folder.name


def resolve_data_path(path: str | Path | None) -> Path | None:
    """Explicit path, else $LATENT_EXPLORER_DATA, else ./data if it holds a training set, else None."""
    if path:
        return Path(path)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    try:
        return find_idx_folder("data")
    except DataError:
        return None


def load_dataset(path: str | Path | None = None, *, limit: int | None = None, classes=None,
                 download: bool = False, max_images: int | None = None) -> Dataset:
    """Load train + test splits as uint8 tensors (each split of at most ``max_images``, checked before reading).

    Without a full training set, falls back to the bundled MNIST test split cut into
    8,000 training and 2,000 held-out images, and says so in ``Dataset.note``.
    """
    if limit is not None and limit < 1:
        raise DataError(f"limit must be a positive number of images, got {limit}")
    if download:
        path = _download_mnist(path or "data")
    root = resolve_data_path(path)
    if root is None:
        return bundled_dataset(limit=limit, classes=classes, note=(
            f"NO FULL TRAINING SET FOUND: training on the bundled MNIST test split "
            f"({BUNDLED_TRAIN} train / {BUNDLED_VAL} held out). Pass --data PATH, set ${DATA_ENV}, "
            f"or use --download for the full 60,000-image set."))
    folder = find_idx_folder(root)
    train, test = read_split(folder, "train", max_images), read_split(folder, "test", max_images)
    if train.images.shape[1:] != test.images.shape[1:]:
        raise DataError(f"{folder}: train images are {tuple(train.images.shape[1:])} but test images "
                        f"are {tuple(test.images.shape[1:])}")
    names = read_classes(folder, classes)
    for prefix, split in (("train", train), ("test", test)):
        if len(split) and int(split.labels.max()) >= len(names):
            raise DataError(f"{folder}/{FILES[prefix + '_labels']}: a label of {int(split.labels.max())}, but there "
                            f"are {len(names)} classes (labels 0-{len(names) - 1}; name them in classes.json)")
    return Dataset(_dataset_name(folder).lower(), names, train.head(limit), test, str(folder))


def bundled_dataset(*, limit: int | None = None, classes=None, note: str = "") -> Dataset:
    """The bundled 10k MNIST test split cut (seeded) into 8,000 training and 2,000 held-out images."""
    test = bundled_test_split()
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    train_idx, val_idx = order[:BUNDLED_TRAIN], order[BUNDLED_TRAIN:BUNDLED_TRAIN + BUNDLED_VAL]
    note = note or (f"Training on the bundled MNIST test split ({BUNDLED_TRAIN} train / {BUNDLED_VAL} held out), "
                    "not the full 60,000-image training set.")
    return Dataset("mnist-bundled", read_classes(ASSETS, classes),
                   Split(test.images[train_idx], test.labels[train_idx]).head(limit),
                   Split(test.images[val_idx], test.labels[val_idx]), str(ASSETS), note)


def load_run_dataset(info: dict, path: str | Path | None = None, *, run_dir: str | Path | None = None) -> Dataset:
    """The data a saved run was trained on (its config.json "dataset" entry; the copy in its own ``data`` folder
    for a run of uploaded files), or the folder ``path`` instead."""
    if path:
        return load_dataset(path)
    if run_dir is not None and (Path(run_dir) / RUN_DATA).is_dir():
        copy = load_dataset(Path(run_dir) / RUN_DATA, classes=info.get("classes"))
        copy.name = str(info.get("name") or copy.name)
        return copy
    if info.get("name") == "mnist-bundled":
        return bundled_dataset(classes=info.get("classes"))
    if info.get("name") == PAGE_SUBSET_NAME:  # a run trained in the page names the shipped subset, not a path
        return load_dataset(PAGE_SUBSET, classes=info.get("classes"))
    source = info.get("source")
    if not source or not Path(source).exists():
        raise DataError(f"{source}: the data this run was trained on is not here; pass --data PATH")
    return load_dataset(source, classes=info.get("classes"))


def _download_mnist(root: str | Path) -> Path:
    """Fetch MNIST with torchvision (only when the user asks and is online)."""
    from torchvision.datasets import MNIST

    try:
        MNIST(root=str(root), train=True, download=True)
        MNIST(root=str(root), train=False, download=True)
    except Exception as e:  # network errors come in many types
        raise DataError(f"could not download MNIST into {root} ({e}); pass --data PATH instead") from None
    return Path(root)
