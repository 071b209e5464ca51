"""The Manifold grids tab: an N x N grid of decodings over each shown model's plane (for 2-D VAEs also through
Gaussian quantiles)."""
from __future__ import annotations

import gradio as gr

from .. import actions, render
from . import media
from .models import entries_for, label_value
from .text import plain

TAB = ("manifold", "Manifold grids")
CAPTION = ("Each grid decodes evenly spaced points of a model's plane. Where no test code lives the AE still draws "
           "something: far from its codes it decodes noise, yet its empty upper right decodes crisp 0s (the decoder "
           "extrapolates), so a clean digit does not mean a code lives there. The VAE's grid morphs smoothly from "
           "digit to digit; the 10-petal AAE's holds one digit per petal and blends where the petals meet. The "
           "Gaussian-quantile grid (VAE) follows Kingma & Welling's Fig. 4: equal steps of probability under the "
           "prior.")


def layout(page) -> None:
    gr.Markdown(CAPTION)
    with gr.Row():
        page.grid_n = gr.Slider(5, 25, value=15, step=1, label="Grid size")
        page.quantiles = gr.Checkbox(value=False, label="VAE: through Gaussian quantiles")
        page.grid_btn = gr.Button("Draw grids", variant="primary")
    page.grids = media.picture(label="Manifold grids", show_label=False, buttons=["download"], elem_id="grids")
    page.grids_text = gr.Markdown()


def caption_list(panels) -> str:
    """The panels' titles as a Markdown list (a model's name is the user's text: shown as it is)."""
    return "\n".join(f"- {plain(title, 200, quoted=False)}" for _, title in panels)


def manifold(keys, projection, n, quantiles, label, session) -> dict:
    """Every shown model's grid side by side, and their titles."""
    entries = entries_for(keys, session)
    lab = label_value(label)
    out = []
    for e in entries:
        q = quantiles and e.kind in ("vae", "cvae") and e.config.latent_dim == 2 and not e.config.prior_components
        title = f"{e.label} · {'Gaussian quantiles' if q else e.view(projection).name + ' plane'}"
        shown_label = lab if lab != "auto" and lab < e.config.label_count else 0
        if e.takes_label:
            title += f" · {'cluster' if e.config.clustered else 'label'} {shown_label}"
        out.append((actions.manifold_grid(e, projection, int(n), q, shown_label), title))
    return {"grids": render.side_by_side(out), "grids_text": caption_list(out)}


def wire(page) -> None:
    inputs = [page.models, page.projection, page.grid_n, page.quantiles, page.label, page.session]
    answer = page.handler(manifold, ("grids", "grids_text"))
    page.grid_btn.click(**answer, inputs=inputs, api_name="manifold")
    page.when_shown("manifold", **answer, inputs=inputs)
