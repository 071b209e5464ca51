"""The shipped zoo: every model loads, its stored numbers are re-measured, and embedding.npz matches the weights."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer import checkpoint
from trainer.classifier import accuracy, load_classifier
from trainer.data import bundled_test_split
from trainer.evaluate import knn_accuracy, reconstruction_errors

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
NAMES = sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").is_file() and p.name != "classifier")


@pytest.fixture(scope="module")
def test_split():
    return bundled_test_split()


def test_zoo_is_complete_and_small():
    expected = {"ae-2d", "vae-2d", "aae-2d", "aae-mixture10-2d", "aae-guided-2d", "cvae-2d", "caae-2d",
                "ae-16d", "vae-16d", "aae-16d"}
    assert expected <= set(NAMES)
    size = sum(f.stat().st_size for f in PRETRAINED.rglob("*") if f.is_file())
    assert size <= 30 * 2**20, f"pretrained/ is {size / 2**20:.1f} MB"


@pytest.mark.parametrize("name", NAMES)
def test_model_remeasures_as_published(name, test_split):
    run = checkpoint.load(PRETRAINED / name)
    stored = json.loads((PRETRAINED / name / "metrics.json").read_text())["eval"]
    torch.manual_seed(0)
    measured = reconstruction_errors(run.model, test_split)
    assert measured["recon_bce"] == pytest.approx(stored["recon_bce"], abs=0.05)
    assert measured["recon_mse"] == pytest.approx(stored["recon_mse"], abs=0.05)
    # the README table shows the stored numbers
    readme = (PRETRAINED / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| [{name}]"))
    assert f"{stored['recon_bce']:.1f}" in row


@pytest.mark.parametrize("name", NAMES)
def test_embedding_matches_weights(name, test_split):
    run = checkpoint.load(PRETRAINED / name)
    with np.load(PRETRAINED / name / "embedding.npz", allow_pickle=False) as f:
        latents, labels = f["latents"], f["labels"]
        assert latents.shape == (10000, run.model_config.latent_dim)
        if run.model_config.latent_dim > 2:
            assert f["umap_grid"].shape[-1] == run.model_config.latent_dim and f["umap_xy"].shape == (10000, 2)
    assert np.array_equal(labels, test_split.labels.numpy())
    part = test_split.head(300)
    codes = run.model.embed_split(part).numpy()
    assert np.allclose(codes, latents[:300], atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_knn_accuracy_remeasures(name, mnist_dir, test_split):
    """kNN (k=5) of the test codes, fitted on the first 20,000 training codes (the table used all 60,000)."""
    from trainer.data import load_dataset

    train = load_dataset(mnist_dir).train.head(20_000)
    run = checkpoint.load(PRETRAINED / name)
    acc = knn_accuracy(run.model.embed_split(train), train.labels, run.model.embed_split(test_split),
                       test_split.labels)
    stored = json.loads((PRETRAINED / name / "metrics.json").read_text())["eval"]["knn_accuracy"]
    assert acc == pytest.approx(stored, abs=0.025)


def test_classifier(test_split):
    model = load_classifier(PRETRAINED / "classifier")
    assert accuracy(model, test_split.head(2000)) >= 0.985


def test_project_readme_shows_the_same_table():
    def table(text):
        return text.split("<!-- table -->")[1].split("<!-- /table -->")[0].strip()

    ours = table((PRETRAINED / "README.md").read_text())
    shown = table((PRETRAINED.parent / "README.md").read_text())
    assert ours.count("\n") >= 11 and shown == ours.replace("](", "](pretrained/")
