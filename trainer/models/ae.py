"""Plain deterministic autoencoder. It has no prior: sampling draws from a Gaussian fitted to its codes."""
from __future__ import annotations

import torch

from .. import losses
from ..config import ModelConfig
from .base import Autoencoder, identities

CODES_FOR_FIT = 10_000  # training images whose codes the sampling Gaussian is fitted to


class AE(Autoencoder):
    def __init__(self, config: ModelConfig):
        super().__init__(config)
        d = config.latent_dim
        # Gaussian fitted to the training codes after each epoch; saved with the weights
        self.register_buffer("code_mean", torch.zeros(d))
        self.register_buffer("code_scale_tril", identities(d=d))

    def loss(self, x, y=None):
        recon = losses.reconstruction(self.decode(self.encode(x, y), y), x, self.config.recon_loss).mean()
        return {"loss": recon, "recon": recon}

    def after_epoch(self, train):
        codes = self.embed_split(train.head(CODES_FOR_FIT)).to(self.code_mean)
        cov = torch.cov(codes.T).reshape(self.latent_dim, self.latent_dim)
        cov = cov + 1e-5 * torch.eye(self.latent_dim, device=cov.device)
        self.code_mean.copy_(codes.mean(0))
        self.code_scale_tril.copy_(torch.linalg.cholesky(cov))

    def sample_latent(self, n, y=None, generator=None):
        eps = torch.randn(n, self.latent_dim, generator=generator)
        return self.code_mean.cpu() + eps @ self.code_scale_tril.cpu().T
