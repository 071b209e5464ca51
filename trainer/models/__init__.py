"""Model registry: a config's ``model`` name picks the class; cvae/caae are the conditional vae/aae, and an aae with
``clusters`` is the ClusterAAE."""
from __future__ import annotations

import math

import torch

from ..config import MAX_PARAMETERS, ConfigError, ModelConfig
from .ae import AE
from .aae import AAE, ClusterAAE
from .base import Autoencoder
from .vae import VAE

MODELS: dict[str, type[Autoencoder]] = {"ae": AE, "vae": VAE, "aae": AAE, "cvae": VAE, "caae": AAE}


def model_class(config: ModelConfig) -> type[Autoencoder]:
    """The class a config builds: its ``model``'s, or ClusterAAE for an aae with clusters."""
    return ClusterAAE if config.clusters else MODELS[config.model]


def state_spec(config: ModelConfig) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Name -> (shape, is a float) of every weight and buffer the model of ``config`` has, from the config alone:
    the model is built on PyTorch's meta device, which allocates no memory, and its size is checked
    (MAX_PARAMETERS). Integer buffers are a semi-supervised AAE's labelled index."""
    config.validate()
    with torch.device("meta"):
        skeleton = model_class(config)(config)
    spec = {key: (tuple(value.shape), value.is_floating_point()) for key, value in skeleton.state_dict().items()}
    count = sum(math.prod(shape) for shape, _ in spec.values())
    if count > MAX_PARAMETERS:
        raise ConfigError(f"this model would have {count:,} parameters, more than the {MAX_PARAMETERS:,} allowed; "
                          "use smaller hidden, channels or disc_hidden widths")
    return spec


def state_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight and buffer of the model of ``config`` (state_spec)."""
    return {key: shape for key, (shape, _) in state_spec(config).items()}


def build_model(config: ModelConfig) -> Autoencoder:
    state_shapes(config)  # validated and not too big, before any memory is taken
    return model_class(config)(config)


__all__ = ["AE", "AAE", "ClusterAAE", "VAE", "Autoencoder", "MODELS", "build_model", "model_class", "state_shapes",
           "state_spec"]
