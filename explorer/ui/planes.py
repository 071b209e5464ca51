"""The Latent planes tab: every shown model's plane, decoded in the page as the pointer moves (explorer/static/
live_plane.js), the pinned point, and the server's decoded strip for a page that cannot decode itself."""
from __future__ import annotations

import gradio as gr
import numpy as np

from trainer.config import shown

from .. import actions, live, rules
from . import media, models, scatter, views
from .page import mounted, ticking
from .models import EXPORTS, MAX_MODELS, PRETRAINED, choices, classifier, entries_for, key_of, label_choices, label_value
from .session import Session
from .text import plain, warn

TAB = ("planes", "Latent planes")
CAPTION = ("**Move over a plane**: every model decodes that point at once, in your browser; click to pin it. The "
           "**AE** decodes junk between its clusters, the **VAE** a plausible digit almost everywhere near the "
           "origin, the **AAE** fills the shape of its prior. *Plane background*: what each region decodes to, "
           "where the prior expects codes, or which digit a classifier sees.")


VIEW = ("live", "status", "x", "y", "clicked", "waiting", "label", *views.NAMES)  # what showing the models updates
API_VIEW = ("live", "scatter", "status", "x", "y", "clicked", "waiting", "label")  # what /load_models answers


def layout(page) -> None:
    """The planes, the server's strip and the exact-coordinates box (page.live, page.decoded, page.clicked…)."""
    gr.Markdown(CAPTION, elem_classes=["caption"])
    page.live = mounted("live_plane.js", elem_id="live-planes", min_height=300, tab_ids=page.tab_ids_json,
                        head=f'<link rel="stylesheet" href="{live.static_url("live_plane.css")}">')
    page.decoded = media.picture(elem_id="decoded", label="Decoded on the server", buttons=["download"],
                                 visible=False)
    with gr.Accordion("Decode exact coordinates", open=False):
        with gr.Row():
            page.clicked = gr.Number(value=0, label="Model #", precision=0, minimum=0, min_width=60)
            page.x = gr.Number(value=0.0, label="x", min_width=60)
            page.y = gr.Number(value=0.0, label="y", min_width=60)
            page.link = gr.Radio(list(rules.LINKS), value=rules.LINKS[0], label="Other models follow", min_width=200)
            page.go = gr.Button("Decode at (x, y)", size="sm", scale=0, min_width=160)


# -- what the page is sent ----------------------------------------------------------------------------------------
def view_json(entries, projection, background, points, label, session: Session) -> str:
    """The live planes' value (explorer.live.view_json) for these models and this session's pin, link and drawing."""
    return live.view_json(entries, projection=projection, background=background, points=bool(points),
                          link=session.link, label=label_value(label), pinned=session.pinned(entries, projection),
                          classifier=classifier() if background == "classifier" else None,
                          classifier_onnx=live.classifier_onnx(PRETRAINED / "classifier", EXPORTS),
                          stars=drawn_marks(entries, projection, session), test=models.REGISTRY.test,
                          drawn_posteriors=drawn_posteriors(entries, session), projector=session.projector)


def drawn_marks(entries, projection, session: Session) -> dict | None:
    """Where the drawn digit lands in every plane (its star), or None without a drawing."""
    if session.drawn is None:
        return None
    return {e.key: tuple(actions.embed_point(e, session.drawn, projection)) for e in entries}


def drawn_posteriors(entries, session: Session) -> dict | None:
    """q(z|x) of the drawn digit (mean, covariance) in each 2-D VAE, for its ellipse."""
    if session.drawn is None:
        return None
    clf = classifier()
    label = [int(actions.classify(clf, session.drawn[None])[0][0]) if clf is not None else 0]  # as reconstruct reads it
    return {e.key: tuple(a[0] for a in actions.posterior_2d(e, session.drawn[None],
                                                            label if e.config.conditional else None))
            for e in entries if actions.has_posterior_plane(e)}


def status_line(entries, projection) -> str:
    """Which models are shown, and what is still being made for them in the background."""
    text = "Showing " + ", ".join(f"**{plain(e.label, quoted=False)}** ({e.kind}, {e.config.latent_dim}-D)"
                                  for e in entries)
    waiting = umap_pending(entries, projection)
    if waiting:
        text += (f". UMAP for {', '.join(plain(w, quoted=False) for w in waiting)} is being computed in the "
                 "background (about 10 seconds); PCA is shown until then, and the planes switch to UMAP by themselves.")
    text += "".join(f". {plain(e.label, quoted=False)}: {plain(e.umap_status, 200, quoted=False)}" for e in entries
                    if e.umap_status.startswith("UMAP failed"))
    text += "".join(f". {plain(e.label, quoted=False)}: {plain(e.export_status, 200, quoted=False)} (a click decodes "
                    "it on the server)" for e in entries if e.export_status.startswith("no live"))
    return text


