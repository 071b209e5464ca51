"""Does a model's decoder draw digits off the surface its codes lie on? python -m pretrained.off_surface [--data D]

For each 16-D model of the zoo: takes 2,000 test codes and moves each as far as a prior sample lies from its
nearest training code (each test code gets the distance of one of 2,000 prior samples), in a random direction,
within the codes' local tangent space (the top 8 principal directions of its 30 nearest training codes) or
normal to it; decodes them and prints the share the classifier is over 90% sure of, beside the unmoved test
codes and the prior samples themselves. A decoder trained only on its codes' surface fails off it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer import checkpoint  # noqa: E402
from trainer.classifier import load_classifier  # noqa: E402
from trainer.data import load_dataset  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("ae-16d", "vae-16d", "aae-16d")
DIRECTIONS = ("random", "tangent", "normal")


def moved_codes(codes: np.ndarray, reference: np.ndarray, distances: np.ndarray, *, tangent_dims: int = 8,
                neighbours: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """Each code moved by its distance in a random unit direction: of all dims, of the local tangent space (the
    top ``tangent_dims`` principal directions of its nearest reference codes) or of its orthogonal complement."""
    from sklearn.neighbors import NearestNeighbors

    if not 0 < tangent_dims < codes.shape[1]:
        raise ValueError(f"tangent_dims must be between 1 and {codes.shape[1] - 1} (got {tangent_dims})")
    rng = np.random.default_rng(seed)
    near = NearestNeighbors(n_neighbors=neighbours).fit(reference).kneighbors(codes, return_distance=False)
    out = {k: np.empty_like(codes) for k in DIRECTIONS}
    for i, (z, d) in enumerate(zip(codes, distances)):
        local = reference[near[i]] - reference[near[i]].mean(0)
        axes = np.linalg.svd(local, full_matrices=True)[2]  # rows: principal directions, most spread first
        for name, basis in (("random", np.eye(len(z))), ("tangent", axes[:tangent_dims]),
                            ("normal", axes[tangent_dims:])):
            u = rng.standard_normal(len(basis)) @ basis
            out[name][i] = z + d * u / np.linalg.norm(u)
    return out


@torch.no_grad()
def confident_share(model, classifier, codes: np.ndarray, threshold: float = 0.9) -> float:
    images = torch.sigmoid(model.decode(torch.as_tensor(codes, dtype=torch.float32, device=model.device))).cpu()
    return float((classifier.predict(images)[1] > threshold).float().mean())


@torch.no_grad()
def measure(model, classifier, train_split, test_split, *, n: int = 2000, reference: int = 20_000,
            seed: int = 0) -> dict[str, float]:
    """Confident shares of the first n test codes, n prior samples and the three kinds of moved test codes, and
    the median distance moved; the training codes are those of the first ``reference`` training images."""
    from sklearn.neighbors import NearestNeighbors

    model.eval()
    train = model.embed_split(train_split.head(reference)).numpy()
    test = model.embed_split(test_split.head(n)).numpy()
    g = torch.Generator().manual_seed(seed)
    prior = model.sample_latent(n, torch.arange(n) % model.config.num_classes, g).cpu().numpy()
    nearest = NearestNeighbors(n_neighbors=1).fit(train)
    distances = nearest.kneighbors(prior)[0][:, 0]
    moved = moved_codes(test, train, np.random.default_rng(seed).permutation(distances), seed=seed)
    return {"distance": float(np.median(distances)), "test": confident_share(model, classifier, test),
            "prior": confident_share(model, classifier, prior),
            **{k: confident_share(model, classifier, z) for k, z in moved.items()}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="full MNIST folder")
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS, help="zoo folders to measure")
    args = p.parse_args(argv)
    data = load_dataset(args.data)
    classifier = load_classifier(HERE / "classifier")
    print("| model | median move | test codes | prior samples | moved: random | tangent (8 dims) | normal |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        r = measure(checkpoint.load(HERE / name).model, classifier, data.train, data.test)
        print(f"| {name} | {r['distance']:.2f} | {r['test']:.0%} | {r['prior']:.0%} | {r['random']:.0%} | "
              f"{r['tangent']:.0%} | {r['normal']:.0%} |", flush=True)


if __name__ == "__main__":
    main()
