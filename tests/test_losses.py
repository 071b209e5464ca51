import math

import pytest
import torch
import torch.nn.functional as F

from trainer import losses
from trainer.priors import sample_prior


def test_bernoulli_nll_matches_direct_formula():
    torch.manual_seed(0)
    logits, x = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    p = torch.sigmoid(logits.double())
    direct = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
    assert torch.allclose(losses.bernoulli_nll(logits, x).double(), direct, atol=1e-3)
    # no NaN or inf where a probability saturates to 0 or 1
    assert torch.isfinite(losses.bernoulli_nll(torch.full((1, 4), 200.0), torch.zeros(1, 4))).all()


def test_kl_analytic_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[-0.3, 0.4, -1.2]])
    z = mu + torch.randn(400_000, 3) * torch.exp(0.5 * logvar)
    mc = (losses.gaussian_log_density(z, mu, logvar) - losses.gaussian_log_density(z)).mean()
    analytic = losses.kl_normal(mu, logvar)
    assert analytic.shape == (1,)
    assert abs(float(analytic) - float(mc)) < 0.02
    # hand-computed: 0.5 * sum(mu^2 + e^lv - 1 - lv)
    expected = 0.5 * sum(m * m + math.exp(v) - 1 - v for m, v in zip([0.5, -1.0, 2.0], [-0.3, 0.4, -1.2]))
    assert float(analytic) == pytest.approx(expected, rel=1e-6)


def test_full_covariance_density_and_kl_match_torch_distributions():
    """posterior="full": log N(z; mu, L L^T) and its KL to N(0, I) against torch's own MultivariateNormal."""
    torch.manual_seed(0)
    mu, logvar, tril = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    factor = losses.cholesky_factor(logvar, tril)
    assert torch.equal(factor, factor.tril()) and torch.allclose(factor.diagonal(dim1=-2, dim2=-1), (0.5 * logvar).exp())
    assert torch.equal(factor[:, 2, :2], tril[:, 1:])  # row by row below the diagonal: (1,0), (2,0), (2,1)
    q = torch.distributions.MultivariateNormal(mu, scale_tril=factor)
    prior = torch.distributions.MultivariateNormal(torch.zeros(3), torch.eye(3))
    z = torch.randn(7, 5, 3)  # leading sample dim, as in the IWAE bound
    assert torch.allclose(losses.gaussian_log_density(z, mu, logvar, tril), q.log_prob(z), atol=1e-4)
    assert torch.allclose(losses.kl_normal(mu, logvar, tril), torch.distributions.kl_divergence(q, prior), atol=1e-4)
    # zero off-diagonal entries give back the diagonal posterior
    zero = torch.zeros_like(tril)
    assert torch.allclose(losses.kl_normal(mu, logvar, zero), losses.kl_normal(mu, logvar))
    assert torch.allclose(losses.gaussian_log_density(z, mu, logvar, zero), losses.gaussian_log_density(z, mu, logvar))


def test_vae_terms_are_per_image_sums_averaged_over_batch():
    torch.manual_seed(1)
    logits, x = torch.randn(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 2), torch.randn(4, 2)
    terms = losses.vae_terms(logits, x, losses.kl_normal(mu, logvar), kl_weight=0.5)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 4
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()) / 4
    assert float(terms["recon"]) == pytest.approx(float(recon), rel=1e-5)
    assert float(terms["kl"]) == pytest.approx(float(kl), rel=1e-5)
    assert float(terms["neg_elbo"]) == pytest.approx(float(recon + kl), rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(float(recon + 0.5 * kl), rel=1e-5)


def test_adversarial_losses():
    confident_right = losses.discriminator_loss(torch.full((8,), 10.0), torch.full((8,), -10.0))
    confident_wrong = losses.discriminator_loss(torch.full((8,), -10.0), torch.full((8,), 10.0))
    assert float(confident_right) < 1e-3 < 19 < float(confident_wrong)
    assert float(losses.generator_loss(torch.zeros(5))) == pytest.approx(math.log(2))


def test_mmd_small_for_same_distribution_large_for_different():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 2, generator=g), torch.randn(500, 2, generator=g)
    assert abs(float(losses.mmd_rbf(a, b))) < 0.02
    assert float(losses.mmd_rbf(a, b + 3)) > 0.5


@pytest.mark.parametrize("prior", ["gaussian", "mixture10", "swissroll"])
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_prior_shapes(prior, dim):
    z = sample_prior(prior, 64, dim, generator=torch.Generator().manual_seed(0))
    assert z.shape == (64, dim) and torch.isfinite(z).all()


def test_label_guided_mixture_puts_each_label_on_its_petal():
    labels = torch.arange(10).repeat(200)
    z = sample_prior("mixture10", len(labels), 2, labels=labels, generator=torch.Generator().manual_seed(0))
    angle = torch.atan2(z[:, 1], z[:, 0]) % (2 * math.pi)
    expected = 2 * math.pi * labels / 10
    diff = torch.remainder(angle - expected + math.pi, 2 * math.pi) - math.pi
    assert (diff.abs() < math.pi / 10).float().mean() > 0.97
