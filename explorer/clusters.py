"""Views of a clustered AAE (``--model aae --clusters K``): which digits its clusters found, and which they merged.

Pure functions for the UI: the test split's clusters, a summary per cluster (its majority digit and purity), the
cluster heads (each cluster decoded at style z = 0) as one image, and a clusters × digits confusion heatmap.
Purity and majority here are of the *test* digits, the split the app ships (``trainer.evaluate`` names clusters by
their training majority for the cluster accuracy; on MNIST the two agree for all but nearly empty clusters).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from trainer.evaluate import clusters_of, confusion, majority_labels

from . import render


def is_clustered(entry) -> bool:
    """Whether a registry entry (or anything with a model config) is a clustered AAE."""
    return bool(getattr(entry.config, "clusters", 0))


def test_clusters(entry, test) -> np.ndarray:
    """argmax q(y|x) of every test image (N,), int64; ``test`` is the split the entry's latents came from."""
    with entry.lock:
        return clusters_of(entry.model, test)


@dataclass
class ClusterSummary:
    counts: np.ndarray  # (K, C) test images of each digit in each cluster
    majority: np.ndarray  # (K,) each cluster's most frequent digit, -1 if empty
    purity: np.ndarray  # (K,) share of its members that are its majority digit (0 if empty)
    size: np.ndarray  # (K,) members

    @property
    def accuracy(self) -> float:
        """Share of all images in a cluster whose majority digit they are (each cluster named by these images)."""
        return float(self.counts.max(1).sum() / max(1, self.counts.sum()))

    def merged(self) -> dict[int, list[int]]:
        """Digit -> the clusters it is the majority of (a digit with several split; with none, merged away)."""
        return {d: [int(k) for k in np.nonzero(self.majority == d)[0]] for d in range(self.counts.shape[1])}


def summarize(clusters, labels, num_clusters: int, num_classes: int = 10) -> ClusterSummary:
    counts = confusion(clusters, labels, num_clusters, num_classes)
    size = counts.sum(1)
    purity = np.where(size > 0, counts.max(1) / np.maximum(size, 1), 0.0)
    return ClusterSummary(counts, majority_labels(counts), purity, size)


@torch.no_grad()
def head_images(entry) -> np.ndarray:
    """Each cluster decoded at style z = 0: (K, 28, 28) in [0, 1]."""
    k = entry.config.clusters
    return entry.decode(np.zeros((k, entry.config.latent_dim), np.float32), np.arange(k))


def cluster_heads(entry, summary: ClusterSummary, classes=None, cols: int = 8) -> np.ndarray:
    """One RGB image: every cluster's head (style z = 0) titled with its number, captioned with its majority digit
    and purity (and its share of the test digits)."""
    names = list(classes or [str(c) for c in range(summary.counts.shape[1])])
    images = head_images(entry)
    total = max(1, int(summary.size.sum()))
    tiles = []
    for k, image in enumerate(images):
        if summary.size[k] == 0:
            caption = "empty"
        else:
            caption = (f"digit {names[summary.majority[k]]} · {summary.purity[k]:.0%} pure\n"
                       f"{summary.size[k] / total:.1%} of digits")
        tiles.append({"title": f"cluster {k}", "image": image, "caption": caption})
    return render.labelled_tiles(tiles, size=84, cols=min(cols, len(tiles)))


def confusion_figure(summary: ClusterSummary, classes=None, title: str = "") -> go.Figure:
    """Heatmap of test digits per cluster (rows: clusters ordered by their majority digit; columns: digits); the
    hover gives the count and the share of the cluster."""
    names = list(classes or [str(c) for c in range(summary.counts.shape[1])])
    order = np.lexsort((-summary.purity, np.where(summary.majority < 0, 10**6, summary.majority)))
    counts = summary.counts[order]
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    rows = [f"cluster {k} → {names[summary.majority[k]] if summary.majority[k] >= 0 else '—'}" for k in order]
    fig = go.Figure(go.Heatmap(
        z=counts, x=names, y=rows, colorscale="Blues", customdata=share, colorbar=dict(title="test digits"),
        hovertemplate="%{y}<br>digit %{x}: %{z} (%{customdata:.0%} of the cluster)<extra></extra>"))
    fig.update_layout(title=title or None, height=max(300, 22 * len(rows) + 120), margin=dict(l=10, r=10, t=40, b=40),
                      xaxis=dict(title="true digit", type="category"),
                      yaxis=dict(title="cluster → its majority digit", autorange="reversed", type="category"))
    return fig
