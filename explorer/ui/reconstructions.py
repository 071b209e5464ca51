"""The Reconstructions tab: test digits (one per class, random, or by index) and a digit drawn on the sketchpad,
each reconstructed by every shown model, with its error in nats. The drawn digit is starred in every plane."""
from __future__ import annotations

import gradio as gr
import numpy as np

from trainer.config import SEED_MAX

from .. import actions
from . import media, models, planes, scatter
from .models import classifier, entries_for

TAB = ("reconstructions", "Reconstructions")
CAPTION = ("Top row: the input digits. Then each model's reconstruction, with its error in nats under each image "
           "(lower is better). Draw your own digit to see how each model reads it; a star marks where it lands in "
           "every plane.")
NO_DRAWING = "draw a digit on the sketchpad to see it reconstructed too (it becomes the first column)"
PICK_BRUSH_MS = 300  # after the tab opens: Gradio's sketchpad starts with no tool, so its brush is picked for you
PICK_BRUSH = ("() => { setTimeout(() => { const b = document.querySelector('#sketch button[aria-label=\"Brush\"]'); "
              f"if (b) b.click(); }}, {PICK_BRUSH_MS}); }}")


def layout(page) -> None:
    gr.Markdown(CAPTION)
    with gr.Row():
        with gr.Column(scale=1):
            page.recon_mode = gr.Radio(["one per class", "random", "by index"], value="one per class",
                                       label="Test digits")
            page.recon_indices = gr.Textbox(label="Indices (for 'by index')", placeholder="3, 17, 256")
            page.recon_seed = gr.Number(value=0, label="Seed (random / one per class)", precision=0, minimum=0,
                                        maximum=SEED_MAX)
            page.recon_btn = gr.Button("Reconstruct", variant="primary")
        page.sketch = gr.Sketchpad(label="Draw a digit (optional)", type="numpy", image_mode="RGBA",
                                   canvas_size=(280, 280), scale=1, layers=False, transforms=(), elem_id="sketch",
                                   brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))
    page.recon_msg = gr.Markdown()
    page.recon_img = media.picture(label="Reconstructions", buttons=["download"], elem_id="recons")
    page.recon_table = gr.Dataframe(headers=["model", "mean error (nats)"], label="Reconstruction error",
                                    interactive=False)


def reconstruct(keys, mode, indices, sketch, seed, projection, session) -> dict:
    """The picked test digits (and the drawn one, first) reconstructed by every shown model."""
    entries = entries_for(keys, session)
    digit = actions.sketch_to_digit(sketch)
    try:
        images, labels, idx = actions.pick_test_digits(models.REGISTRY.test, mode, 10, indices or "", int(seed or 0))
    except ValueError as e:
        raise gr.Error(str(e)) from None
    notes = [str(int(v)) for v in labels]
    if digit is not None:
        clf = classifier()
        guess = int(actions.classify(clf, digit[None])[0][0]) if clf is not None else 0
        images = np.concatenate([digit[None], images])
        labels = np.concatenate([[guess], labels])  # conditional models read the drawing as the classifier's digit
        notes = [f"yours ({guess})" if clf is not None else "yours", *notes]
    star_moved = digit is not None or session.drawn is not None
    session.drawn = digit
    image, table = actions.reconstructions(entries, images, labels, notes)
    out = {"recon_img": image, "recon_table": [[name, f"{error:.1f}"] for name, error in table],  # 158.0, not 158
           "recon_msg": f"Test digits {', '.join(map(str, idx))}"
                        + (" (first column: your drawing)" if digit is not None else " · " + NO_DRAWING)}
    if star_moved:  # the scatter (10,000 points per model) is drawn again only when the drawn digit's star moves
        out["scatter"] = scatter.figure(entries, projection, planes.drawn_marks(entries, projection, session),
                                        session.projector)
    return out


def wire(page) -> None:
    inputs = [page.models, page.recon_mode, page.recon_indices, page.sketch, page.recon_seed, page.projection,
              page.session]
    answer = page.handler(reconstruct, ("recon_img", "recon_table", "recon_msg", "scatter"))
    star = dict(inputs=page.view_inputs, api_visibility="private", **page.handler(planes.refresh_live, ("live",)))
    page.recon_btn.click(**answer, inputs=inputs, api_name="reconstruct").then(**star)  # the drawn digit's star
    opened, _ = page.when_shown("reconstructions", **answer, inputs=inputs)
    opened.then(**star)
    page.tab_of["reconstructions"].select(None, None, None, js=PICK_BRUSH)
