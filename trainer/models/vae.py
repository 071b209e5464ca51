"""Variational autoencoder (Kingma & Welling, 2014); with conditional=True the CVAE."""
from __future__ import annotations

import torch

from .. import losses
from .base import Autoencoder


class VAE(Autoencoder):
    @staticmethod
    def encoder_width(config):
        """Mean and log-variances of q(z|x); posterior="full" adds the d(d-1)/2 below-diagonal Cholesky entries."""
        d = config.latent_dim
        return 2 * d + (d * (d - 1) // 2 if config.posterior == "full" else 0)

    def encode(self, x, y=None):
        """q(z|x) as (mu, logvar, tril); tril is None for the diagonal posterior (see losses.kl_normal)."""
        out, d = super().encode(x, y), self.latent_dim
        return out[:, :d], out[:, d:2 * d], (out[:, 2 * d:] if self.config.posterior == "full" else None)

    def embed(self, x, y=None):
        return self.encode(x, y)[0]

    @staticmethod
    def reparameterize(mu, logvar, tril=None, eps=None):
        """z = mu + L eps, one standard-normal epsilon per element (eps may have leading sample dims)."""
        eps = torch.randn_like(mu) if eps is None else eps
        if tril is None:
            return mu + eps * torch.exp(0.5 * logvar)
        return mu + (losses.cholesky_factor(logvar, tril) @ eps.unsqueeze(-1)).squeeze(-1)

    def loss(self, x, y=None):
        posterior = self.encode(x, y)
        logits = self.decode(self.reparameterize(*posterior), y)
        return losses.vae_terms(logits, x, *posterior, kl_weight=self.config.kl_weight)

    def sample_latent(self, n, y=None, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)

    @torch.no_grad()
    def log_importance_weights(self, x, y=None, k: int = 100) -> torch.Tensor:
        """log p(x,z_i) - log q(z_i|x) for k samples per image, shape (k, B)."""
        posterior = self.encode(x, y)
        mu = posterior[0]
        z = self.reparameterize(*posterior, eps=torch.randn(k, *mu.shape, device=mu.device))
        flat = z.reshape(-1, self.latent_dim)
        labels = None if y is None else y.repeat(k)
        logits = self.decode(flat, labels).view(k, len(x), -1)
        log_px = -losses.bernoulli_nll(logits.reshape(k * len(x), -1), x.flatten(1).repeat(k, 1)).view(k, -1)
        return log_px + losses.gaussian_log_density(z) - losses.gaussian_log_density(z, *posterior)
