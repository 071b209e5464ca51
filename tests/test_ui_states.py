"""Broken states a classroom found (issue 24, items 17-21): the shown models follow the picker, Compare before the
first epoch, the Saved runs list and the replay slider after a job, and the words on the page."""
from __future__ import annotations

import re
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from conftest import TRAIN_ORDER
from test_run_folders import tiny_run
from test_trainer_tab import TINY
from trainer import checkpoint as C


@pytest.fixture
def warnings_said(monkeypatch):
    """gr.Warning calls, recorded (outside a request Gradio turns them into Python warnings)."""
    said = []
    monkeypatch.setattr(gr, "Warning", lambda message, *args, **kwargs: said.append(message))
    return said


@pytest.fixture
def tab(monkeypatch, tmp_path):
    """The Train tab's handlers over a JobManager of its own (runs in tmp_path/runs)."""
    from types import SimpleNamespace

    from explorer import jobs
    from explorer.ui import saved_runs, train_jobs, train_view

    monkeypatch.setattr(train_jobs, "JOBS", jobs.JobManager(tmp_path / "runs"))
    return SimpleNamespace(JOBS=train_jobs.JOBS, train_start=train_jobs.train_start, train_stop=train_jobs.train_stop,
                           poll=train_view.poll, replay=train_view.replay, resume=saved_runs.resume)


def finished_job(tab, name, epochs=2, session=None):
    from explorer.ui.session import Session

    session = session or Session(owner="me")
    args = dict(TINY, epochs=epochs, name=name, limit=128)
    job_id = tab.train_start(*[args[k] for k in TRAIN_ORDER], session=session)["job_id"]
    job = tab.JOBS.get(job_id, "me")
    job.thread.join(120)
    assert job.status == "finished", job.message
    return job, session


