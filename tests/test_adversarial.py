"""Generated bad inputs for every parser of user files: safetensors headers, config.json, IDX files,
embedding.npz and upload zips. Pass: the parser succeeds or raises its clear error (CheckpointError, DataError,
ModelLoadError), never another exception, and the test process's peak memory grows by under 500 MB.

Examples are derandomized (the same every run, so CI is stable); LATENT_EXPLORER_FUZZ=deep runs 20x as many,
random ones: `LATENT_EXPLORER_FUZZ=deep python -m pytest tests/test_adversarial.py`.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.registry import ModelLoadError
from explorer.model_files import read_embedding

from explorer.uploads import load_upload, unpack_upload
from trainer import checkpoint as C
from trainer.data import DataError, load_dataset, read_idx

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")  # the generated zips repeat names on purpose
DEEP = os.environ.get("LATENT_EXPLORER_FUZZ") == "deep"
FUZZ = settings(max_examples=2000 if DEEP else 100, derandomize=not DEEP, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MEMORY_MB = 500


@pytest.fixture(autouse=True)
def bounded_memory(request):
    """Every test here runs all its examples with the process's peak memory under MEMORY_MB above its start."""
    if not Path("/proc/self/clear_refs").exists():
        yield
        return
    grown = {}
    Path("/proc/self/clear_refs").write_text("5")
    grown["before"] = int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS:")).split()[1])
    yield
    peak = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1])
    assert (peak - grown["before"]) / 1024 < MEMORY_MB, f"peak memory grew by {(peak - grown['before']) / 1024:.0f} MB"


# -- JSON values, shallow and deep -----------------------------------------------------------------------------
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=40) | st.sampled_from(["vae", "mlp", "conv", "gaussian", "", "é" * 3]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(
    st.text(max_size=12), inner, max_size=6), max_leaves=30)
deep_nesting = st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n)
size_lists = st.lists(st.integers(-5, 10**6) | st.sampled_from([0, 1, 2, 28, 784, 4096, 20000, 10**5]), max_size=4)


def dumps(value) -> str:
    return json.dumps(value, allow_nan=True)


@pytest.fixture(scope="module")
def good(tiny_zoo) -> dict[str, bytes]:
    folder = tiny_zoo / "vae-2d"
    return {name: (folder / name).read_bytes() for name in (C.CONFIG, C.WEIGHTS)}


def run_folder_with(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    folder = tmp_path / "run"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return folder


def load_or_checkpoint_error(folder: Path) -> None:
    try:
        C.load(folder)
    except C.CheckpointError:
        pass


# -- safetensors headers ---------------------------------------------------------------------------------------
tensor_entries = st.fixed_dictionaries({}, optional={
    "dtype": st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "X", ""]) | scalars,
    "shape": size_lists | json_values,
    "data_offsets": st.lists(st.integers(-10, 2**64), max_size=3) | json_values})
headers = st.dictionaries(st.sampled_from(["encoder.head.0.weight", "decoder.net.0.bias", "__metadata__", "x"])
                          | st.text(max_size=10), tensor_entries | json_values, max_size=6)


@FUZZ
@given(header=headers | json_values, length=st.none() | st.integers(0, 2**64 - 1), body=st.binary(max_size=4096),
       deep=st.none() | deep_nesting)
def test_generated_safetensors_headers(tmp_path, good, header, length, body, deep):
    raw = (deep or dumps(header)).encode()
    data = struct.pack("<Q", len(raw) if length is None else length) + raw + body
    load_or_checkpoint_error(run_folder_with(tmp_path, {C.CONFIG: good[C.CONFIG], C.WEIGHTS: data}))


@FUZZ
@given(cut=st.integers(0, 4096), flip=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=8))
def test_damaged_real_weights(tmp_path, good, cut, flip):
    data = bytearray(good[C.WEIGHTS][:len(good[C.WEIGHTS]) - cut])
    for at, value in flip:
        if at < len(data):
            data[at] = value
    load_or_checkpoint_error(run_folder_with(tmp_path, {C.CONFIG: good[C.CONFIG], C.WEIGHTS: bytes(data)}))


# -- config.json -----------------------------------------------------------------------------------------------
MODEL_KEYS = ["model", "arch", "hidden", "channels", "activation", "latent_dim", "kl_weight", "posterior", "prior",
              "prior_components", "label_guided", "recon_loss", "disc_hidden", "num_classes", "image_size"]


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(MODEL_KEYS + ["secret_hook"]), size_lists | json_values, max_size=4),
       top=st.dictionaries(st.sampled_from(["format", "format_version", "epoch", "train", "dataset", "model", "x"]),
                           json_values, max_size=3))
def test_generated_configs(tmp_path, good, changes, top):
    config = json.loads(good[C.CONFIG])
    config["model"].update(changes)
    config.update(top)
    load_or_checkpoint_error(run_folder_with(tmp_path, {C.CONFIG: dumps(config), C.WEIGHTS: good[C.WEIGHTS]}))


@FUZZ
@given(text=json_values.map(dumps) | deep_nesting | st.text(max_size=200)
       | st.integers(4300, 6000).map(lambda n: '{"format_version": ' + "9" * n + "}"))
def test_generated_config_files(tmp_path, good, text):
    load_or_checkpoint_error(run_folder_with(tmp_path, {C.CONFIG: text, C.WEIGHTS: good[C.WEIGHTS]}))


