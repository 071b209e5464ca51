"""Gradio layout and event wiring. Handlers are thin: the work lives in explorer.actions."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.components.plot import PlotData

from trainer.checkpoint import CheckpointError, atomic_write
from trainer.config import SEED_MAX

from . import actions, live, plots, render, settings, trainer_tab
from .registry import (DEFAULT_MODELS, EXPORTS, MAX_UPLOADS, PRETRAINED, ROOT, ModelLoadError, Registry,
                       load_upload, report_card, session_room)

MAX_MODELS = 6
SESSION_TTL = 4 * 3600  # seconds: a session idle this long is dropped with its uploads (API clients never "close")
CACHE_CLEANUP = (600, 900)  # every 10 min, delete the cached uploads and output images older than 15 min
REGISTRY = Registry()  # shared, read-only model cache (internally locked)
_classifier_lock = threading.Lock()
_classifier: list = []

CAPTIONS = {
    "planes": "**Move over a plane**: every model decodes that point at once, in your browser; click to pin it. The "
              "**AE** decodes junk between its clusters, the **VAE** a plausible digit almost everywhere near the "
              "origin, the **AAE** fills the shape of its prior. *Plane background*: what each region decodes to, "
              "where the prior expects codes, or which digit a classifier sees.",
    "scatter": "The 10,000 test digits, placed at their latent codes (or a 2-D UMAP/PCA projection for bigger latents), "
               "colored by their true class. Zoom with the mouse; hover to see a digit's class and index. Separated "
               "colors mean the model organized digits by class without ever seeing a label (except guided models).",
    "manifold": "Each grid decodes evenly spaced points of a model's plane. Where no test code lives the AE still "
                "draws something: far from its codes it decodes noise, yet its empty upper right decodes crisp 0s "
                "(the decoder extrapolates), so a clean digit does not mean a code lives there. The VAE's grid "
                "morphs smoothly from digit to digit; the 10-petal AAE's holds one digit per petal and blends where "
                "the petals meet. The Gaussian-quantile grid (VAE) follows Kingma & Welling's Fig. 4: equal steps "
                "of probability under the prior.",
    "recon": "Top row: the input digits. Then each model's reconstruction, with its error in nats under each image "
             "(lower is better). Draw your own digit to see how each model reads it; a star marks where it lands in "
             "every plane.",
    "traverse": "Each row moves one latent dim of the model from −span to +span σ around a test digit's code (or "
                "the pinned point) and decodes every step. For a VAE the rows are ordered by how much KL each dim "
                "pays: a dim near 0 nats collapsed to the prior and moving it changes nothing. The sliders decode "
                "an edited code live, in your browser.",
    "samples": "Digits generated from each model's prior: N(0, I) for the VAE (vae-16d: a mixture of Gaussians "
               "fitted to its codes), the AAE's chosen prior, and for the AE (which has no prior) a Gaussian fitted "
               "to its codes — with 16 latent dims many of those fall in the holes between codes (compare ae-16d "
               "with vae-16d). Each title counts the shown samples the classifier is over 90% sure of. "
               "Interpolation decodes the straight line between two test digits' codes in each model.",
    "clusters": "A clustered AAE's encoder puts every digit in one of K clusters (a categorical code, matched to a "
                "uniform prior by one adversary) and keeps its style apart (a second adversary matches it to "
                "N(0, I)). It never saw a label (aae-semi100: 100 of them). Which digits did it find, and which did "
                "it merge? Each cluster decoded at style z = 0, and the test digits of each cluster. On the planes, "
                "*Label / cluster* picks the cluster whose style plane is decoded.",
    "conditional": "Conditional models (CVAE, CAAE) get the digit label as an input, so their latent code only has to "
                   "hold the *style* (slant, thickness). Each row starts with a test digit (*input*), keeps its style and "
                   "changes the label.",
}
REPORT_NOTE = ("Nats per image, lower is better: **−ELBO** (VAEs only: a bound on −log p(x)) and **recon BCE** "
               "(how well a test digit comes back). **kNN 2-D**: how often a test digit's 5 nearest training codes in "
               "the plane (UMAP for 16-D) have its label, i.e. how well the plane separates digits without labels "
               "(low for the CVAE/CAAE on purpose: the label is their input, their code holds only the style). "
               "**Samples look like a digit**: share of prior samples the project's classifier is over 90% sure of. "
               "**Samples in holes**: share of prior samples farther from every training code than 95% of test "
               "digits' codes are, so about 5% when the codes fill the prior: samples there fall where the decoder "
               "never learned to draw (the AE's are many, as it has no prior to fill). "
               "**β**: a VAE's KL weight (1 = the true ELBO). **Test digits**: the held-out digits it was measured "
               "on (MNIST's 10,000 for the shipped models, 2,000 for runs on the bundled split). "
               "A run of yours appears here once measured: *Measure* under *Saved runs* in the Train tab, or "
               "`python -m trainer eval runs/NAME --save`.")
NO_REPORT = ("*No measured model yet: measure a run with Measure (Train tab, Saved runs) or "
             "`python -m trainer eval runs/NAME --save`.*")
CSS = """
#title h3 {margin: 0; font-size: 1.15em;}
/* the lesson, when open, floats at the right instead of pushing the planes off the screen */
#lesson > button.open + div {position: fixed; top: 64px; right: 12px; width: min(540px, 46vw);
  max-height: calc(100vh - 80px); overflow: auto; z-index: 60; background: var(--background-fill-primary);
  border: 1px solid var(--border-color-primary); border-radius: 8px; box-shadow: 0 6px 24px rgba(0,0,0,.18);
  padding: 10px 16px;}
