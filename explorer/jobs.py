"""Background training jobs for the trainer tab: the CLI's ``fit`` in a worker thread, streamed through callbacks.

Jobs belong to an owner id (one per browser, kept in the browser's local storage); only the owner can see
and stop a job. The run folder under runs/ is the shared checkpoint format, visible to everyone once saved.
A job nobody asks about for IDLE_TIMEOUT seconds (its page closed, its API client gone) stops at the next step,
keeping its last finished epoch, so it cannot hold one of the server's slots for good.
"""
from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from trainer import checkpoint
from trainer.config import ModelConfig, TrainConfig, shown
from trainer.data import RUN_DATA, Dataset, load_run_dataset
from trainer.train import FitResult, check_data_fits, fit, new_model

from .races import Baton, Lane, LaneStream, lane_titles, slug
from .storage import folder_bytes
from .streams import Stream
from .training_setup import JobError, _duration, _unique, check_limits, keep_data, run_size

IDLE_TIMEOUT = 600.0  # seconds without a status request (the page polls every second) before a job stops
SNAPSHOT_POINTS = 2000
DONE = ("finished", "stopped", "diverged", "failed")  # a job's final statuses
ANONYMOUS = ".latent-explorer-anonymous"  # in a run folder a public server's Train tab made: it expires (RUN_HOURS)


@dataclass
class Job:
    id: str
    owner: str
    name: str
    run_dir: Path
    model_config: ModelConfig
    train_config: TrainConfig
    data_note: str = ""
    status: str = "starting"  # starting, running, finished, stopped, diverged, failed
    message: str = ""
    epoch: int = 0
    step: int = 0
    total_steps: int = 1
    images_per_s: float = 0.0
    started: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)  # the owner's last request about it (see IDLE_TIMEOUT)
    deadline: float = 0.0  # when it stops (a public server's JOB_MINUTES); 0: no bound
    start_epoch: int = 0  # the epoch a resumed job continues after
    rows: list = field(default_factory=list)  # history rows, steps and epochs, in order
    snapshots: list = field(default_factory=list)  # per epoch: (epoch, xy (n, 2), labels (n,))
    lanes: list = field(default_factory=list)  # a race: its models, each a Lane (a job of one model has none)
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def folders(self) -> list[Path]:
        """The run folders it writes: each lane's for a race (every one is busy until the race ends)."""
        return [lane.run_dir for lane in self.lanes] or [self.run_dir]

    def seconds_left(self) -> float | None:
        """About how long until it ends: its ETA, or its deadline when that comes first; None when unknown."""
        p = self.progress()
        left = [p["eta_s"]] if p["eta_s"] > 0 else []
        if self.deadline:
            left.append(max(0.0, self.deadline - time.time()))
        return min(left) if left else None

    def progress(self) -> dict:
        with self.lock:
            elapsed = time.time() - self.started
            frac = min(1.0, self.step / max(1, self.total_steps))
            eta = elapsed * (1 - frac) / frac if 0 < frac < 1 and not self.done else 0.0
            out = {"job_id": self.id, "name": self.name, "status": self.status, "message": self.message,
                   "epoch": self.epoch, "epochs": self.train_config.epochs, "step": self.step,
                   "total_steps": self.total_steps, "fraction": frac, "images_per_s": self.images_per_s,
                   "eta_s": eta, "elapsed_s": elapsed, "data_note": self.data_note, "run": f"runs/{self.name}"}
            if self.lanes:  # a race: each model's run, status and progress
                out["run"] = [f"runs/{lane.name}" for lane in self.lanes]
                out["lanes"] = [{"name": lane.name, "title": lane.title, "model": lane.model_config.model, "status": lane.status,
                                 "epoch": lane.epoch, "step": lane.step, "snapshots": len(lane.snapshots)}
                                for lane in self.lanes]
            return out

    def rows_since(self, cursor: int = 0) -> tuple[list[dict], int]:
        """History rows after the first ``cursor`` rows, and the new cursor."""
        with self.lock:
            return list(self.rows[max(0, int(cursor)):]), len(self.rows)


