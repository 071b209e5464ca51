"""The Scatter tab: the 10,000 test codes of every shown model, colored by digit, zoomable, with the digit's own
image beside the pointer, drawn in the page (explorer/static/views/scatter.js); and the server's Plotly figure of
the same, which /reconstruct and /load_models still answer for API clients."""
from __future__ import annotations

import gradio as gr
from gradio.components.plot import PlotData

from .. import plots
from ..cache import CACHE
from . import views

TAB = ("scatter", "Scatter")
CAPTION = ("The 10,000 test digits, placed at their latent codes (or a 2-D UMAP/PCA projection for bigger latents), "
           "colored by their true class. Zoom with the mouse; hover to see a digit's class and index. Separated "
           "colors mean the model organized digits by class without ever seeing a label (except guided models).")


def layout(page) -> None:
    """The page's scatter (views/scatter.js: every model's test codes, zoomable, a digit's image on hover); the
    server's Plotly figure stays an output of /reconstruct and /load_models for API clients, unshown."""
    gr.Markdown(CAPTION)
    views.layout(page, "scatter_view")
    page.scatter = gr.Plot(label="Test-set latents", elem_id="scatter", visible=False)


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
