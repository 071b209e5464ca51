"""What a training job streams while it trains: every logged row into the job, a 2-D snapshot of the test codes
after each epoch, and Stop (the page's, or a job nobody watches, or one past its time)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import time

import numpy as np
import torch

from trainer.data import Split
from trainer.train import Callback

if TYPE_CHECKING:
    from .jobs import Job


class Stream(Callback):
    """Copies every logged step and epoch into the job, snapshots the latent space, honours Stop."""

    def __init__(self, job: Job, probe: Split, idle_timeout: float):
        self.job, self.probe, self.idle_timeout = job, probe, idle_timeout
        self.last_time, self.last_step = time.time(), job.step
        self.idle = self.timed_out = False

    def _measure_rate(self, step: int) -> None:
        """Images per second since the last measure, at most every 0.5 s (the caller holds the job's lock)."""
        now = time.time()
        if now - self.last_time > 0.5:
            self.job.images_per_s = (step - self.last_step) * self.job.train_config.batch_size / (now - self.last_time)
            self.last_time, self.last_step = now, step

    def on_step(self, row):
        with self.job.lock:
            self.job.rows.append(row)
            self._measure_rate(row["step"])
            self.job.step, self.job.epoch = row["step"], int(row["epoch"])
            self.job.status = "running"

    def on_epoch(self, row, model):
        xy = snapshot(model, self.probe)
        with self.job.lock:
            self.job.rows.append(row)
            self.job.epoch = row["epoch"]
            self.job.snapshots.append((row["epoch"], xy, self.probe.labels.numpy()))

    def should_stop(self):
        now = time.time()
        self.idle = now - self.job.last_seen > self.idle_timeout
        self.timed_out = bool(self.job.deadline) and now > self.job.deadline
        return self.job.stop_event.is_set() or self.idle or self.timed_out


@torch.no_grad()
def snapshot(model, probe: Split) -> np.ndarray:
    """2-D picture of the latent space: the codes themselves (2-D) or their PCA projection."""
    codes = model.embed_split(probe).numpy()
    if codes.shape[1] == 1:
        return np.c_[codes, np.zeros(len(codes))]
    if codes.shape[1] == 2:
        return codes
    centered = codes - codes.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T