class JobManager:
    """Starts, tracks and stops jobs; caps concurrent jobs per owner and for the whole server."""

    def __init__(self, runs: Path, *, per_owner: int = 1, total: int = 2, threads: int = 1,
                 idle_timeout: float = IDLE_TIMEOUT, max_seconds: float = 0, run_bytes: int = 2**40,
                 runs_bytes: int = 2**50, run_ttl: float = 0):
        """``max_seconds``: a job's wall time (0: unbounded); ``run_bytes`` / ``runs_bytes``: the disk one run /
        all runs may take; ``run_ttl``: seconds a run this manager made is kept after its last save (0: kept)."""
        self.runs, self.per_owner, self.total, self.threads = Path(runs), per_owner, total, threads
        self.idle_timeout, self.max_seconds = idle_timeout, max_seconds
        self.run_bytes, self.runs_bytes, self.run_ttl = run_bytes, runs_bytes, run_ttl
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def folder(self, name: str) -> Path:
        """The folder of the run called ``name`` (checkpoint.run_folder: the one mapping of names to folders)."""
        return checkpoint.run_folder(self.runs, name)

    def running(self, owner: str | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if not j.done and (owner is None or j.owner == owner)]

    def busy(self, folder: Path) -> bool:
        """Whether a running job writes ``folder`` (a race writes every lane's folder until it ends)."""
        return any(Path(folder) in job.folders for job in self.running())

    def jobs_of(self, owner: str) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.owner == owner]
        for job in jobs:
            job.last_seen = time.time()
        return jobs

    def get(self, job_id: str, owner: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None or job.owner != owner:
            raise JobError(f"no training job {shown(job_id)} of yours on this server")
        job.last_seen = time.time()
        return job

    def start(self, owner: str, model_config: ModelConfig, train_config: TrainConfig, data: Dataset, *,
              name: str = "", data_files: Path | None = None) -> Job:
        """Train a new run called ``name`` (a free variant of it, name-2…, when that run exists). ``data_files``:
        the folder of uploaded IDX files ``data`` was read from; the run keeps a copy (its ``data`` folder), so it
        can be measured and resumed after the uploading session is gone."""
        check_limits(model_config, train_config)
        check_data_fits(model_config, data, len(data.train.head(train_config.limit)))
        folder = self.folder(name or f"{model_config.model}-{model_config.arch}-{model_config.latent_dim}d")
        self.check_disk([run_size(model_config, train_config, data, data_files)])
        return self._launch(owner, folder, model_config, train_config, data, resume=False, data_files=data_files)

    def resume(self, owner: str, name: str, epochs: int) -> Job:
        """Continue the saved run ``name`` from its resume point to ``epochs`` (at least one epoch more)."""
        folder = self.folder(name)
        done = checkpoint.resume_epoch(folder) if folder.is_dir() else None
        if done is None:
            raise JobError(f"runs/{name} has no resumable checkpoint (optimizer.safetensors); choose a saved run")
        run = checkpoint.load(folder)
        train_config = TrainConfig(**{**run.train_config.__dict__, "epochs": max(int(epochs), done + 1)})
        check_limits(run.model_config, train_config)
        data = load_run_dataset(run.dataset, run_dir=folder)  # the same data it was trained on
        self.check_disk([run_size(run.model_config, train_config, data)], grows=folder)
        return self._launch(owner, folder, run.model_config, train_config, data, resume=True)

    def _free_slot(self, owner: str) -> list[Job]:
        """The running jobs, after checking (with self._lock held) that ``owner`` may start one more."""
        active = [j for j in self._jobs.values() if not j.done]
        if sum(j.owner == owner for j in active) >= self.per_owner:
            raise JobError(f"you already have {self.per_owner} training job running; stop it or wait for it")
        if self.total == 0:
            raise JobError("training is turned off on this server (LATENT_EXPLORER_TRAIN_JOBS=0)")
        if len(active) >= self.total:
            left = [t for t in (j.seconds_left() for j in active) if t is not None]
            when = (f"a slot frees in about {max(1, round(min(left) / 60))} min" if left else
                    "try again when one finishes")
            raise JobError(f"the server is already training {self.total} models for other users: {when}")
        return active

    def check_disk(self, sizes: list[int], grows: Path | None = None) -> None:
        """Refuse a job whose runs (``sizes``, estimated by run_size) pass the disk one run or all runs may take
        (``grows``: the folder a resume rewrites, counted once)."""
        self.expire()
        for size in sizes:
            if size > self.run_bytes:
                raise JobError(f"this run would take about {size / 2**20:,.0f} MB on disk (its weights, and its "
                               f"resume point's weights and optimizer state); a run may take at most "
                               f"{self.run_bytes / 2**20:,.0f} MB here: use smaller dense widths")
        used = folder_bytes(self.runs) - (folder_bytes(grows) if grows else 0)
        if used + sum(sizes) > self.runs_bytes:
            later = (f", or for runs to expire ({self.run_ttl / 3600:g} h after their last save)" if self.run_ttl
                     else "")
            raise JobError(f"the server's runs take {used / 2**20:,.0f} MB of the {self.runs_bytes / 2**20:,.0f} MB "
                           f"they may; this run needs about {sum(sizes) / 2**20:,.0f} MB more: wait for a teacher "
                           f"to delete runs{later}")

    def expire(self, now: float | None = None) -> list[str]:
        """Remove the runs this server's Train tab made (marked ANONYMOUS) whose last save is older than run_ttl
        and that no job writes; returns their names."""
        if not self.run_ttl or not self.runs.is_dir():
            return []
        now, removed = now or time.time(), []
        for folder in self.runs.iterdir():
            try:
                marked = (folder / ANONYMOUS).is_file()
                last = max(p.stat().st_mtime for p in (folder, *folder.iterdir()))
            except (OSError, ValueError):
                continue
            if marked and now - last > self.run_ttl and not self.busy(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed

    def forget_finished(self, open_owners=(), idle: float = IDLE_TIMEOUT) -> list[str]:
        """Forget the jobs that ended, whose owner has no page open (``open_owners``) and that nobody asked about
        for ``idle`` seconds (an API client gone): their rows and snapshots leave memory. Returns their ids."""
        now, keep = time.time(), set(open_owners)
        with self._lock:
            gone = [j.id for j in self._jobs.values()
                    if j.done and j.owner not in keep and now - j.last_seen > idle]
            for job_id in gone:
                del self._jobs[job_id]
        return gone

    def _launch(self, owner, folder: Path, model_config, train_config, data, *, resume: bool,
                data_files: Path | None = None) -> Job:
        with self._lock:
            active = self._free_slot(owner)
            taken = {f for j in active for f in j.folders}
            if folder in taken:
                raise JobError(f"a job is already writing {folder.name}; choose another name, or wait for it")
            if not resume:
                folder = _unique(folder, taken)
                folder.mkdir(parents=True)
                self._mark(folder)
            job = Job(uuid.uuid4().hex[:12], owner, folder.name, folder, model_config, train_config, data.note,
                      deadline=time.time() + self.max_seconds if self.max_seconds else 0.0)
            self._jobs[job.id] = job
        steps_per_epoch = -(-len(data.train.head(train_config.limit)) // train_config.batch_size)
        job.total_steps = steps_per_epoch * train_config.epochs
        if resume:
            job.epoch = job.start_epoch = checkpoint.resume_epoch(folder) or 0
            job.rows = checkpoint.read_history(folder, until=job.epoch)
            job.step = job.epoch * steps_per_epoch
        job.thread = threading.Thread(target=self._work, args=(job, data, resume, data_files), daemon=True,
                                      name=f"train-{job.id}")
        job.thread.start()
        return job

    def start_race(self, owner: str, model_configs: list[ModelConfig], train_config: TrainConfig, data: Dataset, *,
                   name: str = "race") -> Job:
        """Train 2-4 models on the same data, batches and initial seed at once, as one job (one of the server's
        slots): they take turns step by step. Each saves its own run, named by what differs: ``name-vae-beta1``, ``name-vae-beta4``…"""
        if not 2 <= len(model_configs) <= 4:
            raise JobError(f"a race takes 2 to 4 models (got {len(model_configs)})")
        for config in model_configs:
            check_limits(config, train_config)
            check_data_fits(config, data, len(data.train.head(train_config.limit)))
        self.check_disk([run_size(config, train_config, data) for config in model_configs])
        with self._lock:
            active = self._free_slot(owner)
            taken = {f for j in active for f in j.folders}
            lanes = []
            for k, (config, title) in enumerate(zip(model_configs, lane_titles(model_configs))):
                folder = _unique(self.folder(f"{name or 'race'}-{slug(title)}"), taken)
                folder.mkdir(parents=True)
                self._mark(folder)
                taken.add(folder)
                lanes.append(Lane(k, folder.name, folder, config, title=title))
            job = Job(uuid.uuid4().hex[:12], owner, name or "race", lanes[0].run_dir, model_configs[0], train_config,
                      data.note, lanes=lanes, deadline=time.time() + self.max_seconds if self.max_seconds else 0.0)
            self._jobs[job.id] = job
        steps_per_epoch = -(-len(data.train.head(train_config.limit)) // train_config.batch_size)
        job.total_steps = steps_per_epoch * train_config.epochs * len(lanes)
        job.thread = threading.Thread(target=self._race, args=(job, data), daemon=True, name=f"race-{job.id}")
        job.thread.start()
        return job

    def _race(self, job: Job, data: Dataset) -> None:
        probe, baton = data.test.head(SNAPSHOT_POINTS), Baton(len(job.lanes))
        torch.set_num_threads(self.threads)
        for lane in job.lanes:  # one after another: each gets exactly the initial weights of its seed
            lane.model = new_model(lane.model_config, job.train_config.seed)

        def run(lane: Lane) -> None:
            stream = LaneStream(job, lane, probe, self.idle_timeout, baton)
            try:
                stream._snapshot(0, 0.0)  # the start line: every model before its first step
                baton.start(lane.index, job.stop_event)
                result = fit(lane.model, data, job.train_config, [stream], run_dir=lane.run_dir)
                lane.status, lane.message = result.status, result.message
            except Exception as e:  # a lane reports, never dies silently
                lane.status, lane.message = "failed", f"training failed: {type(e).__name__}: {e}"
            finally:
                baton.leave(lane.index)
                lane.model = None  # saved in its run folder: the race no longer needs it in memory
                if stream.timed_out and lane.status == "stopped":
                    lane.message = f"{self.out_of_time()}; {lane.message.split('; ', 1)[-1]}"
            if not (lane.run_dir / checkpoint.CONFIG).exists():
                shutil.rmtree(lane.run_dir, ignore_errors=True)

        threads = [threading.Thread(target=run, args=(lane,), daemon=True, name=f"race-{job.id}-{lane.index}")
                   for lane in job.lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = [lane.status for lane in job.lanes]
        with job.lock:
            job.status = next((s for s in ("failed", "diverged", "stopped") if s in statuses), "finished")
            job.message = "; ".join(f"{lane.title}: {lane.message}" for lane in job.lanes)

    def out_of_time(self) -> str:
        return f"stopped: a job may train for {_duration(self.max_seconds)} on this server, and this one used it"

    def _mark(self, folder: Path) -> None:
        """A run a public server's visitor made: it expires (run_ttl), unlike the runs a teacher put there."""
        if self.run_ttl:
            (folder / ANONYMOUS).touch()

    def stop(self, job_id: str, owner: str) -> Job:
        job = self.get(job_id, owner)
        job.stop_event.set()
        return job

    def _work(self, job: Job, data: Dataset, resume: bool, data_files: Path | None) -> None:
        stream = Stream(job, data.test.head(SNAPSHOT_POINTS), self.idle_timeout)
        try:
            torch.set_num_threads(self.threads)  # leave the other core for the UI
            if data_files is not None:
                keep_data(data_files, job.run_dir / RUN_DATA)
                data.source = str(job.run_dir / RUN_DATA)  # where config.json says the data is: the run's copy
            model = checkpoint.load(job.run_dir).model if resume else new_model(job.model_config, job.train_config.seed)
            result: FitResult = fit(model, data, job.train_config, [stream], run_dir=job.run_dir, resume=resume)
            with job.lock:
                job.status, job.message = result.status, result.message
                if stream.idle and result.status == "stopped":
                    idle = f"{self.idle_timeout / 60:g} min" if self.idle_timeout >= 60 else f"{self.idle_timeout:g} s"
                    job.message = (f"stopped: nobody asked about this job for {idle} (its page or client is gone); "
                                   f"{result.message.split('; ', 1)[-1]}")
                elif stream.timed_out and result.status == "stopped":
                    job.message = f"{self.out_of_time()}; {result.message.split('; ', 1)[-1]}"
                if result.status == "stopped" and result.epoch == job.start_epoch:
                    job.message += " (no epoch finished, so nothing was saved)"
        except Exception as e:  # a worker must report, never die silently
            with job.lock:
                job.status = "failed"
                job.message = f"training failed: {type(e).__name__}: {e}".replace(str(self.runs), "runs")
        if not resume and not (job.run_dir / checkpoint.CONFIG).exists():
            shutil.rmtree(job.run_dir, ignore_errors=True)  # nothing saved: no half-made run folder stays
