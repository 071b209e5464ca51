"""A small digit classifier CNN: colors latent planes by "which digit does the decoder draw here" and
scores generated samples. Saved as config.json + model.safetensors like every other checkpoint."""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save
from torch import nn

from . import checkpoint
from .data import Dataset, Split

FORMAT = "latent-explorer-classifier"
SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "classifier"
MNIST_DATASETS = ("mnist", "mnist-bundled")  # dataset names (checkpoint config) whose classes are its digits


class DigitClassifier(nn.Module):
    def __init__(self, *, num_classes: int = 10, channels=(32, 64), hidden: int = 128):
        super().__init__()
        self.kwargs = dict(num_classes=num_classes, channels=list(channels), hidden=hidden)
        c1, c2 = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(c2 * 49, hidden), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted class and its probability for images in [0, 1] of shape (N, 1, 28, 28)."""
        self.eval()
        probs = torch.cat([F.softmax(self(images[i:i + batch_size]), 1) for i in range(0, len(images), batch_size)])
        confidence, label = probs.max(1)
        return label, confidence


@torch.no_grad()
def accuracy(model: DigitClassifier, split: Split) -> float:
    x, y = split.batch(torch.arange(len(split)))
    return float((model.predict(x)[0] == y).float().mean())


def train_classifier(data: Dataset, *, epochs: int = 8, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, log=print) -> DigitClassifier:
    torch.manual_seed(seed)
    model = DigitClassifier(num_classes=len(data.classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        model.train()
        started = time.perf_counter()
        shuffle = torch.Generator().manual_seed(seed * 100_003 + epoch)
        for x, y in data.train.batches(batch_size, generator=shuffle):
            # small random shifts make it robust to the slightly off-center digits decoders draw
            dx, dy = torch.randint(-2, 3, (2,)).tolist()
            loss = F.cross_entropy(model(torch.roll(x, (dx, dy), (2, 3))), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        log(f"classifier epoch {epoch}: test accuracy {accuracy(model, data.test):.4f} "
            f"({time.perf_counter() - started:.0f}s)")
    return model.eval()


def save_classifier(folder: str | Path, model: DigitClassifier, *, classes, metrics: dict) -> None:
    folder = Path(folder)
    weights = {k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items()}
    checkpoint.atomic_write(folder / checkpoint.WEIGHTS, st_save(weights))
    checkpoint.write_json(folder / checkpoint.CONFIG, {"format": FORMAT, "format_version": 1,
                                                       "kwargs": model.kwargs, "classes": list(classes)})
    checkpoint.write_json(folder / checkpoint.METRICS, metrics)


def load_classifier(folder: str | Path) -> DigitClassifier:
    folder = Path(folder)
    cfg = checkpoint.read_json(folder / checkpoint.CONFIG)
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT or not isinstance(cfg.get("kwargs"), dict):
        raise checkpoint.CheckpointError(f"{folder / checkpoint.CONFIG}: not a Latent Explorer classifier config")
    try:
        model = DigitClassifier(**cfg["kwargs"])
    except (TypeError, ValueError) as e:
        raise checkpoint.CheckpointError(f"{folder / checkpoint.CONFIG}: bad classifier settings ({e})") from None
    tensors, _ = checkpoint.read_safetensors(folder / checkpoint.WEIGHTS)
    checkpoint.load_state(model, tensors, folder / checkpoint.WEIGHTS)
    return model.eval()


def scorer_for(run, folder: str | Path = SHIPPED) -> DigitClassifier | None:
    """The classifier that scores a run's prior samples, or None: it knows MNIST digits only, and a checkout
    without the shipped classifier goes without (a folder given by hand must load)."""
    if str(run.dataset.get("name", "")).lower() not in MNIST_DATASETS:
        return None
    if Path(folder) == SHIPPED and not (SHIPPED / checkpoint.WEIGHTS).is_file():
        return None
    return load_classifier(folder)
