"""The Conditional tab: style grids of the CVAE / CAAE (each row keeps a test digit's style and changes the label),
and a button that puts the shipped conditional models on the page."""
from __future__ import annotations

import gradio as gr

from .. import actions, render
from . import media, models, planes
from .grids import caption_list
from .models import entries_for, key_of, with_room

TAB = ("conditional", "Conditional")
CAPTION = ("Conditional models (CVAE, CAAE) get the digit label as an input, so their latent code only has to hold "
           "the *style* (slant, thickness). Each row starts with a test digit (*input*), keeps its style and changes "
           "the label.")
SHIPPED = ("cvae-2d", "caae-2d")  # the shipped ones the tab's shortcut adds
NONE_SHOWN = ("None of the shown models is conditional: press *Add the CVAE and CAAE*, or pick one (e.g. cvae-2d) in "
              "the model picker.")
DEFAULT_STYLES = "0, 1, 2, 3, 4"


def layout(page) -> None:
    gr.Markdown(CAPTION)
    with gr.Row():
        page.style_idx = gr.Textbox(value=DEFAULT_STYLES, label="Styles from test digits #")
        with gr.Column():
            page.style_btn = gr.Button("Draw style grids", variant="primary")
            page.add_cond_btn = gr.Button("Add the CVAE and CAAE")
    page.style_text = gr.Markdown(elem_id="styles-text")  # above the picture: the hint must not hide below it
    page.style_gallery = media.picture(label="Style × label", show_label=False, buttons=["download"],
                                       elem_id="styles")


def add_shipped(keys, session, shipped, kind, missing: str, needed=None) -> dict:
    """Show the shipped models named ``shipped`` beside the current ones; an error ``missing`` when none is installed
    and no shown model is of this ``kind`` (a predicate on entries). To make room, models this step does not need
    (``needed``, a predicate on entries; default ``kind``) go first."""
    keys = [key_of(k, session) for k in (keys or [])]
    available = models.REGISTRY.available()
    extra = [k for k in (f"pretrained/{name}" for name in shipped) if k in available and k not in keys]
    if not extra and not (keys and any(kind(e) for e in entries_for(keys, session))):
        raise gr.Error(missing)
    needed = needed or kind

    def keep(key) -> bool:
        try:
            return needed(models.entry(key, session))
        except gr.Error:  # gone meanwhile: it goes first
            return False
    return {"models": gr.update(value=with_room(keys, extra, keep, session))}


def add_conditional(keys, session) -> dict:
    """Show the shipped CVAE and CAAE beside the current models."""
    return add_shipped(keys, session, SHIPPED, lambda e: e.config.conditional,
                       f"No conditional model is installed (looked for {', '.join(SHIPPED)} in pretrained/); train one "
                       "in the Train tab.")


def style_grids(keys, indices, session) -> dict:
    entries = [e for e in entries_for(keys, session) if e.config.conditional]
    if not entries:
        raise gr.Error(NONE_SHOWN)
    try:
        _, _, idx = actions.pick_test_digits(models.REGISTRY.test, "by index", indices=indices or DEFAULT_STYLES)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    panels = [(actions.style_grid(e, models.REGISTRY.test, idx), e.label) for e in entries]
    return {"style_gallery": render.side_by_side(panels, per_row=2), "style_text": caption_list(panels)}


def style_grids_on_open(keys, indices, session) -> dict:
    """The tab opening: its grids when a conditional model is shown, else the hint (not an error)."""
    if not any(e.config.conditional for e in entries_for(keys, session)):
        return {"style_gallery": None, "style_text": f"*{NONE_SHOWN}*"}
    return style_grids(keys, indices, session)


def wire(page) -> None:
    inputs = [page.models, page.style_idx, page.session]
    outputs = ("style_gallery", "style_text")
    page.style_btn.click(**page.handler(style_grids, outputs), inputs=inputs, api_name="style_grid")
    page.when_shown("conditional", **page.handler(style_grids_on_open, outputs), inputs=inputs)
    page.add_cond_btn.click(**page.handler(add_conditional, ("models",)), inputs=[page.models, page.session],
                            api_visibility="private").then(**planes.show(page))  # and the grids: when_shown
