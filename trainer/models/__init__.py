"""Model registry: a config's ``model`` name picks the class; cvae/caae are the conditional vae/aae."""
from __future__ import annotations

from ..config import ModelConfig
from .ae import AE
from .aae import AAE
from .base import Autoencoder
from .vae import VAE

MODELS: dict[str, type[Autoencoder]] = {"ae": AE, "vae": VAE, "aae": AAE, "cvae": VAE, "caae": AAE}


def build_model(config: ModelConfig) -> Autoencoder:
    config.validate()
    return MODELS[config.model](config)


__all__ = ["AE", "AAE", "VAE", "Autoencoder", "MODELS", "build_model"]
