"""Gradio layout and event wiring. Handlers are thin: the work lives in explorer.actions."""
from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from trainer.checkpoint import CheckpointError
from trainer.config import SEED_MAX

from . import actions, plots, render, trainer_tab
from .registry import (DEFAULT_MODELS, MAX_UPLOADS, PRETRAINED, ROOT, ModelLoadError, Registry, load_upload,
                       report_card, session_room)

MAX_MODELS = 6
SESSION_TTL = 4 * 3600  # seconds: a session idle this long is dropped with its uploads (API clients never "close")
CACHE_CLEANUP = (600, 900)  # every 10 min, delete the cached uploads and output images older than 15 min
REGISTRY = Registry()  # shared, read-only model cache (internally locked)
_classifier_lock = threading.Lock()
_classifier: list = []

CAPTIONS = {
    "planes": "**Click a plane**: the point is decoded by every model at once (2-D models share the same (z1, z2)). "
              "The **AE** decodes junk in the gaps between its clusters, the **VAE** decodes a plausible digit almost "
              "everywhere near the origin, the **AAE** fills the shape of its prior. Backgrounds show what each region "
              "decodes to (*manifold*), where the prior expects codes (*prior density*), or which digit a classifier "
              "sees (*classifier*).",
    "scatter": "The 10,000 test digits, placed at their latent codes (or a 2-D UMAP/PCA projection for bigger latents), "
               "colored by their true class. Zoom with the mouse; hover to see a digit's class and index. Separated "
               "colors mean the model organized digits by class without ever seeing a label (except guided models).",
    "manifold": "Each grid decodes evenly spaced points of a model's plane. The AE's grid shows blurry, broken digits "
                "wherever no training code lives; the VAE's grid morphs smoothly. The Gaussian-quantile grid (VAE) "
                "follows Kingma & Welling's Fig. 4: equal steps of probability under the prior.",
    "recon": "Top row: the input digits. Then each model's reconstruction, with its error in nats under each image "
             "(lower is better). Draw your own digit to see how each model reads it; a star marks where it lands in "
             "every plane.",
    "samples": "Digits generated from each model's prior: N(0, I) for the VAE (vae-16d: a mixture of Gaussians "
               "fitted to its codes), the AAE's chosen prior, and for the AE (which has no prior) a Gaussian fitted "
               "to its codes — with 16 latent dims many of those fall in the holes between codes (compare ae-16d "
               "with vae-16d). "
               "Interpolation decodes the straight line between two test digits' codes in each model.",
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
#title h3 {margin: 0;}
#status p {margin: 0; font-size: 0.9em;}
.caption p {font-size: 0.95em; margin: 0;}
footer {display: none !important;}
.plane-row {justify-content: flex-start !important;}
#report th, #report td {overflow-wrap: normal; word-break: normal; padding: 6px 10px;}
.lower-plane {max-width: calc((100% - 2 * var(--layout-gap)) / 3); margin: 0 !important;}
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


def default_models() -> list[str]:
    available = REGISTRY.available()
    keys = [f"pretrained/{name}" for name in DEFAULT_MODELS if f"pretrained/{name}" in available]
    return keys or list(available)[:3]


def _label_value(label):
    return "auto" if label in (None, "", "auto") else int(label)


# -- planes and clicks ------------------------------------------------------------------
def plane_updates(entries, projection, background, points, session, targets=None):
    """Six image updates: each shown model's plane, with the click's crosshair and the drawn digit's star."""
    clf = classifier() if background == "classifier" else None
    drawn = session.get("drawn") if session else None
    updates = []
    for k in range(MAX_MODELS):
        if k >= len(entries):
            updates.append(gr.update(visible=False, value=None))
            continue
        entry = entries[k]
        cross = targets[k].xy if targets else None
        star = actions.embed_point(entry, drawn, projection) if drawn is not None else None
        image = actions.marked_plane(entry, projection, background, clf, points, cross=cross, star=star)
        view = entry.view(projection)
        title = entry.label if view.name == "latent" else f"{entry.label} · {view.name.upper()}"  # short: fits 1024 px
        updates.append(gr.update(visible=True, value=image, label=title))
    return updates


def typed_model(keys, projection, background, points, session, evt: gr.SelectData):
    """A name typed and entered in the picker: Gradio reports it by a select event (index -1), before the picker's
    value includes it, and sends no input event; so add it here, as its key, and show the models."""
    if evt.index != -1 or not evt.selected:  # clicks and removals: the input event shows them
        return [gr.skip()] * (1 + VIEW_OUTPUTS)  # the picker, then load_models' outputs
    typed = picked_key(str(evt.value), session)
    if typed not in {key for _, key in model_choices(session)}:  # no such model: take the chip away again
        gr.Warning(f"No model is called {str(evt.value).strip()!r}; pick one from the list.")
        return gr.update(value=[k for k in keys or [] if k != evt.value]), *[gr.skip()] * VIEW_OUTPUTS
    keys = list(dict.fromkeys(picked_key(k, session) for k in [*(keys or []), typed]))[-MAX_MODELS:]
    return gr.update(value=keys), *load_models(keys, projection, background, points, session)


VIEW_OUTPUTS = MAX_MODELS + 8  # what load_models returns: a plane per slot, then the 8 of view_outputs in build()


def load_models(keys, projection, background, points, session):
    """Show the chosen models: planes and scatter."""
    entries = entries_for(keys, session)
    session = session or new_session()
    marks = _drawn_marks(entries, projection, session)
    status = "Showing " + ", ".join(f"**{e.label}** ({e.kind}, {e.config.latent_dim}-D)" for e in entries)
    waiting = umap_pending(entries, projection)
    if waiting:
        status += (f". UMAP for {', '.join(waiting)} is being computed in the background (a minute or two the "
                   "first time, less after); PCA is shown until then, and the planes switch to UMAP by themselves.")
    status += "".join(f". {e.label}: {e.umap_status}" for e in entries if e.umap_status.startswith("UMAP failed"))
    # start with the origin of the first plane decoded, so the page never opens empty
    view = entries[0].view(projection)
    xy = (0.0, 0.0) if view.shared else tuple(float(v) for v in np.median(view.xy, 0))
    strip, targets, session = _decode(entries, 0, xy, projection, "auto", session)
    return [*plane_updates(entries, projection, background, points, session, targets),
            plots.latent_scatter(entries, projection, marks=marks), status, strip, xy[0], xy[1], 0, session,
            gr.Timer(active=bool(waiting))]


def umap_pending(entries, projection) -> list[str]:
    """Labels of the shown models whose UMAP plane is still being fitted (only UMAP planes wait for it)."""
    return [e.label for e in entries if e.umap_status == "computing"] if projection == "umap" else []


def umap_tick(keys, projection, background, points, session):
    """Timer tick while a shown model's UMAP is computed: once none is, show the models again (now on UMAP)."""
    try:
        entries = entries_for(keys, session)
    except gr.Error:  # the picker was emptied meanwhile: nothing to refresh
        return [gr.skip()] * (VIEW_OUTPUTS - 1) + [gr.Timer(active=False)]
    if umap_pending(entries, projection):
        return [gr.skip()] * VIEW_OUTPUTS
    return load_models(keys, projection, background, points, session)


def _drawn_marks(entries, projection, session):
    drawn = session.get("drawn")
    if drawn is None:
        return None
    return {e.key: tuple(actions.embed_point(e, drawn, projection)) for e in entries}


def decode_at(keys, clicked, x, y, projection, label, session):
    """Decode plane point (x, y) of model number ``clicked`` in every shown model."""
    entries = entries_for(keys, session)
    clicked = int(clicked) if clicked is not None else 0
    if not 0 <= clicked < len(entries):  # a warning: the decoded panel keeps its picture
        gr.Warning(f"Model # {clicked} is not shown: the shown models are numbered 0 to {len(entries) - 1}.")
        return gr.skip(), gr.skip()
    strip, _, session = _decode(entries, clicked, (float(x), float(y)), projection, label, session)
    return strip, session


def _decode(entries, clicked, xy, projection, label, session):
    """The decoded strip and the click's targets; the click is remembered for the crosshairs."""
    targets = actions.click_targets(entries, clicked, xy, projection=projection, label=_label_value(label))
    session = session or new_session()
    session["click"] = (clicked, float(xy[0]), float(xy[1]))
    return actions.decoded_strip(targets, REGISTRY.test, classifier()), targets, session


def make_click_handler(slot: int):
    def on_click(keys, projection, label, session, evt: gr.SelectData):
        entries = entries_for(keys, session)
        if slot >= len(entries) or evt is None or evt.index is None:
            raise gr.Error("that plane is empty")
        px, py = evt.index[:2]
        xy = actions.pixel_to_plane(entries[slot], projection, int(px), int(py))
        if xy is None:
            raise gr.Error("Click inside the plotted square.")
        strip, session = decode_at(keys, slot, xy[0], xy[1], projection, label, session)
        return strip, xy[0], xy[1], slot, session
    return on_click


def walk(dx, dy):
    def step(keys, clicked, x, y, projection, label, session):
        entries = entries_for(keys, session)
        clicked = int(clicked or 0) if int(clicked or 0) < len(entries) else 0
        xmin, xmax, ymin, ymax = entries[clicked].view(projection).extent
        x = float(x or 0) + dx * 0.04 * (xmax - xmin)
        y = float(y or 0) + dy * 0.04 * (ymax - ymin)
        strip, session = decode_at(keys, clicked, x, y, projection, label, session)
        return strip, x, y, session
    return step


def crosshairs(keys, projection, background, points, label, session):
    entries = entries_for(keys, session)
    click = (session or {}).get("click")
    targets = None
    if click is not None and click[0] < len(entries):
        targets = actions.click_targets(entries, click[0], click[1:], projection=projection, label=_label_value(label))
    return plane_updates(entries, projection, background, points, session or new_session(), targets)


# -- other views -----------------------------------------------------------------------
def manifold(keys, projection, n, quantiles, label, session):
    entries = entries_for(keys, session)
    lab = 0 if _label_value(label) == "auto" else int(label)
    out = []
    for e in entries:
        q = quantiles and e.kind in ("vae", "cvae") and e.config.latent_dim == 2 and not e.config.prior_components
        title = f"{e.label} · {'Gaussian quantiles' if q else e.view(projection).name + ' plane'}"
        if e.config.conditional:
            title += f" · label {lab}"
        out.append((actions.manifold_grid(e, projection, int(n), q, lab), title))
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
    scatter = plots.latent_scatter(entries, projection, marks=_drawn_marks(entries, projection, session)) \
        if star_changed else gr.skip()
    return image, table, message, scatter, session


def sample(keys, seed, session):
    entries = entries_for(keys, session)
    clf = classifier()
    out = []
    for e in entries:
        grid = actions.samples(e, 64, int(seed or 0))
        title = f"{e.label} · {e.config.sampled_from}"
        if clf is not None:
            from trainer.evaluate import sample_quality

            q = sample_quality(e.model, clf, n=500, seed=int(seed or 0))
            title += f" · {q['confident_share']:.0%} look like a digit"
        out.append((grid, title))
    return render.side_by_side(out), _caption_list(out)


def interpolate(keys, i, j, session):
    entries = entries_for(keys, session)
    n = len(REGISTRY.test)
    for v in (i, j):
        if v is None or not 0 <= int(v) < n:
            raise gr.Error(f"test indices must be between 0 and {n - 1}")
    return actions.interpolation(entries, REGISTRY.test, int(i), int(j))


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


def upload(files, keys, session, request: gr.Request = None):
    session = session or new_session()
    folder = trainer_tab.session_dir(session, request)  # tracks the session, so closing the tab finds its files
    paths = [getattr(f, "name", f) for f in (files or [])]
    try:
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
        key = trainer_tab.run_key_of(job_id, session)
    except gr.Error as e:
        gr.Warning(e.message)
        return gr.skip()
    REGISTRY.forget(key)  # the run may have more epochs than the cached copy
    actions.PLANES.clear()
    return gr.update(choices=model_choices(session), value=[*(k for k in (keys or []) if k != key), key][-MAX_MODELS:])


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
    with gr.Blocks(title="Latent Explorer", delete_cache=CACHE_CLEANUP) as demo:
        session = gr.State(new_session, delete_callback=cleanup, time_to_live=SESSION_TTL)
        owner = gr.BrowserState(None, storage_key="latent-explorer-owner")
        gr.Markdown("### Latent Explorer — what do autoencoders learn? Compare an **AE**, a **VAE** and an **AAE** "
                    "trained on MNIST, side by side.", elem_id="title")
        lesson = lesson_markdown()
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
            projection = gr.Dropdown(["umap", "pca"], value="umap", label="Projection (latents > 2-D)", scale=1,
                                     min_width=150)
            background = gr.Dropdown(list(actions.BACKGROUNDS), value="none", label="Plane background", scale=1,
                                     min_width=150)
            label = gr.Dropdown(["auto", *range(10)], value="auto", label="Label for CVAE/CAAE", scale=1,
                                min_width=120)
            points = gr.Checkbox(value=True, label="Test points", scale=0, min_width=110)
        status = gr.Markdown(elem_id="status")
        with gr.Tabs():
            with gr.Tab("Click a plane"):
                gr.Markdown(CAPTIONS["planes"], elem_classes=["caption"])
                with gr.Row():
                    with gr.Column(scale=2):
                        planes = []
                        for row in range(MAX_MODELS // 3):
                            with gr.Row(elem_classes=["plane-row"]):
                                for _ in range(3):  # lower rows: as wide as a top-row plane, however many
                                    planes.append(gr.Image(type="numpy", format="png", interactive=False,
                                                           visible=False, buttons=["download"], min_width=180,
                                                           elem_classes=["plane"] + ["lower-plane"] * (row > 0)))
                        gr.HTML(plots.digit_legend_html())
                    with gr.Column(scale=1, min_width=300):
                        decoded = gr.Image(type="numpy", format="png", interactive=False, label="Decoded at the click",
                                           elem_id="decoded", buttons=["download"])
                        with gr.Row():
                            arrows = {name: gr.Button(name, scale=0, min_width=44, size="sm")
                                      for name in ("←", "↑", "↓", "→")}
                        with gr.Accordion("Decode exact coordinates", open=False):
                            with gr.Row():
                                clicked = gr.Number(value=0, label="Model #", precision=0, minimum=0, min_width=60)
                                x = gr.Number(value=0.0, label="x", min_width=60)
                                y = gr.Number(value=0.0, label="y", min_width=60)
                            go = gr.Button("Decode at (x, y)", size="sm")
            with gr.Tab("Scatter"):
                gr.Markdown(CAPTIONS["scatter"])
                scatter = gr.Plot(label="Test-set latents")
            with gr.Tab("Manifold grids") as grid_tab:
                gr.Markdown(CAPTIONS["manifold"])
                with gr.Row():
                    grid_n = gr.Slider(5, 25, value=15, step=1, label="Grid size")
                    quantiles = gr.Checkbox(value=False, label="VAE: through Gaussian quantiles")
                    grid_btn = gr.Button("Draw grids", variant="primary")
                grids = gr.Image(type="numpy", format="png", interactive=False, label="Manifold grids",
                                 show_label=False, buttons=["download"], elem_id="grids")
                grids_text = gr.Markdown()
            with gr.Tab("Reconstructions") as recon_tab:
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
                recon_img = gr.Image(type="numpy", format="png", interactive=False, label="Reconstructions",
                                     buttons=["download"], elem_id="recons")
                recon_table = gr.Dataframe(headers=["model", "mean error (nats)"], label="Reconstruction error",
                                           interactive=False)
            with gr.Tab("Samples") as sample_tab:
                gr.Markdown(CAPTIONS["samples"])
                with gr.Row():
                    sample_seed = gr.Number(value=0, label="Seed", precision=0, minimum=0, maximum=SEED_MAX)
                    sample_btn = gr.Button("Sample from the priors", variant="primary")
                sample_gallery = gr.Image(type="numpy", format="png", interactive=False, label="Prior samples",
                                          show_label=False, buttons=["download"], elem_id="samples")
                sample_text = gr.Markdown()
                with gr.Row():
                    interp_a = gr.Number(value=3, label="From test digit #", precision=0)
                    interp_b = gr.Number(value=2, label="To test digit #", precision=0)
                    interp_btn = gr.Button("Interpolate")
                interp_img = gr.Image(type="numpy", format="png", interactive=False, label="Interpolation",
                                      buttons=["download"])
            with gr.Tab("Conditional") as style_tab:
                gr.Markdown(CAPTIONS["conditional"])
                with gr.Row():
                    style_idx = gr.Textbox(value="0, 1, 2, 3, 4", label="Styles from test digits #")
                    with gr.Column():
                        style_btn = gr.Button("Draw style grids", variant="primary")
                        add_cond_btn = gr.Button("Add the CVAE and CAAE")
                style_text = gr.Markdown(elem_id="styles-text")  # above the picture: the hint must not hide below it
                style_gallery = gr.Image(type="numpy", format="png", interactive=False, label="Style × label",
                                         show_label=False, buttons=["download"], elem_id="styles")
            with gr.Tab("Train"):
                train = trainer_tab.build_tab(session)
            with gr.Tab("Add a model"):
                gr.Markdown("Upload a run folder as a **.zip**, or its `config.json` + `model.safetensors` "
                            "(+ optional `metrics.json`, `history.jsonl`, `embedding.npz`; files are matched by "
                            "name, others are ignored). Pickles (`.pt`, `.pth`) are refused. Uploads are "
                            "visible to you only and deleted when you close the page. Runs saved under `runs/` "
                            "appear in the model list after *Refresh*.")
                files = gr.File(file_count="multiple", label="Checkpoint files",
                                file_types=[".zip", ".json", ".jsonl", ".safetensors", ".npz"])
                with gr.Row():
                    upload_btn = gr.Button("Load upload", variant="primary")
                    refresh_btn = gr.Button("Refresh model list")

        view_inputs = [models, projection, background, points, session]
        umap_timer = gr.Timer(2.0, active=False)  # ticks while a shown model's UMAP is computed in the background
        view_outputs = [*planes, scatter, status, decoded, x, y, clicked, session, umap_timer]
        assert len(view_outputs) == VIEW_OUTPUTS
        cross_inputs = [models, projection, background, points, label, session]

        demo.load(remember_owner, [owner, session], [owner, session], api_visibility="private").then(
            trainer_tab.attach, [session], [train["job_id"], session, train["timer"]], api_visibility="private").then(
            lambda s: gr.update(choices=model_choices(s), value=default_models()), [session], [models],
            api_visibility="private").then(load_models, view_inputs, view_outputs, api_name="load_models")
        train["measured"].then(report_markdown, None, [report], api_visibility="private")
        train["compare"].click(compare_run, [train["job_id"], models, session], [models],
                               api_visibility="private").then(load_models, view_inputs, view_outputs,
                                                              api_visibility="private")
        for control in (projection, background, points):
            control.change(load_models, view_inputs, view_outputs, api_visibility="private").then(
                crosshairs, cross_inputs, planes, api_visibility="private")
        # always_last: a pick made while the last one loads is shown after it (the default, once, dropped it)
        models.input(load_models, view_inputs, view_outputs, api_visibility="private", trigger_mode="always_last")
        umap_timer.tick(umap_tick, view_inputs, view_outputs, api_visibility="private", show_progress="hidden")
        models.select(typed_model, view_inputs, [models, *view_outputs], api_visibility="private")
        for slot, image in enumerate(planes):
            image.select(make_click_handler(slot), [models, projection, label, session],
                         [decoded, x, y, clicked, session], api_visibility="private", show_progress="hidden").then(
                crosshairs, cross_inputs, planes, api_visibility="private", show_progress="hidden")
        go.click(decode_at, [models, clicked, x, y, projection, label, session], [decoded, session],
                 api_name="decode").then(crosshairs, cross_inputs, planes, api_visibility="private")
        for name, (dx, dy) in {"←": (-1, 0), "→": (1, 0), "↑": (0, 1), "↓": (0, -1)}.items():
            arrows[name].click(walk(dx, dy), [models, clicked, x, y, projection, label, session],
                               [decoded, x, y, session], api_visibility="private", show_progress="hidden").then(
                crosshairs, cross_inputs, planes, api_visibility="private", show_progress="hidden")
        # each tab opens with its pictures drawn for the current models (the buttons redraw after a change)
        grid_io = ([models, projection, grid_n, quantiles, label, session], [grids, grids_text])
        grid_btn.click(manifold, *grid_io, api_name="manifold")
        grid_tab.select(manifold, *grid_io, api_visibility="private")
        recon_io = ([models, mode, indices, sketch, seed, projection, session],
                    [recon_img, recon_table, recon_msg, scatter, session])
        recon_btn.click(reconstruct, *recon_io, api_name="reconstruct").then(
            crosshairs, cross_inputs, planes, api_visibility="private")
        recon_tab.select(reconstruct, *recon_io, api_visibility="private").then(
            crosshairs, cross_inputs, planes, api_visibility="private")
        # open the sketchpad with the brush already picked (Gradio starts with no tool)
        recon_tab.select(None, None, None, js="() => { setTimeout(() => { const b = document.querySelector("
                                                 "'#sketch button[aria-label=\"Brush\"]'); if (b) b.click(); }, 300); }")
        sample_io = ([models, sample_seed, session], [sample_gallery, sample_text])
        interp_io = ([models, interp_a, interp_b, session], [interp_img])
        sample_btn.click(sample, *sample_io, api_name="sample")
        interp_btn.click(interpolate, *interp_io, api_name="interpolate")
        sample_tab.select(sample, *sample_io, api_visibility="private").then(
            interpolate, *interp_io, api_visibility="private")
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


def launch(**kwargs) -> None:
    from starlette.middleware import Middleware

    from .http_limits import BodyLimit

    build().queue(default_concurrency_limit=8).launch(max_file_size="150mb",
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
        css=CSS, theme=gr.themes.Soft(), app_kwargs={"middleware": [Middleware(BodyLimit)]}, **kwargs)
