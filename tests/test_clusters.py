"""The clustered AAE (--model aae --clusters K [--labels N]): shapes, cluster(), the metrics, labels, checkpoints."""
import numpy as np
import pytest
import torch

from trainer import checkpoint as C
from trainer.config import ConfigError, ModelConfig, TrainConfig
from trainer.data import DataError, balanced_subset, bundled_test_split
from trainer.evaluate import cluster_accuracy, cluster_metrics, confusion, evaluate, majority_labels
from trainer.models import ClusterAAE, build_model
from trainer.train import fit, new_model


def tiny(arch="mlp", clusters=10, labels=0, latent_dim=2, **kw):
    kw = {"hidden": (32, 16), "channels": (4, 8), "disc_hidden": (16,), **kw}
    return ModelConfig(model="aae", arch=arch, latent_dim=latent_dim, clusters=clusters, labels=labels, **kw)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("clusters,labels", [(16, 0), (10, 20)])
@pytest.mark.parametrize("latent_dim", [1, 2, 5])
def test_shapes(arch, clusters, labels, latent_dim):
    torch.manual_seed(0)
    net = build_model(tiny(arch, clusters, labels, latent_dim))
    assert isinstance(net, ClusterAAE)
    x, y = torch.rand(3, 1, 28, 28), torch.tensor([0, 4, 9])
    logits, style = net.encode(x)
    assert logits.shape == (3, clusters) and style.shape == (3, latent_dim)
    assert torch.equal(net.embed(x), style) and torch.equal(net.embed(x, y), style)  # labels are not read
    assert net.cluster(x).shape == (3,) and net.cluster(x).dtype == torch.long
    assert torch.allclose(net.cluster_probs(x).sum(1), torch.ones(3))
    ids = torch.tensor([0, clusters - 1, 3])
    assert net.decode(torch.randn(3, latent_dim), ids).shape == (3, 1, 28, 28)
    assert torch.equal(net.decode(style, ids), net.decode(style, torch.eye(clusters)[ids]))  # ids = one-hot rows
    assert net.reconstruct(x, y).shape == (3, 1, 28, 28)
    terms = net.loss(x, y)
    expected = {"loss", "recon", "disc_style", "disc_cluster", "gen_style", "gen_cluster"}
    assert set(terms) == expected | ({"xent", "error"} if labels else set())
    assert all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    s = net.sample(clusters + 2)
    assert s.shape == (clusters + 2, 1, 28, 28) and 0 <= s.min() and s.max() <= 1
    assert net.sample_latent(4).shape == (4, latent_dim)
    with pytest.raises(ValueError, match="pass y"):
        net.decode(style)
    with pytest.raises(ValueError, match=f"clusters are 0..{clusters - 1}"):
        net.decode(style[:1], torch.tensor([clusters]))


def test_cluster_is_the_argmax_of_q_y_on_a_hand_made_two_cluster_encoder():
    """Hidden unit 0 sums the top half of the image, unit 1 the bottom half; logit k copies unit k; the style
    (after the two logits) copies both units. Top-heavy images are cluster 0, bottom-heavy ones cluster 1."""
    net = build_model(tiny(clusters=2, latent_dim=2, hidden=(2,)))
    first, last = net.encoder.head[0], net.encoder.head[2]
    with torch.no_grad():
        first.weight.zero_(), first.bias.zero_(), last.weight.zero_(), last.bias.zero_()
        first.weight[0, :14 * 28] = 1.0 / 392  # mean of the top rows
        first.weight[1, 14 * 28:] = 1.0 / 392
        last.weight[:2] = torch.eye(2)  # logits
        last.weight[2:] = torch.eye(2)  # style
    x = torch.zeros(4, 1, 28, 28)
    x[0, :, :14], x[1, :, :10] = 1.0, 0.7  # top
    x[2, :, 14:], x[3, :, 20:] = 1.0, 0.3  # bottom
    assert net.cluster(x).tolist() == [0, 0, 1, 1]
    probs = net.cluster_probs(x)
    assert (probs[:2, 0] > 0.5).all() and (probs[2:, 1] > 0.5).all()
    assert torch.allclose(net.embed(x), net.encode(x)[0])  # the style copies the same two units here


