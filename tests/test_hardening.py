"""Hardening against the real server: a matrix of bad inputs, concurrent clients, kill -9 during training,
and the clean-up of a closed browser tab's uploads."""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from conftest import ROOT, TRAIN_ORDER, start_app, stop_app
from explorer import actions
from trainer import checkpoint

DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]
TRAIN = dict(model="vae", arch="mlp", latent_dim=2, kl_weight=1.0, prior="gaussian", label_guided=False, epochs=2,
             batch_size=64, lr=1e-3, seed=0, data_choice="bundled", idx_files=None, name="hardening", limit=256,
             posterior="diagonal", prior_components=0, lr_schedule="constant", weight_decay=0.0, adv_lr=1e-3,
             decoder_epochs=0, channels="16,32", hidden="")
SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", "runs", "pretrained"}  # runs/, pretrained/: not the server's


def settled(server, roots, quiet: float = 1.0, timeout: float = 300) -> dict[str, tuple[int, int]]:
    """A snapshot of ``roots`` once the server's background work of earlier tests is done: no child process (a
    decoder export, which runs at a low priority) and no file changed for ``quiet`` seconds."""
    deadline, last = time.time() + timeout, snapshot(*roots)
    while time.time() < deadline:
        time.sleep(quiet)
        now = snapshot(*roots)
        if now == last and not children(server.proc.pid):
            return now
        last = now
    return last


def children(pid: int) -> list[str]:
    """The ids of a process's children (Linux: /proc; elsewhere none are seen)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += (task / "children").read_text().split()
        except OSError:
            continue
    return found


def write_idx_set(folder: Path, fix: str | None = None) -> list[Path]:
    """Four IDX files (100 train, 20 test images); ``fix`` damages them: "magic", "count" (99 labels), "32x32"
    images, "negative" sides (-28 read as unsigned), "labels255", "empty" (0 training images), "2M" (a gzipped
    training file whose header claims 2,000,000 images)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    n_train, side = (0 if fix == "empty" else 100), (32 if fix == "32x32" else 28)
    labels = rng.integers(0, 10, 99 if fix == "count" else n_train)
    if fix == "labels255":
        labels[7] = 255
    for fname, array, magic in [("train-images-idx3-ubyte", rng.integers(0, 256, (n_train, side, side)), 2051),
                                ("train-labels-idx1-ubyte", labels, 2049),
                                ("t10k-images-idx3-ubyte", rng.integers(0, 256, (20, side, side)),
                                 2049 if fix == "magic" else 2051),
                                ("t10k-labels-idx1-ubyte", rng.integers(0, 10, 20), 2049)]:
        array = np.asarray(array, np.uint8)
        shape = (array.shape[0], -28, -28) if fix == "negative" and array.ndim == 3 else array.shape
        (folder / fname).write_bytes(struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *shape)
                                     + array.tobytes())
    if fix == "2M":
        import gzip

        (folder / "train-images-idx3-ubyte").unlink()
        header = struct.pack(">iiii", 2051, 2_000_000, 28, 28)
        (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(784 * 1000)))
    return sorted(folder.iterdir())


