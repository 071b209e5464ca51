"""The Train tab's jobs: start (one model, or a race of 2-4), stop, status, and finding this browser's job again
after a reload. The server's JobManager (explorer/jobs.py) runs them in background threads."""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from trainer import checkpoint
from trainer.config import APPLIES_TO, ConfigError, ModelConfig, TrainConfig, shown
from trainer.data import DataError

from .. import settings
from ..jobs import JobError, JobManager
from ..training_setup import load_training_data
from ..registry import RUNS
from ..uploads import SESSION_BYTES, discard_upload, session_room
from .session import Session, upload_dir
from .text import plain

JOBS = JobManager(RUNS, total=settings.TRAIN_JOBS, max_seconds=settings.JOB_MINUTES * 60,
                  run_bytes=settings.RUN_BYTES, runs_bytes=settings.RUNS_BYTES, run_ttl=settings.RUN_HOURS * 3600)
IDX_UPLOAD_LIMIT = 120 * 2**20
CHANNELS = {"16,32": (16, 32), "32,64": (32, 64)}  # conv widths offered (the zoo's 2-D conv models use 32-64)
RACE_PRESETS = {"AE vs VAE vs AAE": "ae\nvae\naae", "β = 1 vs β = 4": "vae beta=1\nvae beta=4",
                "VAE vs label-guided AAE": "vae\naae prior=mixture10 label_guided=true"}
RACE_OPTIONS = {"beta": "kl_weight", "β": "kl_weight", "kl_weight": "kl_weight", "prior": "prior",
                "posterior": "posterior", "prior_components": "prior_components", "label_guided": "label_guided",
                "latent_dim": "latent_dim"}
LOG_EVERY = 5  # steps between the curves' points (dense live curves)


def whole(value, name: str, default=None) -> int | None:
    """A whole number from a Number box (1.5 is refused, not rounded to 2); blank gives ``default``."""
    if value is None or value == "":
        return default
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be a whole number, got {shown(value)}")
    return int(value)


def dense_widths(text, arch: str) -> tuple[int, ...]:
    """The Advanced accordion's "Dense widths": blank for the default (512,256 for mlp, 256 for conv)."""
    text = str(text or "").strip()
    if not text:
        return (512, 256) if arch == "mlp" else (256,)
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise ValueError(f"dense widths must be positive whole numbers separated by commas, like 512,256 "
                         f"(got {shown(text)})")
    if arch == "conv" and len(widths) > 1:
        raise ValueError(f"the conv architecture has one dense layer: give one width, like 256 (got {shown(text)})")
    return widths


def idx_folder(files, session: Session, request=None) -> Path | None:
    """Uploaded IDX files, copied into a folder of this session's (within its share of the server's disk)."""
    if not files:
        return None
    paths = [Path(getattr(f, "name", f)) for f in files]
    size, home = sum(p.stat().st_size for p in paths), upload_dir(session, request)
    if size > IDX_UPLOAD_LIMIT:
        raise JobError(f"uploaded data is larger than {IDX_UPLOAD_LIMIT >> 20} MB")
    if size > session_room(home):
        raise JobError(f"uploaded data of {size / 2**20:.0f} MB: this session's files would pass the "
                       f"{SESSION_BYTES >> 20} MB one session may keep on the server; reload the page to start again")
    folder = Path(tempfile.mkdtemp(prefix="idx-", dir=home))
    for p in paths:
        shutil.copyfile(p, folder / Path(p.name).name)
    return folder


def started(session: Session, job, message: str) -> dict:
    session.job = job.id
    note = f"\n\n⚠ {plain(job.data_note, 300, quoted=False)}" if job.data_note else ""
    return {"job_id": job.id, "train_message": message + note, "timer": gr.Timer(active=True)}


def train_start(model, arch, latent_dim, kl_weight, prior, label_guided, epochs, batch_size, lr, seed, data_choice,
                idx_files, name, limit, posterior, prior_components, lr_schedule="constant", weight_decay=0.0,
                adv_lr=1e-3, decoder_epochs=0, channels="16,32", hidden="", session=None,
                request: gr.Request = None) -> dict:
    """Start a background job. ``posterior`` (diagonal/full) applies to the VAE and CVAE, ``prior_components``
    (0 = N(0, I), K = a mixture of K Gaussians fitted to the codes) to the VAE, ``adv_lr`` to the AAE/CAAE; the
    rest (the Advanced accordion) as in ``python -m trainer train``."""
    folder = None
    try:
        if data_choice == "uploaded" and not settings.UPLOADS:
            raise JobError("uploads are turned off on this server: train on the bundled or the full data")
        if channels not in CHANNELS:
            raise ValueError(f"conv channels must be one of {', '.join(CHANNELS)} (got {shown(channels)})")
        options = {"kl_weight": float(kl_weight), "posterior": posterior, "prior": prior,
                   "prior_components": whole(prior_components, "prior components", 0),
                   "label_guided": bool(label_guided)}
        # what the model does not read (the tab hides it) keeps the default, so the saved config says what was used
        options = {key: value for key, value in options.items() if model in APPLIES_TO[key]}
        model_config = ModelConfig(model=model, arch=arch, latent_dim=whole(latent_dim, "latent dim"),
                                   hidden=dense_widths(hidden, arch), channels=CHANNELS[channels], **options)
        train_config = TrainConfig(epochs=whole(epochs, "epochs"), batch_size=whole(batch_size, "batch size"),
                                   lr=float(lr), seed=whole(seed, "seed", 0), lr_schedule=lr_schedule,
                                   weight_decay=float(weight_decay or 0),
                                   adv_lr=float(adv_lr) if model in APPLIES_TO["adv_lr"] else TrainConfig.adv_lr,
                                   decoder_epochs=whole(decoder_epochs, "decoder-only epochs", 0),
                                   limit=whole(limit, "image limit", 0) or None, log_every=LOG_EVERY)
        folder = idx_folder(idx_files, session, request) if data_choice == "uploaded" else None
        data = load_training_data(data_choice, folder)
        job = JOBS.start(session.owner, model_config, train_config, data, name=str(name or "").strip(),
                         data_files=folder)
    except (JobError, ConfigError, DataError, ValueError, TypeError, OSError) as e:
        raise gr.Error(discard_upload(folder, e) if folder is not None else str(e)) from None
    return started(session, job, f"Started **{plain(job.name, quoted=False)}** (job `{job.id}`).")


