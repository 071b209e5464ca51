"""Run folders are never lost or mixed up: one mapping of run names to folders, a folder of the user's own files is
not overwritten, derived files go with the weights they came from, runs of uploaded data keep their data, and a
kill -9 at any moment leaves a folder that the next open makes consistent."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from test_hardening import train_args, write_idx_set
from test_train import consistent_epoch
from trainer import checkpoint as C
from trainer.config import ConfigError, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.train import fit, new_model
from trainer_cli import cli  # noqa: F401 (a fixture: the CLI in this process)


def tiny_run(folder: Path, model: str = "vae", epochs: int = 1) -> Path:
    data = load_dataset(None, limit=128)
    data.test = data.test.head(128)
    fit(new_model(ModelConfig(model=model, hidden=(16,)), seed=0), data,
        TrainConfig(epochs=epochs, batch_size=64, limit=128), run_dir=folder)  # a resume trains 128 images too
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# -- Run names: one function maps a run name to its folder -------------------------------------------------
@pytest.mark.parametrize("name", ["", " my-run", "my-run ", "../x", "a/b", "/etc", ".hidden", "-flag", "x" * 65,
                                  "a:b", "tab\there", None, 7])
def test_run_names_that_are_not_plain_folder_names_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="use up to 64 letters, digits, spaces"):
        C.run_folder(tmp_path, name)


def test_a_run_name_is_its_folder_name_and_one_that_is_another_runs_folder_is_refused(tmp_path):
    assert C.run_folder(tmp_path, "my run") == tmp_path / "my run"
    assert C.run_folder(tmp_path, "schön-β_2.1") == tmp_path / "schön-β_2.1"  # any script, never rewritten
    (tmp_path / "my-run").mkdir()
    assert C.run_folder(tmp_path, "my-run") == tmp_path / "my-run"
    for other in ("My-Run", "MY-RUN"):  # the same folder on case-insensitive file systems
        with pytest.raises(ConfigError, match="differs from the existing run 'my-run' only in case"):
            C.run_folder(tmp_path, other)
    (tmp_path / "café").mkdir()
    with pytest.raises(ConfigError, match="only in case or accents"):
        C.run_folder(tmp_path, "cafe\u0301".upper())  # decomposed and upper case: still café


def test_resume_trains_the_run_it_names_and_leaves_a_similar_name_alone(app_server):
    """A run `my run` (VAE) beside `my-run` (AE): /train_resume of "my run" continues that VAE; my-run's five files
    stay byte for byte (the tab once resumed `my run` by training my-run from epoch 1)."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    runs = app_server.registry.runs
    tiny_run(runs / "my run", "vae")
    tiny_run(runs / "my-run", "ae")
    before = files_of(runs / "my-run")
    client = Client(app_server.url, verbose=False)
    job_id, message, *_ = client.predict("my run", 2, api_name="/train_resume")
    assert "Resuming **my run** from epoch 1 to 2" in message
    deadline = time.time() + 120
    while (status := client.predict(job_id, 0, api_name="/train_status"))["status"] not in ("finished", "failed"):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "finished", status["message"]
    assert status["run"] == "runs/my run"  # the run's name, not a server path
    run = C.load(runs / "my run")
    assert (run.model_config.model, run.epoch, C.resume_epoch(runs / "my run")) == ("vae", 2, 2)
    assert files_of(runs / "my-run") == before
    for name, error in [("My Run", "differs from the existing run 'my run' only in case"),
                        ("../my-run", "use up to 64 letters"), ("no-such-run", "has no resumable checkpoint")]:
        with pytest.raises(AppError, match=error):
            client.predict(name, 2, api_name="/train_resume")
    assert files_of(runs / "my-run") == before


def test_a_unicode_run_name_is_kept(tmp_path):
    """The Train tab once turned "schön" into "sch-n" (and a name of only non-ASCII letters into "n")."""
    from explorer.jobs import JobManager

    jobs = JobManager(tmp_path)
    data = load_dataset(None, limit=64)
    data.test = data.test.head(64)
    job = jobs.start("me", ModelConfig(hidden=(16,)), TrainConfig(epochs=1, batch_size=64), data,
                     name="ニューラル")
    job.thread.join(120)
    assert job.status == "finished" and job.name == "ニューラル"
    assert C.load(tmp_path / "ニューラル").epoch == 1


