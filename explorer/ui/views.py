"""The exploring views every tab shows, drawn in the page (explorer/static/views/*.js): grids, samples and
interpolation, reconstructions (test digits and a drawn one), traversal, style grids, clusters and the scatter. Each
is a tab's component mounted as the live planes are, and given a new value with theirs (planes.show_models): the
same models, pin and label, with what the views need beyond the planes (page_views.with_extras). So opening a tab
or pressing its button asks the server nothing; the server keeps each view's named endpoint (/manifold, /sample,
/interpolate, /reconstruct, /traverse, /style_grid, /clusters) for gradio_client users, on hidden controls."""
from __future__ import annotations

import gradio as gr

from .. import page_views
from . import models
from .page import mounted

# a view's component name on the page -> its module (explorer/static/views/)
MODULES = {"grids_view": "views/grids.js", "samples_view": "views/samples.js", "recon_view": "views/recon.js",
           "traversal_view": "views/traversal.js", "styles_view": "views/styles.js",
           "clusters_view": "views/clusters.js", "scatter_view": "views/scatter.js"}
NAMES = tuple(MODULES)


def layout(page, name: str) -> gr.HTML:
    """The view ``name`` (one of NAMES) at this place of its tab, empty until the models are shown."""
    component = mounted(MODULES[name], elem_id=name.replace("_", "-"), min_height=200)  # (its style: common.js)
    setattr(page, name, component)
    return component


def server_only():
    """A hidden column for the controls and pictures that only the named API uses now (the page draws the tab)."""
    return gr.Column(visible=False)


def values(live_view: str, entries) -> dict:
    """Every view's new value, from the live planes' (one string: the views read the same JSON)."""
    value = page_views.with_extras(live_view, entries, models.REGISTRY.test)
    return dict.fromkeys(NAMES, value)