# -- IDX files -------------------------------------------------------------------------------------------------
@FUZZ
@given(magic=st.sampled_from([2049, 2051, 0, -1, 2050]) | st.integers(-2**31, 2**31 - 1),
       dims=st.lists(st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 28, 32, 100, 2_000_000]), max_size=5),
       ndim_lie=st.integers(-2, 2), body=st.integers(0, 20_000), gz=st.booleans(), cut=st.integers(0, 8))
def test_generated_idx_files(tmp_path, magic, dims, ndim_lie, body, gz, cut):
    ndim = max(0, min(255, len(dims) + ndim_lie))
    raw = struct.pack(">i", magic)[:3] + bytes([ndim]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(body)
    raw = raw[:len(raw) - cut] if cut < len(raw) else raw
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw, 1) if gz else raw)
    try:
        read_idx(path, expect_magic=2051, max_items=60_000)
    except DataError:
        pass
    path.unlink()


@FUZZ
@given(n_train=st.integers(0, 40), n_test=st.integers(0, 10), side=st.sampled_from([1, 28, 32]),
       label=st.integers(0, 255), classes=st.none() | json_values.map(dumps) | deep_nesting)
def test_generated_idx_data_sets(tmp_path, n_train, n_test, side, label, classes):
    folder = tmp_path / "idx"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">iIII", 2051, n, side, side)
                                                             + bytes(n * side * side))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">iI", 2049, n) + bytes([label]) * n)
    if classes is not None:
        (folder / "classes.json").write_text(classes)
    try:
        load_dataset(folder, max_images=60_000)
    except DataError:
        pass


def zip_names(longest: int):
    """Names a zip entry can have (zipfile cuts a name at NUL; an empty one it cannot write)."""
    return st.text(min_size=1, max_size=longest).filter(lambda n: "\x00" not in n)


# -- embedding.npz ---------------------------------------------------------------------------------------------
NPZ_NAMES = ["latents", "labels", "pca_xy", "pca_mean", "pca_components", "umap_xy", "umap_grid", "umap_extent"]
npy_members = st.fixed_dictionaries({
    "name": st.sampled_from(NPZ_NAMES).map(lambda n: n + ".npy") | zip_names(12),
    "descr": st.sampled_from(["<f4", "<f2", "<f8", "<i8", "|u1", "|O", "<c16", "|V8", "<U4", "|b1", ">f4"]),
    "shape": st.lists(st.integers(0, 10**12) | st.sampled_from([2, 4, 48, 64, 2, 10**6]), max_size=3).map(tuple),
    "body": st.integers(0, 2048), "header": st.booleans()})


def npz_bytes(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            head = io.BytesIO()
            if m["header"]:
                np.lib.format.write_array_header_1_0(head, {"descr": m["descr"], "fortran_order": False,
                                                            "shape": m["shape"]})
            zf.writestr(m["name"], head.getvalue() + bytes(m["body"]))  # the header starts with numpy's magic
    return buf.getvalue()


@pytest.fixture(scope="module")
def test_split():
    from trainer.data import bundled_test_split

    return bundled_test_split().head(64)


@FUZZ
@given(members=st.lists(npy_members, max_size=5), d=st.integers(1, 16), raw=st.none() | st.binary(max_size=300))
def test_generated_embeddings(tmp_path, test_split, members, d, raw):
    path = tmp_path / "embedding.npz"
    path.write_bytes(npz_bytes(members) if raw is None else raw)
    try:
        read_embedding(path, test_split, d)
    except ModelLoadError:
        pass


def test_a_real_embedding_still_reads(tmp_path, test_split):
    path = tmp_path / "embedding.npz"
    np.savez(path, latents=np.zeros((64, 3), np.float16), labels=test_split.labels.numpy().astype(np.uint8))
    assert read_embedding(path, test_split, 3)["latents"].shape == (64, 3)


# -- upload zips -----------------------------------------------------------------------------------------------
entry_names = (st.sampled_from([C.CONFIG, C.WEIGHTS, C.METRICS, C.HISTORY, "embedding.npz", C.OPTIMIZER,
                                "run/config.json", "run/model.safetensors", "a/b/config.json", "../config.json",
                                "/abs/config.json", "C:config.json", "a\\..\\config.json", "notes.txt", "dir/"])
               | zip_names(30))


@FUZZ
@given(entries=st.lists(st.tuples(entry_names, st.sampled_from(["config", "weights", "junk", "empty"])),
                        max_size=6))
def test_generated_upload_zips(tmp_path, good, test_split, entries):
    content = {"config": good[C.CONFIG], "weights": good[C.WEIGHTS], "junk": b"\x80\x04junk", "empty": b""}
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for name, what in entries:
            zf.writestr(name, content[what])
    session = tmp_path / "session"
    shutil.rmtree(session, ignore_errors=True)
    session.mkdir()
    outside = sorted(p.name for p in tmp_path.iterdir())
    try:
        load_upload([upload], session, test_split, 1)
    except ModelLoadError:
        assert list(session.iterdir()) == []  # a refused upload leaves nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == outside  # nothing written beside the session folder


@FUZZ
@given(data=st.binary(max_size=600), tail=st.sampled_from([b"", b"PK\x05\x06" + bytes(18),
                                                           b"PK\x05\x06" + b"\xff" * 18]))
def test_generated_zip_bytes(tmp_path, data, tail):
    upload = tmp_path / "upload.zip"
    upload.write_bytes(data + tail)
    try:
        unpack_upload([upload], tmp_path / "out")
    except ModelLoadError:
        pass
