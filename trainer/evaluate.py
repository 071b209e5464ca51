"""Quality metrics of a trained model on the held-out split, all per image in nats where they are likelihoods."""
from __future__ import annotations

import math

import numpy as np
import torch

from . import checkpoint, losses
from .data import Split
from .models import VAE, AAE, Autoencoder

KNN_K, IWAE_K, IWAE_IMAGES, MMD_SAMPLES, QUALITY_SAMPLES = 5, 100, 1000, 2000, 10_000
COVERAGE_REFERENCE, COVERAGE_QUERIES, COVERAGE_LEVEL = 20_000, 5_000, 0.95


def pca_axes(codes) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the two main axes (2, d) of codes (n, d): the app's PCA plane (explorer.projection.PCA2D)."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(0)
    return mean, np.linalg.svd(codes - mean, full_matrices=False)[2][:2]


def knn_accuracy(train_codes, train_labels, test_codes, test_labels, k: int = KNN_K) -> float:
    """Share of test codes whose k nearest training codes vote for the right class."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=k).fit(np.asarray(train_codes), np.asarray(train_labels))
    return float((knn.predict(np.asarray(test_codes)) == np.asarray(test_labels)).mean())


def confusion(clusters, labels, num_clusters: int, num_classes: int) -> np.ndarray:
    """Counts (num_clusters, num_classes): how many images of each class fell in each cluster."""
    counts = np.zeros((num_clusters, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(clusters, dtype=np.int64), np.asarray(labels, dtype=np.int64)), 1)
    return counts


def majority_labels(counts: np.ndarray) -> np.ndarray:
    """Each cluster's most frequent class in a ``confusion`` (ties: the smaller class); -1 for an empty cluster."""
    counts = np.asarray(counts)
    return np.where(counts.sum(1) > 0, counts.argmax(1), -1)


def cluster_accuracy(train_clusters, train_labels, test_clusters, test_labels, num_clusters: int,
                     num_classes: int) -> float:
    """Unsupervised clustering accuracy: each cluster stands for the majority class of its *training* members;
    the share of test images whose cluster stands for their class (a cluster no training image fell in counts as
    wrong)."""
    mapping = majority_labels(confusion(train_clusters, train_labels, num_clusters, num_classes))
    return float((mapping[np.asarray(test_clusters, dtype=np.int64)] == np.asarray(test_labels)).mean())


@torch.no_grad()
def clusters_of(model, split: Split, batch_size: int = 1000) -> np.ndarray:
    """``model.cluster`` (argmax q(y|x)) of every image of a split, (N,) int64."""
    model.eval()
    return torch.cat([model.cluster(x).cpu() for x, _ in split.batches(batch_size, device=model.device)]).numpy()


def cluster_metrics(model, train: Split, test: Split) -> dict[str, float]:
    """A clustered model's ``cluster_accuracy`` (test split, clusters named by their training majority),
    ``clusters_used`` (clusters holding at least one training image) and, semi-supervised, ``classification_error``:
    the test error of argmax q(y|x) read as the class (cluster k is class k)."""
    k, classes = model.config.clusters, model.config.num_classes
    train_clusters, test_clusters = clusters_of(model, train), clusters_of(model, test)
    results = {"cluster_accuracy": cluster_accuracy(train_clusters, train.labels.numpy(), test_clusters,
                                                    test.labels.numpy(), k, classes),
               "clusters_used": int(len(np.unique(train_clusters)))}
    if model.config.labels:
        results["classification_error"] = float((test_clusters != test.labels.numpy()).mean())
    return results


@torch.no_grad()
def reconstruction_errors(model: Autoencoder, split: Split, batch_size: int = 1000) -> dict[str, float]:
    """Bernoulli NLL (nats) and squared error of decoding each test image's deterministic code."""
    bce = mse = 0.0
    for x, y in split.batches(batch_size, device=model.device):
        logits = model.reconstruct(x, y)
        bce += float(losses.bernoulli_nll(logits, x).sum())
        mse += float(losses.squared_error(logits, x).sum())
    return {"recon_bce": bce / len(split), "recon_mse": mse / len(split)}


@torch.no_grad()
def iwae_bound(model: VAE, split: Split, k: int = IWAE_K, batch_size: int = 100) -> float:
    """-log p(x) estimate: the importance-weighted bound (Burda et al.) with k samples, nats per image."""
    total = 0.0
    for x, y in split.batches(batch_size, device=model.device):
        log_w = model.log_importance_weights(x, y if model.needs_labels else None, k)
        total += float((torch.logsumexp(log_w, 0) - math.log(k)).sum())
    return -total / len(split)


@torch.no_grad()
def prior_mmd(model: AAE, split: Split, n: int = MMD_SAMPLES) -> float:
    """Squared MMD between test codes and prior samples (0 when the codes match the prior)."""
    part = split.head(n)
    codes = model.embed_split(part)
    prior = model.sample_latent(len(part), part.labels)
    return float(losses.mmd_rbf(codes, prior))