def test_cluster_accuracy_maps_each_cluster_to_its_training_majority():
    # training: cluster 0 holds digits 3,3,5 (-> 3), cluster 1 holds 5,5,3 (-> 5), cluster 2 holds 7 (-> 7),
    # cluster 3 none (-> -1, always wrong); a tie in cluster 4 (1, 2) goes to the smaller digit
    train_clusters = [0, 0, 0, 1, 1, 1, 2, 4, 4]
    train_labels = [3, 3, 5, 5, 5, 3, 7, 2, 1]
    counts = confusion(train_clusters, train_labels, 5, 10)
    assert counts.shape == (5, 10) and counts[0, 3] == 2 and counts[1, 5] == 2 and counts.sum() == 9
    assert majority_labels(counts).tolist() == [3, 5, 7, -1, 1]
    # test: right, right, wrong (a 3 in the 5-cluster), right, wrong (empty cluster), right, wrong
    test_clusters = [0, 1, 1, 2, 3, 4, 4]
    test_labels = [3, 5, 3, 7, 0, 1, 2]
    assert cluster_accuracy(train_clusters, train_labels, test_clusters, test_labels, 5, 10) == pytest.approx(4 / 7)
    # the mapping comes from the training members, not the test ones: a test split that disagrees scores 0
    assert cluster_accuracy([0, 0, 1], [1, 1, 2], [0, 1], [2, 1], 2, 10) == 0.0


@pytest.mark.parametrize("n", [10, 20, 37, 100])
def test_balanced_subset_picks_exactly_n_balanced_and_seeded(n):
    labels = bundled_test_split().labels
    index = balanced_subset(labels, n, 10, seed=3)
    assert len(index) == n and len(set(index.tolist())) == n
    per_class = torch.bincount(labels[index], minlength=10)
    assert per_class.max() - per_class.min() <= 1 and int(per_class.sum()) == n
    assert torch.equal(index, balanced_subset(labels, n, 10, seed=3))
    assert not torch.equal(index, balanced_subset(labels, n, 10, seed=4))
    with pytest.raises(DataError, match="need 3 of class 0"):
        balanced_subset(torch.tensor([0, 0, 1, 1, 1, 1]), 6, 2)


@pytest.mark.slow
def test_semi_supervised_training_uses_exactly_its_n_labels(small_data, tmp_path):
    """fit picks N = 30 labelled images (3 per class, seeded, saved with the weights); a training step reads
    their labels and no label of its batch."""
    n = 30
    model = new_model(tiny(labels=n), seed=0)
    fit(model, small_data, TrainConfig(epochs=1, batch_size=64, seed=5), run_dir=tmp_path / "semi")
    index = model.labelled_index
    assert len(index) == n and len(set(index.tolist())) == n
    assert torch.equal(index, balanced_subset(small_data.train.labels, n, 10, seed=5))
    assert torch.equal(model.labelled.labels, small_data.train.labels[index])
    assert torch.equal(model.labelled.images, small_data.train.images[index])
    assert torch.bincount(model.labelled.labels, minlength=10).tolist() == [3] * 10
    saved = C.read_safetensors(tmp_path / "semi" / "model.safetensors")[0]["labelled_index"]
    assert torch.equal(saved, index)

    x, y = small_data.train.batch(torch.arange(64))

    def one_step(batch_labels, labelled_labels=None):
        torch.manual_seed(0)
        net = new_model(tiny(labels=n), seed=1)
        net.prepare(small_data.train, seed=5)
        if labelled_labels is not None:
            net.labelled.labels = labelled_labels
        terms = net.training_step(x, batch_labels, net.configure_optimizers(1e-3, 1e-3))
        return terms, torch.cat([p.detach().flatten() for p in net.parameters()])

    terms, weights = one_step(y)
    assert "xent" in terms
    garbage_terms, garbage_weights = one_step(torch.randint(10, (64,)))  # the batch's labels are never read
    assert torch.equal(weights, garbage_weights) and terms.keys() == garbage_terms.keys()
    _, relabelled = one_step(y, (model.labelled.labels + 1) % 10)  # the labelled images' labels are
    assert not torch.equal(weights, relabelled)


@pytest.mark.slow
def test_unsupervised_training_reads_no_label(small_data):
    x, y = small_data.train.batch(torch.arange(64))

    def one_step(labels):
        torch.manual_seed(0)
        net = new_model(tiny(clusters=16), seed=1)
        net.prepare(small_data.train)
        net.training_step(x, labels, net.configure_optimizers(1e-3, 1e-3))
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(one_step(y), one_step(torch.randint(10, (64,))))


