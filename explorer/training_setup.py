"""What a training job is made of before it starts: the Train tab's limits, its training data (bundled, a full
MNIST folder found on disk, or the user's IDX files) and how much disk its run will take."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from trainer import checkpoint
from trainer.config import SERVER_LIMITS as LIMITS
from trainer.config import ModelConfig, TrainConfig, shown
from trainer.data import DataError, Dataset, bundled_dataset, load_dataset

from .storage import folder_bytes

BYTES_PER_PARAMETER = 16  # a run's weights (4 bytes) and its resume point (weights and Adam's two moments: 12)
BYTES_PER_ROW = 400  # a history.jsonl line


class JobError(ValueError):
    """A job request was refused (limits, caps, ownership); the message says why."""


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def run_size(model_config: ModelConfig, train_config: TrainConfig, data: Dataset,
             data_files: Path | None = None) -> int:
    """About the bytes a run takes on disk: its weights and resume point (BYTES_PER_PARAMETER each), its history,
    and its copy of uploaded data."""
    from trainer.models import state_spec

    parameters = sum(int(np.prod(shape)) for shape, _ in state_spec(model_config).values())
    steps = -(-len(data.train.head(train_config.limit)) // train_config.batch_size) * train_config.epochs
    rows = steps // train_config.log_every + 2 * train_config.epochs
    return parameters * BYTES_PER_PARAMETER + rows * BYTES_PER_ROW + (folder_bytes(data_files) if data_files else 0)


def keep_data(source: Path, dest: Path) -> None:
    """Move uploaded IDX files into a run's data folder (each file written atomically, then the source removed:
    the uploading session's disk quota is freed)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file():
            checkpoint.atomic_write(dest / path.name, path.read_bytes())
    shutil.rmtree(source, ignore_errors=True)


def _unique(run_dir: Path, taken: set[Path]) -> Path:
    candidates = [run_dir] + [run_dir.with_name(f"{run_dir.name}-{k}") for k in range(2, 1000)]
    for candidate in candidates:
        if not candidate.exists() and candidate not in taken:
            return candidate
    raise JobError(f"too many runs named {run_dir.name}")


def check_limits(model_config: ModelConfig, train_config: TrainConfig) -> None:
    """The Train tab's bounds (config.SERVER_LIMITS), then the configs' own (validate)."""
    if train_config.epochs > LIMITS["epochs"]:
        raise JobError(f"epochs must be at most {LIMITS['epochs']} here (got {train_config.epochs}); "
                       "use the command line for longer runs")
    if model_config.latent_dim > LIMITS["latent_dim"]:
        raise JobError(f"latent dim must be at most {LIMITS['latent_dim']} here (got {model_config.latent_dim})")
    if train_config.batch_size > LIMITS["batch_size"]:
        raise JobError(f"batch size must be at most {LIMITS['batch_size']} here (got {train_config.batch_size})")
    if len(model_config.hidden) > LIMITS["layers"] or max(model_config.hidden) > LIMITS["width"]:
        raise JobError(f"dense widths: at most {LIMITS['layers']} layers of at most {LIMITS['width']} here "
                       f"(got {shown(','.join(map(str, model_config.hidden)))})")
    model_config.validate()
    train_config.validate()


def load_training_data(choice: str, upload_dir: Path | None = None, limit: int | None = None) -> Dataset:
    """'bundled' (the shipped 10k test split cut 8k/2k), 'full' (a full MNIST-format folder found on disk),
    or 'uploaded' (four IDX files the user uploaded; each split at most LIMITS["train_images"] images, checked
    from the files' headers before their bodies are read)."""
    if choice == "uploaded":
        if upload_dir is None:
            raise JobError("upload the four MNIST-format IDX files first")
        data = load_dataset(upload_dir, limit=limit, max_images=LIMITS["train_images"])
        data.name = "uploaded"
        return data
    if choice == "full":
        path = find_full_mnist()
        if path is None:
            raise JobError("no full MNIST-format folder found on this machine (set $LATENT_EXPLORER_DATA); "
                           "use the bundled set or upload IDX files")
        return load_dataset(path, limit=limit)
    return bundled_dataset(limit=limit)


def find_full_mnist() -> Path | None:
    import os

    from trainer.data import DATA_ENV, find_idx_folder

    root = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get(DATA_ENV), root / "data", root.parent / "shared" / "data"):
        if candidate:
            try:
                return find_idx_folder(candidate)
            except DataError:
                continue
    return None
