import pytest
import torch

from trainer import losses
from trainer.config import ConfigError, ModelConfig
from trainer.models import MODELS, VAE, build_model

CASES = [(m, a) for m in MODELS for a in ("mlp", "conv")]


def tiny(model, arch, latent_dim=2, **kw):
    prior = kw.pop("prior", "mixture10" if model == "aae" else "gaussian")
    return ModelConfig(model=model, arch=arch, hidden=(32, 16), channels=(4, 8), latent_dim=latent_dim,
                       disc_hidden=(16,), prior=prior, **kw)


@pytest.mark.parametrize("model,arch", CASES)
@pytest.mark.parametrize("latent_dim", [1, 2, 5])
def test_shapes(model, arch, latent_dim):
    torch.manual_seed(0)
    net = build_model(tiny(model, arch, latent_dim))
    x, y = torch.rand(3, 1, 28, 28), torch.tensor([0, 4, 9])
    code = net.encode(x, y)
    if isinstance(net, VAE):
        assert code[0].shape == code[1].shape == (3, latent_dim) and code[2] is None
    else:
        assert code.shape == (3, latent_dim)
    assert net.embed(x, y).shape == (3, latent_dim)
    assert net.decode(torch.randn(3, latent_dim), y).shape == (3, 1, 28, 28)
    terms = net.loss(x, y)
    assert "loss" in terms and all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    s = net.sample(4)
    assert s.shape == (4, 1, 28, 28) and 0 <= s.min() and s.max() <= 1


@pytest.mark.parametrize("model", ["cvae", "caae"])
def test_conditional_label_changes_decoding(model):
    torch.manual_seed(0)
    net = build_model(tiny(model, "mlp"))
    z = torch.randn(1, 2)
    assert not torch.allclose(net.decode(z, torch.tensor([1])), net.decode(z, torch.tensor([7])))
    with pytest.raises(ValueError, match="conditional"):
        net.decode(z)


def test_label_guided_aae_discriminator_sees_label():
    net = build_model(tiny("aae", "mlp", prior="mixture10", label_guided=True))
    assert net.discriminator[0].in_features == 2 + 10
    z = torch.zeros(2, 2)
    assert not torch.allclose(net.discriminate(z, torch.tensor([0, 0])), net.discriminate(z, torch.tensor([3, 3])))


@pytest.mark.parametrize("model", ["vae", "cvae"])
def test_full_posterior_vae_samples_from_its_correlated_gaussian(model):
    torch.manual_seed(0)
    net = build_model(tiny(model, "mlp", latent_dim=3, posterior="full"))
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([1, 7])
    mu, logvar, tril = net.encode(x, y)
    assert mu.shape == logvar.shape == (2, 3) and tril.shape == (2, 3)  # d(d-1)/2 = 3 correlations
    assert torch.equal(net.embed(x, y), mu)
    with torch.no_grad():  # make the posterior strongly correlated, then check what the draws follow
        tril = torch.tensor([[1.5, -0.7, 0.4], [0.0, 0.9, -1.2]])
        z = net.reparameterize(mu, logvar, tril, eps=torch.randn(100_000, 2, 3))
    factor = losses.cholesky_factor(logvar, tril)
    for i in range(2):
        assert torch.allclose(z[:, i].mean(0), mu[i], atol=0.03)
        assert torch.allclose(z[:, i].T.cov(), factor[i] @ factor[i].T, atol=0.05)
    terms = net.loss(x, y)
    assert torch.isfinite(terms["loss"]) and float(terms["kl"].detach()) > 0
    assert net.log_importance_weights(x, y, k=5).shape == (5, 2)


def test_mixture_log_density_is_the_weighted_sum_of_its_gaussians():
    torch.manual_seed(0)
    z = torch.randn(7, 3)
    logits, means = torch.tensor([0.3, -1.0]), torch.randn(2, 3)
    tril = torch.tensor([[[1.0, 0, 0], [0.5, 0.8, 0], [-0.2, 0.1, 1.3]], [[0.6, 0, 0], [0, 1.1, 0], [0.3, 0, 0.7]]])
    dens = [torch.distributions.MultivariateNormal(means[k], scale_tril=tril[k]).log_prob(z).exp() for k in (0, 1)]
    weights = torch.softmax(logits, 0)
    expected = (weights[0] * dens[0] + weights[1] * dens[1]).log()
    assert torch.allclose(losses.mixture_log_density(z, logits, means, tril), expected, atol=1e-5)
    copies = losses.mixture_log_density(z, torch.zeros(4), torch.zeros(4, 3), torch.eye(3).repeat(4, 1, 1))
    assert torch.allclose(copies, losses.gaussian_log_density(z), atol=1e-5)  # K copies of N(0, I) are N(0, I)


