"""fit(model, data, config, callbacks): the training loop. It knows nothing about the UI or the model type."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint
from .config import ConfigError, ModelConfig, TrainConfig
from .data import DataError, Dataset, Split
from .models import Autoencoder, build_model

EVAL_BATCH = 1000


class Callback:
    """Hooks ``fit`` calls; subclass and override what you need."""

    def on_step(self, row: dict) -> None:
        """Every logged step: {"kind": "step", "epoch", "step", "loss", ...terms}."""

    def on_epoch(self, row: dict, model: Autoencoder) -> None:
        """Every finished epoch, after its checkpoint is saved: train and test means of every term."""

    def should_stop(self) -> bool:
        """Polled every step; True stops training, keeping the last finished epoch."""
        return False


@dataclass
class FitResult:
    status: str  # "finished", "stopped" or "diverged"
    epoch: int  # last finished epoch
    metrics: dict = field(default_factory=dict)  # that epoch's row
    message: str = ""


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(name: str = "auto") -> torch.device:
    """"auto" is the GPU when there is one (cuda, then mps), else the CPU; a named device must exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {name!r}; expected auto, cpu, cuda, cuda:N or mps")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device.type == "cuda" and (device.index or 0) >= gpus:
        raise ConfigError(f"device {name!r} is not available: this machine has {gpus or 'no'} CUDA GPU"
                          f"{'s' if gpus != 1 else ''}; use auto or cpu")
    if device.type == "mps" and not _mps_available():
        raise ConfigError(f"device {name!r} is not available on this machine (no Apple GPU); use auto or cpu")
    return device


def new_model(config: ModelConfig, seed: int = 0) -> Autoencoder:
    """Build a model with seeded initial weights."""
    torch.manual_seed(seed)
    return build_model(config)


def dataset_info(data: Dataset, limit: int | None = None) -> dict:
    return {"name": data.name, "classes": list(data.classes), "source": data.source, "note": data.note,
            "train_size": len(data.train), "test_size": len(data.test), "limit": limit}


@torch.no_grad()
def evaluate_terms(model: Autoencoder, split: Split, batch_size: int = EVAL_BATCH) -> dict[str, float]:
    """Mean of every loss term over a split (per image)."""
    model.eval()
    totals: dict[str, float] = {}
    for x, y in split.batches(batch_size, device=model.device):
        for key, value in model.loss(x, y).items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(x)
    return {k: v / len(split) for k, v in totals.items()}


def check_data_fits(config: ModelConfig, data: Dataset, train_images: int) -> None:
    """The model can train on the data: images of its size, labels it knows, at least one image in each split."""
    if train_images < 1 or len(data.test) < 1:
        raise DataError(f"{data.source}: the data holds {train_images} training and {len(data.test)} test images; "
                          "training needs at least one of each")
    if tuple(data.image_shape) != tuple(config.image_size):
        raise DataError(f"the model takes {config.image_size[0]}x{config.image_size[1]} images, the data "
                          f"({data.source}) holds {data.image_shape[0]}x{data.image_shape[1]}")
    if len(data.classes) != config.num_classes:  # the run saves the names beside a model of num_classes classes
        raise DataError(f"the data ({data.source}) names {len(data.classes)} classes, the model knows "
                        f"{config.num_classes}: give classes.json one name per class")
    top = max(int(data.train.labels.max()), int(data.test.labels.max()))
    if top >= config.num_classes:
        raise DataError(f"the data ({data.source}) has labels up to {top}, the model knows {config.num_classes} "
                          f"classes (0-{config.num_classes - 1})")


def _finite(terms: dict) -> bool:
    return all(math.isfinite(float(v)) for v in terms.values())


