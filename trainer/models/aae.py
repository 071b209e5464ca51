"""Adversarial autoencoder (Makhzani et al., 2015); with conditional=True the CAAE.

A deterministic encoder; a discriminator on z tells prior samples (real) from codes (fake).
Per batch three phases: reconstruction -> discriminator -> generator (the encoder).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import losses
from ..config import ModelConfig
from ..layers import mlp
from ..priors import sample_prior
from .base import Autoencoder, adam


class AAE(Autoencoder):
    TRAINING_ONLY = ("discriminator.",)  # exported models may leave it out (the zoo does: 0.53 MB each)
    RECON_OPTIMIZER = "reconstruction"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        label_dim = config.num_classes if config.label_guided else 0
        self.discriminator = mlp([config.latent_dim + label_dim, *config.disc_hidden, 1], activation="leaky_relu")

    @property
    def needs_labels(self):
        return self.config.conditional or self.config.label_guided

    def discriminate(self, z, y=None):
        """One logit per code: how much it looks like a prior sample (label-guided: of that label's component)."""
        if self.config.label_guided:
            z = torch.cat([z, F.one_hot(y.long(), self.config.num_classes).float()], dim=1)
        return self.discriminator(z).squeeze(1)

    def sample_latent(self, n, y=None, generator=None):
        labels = torch.as_tensor(y).cpu() if (y is not None and self.config.label_guided) else None
        return sample_prior(self.config.prior, n, self.latent_dim, labels=labels,
                            num_classes=self.config.num_classes, generator=generator)

    def _terms(self, x, y, z):
        recon = losses.reconstruction(self.decode(z, y), x, self.config.recon_loss).mean()
        real = self.sample_latent(len(x), y).to(z.device)
        disc = losses.discriminator_loss(self.discriminate(real, y), self.discriminate(z.detach(), y))
        gen = losses.generator_loss(self.discriminate(z, y))
        return recon, disc, gen

    def loss(self, x, y=None):
        recon, disc, gen = self._terms(x, y, self.encode(x, y))
        return {"loss": recon, "recon": recon, "disc": disc, "gen": gen}

    def configure_optimizers(self, lr, adv_lr, weight_decay=0.0):
        autoencoder = list(self.encoder.parameters()) + list(self.decoder.parameters())
        return {self.RECON_OPTIMIZER: adam(autoencoder, lr=lr, weight_decay=weight_decay),
                "discriminator": adam(self.discriminator.parameters(), lr=adv_lr, betas=(0.5, 0.999)),
                "generator": adam(self.encoder.parameters(), lr=adv_lr, betas=(0.5, 0.999))}

    def training_step(self, x, y, optimizers):
        def step(name, value):
            optimizers[name].zero_grad(set_to_none=True)
            value.backward()
            optimizers[name].step()

        recon = losses.reconstruction(self.decode(self.encode(x, y), y), x, self.config.recon_loss).mean()
        step(self.RECON_OPTIMIZER, recon)
        with torch.no_grad():
            fake = self.encode(x, y)
        real = self.sample_latent(len(x), y).to(x.device)
        disc = losses.discriminator_loss(self.discriminate(real, y), self.discriminate(fake, y))
        step("discriminator", disc)
        gen = losses.generator_loss(self.discriminate(self.encode(x, y), y))
        step("generator", gen)
        return {"loss": recon.detach(), "recon": recon.detach(), "disc": disc.detach(), "gen": gen.detach()}
