"""The training images the page trains on: python -m pretrained.train_subset [--data ../shared/data/MNIST/raw]

Writes explorer/static/data/: the first 10,000 images (and labels) of the MNIST training split as gzipped IDX
files, and a byte-identical copy of the shipped MNIST test split (trainer/assets/mnist), so the folder is a
complete MNIST-format data set: `python -m trainer train --data explorer/static/data` trains on exactly what the
page trains on, and the page's planes show the held-out test digits. Gzip with mtime 0: the same bytes each run.
"""
from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.checkpoint import atomic_write  # noqa: E402
from trainer.data import ASSETS, FILES, IMAGE_MAGIC, LABEL_MAGIC, PAGE_SUBSET, PAGE_SUBSET_SIZE, find_idx_folder, read_idx  # noqa: E402


def idx_bytes(array) -> bytes:
    """An IDX file of unsigned bytes: magic (0, 0, 8, ndim), big-endian dims, then the values."""
    head = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return head + array.numpy().tobytes()


def write_subset(data: Path, out: Path = PAGE_SUBSET, size: int = PAGE_SUBSET_SIZE) -> list[Path]:
    folder = find_idx_folder(data)
    written = []
    for key, magic in (("train_images", IMAGE_MAGIC), ("train_labels", LABEL_MAGIC)):
        source = next(p for p in (folder / FILES[key], folder / (FILES[key] + ".gz")) if p.is_file())
        head = read_idx(source, expect_magic=magic)[:size]
        path = out / (FILES[key] + ".gz")
        atomic_write(path, gzip.compress(idx_bytes(head), compresslevel=9, mtime=0))
        written.append(path)
    for key in ("test_images", "test_labels"):
        path = out / (FILES[key] + ".gz")
        shutil.copyfile(ASSETS / path.name, path)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "MNIST" / "raw"),
                        help="a full MNIST-format folder (its training split)")
    args = parser.parse_args(argv)
    for path in write_subset(Path(args.data)):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
