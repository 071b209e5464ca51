"""Every loss term in one place, in nats per image: summed over pixels / latent dims, averaged over the batch."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) per image (B,): Bernoulli likelihood of gray pixels, summed over pixels."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def squared_error(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum of squared pixel errors per image (B,), on probabilities sigmoid(logits)."""
    return (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1)


def reconstruction(logits: torch.Tensor, x: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    return bernoulli_nll(logits, x) if kind == "bce" else squared_error(logits, x)


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor, tril: torch.Tensor | None = None) -> torch.Tensor:
    """KL(q || N(0, I)) per image (B,), summed over latent dims, for q = N(mu, diag(exp(logvar))).

    With ``tril`` (the below-diagonal entries of the Cholesky factor L, whose diagonal is exp(logvar / 2))
    q = N(mu, L L^T): the trace grows by the squared off-diagonal entries, log det stays sum(logvar)."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return kl if tril is None else kl + 0.5 * tril.pow(2).sum(1)


def cholesky_factor(logvar: torch.Tensor, tril: torch.Tensor) -> torch.Tensor:
    """The lower-triangular L (..., d, d) with diagonal exp(logvar / 2) and ``tril`` below it, row by row."""
    d = logvar.shape[-1]
    rows, cols = torch.tril_indices(d, d, offset=-1, device=logvar.device)
    below = logvar.new_zeros(*logvar.shape, d)
    below[..., rows, cols] = tril
    return below + torch.diag_embed(torch.exp(0.5 * logvar))


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor | float = 0.0,
                         logvar: torch.Tensor | float = 0.0, tril: torch.Tensor | None = None) -> torch.Tensor:
    """log N(z; mu, Sigma) summed over the last dim; Sigma = diag(exp(logvar)), or L L^T given ``tril``."""
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    if tril is None:
        return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)
    factor = cholesky_factor(logvar, tril).expand(*z.shape, z.shape[-1])
    white = torch.linalg.solve_triangular(factor, (z - mu).unsqueeze(-1), upper=False).squeeze(-1)
    return -0.5 * (LOG_2PI + logvar + white.pow(2)).sum(-1)


def mixture_log_density(z: torch.Tensor, logits: torch.Tensor, means: torch.Tensor,
                        scale_tril: torch.Tensor) -> torch.Tensor:
    """log p(z) over the last dim for a mixture of K Gaussians: weights softmax(logits) (K,), means (K, d),
    covariances L L^T from the Cholesky factors ``scale_tril`` (K, d, d)."""
    from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

    mixture = MixtureSameFamily(Categorical(logits=logits), MultivariateNormal(means, scale_tril=scale_tril))
    return mixture.log_prob(z)


def vae_terms(logits, x, kl: torch.Tensor, *, kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Batch means of the VAE terms from the logits and each image's KL (B,); ``neg_elbo`` is the true -ELBO,
    ``loss`` weights KL by beta."""
    recon = bernoulli_nll(logits, x).mean()
    kl = kl.mean()
    return {"loss": recon + kl_weight * kl, "recon": recon, "kl": kl, "neg_elbo": recon + kl}


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Prior samples are real (1), encoder codes are fake (0)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The encoder tries to make its codes look like prior samples (non-saturating form)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log q(y|x) of the true labels (nats per image, averaged over the batch): the supervised term of a
    semi-supervised model, from the logits (B, K) of q(y|x)."""
    return F.cross_entropy(logits, labels.long())


def mmd_rbf(a: torch.Tensor, b: torch.Tensor, scales=(0.2, 0.5, 1.0, 2.0, 5.0)) -> torch.Tensor:
    """Unbiased squared MMD between samples a (n, d) and b (m, d), sum of RBF kernels."""
    def kernel(u, v):
        d2 = torch.cdist(u, v).pow(2)
        return sum(torch.exp(-d2 / (2 * s * s)) for s in scales)

    n, m = len(a), len(b)
    kaa, kbb, kab = kernel(a, a), kernel(b, b), kernel(a, b)
    return ((kaa.sum() - kaa.diagonal().sum()) / (n * (n - 1))
            + (kbb.sum() - kbb.diagonal().sum()) / (m * (m - 1)) - 2 * kab.mean())
