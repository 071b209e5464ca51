"""What the page's views need of each model, beyond what the live planes get (explorer/live.py model_view): its
encoder's URL, its prior's parameters, its traversal's rows, its clusters. The views themselves (explorer/static/
views/: grids, samples, interpolation, reconstructions, traversal, style grids, clusters, scatter) decode in the
page with the models' exported decoders and encoders, so in the Gradio app they cost the server nothing, and the
static edition (explorer/site.py) has them with no server at all.

    views_json(entries, test, ...)   the value of every view component: live.view_json's view, each model with
                                     its ``extras``, and the test digits' sprite
    extras(entry, test, publish)     one model's extras (``publish(path, name)`` gives the URL of a file)

In the Gradio app a view is a tab's component, mounted as the live planes are (explorer/ui/views.py), and given
a new value with the live planes' (with_extras of their value: the same models, pin and label).
The modules: views/grids.js, samples.js (samples and interpolation), recon.js, traversal.js, styles.js,
clusters.js, scatter.js; each draws its own controls and reads only its value.

Every number the page computes from these is checked against the server's (tests/test_page_views.py): the same z
gives the same pixels within 2/255, the encoders agree within 1e-4, and the priors' draws have the same moments.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainer import priors

from . import actions, clusters, live, onnx_export

SAMPLES = 64  # prior samples per model (the Samples tab's; explorer/ui/samples.py SAMPLES)
SURE = 0.9  # a sample "looks like a digit" when the classifier is more sure than this
QUANTILE_RANGE = (0.05, 0.95)  # the Gaussian-quantile grid's first and last probabilities (actions.manifold_grid)


def prior_json(entry) -> dict:
    """The distribution a model samples its codes from (``sample_latent``), as parameters the page draws from:
    {"kind": "normal"} (N(0, I)), "gaussian" (mean, scale_tril: the AE's fitted to its codes), "mixture" (logits,
    means, scale_tril: a VAE's fitted mixture), "mixture10" / "swissroll" (the AAE's patterns, with their constants),
    with "dim"; and "labels": "cycle" when sample i decodes with label i % label_count (conditional models and
    clustered AAEs, as actions.sample_images asks), "guided" when it also picks the prior's component."""
    config, model = entry.config, entry.model
    out = {"dim": config.latent_dim, "label_count": config.label_count,
           "labels": "cycle" if entry.takes_label else None}
    as_list = lambda t: t.detach().float().cpu().numpy().tolist()  # noqa: E731
    if config.clustered:
        return {**out, "kind": "normal"}
    if config.model == "ae":
        return {**out, "kind": "gaussian", "mean": as_list(model.code_mean), "scale_tril": as_list(model.code_scale_tril)}
    if config.model in ("vae", "cvae"):
        if not config.prior_components:
            return {**out, "kind": "normal"}
        return {**out, "kind": "mixture", "logits": as_list(model.prior_logits), "means": as_list(model.prior_means),
                "scale_tril": as_list(model.prior_scale_tril)}
    if config.prior == "gaussian":
        return {**out, "kind": "normal"}
    if config.label_guided:
        out["labels"] = "guided"
    return {**out, "kind": config.prior, "num_classes": config.num_classes,
            "petal": {"long_std": priors.PETAL_LONG_STD, "short_std": priors.PETAL_SHORT_STD,
                      "shift": priors.PETAL_SHIFT},
            "roll": {"radius": priors.ROLL_RADIUS, "turns": priors.ROLL_TURNS}}


def traversal_json(entry, test) -> dict:
    """The traversal's rows (actions.traversal_rows: by mean KL for VAEs) and each dim's σ."""
    order, kl = actions.traversal_rows(entry, test)
    return {"order": [int(j) for j in order], "kl": None if kl is None else [float(v) for v in kl],
            "scale": [float(v) for v in actions.traversal_scale(entry)]}


def clusters_json(entry) -> dict | None:
    """A clustered AAE's test digits per cluster (clusters.summarize) and what the Clusters tab says of them."""
    if not entry.config.clustered:
        return None
    from .ui.clusters import report  # the tab's own words (one text for the app and the page)

    summary = clusters.summarize(entry.label_of, entry.labels, entry.config.clusters, entry.config.num_classes)
    return {"counts": summary.counts.tolist(), "majority": summary.majority.tolist(),
            "purity": [float(v) for v in summary.purity], "size": summary.size.tolist(),
            "accuracy": summary.accuracy, "classes": list(entry.run.classes or map(str, range(10))),
            "report": report(entry, summary)}


def encoder_path(entry) -> Path | None:
    """The model's exported encoder (registry.start_encoder_export: pretrained.build ships one, runs and uploads
    get one in the background), or None while there is none."""
    if entry.encoder_onnx is not None:
        return entry.encoder_onnx
    path = entry.run.path / onnx_export.ENCODER
    try:
        return path if onnx_export.is_current(path, onnx_export.run_source(entry.run.path)) else None
    except (OSError, ValueError):
        return None


def extras(entry, test, publish) -> dict:
    """What the views need of one model beyond its plane (``publish(path, name) -> URL`` serves a file)."""
    config = entry.config
    encoder = encoder_path(entry)
    return {"encoder": publish(encoder, f"{entry.onnx_source[:32] or entry.key}.encoder.onnx") if encoder else None,
            "encoder_outputs": list(onnx_export.encoder_outputs(config)),
            "encodes_label": bool(config.conditional), "prior": prior_json(entry),
            "sampled_from": config.sampled_from, "traversal": traversal_json(entry, test),
            "quantiles": has_quantiles(entry), "clusters": clusters_json(entry)}


def has_quantiles(entry) -> bool:
    """A 2-D VAE with the N(0, I) prior: its manifold can be drawn through Gaussian quantiles (Kingma & Welling)."""
    config = entry.config
    return config.model in ("vae", "cvae") and config.latent_dim == 2 and not config.prior_components


def quantiles(n: int) -> list[float]:
    """The Gaussian-quantile grid's coordinates (actions.manifold_grid): Φ⁻¹ of n evenly spaced probabilities."""
    from scipy.stats import norm

    return norm.ppf(np.linspace(*QUANTILE_RANGE, n)).tolist()


def _published(path: Path, name: str) -> str:
    return live.ASSETS.add_file(path, name)


def views_json(entries, test, *, projection: str = "umap", background: str = "none", points: bool = True,
               link: str = "same test digit", label="auto", pinned=(0, 0.0, 0.0), classifier_onnx=None,
               projector: bool = False) -> str:
    """The value of every view component (explorer/static/views/*.js): the live planes' view (live.view_json) with
    each model's extras, the test digits' sprite and the views' constants."""
    return with_extras(live.view_json(entries, projection=projection, background=background, points=points,
                                      link=link, label=label, pinned=pinned, classifier_onnx=classifier_onnx,
                                      test=test, projector=projector), entries, test)


def with_extras(live_view: str, entries, test) -> str:
    """The views' value from the live planes' (live.view_json of these ``entries``): what the Gradio app sends its
    views beside the planes, so both show the same models, pin and label."""
    view = json.loads(live_view)
    for m, entry in zip(view["models"], entries):
        m.update(extras(entry, test, _published))
    view.update(page_constants(), sprite=live.digit_sprite(test), test_count=len(test))
    return json.dumps(view)


def page_constants() -> dict:
    """The views' constants, read by the page from its view (never its own copy)."""
    from .ui.traversal import COLLAPSED_KL

    return {"views": {"samples": SAMPLES, "sure": SURE, "quantile_range": list(QUANTILE_RANGE),
                      "collapsed_kl": COLLAPSED_KL}}
