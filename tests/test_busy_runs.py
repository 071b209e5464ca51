"""A run folder a job writes is busy until the job ends: for a race, every lane's folder (the checks once
compared only job.run_dir, lane 0's, and a second session's Resume of lane 2 lost its epochs)."""
from __future__ import annotations

import time

import gradio as gr
import pytest


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def racing(tmp_path, monkeypatch):
    """A race of two small models, long enough to outlast the test, each lane's first epoch saved."""
    from explorer.jobs import JobManager
    from explorer.ui import train_jobs
    from trainer.config import ModelConfig, TrainConfig
    from trainer.data import load_dataset

    jobs = JobManager(tmp_path, total=2)
    monkeypatch.setattr(train_jobs, "JOBS", jobs)
    data = load_dataset(None, limit=256)
    configs = [ModelConfig(model=m, hidden=(16,), disc_hidden=(16,)) for m in ("ae", "vae")]
    race = jobs.start_race("a", configs, TrainConfig(epochs=50, batch_size=8), data, name="race")
    wait_for(lambda: all((lane.run_dir / "optimizer.safetensors").is_file() for lane in race.lanes) or race.done)
    assert not race.done, race.message
    yield jobs, race
    race.stop_event.set()
    race.thread.join(120)


def test_no_lane_of_a_running_race_can_be_resumed_by_anyone(racing):
    from explorer.jobs import JobError

    jobs, race = racing
    for lane in race.lanes:
        assert jobs.busy(lane.run_dir)
        with pytest.raises(JobError, match=f"a job is already writing {lane.name}"):
            jobs.resume("b", lane.name, 30)
    assert [j.id for j in jobs.running()] == [race.id]  # nothing started beside it


def test_no_lane_of_a_running_race_can_be_measured_or_downloaded(racing):
    from explorer.ui import saved_runs

    _, race = racing
    for lane in race.lanes:
        with pytest.raises(gr.Error, match=f"{lane.name} is still training: measure it when its job has ended"):
            saved_runs.measure(lane.name)
        with pytest.raises(gr.Error, match=f"{lane.name} is still training: download it when its job has ended"):
            saved_runs.download_run(lane.name)


def test_once_the_race_ends_its_lanes_are_free(racing):
    from explorer.ui import saved_runs

    jobs, race = racing
    race.stop_event.set()
    race.thread.join(120)
    assert race.done and not any(jobs.busy(lane.run_dir) for lane in race.lanes)
    assert saved_runs.download_run(race.lanes[1].name).endswith(f"{race.lanes[1].name}.zip")
    assert all(lane.model is None for lane in race.lanes)  # saved: the finished race keeps no model in memory
