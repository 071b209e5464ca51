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
from ..priors import sample_categorical, sample_prior
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


class ClusterAAE(AAE):
    """The AAE with a categorical code (Makhzani et al., 2015, sections 5-6): ``--model aae --clusters K``.

    One encoder body with one linear output split in two heads: the logits of q(y|x) over K clusters and a
    deterministic style code z (``latent_dim``). The decoder draws from [z, softmax q(y|x)] in training and from
    [z, one-hot cluster] when a cluster is chosen. Two adversaries: ``discriminator`` tells N(0, I) samples from
    style codes, ``cluster_discriminator`` tells one-hot draws of a uniform categorical from softmax outputs, which
    pushes q(y|x) to be confident (near one-hot) and to use every cluster equally often. With ``labels`` N > 0
    (semi-supervised, K = the number of classes) a fourth phase per batch is a cross-entropy step on a batch of the
    N labelled training images (``prepare`` picks them, balanced per class and seeded); no other label is read.

    The latent code is the style: ``embed`` returns z, ``decode(z, y)`` takes the cluster as its label y (ids (B,)
    or probabilities (B, K)), as conditional models take the digit. ``cluster(x)`` is argmax q(y|x).
    """

    TRAINING_ONLY = ("discriminator.", "cluster_discriminator.", "labelled_index")

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.cluster_discriminator = mlp([config.clusters, *config.disc_hidden, 1], activation="leaky_relu")
        if config.labels:  # which training images were labelled: saved with the weights (training-only)
            self.register_buffer("labelled_index", torch.zeros(config.labels, dtype=torch.long))
        self.labelled = None  # their images and labels (a data Split), set by prepare

    @staticmethod
    def encoder_width(config):
        """The logits of q(y|x) (clusters) and then the style code (latent_dim)."""
        return config.clusters + config.latent_dim

    @property
    def needs_labels(self):
        return False  # it reads no label of its inputs (the labelled images come from prepare)

    # -- the interface -------------------------------------------------------
    def encode(self, x, y=None):
        """(logits of q(y|x) (B, K), style z (B, latent_dim)); labels y are ignored."""
        out = self.encoder(x)
        return out[:, :self.config.clusters], out[:, self.config.clusters:]

    def embed(self, x, y=None):
        """The style code z: what planes, scatters and kNN use (the cluster is ``cluster(x)``)."""
        return self.encode(x)[1]

    def cluster_probs(self, x) -> torch.Tensor:
        """q(y|x), (B, K)."""
        return torch.softmax(self.encode(x)[0], dim=1)

    @torch.no_grad()
    def cluster(self, x) -> torch.Tensor:
        """argmax q(y|x): each image's cluster (B,) long (for a semi-supervised model: its predicted class)."""
        return self.encode(x)[0].argmax(1)

    def cluster_code(self, y) -> torch.Tensor:
        """The decoder's cluster input (B, K) from cluster ids (B,) or probabilities (B, K)."""
        if y is None:
            raise ValueError(f"the aae model with {self.config.clusters} clusters decodes a style code together with "
                             "a cluster: pass y (cluster ids, or (B, K) probabilities)")
        y = torch.as_tensor(y, device=self.device)
        if y.ndim == 2:
            return y.float()
        if y.min() < 0 or y.max() >= self.config.clusters:
            raise ValueError(f"clusters are 0..{self.config.clusters - 1}, got {y.tolist()}")
        return F.one_hot(y.long(), self.config.clusters).float()

    def decode(self, z, y=None):
        return self.decoder(z, self.cluster_code(y))

    def cluster_input(self, logits) -> torch.Tensor:
        """What the decoder gets of q(y|x) (``cluster_input``): its probabilities (softmax, the paper's), or a one-hot
        with the softmax's gradient (straight-through): of the argmax (hard), or in training of a Gumbel-softmax
        draw (gumbel; the argmax in eval mode)."""
        probs = torch.softmax(logits, 1)
        kind = self.config.cluster_input
        if kind == "softmax":
            return probs
        if kind == "gumbel" and self.training:
            return F.gumbel_softmax(logits, tau=1.0, hard=True)
        return F.one_hot(logits.argmax(1), self.config.clusters).to(probs) + probs - probs.detach()

    def reconstruct(self, x, y=None):
        """Decoded from the image's own style and q(y|x), as in training (labels y are ignored)."""
        logits, style = self.encode(x)
        return self.decode(style, self.cluster_input(logits))

    def sample_latent(self, n, y=None, generator=None):
        """n style codes from N(0, I) (the cluster is drawn apart: ``sample`` takes it as y)."""
        return torch.randn(n, self.latent_dim, generator=generator)

    @torch.no_grad()
    def sample(self, n, y=None, generator=None):
        """n images decoded from N(0, I) styles, with clusters y (default: each cluster in turn, 0, 1, ..)."""
        y = torch.arange(n) % self.config.clusters if y is None else y
        z = self.sample_latent(n, y, generator)
        return torch.sigmoid(self.decode(z.to(self.device), y))

    # -- training ------------------------------------------------------------
    def prepare(self, train, *, seed=0):
        if not self.config.labels:
            return
        from ..data import Split, balanced_subset

        index = balanced_subset(train.labels, self.config.labels, self.config.num_classes, seed=seed)
        self.labelled_index.copy_(index)
        self.labelled = Split(train.images[index], train.labels[index])

    def discriminate_cluster(self, y) -> torch.Tensor:
        """One logit per cluster code y (B, K): how much it looks like a one-hot draw of the uniform categorical. In
        training its input gets Gaussian noise of std ``cluster_disc_noise`` (instance noise: the adversary then
        judges which cluster a code is in more than how sharp it is, and its gradient reaches unused clusters)."""
        if self.training and self.config.cluster_disc_noise:
            y = y + self.config.cluster_disc_noise * torch.randn_like(y)
        return self.cluster_discriminator(y).squeeze(1)

    def _discriminator_terms(self, logits, style) -> dict[str, torch.Tensor]:
        """Both adversaries' losses: prior draws are real, the (detached) codes fake."""
        probs = torch.softmax(logits, 1).detach()
        real_style = self.sample_latent(len(style)).to(style.device)
        real_cluster = sample_categorical(len(probs), self.config.clusters, device=probs.device)
        return {"disc_style": losses.discriminator_loss(self.discriminate(real_style),
                                                        self.discriminate(style.detach())),
                "disc_cluster": losses.discriminator_loss(self.discriminate_cluster(real_cluster),
                                                          self.discriminate_cluster(probs))}

    def _generator_terms(self, logits, style) -> dict[str, torch.Tensor]:
        """The encoder's side of both games: its style codes and softmax outputs should pass for prior draws."""
        return {"gen_style": losses.generator_loss(self.discriminate(style)),
                "gen_cluster": losses.generator_loss(self.discriminate_cluster(torch.softmax(logits, 1)))}

    def loss(self, x, y=None):
        """Every term on a batch; with labels y and a semi-supervised model also its cross-entropy and error on
        them (what the per-epoch test rows show; training reads no label but those of ``prepare``)."""
        logits, style = self.encode(x)
        recon = losses.reconstruction(self.decode(style, self.cluster_input(logits)), x, self.config.recon_loss).mean()
        terms = {"loss": recon, "recon": recon, **self._discriminator_terms(logits, style),
                 **self._generator_terms(logits, style)}
        if self.config.labels and y is not None:
            terms["xent"] = losses.cross_entropy(logits, y)
            terms["error"] = (logits.argmax(1) != y).float().mean()
        return terms

    def configure_optimizers(self, lr, adv_lr, weight_decay=0.0):
        optimizers = super().configure_optimizers(lr, adv_lr, weight_decay)
        discriminators = list(self.discriminator.parameters()) + list(self.cluster_discriminator.parameters())
        optimizers["discriminator"] = adam(discriminators, lr=adv_lr, betas=(0.5, 0.999))
        if self.config.labels:
            optimizers["supervised"] = adam(self.encoder.parameters(), lr=lr, weight_decay=weight_decay)
        return optimizers

    def training_step(self, x, y, optimizers):
        """Reconstruction -> both discriminators -> the encoder as generator of both codes -> (semi-supervised)
        cross-entropy on labelled images. The batch's labels y are never read."""
        def step(name, value):
            optimizers[name].zero_grad(set_to_none=True)
            value.backward()
            optimizers[name].step()

        logits, style = self.encode(x)
        recon = losses.reconstruction(self.decode(style, self.cluster_input(logits)), x, self.config.recon_loss).mean()
        step(self.RECON_OPTIMIZER, recon)
        with torch.no_grad():
            codes = self.encode(x)
        disc = self._discriminator_terms(*codes)
        step("discriminator", disc["disc_style"] + disc["disc_cluster"])
        gen = self._generator_terms(*self.encode(x))
        step("generator", gen["gen_style"] + gen["gen_cluster"])
        terms = {"loss": recon, "recon": recon, **disc, **gen}
        if self.config.labels:
            if self.labelled is None:
                raise RuntimeError("a semi-supervised model trains after prepare(train) has picked its labelled images")
            pick = torch.randint(len(self.labelled), (min(len(x), len(self.labelled)),))
            xl, yl = self.labelled.batch(pick, device=x.device)
            terms["xent"] = losses.cross_entropy(self.encode(xl)[0], yl)
            step("supervised", terms["xent"])
        return {k: v.detach() for k, v in terms.items()}
