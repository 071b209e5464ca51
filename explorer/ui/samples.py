"""The Samples tab: digits drawn from each shown model's prior (the share the classifier is sure of in each
title), and the straight line between two test digits' codes decoded in every model."""
from __future__ import annotations

import gradio as gr

from trainer.config import SEED_MAX

from .. import actions, render
from . import media, models, planes
from .conditional import add_shipped
from .grids import caption_list
from .models import classifier, entries_for

TAB = ("samples", "Samples")
CAPTION = ("Digits generated from each model's prior: N(0, I) for the VAE (vae-16d: a mixture of Gaussians fitted "
           "to its codes), the AAE's chosen prior, and for the AE (which has no prior) a Gaussian fitted to its codes "
           "— with 16 latent dims many of those fall in the holes between codes (compare ae-16d with vae-16d). Each "
           "title counts the shown samples the classifier is over 90% sure of. Interpolation decodes the straight "
           "line between two test digits' codes in each model.")
SAMPLES = 64  # prior samples per model
SHIPPED_16D = ("ae-16d", "vae-16d")
SURE = 0.9  # a sample "looks like a digit" when the classifier is more sure than this


def layout(page) -> None:
    gr.Markdown(CAPTION)
    with gr.Row():
        page.sample_seed = gr.Number(value=0, label="Seed", precision=0, minimum=0, maximum=SEED_MAX)
        page.sample_btn = gr.Button("Sample from the priors", variant="primary")
        page.add_16d_btn = gr.Button("Add ae-16d and vae-16d")  # the lesson's first step compares their samples
    page.sample_gallery = media.picture(label="Prior samples", show_label=False, buttons=["download"],
                                        elem_id="samples")
    page.sample_text = gr.Markdown(elem_id="samples-text")
    with gr.Row():
        page.interp_a = gr.Number(value=3, label="From test digit #", precision=0)
        page.interp_b = gr.Number(value=2, label="To test digit #", precision=0)
        page.interp_btn = gr.Button("Interpolate")
    page.interp_img = media.picture(label="Interpolation", buttons=["download"])
    with gr.Row():
        page.interp_gif_btn = gr.Button("Interpolation as a GIF (for slides)", size="sm", scale=0, min_width=260)
        page.interp_gif = gr.File(label="GIF", elem_id="interp-gif", scale=1)


def sample(keys, seed, session) -> dict:
    """SAMPLES prior samples of every shown model, side by side."""
    clf = classifier()
    out = []
    for e in entries_for(keys, session):
        images = actions.sample_images(e, SAMPLES, int(seed or 0))
        title = f"{e.label} · {e.config.sampled_from}"
        if clf is not None:  # of the samples shown (the report card's share is of 10,000)
            _, confidence = actions.classify(clf, images)
            title += f" · {int((confidence > SURE).sum())} of {SAMPLES} look like a digit"
        out.append((actions.samples(e, images=images), title))
    return {"sample_gallery": render.side_by_side(out), "sample_text": caption_list(out)}


def test_indices(*values) -> list[int]:
    """Test digit numbers from Number boxes, checked against the test split."""
    n = len(models.REGISTRY.test)
    for v in values:
        if v is None or not 0 <= int(v) < n:
            raise gr.Error(f"test indices must be between 0 and {n - 1}")
    return [int(v) for v in values]


def interpolate(keys, i, j, session) -> dict:
    entries = entries_for(keys, session)
    i, j = test_indices(i, j)
    return {"interp_img": actions.interpolation(entries, models.REGISTRY.test, i, j)}


def add_16d(keys, session) -> dict:
    """Show the shipped 16-D AE and VAE beside the current models (the AE's samples fall in its holes)."""
    return add_shipped(keys, session, SHIPPED_16D, lambda e: e.config.latent_dim > 2,
                       f"Neither {' nor '.join(SHIPPED_16D)} is installed in pretrained/")


def both(keys, seed, i, j, session) -> dict:
    """The tab's two pictures, for the shown models."""
    return {**sample(keys, seed, session), **interpolate(keys, i, j, session)}


def wire(page) -> None:
    page.sample_btn.click(**page.handler(sample, ("sample_gallery", "sample_text")),
                          inputs=[page.models, page.sample_seed, page.session], api_name="sample")
    page.interp_btn.click(**page.handler(interpolate, ("interp_img",)),
                          inputs=[page.models, page.interp_a, page.interp_b, page.session], api_name="interpolate")
    page.add_16d_btn.click(**page.handler(add_16d, ("models",)), inputs=[page.models, page.session],
                           api_visibility="private").then(**planes.show(page))  # and the pictures: when_shown
    page.when_shown("samples", **page.handler(both, ("sample_gallery", "sample_text", "interp_img")),
                    inputs=[page.models, page.sample_seed, page.interp_a, page.interp_b, page.session])