def fit(model: Autoencoder, data: Dataset, config: TrainConfig, callbacks=(), *,
        run_dir: str | Path | None = None, resume: bool = False) -> FitResult:
    """Train ``model`` on ``data.train``, evaluating on ``data.test`` and checkpointing to ``run_dir`` each epoch.

    With ``resume=True`` the weights, optimizer, RNG and history are restored from ``run_dir``'s resume point and
    training continues after its epoch, giving the same numbers as an uninterrupted run.
    """
    config.validate()
    train = data.train.head(config.limit)
    check_data_fits(model.config, data, len(train))
    device = pick_device(config.device)
    if run_dir is not None:
        checkpoint.open_for_training(run_dir)  # temp files of a killed save go; files ahead of its commit roll back
    model.to(device)
    optimizers = model.configure_optimizers(config.lr, config.adv_lr, config.weight_decay)
    base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in optimizers.items()}
    history: list[dict] = []
    start_epoch, step = 0, 0
    if resume:
        if run_dir is None:
            raise ValueError("resume needs the run folder")
        start_epoch = checkpoint.load_training_state(run_dir, model, optimizers)
        history = checkpoint.read_history(run_dir, until=start_epoch)
        step = max((r.get("step", 0) for r in history), default=0)
    else:
        torch.manual_seed(config.seed)
    if 2 * model.config.prior_components > len(train):
        raise ConfigError(f"a prior of {model.config.prior_components} fitted Gaussians needs at least "
                          f"{2 * model.config.prior_components} training images, got {len(train)}")
    model.prepare(train, seed=config.seed)
    info = dataset_info(data, config.limit)
    last: dict = next((r for r in reversed(history) if r.get("kind") == "epoch"), {})
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    joint_epochs = config.epochs - config.decoder_epochs  # then the decoder alone, on the codes these epochs left
    joint_steps = steps_per_epoch * joint_epochs

    def set_lr(done_steps: int) -> None:
        """Stateless schedule (a function of the step), so --resume continues it exactly. The cosine (the one
        non-constant schedule) runs once over the joint epochs and starts again for the decoder's own epochs."""
        start, length = (0, joint_steps) if done_steps < joint_steps else (
            joint_steps, steps_per_epoch * config.decoder_epochs)
        factor = 0.5 * (1 + math.cos(math.pi * (done_steps - start) / length))
        for name, opt in optimizers.items():
            for group, base in zip(opt.param_groups, base_lrs[name]):
                group["lr"] = base * factor

    for epoch in range(start_epoch + 1, config.epochs + 1):
        model.train()
        shuffle = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        sums: dict[str, torch.Tensor] = {}
        rows: list[dict] = []
        started = time.perf_counter()
        for i, (x, y) in enumerate(train.batches(config.batch_size, generator=shuffle, device=device)):
            if config.lr_schedule != "constant":
                set_lr(step)
            step_fn = model.training_step if epoch <= joint_epochs else model.decoder_step
            terms = step_fn(x, y, optimizers)
            step += 1
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value.detach() * len(x)
            logged = step % config.log_every == 0 or i == steps_per_epoch - 1
            # NaN/inf propagates into the running sums, so checking them when logging catches it cheaply
            if logged and not math.isfinite(float(sums["loss"])):
                message = (f"training diverged: the loss became {float(sums['loss'])} in epoch {epoch} "
                           f"(by step {step}); kept the checkpoint of epoch {epoch - 1}. Try a smaller learning rate.")
                return FitResult("diverged", epoch - 1, last, message)
            if logged:
                row = {"kind": "step", "epoch": epoch - 1 + (i + 1) / steps_per_epoch, "step": step,
                       **{k: float(v) for k, v in terms.items()}}
                rows.append(row)
                for cb in callbacks:
                    cb.on_step(row)
            if any(cb.should_stop() for cb in callbacks):
                return FitResult("stopped", epoch - 1, last, f"stopped during epoch {epoch}; "
                                 f"kept the checkpoint of epoch {epoch - 1}")
        seconds = time.perf_counter() - started
        model.after_epoch(train)
        test = evaluate_terms(model, data.test)
        row = {"kind": "epoch", "epoch": epoch, "step": step, "seconds": round(seconds, 3),
               "images_per_s": round(len(train) / seconds, 1),
               **{f"train_{k}": float(v) / len(train) for k, v in sums.items()},
               **{f"test_{k}": v for k, v in test.items()}}
        if not _finite(test):
            return FitResult("diverged", epoch - 1, last, f"training diverged: test metrics of epoch {epoch} "
                             f"are not finite ({test}); kept the checkpoint of epoch {epoch - 1}")
        history += rows + [row]
        last = row
        if run_dir is not None:
            checkpoint.save(run_dir, model, train_config=config, dataset=info, epoch=epoch, metrics=row,
                            history=history, optimizers=optimizers)
        for cb in callbacks:
            cb.on_epoch(row, model)
    return FitResult("finished", max(start_epoch, config.epochs), last,
                     f"finished {config.epochs} epochs")