def umap_pending(entries, projection) -> list[str]:
    """Labels of the shown models whose UMAP plane is still being fitted (only UMAP planes wait for it)."""
    return [e.label for e in entries if e.umap_status == "computing"] if projection == "umap" else []


def exports_pending(entries) -> list[str]:
    """Labels of the shown models whose decoder is still being exported for the page."""
    return [e.label for e in entries if e.export_status == "exporting"]


# -- handlers (each returns a dict by output name: page.named maps the names to components) ------------------------
def show_models(keys, projection, background, points, label="auto", session=None) -> dict:
    """Show the chosen models: the live planes' view and every tab's view (the page draws them all), the status line
    and the pinned point."""
    session = session or Session()
    entries = entries_for(keys, session)
    session.show([e.key for e in entries])
    status = status_line(entries, projection)
    if session.note:  # what a shared link held that was ignored, said until other models are picked
        status += ". " + session.note
    status += "".join(f". {text}" for text in session.said)
    session.said.clear()
    clicked, x, y = session.pinned(entries, projection)
    labels = label_choices(entries)
    live_view = view_json(entries, projection, background, points, label, session)
    return {"live": live_view, **views.values(live_view, entries), "status": status, "x": x, "y": y,
            "clicked": clicked, "label": gr.update(choices=labels, value=label if label in labels else "auto"),
            "waiting": gr.Timer(active=bool(umap_pending(entries, projection) or exports_pending(entries)))}


def load_models(keys, projection, background, points, label="auto", session=None) -> dict:
    """/load_models for API clients: the live planes' view, the server's scatter figure, the status line and the
    pinned point (API_VIEW; the page's own views are not sent)."""
    session = session or Session()
    out = show_models(keys, projection, background, points, label, session)
    entries = entries_for(keys, session)
    return {**{name: out[name] for name in API_VIEW if name in out},
            "scatter": scatter.figure(entries, projection, drawn_marks(entries, projection, session),
                                      session.projector)}


def pick_models(keys, projection, background, points, label="auto", session=None) -> dict:
    """The picker changed: show its models (the shared link's note, if any, has been read by now)."""
    if session is not None:
        session.note = ""
    return show_models(keys, projection, background, points, label, session)


def reload_models(keys, projection, background, points, label="auto", session=None) -> dict:
    """A control changed (projection, background, points, label, projector): show the models again; with the picker
    empty meanwhile (a shared link is still filling it), nothing to show and nothing to say."""
    return show_models(keys, projection, background, points, label, session) if keys else {}


def background_tick(keys, projection, background, points, label, session) -> dict:
    """Timer tick while a shown model's UMAP or ONNX decoder is made in the background: once none is, show the
    models again (now on UMAP, decoded in the page)."""
    try:
        entries = entries_for(keys, session)
    except gr.Error:  # the picker was emptied meanwhile: nothing to refresh
        return {"waiting": gr.Timer(active=False)}
    if umap_pending(entries, projection) or exports_pending(entries):
        return {}
    return show_models(keys, projection, background, points, label, session)


def typed_model(keys, projection, background, points, label, session, evt: gr.SelectData) -> dict:
    """A name typed and entered in the picker: Gradio reports it by a select event (index -1), before the picker's
    value includes it, and sends no input event; so add it here, as its key, and show the models."""
    if evt.index != -1 or not evt.selected:  # clicks and removals: the input event shows them
        return {}
    typed = key_of(str(evt.value), session)
    if typed not in {key for _, key in choices(session)}:  # no such model: take the chip away again
        warn(f"No model is called {shown(str(evt.value).strip())}; pick one from the list.")
        return {"models": gr.update(value=[k for k in keys or [] if k != evt.value])}
    keys = list(dict.fromkeys(key_of(k, session) for k in [*(keys or []), typed]))[-MAX_MODELS:]
    return {"models": gr.update(value=keys), **pick_models(keys, projection, background, points, label, session)}


def set_projector(on, session: Session) -> None:
    """Projector mode (large text, thick lines, a colour-blind-safe palette) for this page."""
    session.projector = bool(on)


def refresh_live(keys, projection, background, points, label, session) -> dict:
    """The live planes again (the pin, the label or the drawn digit's star changed)."""
    return {"live": view_json(entries_for(keys, session), projection, background, points, label, session)}