# -- Overwrites: a folder of the user's own files is not a run to overwrite ---------------------------------
@pytest.mark.slow
def test_train_out_refuses_a_folder_of_other_files_unless_overwrite(cli, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.json").write_text('{"my": "numbers"}')
    (out / "history.jsonl").write_text('{"my": "log"}\n')
    (out / "notes.txt").write_text("keep me")
    before = files_of(out)
    r = cli("train", "--hidden", "16", "--epochs", "1", "--limit", "64", "--out", out, "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{out} holds files that are not a run (history.jsonl, metrics.json, notes.txt); pass --overwrite" \
        in r.stderr
    assert files_of(out) == before
    r = cli("train", "--hidden", "16", "--epochs", "1", "--limit", "64", "--out", out, "--quiet", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert (out / "notes.txt").read_text() == "keep me" and C.load(out).epoch == 1
    assert json.loads((out / "metrics.json").read_text())["epoch"] == 1
    (tmp_path / "a-file").write_text("x")
    r = cli("train", "--out", tmp_path / "a-file")
    assert r.returncode == 2 and "is a file, not a run folder" in r.stderr


# -- Derived files: never outlive the weights they were made from -------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("how", ["overwrite", "resume"])
def test_new_weights_delete_the_old_embedding(cli, tmp_path, tiny_zoo, how):
    """A copy of an AE run with its embedding.npz, then --overwrite with a VAE (or --resume): the app must show the
    new weights' codes, not the old file's."""
    from explorer.registry import make_entry
    from trainer.data import bundled_test_split

    out = tmp_path / "run"
    shutil.copytree(tiny_zoo / "ae-2d", out) if how == "overwrite" else tiny_run(out, "ae")
    test = bundled_test_split()
    old = C.load(out).model.embed_split(test).numpy()
    np.savez(out / "embedding.npz", latents=old.astype(np.float16), labels=test.labels.numpy().astype(np.uint8))
    change = ["--model", "vae", "--hidden", "64", "--limit", "128", "--overwrite", "--epochs", "1"] \
        if how == "overwrite" else ["--resume", "--epochs", "2"]
    r = cli("train", "--out", out, "--quiet", *change)
    assert r.returncode == 0, r.stderr
    assert not (out / "embedding.npz").exists()
    entry = make_entry("runs/run", "run", out, test)
    assert np.allclose(entry.latents, entry.model.embed_split(test).numpy(), atol=1e-6)
    assert not np.allclose(entry.latents, old, atol=1e-2)


# -- Uploaded data: a run of uploaded data keeps its data ----------------------------------------------------
def test_a_run_of_uploaded_idx_files_resumes_and_measures_after_the_session_is_gone(app_server, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app_server.url, verbose=False)
    files = write_idx_set(tmp_path / "idx")
    job_id = client.predict(*train_args(name="uploaded-data", epochs=1, limit=0, data_choice="uploaded",
                                        idx_files=[handle_file(str(p)) for p in files]), api_name="/train_start")[0]
    deadline = time.time() + 120
    while (status := client.predict(job_id, 0, api_name="/train_status"))["status"] not in ("finished", "failed"):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "finished", status["message"]
    folder = app_server.registry.runs / "uploaded-data"
    assert sorted(p.name for p in (folder / "data").iterdir()) == sorted(p.name for p in files)
    assert all((folder / "data" / p.name).read_bytes() == p.read_bytes() for p in files)
    for session in app_server.tmp.glob("latent-explorer-session-*/idx-*"):
        shutil.rmtree(session)  # the uploading session's files are gone (as when its tab closes)
    config = json.loads((folder / "config.json").read_text())
    assert config["dataset"]["name"] == "uploaded" and config["dataset"]["train_size"] == 100
    job_id, message, *_ = client.predict("uploaded-data", 2, api_name="/train_resume")
    while (status := client.predict(job_id, 0, api_name="/train_status"))["status"] not in ("finished", "failed"):
        assert time.time() < deadline + 120, status
        time.sleep(0.5)
    assert status["status"] == "finished", status["message"]
    assert "on 20 test digits" in client.predict("uploaded-data", api_name="/measure_run")


# -- Crash safety: kill -9 at any moment ---------------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_of_a_training_cli_at_random_moments_leaves_a_folder_the_next_open_makes_consistent(tmp_path):
    """Kill a real `python -m trainer train` with SIGKILL, again and again, each time continuing the run with
    --resume: every other kill at a random moment, the others the moment a save's temp file appears (epochs of one
    step save often). After every kill the weights load; the next open for training (what --resume does first)
    removes the temp files and leaves weights, config, metrics, history and resume point at one epoch; the
    history has every epoch once."""
    out = tmp_path / "run"
    rng = random.Random(24)
    args = ["--model", "vae", "--hidden", "16", "--limit", "64", "--batch-size", "64", "--epochs", "1000",
            "--out", out, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    left = []
    for kill in range(6):
        start = C.resume_epoch(out) if (out / C.OPTIMIZER).exists() else 0
        resume = ["--resume"] if start else []
        proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", *map(str, args), *resume], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and (not (out / C.OPTIMIZER).exists() or C.resume_epoch(out) <= start):
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.05)
            if kill % 2:  # inside a save: as soon as one of its temp files exists
                while time.time() < deadline and not any(n.endswith(".tmp") for n in os.listdir(out)):
                    pass
            else:
                time.sleep(rng.uniform(0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            proc.kill()
        assert C.load(out).epoch >= 1  # the weights load wherever the kill landed
        left.append(len(list(out.glob(".*.tmp"))))
        C.open_for_training(out)
        epoch = consistent_epoch(out)
        epochs = [r["epoch"] for r in C.read_history(out) if r["kind"] == "epoch"]
        assert epochs == list(range(1, epoch + 1))
    print(f"temp files left by the 6 kills: {left}")
