"""Training races: 2-4 models on the same data and seed, one job, streamed side by side."""
import time

import pytest

from explorer import jobs, plots
from explorer.ui import train_jobs
from trainer import checkpoint
from trainer.config import ModelConfig, TrainConfig


def test_a_race_is_written_one_model_a_line_or_as_json():
    assert train_jobs.parse_race("vae beta=1\nvae beta=4\n") == [{"model": "vae", "kl_weight": "1"},
                                                                   {"model": "vae", "kl_weight": "4"}]
    assert train_jobs.parse_race("aae prior=mixture10 label_guided=true") == [
        {"model": "aae", "prior": "mixture10", "label_guided": True}]
    assert train_jobs.parse_race('[{"model": "ae"}, {"model": "vae", "kl_weight": 4}]')[1]["kl_weight"] == 4
    with pytest.raises(ValueError, match="expected key=value"):
        train_jobs.parse_race("vae temperature=3")
    with pytest.raises(ValueError, match="list of objects"):
        train_jobs.parse_race('[1, 2]')


def wait(job, timeout=300):
    deadline = time.time() + timeout
    while not job.done and time.time() < deadline:
        time.sleep(0.2)
    assert job.done, job.progress()


@pytest.mark.slow
def test_a_race_trains_every_model_as_one_job_and_streams_snapshots_within_epochs(small_data, tmp_path):
    manager = jobs.JobManager(tmp_path, total=1)
    configs = [ModelConfig(model="vae", hidden=(64,), kl_weight=w) for w in (1.0, 4.0)]
    job = manager.start_race("me", configs, TrainConfig(epochs=2, batch_size=16, log_every=5), small_data,
                             name="beta")
    with pytest.raises(jobs.JobError, match="already training 1 models"):  # one job: the server's one slot
        manager.start("other", ModelConfig(hidden=(64,)), TrainConfig(epochs=1), small_data)
    wait(job)
    assert job.status == "finished", job.message
    assert [lane.name for lane in job.lanes] == ["beta-vae-beta1", "beta-vae-beta4"]  # named by what differs
    assert [lane.title for lane in job.lanes] == ["VAE · β = 1", "VAE · β = 4"]
    steps_per_epoch = -(-len(small_data.train) // 16)  # 32
    for lane, beta in zip(job.lanes, (1.0, 4.0)):
        run = checkpoint.load(lane.run_dir)
        assert run.epoch == 2 and run.model_config.kl_weight == beta
        steps = [s[0] for s in lane.snapshots]
        assert steps[0] == 0 and any(0 < s < steps_per_epoch for s in steps)  # within the first epoch, not only at
        assert steps[-1] == 2 * steps_per_epoch                                 # its end
    rows = job.rows_since(0)[0]
    assert {r["lane"] for r in rows} == {0, 1} and all("lane" in r for r in rows)
    epoch_kl = {r["lane"]: r["test_kl"] for r in rows if r.get("kind") == "epoch" and r["epoch"] == 2}
    assert epoch_kl[1] < epoch_kl[0]  # beta = 4 pays for less KL: the lesson's gap
    figure = plots.race_curves(rows, [lane.title for lane in job.lanes])
    kl_traces = [t for t in figure.data if t.xaxis == "x2"]
    assert [t.name for t in kl_traces] == ["VAE · β = 1", "VAE · β = 4"]  # overlaid on one chart
    assert [a.text for a in figure.layout.annotations] == ["reconstruction", "KL (nats, unweighted)"]  # no empty
    # adversarial chart for a race without an AAE


@pytest.mark.slow
def test_a_race_with_one_seed_is_the_same_race_every_time(small_data, tmp_path):
    """The lanes train in threads that take turns; they must also start in turn, or their seeding and noise mix
    (the same seed once gave other curves on a second run)."""
    configs = [ModelConfig(model="vae", hidden=(32,), kl_weight=w) for w in (1.0, 4.0)] + [
        ModelConfig(model="aae", hidden=(32,), disc_hidden=(16,))]
    losses = []
    for attempt in range(2):
        manager = jobs.JobManager(tmp_path / str(attempt), total=1)
        job = manager.start_race("me", configs, TrainConfig(epochs=1, batch_size=64, log_every=1, seed=3),
                                 small_data, name="same")
        wait(job)
        assert job.status == "finished", job.message
        losses.append(sorted((r["lane"], r["step"], r["loss"]) for r in job.rows_since(0)[0] if r["kind"] == "step"))
    assert losses[0] == losses[1] and len(losses[0]) == 3 * 8


def test_the_race_endpoint_serves_like_a_job(app_server):
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    job_id, message = client.predict("ae\nvae", "mlp", 2, 1, 128, 1e-3, 0, "bundled", "api-race", 256,
                                     api_name="/race_start")[:2]
    assert "runs/api-race-ae" in message and "runs/api-race-vae" in message
    deadline = time.time() + 240
    while time.time() < deadline:
        status = client.predict(job_id, 0, api_name="/train_status")
        if status["status"] in jobs.DONE:
            break
        time.sleep(1)
    assert status["status"] == "finished" and [lane["status"] for lane in status["lanes"]] == ["finished"] * 2
    assert status["run"] == ["runs/api-race-ae", "runs/api-race-vae"]
    assert {row["lane"] for row in status["rows"]} == {0, 1}
    assert (app_server.registry.runs / "api-race-vae" / "model.safetensors").is_file()
