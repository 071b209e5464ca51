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


def test_vae_uses_one_epsilon_per_element():
    torch.manual_seed(0)
    z = VAE.reparameterize(torch.zeros(1000, 3), torch.zeros(1000, 3))
    assert z.std(0).sub(1).abs().max() < 0.1 and z.std(1).mean() > 0.5


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
])
def test_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**bad).validate()