def decode_at(keys, clicked, x, y, projection, label, link=rules.LINKS[0], session=None) -> dict:
    """Decode plane point (x, y) of model number ``clicked`` in every shown model; it becomes the pinned point."""
    session = session or Session()
    entries = entries_for(keys, session)
    try:
        clicked = int(clicked) if clicked is not None else 0
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise gr.Error(f"model # and (x, y) must be numbers, got {clicked!r}, ({x!r}, {y!r})") from None
    if not 0 <= clicked < len(entries):  # a warning: the decoded panel keeps its picture
        gr.Warning(f"Model # {clicked} is not shown: the shown models are numbered 0 to {len(entries) - 1}.")
        return {}
    if not (np.isfinite(x) and np.isfinite(y)):
        raise gr.Error(f"x and y must be finite numbers, got ({x}, {y})")
    if link not in rules.LINKS:
        raise gr.Error(f"link must be one of {', '.join(rules.LINKS)}, got {link!r}")
    session.show([e.key for e in entries])
    session.pin_point(entries, clicked, x, y, projection)
    session.link = link
    targets = rules.click_targets(entries, clicked, (x, y), projection=projection, label=label_value(label),
                                  link=link)
    return {"decoded": actions.decoded_strip(targets, models.REGISTRY.test, classifier())}


def pinned_by_page(keys, projection, label, session, evt: gr.EventData) -> dict:
    """The page pinned a point (a click, tap, drag's end or walk) or switched the link: remember it for the other
    tabs and the API. Pins may arrive out of order (each is its own request): a pin older than the newest this
    page sent is dropped. A page that cannot decode itself (no WebAssembly, a decoder still being exported) gets
    the server's decoded strip instead."""
    try:
        clicked, x, y = int(evt.model), float(evt.x), float(evt.y)
        order = (str(getattr(evt, "page", "")), int(getattr(evt, "seq", 0)))
        live_page = bool(getattr(evt, "live", False))
        link = getattr(evt, "link", rules.LINKS[0])
    except (AttributeError, TypeError, ValueError):
        raise gr.Error("the page sent a pin without a model # and (x, y)") from None
    last = session.pin_order
    if last is not None and last[0] == order[0] and order[1] <= last[1]:  # a newer pin of this page got here first
        return {}
    session.pin_order = order
    link = link if link in rules.LINKS else rules.LINKS[0]
    if not live_page:
        out = decode_at(keys, clicked, x, y, projection, label, link, session)
        return {"x": x, "y": y, "clicked": clicked, "link": link, **out,
                **({"decoded": gr.update(value=out["decoded"], visible=True)} if out else {})}
    entries = entries_for(keys, session)
    if not 0 <= clicked < len(entries) or not (np.isfinite(x) and np.isfinite(y)):
        raise gr.Error(f"the page pinned model #{clicked} at ({x}, {y}): not a shown model's plane point")
    session.show([e.key for e in entries])
    session.pin_point(entries, clicked, x, y, projection)
    session.link = link
    return {"x": x, "y": y, "clicked": clicked, "link": link, "decoded": gr.update(visible=False)}


# -- wiring ---------------------------------------------------------------------------------------------------------
def show(page) -> dict:
    """Listener arguments that show the picker's models (after a button or the page's opening changed them)."""
    return dict(**page.handler(show_models, VIEW), inputs=page.view_inputs, api_visibility="private")


def wire(page) -> None:
    view = dict(inputs=page.view_inputs, api_visibility="private")
    for control in (page.projection, page.background, page.points, page.label):
        control.change(**page.handler(reload_models, VIEW), **view)
    page.projector.change(set_projector, [page.projector, page.session], None, api_visibility="private").then(
        **page.handler(reload_models, VIEW), **view)
    # always_last: a pick made while the last one loads is shown after it (the default, once, dropped it)
    page.models.input(**page.handler(pick_models, VIEW), **view, trigger_mode="always_last")
    ticking(page.waiting, **page.handler(background_tick, VIEW), **view, show_progress="hidden")
    page.models.select(**page.handler(typed_model, ("models", *VIEW)), **view)
    # multiple: every pin is sent, none dropped while another is handled; one at a time, and the session keeps
    # the newest by the page's sequence number
    page.live.pin(**page.handler(pinned_by_page, ("x", "y", "clicked", "link", "decoded")),
                  inputs=[page.models, page.projection, page.label, page.session], api_visibility="private",
                  show_progress="hidden", trigger_mode="multiple", concurrency_limit=1, concurrency_id="pins")
    gr.Button(visible=False).click(**page.handler(load_models, API_VIEW), inputs=page.view_inputs,
                                   api_name="load_models")
    page.go.click(**page.handler(decode_at, ("decoded",)),
                  inputs=[page.models, page.clicked, page.x, page.y, page.projection, page.label, page.link,
                          page.session], api_name="decode").then(**page.handler(refresh_live, ("live",)), **view)
