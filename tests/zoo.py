"""Tiny real checkpoints for explorer tests: trained for one epoch on 512 bundled images, saved to disk."""
from __future__ import annotations

from pathlib import Path

from trainer.config import ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.train import fit, new_model

TINY = {
    "ae-2d": dict(model="ae"),
    "vae-2d": dict(model="vae"),
    "aae-mixture10-2d": dict(model="aae", prior="mixture10"),
    "cvae-2d": dict(model="cvae"),
    "vae-8d": dict(model="vae", latent_dim=8),
}


def make_zoo(folder: Path, names=tuple(TINY)) -> Path:
    data = load_dataset(None, limit=512)
    data.test = data.test.head(512)
    for name in names:
        cfg = ModelConfig(hidden=(64,), disc_hidden=(32,), **{"latent_dim": 2, **TINY[name]})
        fit(new_model(cfg, seed=0), data, TrainConfig(epochs=1, batch_size=64), run_dir=folder / name)
    return folder
