"""The Scatter tab: the 10,000 test codes of every shown model, colored by digit, zoomable (Plotly), with the
digit's own image beside the pointer (explorer/static/scatter_hover.js)."""
from __future__ import annotations

import json

import gradio as gr
from gradio.components.plot import PlotData

from .. import live, plots
from ..cache import CACHE
from . import models
from .page import mounted

TAB = ("scatter", "Scatter")
CAPTION = ("The 10,000 test digits, placed at their latent codes (or a 2-D UMAP/PCA projection for bigger latents), "
           "colored by their true class. Zoom with the mouse; hover to see a digit's class and index. Separated "
           "colors mean the model organized digits by class without ever seeing a label (except guided models).")


def layout(page) -> None:
    gr.Markdown(CAPTION)
    page.scatter = gr.Plot(label="Test-set latents", elem_id="scatter")
    mounted("scatter_hover.js", elem_id="scatter-hover",
            value=lambda: json.dumps({"sprite": live.digit_sprite(models.REGISTRY.test), "cols": 100,
                                      "target": "scatter"}))


def figure(entries, projection, marks, safe_colours) -> PlotData:
    """The Scatter tab's figure as Gradio's plot value. Building and serialising 10,000 points per model costs most
    of showing the models, and a class asks for the same few sets again and again: the JSON is kept per set of
    planes (by the models' content and the planes they show). A drawn digit's star is drawn every time."""
    def make():
        fig = plots.latent_scatter(entries, projection, marks=marks, safe_colours=safe_colours)
        return PlotData(type="plotly", plot=fig.to_json())

    if marks:
        return make()
    return CACHE.get(("scatter", tuple((e.fingerprint, e.label, e.view(projection).name) for e in entries),
                      bool(safe_colours)), make)


def wire(page) -> None:
    """Nothing of its own: showing the models draws the scatter (planes.show_models)."""