@pytest.mark.slow
@pytest.mark.parametrize("labels", [0, 20])
def test_checkpoint_round_trip_resume_and_export_without_training_weights(small_data, tmp_path, labels):
    from safetensors.torch import save_file

    cfg = tiny(clusters=10, labels=labels)
    train = TrainConfig(epochs=2, batch_size=64, log_every=4)
    full = fit(new_model(cfg, seed=0), small_data, train, run_dir=tmp_path / "full")
    fit(new_model(cfg, seed=0), small_data, TrainConfig(epochs=1, batch_size=64, log_every=4), run_dir=tmp_path / "r")
    resumed = fit(C.load(tmp_path / "r").model, small_data, train, run_dir=tmp_path / "r", resume=True)
    for key, value in full.metrics.items():
        if key.startswith(("train_", "test_")):
            assert resumed.metrics[key] == pytest.approx(value, rel=1e-6), key
    run = C.load(tmp_path / "full")
    assert isinstance(run.model, ClusterAAE) and run.model_config.clusters == 10 and run.model_config.labels == labels
    x, _ = small_data.test.batch(torch.arange(8))
    original = new_model(cfg, seed=0)
    original.load_state_dict(C.read_safetensors(tmp_path / "full" / "model.safetensors")[0])
    original.eval()
    assert torch.equal(run.model.cluster(x), original.cluster(x))
    assert torch.equal(run.model.reconstruct(x), original.reconstruct(x))
    # as pretrained.build exports it: no discriminators, no labelled index; it decodes the same
    tensors, _ = C.read_safetensors(tmp_path / "full" / "model.safetensors")
    kept = {k: v.half() for k, v in tensors.items() if not k.startswith(ClusterAAE.TRAINING_ONLY)}
    assert not any("discriminator" in k for k in kept) and "labelled_index" not in kept
    save_file(kept, tmp_path / "full" / "model.safetensors")
    light = C.load(tmp_path / "full").model
    assert torch.equal(light.cluster(x), run.model.cluster(x))
    assert torch.allclose(light.decode(torch.zeros(2, 2), torch.tensor([0, 9])),
                          run.model.decode(torch.zeros(2, 2), torch.tensor([0, 9])), atol=0.05)


@pytest.mark.slow
def test_eval_reports_cluster_accuracy_and_the_semi_supervised_error(small_data, tmp_path):
    semi = new_model(tiny(labels=20), seed=0)
    fit(semi, small_data, TrainConfig(epochs=1, batch_size=64), run_dir=tmp_path / "semi")
    results = evaluate(semi, small_data.train, small_data.test)
    assert 0 <= results["cluster_accuracy"] <= 1 and 1 <= results["clusters_used"] <= 10
    clusters = semi.cluster(small_data.test.batch(torch.arange(len(small_data.test)))[0]).numpy()
    assert results["classification_error"] == pytest.approx(float((clusters != small_data.test.labels.numpy()).mean()))
    unsupervised = new_model(tiny(clusters=16), seed=0)
    assert "classification_error" not in cluster_metrics(unsupervised, small_data.train, small_data.test)


def test_cluster_accuracy_of_a_perfect_clusterer_is_one(small_data):
    """A model whose clusters are the digits (two clusters per digit, split by parity of the index) scores 1."""
    class Oracle:
        config = tiny(clusters=20)
        device = torch.device("cpu")
        lookup = {}

        def eval(self):
            return self

        def cluster(self, x):
            return torch.tensor([self.lookup[bytes(img.numpy().tobytes())] for img in x])

    oracle = Oracle()
    for split in (small_data.train, small_data.test):
        for i, (img, label) in enumerate(zip(split.images, split.labels)):
            oracle.lookup[bytes((img.float() / 255).unsqueeze(0).numpy().tobytes())] = 2 * int(label) + i % 2
    results = cluster_metrics(oracle, small_data.train, small_data.test)
    assert results["cluster_accuracy"] == 1.0 and results["clusters_used"] == 20


@pytest.mark.parametrize("bad,match", [
    (dict(model="vae", clusters=16), "aae model only"), (dict(model="caae", clusters=16), "aae model only"),
    (dict(model="aae", clusters=1), "between 2 and"), (dict(model="aae", clusters=-2), "between 2 and"),
    (dict(model="aae", clusters=16, prior="mixture10"), "prior gaussian"),
    (dict(model="aae", clusters=10, prior="mixture10", label_guided=True), "prior gaussian"),
    (dict(model="aae", clusters=16, labels=100), "needs clusters = 10"),
    (dict(model="aae", labels=100), "needs clusters = 10"),
    (dict(model="aae", clusters=10, labels=5), "at least 10"), (dict(model="aae", labels=-1), "labels must be"),
])
def test_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**bad).validate()


