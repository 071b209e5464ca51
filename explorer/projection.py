"""2-D views of latent codes: identity (2-D latents), PCA (instant, exact inverse), UMAP (fitted offline or in
the background; its inverse is precomputed on a grid). fit / transform / inverse_transform, state in ``name_``."""
from __future__ import annotations

import numpy as np

from trainer.evaluate import pca_axes

GRID = 48  # UMAP inverse grid resolution (cells per side)
UMAP_FIT_POINTS = 10_000
_numba_cache_on = False  # import_umap() switches numba's cache on once per process


class Identity2D:
    """The latent itself is the plane (latent_dim == 2; 1-D latents get a zero second axis)."""

    def fit(self, codes):
        self.dim_ = codes.shape[1]
        return self

    def transform(self, codes):
        codes = np.asarray(codes, dtype=np.float32)
        return codes[:, :2] if codes.shape[1] >= 2 else np.c_[codes, np.zeros(len(codes), np.float32)]

    def inverse_transform(self, xy):
        xy = np.asarray(xy, dtype=np.float32)
        return xy[:, :self.dim_]


class PCA2D:
    """Projection on the two main axes of the codes; the inverse lands on that plane through the mean."""

    def fit(self, codes):
        self.mean_, self.components_ = pca_axes(codes)
        return self

    def transform(self, codes):
        return ((np.asarray(codes, dtype=np.float64) - self.mean_) @ self.components_.T).astype(np.float32)

    def inverse_transform(self, xy):
        return (np.asarray(xy, dtype=np.float64) @ self.components_ + self.mean_).astype(np.float32)


class GridInverse:
    """Inverse of a non-linear projection, read from latents precomputed on a regular grid (bilinear)."""

    def __init__(self, grid: np.ndarray, extent):
        self.grid_ = np.asarray(grid, dtype=np.float32)  # (R, R, d): grid_[row, col] at (x_col, y_row)
        self.extent_ = tuple(float(v) for v in extent)  # xmin, xmax, ymin, ymax

    def inverse_transform(self, xy):
        xy = np.asarray(xy, dtype=np.float64)
        r = self.grid_.shape[0]
        xmin, xmax, ymin, ymax = self.extent_
        fx = np.clip((xy[:, 0] - xmin) / (xmax - xmin) * (r - 1), 0, r - 1)
        fy = np.clip((xy[:, 1] - ymin) / (ymax - ymin) * (r - 1), 0, r - 1)
        x0, y0 = np.minimum(fx.astype(int), r - 2), np.minimum(fy.astype(int), r - 2)
        tx, ty = (fx - x0)[:, None], (fy - y0)[:, None]
        g = self.grid_
        top = g[y0, x0] * (1 - tx) + g[y0, x0 + 1] * tx
        bottom = g[y0 + 1, x0] * (1 - tx) + g[y0 + 1, x0 + 1] * tx
        return (top * (1 - ty) + bottom * ty).astype(np.float32)


def padded_extent(xy: np.ndarray, pad: float = 0.05):
    lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    span = hi - lo
    return (float(lo[0] - pad * span[0]), float(hi[0] + pad * span[0]),
            float(lo[1] - pad * span[1]), float(hi[1] + pad * span[1]))


def import_umap():
    """umap-learn, with numba's on-disk cache switched on for the compiled functions of its modules (umap-learn
    leaves it off for most): after the first fit on a machine, a new process compiles about half as much.
    Functions numba cannot cache, or should not (takes_function), are compiled as before; a cache it cannot write
    only costs that saving."""
    import sys
    import warnings

    import umap
    from numba.core.dispatcher import Dispatcher
    from numba.core.errors import NumbaWarning

    # the few it cannot cache (they take functions as globals) would each print a warning at first use, and every
    # seeded fit says it runs on one thread (a fixed seed is what makes the shipped planes reproducible)
    warnings.filterwarnings("ignore", message=".*Cannot cache compiled function", category=NumbaWarning)
    warnings.filterwarnings("ignore", message="n_jobs value 1 overridden to 1 by setting random_state")
    global _numba_cache_on
    if not _numba_cache_on:
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in ("umap", "pynndescent"):
                for f in [f for f in vars(module).values() if isinstance(f, Dispatcher) and not takes_function(f)]:
                    try:
                        f.enable_caching()
                    except RuntimeError:  # no writable cache folder for this file
                        pass
        _numba_cache_on = True
    return umap


