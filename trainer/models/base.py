"""The one model interface: encode / decode (logits) / loss (dict of named terms) / sample."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..layers import Decoder, Encoder


def adam(params, **kwargs) -> torch.optim.Adam:
    """Adam with the fused kernel where PyTorch has one (CPU, CUDA): far less per-step overhead for small models.

    A ``weight_decay`` is decoupled from the gradient (AdamW); the default 0 is plain Adam."""
    params = list(params)
    fused = params[0].device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, fused=fused, decoupled_weight_decay=True, **kwargs)


def identities(*batch: int, d: int) -> torch.Tensor:
    """Identity matrices (*batch, d, d). Not torch.eye: on the meta device (models.state_shapes) that pulls in
    about 150 MB of PyTorch's Python decompositions, for good."""
    out = torch.zeros(*batch, d, d)
    out.diagonal(dim1=-2, dim2=-1).fill_(1.0)
    return out


class Autoencoder(nn.Module):
    """Shared body of every model: an encoder and a decoder built from ``ModelConfig``.

    Subclasses say how many numbers their encoder emits, how the latent code is read from them,
    what their loss is and how to sample. Conditional variants (cvae, caae) get the one-hot
    label concatenated to the encoder's input and to the decoder's input.
    """

    TRAINING_ONLY: tuple[str, ...] = ()  # weights (name prefixes) needed to train on, not to encode/decode/sample

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config.validate()
        cond_dim = config.num_classes if config.conditional else 0
        shape = dict(arch=config.arch, image_size=config.image_size, hidden=config.hidden,
                     channels=config.channels, activation=config.activation)
        self.encoder = Encoder(**shape, cond_dim=cond_dim, out_dim=self.encoder_width(config))
        self.decoder = Decoder(**shape, cond_dim=cond_dim + config.clusters, latent_dim=config.latent_dim)

    # -- helpers -------------------------------------------------------------
    @staticmethod
    def encoder_width(config: ModelConfig) -> int:
        """Numbers the encoder emits per image: the code itself here, a distribution's parameters in the VAE."""
        return config.latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def needs_labels(self) -> bool:
        return self.config.conditional

    def onehot(self, y: torch.Tensor | None) -> torch.Tensor | None:
        if not self.config.conditional:
            return None
        if y is None:
            raise ValueError(f"the {self.config.model} model is conditional: pass labels y")
        return F.one_hot(torch.as_tensor(y, device=self.device).long(), self.config.num_classes).float()

    # -- the interface -------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.encoder(x, self.onehot(y))

    def embed(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The deterministic latent code of x (the mean for a VAE): what scatters and kNN use."""
        return self.encode(x, y)

    def training_code(self, x: torch.Tensor, y: torch.Tensor | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """A code as the decoder sees them in training: ``embed``'s here, a draw from q(z|x) for a VAE."""
        return self.embed(x, y)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of p(x|z), shape (B, 1, H, W)."""
        return self.decoder(z, self.onehot(y))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.embed(x, y), y)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def sample_latent(self, n: int, y: torch.Tensor | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes from the distribution this model decodes from (its prior)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (probabilities in [0, 1], (n, 1, H, W)) decoded from prior samples."""
        if self.config.conditional and y is None:
            y = torch.arange(n) % self.config.num_classes
        z = self.sample_latent(n, y, generator)
        return torch.sigmoid(self.decode(z.to(self.device), y))

    # -- training hooks the model-agnostic loop calls ------------------------
    def configure_optimizers(self, lr: float, adv_lr: float,
                             weight_decay: float = 0.0) -> dict[str, torch.optim.Optimizer]:
        return {"model": adam(self.parameters(), lr=lr, weight_decay=weight_decay)}

    RECON_OPTIMIZER = "model"  # the optimizer (of configure_optimizers) that holds the decoder's weights

    def training_step(self, x, y, optimizers) -> dict[str, torch.Tensor]:
        terms = self.loss(x, y)
        opt = optimizers[self.RECON_OPTIMIZER]
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        return {k: v.detach() for k, v in terms.items()}

    def decoder_step(self, x, y, optimizers) -> dict[str, torch.Tensor]:
        """A step on the reconstruction term for the decoder alone (``TrainConfig.decoder_epochs``): the encoder,
        and with it the codes and how well they match the prior, stays as it is."""
        opt = optimizers[self.RECON_OPTIMIZER]
        self.encoder.requires_grad_(False)  # no gradient, so the optimizer leaves the encoder's weights alone
        try:
            terms = self.loss(x, y)
            opt.zero_grad(set_to_none=True)
            terms["recon"].backward()
            opt.step()
        finally:
            self.encoder.requires_grad_(True)
        return {k: v.detach() for k, v in terms.items()}

    def prepare(self, train, *, seed: int = 0) -> None:
        """Called by ``fit`` with the training split before the first epoch it trains (also on --resume); must not
        draw from torch's global RNG (the semi-supervised AAE picks its labelled images here)."""

    def after_epoch(self, train) -> None:
        """Called with the training split after each epoch (the AE fits its sampling Gaussian here)."""

    @torch.no_grad()
    def embed_split(self, split, batch_size: int = 1000, code=None) -> torch.Tensor:
        """Latent codes (on the CPU) of every image in a data split: ``code(x, y)``, by default ``embed``."""
        code = code or self.embed
        was_training = self.training
        self.eval()
        codes = [code(x, y).cpu() for x, y in split.batches(batch_size, device=self.device)]
        self.train(was_training)
        return torch.cat(codes)