def parse_race(text) -> list[dict]:
    """A race's models: a JSON list of option dicts, or one model a line ("vae beta=4", "aae prior=mixture10")."""
    text = str(text or "").strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"the race's models are not valid JSON ({e})") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) and "model" in i for i in items):
            raise ValueError('a JSON race is a list of objects with a "model", like [{"model": "vae"}]')
        return items
    items = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        model, *options = line.split()
        item = {"model": model}
        for option in options:
            key, _, value = option.partition("=")
            if key not in RACE_OPTIONS or not value:
                raise ValueError(f"{shown(option)} in {shown(line)}: expected key=value with a key of "
                                 f"{', '.join(sorted(set(RACE_OPTIONS)))}")
            item[RACE_OPTIONS[key]] = {"true": True, "false": False}.get(value.lower(), value)
        items.append(item)
    return items


def race_configs(items: list[dict], arch, latent_dim) -> list[ModelConfig]:
    """Each racer's model: its own options on the race's shared architecture and latent size."""
    configs = []
    typed = {"kl_weight": float, "prior_components": int, "latent_dim": int}
    for item in items:
        options = {k: v for k, v in item.items() if k != "model"}
        for key in options:
            if key in APPLIES_TO and item["model"] not in APPLIES_TO[key]:
                raise ValueError(f"{key} applies to the {' and '.join(APPLIES_TO[key])} models, not "
                                 f"{shown(item['model'])}")
        options = {k: typed[k](v) if k in typed else v for k, v in options.items()}
        configs.append(ModelConfig(model=item["model"], arch=arch, hidden=dense_widths("", arch),
                                   channels=CHANNELS["16,32"],
                                   **{"latent_dim": whole(latent_dim, "latent dim"), **options}))
    return configs


def race_start(configs, arch, latent_dim, epochs, batch_size, lr, seed, data_choice="bundled", name="race",
               limit=0, session=None) -> dict:
    """Start a training race: 2-4 models (``configs``: see parse_race) on the same data, epochs, batches and
    seed, as one job; /train_status and /train_stop serve it like any job."""
    try:
        if data_choice not in ("bundled", "full"):
            raise JobError("a race trains on the bundled or the full data")
        model_configs = race_configs(parse_race(configs), arch, latent_dim)
        train_config = TrainConfig(epochs=whole(epochs, "epochs"), batch_size=whole(batch_size, "batch size"),
                                   lr=float(lr), seed=whole(seed, "seed"), limit=whole(limit, "limit") or None,
                                   log_every=LOG_EVERY)
        job = JOBS.start_race(session.owner, model_configs, train_config, load_training_data(data_choice),
                              name=str(name or "race"))
    except (JobError, ConfigError, DataError, ValueError, TypeError) as e:
        raise gr.Error(str(e)) from None
    names = ", ".join(f"**{plain(lane.title, quoted=False)}** (runs/{plain(lane.name, quoted=False)})"
                      for lane in job.lanes)
    return started(session, job, f"Race started (job `{job.id}`): {names}, taking turns step by step.")


def train_status(job_id, since, session) -> dict:
    """Progress of one of your jobs and its history rows after the first ``since`` rows."""
    try:
        job = JOBS.get(job_id, session.owner)
    except JobError as e:
        raise gr.Error(str(e)) from None
    rows, cursor = job.rows_since(int(since or 0))
    return {**job.progress(), "rows": rows, "cursor": cursor}


def train_stop(job_id, session) -> str:
    try:
        job = JOBS.get(job_id or session.job, session.owner)
    except JobError as e:
        raise gr.Error(str(e)) from None
    if job.done:
        return f"**{plain(job.name, quoted=False)}** has already {job.status}: there is nothing to stop."
    JOBS.stop(job.id, session.owner)
    return f"Stopping **{plain(job.name, quoted=False)}** after the current step; the last finished epoch is kept."


def attach(session: Session) -> dict:
    """After a reload: re-attach to this browser's running or last job."""
    jobs = JOBS.jobs_of(session.owner)
    if not jobs:
        return {"job_id": "", "timer": gr.Timer(active=False)}
    session.job = jobs[-1].id
    return {"job_id": session.job, "timer": gr.Timer(active=True)}


def run_keys_of(job_id, session: Session) -> list[str]:
    """The explorer keys of a job's run folders (a race has several), once they hold a finished epoch."""
    try:
        job = JOBS.get(job_id, session.owner) if job_id else None
    except JobError:
        job = None
    names = [lane.name for lane in job.lanes] if job is not None and job.lanes else [job.name] if job else []
    names = [n for n in names if (JOBS.folder(n) / checkpoint.WEIGHTS).is_file()]
    if not names:
        raise gr.Error("No finished epoch to compare yet: wait for the first epoch to end.")
    return [f"runs/{name}" for name in names]
