"""The Train tab's Saved runs: the runs under runs/, their curves, Measure (as `python -m trainer eval --save`),
Download (.zip, which Add a model takes back) and Resume."""
from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

import gradio as gr

from trainer import checkpoint
from trainer.classifier import scorer_for
from trainer.config import ConfigError, shown
from trainer.data import DataError, load_run_dataset
from trainer.evaluate import measure_run, save_results

from .. import plots
from ..jobs import JobError
from ..training_setup import LIMITS
from ..registry import ALLOWED_FILES
from . import train_jobs
from .media import TempFiles
from .session import Session
from .text import plain

MEASURING = threading.Lock()  # one measurement at a time on the server (about a minute of CPU each)
DOWNLOADS = TempFiles("latent-explorer-downloads")


def saved_runs() -> list[str]:
    """Names of the runs under runs/ (folders with a config.json), newest first."""
    runs_dir = train_jobs.JOBS.runs
    if not runs_dir.is_dir():
        return []
    runs = []
    for p in runs_dir.iterdir():
        try:
            if (p / checkpoint.CONFIG).is_file():
                runs.append((-p.stat().st_mtime, p.name))
        except OSError:  # removed meanwhile, or unreadable
            continue
    return [name for _, name in sorted(runs)]


def folder_of(run_name) -> Path:
    """The folder of a run from the Saved runs list (a name only: nothing else on the server is reachable)."""
    if not isinstance(run_name, str) or run_name not in saved_runs():
        raise gr.Error(f"choose a saved run from the list (no run {shown(run_name)} under runs/)")
    return train_jobs.JOBS.folder(run_name)


def not_training(run_name, run_dir: Path, then: str) -> None:
    """Refuse to read a run folder a job is still writing; ``then`` says when to come back."""
    if train_jobs.JOBS.busy(run_dir):  # a race's every lane too
        raise gr.Error(f"{run_name} is still training: {then}")


def without_paths(error: Exception) -> str:
    """An error's message with the server's runs folder named as runs/."""
    return str(error).replace(str(train_jobs.JOBS.runs), "runs")


def download_run(run_name) -> str:
    """A saved run as a .zip that *Add a model* takes back: its folder under the run's name, with the files an
    upload reads (config, weights, metrics, history, embedding; not the 12 MB resume point nor its data copy)."""
    run_dir = folder_of(run_name)
    not_training(run_name, run_dir, "download it when its job has ended (or after Stop)")
    tmp = DOWNLOADS.new(".run-", ".zip")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(ALLOWED_FILES):
            if (run_dir / name).is_file():
                zf.write(run_dir / name, f"{run_dir.name}/{name}")
    out = DOWNLOADS.named(f"{run_dir.name}.zip")  # the file keeps the run's own name
    os.replace(tmp, out)
    return str(out)


def measure(run_name, progress=gr.Progress()) -> str:
    """Measure a saved run on its test split, as `python -m trainer eval --save` does; the results go into its
    metrics.json, so the "How good is each model?" table lists it."""
    run_dir = folder_of(run_name)  # a name from the list only: the results are written into the folder
    not_training(run_name, run_dir, "measure it when its job has ended")
    if not MEASURING.acquire(blocking=False):
        raise gr.Error("another run is being measured on this server; try again in a minute")
    try:
        run = checkpoint.load(run_dir)
        data = load_run_dataset(run.dataset, run_dir=run_dir)  # the data it was trained on
        results = measure_run(run, data.train, data.test, scorer_for(run),
                              lambda fraction, what: progress(fraction, desc=f"Measuring {run_name}: {what}"))
        save_results(run, results)
    except (DataError, checkpoint.CheckpointError, OSError) as e:
        raise gr.Error(without_paths(e)) from None
    finally:
        MEASURING.release()
    parts = [f"−ELBO {results['neg_elbo']:.1f}" if "neg_elbo" in results else None,
             f"recon BCE {results['recon_bce']:.1f}", f"kNN {results['knn_accuracy']:.3f}",
             f"samples that look like a digit {results['confident_share']:.0%}" if "confident_share" in results
             else None, f"samples in holes {results['prior_holes']:.0%}"]
    return (f"Measured **{plain(run_name, quoted=False)}** (epoch {run.epoch}) on {results['test_images']:,} test "
            "digits: " + ", ".join(p for p in parts if p) + ". The table under *How good is each model?* lists it now.")


def show_run(run_name):
    """A saved run's curves (from its history.jsonl)."""
    run_dir = folder_of(run_name)
    try:
        cfg = checkpoint.read_config(run_dir)
    except checkpoint.CheckpointError as e:
        raise gr.Error(without_paths(e)) from None
    rows = checkpoint.read_history(run_dir)
    model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
    return plots.training_curves(rows, model.get("model") if model.get("model") in plots.EPOCH_TERMS else "vae")


def resume_to(run_name):
    """The Resume box's epoch for a picked run: the epochs it planned, or (a run that got there) 5 more."""
    try:
        config = checkpoint.read_config(folder_of(run_name))
        epoch, planned = int(config.get("epoch", 0)), int(config["train"]["epochs"])
    except (gr.Error, checkpoint.CheckpointError, KeyError, TypeError, ValueError):
        return gr.update()
    return planned if epoch < planned else min(epoch + 5, LIMITS["epochs"])


def resume(run_name, epochs, session: Session) -> dict:
    """Continue a saved run (the /train_resume endpoint: run name, the epoch to train to)."""
    try:
        job = train_jobs.JOBS.resume(session.owner, run_name, train_jobs.whole(epochs, "resume to epoch", 0))
    except (JobError, ConfigError, DataError, ValueError, checkpoint.CheckpointError) as e:
        raise gr.Error(without_paths(e)) from None
    return train_jobs.started(session, job, f"Resuming **{plain(job.name, quoted=False)}** from epoch "
                                            f"{job.start_epoch} to {job.train_config.epochs}.")
