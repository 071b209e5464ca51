import gzip
import json
import struct

import numpy as np
import pytest
import torch

from trainer import data as D


def write_idx(path, array, magic=None, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else (2051 if array.ndim == 3 else 2049)
    raw = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def make_set(folder, n_train=30, n_test=12, gz=False, classes=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)), gz=gz)
    write_idx(folder / "train-labels-idx1-ubyte", rng.integers(0, 10, n_train), gz=gz)
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)), gz=gz)
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test), gz=gz)
    if classes:
        (folder / "classes.json").write_text(json.dumps(classes))
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_reads_flat_folder_raw_and_gz(tmp_path, gz):
    make_set(tmp_path / "fashion", gz=gz)
    ds = D.load_dataset(tmp_path / "fashion")
    assert (len(ds.train), len(ds.test)) == (30, 12)
    assert ds.train.images.dtype == torch.uint8 and ds.train.images.shape == (30, 28, 28)
    assert ds.classes == tuple("0123456789") and ds.note == ""


def test_reads_torchvision_layout_and_class_names(tmp_path):
    names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
    make_set(tmp_path / "FashionMNIST" / "raw", classes=names)
    ds = D.load_dataset(tmp_path)
    assert ds.name == "fashionmnist" and ds.classes == tuple(names)
    assert D.load_dataset(tmp_path, classes=list("abcdefghij")).classes == tuple("abcdefghij")


def test_limit_and_batches(tmp_path):
    make_set(tmp_path)
    ds = D.load_dataset(tmp_path, limit=10)
    assert len(ds.train) == 10
    batches = list(ds.train.batches(4, generator=torch.Generator().manual_seed(0)))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, _ = batches[0]
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    seen = torch.cat([y for _, y in batches]).sort().values
    assert torch.equal(seen, ds.train.labels.sort().values)  # a permutation: every image once
    with pytest.raises(D.DataError, match="limit"):
        D.load_dataset(tmp_path, limit=0)


def test_wrong_magic_names_file(tmp_path):
    make_set(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(12), magic=2051)
    with pytest.raises(D.DataError, match=r"t10k-labels-idx1-ubyte: magic number 2051, expected 2049"):
        D.load_dataset(tmp_path)


def test_mismatched_counts(tmp_path):
    make_set(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(29))
    with pytest.raises(D.DataError, match="30 train images but 29 train labels"):
        D.load_dataset(tmp_path)


def test_truncated_file(tmp_path):
    make_set(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(D.DataError, match="train-images-idx3-ubyte: .* bytes, expected"):
        D.load_dataset(tmp_path)


def test_missing_files_and_folder(tmp_path):
    make_set(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").unlink()
    with pytest.raises(D.DataError, match="expected the MNIST-format files"):
        D.load_dataset(tmp_path)
    with pytest.raises(D.DataError, match="no such folder"):
        D.load_dataset(tmp_path / "nope")


def test_bundled_fallback_says_so(monkeypatch, tmp_path):
    monkeypatch.delenv(D.DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data here
    ds = D.load_dataset(None)
    assert (len(ds.train), len(ds.test)) == (8000, 2000)
    assert "NO FULL TRAINING SET FOUND" in ds.note and ds.name == "mnist-bundled"
    assert D.bundled_test_split().images.shape == (10000, 28, 28)


def test_env_variable_is_used(monkeypatch, tmp_path):
    make_set(tmp_path / "kmnist")
    monkeypatch.setenv(D.DATA_ENV, str(tmp_path / "kmnist"))
    assert len(D.load_dataset(None).train) == 30


def test_full_mnist(mnist_dir):
    ds = D.load_dataset(mnist_dir)
    assert (len(ds.train), len(ds.test)) == (60000, 10000)
    assert torch.equal(ds.test.images, D.bundled_test_split().images)  # the bundled copy is the real test split
    assert torch.bincount(ds.train.labels).tolist()[:2] == [5923, 6742]


def test_run_dataset_is_the_one_it_was_trained_on(monkeypatch, tmp_path):
    make_set(tmp_path / "other")
    monkeypatch.setenv(D.DATA_ENV, str(tmp_path / "other"))  # must not replace a bundled run's data
    assert len(D.load_run_dataset({"name": "mnist-bundled"}).train) == 8000
    make_set(tmp_path / "fashion", n_train=17)
    assert len(D.load_run_dataset({"name": "fashion", "source": str(tmp_path / "fashion")}).train) == 17
    assert len(D.load_run_dataset({"name": "x", "source": "/gone"}, tmp_path / "fashion").train) == 17
    with pytest.raises(D.DataError, match="/gone: the data this run was trained on is not here"):
        D.load_run_dataset({"name": "x", "source": "/gone"})
