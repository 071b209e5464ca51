"""Variational autoencoder (Kingma & Welling, 2014); with conditional=True the CVAE."""
from __future__ import annotations

import torch

from .. import losses
from ..config import ModelConfig
from ..priors import fit_mixture, sample_mixture
from .base import Autoencoder, identities

CODES_FOR_FIT = 20_000  # training images whose sampled codes the mixture prior is fitted to


class VAE(Autoencoder):
    """p(z) is N(0, I), or with ``prior_components`` K > 0 a mixture of K full-covariance Gaussians refitted to
    the aggregate posterior (codes drawn from q(z|x) of training images) after every epoch, so the prior covers
    where the codes are and sampling avoids the holes N(0, I) leaves (empirical Bayes, as in two-stage VAEs).
    Before the first fit the mixture is K copies of N(0, I)."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        k, d = config.prior_components, config.latent_dim
        if k:  # saved with the weights
            self.register_buffer("prior_logits", torch.zeros(k))
            self.register_buffer("prior_means", torch.zeros(k, d))
            self.register_buffer("prior_scale_tril", identities(k, d=d))

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

    def training_code(self, x, y=None, generator=None):
        posterior = self.encode(x, y)
        return self.reparameterize(*posterior, eps=torch.randn(posterior[0].shape, generator=generator).to(self.device))

    @staticmethod
    def reparameterize(mu, logvar, tril=None, eps=None):
        """z = mu + L eps, one standard-normal epsilon per element (eps may have leading sample dims)."""
        eps = torch.randn_like(mu) if eps is None else eps
        if tril is None:
            return mu + eps * torch.exp(0.5 * logvar)
        return mu + (losses.cholesky_factor(logvar, tril) @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prior(self, z):
        if not self.config.prior_components:
            return losses.gaussian_log_density(z)
        return losses.mixture_log_density(z, self.prior_logits, self.prior_means, self.prior_scale_tril)

    def kl(self, z, posterior):
        """KL(q(z|x) || p(z)) per image: exact for N(0, I); for the mixture prior (no closed form) the one-sample
        estimate log q(z|x) - log p(z) at the z that is decoded, unbiased like the reconstruction term."""
        if not self.config.prior_components:
            return losses.kl_normal(*posterior)
        return losses.gaussian_log_density(z, *posterior) - self.log_prior(z)

    def loss(self, x, y=None):
        posterior = self.encode(x, y)
        z = self.reparameterize(*posterior)
        return losses.vae_terms(self.decode(z, y), x, self.kl(z, posterior), kl_weight=self.config.kl_weight)

    def sample_latent(self, n, y=None, generator=None):
        if not self.config.prior_components:
            return torch.randn(n, self.latent_dim, generator=generator)
        return sample_mixture(n, self.prior_logits, self.prior_means, self.prior_scale_tril, generator=generator)

    @torch.no_grad()
    def after_epoch(self, train):
        """Refit the mixture prior to codes drawn from q(z|x) (with its own seeded noise: training's RNG is kept)."""
        if not self.config.prior_components:
            return
        noise = torch.Generator().manual_seed(0)
        codes = self.embed_split(train.head(CODES_FOR_FIT), code=lambda x, y: self.training_code(x, y, noise))
        fitted = fit_mixture(codes, self.config.prior_components)
        for name, value in fitted.items():
            getattr(self, f"prior_{name}").copy_(value)

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
        return log_px + self.log_prior(z) - losses.gaussian_log_density(z, *posterior)
