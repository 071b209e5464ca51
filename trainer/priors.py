"""Priors over the latent space.

``mixture10`` and ``swissroll`` follow Makhzani et al. (2015, Figs. 2 and 4): a 2-D pattern with
one component (petal or roll segment) per class. It lives in the first two latent dims; any
further dims are standard normal. Passing labels picks each sample's component (label-guided mode).
The VAE's optional mixture prior is fitted to its codes (``fit_mixture``) and sampled with ``sample_mixture``.
"""
from __future__ import annotations

import math

import torch

PETAL_LONG_STD, PETAL_SHORT_STD, PETAL_SHIFT = 0.5, 0.05, 1.4  # petal shape of the mixture
ROLL_RADIUS, ROLL_TURNS = 3.0, 2.0  # swiss roll: outer radius and number of turns


def sample_prior(name: str, n: int, latent_dim: int, *, labels: torch.Tensor | None = None,
                 num_classes: int = 10, generator: torch.Generator | None = None,
                 device="cpu") -> torch.Tensor:
    """Draw n codes from the named prior; ``labels`` (n,) choose components when given."""
    if name == "gaussian":
        return torch.randn(n, latent_dim, generator=generator, device=device)
    if labels is None:
        labels = torch.randint(num_classes, (n,), generator=generator, device=device)
    labels = labels.to(device).float()
    if name == "mixture10":
        along = torch.randn(n, generator=generator, device=device) * PETAL_LONG_STD + PETAL_SHIFT
        across = torch.randn(n, generator=generator, device=device) * PETAL_SHORT_STD
        angle = 2 * math.pi * labels / num_classes
        xy = torch.stack([along * torch.cos(angle) - across * torch.sin(angle),
                          along * torch.sin(angle) + across * torch.cos(angle)], dim=1)
    elif name == "swissroll":
        u = (torch.rand(n, generator=generator, device=device) + labels) / num_classes
        radius = torch.sqrt(u) * ROLL_RADIUS
        angle = 2 * math.pi * ROLL_TURNS * torch.sqrt(u)
        xy = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    else:
        raise ValueError(f"unknown prior {name!r}; expected gaussian, mixture10 or swissroll")
    if latent_dim == 1:
        return xy[:, :1]
    rest = torch.randn(n, latent_dim - 2, generator=generator, device=device)
    return torch.cat([xy, rest], dim=1)


def sample_categorical(n: int, categories: int, *, generator: torch.Generator | None = None,
                       device="cpu") -> torch.Tensor:
    """n one-hot vectors (n, categories) of a uniform categorical: the clustered AAE's prior over its code y."""
    which = torch.randint(categories, (n,), generator=generator, device=device)
    return torch.nn.functional.one_hot(which, categories).float()


def fit_mixture(codes: torch.Tensor, components: int, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """A Gaussian mixture (full covariances, fitted by EM) to codes (n, d): its log weights, means and Cholesky
    factors, as the VAE's mixture prior stores them."""
    from sklearn.mixture import GaussianMixture

    codes = codes.double().cpu().numpy()
    gm = GaussianMixture(components, covariance_type="full", reg_covar=1e-4, max_iter=200, random_state=seed)
    gm.fit(codes)
    return {"logits": torch.as_tensor(gm.weights_).log().float(), "means": torch.as_tensor(gm.means_).float(),
            "scale_tril": torch.linalg.cholesky(torch.as_tensor(gm.covariances_)).float()}


def sample_mixture(n: int, logits: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from the Gaussian mixture of ``fit_mixture`` (on the CPU, reproducible with ``generator``)."""
    logits, means, scale_tril = logits.cpu(), means.cpu(), scale_tril.cpu()
    which = torch.multinomial(torch.softmax(logits, 0), n, replacement=True, generator=generator)
    eps = torch.randn(n, means.shape[1], 1, generator=generator)
    return means[which] + (scale_tril[which] @ eps).squeeze(-1)