def outside_share(reference, calibration, queries, level: float = COVERAGE_LEVEL) -> float:
    """Share of queries farther from their nearest reference point than ``level`` of the calibration points
    (drawn like the reference points) are from theirs: 1 - level when the queries are drawn like them too."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1).fit(np.asarray(reference))
    limit = np.quantile(nn.kneighbors(np.asarray(calibration))[0][:, 0], level)
    return float((nn.kneighbors(np.asarray(queries))[0][:, 0] > limit).mean())


@torch.no_grad()
def prior_coverage(model: Autoencoder, train: Split, test: Split, *, seed: int = 0,
                   n: int = COVERAGE_QUERIES, reference: int = COVERAGE_REFERENCE) -> dict[str, float]:
    """Where the prior and the codes the decoder learned from miss each other, by nearest neighbours (any prior,
    any latent dim; codes as in training, so a VAE's are draws from q(z|x)); 0.05 each when they match.

    ``prior_holes``: share of prior samples farther from every training code than 95% of test codes are:
    samples that land where the decoder saw no code. ``codes_off_prior``: share of test codes farther from every
    prior sample than 95% of other prior samples are: codes where the prior has (almost) no mass."""
    g = torch.Generator().manual_seed(seed)
    code = lambda x, y: model.training_code(x, y, g)  # noqa: E731
    train_codes = model.embed_split(train.head(reference), code=code)
    test_codes = model.embed_split(test.head(n), code=code)
    classes = model.config.num_classes

    def prior(count):  # every class equally often (a label-guided prior's components, as sample_quality)
        return model.sample_latent(count, torch.arange(count) % classes, g).cpu()

    prior_reference, prior_queries = prior(reference), prior(n)
    return {"prior_holes": outside_share(train_codes, test_codes, prior_queries),
            "codes_off_prior": outside_share(prior_reference, prior_queries, test_codes)}


@torch.no_grad()
def neg_elbo(model: VAE, split: Split, batch_size: int = 1000) -> float:
    total = 0.0
    for x, y in split.batches(batch_size, device=model.device):
        total += float(model.loss(x, y)["neg_elbo"]) * len(x)
    return total / len(split)


def evaluate(model: Autoencoder, train: Split, test: Split, *, seed: int = 0, knn_train: int = 60_000,
             iwae_images: int = IWAE_IMAGES, iwae_k: int = IWAE_K) -> dict[str, float]:
    """Every metric that applies to the model, on the test split (kNN fitted on training codes)."""
    torch.manual_seed(seed)
    model.eval()
    results = {"test_images": len(test), **reconstruction_errors(model, test)}
    train = train.head(knn_train)
    train_codes, test_codes = model.embed_split(train).numpy(), model.embed_split(test).numpy()
    results["knn_accuracy"] = knn_accuracy(train_codes, train.labels, test_codes, test.labels)
    if model.latent_dim > 2:  # also on a 2-D plane (seconds; UMAP's is minutes, pretrained.build measures it)
        mean, axes = pca_axes(train_codes)
        results["knn_accuracy_pca"] = knn_accuracy((train_codes - mean) @ axes.T, train.labels,
                                                   (test_codes - mean) @ axes.T, test.labels)
    results.update(prior_coverage(model, train, test, seed=seed))
    if isinstance(model, VAE):
        results["neg_elbo"] = neg_elbo(model, test)
        results["iwae_bound"] = iwae_bound(model, test.head(iwae_images), iwae_k)
        results["iwae_images"], results["iwae_k"] = min(iwae_images, len(test)), iwae_k
    if isinstance(model, AAE):
        results["prior_mmd"] = prior_mmd(model, test)
    if model.config.clustered:
        results.update(cluster_metrics(model, train, test))
    return results


def measure_run(run, train: Split, test: Split, classifier=None, progress=None) -> dict[str, float]:
    """What the zoo's table shows of a loaded run (checkpoint.Run), but the 2-D projections: ``evaluate``, the
    classifier's view of its prior samples when a classifier is given, and the training loop's time (seconds,
    summed over the epochs in its history). ``progress(fraction, what)`` is told before each part."""
    progress = progress or (lambda fraction, what: None)
    progress(0.0, f"reconstructions, kNN and prior holes of {len(test):,} test digits")
    results = evaluate(run.model, train, test)
    if classifier is not None:
        progress(0.6, f"the classifier scores {QUALITY_SAMPLES:,} prior samples")
        results.update(sample_quality(run.model, classifier))
    epochs = [r for r in checkpoint.read_history(run.path) if isinstance(r, dict) and r.get("kind") == "epoch"]
    if epochs:
        results["train_seconds"] = round(sum(float(r.get("seconds", 0)) for r in epochs), 1)
    return results


def save_results(run, results: dict) -> None:
    """Store measured results in the run's metrics.json (beside its last epoch's row), under "eval", where the
    zoo's table and the app's report card read them."""
    checkpoint.write_json(run.path / checkpoint.METRICS, {**run.metrics, "eval": results})


@torch.no_grad()
def sample_quality(model: Autoencoder, classifier, n: int = QUALITY_SAMPLES, seed: int = 0,
                   confident: float = 0.9) -> dict[str, float]:
    """Classifier view of n prior samples: share classified with confidence > 0.9, the inception-like score
    exp(E[KL(p(y|x) || p(y))]) (10 = confident and balanced over 10 classes) and the smallest class share."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % model.config.label_count  # every class (or cluster) equally often
    images = torch.cat([model.sample(len(chunk), chunk, generator=g).cpu() for chunk in labels.split(1000)])
    classifier.eval()
    probs = torch.cat([torch.softmax(classifier(images[i:i + 1000]), 1) for i in range(0, n, 1000)])
    marginal = probs.mean(0)
    kl = (probs * (torch.log(probs + 1e-12) - torch.log(marginal + 1e-12))).sum(1).mean()
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).float() / n
    return {"confident_share": float((probs.max(1).values > confident).float().mean()),
            "inception_score": float(torch.exp(kl)), "min_class_share": float(counts.min())}
