"""Variational autoencoder (Kingma & Welling, 2014); with conditional=True the CVAE."""
from __future__ import annotations

import torch

from .. import losses
from .base import Autoencoder


class VAE(Autoencoder):
    encoder_outputs = 2  # mean and log-variance of q(z|x)

    def encode(self, x, y=None):
        mu, logvar = super().encode(x, y).chunk(2, dim=1)
        return mu, logvar

    def embed(self, x, y=None):
        return self.encode(x, y)[0]

    @staticmethod
    def reparameterize(mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # one epsilon per element

    def loss(self, x, y=None):
        mu, logvar = self.encode(x, y)
        logits = self.decode(self.reparameterize(mu, logvar), y)
        return losses.vae_terms(logits, x, mu, logvar, kl_weight=self.config.kl_weight)

    def sample_latent(self, n, y=None, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)

    @torch.no_grad()
    def log_importance_weights(self, x, y=None, k: int = 100) -> torch.Tensor:
        """log p(x,z_i) - log q(z_i|x) for k samples per image, shape (k, B)."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn(k, *mu.shape, device=mu.device) * torch.exp(0.5 * logvar)
        flat = z.reshape(-1, self.latent_dim)
        labels = None if y is None else y.repeat(k)
        logits = self.decode(flat, labels).view(k, len(x), -1)
        log_px = -losses.bernoulli_nll(logits.reshape(k * len(x), -1), x.flatten(1).repeat(k, 1)).view(k, -1)
        return log_px + losses.gaussian_log_density(z) - losses.gaussian_log_density(z, mu, logvar)
