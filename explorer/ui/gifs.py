"""Looping GIFs for slides: an interpolation in every shown model (Samples tab), a traversal with every dim moving
at once (Latent traversal tab), a training job's latent snapshots (Train tab); also the /export_gif endpoint."""
from __future__ import annotations

import functools

import gradio as gr
import numpy as np

from .. import gif
from . import models, train_view, traversal
from .media import TempFiles
from .models import entries_for
from .samples import test_indices

KINDS = ("interpolation", "traversal", "replay")
FILES = TempFiles("latent-explorer-gifs")


def export_gif(what, keys, a, b, model, source, index, span, job_id, session, projection="umap") -> str:
    """A looping GIF: ``what`` = interpolation (test digits a -> b in every shown model), traversal (``model``
    around ``source``/``index``, every dim at once) or replay (the latent snapshots of your job ``job_id``)."""
    if what == "interpolation":
        entries = entries_for(keys, session)
        a, b = test_indices(a, b)
        frames = gif.interpolation_frames(entries, models.REGISTRY.test, a, b)
    elif what == "traversal":
        try:
            span = float(span)
        except (TypeError, ValueError):
            raise gr.Error("span must be a number") from None
        if not 0 < span <= 10:
            raise gr.Error(f"span must be in (0, 10] σ (got {span})")
        entry, z0, label, _ = traversal.around(keys, model, source, index, session, projection)
        frames = gif.traversal_frames(entry, models.REGISTRY.test, np.asarray(z0, np.float32), span=span, label=label)
    elif what == "replay":
        runs = train_view.snapshots_of(job_id, session)
        if not runs:
            raise gr.Error("no latent snapshots yet: the replay GIF needs a job with at least one finished epoch")
        frames = gif.replay_frames(runs)
    else:
        raise gr.Error(f"what must be one of {', '.join(KINDS)}, got {what!r}")
    return str(gif.save(frames, FILES.new(f"{what}-", ".gif")))


# The GIF buttons send what the page's views show (views/samples.js, views/traversal.js), in place of the hidden
# server controls: export_gif's arguments are (models, a, b, model, source, index, span, job, session, projection).
FROM_PAGE = """(...args) => {
  const v = window.latentViews || {};
  if (v.samples && v.samples.from) { args[1] = Number(v.samples.from.value); args[2] = Number(v.samples.to.value); }
  const t = v.traversal;
  if (t && t.model && t.view) {
    const m = t.view.models[Number(t.model.value)];
    if (m) args[3] = m.key;
    args[4] = t.source.value; args[5] = Number(t.index.value); args[6] = Number(t.span.value);
  }
  return args;
}"""


def wire(page) -> None:
    inputs = [page.models, page.interp_a, page.interp_b, page.traverse_model, page.traverse_source,
              page.traverse_index, page.traverse_span, page.job_id, page.session, page.projection]
    kind = gr.Dropdown(list(KINDS), value="interpolation", visible=False)
    gr.Button(visible=False).click(export_gif, [kind, *inputs], [page.interp_gif], api_name="export_gif")
    for what, button, out in (("interpolation", page.interp_gif_btn, page.interp_gif),
                              ("traversal", page.traverse_gif_btn, page.traverse_gif),
                              ("replay", page.replay_gif_btn, page.replay_gif)):
        button.click(functools.partial(export_gif, what), inputs, [out], api_visibility="private", js=FROM_PAGE)