# -- 17. two quick picks: the page shows what the picker holds ----------------------------------------------
@pytest.mark.browser
def test_two_quick_model_picks_show_as_many_models_as_the_picker_holds(app_server, chromium):
    """Gradio's default for the picker's input event ignored a pick made while the last one loaded: 5 chips, 4
    planes (3 of 3 tries in a classroom). Now the later pick is shown after the first one's load."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for name in ("pick-a", "pick-b"):
        tiny_run(app_server.registry.runs / name, "vae")
    for attempt in range(3):
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        page.goto(app_server.url)
        page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Showing')",
                               timeout=60_000)
        page.get_by_label("Models to compare (up to 6)").click()
        for name in ("runs: pick-a", "runs: pick-b"):  # the list stays open: two clicks within 0.1 s
            page.locator("li.item", has_text=name).first.click()
        try:
            page.wait_for_function("() => document.querySelector('#status').innerText.includes('pick-b')",
                                   timeout=15_000)
        except PlaywrightTimeout:
            pass  # the assertion below says what is shown
        chips = [c.strip() for c in page.locator(".token").all_inner_texts() if c.strip()]
        shown = re.findall(r"(\S+) \(\w+, \d+-D\)", page.locator("#status").inner_text())
        assert len(chips) == 5 and [c.split(": ")[-1] for c in chips] == shown, (attempt, chips, shown)
        page.close()


# -- 18. Compare before the first epoch --------------------------------------------------------------------
@pytest.mark.slow
def test_compare_before_the_first_epoch_warns_and_keeps_the_picker(tab, warnings_said):
    from explorer.ui.session import Session
    from explorer.ui.train import compare_run

    session = Session(owner="me")
    args = dict(TINY, epochs=50, name="early", limit=2000)
    job_id = tab.train_start(*[args[k] for k in TRAIN_ORDER], session=session)["job_id"]
    try:
        assert compare_run(job_id, ["pretrained/ae-2d"], session) == {}  # the picker keeps its models
        assert warnings_said == ["No finished epoch to compare yet: wait for the first epoch to end."]
    finally:
        tab.JOBS.stop(job_id, "me")
        tab.JOBS.get(job_id, "me").thread.join(60)


# -- 19. Saved runs lists a run as soon as its job ends --------------------------------------------------------
@pytest.mark.slow
def test_the_last_tick_of_a_job_lists_its_run_under_saved_runs_and_picks_it(tab):
    job, session = finished_job(tab, "listed")
    out = tab.poll(session)
    assert "listed" in out["runs"]["choices"] and out["runs"]["value"] == "listed" and not out["timer"].active


# -- 20. after Resume the replay slider runs over the epochs it shows ----------------------------------------
@pytest.mark.slow
def test_after_resume_the_replay_slider_runs_over_the_resumed_epochs(tab):
    job, session = finished_job(tab, "resumed", epochs=2)
    job_id = tab.resume("resumed", 4, session)["job_id"]
    tab.JOBS.get(job_id, "me").thread.join(120)
    slider = tab.poll(session)["snap_epoch"]
    assert (slider.minimum, slider.maximum, slider.value) == (3, 4, 4)  # epochs 3-4 were snapshotted, not 1-2
    title = tab.replay(3, session)["snap"].layout.title.text
    assert title == "latent space after epoch 3"


# -- 21. the words on the page -------------------------------------------------------------------------------
@pytest.mark.slow
def test_stop_on_a_finished_job_says_there_is_nothing_to_stop(tab):
    job, session = finished_job(tab, "done-already", epochs=1)
    assert tab.train_stop(job.id, session) == "**done-already** has already finished: there is nothing to stop."


def test_a_bad_model_number_warns_and_keeps_the_decoded_panel(tiny_zoo, tmp_path, monkeypatch, warnings_said):
    from explorer.registry import Registry
    from explorer.ui import models, planes
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", Registry(pretrained=tiny_zoo, runs=tmp_path, background=False))
    keys = ["pretrained/ae-2d", "pretrained/vae-2d"]
    assert planes.decode_at(keys, 7, 0.0, 0.0, "umap", "auto", session=Session()) == {}  # nothing changes
    assert warnings_said == ["Model # 7 is not shown: the shown models are numbered 0 to 1."]
    assert planes.decode_at(keys, 1, 0.0, 0.0, "umap", "auto", session=Session())["decoded"].ndim == 3


@pytest.mark.slow
def test_the_report_says_how_many_test_digits_each_model_was_measured_on_and_its_beta(tmp_path):
    from explorer.report import REPORT_COLUMNS, report_card
    from explorer.ui import header
    from trainer.config import ModelConfig, TrainConfig
    from trainer.data import load_dataset
    from trainer.evaluate import save_results
    from trainer.train import fit, new_model

    data = load_dataset(None, limit=128)
    data.test = data.test.head(300)
    fit(new_model(ModelConfig(hidden=(16,), kl_weight=4.0)), data, TrainConfig(epochs=1), run_dir=tmp_path / "b4")
    save_results(C.load(tmp_path / "b4"), {"test_images": 300, "recon_bce": 150.0})
    row = dict(zip(REPORT_COLUMNS, report_card({"runs/b4": tmp_path / "b4"}).splitlines()[2].strip("| ").split(" | ")))
    assert (row["β"], row["test digits"], row["type"]) == ("4", "300", "VAE")
    source = open(header.__file__).read()
    assert "measured on the 10,000 test digits" not in source  # runs are measured on 2,000 of the bundled split


def test_the_training_curves_say_what_the_step_loss_is():
    from explorer import plots

    rows = [{"kind": "step", "step": 1, "epoch": 0.5, "loss": 200.0},
            {"kind": "epoch", "epoch": 1, "test_kl": 5.0, "test_recon": 190.0, "test_neg_elbo": 195.0}]
    vae = plots.training_curves(rows, "vae")
    assert vae.layout.annotations[0].text == "training loss per step: recon + β·KL (nats/image)"
    assert vae.layout.yaxis3.title.text == "KL (not weighted by β)"
    aae = plots.training_curves(rows, "aae")
    assert aae.layout.annotations[0].text == "training loss per step: reconstruction (nats/image)"
    assert aae.layout.yaxis3.title.text == "discriminator / generator"


def test_an_output_picture_is_never_rewritten_while_a_browser_may_be_downloading_it(tmp_path):
    """Two students drawing the same picture: the second must not truncate the file the first is fetching."""
    import threading

    from explorer.ui.media import picture

    picture = picture()
    picture.GRADIO_CACHE = str(tmp_path)
    image = (np.random.default_rng(0).random((400, 900)) * 255).astype(np.uint8)
    path = Path(picture.postprocess(image).path)
    expected = path.read_bytes()
    seen, stop = set(), threading.Event()

    def download():
        while not stop.is_set():
            seen.add(len(path.read_bytes()))

    reader = threading.Thread(target=download)
    reader.start()
    try:
        for _ in range(200):
            assert Path(picture.postprocess(image).path) == path
    finally:
        stop.set()
        reader.join()
    assert seen == {len(expected)}, f"a download saw {sorted(seen)} bytes of {len(expected)}"
    assert path.read_bytes() == expected
    assert [p.name for p in path.parent.iterdir()] == ["image.png"]  # no temporary file left behind
