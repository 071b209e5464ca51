"""Reading a model folder's own files safely, before anything big is built: the error every refusal raises
(ModelLoadError), whether the explorer can show a model at all, an embedding.npz checked entry by entry from its
headers, and a zip opened only when its directory is of sane size."""
from __future__ import annotations

import math
import struct
import zipfile
from pathlib import Path

import numpy as np

from trainer.config import shown
from trainer.data import Split

UMAP_GRID_MAX = 256  # cells per side of an embedding's UMAP inverse grid (pretrained.build writes 48)


class ModelLoadError(ValueError):
    """A model could not be loaded or an upload was refused; the message says why."""


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