@pytest.mark.slow
def test_vae_mixture_prior_is_fitted_to_the_codes_and_used_everywhere():
    """prior_components=K: before fitting the prior is N(0, I) (the one-sample KL then averages to the exact one);
    after_epoch fits it to the codes; sampling, the KL and the IWAE weights all use the fitted mixture."""
    from trainer.data import bundled_test_split

    torch.manual_seed(0)
    net = build_model(tiny("vae", "mlp", latent_dim=2, posterior="full", prior_components=3))
    data = bundled_test_split().head(300)
    x, _ = data.batch(torch.arange(300))
    with torch.no_grad():
        posterior = net.encode(x)
        estimates = torch.stack([net.kl(net.reparameterize(*posterior), posterior) for _ in range(4000)]).mean(0)
        assert torch.allclose(estimates, losses.kl_normal(*posterior), atol=0.05)
        net.encoder.head[-1].bias[:2] += torch.tensor([6.0, -4.0])  # codes far from N(0, I): the fit must follow
    net.after_epoch(data)
    assert net.prior_means.shape == (3, 2) and net.prior_scale_tril.shape == (3, 2, 2)
    assert "prior_scale_tril" in net.state_dict()  # saved with the weights
    codes = net.embed(x).detach()
    draws = net.sample_latent(4000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(draws, net.sample_latent(4000, generator=torch.Generator().manual_seed(1)))
    assert (draws.mean(0) - codes.mean(0)).abs().max() < 0.3  # the prior sits where the codes are, near (6, -4)
    with torch.no_grad():
        assert net.log_prior(codes).mean() > losses.gaussian_log_density(codes).mean() + 10
        posterior = net.encode(x[:4])
        z = net.reparameterize(*posterior)
        assert torch.allclose(net.kl(z, posterior), losses.gaussian_log_density(z, *posterior) - net.log_prior(z))
        torch.manual_seed(5)
        weights = net.log_importance_weights(x[:4], None, k=3)
        torch.manual_seed(5)
        z = net.reparameterize(*posterior, eps=torch.randn(3, 4, 2))
        log_px = -losses.bernoulli_nll(net.decode(z.reshape(12, 2)).flatten(1), x[:4].flatten(1).repeat(3, 1)).view(3, 4)
        expected = log_px + net.log_prior(z) - losses.gaussian_log_density(z, *posterior)
    assert torch.allclose(weights, expected, atol=1e-4)  # the IWAE bound uses the fitted prior


def test_vae_uses_one_epsilon_per_element():
    torch.manual_seed(0)
    z = VAE.reparameterize(torch.zeros(1000, 3), torch.zeros(1000, 3))
    assert z.std(0).sub(1).abs().max() < 0.1 and z.std(1).mean() > 0.5


@pytest.mark.slow
@pytest.mark.parametrize("model,arch", CASES)
def test_overfits_a_tiny_batch(model, arch):
    """Each model lowers its reconstruction loss clearly on 16 fixed images."""
    from trainer.data import bundled_test_split

    torch.manual_seed(0)
    net = build_model(tiny(model, arch, latent_dim=4))
    x, y = bundled_test_split().head(16).batch(torch.arange(16))
    opts = net.configure_optimizers(3e-3, 1e-3)
    with torch.no_grad():
        first = float(net.loss(x, y)["recon"])
    for _ in range(150):
        net.training_step(x, y, opts)
    torch.manual_seed(1)
    with torch.no_grad():
        last = float(net.loss(x, y)["recon"])
    assert last < 0.6 * first, (first, last)


@pytest.mark.parametrize("bad,match", [
    (dict(model="gan"), "unknown model"), (dict(arch="rnn"), "unknown arch"), (dict(latent_dim=0), "latent_dim"),
    (dict(prior="cube"), "unknown prior"), (dict(model="vae", recon_loss="mse"), "Bernoulli"),
    (dict(model="aae", label_guided=True), "label_guided needs"), (dict(kl_weight=-1), "kl_weight"),
    (dict(posterior="banana"), "unknown posterior"), (dict(model="aae", posterior="full"), "vae and cvae"),
    (dict(posterior="full", latent_dim=100), "<= 64"),
    (dict(model="aae", prior_components=10), "vae model only"), (dict(prior_components=-1), "prior_components"),
])
def test_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**bad).validate()