#status p {margin: 0; font-size: 0.9em;}
.caption p {font-size: 0.95em; margin: 0;}
footer {display: none !important;}
#report th, #report td {overflow-wrap: normal; word-break: normal; padding: 6px 10px;}
"""


# -- helpers ------------------------------------------------------------------------
def classifier():
    """The shipped digit classifier (None when absent), loaded once."""
    with _classifier_lock:
        if not _classifier:
            try:
                from trainer.classifier import load_classifier

                _classifier.append(load_classifier(PRETRAINED / "classifier"))
            except (CheckpointError, OSError):
                _classifier.append(None)
        return _classifier[0]


def new_session() -> dict:
    """Per-browser-tab state (gr.State calls this for every new session)."""
    import uuid

    return {"uploads": {}, "dir": None, "click": None, "drawn": None, "owner": uuid.uuid4().hex, "job": None,
            "hash": None}


def entries_for(keys, session) -> list:
    keys = list(keys or [])[:MAX_MODELS]
    if not keys:
        raise gr.Error("Choose at least one model to show.")
    out = []
    for key in keys:
        key = picked_key(key, session)
        if key in (session or {}).get("uploads", {}):
            out.append(session["uploads"][key])
            continue
        try:
            out.append(REGISTRY.get(key))
        except ModelLoadError as e:
            raise gr.Error(str(e)) from None
    return out


def picked_key(key: str, session=None) -> str:
    """The model key behind a picker entry: the picker takes typed text too, so "cvae-2d" (a shown name, typed and
    entered) means pretrained/cvae-2d; anything else is returned as it is."""
    if key in (session or {}).get("uploads", {}) or key.startswith(("pretrained/", "runs/")):
        return key
    return next((value for label, value in model_choices(session) if label == key.strip()), key)


def model_choices(session=None) -> list[tuple[str, str]]:
    """(shown name, key) pairs: shipped models by name, runs and uploads with their source."""
    keys = list(REGISTRY.available()) + list((session or {}).get("uploads", {}))
    return [(k.split("/", 1)[1] if k.startswith("pretrained/") else k.replace("/", ": ", 1), k) for k in keys]


def picture(**kwargs) -> gr.Image:
    """An output image whose numpy picture goes to Gradio's cache under its content hash, written atomically and
    only once (cached_png). gr.Image rewrites an existing file in place, so a second student drawing the same
    picture truncated it while the first one's browser was still downloading it ("peer closed connection" in
    benchmarks/classroom.py). Bound to the instance, not a subclass: Gradio writes a .pyi beside the source of
    every component class."""
    image = gr.Image(type="numpy", format="png", interactive=False, **kwargs)
    plain = image.postprocess
    image.postprocess = lambda value: plain(cached_png(value, image.GRADIO_CACHE)
                                            if isinstance(value, np.ndarray) else value)
    return image


def cached_png(image: np.ndarray, cache_dir) -> str:
    """The PNG of ``image`` (uint8, or floats in [0, 1]) at cache_dir/<sha256>/image.png: written atomically when
    new, touched when it is there already (the cache cleanup goes by age)."""
    data = live.png_bytes(image if image.dtype == np.uint8 else render.to_uint8(image))
    path = Path(cache_dir) / hashlib.sha256(data).hexdigest() / "image.png"
    if path.is_file():
        os.utime(path)
    else:
        atomic_write(path, data)
    return str(path)


def default_models() -> list[str]:
    """The models a new page shows (settings.DEFAULT_MODELS: shipped names, or keys such as runs/NAME)."""
    available = REGISTRY.available()
    keys = [name if "/" in name else f"pretrained/{name}" for name in DEFAULT_MODELS]
    return [k for k in keys if k in available][:MAX_MODELS] or list(available)[:3]


def _label_value(label):
    return "auto" if label in (None, "", "auto") else int(label)


# -- the live planes and the pinned point ---------------------------------------------------------------
def live_component() -> gr.HTML:
    """The live planes: explorer/static/live_plane.js draws and decodes in the page; its value is live.view_json."""
    return gr.HTML("", html_template='<div class="le-host"></div>', js_on_load=(live.STATIC / "mount.js").read_text(),
                   apply_default_css=False, elem_id="live-planes", module_url=live.static_url("live_plane.js"),
                   head=f'<link rel="stylesheet" href="{live.static_url("live_plane.css")}">', min_height=300,
                   tab_ids=json.dumps(dict(zip(TAB_LABELS, TAB_IDS))))


# ----------------------------------------------------------------
LINK_DEFAULT = actions.LINKS[0]


def _pinned(entries, projection, session) -> tuple[int, float, float]:
    """The pinned point (model #, x, y): the session's while that model is shown, else the first plane's centre
    (its origin for a 2-D latent), so the page never opens on nothing."""
    click = (session or {}).get("click")
    if click is not None and click[0] < len(entries):
        return click
    view = entries[0].view(projection)
    x, y = (0.0, 0.0) if view.name == "latent" else (float(v) for v in np.median(view.xy, 0))
    return 0, float(x), float(y)


def live_view(entries, projection, background, points, label, session) -> str:
    """The live planes' value (explorer.live.view_json) for these models and this session's pin, link and drawing."""
    session["click"] = _pinned(entries, projection, session)
    return live.view_json(entries, projection=projection, background=background, points=bool(points),
                          link=session.get("link", LINK_DEFAULT), label=_label_value(label),
                          pinned=session["click"], classifier=classifier() if background == "classifier" else None,
                          classifier_onnx=live.classifier_onnx(PRETRAINED / "classifier", EXPORTS),
                          stars=_drawn_marks(entries, projection, session), test=REGISTRY.test,
                          drawn_posteriors=_drawn_posteriors(entries, session),
                          projector=bool(session.get("projector")))


def _drawn_posteriors(entries, session):
    drawn = session.get("drawn")
    if drawn is None:
        return None
    clf = classifier()
    label = [int(actions.classify(clf, drawn[None])[0][0]) if clf is not None else 0]  # as reconstruct reads it
    return {e.key: tuple(a[0] for a in actions.posterior_2d(e, drawn[None], label if e.config.conditional else None))
            for e in entries if actions.has_posterior_plane(e)}


TAB_LABELS = ("Latent planes", "Scatter", "Manifold grids", "Reconstructions", "Latent traversal", "Samples",
              "Conditional", "Clusters", "Train", "Add a model")
TAB_IDS = ("planes", "scatter", "manifold", "reconstructions", "traversal", "samples", "conditional", "clusters",
           "train", "add")


def parse_view_query(query, known_models, default) -> tuple[dict, list[str]]:
    """A shared link's view (?models=a,b&tab=samples&z=0.5,-1&plane=0&bg=manifold&link=same+z&label=3): the
    values that make sense, and a note for each one that does not (ignored, never an error)."""
    view, notes = {}, []
    if query.get("models"):
        wanted = [k.strip() for k in str(query["models"]).split(",") if k.strip()]
        keys = [k if "/" in k else f"pretrained/{k}" for k in wanted]
        good = [k for k in keys if k in known_models][:MAX_MODELS]
        notes += [f"no model {k!r} here" for k in keys if k not in known_models]
        view["models"] = good or default
    for name, allowed, key in (("bg", actions.BACKGROUNDS, "background"), ("link", actions.LINKS, "link"),
                               ("tab", TAB_IDS, "tab")):
        if name in query:
            if query[name] in allowed:
                view[key] = query[name]
            else:
                notes.append(f"{name}={query[name]!r} is not one of {', '.join(allowed)}")
    if "label" in query:
        if query["label"] == "auto" or (str(query["label"]).isdigit() and int(query["label"]) < 10):
            view["label"] = "auto" if query["label"] == "auto" else int(query["label"])
        else:
            notes.append(f"label={query['label']!r} is not auto or 0-9")
    if "z" in query:
        try:
            x, y = (float(v) for v in str(query["z"]).split(","))
            plane = int(query.get("plane", 0))
            if not (np.isfinite(x) and np.isfinite(y) and 0 <= plane < len(view.get("models", default))):
                raise ValueError
            view["click"] = (plane, x, y)
        except (TypeError, ValueError):
            notes.append(f"z={query['z']!r} is not a point x,y of a shown plane")
    return view, notes


def shared_view(session, request: gr.Request):
    """Open the view a shared link holds (its query parameters), else the default models."""
    query = dict(request.query_params) if request is not None else {}
    available = {key for _, key in model_choices(session)}
    view, notes = parse_view_query(query, available, default_models())
    if "click" in view:
        session["click"] = view["click"]
    if "link" in view:
        session["link"] = view["link"]
    session["note"] = ("The shared link's " + "; ".join(notes) + ": ignored.") if notes else ""
    return (gr.update(choices=model_choices(session), value=view.get("models", default_models())),
            view.get("background", gr.skip()), view.get("label", gr.skip()), view.get("link", gr.skip()),
            gr.Tabs(selected=view["tab"]) if "tab" in view else gr.skip(), session)


def typed_model(keys, projection, background, points, label, session, evt: gr.SelectData):
    """A name typed and entered in the picker: Gradio reports it by a select event (index -1), before the picker's
    value includes it, and sends no input event; so add it here, as its key, and show the models."""
    if evt.index != -1 or not evt.selected:  # clicks and removals: the input event shows them
        return [gr.skip()] * (1 + VIEW_OUTPUTS)  # the picker, then load_models' outputs
    typed = picked_key(str(evt.value), session)
    if typed not in {key for _, key in model_choices(session)}:  # no such model: take the chip away again
        gr.Warning(f"No model is called {str(evt.value).strip()!r}; pick one from the list.")
        return gr.update(value=[k for k in keys or [] if k != evt.value]), *[gr.skip()] * VIEW_OUTPUTS
    keys = list(dict.fromkeys(picked_key(k, session) for k in [*(keys or []), typed]))[-MAX_MODELS:]
    return gr.update(value=keys), *load_models(keys, projection, background, points, label, session)


VIEW_OUTPUTS = 8  # what load_models returns: view_outputs in build()


def load_models(keys, projection, background, points, label="auto", session=None):
    """Show the chosen models: the live planes' view and the scatter."""
    entries = entries_for(keys, session)
    session = session or new_session()
    status = "Showing " + ", ".join(f"**{e.label}** ({e.kind}, {e.config.latent_dim}-D)" for e in entries)
    waiting = umap_pending(entries, projection)
    if waiting:
        status += (f". UMAP for {', '.join(waiting)} is being computed in the background (about 10 seconds); PCA "
                   "is shown until then, and the planes switch to UMAP by themselves.")
    status += "".join(f". {e.label}: {e.umap_status}" for e in entries if e.umap_status.startswith("UMAP failed"))
    status += "".join(f". {e.label}: {e.export_status} (a click decodes it on the server)" for e in entries
                      if e.export_status.startswith("no live"))
    if session.get("note"):  # a shared link's bad values, said once
        status += ". " + session.pop("note")
    view = live_view(entries, projection, background, points, label, session)
    clicked, x, y = session["click"]
    marks = _drawn_marks(entries, projection, session)
    scatter = scatter_plot(entries, projection, marks, bool(session.get("projector")))
    return [view, scatter, status, x, y, clicked, session,
            gr.Timer(active=bool(waiting or exports_pending(entries)))]


SCATTERS = actions.LRU(16)  # the Scatter tab's JSON, per set of planes


def scatter_plot(entries, projection, marks, safe_colours) -> PlotData:
    """The Scatter tab's figure as Gradio's plot value. Building and serialising 10,000 points per model costs
    most of a /load_models call, and a class asks for the same few sets of models again and again: the JSON is
    kept per set of planes (matched by the very views it was drawn from, so a plane that changes, such as PCA
    giving way to UMAP, is drawn anew). A drawn digit's star is drawn every time."""
    views = tuple(e.view(projection) for e in entries)

    def make():
        fig = plots.latent_scatter(entries, projection, marks=marks, safe_colours=safe_colours)
        return views, PlotData(type="plotly", plot=fig.to_json())

    if marks:
        return make()[1]
    key = (tuple(e.key for e in entries), tuple(e.label for e in entries), tuple(map(id, views)), projection,
           safe_colours)
    drawn_from, data = SCATTERS.get(key, make)
    return data if all(a is b for a, b in zip(drawn_from, views)) else make()[1]  # an id reused by a new view


def reload_models(keys, projection, background, points, label="auto", session=None):
    """A control changed (projection, background, points, label, projector): show the models again; with the picker
    empty meanwhile (a shared link is still filling it), nothing to show and nothing to say."""
    if not keys:
        return [gr.skip()] * VIEW_OUTPUTS
    return load_models(keys, projection, background, points, label, session)


def umap_pending(entries, projection) -> list[str]:
    """Labels of the shown models whose UMAP plane is still being fitted (only UMAP planes wait for it)."""
    return [e.label for e in entries if e.umap_status == "computing"] if projection == "umap" else []


def exports_pending(entries) -> list[str]:
    """Labels of the shown models whose decoder is still being exported for the page."""
    return [e.label for e in entries if e.export_status == "exporting"]


def background_tick(keys, projection, background, points, label, session):
    """Timer tick while a shown model's UMAP or ONNX decoder is made in the background: once none is, show the
    models again (now on UMAP, decoded in the page)."""
    try:
        entries = entries_for(keys, session)
    except gr.Error:  # the picker was emptied meanwhile: nothing to refresh
        return [gr.skip()] * (VIEW_OUTPUTS - 1) + [gr.Timer(active=False)]
    if umap_pending(entries, projection) or exports_pending(entries):
        return [gr.skip()] * VIEW_OUTPUTS
    return load_models(keys, projection, background, points, label, session)


def set_projector(on, session):
    """Projector mode (large text, thick lines, a colour-blind-safe palette) for this page."""
    session["projector"] = bool(on)
    return session


def refresh_live(keys, projection, background, points, label, session):
    """The live planes again (the pin, the label or the drawn digit's star changed)."""
    return live_view(entries_for(keys, session), projection, background, points, label, session)


def _drawn_marks(entries, projection, session):
    drawn = session.get("drawn")
    if drawn is None:
        return None
    return {e.key: tuple(actions.embed_point(e, drawn, projection)) for e in entries}


def decode_at(keys, clicked, x, y, projection, label, link=LINK_DEFAULT, session=None):
    """Decode plane point (x, y) of model number ``clicked`` in every shown model; it becomes the pinned point."""
    entries = entries_for(keys, session)
    try:
        clicked = int(clicked) if clicked is not None else 0
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise gr.Error(f"model # and (x, y) must be numbers, got {clicked!r}, ({x!r}, {y!r})") from None
    if not 0 <= clicked < len(entries):  # a warning: the decoded panel keeps its picture
        gr.Warning(f"Model # {clicked} is not shown: the shown models are numbered 0 to {len(entries) - 1}.")
        return gr.skip(), gr.skip()
    if not (np.isfinite(x) and np.isfinite(y)):
        raise gr.Error(f"x and y must be finite numbers, got ({x}, {y})")
    if link not in actions.LINKS:
        raise gr.Error(f"link must be one of {', '.join(actions.LINKS)}, got {link!r}")
    strip, _, session = _decode(entries, clicked, (x, y), projection, label, link, session)
    return strip, session


def _decode(entries, clicked, xy, projection, label, link, session):
    """The server's decoded strip and the targets; the point becomes the session's pinned point."""
    targets = actions.click_targets(entries, clicked, xy, projection=projection, label=_label_value(label),
                                    link=link)
    session = session or new_session()
    session["click"], session["link"] = (clicked, float(xy[0]), float(xy[1])), link
    return actions.decoded_strip(targets, REGISTRY.test, classifier()), targets, session


def pinned_by_page(keys, projection, label, session, evt: gr.EventData):
    """The page pinned a point (a click, tap, drag's end or walk) or switched the link: remember it for the other
    tabs and the API. A page that cannot decode itself (no WebAssembly, a decoder still being exported) gets the
    server's decoded strip instead."""
    data = getattr(evt, "_data", None) or {}
    try:
        clicked, x, y = int(data["model"]), float(data["x"]), float(data["y"])
        order = (str(data.get("page", "")), int(data.get("seq", 0)))
    except (KeyError, TypeError, ValueError):
        raise gr.Error("the page sent a pin without a model # and (x, y)") from None
    last = (session or {}).get("pin_order")
    if last is not None and last[0] == order[0] and order[1] <= last[1]:  # a newer pin of this page got here first
        return [gr.skip()] * 6
    session = session or new_session()
    session["pin_order"] = order
    link = data.get("link") if data.get("link") in actions.LINKS else LINK_DEFAULT
    if data.get("live"):  # the page decodes itself: remember the point, draw nothing
        entries = entries_for(keys, session)
        if not 0 <= clicked < len(entries) or not (np.isfinite(x) and np.isfinite(y)):
            raise gr.Error(f"the page pinned model #{clicked} at ({x}, {y}): not a shown model's plane point")
        session["click"], session["link"] = (clicked, x, y), link
        return x, y, clicked, link, gr.update(visible=False), session
    strip, session = decode_at(keys, clicked, x, y, projection, label, link, session)
    return x, y, clicked, link, gr.update(value=strip, visible=True), session


# -- other views -----------------------------------------------------------------------
def manifold(keys, projection, n, quantiles, label, session):
    entries = entries_for(keys, session)
    lab = 0 if _label_value(label) == "auto" else int(label)
    out = []
    for e in entries:
        q = quantiles and e.kind in ("vae", "cvae") and e.config.latent_dim == 2 and not e.config.prior_components
        title = f"{e.label} · {'Gaussian quantiles' if q else e.view(projection).name + ' plane'}"
        shown_label = lab if lab < e.config.label_count else 0
        if e.takes_label:
            title += f" · {'cluster' if e.config.clustered else 'label'} {shown_label}"
        out.append((actions.manifold_grid(e, projection, int(n), q, shown_label), title))
    return render.side_by_side(out), _caption_list(out)


def _caption_list(panels) -> str:
    return "\n".join(f"- {title}" for _, title in panels)


NO_DRAWING = "draw a digit on the sketchpad to see it reconstructed too (it becomes the first column)"


def reconstruct(keys, mode, indices, sketch, seed, projection, session):
    entries = entries_for(keys, session)
    session = session or new_session()
    digit = actions.sketch_to_digit(sketch)
    try:
        images, labels, idx = actions.pick_test_digits(REGISTRY.test, mode, 10, indices or "", int(seed or 0))
    except ValueError as e:
        raise gr.Error(str(e)) from None
    notes = [str(int(v)) for v in labels]
    if digit is not None:
        clf = classifier()
        guess = int(actions.classify(clf, digit[None])[0][0]) if clf is not None else 0
        images = np.concatenate([digit[None], images])
        labels = np.concatenate([[guess], labels])  # conditional models read the drawing as the classifier's digit
        notes = [f"yours ({guess})" if clf is not None else "yours", *notes]
    star_changed = digit is not None or session.get("drawn") is not None
    session["drawn"] = digit
    image, table = actions.reconstructions(entries, images, labels, notes)
    table = [[name, f"{error:.1f}"] for name, error in table]  # one decimal always (158.0, not 158)
    message = f"Test digits {', '.join(map(str, idx))}" + (" (first column: your drawing)" if digit is not None else
                                                            " · " + NO_DRAWING)
    # the scatter (10,000 points per model) is rebuilt only when the drawn digit's star moves
    scatter = scatter_plot(entries, projection, _drawn_marks(entries, projection, session),
                           bool((session or {}).get("projector"))) \
        if star_changed else gr.skip()
    return image, table, message, scatter, session


SAMPLES = 64  # prior samples per model in the Samples tab


def sample(keys, seed, session):
    entries = entries_for(keys, session)
    clf = classifier()
    out = []
    for e in entries:
        images = actions.sample_images(e, SAMPLES, int(seed or 0))
        title = f"{e.label} · {e.config.sampled_from}"
        if clf is not None:  # of the samples shown (the report card's share is of 10,000)
            _, confidence = actions.classify(clf, images)
            title += f" · {int((confidence > 0.9).sum())} of {SAMPLES} look like a digit"
        out.append((actions.samples(e, images=images), title))
    return render.side_by_side(out), _caption_list(out)


def interpolate(keys, i, j, session):
    entries = entries_for(keys, session)
    n = len(REGISTRY.test)
    for v in (i, j):
        if v is None or not 0 <= int(v) < n:
            raise gr.Error(f"test indices must be between 0 and {n - 1}")
    return actions.interpolation(entries, REGISTRY.test, int(i), int(j))


CLUSTERED_MODELS = ("aae-cluster16", "aae-semi100")  # the shipped clustered AAEs the Clusters tab's shortcut adds
NO_CLUSTERED = ("None of the shown models has clusters: press *Add the clustered AAEs*, or pick aae-cluster16 or "
                "aae-semi100 in the model picker.")


def cluster_report(entry, summary) -> str:
    """Which digits a clustered AAE found, which clusters they split over, and which digits it merged."""
    found = summary.merged()
    lost = [str(d) for d, ks in found.items() if not ks]
    split = [f"{d} ({len(ks)} clusters)" for d, ks in found.items() if len(ks) > 1]
    mixed = [f"cluster {k}: {summary.purity[k]:.0%} {summary.majority[k]}"
             for k in np.argsort(summary.purity) if summary.size[k] and summary.purity[k] < 0.6][:4]
    semi = entry.config.labels
    line = (f"**{entry.label}** ({entry.config.clusters} clusters, "
            + (f"{semi} labelled training images" if semi else "no labels") + f"): {summary.accuracy:.0%} of the "
            "test digits are their cluster's majority digit.")
    line += f" No cluster holds mostly a {', '.join(lost)}: merged into others." if lost else " Every digit has a cluster."
    if split:
        line += f" Split over several: {', '.join(split)}."
    if mixed:
        line += f" The most mixed: {'; '.join(mixed)}."
    return line


def clusters_view(keys, session):
    """The Clusters tab: each shown clustered AAE's heads (every cluster at style z = 0, its majority digit and
    purity), the confusion heatmap of the first, and in words which digits it found and which it merged."""
    from . import clusters

    entries = [e for e in entries_for(keys, session) if e.config.clustered]
    if not entries:
        return None, None, f"*{NO_CLUSTERED}*"
    panels, texts, figure = [], [], None
    for e in entries:
        summary = clusters.summarize(e.label_of, e.labels, e.config.clusters, e.config.num_classes)
        panels.append((clusters.cluster_heads(e, summary, e.run.classes), f"{e.label}: its clusters at style z = 0"))
        texts.append(cluster_report(e, summary))
        if figure is None:
            figure = clusters.confusion_figure(summary, e.run.classes, title=f"{e.label}: test digits per cluster")
    return render.side_by_side(panels, per_row=1), figure, "\n\n".join(texts)


def add_clustered(keys, session):
    """Show the shipped clustered AAEs beside the current models."""
    keys = [picked_key(k, session) for k in (keys or [])]
    available = REGISTRY.available()
    extra = [k for k in (f"pretrained/{name}" for name in CLUSTERED_MODELS) if k in available and k not in keys]
    if not extra and not (keys and any(e.config.clustered for e in entries_for(keys, session))):
        raise gr.Error(f"No clustered AAE is installed (looked for {', '.join(CLUSTERED_MODELS)} in pretrained/)")
    return gr.update(value=[*keys, *extra][-MAX_MODELS:])


NO_CONDITIONAL = ("None of the shown models is conditional: press *Add the CVAE and CAAE*, or pick one (e.g. "
                  "cvae-2d) in the model picker.")
CONDITIONAL_MODELS = ("cvae-2d", "caae-2d")  # the shipped ones the Conditional tab's shortcut adds


def add_conditional(keys, session):
    """Show the shipped CVAE and CAAE beside the current models (the oldest make room when the picker is full)."""
    keys = [picked_key(k, session) for k in (keys or [])]
    available = REGISTRY.available()
    extra = [k for k in (f"pretrained/{name}" for name in CONDITIONAL_MODELS) if k in available and k not in keys]
    if not extra and not (keys and any(e.config.conditional for e in entries_for(keys, session))):
        raise gr.Error(f"No conditional model is installed (looked for {', '.join(CONDITIONAL_MODELS)} in "
                       "pretrained/); train one in the Train tab.")
    return gr.update(value=[*keys, *extra][-MAX_MODELS:])


def style_grids(keys, indices, session):
    entries = [e for e in entries_for(keys, session) if e.config.conditional]
    if not entries:
        raise gr.Error(NO_CONDITIONAL)
    try:
        _, _, idx = actions.pick_test_digits(REGISTRY.test, "by index", indices=indices or "0, 1, 2, 3, 4")
    except ValueError as e:
        raise gr.Error(str(e)) from None
    panels = [(actions.style_grid(e, REGISTRY.test, idx), e.label) for e in entries]
    return render.side_by_side(panels, per_row=2), _caption_list(panels)


def style_grids_on_open(keys, indices, session):
    """The Conditional tab opening: its grids when a conditional model is shown, else the hint (not an error)."""
    if not any(e.config.conditional for e in entries_for(keys, session)):
        return None, f"*{NO_CONDITIONAL}*"
    return style_grids(keys, indices, session)


def shown_model_choice(keys, current, session):
    """A model picker of the shown models only (their names), keeping the current pick while it is shown."""
    keys = [picked_key(k, session) for k in (keys or [])]
    names = dict((key, label) for label, key in model_choices(session))
    choices = [(names.get(k, k), k) for k in keys]
    return gr.update(choices=choices, value=current if current in keys else (keys[0] if keys else None))


TRAVERSE_SOURCES = ("test digit", "pinned point")


def traverse(keys, model, source, index, span, steps, session):
    """One row per latent dim of ``model`` (a key of the shown models or any model), from -span to +span σ around
    the code of test digit #index or of the pinned point; returns the grid, a caption and the page's sliders."""
    entries = entries_for(keys, session)
    try:
        entry = next(e for e in entries if e.key == picked_key(model or "", session)) if model else entries[0]
    except StopIteration:
        raise gr.Error(f"{model!r} is not a shown model; pick one of {', '.join(e.key for e in entries)}") from None
    try:
        span, steps = float(span), int(steps)
    except (TypeError, ValueError):
        raise gr.Error("span and steps must be numbers") from None
    if not (0 < span <= 10 and 2 <= steps <= 25):
        raise gr.Error(f"span must be in (0, 10] σ and steps between 2 and 25 (got {span}, {steps})")
    if source == "pinned point":
        clicked, x, y = _pinned(entries, "umap", session or new_session())
        target = actions.click_targets(entries, clicked, (x, y), link=(session or {}).get("link", LINK_DEFAULT))[
            entries.index(entry)]
        z0, label, where = target.z, target.label, f"the pinned point ({target.how})"
    else:
        n = len(REGISTRY.test)
        try:
            i = int(index)
        except (TypeError, ValueError):
            i = -1
        if not 0 <= i < n:
            raise gr.Error(f"the test digit # must be between 0 and {n - 1} (got {index!r})")
        z0, where = entry.latents[i], f"test digit #{i}"
        label = int(entry.label_of[i]) if entry.takes_label else None  # its digit, or its cluster
    image, rows = actions.traversal(entry, REGISTRY.test, z0, span=span, steps=steps, label=label)
    order, kl = actions.traversal_rows(entry, REGISTRY.test)
    caption = (f"**{entry.label}** around {where}: one row per latent dim, from −{span:g} to +{span:g} σ"
               + (" (σ of N(0, I))" if actions.traversal_scale(entry).max() == 1 else " (σ of the test codes)"))
    if kl is not None:
        collapsed = [f"z{j + 1}" for j in order if kl[j] < 0.05]
        caption += (". Rows are ordered by each dim's mean KL over the test split (nats): the top ones carry the "
                    "digit, " + (f"{', '.join(collapsed)} collapsed to the prior (KL < 0.05): moving them changes "
                                 "nothing." if collapsed else "none collapsed to the prior."))
    sliders = live.traverse_json(entry, z0, actions.traversal_scale(entry), order, kl, span, label)
    return image, caption, sliders


GIF_KINDS = ("interpolation", "traversal", "replay")
GIF_DIR = Path(tempfile.gettempdir()) / "latent-explorer-gifs"
GIF_TTL = 900  # seconds a made GIF stays on disk (Gradio keeps its own copy for the page)


def export_gif(what, keys, a, b, model, source, index, span, job_id, session):
    """A looping GIF: ``what`` = interpolation (test digits a -> b in every shown model), traversal (``model``
    around ``source``/``index``, every dim at once) or replay (the latent snapshots of your job ``job_id``)."""
    from . import gif

    if what == "interpolation":
        entries = entries_for(keys, session)
        interpolate(keys, a, b, session)  # the same checks of the indices
        frames = gif.interpolation_frames(entries, REGISTRY.test, int(a), int(b))
    elif what == "traversal":
        _, _, sliders = traverse(keys, model, source, index, span, 11, session)
        view = json.loads(sliders)
        entry = next(e for e in entries_for(keys, session) if e.label == view["title"])
        frames = gif.traversal_frames(entry, REGISTRY.test, np.asarray(view["z0"], np.float32), span=float(span),
                                      label=view["label"])
    elif what == "replay":
        runs = trainer_tab.snapshots_of(job_id, session)
        if not runs:
            raise gr.Error("no latent snapshots yet: the replay GIF needs a job with at least one finished epoch")
        frames = gif.replay_frames(runs)
    else:
        raise gr.Error(f"what must be one of {', '.join(GIF_KINDS)}, got {what!r}")
    GIF_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in GIF_DIR.glob("*.gif"):  # made for earlier requests, long since sent
        if now - old.stat().st_mtime > GIF_TTL:
            old.unlink(missing_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"{what}-", suffix=".gif", dir=GIF_DIR)
    os.close(fd)
    return str(gif.save(frames, path))


def upload(files, keys, session, request: gr.Request = None):
    session = session or new_session()
    folder = trainer_tab.session_dir(session, request)  # tracks the session, so closing the tab finds its files
    paths = [getattr(f, "name", f) for f in (files or [])]
    try:
        if not settings.UPLOADS:
            raise ModelLoadError("uploads are turned off on this server (LATENT_EXPLORER_UPLOADS=off)")
        if len(session["uploads"]) >= MAX_UPLOADS:
            raise ModelLoadError(f"this session holds {MAX_UPLOADS} uploaded models, the most it may keep; reload "
                                 "the page to start again")
        entry, ignored = load_upload(paths, Path(folder), REGISTRY.test, len(session["uploads"]) + 1,
                                     session_room(folder))
    except (ModelLoadError, CheckpointError, OSError) as e:
        raise gr.Error(f"Upload refused: {e}") from None
    session["uploads"][entry.key] = entry
    keys = [*(keys or []), entry.key][-MAX_MODELS:]
    note = f" Ignored {', '.join(ignored)}: not needed to show a model." if ignored else ""
    return gr.update(choices=model_choices(session), value=keys), f"Loaded **{entry.label}**.{note}", session


def refresh(keys, session):
    choices = model_choices(session)
    known = {key for _, key in choices}
    return gr.update(choices=choices, value=[k for k in (keys or []) if k in known])


def remember_owner(owner, session, request: gr.Request):
    """One owner id per browser (kept in local storage), so a reload re-attaches to its training jobs. The browser
    sends it, so only an id of the form this app makes (32 hex digits) is taken."""
    if isinstance(owner, str) and re.fullmatch(r"[0-9a-f]{32}", owner):
        session["owner"] = owner
    trainer_tab.track(session, request)
    return session["owner"], session


def compare_run(job_id, keys, session):
    """Put the job's run in the picker (the picker's value is what the page shows; before the first epoch there is
    nothing to add, and the picker stays as it is)."""
    try:
        added = trainer_tab.run_keys_of(job_id, session)  # a race: every model of it
    except gr.Error as e:
        gr.Warning(e.message)
        return gr.skip()
    for key in added:
        REGISTRY.forget(key)  # the run may have more epochs than the cached copy
    actions.PLANES.clear()
    kept = [k for k in (keys or []) if k not in added]
    return gr.update(choices=model_choices(session), value=[*kept, *added][-MAX_MODELS:])


def cleanup(session):
    """Remove a session's uploaded files and loaded uploads (tab closed, or the state expired)."""
    if not session:
        return
    if session.get("dir"):
        shutil.rmtree(session["dir"], ignore_errors=True)
        session["dir"] = None
    session.get("uploads", {}).clear()
    trainer_tab.OPEN_SESSIONS.pop(session.get("hash"), None)


def end_session(request: gr.Request):
    """The browser tab closed (Gradio's unload event): delete its files now rather than when the state expires.
    Its training job keeps running; reopening the page re-attaches to it."""
    if request is not None:
        cleanup(trainer_tab.OPEN_SESSIONS.pop(request.session_hash, None))


def report_markdown() -> str:
    """The "How good is each model?" table of every model folder the app can show, and the folders left out."""
    table = report_card(REGISTRY.available()) or NO_REPORT
    skipped = "".join(f"\n- {key}: {why}" for key, why in sorted(REGISTRY.skipped.items()))
    return table + (f"\n\n*Not listed (their files cannot be read):*{skipped}" if skipped else "")


def lesson_markdown(readme: Path = ROOT / "README.md") -> str | None:
    """The README's "A 10-minute lesson" section, shown on the page too (one text for both); None without it."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"^## A 10-minute lesson\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return re.sub(r"<!--.*?-->", "", found.group(1), flags=re.S).strip() if found else None


# -- layout and wiring -------------------------------------------------------------------
def build() -> gr.Blocks:
    with gr.Blocks(title="Latent Explorer", delete_cache=CACHE_CLEANUP, fill_width=True) as demo:
        session = gr.State(new_session, delete_callback=cleanup, time_to_live=SESSION_TTL)
        owner = gr.BrowserState(None, storage_key="latent-explorer-owner")
        gr.Markdown("### Latent Explorer — what do autoencoders learn? Compare an **AE**, a **VAE** and an **AAE** "
                    "trained on MNIST, side by side.", elem_id="title")
        lesson = lesson_markdown()
        with gr.Row(equal_height=True):  # side by side: one line of the screen while both are closed
            if lesson:
                with gr.Accordion("A 10-minute lesson (for class)", open=False, elem_id="lesson"):
                    gr.Markdown(lesson)
            with gr.Accordion("How good is each model? (each measured on its held-out test digits)", open=False,
                              elem_id="report"):
                gr.Markdown(REPORT_NOTE, elem_classes=["caption"])
                report = gr.Markdown(report_markdown)  # read again on every page load
        with gr.Row(equal_height=True):
            models = gr.Dropdown(label="Models to compare (up to 6)", multiselect=True, allow_custom_value=True,
                                 max_choices=MAX_MODELS, scale=5)
            projection = gr.Dropdown(["umap", "pca"], value="umap", label="Projection (> 2-D)", scale=1,
                                     min_width=140)
            background = gr.Dropdown(list(actions.BACKGROUNDS), value="none", label="Plane background", scale=1,
                                     min_width=140)
            label = gr.Dropdown(["auto", *range(16)], value="auto", label="Label / cluster", scale=1,
                                min_width=120)  # the digit of a CVAE/CAAE, the cluster of a clustered AAE
            with gr.Column(scale=0, min_width=150):
                points = gr.Checkbox(value=True, label="Test points", min_width=110)
                projector = gr.Checkbox(value=False, label="Projector mode", min_width=110, elem_id="projector")
        status = gr.Markdown(elem_id="status")
        with gr.Tabs() as tabs:
            with gr.Tab("Latent planes", id="planes"):
                gr.Markdown(CAPTIONS["planes"], elem_classes=["caption"])
                planes = live_component()
                decoded = picture(elem_id="decoded",
                                  label="Decoded on the server", buttons=["download"], visible=False)
                with gr.Accordion("Decode exact coordinates", open=False):
                    with gr.Row():
                        clicked = gr.Number(value=0, label="Model #", precision=0, minimum=0, min_width=60)
                        x = gr.Number(value=0.0, label="x", min_width=60)
                        y = gr.Number(value=0.0, label="y", min_width=60)
                        link = gr.Radio(list(actions.LINKS), value=LINK_DEFAULT, label="Other models follow",
                                        min_width=200)
                        go = gr.Button("Decode at (x, y)", size="sm", scale=0, min_width=160)
            with gr.Tab("Scatter", id="scatter"):
                gr.Markdown(CAPTIONS["scatter"])
                scatter = gr.Plot(label="Test-set latents", elem_id="scatter")
                gr.HTML(lambda: json.dumps({"sprite": live.digit_sprite(REGISTRY.test), "cols": 100,
                                            "target": "scatter"}),
                        html_template='<div class="le-host"></div>', js_on_load=(live.STATIC / "mount.js").read_text(),
                        apply_default_css=False, module_url=live.static_url("scatter_hover.js"),
                        elem_id="scatter-hover")
            with gr.Tab("Manifold grids", id="manifold") as grid_tab:
                gr.Markdown(CAPTIONS["manifold"])
                with gr.Row():
                    grid_n = gr.Slider(5, 25, value=15, step=1, label="Grid size")
                    quantiles = gr.Checkbox(value=False, label="VAE: through Gaussian quantiles")
                    grid_btn = gr.Button("Draw grids", variant="primary")
                grids = picture(label="Manifold grids",
                                show_label=False, buttons=["download"], elem_id="grids")
                grids_text = gr.Markdown()
            with gr.Tab("Reconstructions", id="reconstructions") as recon_tab:
                gr.Markdown(CAPTIONS["recon"])
                with gr.Row():
                    with gr.Column(scale=1):
                        mode = gr.Radio(["one per class", "random", "by index"], value="one per class",
                                        label="Test digits")
                        indices = gr.Textbox(label="Indices (for 'by index')", placeholder="3, 17, 256")
                        seed = gr.Number(value=0, label="Seed (random / one per class)", precision=0, minimum=0,
                                         maximum=SEED_MAX)
                        recon_btn = gr.Button("Reconstruct", variant="primary")
                    sketch = gr.Sketchpad(label="Draw a digit (optional)", type="numpy", image_mode="RGBA",
                                          canvas_size=(280, 280), scale=1, layers=False, transforms=(), elem_id="sketch",
                                          brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))
                recon_msg = gr.Markdown()
                recon_img = picture(label="Reconstructions",
                                    buttons=["download"], elem_id="recons")
                recon_table = gr.Dataframe(headers=["model", "mean error (nats)"], label="Reconstruction error",
                                           interactive=False)
            with gr.Tab("Latent traversal", id="traversal") as traverse_tab:
                gr.Markdown(CAPTIONS["traverse"], elem_classes=["caption"])
                with gr.Row(equal_height=True):
                    traverse_model = gr.Dropdown(label="Model", allow_custom_value=True, scale=2, min_width=160)
                    traverse_source = gr.Radio(list(TRAVERSE_SOURCES), value="test digit", label="Around",
                                               scale=2, min_width=200)
                    traverse_index = gr.Number(value=0, precision=0, minimum=0, label="Test digit #", scale=1,
                                               min_width=100)
                    traverse_span = gr.Slider(1, 5, value=3, step=0.5, label="Span (σ)", scale=2)
                    traverse_steps = gr.Slider(5, 15, value=11, step=1, label="Steps", scale=2)
                    traverse_btn = gr.Button("Draw traversal", variant="primary", scale=1)
                traverse_text = gr.Markdown(elem_id="traverse-text")
                traverse_live = gr.HTML("", html_template='<div class="le-host"></div>',
                                        js_on_load=(live.STATIC / "mount.js").read_text(), apply_default_css=False,
                                        elem_id="traverse-live", module_url=live.static_url("traverse.js"))
                traverse_img = picture(label="Traversal",
                                       show_label=False, buttons=["download"], elem_id="traversal")
                with gr.Row():
                    traverse_gif_btn = gr.Button("Traversal as a GIF (for slides)", size="sm", scale=0,
                                                 min_width=260)
                    traverse_gif = gr.File(label="GIF", elem_id="traverse-gif", scale=1)
            with gr.Tab("Samples", id="samples") as sample_tab:
                gr.Markdown(CAPTIONS["samples"])
                with gr.Row():
                    sample_seed = gr.Number(value=0, label="Seed", precision=0, minimum=0, maximum=SEED_MAX)
                    sample_btn = gr.Button("Sample from the priors", variant="primary")
                sample_gallery = picture(label="Prior samples",
                                         show_label=False, buttons=["download"], elem_id="samples")
                sample_text = gr.Markdown()
                with gr.Row():
                    interp_a = gr.Number(value=3, label="From test digit #", precision=0)
                    interp_b = gr.Number(value=2, label="To test digit #", precision=0)
                    interp_btn = gr.Button("Interpolate")
                interp_img = picture(label="Interpolation",
                                     buttons=["download"])
                with gr.Row():
                    interp_gif_btn = gr.Button("Interpolation as a GIF (for slides)", size="sm", scale=0,
                                               min_width=260)
                    interp_gif = gr.File(label="GIF", elem_id="interp-gif", scale=1)
            with gr.Tab("Conditional", id="conditional") as style_tab:
                gr.Markdown(CAPTIONS["conditional"])
                with gr.Row():
                    style_idx = gr.Textbox(value="0, 1, 2, 3, 4", label="Styles from test digits #")
                    with gr.Column():
                        style_btn = gr.Button("Draw style grids", variant="primary")
                        add_cond_btn = gr.Button("Add the CVAE and CAAE")
                style_text = gr.Markdown(elem_id="styles-text")  # above the picture: the hint must not hide below it
                style_gallery = picture(label="Style × label",
                                        show_label=False, buttons=["download"], elem_id="styles")
            with gr.Tab("Clusters", id="clusters") as clusters_tab:
                gr.Markdown(CAPTIONS["clusters"], elem_classes=["caption"])
                add_clustered_btn = gr.Button("Add the clustered AAEs", size="sm", scale=0, min_width=220)
                clusters_text = gr.Markdown(elem_id="clusters-text")
                clusters_heads = picture(label="Cluster heads",
                                         show_label=False, buttons=["download"], elem_id="cluster-heads")
                clusters_matrix = gr.Plot(label="Clusters against true digits", elem_id="cluster-confusion")
            with gr.Tab("Train", id="train"):
                train = trainer_tab.build_tab(session)
            with gr.Tab("Add a model", id="add"):
                gr.Markdown("Upload a run folder as a **.zip**, or its `config.json` + `model.safetensors` "
                            "(+ optional `metrics.json`, `history.jsonl`, `embedding.npz`; files are matched by "
                            "name, others are ignored). Pickles (`.pt`, `.pth`) are refused. Uploads are "
                            "visible to you only and deleted when you close the page. Runs saved under `runs/` "
                            "appear in the model list after *Refresh*." + (
                                "" if settings.UPLOADS else "\n\n⚠ **Uploads are turned off on this server** (the "
                                "teacher set `LATENT_EXPLORER_UPLOADS=off`)."))
                files = gr.File(file_count="multiple", label="Checkpoint files", interactive=settings.UPLOADS,
                                file_types=[".zip", ".json", ".jsonl", ".safetensors", ".npz"])
                with gr.Row():
                    upload_btn = gr.Button("Load upload", variant="primary")
                    refresh_btn = gr.Button("Refresh model list")

        view_inputs = [models, projection, background, points, label, session]
        waiting_timer = gr.Timer(2.0, active=False)  # ticks while a shown model's UMAP or decoder is made
        view_outputs = [planes, scatter, status, x, y, clicked, session, waiting_timer]
        assert len(view_outputs) == VIEW_OUTPUTS

        demo.load(remember_owner, [owner, session], [owner, session], api_visibility="private").then(
            trainer_tab.attach, [session], [train["job_id"], session, train["timer"]], api_visibility="private").then(
            shared_view, [session], [models, background, label, link, tabs, session],
            api_visibility="private").then(load_models, view_inputs, view_outputs, api_name="load_models")
        train["measured"].then(report_markdown, None, [report], api_visibility="private")
        train["compare"].click(compare_run, [train["job_id"], models, session], [models],
                               api_visibility="private").then(load_models, view_inputs, view_outputs,
                                                              api_visibility="private")
        for control in (projection, background, points, label):
            control.change(reload_models, view_inputs, view_outputs, api_visibility="private")
        projector.change(set_projector, [projector, session], [session], api_visibility="private").then(
            reload_models, view_inputs, view_outputs, api_visibility="private")
        # always_last: a pick made while the last one loads is shown after it (the default, once, dropped it)
        models.input(load_models, view_inputs, view_outputs, api_visibility="private", trigger_mode="always_last")
        waiting_timer.tick(background_tick, view_inputs, view_outputs, api_visibility="private",
                           show_progress="hidden")
        models.select(typed_model, view_inputs, [models, *view_outputs], api_visibility="private")
        planes.pin(pinned_by_page, [models, projection, label, session], [x, y, clicked, link, decoded, session],
                   api_visibility="private", show_progress="hidden", concurrency_limit=1,
                   concurrency_id="pins")  # one at a time, in the order they came: the last pin wins
        go.click(decode_at, [models, clicked, x, y, projection, label, link, session], [decoded, session],
                 api_name="decode").then(refresh_live, view_inputs, [planes], api_visibility="private")
        # each tab opens with its pictures drawn for the current models (the buttons redraw after a change)
        grid_io = ([models, projection, grid_n, quantiles, label, session], [grids, grids_text])
        grid_btn.click(manifold, *grid_io, api_name="manifold")
        grid_tab.select(manifold, *grid_io, api_visibility="private")
        recon_io = ([models, mode, indices, sketch, seed, projection, session],
                    [recon_img, recon_table, recon_msg, scatter, session])
        recon_btn.click(reconstruct, *recon_io, api_name="reconstruct").then(
            refresh_live, view_inputs, [planes], api_visibility="private")  # the drawn digit's star
        recon_tab.select(reconstruct, *recon_io, api_visibility="private").then(
            refresh_live, view_inputs, [planes], api_visibility="private")
        # open the sketchpad with the brush already picked (Gradio starts with no tool)
        recon_tab.select(None, None, None, js="() => { setTimeout(() => { const b = document.querySelector("
                                                 "'#sketch button[aria-label=\"Brush\"]'); if (b) b.click(); }, 300); }")
        traverse_io = ([models, traverse_model, traverse_source, traverse_index, traverse_span, traverse_steps,
                        session], [traverse_img, traverse_text, traverse_live])
        traverse_btn.click(traverse, *traverse_io, api_name="traverse")
        traverse_tab.select(shown_model_choice, [models, traverse_model, session], [traverse_model],
                            api_visibility="private").then(traverse, *traverse_io, api_visibility="private")
        gif_kind = gr.Dropdown(list(GIF_KINDS), value="interpolation", visible=False)
        gif_inputs = [models, interp_a, interp_b, traverse_model, traverse_source, traverse_index, traverse_span,
                      train["job_id"], session]
        gr.Button(visible=False).click(export_gif, [gif_kind, *gif_inputs], [interp_gif], api_name="export_gif")
        for kind, button, out in (("interpolation", interp_gif_btn, interp_gif),
                                  ("traversal", traverse_gif_btn, traverse_gif), ("replay", *train["replay_gif"])):
            button.click(functools.partial(export_gif, kind), gif_inputs, [out], api_visibility="private")
        sample_io = ([models, sample_seed, session], [sample_gallery, sample_text])
        interp_io = ([models, interp_a, interp_b, session], [interp_img])
        sample_btn.click(sample, *sample_io, api_name="sample")
        interp_btn.click(interpolate, *interp_io, api_name="interpolate")
        sample_tab.select(sample, *sample_io, api_visibility="private").then(
            interpolate, *interp_io, api_visibility="private")
        clusters_io = ([models, session], [clusters_heads, clusters_matrix, clusters_text])
        clusters_tab.select(clusters_view, *clusters_io, api_visibility="private")
        gr.Button(visible=False).click(clusters_view, *clusters_io, api_name="clusters")
        add_clustered_btn.click(add_clustered, [models, session], [models], api_visibility="private").then(
            load_models, view_inputs, view_outputs, api_visibility="private").then(
            clusters_view, *clusters_io, api_visibility="private")
        style_io = ([models, style_idx, session], [style_gallery, style_text])
        style_btn.click(style_grids, *style_io, api_name="style_grid")
        style_tab.select(style_grids_on_open, *style_io, api_visibility="private")
        add_cond_btn.click(add_conditional, [models, session], [models], api_visibility="private").then(
            load_models, view_inputs, view_outputs, api_visibility="private").then(
            style_grids_on_open, *style_io, api_visibility="private")
        upload_btn.click(upload, [files, models, session], [models, status, session], api_name="upload").then(
            load_models, view_inputs, view_outputs, api_visibility="private")
        refresh_btn.click(refresh, [models, session], [models], api_visibility="private")
        demo.unload(end_session)
    return demo


def warm_planes() -> None:
    """Draw every plane background of the default models once (a few seconds), so the first students to switch
    backgrounds in class do not wait for them (every page shares these pictures)."""
    try:
        for key in default_models():
            entry = REGISTRY.get(key)
            for background in actions.BACKGROUNDS:
                live.layer_url(entry, "umap", background, True, classifier() if background == "classifier" else None)
    except Exception as e:  # a page then draws them on first use, as before
        print(f"plane warm-up failed ({type(e).__name__}: {e})", flush=True)


def warm_up_background() -> None:
    """Once the server listens: draw the Scatter tab's sprite of test digits (a second) and the default models'
    plane backgrounds (warm_planes), then compile umap-learn's code, so that a student's fresh 16-D model gets its
    UMAP plane in seconds (the first fit in a process otherwise spends most of a minute compiling)."""
    from .projection import warm_up

    live.digit_sprite(REGISTRY.test)
    warm_planes()
    try:
        warm_up()
    except Exception as e:  # the first real fit then compiles instead; nothing else depends on it
        print(f"UMAP warm-up failed ({type(e).__name__}: {e})", flush=True)


def launch(**kwargs) -> None:
    from starlette.middleware import Middleware

    from .http_limits import BodyLimit

    demo = build().queue(default_concurrency_limit=8)
    demo.launch(max_file_size="150mb", server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
                css=CSS, theme=gr.themes.Soft(), ssr_mode=False,  # the live planes' files are served by our own routes
                app_kwargs={"routes": live.ROUTES, "middleware": [Middleware(BodyLimit)]}, prevent_thread_lock=True,
                **kwargs)
    threading.Thread(target=warm_up_background, daemon=True, name="warm-up").start()
    demo.block_thread()
