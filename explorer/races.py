"""A training race: 2-4 models trained as one job on the same data and seed, taking turns one step each, each in
its own run folder. Its lanes, the baton they pass, what each lane streams (snapshots every RACE_SNAPSHOT_EVERY
steps, thinned to at most MAX_SNAPSHOTS), and each lane's name by what differs between the racers."""
from __future__ import annotations

from typing import TYPE_CHECKING

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.config import ModelConfig
from trainer.data import Split

from .streams import Stream, snapshot

if TYPE_CHECKING:
    from .jobs import Job

MAX_SNAPSHOTS = 64  # latent snapshots a race lane keeps: beyond, every other one goes (a 2-minute race kept 115)
RACE_SNAPSHOT_EVERY = 25  # steps between a race's latent snapshots (an epoch of the bundled data is 63 steps)


@dataclass
class Lane:
    """One model of a race: its run folder and what it streamed (rows tagged with its index in the job's)."""
    index: int
    name: str  # its run folder's name: the race's, then what differs ("race-vae-beta4")
    run_dir: Path
    model_config: ModelConfig
    title: str = ""  # what differs, for people ("VAE · β = 4")
    model: object = field(default=None, repr=False)
    status: str = "waiting"
    message: str = ""
    epoch: float = 0.0
    step: int = 0
    snapshots: list = field(default_factory=list)  # (step, epoch, xy (n, 2), labels (n,))


class Baton:
    """A race's models take turns, one training step each, so they share one core and move together."""

    def __init__(self, n: int):
        self.turn, self.n, self.active = 0, n, set(range(n))
        self.cond = threading.Condition()

    def _next(self, k: int) -> int:
        for d in range(1, self.n + 1):
            if (k + d) % self.n in self.active:
                return (k + d) % self.n
        return k

    def start(self, k: int, stop: threading.Event) -> None:
        """Lane k starts when its turn first comes: the lanes seed and draw their noise in turn, never at once, so
        a race with one seed is the same race every time."""
        with self.cond:
            self.cond.wait_for(lambda: self.turn == k or stop.is_set())

    def wait(self, k: int, stop: threading.Event) -> None:
        """Lane k finished a step: the next lane goes; k waits for its turn again."""
        with self.cond:
            self.turn = self._next(k)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.turn == k or stop.is_set())

    def leave(self, k: int) -> None:
        with self.cond:
            self.active.discard(k)
            if self.turn == k:
                self.turn = self._next(k)
            self.cond.notify_all()


class LaneStream(Stream):
    """A race lane's stream: its rows into the job (tagged), a snapshot every RACE_SNAPSHOT_EVERY steps, and
    the baton passed on after every step."""

    def __init__(self, job: Job, lane: Lane, probe: Split, idle_timeout: float, baton: Baton):
        super().__init__(job, probe, idle_timeout)
        self.lane, self.baton, self.last_snapshot = lane, baton, -RACE_SNAPSHOT_EVERY
        self.every = RACE_SNAPSHOT_EVERY  # doubles each time the snapshots are thinned

    def _snapshot(self, step: int, epoch: float) -> None:
        xy = snapshot(self.lane.model, self.probe)
        with self.job.lock:
            self.lane.snapshots.append((step, epoch, xy.astype(np.float32), self.probe.labels.numpy()))
            if len(self.lane.snapshots) > MAX_SNAPSHOTS:
                self.lane.snapshots[:] = thinned(self.lane.snapshots)
                self.every *= 2
        self.last_snapshot = step

    def on_step(self, row):
        row = {**row, "lane": self.lane.index}
        with self.job.lock:
            self.job.rows.append(row)
            self.lane.step, self.lane.epoch, self.lane.status = row["step"], row["epoch"], "running"
            self.job.step = sum(lane.step for lane in self.job.lanes)
            self.job.epoch = int(min(lane.epoch for lane in self.job.lanes))
            self.job.status = "running"
            if self.lane.index == 0:  # one lane measures the race: all lanes' images together
                self._measure_rate(self.job.step)
        if row["step"] - self.last_snapshot >= self.every:
            self._snapshot(row["step"], row["epoch"])

    def on_epoch(self, row, model):
        with self.job.lock:
            self.job.rows.append({**row, "lane": self.lane.index})
            self.lane.epoch = row["epoch"]
        self._snapshot(row["step"], row["epoch"])

    def should_stop(self):
        stop = super().should_stop()
        if not stop:
            self.baton.wait(self.lane.index, self.job.stop_event)
        return stop or self.job.stop_event.is_set()


def thinned(snapshots: list) -> list:
    """Every other snapshot, keeping the first (the start line) and the last (the latest)."""
    kept = snapshots[::2]
    return kept if kept[-1] is snapshots[-1] else [*kept, snapshots[-1]]


DIFFERENCES = (("kl_weight", lambda v: f"β = {v:g}"), ("prior", str), ("posterior", lambda v: f"{v} q(z|x)"),
               ("prior_components", lambda v: f"{v} fitted Gaussians" if v else "N(0, I) prior"),
               ("label_guided", lambda v: "label-guided" if v else "unguided"), ("latent_dim", lambda v: f"{v}-D"))


def lane_titles(configs: list[ModelConfig]) -> list[str]:
    """Each racer named by what differs between them: its kind, then each option that is not the same for all
    (and that its kind reads): "VAE · β = 1" and "VAE · β = 4"; "AE", "VAE" and "AAE"."""
    from trainer.config import APPLIES_TO

    differ = [(key, fmt) for key, fmt in DIFFERENCES if len({getattr(c, key) for c in configs}) > 1]
    return [" · ".join([c.model.upper()] + [fmt(getattr(c, key)) for key, fmt in differ
                                            if c.model in APPLIES_TO.get(key, (c.model,))]) for c in configs]


def slug(title: str) -> str:
    """A lane's title as part of a folder name: "VAE · β = 4" -> "vae-beta4"."""
    text = title.lower().replace("β = ", "beta").replace("(", "").replace(")", "").replace("|", "")
    return "-".join(part for part in text.replace("·", " ").replace(",", " ").split() if part)