def test_too_many_labels_for_the_training_split_is_a_clear_error(small_data):
    model = new_model(tiny(labels=5000), seed=0)
    with pytest.raises(DataError, match="5000 labelled images"):
        fit(model, small_data, TrainConfig(epochs=1, batch_size=64))


def test_sampled_from_and_label_count():
    assert tiny(clusters=16).sampled_from == "uniform over 16 clusters × N(0, I) style"
    assert tiny(clusters=16).label_count == 16 and ModelConfig().label_count == 10
    assert tiny(clusters=16).clustered and not ModelConfig(model="aae").clustered


@pytest.mark.slow
def test_the_clustered_aae_overfits_a_tiny_batch():
    torch.manual_seed(0)
    net = build_model(tiny(clusters=4, latent_dim=4))
    x, y = bundled_test_split().head(16).batch(torch.arange(16))
    opts = net.configure_optimizers(3e-3, 1e-3)
    with torch.no_grad():
        first = float(net.loss(x)["recon"])
    for _ in range(150):
        net.training_step(x, y, opts)
    with torch.no_grad():
        last = float(net.loss(x)["recon"])
    assert last < 0.6 * first, (first, last)
    assert np.isfinite(last)


# -- explorer: the registry and explorer.clusters on a clustered model -------------------------------------------
@pytest.fixture(scope="module")
def clustered_run(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("clustered") / "aae-c6"
    fit(new_model(tiny(clusters=6), seed=0), small_data, TrainConfig(epochs=1, batch_size=64), run_dir=folder)
    return folder


@pytest.mark.slow
def test_registry_entry_decodes_a_chosen_clusters_style_plane(clustered_run, small_data):
    from explorer.registry import make_entry

    entry = make_entry("runs/aae-c6", "aae-c6", clustered_run, small_data.test)
    assert entry.latents.shape == (len(small_data.test), 2) and "latent" in entry.views  # the style plane
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 4), np.linspace(-2, 2, 4)), -1).reshape(-1, 2)
    planes = [entry.decode(grid, k) for k in range(6)]
    assert all(p.shape == (16, 28, 28) and 0 <= p.min() and p.max() <= 1 for p in planes)
    assert not np.allclose(planes[0], planes[5])  # the cluster changes the decoding
    assert np.allclose(entry.decode(grid), planes[0])  # no cluster given: cluster 0
    x = torch.as_tensor(small_data.test.batch(torch.arange(16))[0])
    expected = torch.sigmoid(entry.model.decode(entry.model.embed(x), torch.arange(16) % 6))[:, 0].detach().numpy()
    assert np.allclose(entry.decode(entry.encode(x.numpy()), np.arange(16) % 6), expected, atol=1e-5)


@pytest.mark.slow
def test_cluster_summary_heads_and_confusion_figure(clustered_run, small_data):
    from explorer import clusters as views
    from explorer.registry import make_entry

    summary = views.summarize([0, 0, 0, 1, 1, 3], [7, 7, 1, 2, 2, 9], 4)
    assert summary.majority.tolist() == [7, 2, -1, 9] and summary.size.tolist() == [3, 2, 0, 1]
    assert summary.purity.tolist() == pytest.approx([2 / 3, 1.0, 0.0, 1.0])
    assert summary.accuracy == pytest.approx(5 / 6)
    assert summary.merged()[7] == [0] and summary.merged()[4] == []
    fig = views.confusion_figure(summary)
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (4, 10) and np.asarray(heat.z).sum() == 6
    assert list(heat.y) == ["cluster 1 → 2", "cluster 0 → 7", "cluster 3 → 9", "cluster 2 → —"]  # by digit

    entry = make_entry("runs/aae-c6", "aae-c6", clustered_run, small_data.test)
    assert views.is_clustered(entry)
    found = views.test_clusters(entry, small_data.test)
    assert found.shape == (len(small_data.test),) and found.min() >= 0 and found.max() < 6
    summary = views.summarize(found, entry.labels, 6)
    assert views.head_images(entry).shape == (6, 28, 28)
    image = views.cluster_heads(entry, summary, cols=3)
    assert image.ndim == 3 and image.shape[2] == 3 and image.shape[1] > image.shape[0] / 2