FUNCTION_ARGS = {"dist", "metric", "kernel", "deheap_sort_function", "output_metric"}  # a compiled function as argument


def takes_function(dispatcher) -> bool:
    """Whether a numba function takes another compiled function as an argument (pynndescent's ``dist``): numba's
    on-disk cache keys such a function by that argument's type, and a cached entry can name a function another
    process made, which then fails to compile ("ReferenceError: underlying object has vanished"). Those are
    compiled anew in each process."""
    import inspect

    return bool(FUNCTION_ARGS & set(inspect.signature(dispatcher.py_func).parameters))


FRESH_EPOCHS = 200  # a fresh model's plane: umap-learn's default for 10,000 points is 500 epochs


def fit_umap(train_codes: np.ndarray, *, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
             max_points: int | None = UMAP_FIT_POINTS, n_epochs: int | None = None):
    """A UMAP fitted on the first ``max_points`` training codes (None: all); ``n_epochs`` None is umap-learn's
    default. The first fit in a process compiles umap-learn's code with numba (``warm_up`` does it ahead)."""
    umap = import_umap()

    codes = np.asarray(train_codes, dtype=np.float32)[:max_points]
    return umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
                     n_epochs=n_epochs).fit(codes)


def warm_up(seed: int = 0) -> None:
    """Compile what fitting a fresh model's UMAP runs (numba), on random codes, so that the first real fit does
    not pay for it: 5,000 points take the approximate nearest-neighbour path a 10,000-point fit takes."""
    codes = np.random.default_rng(seed).normal(size=(5000, 16)).astype(np.float32)
    fit_umap(codes, n_epochs=5)


def umap_grid(reducer, xy: np.ndarray, resolution: int = GRID):
    """Latents behind a resolution x resolution grid over the embedded points (UMAP's own inverse_transform in
    one call: about 8 s for 48 x 48 here; pretrained.build uses it for the shipped planes)."""
    extent = padded_extent(xy)
    xs = np.linspace(extent[0], extent[1], resolution)
    ys = np.linspace(extent[2], extent[3], resolution)
    gx, gy = np.meshgrid(xs, ys)
    points = np.c_[gx.ravel(), gy.ravel()]
    latents = reducer.inverse_transform(points).astype(np.float32)
    return latents.reshape(resolution, resolution, -1), extent


KNN_INVERSE = 16  # neighbours of a grid cell whose codes make its latent


def knn_grid(xy: np.ndarray, codes: np.ndarray, resolution: int = GRID, k: int = KNN_INVERSE):
    """Latents behind a resolution x resolution grid over the embedded points: each cell's latent is the mean of
    the codes of its k nearest embedded points, weighted by 1 / distance. For a fresh model: in 10 ms instead of
    UMAP's 8 s, and closer (leave-one-out on the shipped 16-D models, a test digit decoded from its plane point
    has a Bernoulli error of 197, 195 and 235 nats against 205, 199 and 240 through their UMAP grids)."""
    from scipy.spatial import cKDTree

    extent = padded_extent(xy)
    xs = np.linspace(extent[0], extent[1], resolution)
    ys = np.linspace(extent[2], extent[3], resolution)
    gx, gy = np.meshgrid(xs, ys)
    dist, idx = cKDTree(np.asarray(xy, np.float64)).query(np.c_[gx.ravel(), gy.ravel()], k=k)
    weights = 1 / np.maximum(dist, 1e-12)
    weights /= weights.sum(1, keepdims=True)
    latents = (np.asarray(codes, np.float32)[idx] * weights[..., None]).sum(1).astype(np.float32)
    return latents.reshape(resolution, resolution, -1), extent
