"""Model registry: a config's ``model`` name picks the class; cvae/caae are the conditional vae/aae, and an aae with
``clusters`` is the ClusterAAE."""
from __future__ import annotations

from ..config import ModelConfig
from .ae import AE
from .aae import AAE, ClusterAAE
from .base import Autoencoder
from .vae import VAE

MODELS: dict[str, type[Autoencoder]] = {"ae": AE, "vae": VAE, "aae": AAE, "cvae": VAE, "caae": AAE}


def model_class(config: ModelConfig) -> type[Autoencoder]:
    """The class a config builds: its ``model``'s, or ClusterAAE for an aae with clusters."""
    return ClusterAAE if config.clusters else MODELS[config.model]


def build_model(config: ModelConfig) -> Autoencoder:
    config.validate()
    return model_class(config)(config)


__all__ = ["AE", "AAE", "ClusterAAE", "VAE", "Autoencoder", "MODELS", "build_model", "model_class"]