@pytest.mark.parametrize("kind", ["softmax", "hard", "gumbel"])
def test_cluster_input_is_what_the_decoder_gets_of_q_y(kind):
    torch.manual_seed(0)
    net = build_model(tiny(clusters=6, cluster_input=kind))
    logits = torch.randn(32, 6, requires_grad=True)
    probs = torch.softmax(logits, 1)
    net.train()
    code = net.cluster_input(logits)
    if kind == "softmax":
        assert torch.allclose(code, probs)
    else:  # one-hot forward (of the argmax, or of a Gumbel draw), the softmax's gradient backward
        onehot = torch.eye(6)[code.detach().argmax(1)]
        assert torch.allclose(code.detach(), onehot, atol=1e-6)
        code[:, 0].sum().backward()
        assert logits.grad.abs().sum() > 0
        if kind == "hard":
            assert torch.equal(code.detach().argmax(1), logits.argmax(1))
        else:  # a draw: not always the argmax, but mostly where q(y|x) puts its mass
            assert not torch.equal(code.detach().argmax(1), logits.argmax(1))
    net.eval()  # measuring: the argmax (softmax stays the probabilities)
    expected = probs if kind == "softmax" else torch.eye(6)[logits.argmax(1)]
    assert torch.allclose(net.cluster_input(logits.detach()), expected.detach())


def test_cluster_disc_noise_blurs_what_the_cluster_adversary_sees_in_training_only():
    net = build_model(tiny(clusters=4, cluster_disc_noise=0.5))
    y = torch.eye(4).repeat(8, 1)
    net.train()
    torch.manual_seed(0)
    noisy = net.discriminate_cluster(y)
    torch.manual_seed(1)
    assert not torch.equal(noisy, net.discriminate_cluster(y))
    net.eval()
    assert torch.equal(net.discriminate_cluster(y), net.cluster_discriminator(y).squeeze(1))
    with pytest.raises(ConfigError, match="clusters only"):
        ModelConfig(model="aae", cluster_disc_noise=0.3).validate()
    with pytest.raises(ConfigError, match="clusters only"):
        ModelConfig(model="aae", cluster_input="gumbel").validate()


@pytest.mark.slow
def test_the_clusters_tab_names_what_a_clustered_aae_found_and_merged(monkeypatch, tmp_path):
    """The Clusters tab on the shipped aae-cluster16: its heads, the confusion heatmap and the words agree."""
    from explorer import clusters
    from explorer.registry import Registry
    from explorer.ui import clusters as tab
    from explorer.ui import models
    from explorer.ui.session import Session
    from conftest import ROOT

    registry = Registry(pretrained=ROOT / "pretrained", runs=tmp_path)
    monkeypatch.setattr(models, "REGISTRY", registry)
    keys = ["pretrained/vae-2d", "pretrained/aae-cluster16"]
    out = tab.clusters_view(keys, Session())
    heads, figure, text = out["clusters_heads"], out["clusters_matrix"], out["clusters_text"]
    entry = registry.get("pretrained/aae-cluster16")
    summary = clusters.summarize(entry.label_of, entry.labels, 16)
    assert heads.ndim == 3 and figure.data[0].z.sum() == len(entry.labels)
    assert f"{summary.accuracy:.0%} of the test digits are their cluster's majority digit" in text
    assert summary.accuracy == pytest.approx(entry.run.metrics["eval"]["cluster_accuracy"], abs=0.03)
    none = tab.clusters_view(["pretrained/vae-2d"], Session())
    assert none["clusters_heads"] is None and "None of the shown models has clusters" in none["clusters_text"]
    added = tab.add_clustered(["pretrained/vae-2d"], Session())["models"]["value"]
    assert added == ["pretrained/vae-2d", "pretrained/aae-cluster16", "pretrained/aae-semi100"]


def test_a_clustered_plane_decodes_the_chosen_cluster_and_auto_its_nearest_digits(monkeypatch, tmp_path):
    from explorer import actions
    from explorer.registry import Registry
    from conftest import ROOT

    entry = Registry(pretrained=ROOT / "pretrained", runs=tmp_path).get("pretrained/aae-cluster16")
    view = entry.view("umap")
    point = view.xy[123]
    assert actions.conditional_label(entry, view, point, 5) == 5
    assert actions.conditional_label(entry, view, point, "auto") == entry.label_of[123]  # its cluster, not digit
    assert actions.conditional_label(entry, view, point, 40) == entry.label_of[123]  # no cluster 40: auto
    images = actions.decode_targets(actions.click_targets([entry], 0, point, label=5))
    assert np.allclose(images[0], entry.decode(point[None], [5])[0])
