"""What the explorer does, as plain functions over registry entries (the UI handlers only call these)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from trainer.config import shown

from . import render
from .cache import CACHE
from .registry import Entry, View
from .rules import (LINKS, OUTSIDE_FRACTION, Target, click_targets, code_scale, conditional_label,  # noqa: F401
                    is_outside, nearest, outside_radius)  # the shared rules (explorer/rules.py), as actions.X too

PLANE_SIZE = 400
BACKGROUNDS = ("none", "manifold", "prior density", "classifier")
AXIS_NAMES = {"latent": ("z1", "z2"), "pca": ("PCA 1", "PCA 2"), "umap": ("UMAP 1", "UMAP 2")}
MAX_DIGITS = 40  # test digits one request may name: the page shows a few dozen (3,000 once cost 1.8 GB)


def test_digits(test, index) -> np.ndarray:
    """Test images in [0, 1] (shape (28, 28) for one index, (K, 28, 28) for a list)."""
    return test.images[index].float().numpy() / 255


def geometry(view: View) -> render.Geometry:
    return render.Geometry(view.extent, PLANE_SIZE, PLANE_SIZE)


def decode_targets(targets: list[Target]) -> np.ndarray:
    """(M, 28, 28) decodings, one per target."""
    return np.concatenate([t.entry.decode(t.z[None], t.label) for t in targets])


def decoded_strip(targets: list[Target], test, classifier=None, columns: int | None = None) -> np.ndarray:
    """The decoded digit of every model, large, with the nearest real test digit (in that model's latent space).
    A point outside a model's codes is drawn faded in a red frame and says so: never as an ordinary decode."""
    images = decode_targets(targets)
    guesses = classify(classifier, images) if classifier is not None else None
    tiles = []
    for k, (t, img) in enumerate(zip(targets, images)):
        near = nearest(t.entry.latents, t.z)
        z = ", ".join(f"{v:.2f}" for v in t.z[:2]) + (", …" if len(t.z) > 2 else "")
        caption = f"z = ({z})" + (f", label {t.label}" if t.label is not None else "")
        if t.outside:
            caption += "\noutside its codes"
        elif guesses is not None:
            caption += f"\nclassifier: {guesses[0][k]} ({guesses[1][k]:.0%})"
        tiles.append({"title": t.entry.label, "image": img, "caption": caption, "outside": t.outside,
                      "small": test_digits(test, near), "small_caption": f"nearest test digit: #{near}"})
    return render.labelled_tiles(tiles, size=128, cols=min(len(tiles), columns or (2 if len(tiles) in (2, 4) else 3)))


@torch.no_grad()
def classify(classifier, images: np.ndarray):
    x = torch.as_tensor(np.asarray(images, np.float32)).reshape(-1, 1, 28, 28)
    label, confidence = classifier.predict(x)
    return label.numpy(), confidence.numpy()


# -- planes ---------------------------------------------------------------------
def plane_background(entry: Entry, view: View, background: str, classifier=None,
                     palette: np.ndarray = render.PALETTE) -> np.ndarray | None:
    geo = geometry(view)
    if background == "manifold":
        n = 20
        z = view.inverse.inverse_transform(geo.grid_centers(n))
        return render.manifold_background(entry.decode(z, _grid_labels(entry, view, geo, n)), n)
    if background == "classifier" and classifier is not None:
        n = 40
        z = view.inverse.inverse_transform(geo.grid_centers(n))
        labels, conf = classify(classifier, entry.decode(z, _grid_labels(entry, view, geo, n)))
        return render.classifier_background(labels, conf, n, palette)
    if background == "prior density" and view.name != "umap":
        z = entry.model.sample_latent(20_000, torch.arange(20_000) % entry.config.label_count,
                                      torch.Generator().manual_seed(0)).numpy()
        xy = z[:, :2] if view.name == "latent" else view.inverse.transform(z)
        if xy.shape[1] == 1:
            xy = np.c_[xy, np.zeros(len(xy))]
        return render.density_background(xy, geo)
    return None


def _grid_labels(entry: Entry, view: View, geo: render.Geometry, n: int):
    if not entry.takes_label:
        return None
    centers = geo.grid_centers(n)
    d2 = ((centers[:, None, :] - view.xy[None, ::5, :]) ** 2).sum(-1)
    return entry.label_of[::5][d2.argmin(1)]


# -- grids, reconstructions, samples -------------------------------------------
def manifold_grid(entry: Entry, projection: str = "umap", n: int = 15, quantiles: bool = False,
                  label: int = 0) -> np.ndarray:
    """An n x n grid of decodings over the model's plane (or, for 2-D VAEs, through Gaussian quantiles)."""
    view = entry.view(projection)
    if quantiles:
        from scipy.stats import norm

        q = norm.ppf(np.linspace(0.05, 0.95, n))
        gx, gy = np.meshgrid(q, q[::-1])
        centers = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
        z = np.zeros((len(centers), entry.config.latent_dim), np.float32)
        z[:, :min(2, z.shape[1])] = centers[:, :z.shape[1]]
    else:
        z = view.inverse.inverse_transform(geometry(view).grid_centers(n))
    images = entry.decode(z, label if entry.takes_label else None)
    return render.tile(images, n, n, scale=2)


def reconstructions(entries: list[Entry], images: np.ndarray, labels: np.ndarray | None = None,
                    notes: list[str] | None = None) -> tuple[np.ndarray, list[list]]:
    """Original row plus one reconstruction row per model, with each image's Bernoulli error in nats."""
    from trainer.losses import bernoulli_nll

    x = torch.as_tensor(np.asarray(images, np.float32)).reshape(-1, 1, 28, 28)
    if notes is None and labels is not None:
        notes = [f"{int(v)}" for v in labels]
    rows = [("original", np.asarray(images), notes)]
    table = []
    for entry in entries:
        with torch.no_grad(), entry.lock:
            logits = entry.model.reconstruct(x.to(entry.model.device), entry.labels_for(len(x), labels)).cpu()
        errors = bernoulli_nll(logits, x).numpy()
        rows.append((entry.label, torch.sigmoid(logits)[:, 0].numpy(), [f"{e:.0f}" for e in errors]))
        table.append([entry.label, round(float(errors.mean()), 1)])
    return render.image_table(rows), table


def pick_test_digits(test, mode: str, k: int = 10, indices: str = "", seed: int = 0):
    """Test images and labels: "one per class", "random" (seeded) or "by index" ("3, 17, 256")."""
    labels = test.labels.numpy()
    if mode == "by index":
        try:
            idx = [int(v) for v in str(indices).replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"indices must be whole numbers separated by commas, got {shown(indices)}") from None
        if len(idx) > MAX_DIGITS:
            raise ValueError(f"at most {MAX_DIGITS} test digits at once, got {len(idx):,} indices")
        bad = [i for i in idx if not 0 <= i < len(labels)]
        if not idx or bad:
            raise ValueError(f"indices must be between 0 and {len(labels) - 1}; got {shown(bad) if bad else 'none'}")
    elif mode == "random":
        idx = np.random.default_rng(seed).choice(len(labels), size=k, replace=False).tolist()
    else:
        idx = [int(np.nonzero(labels == c)[0][seed % 50]) for c in range(10)]
    images = test_digits(test, idx)
    return images, labels[idx], idx


def sample_images(entry: Entry, n: int = 64, seed: int = 0) -> np.ndarray:
    """n prior samples (n, 28, 28), every class or cluster equally often (AE: from a Gaussian fitted to its codes)."""
    g = torch.Generator().manual_seed(seed)
    with entry.lock:
        return entry.model.sample(n, torch.arange(n) % entry.config.label_count, generator=g).cpu()[:, 0].numpy()


def samples(entry: Entry, n: int = 64, seed: int = 0, images: np.ndarray | None = None) -> np.ndarray:
    """A square grid of n prior samples (or of ``images``, drawn by sample_images)."""
    images = sample_images(entry, n, seed) if images is None else images
    side = int(np.ceil(np.sqrt(len(images))))
    return render.tile(images, side, side, scale=2)


def interpolation(entries: list[Entry], test, i: int, j: int, steps: int = 10) -> np.ndarray:
    """Decode the straight line between the codes of test digits i and j, in every model."""
    rows = []
    ends = test_digits(test, [i, j])
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    for entry in entries:
        z = (1 - t) * entry.latents[i] + t * entry.latents[j]
        labels = (np.where(t[:, 0] < 0.5, entry.label_of[i], entry.label_of[j])  # labelled models switch halfway
                  if entry.takes_label else None)
        rows.append((entry.label, entry.decode(z, labels), None))
    blank = np.zeros((steps - 2, 28, 28), np.float32)
    rows.insert(0, (f"#{i} to #{j}", np.concatenate([ends[:1], blank, ends[1:]]), None))
    return render.image_table(rows)


def style_grid(entry: Entry, test, styles: list[int]) -> np.ndarray:
    """Conditional models: each row starts with a test digit, then keeps its style z and sets the label 0-9."""
    rows = []
    for i in styles:
        images = entry.decode(np.repeat(entry.latents[i][None], 10, 0), np.arange(10))
        source = test_digits(test, [i])
        rows.append((f"style of #{i}", np.concatenate([source, images]), ["input", *(str(c) for c in range(10))]))  # each column: its label
    return render.image_table(rows, shown=render.SHOWN_WIDTH / 2)  # the tab shows two side by side


def sketch_to_digit(sketch) -> np.ndarray | None:
    """A Gradio sketchpad value -> a 28x28 MNIST-like digit in [0, 1] (None when nothing is drawn).

    Like MNIST's preprocessing: fit the strokes' bounding box into 20x20, then center by mass in 28x28."""
    if sketch is None:
        return None
    layer = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if layer is None:
        return None
    arr = np.asarray(layer, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 4:
        ink = arr[..., 3] / 255 * (1 - arr[..., :3].mean(2) / 255)  # dark, opaque strokes
        if ink.max() < 0.05:
            ink = arr[..., 3] / 255
    elif arr.ndim == 3:
        ink = 1 - arr.mean(2) / 255
    else:
        ink = 1 - arr / 255
    if ink.max() < 0.05:
        return None
    ys, xs = np.nonzero(ink > 0.05)
    crop = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    scale = 20 / max(h, w)
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    small = np.asarray(small, np.float32) / 255
    out = np.zeros((28, 28), np.float32)
    sh, sw = small.shape
    cy, cx = np.array(np.nonzero(small > 0)).mean(1) if small.max() > 0 else (sh / 2, sw / 2)
    top, left = int(round(14 - cy)), int(round(14 - cx))
    top, left = min(max(top, 0), 28 - sh), min(max(left, 0), 28 - sw)
    out[top:top + sh, left:left + sw] = small
    return np.clip(out / max(out.max(), 1e-6), 0, 1)


def embed_point(entry: Entry, image: np.ndarray, projection: str, label: int | None = None) -> np.ndarray:
    """Where an image lands in a model's plane (PCA: exact; UMAP: at the nearest test code's position)."""
    z = entry.encode(image[None], label)
    view = entry.view(projection)
    if view.name in ("latent", "pca"):
        return view.inverse.transform(z)[0]
    return view.xy[nearest(entry.latents, z[0])]


# -- latent traversals ----------------------------------------------------------------------------------------
@torch.no_grad()
def dim_kl(entry: Entry, test) -> np.ndarray | None:
    """VAEs: each latent dim's mean KL(q(z_j|x) || N(0, 1)) over the test split, in nats (the marginal of a
    full-covariance q). About 0 for a dim that collapsed to the prior. None for models without a posterior."""
    if entry.kind not in ("vae", "cvae"):
        return None

    def make():
        from trainer.losses import cholesky_factor

        total = torch.zeros(entry.config.latent_dim, dtype=torch.float64)
        for x, y in test.batches(1000, device=entry.model.device):
            with entry.lock:
                mu, logvar, tril = entry.model.encode(x, y if entry.config.conditional else None)
            var = logvar.exp() if tril is None else cholesky_factor(logvar, tril).pow(2).sum(-1)
            total += (0.5 * (mu.pow(2) + var - 1 - var.log())).sum(0).double().cpu()
        return (total / len(test)).numpy()
    return CACHE.get(("kl", entry.fingerprint, test.fingerprint), make)


def traversal_scale(entry: Entry) -> np.ndarray:
    """The σ a traversal steps in, per dim: the prior's (1) for a VAE with N(0, I), else the test codes' spread
    (an AE has no prior; an AAE's codes match theirs)."""
    if entry.kind in ("vae", "cvae") and not entry.config.prior_components:
        return np.ones(entry.config.latent_dim, np.float32)
    return np.maximum(entry.latents.std(0), 1e-3).astype(np.float32)


def traversal_rows(entry: Entry, test) -> tuple[list[int], np.ndarray | None]:
    """The dims in the order a traversal shows them: by mean KL (most active first) for VAEs, else 0, 1, ..."""
    kl = dim_kl(entry, test)
    dims = list(range(entry.config.latent_dim))
    return (sorted(dims, key=lambda j: -kl[j]) if kl is not None else dims), kl


def traversal(entry: Entry, test, z0: np.ndarray, *, span: float = 3.0, steps: int = 11,
              label: int | None = None) -> tuple[np.ndarray, str]:
    """One row per latent dim: the code z0 with that dim moved from -span to +span of its σ, decoded; and a
    caption line per row (KL for VAEs)."""
    order, kl = traversal_rows(entry, test)
    scale = traversal_scale(entry)
    offsets = np.linspace(-span, span, steps, dtype=np.float32)
    z = np.repeat(np.asarray(z0, np.float32)[None], len(order) * steps, 0).reshape(len(order), steps, -1)
    for r, j in enumerate(order):
        z[r, :, j] += offsets * scale[j]
    images = entry.decode(z.reshape(len(order) * steps, -1), label).reshape(len(order), steps, 28, 28)
    rows, lines = [], []
    for r, j in enumerate(order):
        name = f"z{j + 1}" + (f" · KL {kl[j]:.2f}" if kl is not None else "")
        rows.append((name, images[r], [f"{v:+.1f}" for v in offsets] if r == len(order) - 1 else None))
        lines.append(name)
    return render.image_table(rows), lines


# -- posteriors ------------------------------------------------------------------------------------------------
def has_posterior_plane(entry: Entry) -> bool:
    """A VAE whose plane is its 2-D latent: its q(z|x) can be drawn there as an ellipse."""
    return entry.kind in ("vae", "cvae") and entry.config.latent_dim == 2


@torch.no_grad()
def posterior_2d(entry: Entry, images: np.ndarray, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """q(z|x) of images (K, 28, 28) in a 2-D VAE: means (K, 2) and covariances as (var1, cov12, var2) (K, 3)
    (tilted for a full-covariance posterior)."""
    from trainer.losses import cholesky_factor

    x = torch.as_tensor(np.asarray(images, np.float32)).reshape(-1, 1, 28, 28).to(entry.model.device)
    with entry.lock:
        mu, logvar, tril = entry.model.encode(x, entry.labels_for(len(x), labels))
    factor = cholesky_factor(logvar, tril) if tril is not None else torch.diag_embed(torch.exp(0.5 * logvar))
    cov = factor @ factor.transpose(-1, -2)
    return mu.cpu().numpy(), torch.stack([cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]], 1).cpu().numpy()


def test_posteriors(entry: Entry, test) -> np.ndarray:
    """(N, 3) covariances of q(z|x) for every test digit of a 2-D VAE (cached)."""
    def make():
        covs = [posterior_2d(entry, test_digits(test, list(range(i, min(i + 1000, len(test))))),
                             entry.labels[i:i + 1000] if entry.config.conditional else None)[1]
                for i in range(0, len(test), 1000)]
        return np.concatenate(covs).astype(np.float32)
    return CACHE.get(("posterior", entry.fingerprint, test.fingerprint), make)
