"""The Add a model tab: upload a run folder (.zip or its files); it is shown to this page only, and removed when
the page closes."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from trainer.checkpoint import CheckpointError

from .. import settings
from ..registry import ModelLoadError
from ..uploads import MAX_UPLOADS, load_upload, session_room
from . import models, planes
from .models import choices, with_room
from .session import upload_dir
from .text import plain

TAB = ("add", "Add a model")
CAPTION = ("Upload a run folder as a **.zip**, or its `config.json` + `model.safetensors` (+ optional `metrics.json`, "
           "`history.jsonl`, `embedding.npz`; files are matched by name, others are ignored). Pickles (`.pt`, `.pth`) "
           "are refused. Uploads are visible to you only and deleted when you close the page. Runs saved under "
           "`runs/` appear in the model list after *Refresh*.")
UPLOADS_AT_ONCE = 2
UPLOADS_OFF = ("\n\n⚠ **Uploads are turned off on this server** (the teacher set `LATENT_EXPLORER_UPLOADS=off`).")


def layout(page) -> None:
    gr.Markdown(CAPTION + ("" if settings.UPLOADS else UPLOADS_OFF))
    page.files = gr.File(file_count="multiple", label="Checkpoint files", interactive=settings.UPLOADS,
                         file_types=[".zip", ".json", ".jsonl", ".safetensors", ".npz"])
    with gr.Row():
        page.upload_btn = gr.Button("Load upload", variant="primary")
        page.refresh_btn = gr.Button("Refresh model list")


def upload(files, keys, session, request: gr.Request = None) -> dict:
    """Load an uploaded run folder as one of this page's models, and show it."""
    folder = upload_dir(session, request)  # tracks the session, so closing the tab finds its files
    paths = [getattr(f, "name", f) for f in (files or [])]
    try:
        if not settings.UPLOADS:
            raise ModelLoadError("uploads are turned off on this server (LATENT_EXPLORER_UPLOADS=off)")
        if len(session.uploads) >= MAX_UPLOADS:
            raise ModelLoadError(f"this session holds {MAX_UPLOADS} uploaded models, the most it may keep; reload "
                                 "the page to start again")
        entry, ignored = load_upload(paths, Path(folder), models.REGISTRY.test, len(session.uploads) + 1,
                                     session_room(folder))
    except (ModelLoadError, CheckpointError, OSError) as e:
        raise gr.Error(f"Upload refused: {e}") from None
    session.uploads[entry.key] = entry
    shown = with_room(keys or [], [entry.key], session=session)
    names = ", ".join(plain(name, 80, quoted=False) for name in ignored)
    note = f" Ignored {names}: not needed to show a model." if ignored else ""
    return {"models": gr.update(choices=choices(session), value=shown),
            "status": f"Loaded **{plain(entry.label, quoted=False)}**.{note}"}


def refresh(keys, session) -> dict:
    """The model list again (runs saved meanwhile); shown models that are gone leave the picker."""
    known = {key for _, key in choices(session)}
    return {"models": gr.update(choices=choices(session), value=[k for k in (keys or []) if k in known])}


def wire(page) -> None:
    # two uploads at a time: each encodes 10,000 digits; eight at once starved every other request of the CPU
    page.upload_btn.click(**page.handler(upload, ("models", "status")), inputs=[page.files, page.models, page.session],
                          api_name="upload", concurrency_limit=UPLOADS_AT_ONCE, concurrency_id="uploads").then(
        **planes.show(page))
    page.refresh_btn.click(**page.handler(refresh, ("models",)), inputs=[page.models, page.session],
                           api_visibility="private")
