"""Plotly figures: zoomable latent scatters colored by class, training curves."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .render import PALETTE

AXES = {"latent": ("z1", "z2"), "pca": ("PCA 1", "PCA 2"), "umap": ("UMAP 1", "UMAP 2")}


def _hex(label: int) -> str:
    return "#%02x%02x%02x" % tuple(PALETTE[label % 10])


def latent_scatter(entries, projection: str = "umap", classes=None, max_points: int = 10_000,
                   marks: dict | None = None) -> go.Figure:
    """One panel per model: test codes colored by class; hover shows class and test index."""
    fig = make_subplots(rows=1, cols=max(1, len(entries)), subplot_titles=[e.label for e in entries],
                        horizontal_spacing=0.04)
    for col, entry in enumerate(entries, start=1):
        view = entry.view(projection)
        names = classes or [str(c) for c in range(10)]
        idx = np.arange(min(len(view.xy), max_points))
        for c in range(10):
            sel = idx[entry.labels[idx] == c]
            fig.add_trace(go.Scattergl(
                x=view.xy[sel, 0], y=view.xy[sel, 1], mode="markers", name=names[c], legendgroup=str(c),
                showlegend=col == 1, marker=dict(size=3, color=_hex(c), opacity=0.7), customdata=sel,
                hovertemplate=f"class {names[c]}<br>test #%{{customdata}}<extra>{entry.label}</extra>"),
                row=1, col=col)
        if marks and entry.key in marks:
            x, y = marks[entry.key]
            fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name="your drawing", showlegend=col == 1,
                                     legendgroup="drawing", marker=dict(symbol="star", size=16, color="gold",
                                                                        line=dict(color="black", width=1))),
                          row=1, col=col)
        xname, yname = AXES[view.name]
        fig.update_xaxes(title_text=xname, row=1, col=col)
        fig.update_yaxes(title_text=yname, row=1, col=col, scaleanchor=f"x{col if col > 1 else ''}")
    fig.update_layout(height=430, margin=dict(l=40, r=10, t=40, b=40), legend=dict(itemsizing="constant",
                      title="digit"), template="plotly_white")
    return fig
