"""Plotly figures: zoomable latent scatters colored by class, training curves."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .render import PALETTE, SAFE_PALETTE

AXES = {"latent": ("z1", "z2"), "pca": ("PCA 1", "PCA 2"), "umap": ("UMAP 1", "UMAP 2")}


def _hex(label: int, palette=PALETTE) -> str:
    return "#%02x%02x%02x" % tuple(palette[label % 10])


def latent_scatter(entries, projection: str = "umap", classes=None, max_points: int = 10_000,
                   marks: dict | None = None, safe_colours: bool = False) -> go.Figure:
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
                showlegend=col == 1, marker=dict(size=3, color=_hex(c, SAFE_PALETTE if safe_colours else PALETTE),
                                                 opacity=0.7), customdata=sel,
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


def _ema(values, alpha: float = 0.3):
    out, acc = [], None
    for v in values:
        acc = v if acc is None else (1 - alpha) * acc + alpha * v
        out.append(acc)
    return out


EPOCH_TERMS = {"vae": ("neg_elbo", "recon", "kl"), "cvae": ("neg_elbo", "recon", "kl"), "ae": ("recon",),
               "aae": ("recon", "disc", "gen"), "caae": ("recon", "disc", "gen")}
TERM_NAMES = {"neg_elbo": "−ELBO", "recon": "reconstruction", "kl": "KL", "disc": "discriminator", "gen": "generator"}
# what a step row's "loss" is (the objective the model minimised), and the per-epoch chart's right axis
STEP_LOSS = {"vae": "recon + β·KL", "cvae": "recon + β·KL", "ae": "reconstruction", "aae": "reconstruction",
             "caae": "reconstruction"}
RIGHT_AXIS = {"vae": "KL (not weighted by β)", "cvae": "KL (not weighted by β)", "aae": "discriminator / generator",
              "caae": "discriminator / generator"}


def training_curves(rows: list[dict], model: str = "vae") -> go.Figure:
    """Left: training loss per logged step (raw and smoothed). Right: per-epoch train/test terms;
    adversarial terms (on their own scale) on the right axis."""
    step_title = f"training loss per step: {STEP_LOSS.get(model, 'loss')} (nats/image)"
    fig = make_subplots(rows=1, cols=2, subplot_titles=(step_title, "per epoch"),
                        specs=[[{}, {"secondary_y": True}]], horizontal_spacing=0.08)
    steps = [r for r in rows if r.get("kind") == "step"]
    epochs = [r for r in rows if r.get("kind") == "epoch"]
    if steps:
        x, y = [r["step"] for r in steps], [r["loss"] for r in steps]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="loss (raw)", line=dict(color="#bbbbbb", width=1)), 1, 1)
        fig.add_trace(go.Scatter(x=x, y=_ema(y), mode="lines", name="loss (smoothed)",
                                 line=dict(color="#1f77b4", width=2)), 1, 1)
    colors = {"neg_elbo": "#d62728", "recon": "#1f77b4", "kl": "#2ca02c", "disc": "#9467bd", "gen": "#ff7f0e"}
    for term in EPOCH_TERMS.get(model, ("recon",)):
        secondary = term in ("disc", "gen", "kl")
        for split, dash in (("test", "solid"), ("train", "dot")):
            key = f"{split}_{term}"
            pts = [(r["epoch"], r[key]) for r in epochs if key in r]
            if pts:
                fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                         name=f"{split} {TERM_NAMES[term]}", line=dict(color=colors[term], dash=dash)),
                              1, 2, secondary_y=secondary)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_yaxes(title_text=RIGHT_AXIS.get(model, ""), row=1, col=2, secondary_y=True)
    fig.update_layout(height=340, margin=dict(l=40, r=10, t=40, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def snapshot_scatter(xy: np.ndarray | None, labels: np.ndarray | None, title: str = "") -> go.Figure:
    fig = go.Figure()
    if xy is not None:
        for c in range(10):
            sel = labels == c
            fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=str(c),
                                       marker=dict(size=4, color=_hex(c), opacity=0.75)))
    fig.update_layout(title=title, height=340, margin=dict(l=40, r=10, t=40, b=30), template="plotly_white",
                      legend=dict(title="digit", itemsizing="constant"))
    fig.update_yaxes(scaleanchor="x")
    return fig


RACE_TERMS = (("reconstruction", ("recon",)), ("KL (nats, unweighted)", ("kl",)),
              ("adversarial", ("disc", "gen")))
RACE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def race_curves(rows: list[dict], lanes: list[str]) -> go.Figure:
    """A training race: one chart per term (reconstruction, KL, adversarial), every model's curve (smoothed
    step rows) overlaid on the same axes, so β = 1 against β = 4 shows its KL gap at a glance."""
    steps = [r for r in rows if r.get("kind") == "step"]
    terms = [(title, keys) for title, keys in RACE_TERMS if any(key in r for r in steps for key in keys)] \
        or RACE_TERMS[:1]  # a chart per term some model has (no empty adversarial chart in a race of VAEs)
    fig = make_subplots(rows=1, cols=len(terms), subplot_titles=[t for t, _ in terms], horizontal_spacing=0.07)
    for k, lane in enumerate(lanes):
        steps = [r for r in rows if r.get("lane") == k and r.get("kind") == "step"]
        for col, (_, keys) in enumerate(terms, start=1):
            for key, dash in zip(keys, ("solid", "dot")):
                pts = [(r["step"], r[key]) for r in steps if key in r]
                if pts:
                    fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=_ema([p[1] for p in pts]), mode="lines",
                                             name=f"{lane}{' ' + TERM_NAMES[key] if len(keys) > 1 else ''}",
                                             legendgroup=lane, showlegend=col == 1 or len(keys) > 1,
                                             line=dict(color=RACE_COLORS[k % 4], dash=dash, width=2)), 1, col)
    for col in range(1, len(terms) + 1):
        fig.update_xaxes(title_text="step", row=1, col=col)
    fig.update_yaxes(title_text="nats / image", row=1, col=1)
    fig.update_layout(height=340, margin=dict(l=50, r=10, t=40, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def race_snapshots(lanes: list[tuple[str, list]], index: int | None = None) -> go.Figure:
    """Every model of a race at snapshot ``index`` (default: the latest), side by side; each panel on fixed axes
    (the extent of all its snapshots), so replaying it does not jump. The step goes in the title, once when the
    lanes are at the same one (they take turns step by step), else under each model's name."""
    picked = [snaps[min(len(snaps) - 1, index if index is not None else len(snaps) - 1)] if snaps else None
              for _, snaps in lanes]
    steps = {(s[0], round(s[1], 1)) for s in picked if s is not None}
    shared = len(steps) == 1
    titles = [name if shared or s is None else f"{name}<br>step {s[0]}" for (name, _), s in zip(lanes, picked)]
    fig = make_subplots(rows=1, cols=max(1, len(lanes)), horizontal_spacing=0.07, subplot_titles=titles)
    for col, ((name, snaps), snap) in enumerate(zip(lanes, picked), start=1):
        if snap is None:
            continue
        step, epoch, xy, labels = snap
        everything = np.concatenate([s[2] for s in snaps])
        lo, hi = np.percentile(everything, 0.5, axis=0), np.percentile(everything, 99.5, axis=0)
        pad = 0.05 * (hi - lo)
        for c in range(10):
            sel = labels == c
            fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=str(c), legendgroup=str(c),
                                       showlegend=col == 1, marker=dict(size=3, color=_hex(c), opacity=0.75)),
                          1, col)
        fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]], nticks=5, row=1, col=col)
        fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]], nticks=6, row=1, col=col)
    if shared:
        step, epoch = next(iter(steps))
        fig.update_layout(title=dict(text=f"step {step} (epoch {epoch:.1f})", x=0.5, xanchor="center", y=0.99,
                                     font=dict(size=13)))
    fig.update_layout(height=360, margin=dict(l=30, r=10, t=60, b=30), template="plotly_white",
                      legend=dict(title="digit", itemsizing="constant", orientation="h", x=0.5, xanchor="center",
                                  y=-0.12, yanchor="top"))
    return fig
