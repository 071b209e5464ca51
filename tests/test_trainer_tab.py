"""Background training through the app's named endpoints /train_start, /train_status, /train_stop."""
import json
import math
import time

import gradio as gr
import pytest

from conftest import TRAIN_ORDER
from trainer import checkpoint

TINY = dict(model="vae", arch="mlp", latent_dim=2, kl_weight=1.0, prior="gaussian", label_guided=False,
            batch_size=64, lr=1e-3, seed=0, data_choice="bundled", idx_files=None, posterior="diagonal",
            prior_components=0, lr_schedule="constant", weight_decay=0.0, adv_lr=1e-3, decoder_epochs=0,
            channels="16,32", hidden="")


def start(client, name, epochs, limit, **change):
    args = dict(TINY, epochs=epochs, name=name, limit=limit, **change)
    job_id, message = client.predict(*[args[k] for k in TRAIN_ORDER], api_name="/train_start")[:2]
    assert job_id and "Started" in message
    return job_id


def wait(client, job_id, until, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(job_id, 0, api_name="/train_status")
        if until(status):
            return status
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not reach the expected state: {status}")


@pytest.fixture
def clients(app_server):
    from gradio_client import Client

    return Client(app_server[0], verbose=False), Client(app_server[0], verbose=False)


def test_job_streams_history_and_saves_a_loadable_run(clients, app_server):
    a, _ = clients
    job_id = start(a, "tab-tiny", epochs=2, limit=640, posterior="full", prior_components=10,  # both VAE options
                   hidden="64,32")
    status = wait(a, job_id, lambda s: s["status"] in ("finished", "failed", "diverged"))
    assert status["status"] == "finished", status["message"]
    rows = status["rows"]
    epochs = [r["epoch"] for r in rows if r["kind"] == "epoch"]
    assert epochs == [1, 2]
    steps = [r["step"] for r in rows if r["kind"] == "step"]
    assert steps == sorted(steps) and steps[-1] == 2 * 10 and len(steps) == 4  # logged every 5 steps
    assert all(math.isfinite(r["loss"]) for r in rows if r["kind"] == "step")
    assert {"test_neg_elbo", "test_kl", "test_recon"} <= set(rows[-1])
    later = a.predict(job_id, status["cursor"], api_name="/train_status")
    assert later["rows"] == [] and later["cursor"] == status["cursor"]
    runs = app_server[1].runs
    run = checkpoint.load(runs / "tab-tiny")
    assert run.epoch == 2 and len(checkpoint.read_history(runs / "tab-tiny")) == len(rows)
    assert run.model_config.hidden == (64, 32)
    assert run.model_config.posterior == "full" and run.model_config.prior_components == 10
    assert not run.model.prior_means.eq(0).all()  # the prior was fitted to the codes


def test_advanced_options_reach_the_saved_run(clients, app_server):
    a, _ = clients
    # β, q(z|x) and p(z) are hidden for an AAE: values left in them are not used, and the saved run says so
    job_id = start(a, "tab-advanced", epochs=2, limit=640, model="aae", lr_schedule="cosine", weight_decay=0.1,
                   adv_lr=5e-4, decoder_epochs=1, arch="conv", channels="32,64", hidden="128", kl_weight=4.0,
                   posterior="full", prior_components=10)
    status = wait(a, job_id, lambda s: s["status"] in ("finished", "failed", "diverged"))
    assert status["status"] == "finished", status["message"]
    run = checkpoint.load(app_server[1].runs / "tab-advanced")
    train = run.train_config
    assert (train.lr_schedule, train.weight_decay, train.adv_lr, train.decoder_epochs) == ("cosine", 0.1, 5e-4, 1)
    assert run.model_config.arch == "conv" and run.model_config.channels == (32, 64)
    assert run.model_config.hidden == (128,)
    assert (run.model_config.kl_weight, run.model_config.posterior, run.model_config.prior_components) == \
        (1.0, "diagonal", 0)


def test_measure_stores_a_saved_runs_results_for_the_report_card(clients, app_server):
    import json

    from gradio_client.exceptions import AppError

    from explorer.report import REPORT_COLUMNS, report_card

    a, _ = clients
    job_id = start(a, "tab-measure", epochs=1, limit=320, model="aae")
    assert wait(a, job_id, lambda s: s["status"] in ("finished", "failed"))["status"] == "finished"
    folder = app_server[1].runs / "tab-measure"
    message = a.predict("tab-measure", api_name="/measure_run")
    results = json.loads((folder / "metrics.json").read_text())["eval"]
    assert results["test_images"] == 2000 and 0 <= results["confident_share"] <= 1  # the bundled split, scored
    assert f"Measured **tab-measure** (epoch 1) on 2,000 test digits: recon BCE {results['recon_bce']:.1f}" in message
    row = report_card({"runs/tab-measure": folder}).splitlines()[2].strip("| ").split(" | ")
    row = dict(zip(REPORT_COLUMNS, row))
    assert (row["model"], row["type"], row["latent"], row["epochs"]) == ("tab-measure", "AAE", "2", "1")
    for name in ("../pretrained/vae-2d", "no-such-run"):
        with pytest.raises(AppError, match="choose a saved run from the list"):
            a.predict(name, api_name="/measure_run")


def test_stop_keeps_a_loadable_checkpoint_and_others_cannot_stop(clients, app_server):
    from gradio_client.exceptions import AppError

    a, b = clients
    job_id = start(a, "tab-stop", epochs=40, limit=2000)
    wait(a, job_id, lambda s: s["epoch"] >= 1 and any(r["kind"] == "epoch" for r in s["rows"]))
    with pytest.raises(AppError, match="no training job"):
        b.predict(job_id, api_name="/train_stop")  # another session cannot stop it
    with pytest.raises(AppError, match="no training job"):
        b.predict(job_id, 0, api_name="/train_status")  # nor see it
    with pytest.raises(AppError, match="already have 1 training job"):
        start(a, "tab-second", epochs=1, limit=64)
    with pytest.raises(AppError, match="tab-stop is still training"):
        a.predict("tab-stop", api_name="/measure_run")
    assert "Stopping" in a.predict(job_id, api_name="/train_stop")
    status = wait(a, job_id, lambda s: s["status"] != "running" and s["status"] != "starting")
    assert status["status"] == "stopped"
    run = checkpoint.load(app_server[1].runs / "tab-stop")
    assert 1 <= run.epoch < 40


def test_bad_parameters_are_refused(clients):
    from gradio_client.exceptions import AppError

    a, _ = clients
    with pytest.raises(AppError, match="greater than maximum value 50|epochs must be at most 50"):
        start(a, "too-long", epochs=500, limit=64)
    with pytest.raises(AppError, match="less than minimum value|lr must be"):
        a.predict("vae", "mlp", 2, 1.0, "gaussian", False, 1, 64, -1.0, 0, "bundled", None, "x", 64, "diagonal",
                  api_name="/train_start")
    with pytest.raises(AppError, match="decoder_epochs must be between 0 and epochs - 1"):
        start(a, "all-decoder", epochs=2, limit=64, decoder_epochs=2)
    with pytest.raises(AppError, match="greater than maximum value 4294967295"):  # torch cannot seed with it
        start(a, "huge-seed", epochs=1, limit=64, seed=1e20)


def test_a_job_ending_during_a_tick_gets_one_more_tick(monkeypatch, tmp_path):
    """The tick that reads 'running' must not stop the timer even if the job has finished a moment later: the
    next tick shows 'finished' (the race once left a browser on 'running' for good)."""
    from explorer.jobs import Job
    from explorer.ui import train_jobs, train_view
    from explorer.ui.session import Session
    from trainer.config import ModelConfig, TrainConfig

    job = Job("j1", "me", "race", tmp_path, ModelConfig(), TrainConfig(epochs=2), status="running")
    real_progress = job.progress

    def progress_then_finish():
        p = real_progress()
        job.status, job.message = "finished", "finished 2 epochs"  # the worker ends right after the reading
        return p

    monkeypatch.setattr(job, "progress", progress_then_finish)
    monkeypatch.setattr(train_jobs.JOBS, "get", lambda job_id, owner: job)
    session = Session(owner="me", job="j1")
    out = train_view.poll(session)
    assert "running" in out["bar"] and out["timer"].active  # the reading said running: keep ticking
    monkeypatch.setattr(job, "progress", real_progress)
    out = train_view.poll(session)
    assert "finished 2 epochs" in out["bar"] and not out["timer"].active


@pytest.mark.slow
def test_resume_continues_a_saved_run_from_its_resume_point(monkeypatch, tmp_path):
    """The Saved runs > Resume button: the job continues the run after the epoch its resume point holds, even when
    config.json is an epoch ahead (a save killed half-way), and the history ends up with every epoch once."""
    from explorer import jobs
    from explorer.ui import saved_runs, train_jobs
    from explorer.ui.session import Session

    runs = tmp_path / "runs"
    monkeypatch.setattr(train_jobs, "JOBS", jobs.JobManager(runs))
    session = Session(owner="me")
    args = dict(TINY, epochs=2, name="resumable", limit=256)
    job_id = train_jobs.train_start(*[args[k] for k in TRAIN_ORDER], session=session)["job_id"]
    train_jobs.JOBS.get(job_id, "me").thread.join(120)
    # a save of epoch 3 killed after config.json: the folder says 3, the resume point 2
    config = json.loads((runs / "resumable" / "config.json").read_text())
    (runs / "resumable" / "config.json").write_text(json.dumps({**config, "epoch": 3}))
    out = saved_runs.resume("resumable", 4, session)
    assert "from epoch 2 to 4" in out["train_message"]
    job = train_jobs.JOBS.get(out["job_id"], "me")
    job.thread.join(120)
    assert job.status == "finished", job.message
    assert checkpoint.load(runs / "resumable").epoch == 4 and checkpoint.resume_epoch(runs / "resumable") == 4
    assert [r["epoch"] for r in checkpoint.read_history(runs / "resumable") if r["kind"] == "epoch"] == [1, 2, 3, 4]
    assert [r["epoch"] for r in job.rows if r["kind"] == "epoch"] == [1, 2, 3, 4]
    with pytest.raises(gr.Error, match="resumable checkpoint"):
        saved_runs.resume("no-such-run", 4, session)


def test_the_train_tab_sends_train_start_its_inputs_in_the_apis_order():
    """API clients pass /train_start's inputs by position (conftest.TRAIN_ORDER): the tab must send them so."""
    import inspect

    from explorer.ui import train, train_jobs

    assert list(train.INPUTS) == TRAIN_ORDER
    assert list(inspect.signature(train_jobs.train_start).parameters)[:len(TRAIN_ORDER)] == TRAIN_ORDER