def train_args(**change):
    args = {**TRAIN, **change}
    return [args[k] for k in TRAIN_ORDER]


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file under the roots with its size and mtime (empty folders do not count)."""
    files = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                files[str(path)] = (st.st_size, st.st_mtime_ns)
    return files


@pytest.fixture(scope="module")
def client(app_server):
    from gradio_client import Client

    return Client(app_server.url, verbose=False)


@pytest.fixture(scope="module")
def bad(tmp_path_factory, tiny_zoo) -> dict[str, list[Path]]:
    """The bad files, each a list of paths to upload."""
    d = tmp_path_factory.mktemp("bad")
    good = tiny_zoo / "vae-2d"
    out: dict[str, list[Path]] = {}

    def folder(name: str, config: dict | None = None, weights: bytes | None = None) -> list[Path]:
        f = d / name
        f.mkdir()
        (f / "config.json").write_text(json.dumps(config) if config else (good / "config.json").read_text())
        (f / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes() if weights is None else weights)
        return [f / "config.json", f / "model.safetensors"]

    out["pickle renamed .safetensors"] = folder("pickled", weights=b"\x80\x04\x95" + b"cos\nsystem\n" + b"\0" * 64)
    (d / "model.pt").write_bytes(b"\x80\x04K\x01.")
    out[".pt pickle"] = [d / "model.pt"]
    out["truncated safetensors"] = folder("truncated", weights=(good / "model.safetensors").read_bytes()[:-100])
    out["wrong tensor shapes"] = folder("shapes", weights=(tiny_zoo / "vae-8d" / "model.safetensors").read_bytes())
    tensors, _ = checkpoint.read_safetensors(good / "model.safetensors")
    tensors = {k: v.clone() for k, v in tensors.items()}
    next(v for k, v in sorted(tensors.items()) if v.is_floating_point())[..., 0] = float("nan")
    save_file(tensors, d / "nan.safetensors")
    out["NaN weights"] = folder("nan", weights=(d / "nan.safetensors").read_bytes())
    config = json.loads((good / "config.json").read_text())
    config["model"]["secret_hook"] = "os.system"
    out["config with unknown keys"] = folder("unknown", config=config)
    with zipfile.ZipFile(d / "slip.zip", "w") as zf:
        zf.writestr("../../escaped.json", "{}")
        zf.writestr("model.safetensors", (good / "model.safetensors").read_bytes())
    out["zip with ../ paths"] = [d / "slip.zip"]
    with zipfile.ZipFile(d / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf, zf.open("model.safetensors", "w",
                                                                                    force_zip64=True) as f:
        zero = bytes(1 << 20)
        for _ in range(1024):  # 1 GiB unpacked, about 1 MB packed
            f.write(zero)
    out["zip of 1 GB unpacked"] = [d / "bomb.zip"]
    for name, fix in {"IDX wrong magic": "magic", "IDX mismatched counts": "count", "IDX of 32x32 images": "32x32",
                      "IDX with negative sides": "negative", "IDX labels of 255": "labels255",
                      "IDX of 0 training images": "empty", "IDX gzip claiming 2,000,000 images": "2M"}.items():
        out[name] = write_idx_set(d / fix, fix)
    # configs beyond the size bounds (once built whole before the weights were checked: +3.2 GB each)
    for name, change in {"hidden [20000, 20000]": dict(hidden=[20000, 20000]),
                         "image_size [1000, 1000]": dict(image_size=[1000, 1000]),
                         "num_classes 10^6": dict(model="cvae", num_classes=10**6),
                         "channels [4096]": dict(arch="conv", channels=[4096], hidden=[256]),
                         "disc_hidden [20000, 20000]": dict(model="aae", disc_hidden=[20000, 20000]),
                         "8 layers of 8192": dict(hidden=[8192] * 8), "num_classes 0": dict(num_classes=0),
                         "hidden 10^5": dict(hidden=[10**5]), "image_size [-28, -28]": dict(image_size=[-28, -28]),
                         "image_size [28, 28, 1]": dict(image_size=[28, 28, 1]),
                         "image_size [784, 1]": dict(image_size=[784, 1]),
                         "image_size [56, 14]": dict(image_size=[56, 14])}.items():
        config = json.loads((good / "config.json").read_text())
        config["model"].update(change)
        out[f"config with {name}"] = folder(name.replace(" ", "_").replace(",", ""), config=config)
    deep = "[" * 100_000 + "]" * 100_000
    out["config.json nested 100,000 deep"] = folder("deep-config")
    out["config.json nested 100,000 deep"][0].write_text(deep)
    header = ('{"x": ' + deep + "}").encode()
    out["safetensors header nested 100,000 deep"] = folder("deep-header",
                                                           weights=struct.pack("<Q", len(header)) + header)
    tensors64 = {k: v.double() for k, v in tensors.items()}
    next(v for k, v in sorted(tensors64.items()))[..., 0] = 1e300  # finite as float64, inf as float32
    save_file(tensors64, d / "huge.safetensors")
    out["float64 weight of 1e300"] = folder("huge", weights=(d / "huge.safetensors").read_bytes())
    save_file({k: v.long() for k, v in tensors.items()}, d / "ints.safetensors")
    out["weights stored as int64"] = folder("ints", weights=(d / "ints.safetensors").read_bytes())
    # embedding.npz files that do not fit (one once unpacked 2 MB to 2 GiB)
    for name, members in {"embedding.npz of 256 MiB zeros": [("latents.npy", (10_000, 2), 256 * 2**20)],
                          "embedding.npz without labels": [("latents.npy", (10_000, 2), None)],
                          "embedding.npz claiming 10^12 elements": [("latents.npy", (10**12,), 0),
                                                                    ("labels.npy", (10_000,), None)]}.items():
        files = folder(name.split(" ", 1)[1].replace(" ", "_"))
        write_npz(files[0].parent / "embedding.npz", members)
        out[name] = files + [files[0].parent / "embedding.npz"]
    files = folder("optimizer-only")
    (files[0].parent / "optimizer.safetensors").write_bytes(files[1].read_bytes())
    out["config.json + optimizer.safetensors"] = [files[0], files[0].parent / "optimizer.safetensors"]
    with zipfile.ZipFile(d / "two-runs.zip", "w") as zf:
        for run in ("a", "b"):
            zf.writestr(f"{run}/config.json", (good / "config.json").read_bytes())
            zf.writestr(f"{run}/model.safetensors", (good / "model.safetensors").read_bytes())
    out["zip of two run folders"] = [d / "two-runs.zip"]
    blank = d / "blank.png"
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(blank)
    out["empty sketch"] = [blank]
    return out


def write_npz(path: Path, members) -> None:
    """An npz whose entries are (name, shape, zero bytes after the float32 header, or None for real zeros)."""
    import io

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, shape, padding in members:
            if padding is None:
                buf = io.BytesIO()
                np.save(buf, np.zeros(shape, np.uint8 if name == "labels.npy" else np.float32))
                zf.writestr(name, buf.getvalue())
                continue
            with zf.open(name, "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(head := io.BytesIO(), {"descr": "<f4", "fortran_order": False,
                                                                            "shape": shape})
                f.write(head.getvalue())
                for _ in range(padding >> 20):
                    f.write(bytes(1 << 20))


def _upload(client, paths):
    from gradio_client import handle_file

    return client.predict([handle_file(str(p)) for p in paths], DEFAULT, api_name="/upload")


def _train_uploaded(client, paths):
    from gradio_client import handle_file

    return client.predict(*train_args(data_choice="uploaded", idx_files=[handle_file(str(p)) for p in paths]),
                          api_name="/train_start")


CASES = {
    "pickle renamed .safetensors": (_upload, r"Upload refused: .*pickle"),
    ".pt pickle": (_upload, r"Invalid file type"),  # Gradio refuses the extension before our code sees it
    "truncated safetensors": (_upload, r"Upload refused: .*truncated"),
    "wrong tensor shapes": (_upload, r"Upload refused: .*has shape"),
    "NaN weights": (_upload, r"Upload refused: .*NaN"),
    "config with unknown keys": (_upload, r"Upload refused: .*unknown keys \['secret_hook'\]"),
    "zip with ../ paths": (_upload, r"Upload refused: .*unsafe path '\.\./\.\./escaped\.json'"),
    "zip of 1 GB unpacked": (_upload, r"Upload refused: .*unpacks to 1024 MB"),
    "IDX wrong magic": (_train_uploaded, r"t10k-images-idx3-ubyte: magic number 2049, expected 2051"),
    "IDX mismatched counts": (_train_uploaded, r"100 train images but 99 train labels"),
    "IDX of 32x32 images": (_train_uploaded, r"the model takes 28x28 images, the data \(your upload\) holds 32x32"),
    "IDX with negative sides": (_train_uploaded, r"images of 4294967268x4294967268 pixels; expected sides of 1 to 512"),
    "IDX labels of 255": (_train_uploaded, r"train-labels-idx1-ubyte: a label of 255, but there are 10 classes"),
    "IDX of 0 training images": (_train_uploaded, r"the data holds 0 training and 20 test images"),
    "IDX gzip claiming 2,000,000 images": (_train_uploaded, r"train-images-idx3-ubyte.gz: holds 2,000,000 images, "
                                                            r"more than the 60,000 allowed here"),
    "config with hidden [20000, 20000]": (_upload, r"Upload refused: .*hidden must be 1 to 8 whole numbers between 1 "
                                                   r"and 8192, got \(20000, 20000\)"),
    "config with image_size [1000, 1000]": (_upload, r"image_size must be two sides \(height, width\) between 1 and "
                                                     r"512 pixels, got \(1000, 1000\)"),
    "config with num_classes 10^6": (_upload, r"num_classes must be between 1 and 1000, got 1000000"),
    "config with channels [4096]": (_upload, r"channels must be 1 to 2 whole numbers between 1 and 512"),
    "config with disc_hidden [20000, 20000]": (_upload, r"disc_hidden must be 1 to 8 whole numbers"),
    "config with 8 layers of 8192": (_upload, r"this model would have \d{3},\d{3},\d{3} parameters, more than the "
                                              r"50,000,000 allowed"),
    "config with num_classes 0": (_upload, r"num_classes must be between 1 and 1000, got 0"),
    "config with hidden 10^5": (_upload, r"hidden must be 1 to 8 whole numbers between 1 and 8192, got \(100000,\)"),
    "config with image_size [-28, -28]": (_upload, r"image_size must be two sides"),
    "config with image_size [28, 28, 1]": (_upload, r"image_size must be two sides"),
    "config with image_size [784, 1]": (_upload, r"image_size must be two sides .* got \(784, 1\)"),
    "config with image_size [56, 14]": (_upload, r"the model takes 56x14 images; the explorer shows 28x28"),
    "config.json nested 100,000 deep": (_upload, r"config.json: it is nested too deeply"),
    "safetensors header nested 100,000 deep": (_upload, r"model.safetensors: its header is nested too deeply"),
    "float64 weight of 1e300": (_upload, r"contains NaN or infinite values \(as float32\)"),
    "weights stored as int64": (_upload, r"is stored as I64; expected one of F16, BF16, F32, F64"),
    "embedding.npz of 256 MiB zeros": (_upload, r"embedding.npz: latents holds more bytes than its shape"),
    "embedding.npz without labels": (_upload, r"embedding.npz: needs the arrays latents and labels, has \['latents'\]"),
    "embedding.npz claiming 10^12 elements": (_upload, r"latents is float32 of shape \(1000000000000,\); expected "
                                                       r"floats of shape \(10000, 2\)"),
    "config.json + optimizer.safetensors": (_upload, r"the upload has no model.safetensors \(ignored: "
                                                     r"optimizer.safetensors\)"),
    "zip of two run folders": (_upload, r"holds two files named config.json \('b/config.json' is the second\)"),
}
ABSURD_TRAINING = {
    "epochs 10^9": (dict(epochs=10**9), r"maximum value|epochs must be"),
    "latent dim 0": (dict(latent_dim=0), r"minimum value|latent_dim must be"),
    "latent dim 10^6": (dict(latent_dim=10**6), r"maximum value|latent dim must be"),
    "batch 0": (dict(batch_size=0), r"minimum value|batch_size must be"),
    "lr 0": (dict(lr=0.0), r"minimum value|lr must be"),
    "lr 1e9": (dict(lr=1e9), r"maximum value|lr must be"),
    "negative limit": (dict(limit=-5), r"minimum value|limit"),
    "unknown model": (dict(model="gan"), r"not in the list of choices|unknown model"),
    "dense width 10^6": (dict(hidden="1000000"), r"dense widths: at most 4 layers of at most 2048"),
    "dense widths not numbers": (dict(hidden="wide"), r"dense widths must be positive whole numbers"),
    "two dense widths for conv": (dict(arch="conv", hidden="64,32"), r"conv architecture has one dense layer"),
    "epochs 1.5": (dict(epochs=1.5), r"epochs must be a whole number, got 1.5"),
    "run name ../x": (dict(name="../x"), r"run name '\.\./x': use up to 64 letters"),
}


@pytest.mark.parametrize("case", list(CASES) + [f"training: {k}" for k in ABSURD_TRAINING])
def test_bad_input_gets_a_message_the_server_keeps_serving_and_nothing_is_written(case, client, bad, app_server,
                                                                                  tiny_zoo):
    from gradio_client.exceptions import AppError

    roots = (ROOT, tiny_zoo, app_server.registry.runs, app_server.tmp)
    before = settled(app_server, roots)
    if case.startswith("training: "):
        change, pattern = ABSURD_TRAINING[case.split(": ", 1)[1]]
        call = lambda: client.predict(*train_args(**change), api_name="/train_start")  # noqa: E731
    else:
        fn, pattern = CASES[case]
        call = lambda: fn(client, bad[case])  # noqa: E731
    with pytest.raises((AppError, ValueError), match=pattern) as error:
        call()
    assert str(app_server.tmp) not in str(error.value), "the message shows the server's temp path"
    # the server keeps serving, and the decoding is still right
    strip = np.asarray(Image.open(client.predict(DEFAULT, 0, 0.3, -0.2, "umap", "auto", api_name="/decode")))
    assert strip.ndim == 3 and strip.shape[1] > strip.shape[0]
    after = snapshot(*roots)
    written = sorted(path for path, stat in after.items() if before.get(path) != stat)
    # an earlier test's session may end meanwhile, and its uploads go: only the server's temp files may vanish
    vanished = sorted(path for path in before if path not in after and not path.startswith(str(app_server.tmp)))
    assert written == vanished == [], f"files written: {written[:5]}; removed: {vanished[:5]}"


def test_empty_sketch_is_a_message_not_an_error(client, bad):
    from gradio_client import handle_file

    sketch = {"background": None, "layers": [], "composite": handle_file(str(bad["empty sketch"][0]))}
    _, table, message, _ = client.predict(DEFAULT, "one per class", "", sketch, 0, "umap", api_name="/reconstruct")
    assert "draw a digit on the sketchpad" in message and len(table["data"]) == 3


def test_concurrent_clients_each_get_their_own_decoding(app_server):
    """Eight clients decode different points at once; each gets exactly the decoding of its point."""
    from gradio_client import Client

    entries = [app_server.registry.get(k) for k in DEFAULT]
    points = [(-1.5 + 0.4 * i, 1.0 - 0.3 * i) for i in range(8)]
    expected = [actions.decoded_strip(actions.click_targets(entries, i % 3, p), app_server.registry.test)
                for i, p in enumerate(points)]
    failures: list[str] = []

    def run(i):
        c = Client(app_server.url, verbose=False)
        for _ in range(3):
            got = np.asarray(Image.open(c.predict(DEFAULT, i % 3, *points[i], "umap", "auto", api_name="/decode"))
                             .convert("RGB"))
            if not np.array_equal(got, expected[i]):
                failures.append(f"client {i} got another decoding")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures and not any(t.is_alive() for t in threads)


@pytest.mark.server
@pytest.mark.slow
def test_kill_9_while_training_leaves_a_resumable_run(tmp_path, tiny_zoo):
    """SIGKILL the app mid-epoch: the run folder holds the last finished epoch, --resume continues it, and the
    restarted app serves the run."""
    from gradio_client import Client

    runs = tmp_path / "runs"
    server = start_app(tmp_path / "first", tiny_zoo, runs)
    try:
        c = Client(server.url, verbose=False)
        job_id = c.predict(*train_args(name="killed", epochs=30, limit=3000), api_name="/train_start")[0]
        deadline = time.time() + 180
        while time.time() < deadline:
            status = c.predict(job_id, 0, api_name="/train_status")
            if any(r["kind"] == "epoch" for r in status["rows"]):
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"no epoch finished: {status}")
        time.sleep(0.5)  # into the next epoch
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
    finally:
        stop_app(server)
    run_dir = runs / "killed"
    run = checkpoint.load(run_dir)  # the weights load wherever the kill landed, even inside a save
    done = checkpoint.resume_epoch(run_dir)
    assert done is not None and 1 <= done < 30 and run.epoch in (done, done + 1)  # +1: killed while saving
    # a kill inside an atomic write can leave its temp file (never a torn real file); the next save removes it
    target = done + 1
    r = subprocess.run([sys.executable, "-m", "trainer", "train", "--out", str(run_dir), "--resume", "--epochs",
                        str(target), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    resumed = checkpoint.load(run_dir)
    assert resumed.epoch == target
    assert not list(run_dir.glob("*.tmp*")), "a half-written file was left behind"
    assert [r["epoch"] for r in checkpoint.read_history(run_dir) if r["kind"] == "epoch"] == list(range(1, target + 1))
    # the restarted app lists and decodes the run
    server = start_app(tmp_path / "second", tiny_zoo, runs)
    try:
        c = Client(server.url, verbose=False)
        assert c.predict(["runs/killed"], 0, 0.0, 0.0, "umap", "auto", api_name="/decode")
    finally:
        stop_app(server)


@pytest.mark.browser
def test_an_uploaded_model_switches_to_umap_and_closing_the_tab_deletes_it(app_server, tiny_zoo, chromium):
    """An uploaded 8-D model is shown on PCA while its UMAP is fitted in the background, and a timer puts the UMAP
    plane on the page when it is ready (nothing to click); closing the tab then deletes the upload."""
    def uploaded():
        return sorted(app_server.tmp.glob("latent-explorer-session-*/upload-*/model.safetensors"))

    before = uploaded()
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(app_server.url)
    page.wait_for_selector(".le-plane canvas", timeout=60_000)
    page.get_by_role("tab", name="Add a model").click()
    page.locator("input[type=file]").last.set_input_files(
        [str(tiny_zoo / "vae-8d" / "config.json"), str(tiny_zoo / "vae-8d" / "model.safetensors")])
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Load upload").click()
    page.wait_for_function("() => document.body.innerText.includes('Loaded upload: vae-8d')", timeout=60_000)
    page.get_by_role("tab", name="Latent planes").click()
    page.wait_for_function("() => document.body.innerText.includes('upload: vae-8d · PCA') && "
                           "document.querySelector('#status').innerText.includes('being computed')",
                           timeout=30_000)
    page.wait_for_function("() => document.body.innerText.includes('upload: vae-8d · UMAP')", timeout=300_000)
    assert "being computed" not in page.locator("#status").inner_text()
    mine = [f for f in uploaded() if f not in before]
    assert len(mine) == 1
    page.close()
    deadline = time.time() + 60
    while time.time() < deadline and mine[0].exists():
        time.sleep(0.5)
    context.close()
    log = app_server.log.read_text()[-3000:]
    assert not mine[0].exists() and not mine[0].parent.parent.exists(), f"the closed tab's upload is on disk\n{log}"
    assert all(f.exists() for f in before), "another session's upload was deleted"


def test_an_upload_after_an_early_unload_is_still_deleted_when_the_tab_closes(tiny_zoo, tmp_path, monkeypatch):
    """If Gradio fires the unload event while the page lives on (a dropped heartbeat), the session must be
    registered again by the next upload, or closing the tab later would leave that upload on disk."""
    from types import SimpleNamespace

    from explorer.ui import add_model, header
    from explorer.ui.session import Session, end

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    request = SimpleNamespace(session_hash="early-unload")
    session = Session()
    header.remember_owner(None, session, request)
    end(request)  # the early unload: nothing uploaded yet
    # a 2-D model: no background UMAP fit left running into later tests
    files = [str(tiny_zoo / "vae-2d" / "config.json"), str(tiny_zoo / "vae-2d" / "model.safetensors")]
    assert "Loaded" in add_model.upload(files, [], session, request)["status"]
    stored = list(tmp_path.glob("latent-explorer-session-*/upload-*/model.safetensors"))
    assert len(stored) == 1
    end(request)  # the tab really closes
    assert not stored[0].parent.parent.exists() and not session.uploads


@pytest.mark.slow
def test_training_data_uploaded_after_an_early_unload_is_deleted_when_the_tab_closes(tmp_path, monkeypatch):
    """The same for the Train tab's IDX upload: its files live in the session folder until the job moves them into
    its run folder (which keeps them: the run can be measured and resumed later)."""
    from types import SimpleNamespace

    from explorer import jobs
    from explorer.ui import header, train_jobs
    from explorer.ui.session import OPEN, Session, end

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(train_jobs, "JOBS", jobs.JobManager(tmp_path / "runs"))
    idx_files = write_idx_set(tmp_path / "idx")
    request = SimpleNamespace(session_hash="early-unload-idx")
    session = Session()
    header.remember_owner(None, session, request)
    end(request)  # the early unload
    args = train_args(data_choice="uploaded", idx_files=[str(p) for p in idx_files], epochs=1)
    job_id = train_jobs.train_start(*args, session, request)["job_id"]
    train_jobs.JOBS.get(job_id, session.owner).thread.join(120)
    assert OPEN.get("early-unload-idx") is session  # tracked again by the upload
    assert not list(tmp_path.glob("latent-explorer-session-*/idx-*"))  # moved into the run
    assert (tmp_path / "runs" / "hardening" / "data" / "train-images-idx3-ubyte").is_file()
    folder = Path(session.upload_dir)
    end(request)  # the tab really closes
    assert not folder.exists()
