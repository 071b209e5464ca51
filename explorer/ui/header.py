"""The top of the page: the title, the lesson, "How good is each model?", the controls every tab reads (the
models, projection, background, label, test points, projector mode) and the status line; and what happens when
a page opens (its owner id, the view a shared link holds)."""
from __future__ import annotations

import re
from pathlib import Path

import gradio as gr

from .. import actions
from ..registry import ROOT
from ..report import report_card
from . import models, share
from .models import MAX_MODELS, choices, default_models, entries_for, label_choices
from .session import Session, track
from .text import plain

TITLE = ("### Latent Explorer — what do autoencoders learn? Compare an **AE**, a **VAE** and an **AAE** trained on "
         "MNIST, side by side.")
REPORT_NOTE = ("Nats per image, lower is better: **−ELBO** (VAEs only: a bound on −log p(x)) and **recon BCE** (how "
               "well a test digit comes back). **kNN 2-D**: how often a test digit's 5 nearest training codes in the "
               "plane (UMAP for 16-D) have its label, i.e. how well the plane separates digits without labels (low for "
               "the CVAE/CAAE on purpose: the label is their input, their code holds only the style). **Samples look "
               "like a digit**: share of prior samples the project's classifier is over 90% sure of. **Samples in "
               "holes**: share of prior samples farther from every training code than 95% of test digits' codes are, "
               "so about 5% when the codes fill the prior: samples there fall where the decoder never learned to draw "
               "(the AE's are many, as it has no prior to fill). **β**: a VAE's KL weight (1 = the true ELBO). **Test "
               "digits**: the held-out digits it was measured on (MNIST's 10,000 for the shipped models, 2,000 for "
               "runs on the bundled split). A run of yours appears here once measured: *Measure* under *Saved runs* "
               "in the Train tab, or `python -m trainer eval runs/NAME --save`.")
NO_REPORT = ("*No measured model yet: measure a run with Measure (Train tab, Saved runs) or "
             "`python -m trainer eval runs/NAME --save`.*")
OWNER_ID = re.compile(r"[0-9a-f]{32}")  # the owner ids this app makes (uuid4 hex)


def lesson_markdown(readme: Path = ROOT / "README.md") -> str | None:
    """The README's "A 10-minute lesson" section, shown on the page too (one text for both); None without it."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"^## A 10-minute lesson\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return re.sub(r"<!--.*?-->", "", found.group(1), flags=re.S).strip() if found else None


def lesson_steps(lesson: str) -> list[tuple[str, str]]:
    """The lesson's numbered steps as (title, text): "1. **AE holes** (2 min). Move over…" gives ("AE holes",
    "(2 min). Move over…")."""
    steps = re.split(r"^\d+\.\s+", lesson, flags=re.M)[1:]
    out = []
    for step in steps:
        found = re.match(r"\*\*(.+?)\*\*\s*(.*)", " ".join(line.strip() for line in step.splitlines()), re.S)
        out.append((found.group(1), found.group(2)) if found else (step.split(".")[0][:40], step))
    return out


def report_markdown() -> str:
    """The "How good is each model?" table of every model folder the app can show, and the folders left out."""
    table = report_card(models.REGISTRY.available()) or NO_REPORT
    skipped = "".join(f"\n- {plain(key, 80, quoted=False)}: {plain(why, 300, quoted=False)}"
                      for key, why in sorted(models.REGISTRY.skipped.items()))
    return table + (f"\n\n*Not listed (their files cannot be read):*{skipped}" if skipped else "")


def layout(page) -> None:
    gr.Markdown(TITLE, elem_id="title")
    lesson = lesson_markdown()
    with gr.Row(elem_id="guides"):  # side by side: one line of the screen while both are closed
        if lesson:  # open, a bar of one step at a time: it pushes the page down, it covers nothing
            with gr.Column(scale=3, min_width=320):
                with gr.Accordion("A 10-minute lesson (for class)", open=False, elem_id="lesson"):
                    with gr.Tabs(elem_id="lesson-steps"):
                        for k, (title, text) in enumerate(lesson_steps(lesson), start=1):
                            with gr.Tab(f"Step {k}"):  # short: every step's tab fits the bar
                                gr.Markdown(f"**{title}** {text}", elem_classes=["lesson-step"])
        with gr.Column(scale=2, min_width=320, elem_id="report-column"):  # open: the page's width (app.css)
            with gr.Accordion("How good is each model? (each measured on its held-out test digits)", open=False,
                              elem_id="report"):
                gr.Markdown(REPORT_NOTE, elem_classes=["caption"])
                page.report = gr.Markdown(report_markdown)  # read again on every page load
    with gr.Row(equal_height=True):
        page.models = gr.Dropdown(label=f"Models to compare (up to {MAX_MODELS})", multiselect=True,
                                  allow_custom_value=True, max_choices=MAX_MODELS, scale=5)
        page.projection = gr.Dropdown(["umap", "pca"], value="umap", label="Projection (> 2-D)", scale=1,
                                      min_width=140)
        page.background = gr.Dropdown(list(actions.BACKGROUNDS), value="none", label="Plane background", scale=1,
                                      min_width=175)  # "prior density" in full
        page.label = gr.Dropdown(["auto", *range(10)], value="auto", label="Label / cluster", scale=1,
                                 min_width=120)  # the digit of a CVAE/CAAE, the cluster of a clustered AAE
        with gr.Column(scale=0, min_width=150):
            page.points = gr.Checkbox(value=True, label="Test points", min_width=110)
            page.projector = gr.Checkbox(value=False, label="Projector mode", min_width=110, elem_id="projector")
    page.status = gr.Markdown(elem_id="status")


def remember_owner(owner, session: Session, request: gr.Request) -> dict:
    """One owner id per browser (kept in local storage), so a reload re-attaches to its training jobs. The browser
    sends it, so only an id of the form this app makes (32 hex digits) is taken."""
    if isinstance(owner, str) and OWNER_ID.fullmatch(owner):
        session.owner = owner
    track(session, request)
    return {"owner": session.owner}


def open_view(session: Session, request: gr.Request, tab_ids=()) -> dict:
    """Open the view a shared link holds (its query parameters), else the default models."""
    query = dict(request.query_params) if request is not None else {}
    view, ignored = share.parse_view_query(query, {key for _, key in choices(session)}, default_models(), tab_ids)
    if "link" in view:
        session.link = view["link"]
    if "projector" in view:
        session.projector = view["projector"]
    keys = view.get("models", default_models())
    out = {"models": gr.update(choices=choices(session), value=keys)}
    if "pin" in view or "label" in view:
        entries = entries_for(keys, session)
        if "pin" in view:  # on the plane the link's model shows (its projection is the app's default)
            session.pin_point(entries, *view["pin"], "umap")
        if view.get("label") in label_choices(entries):
            out["label"] = gr.update(choices=label_choices(entries), value=view["label"])
        elif "label" in view:  # a digit or cluster none of the link's models decodes with
            ignored.append(("label", str(view["label"])))
    session.note = share.ignored_note(ignored)
    for name in ("background", "link"):
        if name in view:
            out[name] = view[name]
    if "projector" in view:
        out["projector"] = view["projector"]
    if "tab" in view:
        out["tabs"] = gr.Tabs(selected=view["tab"])
    return out
