"""The Latent traversal tab: one row per latent dim of a model, from -span to +span σ around a test digit's code or
the pinned point, and a slider per dim that decodes the edited code in the page (explorer/static/traverse.js)."""
from __future__ import annotations

import gradio as gr

from .. import actions, live, rules
from . import media, models
from .models import choices, entries_for, key_of
from .page import mounted
from .session import Session
from .text import plain

TAB = ("traversal", "Latent traversal")
CAPTION = ("Each row moves one latent dim of the model from −span to +span σ around a test digit's code (or the "
           "pinned point) and decodes every step. For a VAE the rows are ordered by how much KL each dim pays: a dim "
           "near 0 nats collapsed to the prior and moving it changes nothing. The sliders decode an edited code "
           "live, in your browser.")
SOURCES = ("test digit", "pinned point")
COLLAPSED_KL = 0.05  # nats: a dim whose mean KL is below this carries nothing (it collapsed to the prior)


def layout(page) -> None:
    gr.Markdown(CAPTION, elem_classes=["caption"])
    with gr.Row(equal_height=True):
        page.traverse_model = gr.Dropdown(label="Model", allow_custom_value=True, scale=2, min_width=160)
        page.traverse_source = gr.Radio(list(SOURCES), value="test digit", label="Around", scale=2, min_width=200)
        page.traverse_index = gr.Number(value=0, precision=0, minimum=0, label="Test digit #", scale=1,
                                        min_width=100)
        page.traverse_span = gr.Slider(1, 5, value=3, step=0.5, label="Span (σ)", scale=2)
        page.traverse_steps = gr.Slider(5, 15, value=11, step=1, label="Steps", scale=2)
        page.traverse_btn = gr.Button("Draw traversal", variant="primary", scale=1)
    page.traverse_text = gr.Markdown(elem_id="traverse-text")
    page.traverse_live = mounted("traverse.js", elem_id="traverse-live")
    page.traverse_img = media.picture(label="Traversal", show_label=False, buttons=["download"], elem_id="traversal")
    with gr.Row():
        page.traverse_gif_btn = gr.Button("Traversal as a GIF (for slides)", size="sm", scale=0, min_width=260)
        page.traverse_gif = gr.File(label="GIF", elem_id="traverse-gif", scale=1)


def shown_model_choice(keys, current, session) -> dict:
    """A picker of the shown models only (their names), keeping the current pick while it is shown."""
    keys = [key_of(k, session) for k in (keys or [])]
    names = {key: label for label, key in choices(session)}
    return {"traverse_model": gr.update(choices=[(names.get(k, k), k) for k in keys],
                                        value=current if current in keys else (keys[0] if keys else None))}


def pinned_code(entries, entry, session: Session, projection: str):
    """The code of ``entry`` at the pinned point, linked from the pinned model's plane as the planes link it (the
    pin is read on the plane it was pinned on); its label, and what it is."""
    keys = [e.key for e in entries]
    if session.pin is not None and session.pin.model in keys:
        clicked, xy, plane = keys.index(session.pin.model), (session.pin.x, session.pin.y), session.pin.plane
    else:
        clicked, x, y = session.pinned(entries, projection)
        xy, plane = (x, y), entries[clicked].view(projection).name
    target = rules.click_targets(entries, clicked, xy, projection=plane, link=session.link)[entries.index(entry)]
    return target.z, target.label, f"the pinned point ({target.how})"


def traverse(keys, model, source, index, span, steps, session, projection="umap") -> dict:
    """One row per latent dim of ``model`` (a key of the shown models) from -span to +span σ around the code of
    test digit #index or of the pinned point: the grid, a caption and the page's sliders."""
    try:
        span, steps = float(span), int(steps)
    except (TypeError, ValueError):
        raise gr.Error("span and steps must be numbers") from None
    if not (0 < span <= 10 and 2 <= steps <= 25):
        raise gr.Error(f"span must be in (0, 10] σ and steps between 2 and 25 (got {span}, {steps})")
    entry, z0, label, where = around(keys, model, source, index, session, projection)
    image, _ = actions.traversal(entry, models.REGISTRY.test, z0, span=span, steps=steps, label=label)
    order, kl = actions.traversal_rows(entry, models.REGISTRY.test)
    return {"traverse_img": image, "traverse_text": caption(entry, where, span, order, kl),
            "traverse_live": live.traverse_json(entry, z0, actions.traversal_scale(entry), order, kl, span, label)}


def around(keys, model, source, index, session, projection="umap"):
    """The traversed model (by key, among the shown ones) and the code it moves around: test digit #index's, or
    the pinned point's; with its label (a digit or a cluster, for models that decode with one) and what it is."""
    entries = entries_for(keys, session)
    try:
        entry = next(e for e in entries if e.key == key_of(model or "", session)) if model else entries[0]
    except StopIteration:
        raise gr.Error(f"{model!r} is not a shown model; pick one of {', '.join(e.key for e in entries)}") from None
    if source == "pinned point":
        return (entry, *pinned_code(entries, entry, session, projection))
    n = len(models.REGISTRY.test)
    try:
        i = int(index)
    except (TypeError, ValueError):
        i = -1
    if not 0 <= i < n:
        raise gr.Error(f"the test digit # must be between 0 and {n - 1} (got {index!r})")
    label = int(entry.label_of[i]) if entry.takes_label else None  # its digit, or its cluster
    return entry, entry.latents[i], label, f"test digit #{i}"


def caption(entry, where, span, order, kl) -> str:
    scale = "σ of N(0, I)" if actions.traversal_scale(entry).max() == 1 else "σ of the test codes"
    text = (f"**{plain(entry.label, quoted=False)}** around {where}: one row per latent dim, from −{span:g} to "
            f"+{span:g} σ ({scale})")
    if kl is not None:
        collapsed = [f"z{j + 1}" for j in order if kl[j] < COLLAPSED_KL]
        text += (". Rows are ordered by each dim's mean KL over the test split (nats): the top ones carry the digit, "
                 + (f"{', '.join(collapsed)} collapsed to the prior (KL < {COLLAPSED_KL}): moving them changes "
                    "nothing." if collapsed else "none collapsed to the prior."))
    return text


def inputs(page) -> list:
    return [page.models, page.traverse_model, page.traverse_source, page.traverse_index, page.traverse_span,
            page.traverse_steps, page.session, page.projection]


def follow(keys, model, source, index, span, steps, session, projection="umap") -> dict:
    """The tab for the shown models: its picker offers them (keeping the pick while it is shown) and the
    traversal is drawn for the pick."""
    choice = shown_model_choice(keys, model, session)
    return {**choice, **traverse(keys, choice["traverse_model"]["value"], source, index, span, steps, session,
                                 projection)}


def wire(page) -> None:
    answer = page.handler(traverse, ("traverse_img", "traverse_text", "traverse_live"))
    page.traverse_btn.click(**answer, inputs=inputs(page), api_name="traverse")
    for control in (page.traverse_model, page.traverse_source):  # another model or source: drawn at once
        control.input(**answer, inputs=inputs(page), api_visibility="private")
    page.when_shown("traversal", **page.handler(follow, ("traverse_model", "traverse_img", "traverse_text",
                                                         "traverse_live")), inputs=inputs(page))
