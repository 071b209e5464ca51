"""The Clusters tab: what a clustered AAE found without labels (each cluster decoded at style z = 0, its majority
digit and purity), the confusion heatmap, and in words which digits it found, split and merged."""
from __future__ import annotations

import gradio as gr
import numpy as np

from .. import clusters, render
from . import media, planes
from .conditional import add_shipped
from .models import entries_for
from .text import plain

TAB = ("clusters", "Clusters")
CAPTION = ("A clustered AAE's encoder puts every digit in one of K clusters (a categorical code, matched to a uniform "
           "prior by one adversary) and keeps its style apart (a second adversary matches it to N(0, I)). It never saw "
           "a label (aae-semi100: 100 of them). Which digits did it find, and which did it merge? Each cluster decoded "
           "at style z = 0, and the test digits of each cluster. On the planes, *Label / cluster* picks the cluster "
           "whose style plane is decoded.")
SHIPPED = ("aae-cluster16", "aae-semi100")  # the shipped clustered AAEs the tab's shortcut adds
NONE_SHOWN = ("None of the shown models has clusters: press *Add the clustered AAEs*, or pick aae-cluster16 or "
              "aae-semi100 in the model picker.")
MIXED = 0.6  # a cluster whose majority digit holds less than this share of it is "mixed"
MIXED_SHOWN = 4  # the most mixed clusters named


def layout(page) -> None:
    gr.Markdown(CAPTION, elem_classes=["caption"])
    page.add_clustered_btn = gr.Button("Add the clustered AAEs", size="sm", scale=0, min_width=220)
    page.clusters_text = gr.Markdown(elem_id="clusters-text")
    page.clusters_heads = media.picture(label="Cluster heads", show_label=False, buttons=["download"],
                                        elem_id="cluster-heads")
    page.clusters_matrix = gr.Plot(label="Clusters against true digits", elem_id="cluster-confusion")


def report(entry, summary) -> str:
    """Which digits a clustered AAE found, which clusters they split over, and which digits it merged."""
    found = summary.merged()
    lost = [str(d) for d, ks in found.items() if not ks]
    split = [f"{d} ({len(ks)} clusters)" for d, ks in found.items() if len(ks) > 1]
    mixed = [f"cluster {k}: {summary.purity[k]:.0%} {summary.majority[k]}"
             for k in np.argsort(summary.purity) if summary.size[k] and summary.purity[k] < MIXED][:MIXED_SHOWN]
    semi = entry.config.labels
    line = (f"**{plain(entry.label, quoted=False)}** ({entry.config.clusters} clusters, "
            + (f"{semi} labelled training images" if semi else "no labels") + f"): {summary.accuracy:.0%} of the "
            "test digits are their cluster's majority digit.")
    line += (f" No cluster holds mostly a {', '.join(lost)}: merged into others." if lost
             else " Every digit has a cluster.")
    if split:
        line += f" Split over several: {', '.join(split)}."
    if mixed:
        line += f" The most mixed: {'; '.join(mixed)}."
    return line


def clusters_view(keys, session) -> dict:
    """Each shown clustered AAE's heads, the confusion heatmap of the first, and what each found."""
    entries = [e for e in entries_for(keys, session) if e.config.clustered]
    if not entries:
        return {"clusters_heads": None, "clusters_matrix": None, "clusters_text": f"*{NONE_SHOWN}*"}
    panels, texts, figure = [], [], None
    for e in entries:
        summary = clusters.summarize(e.label_of, e.labels, e.config.clusters, e.config.num_classes)
        panels.append((clusters.cluster_heads(e, summary, e.run.classes), f"{e.label}: its clusters at style z = 0"))
        texts.append(report(e, summary))
        if figure is None:
            figure = clusters.confusion_figure(summary, e.run.classes, title=f"{e.label}: test digits per cluster")
    return {"clusters_heads": render.side_by_side(panels, per_row=1), "clusters_matrix": figure,
            "clusters_text": "\n\n".join(texts)}


def add_clustered(keys, session) -> dict:
    """Show the shipped clustered AAEs beside the current models."""
    return add_shipped(keys, session, SHIPPED, lambda e: e.config.clustered,
                       f"No clustered AAE is installed (looked for {', '.join(SHIPPED)} in pretrained/)",
                       needed=lambda e: e.kind in ("aae", "vae"))  # the lesson's AAE step and those after it


def wire(page) -> None:
    view = dict(**page.handler(clusters_view, ("clusters_heads", "clusters_matrix", "clusters_text")),
                inputs=[page.models, page.session])
    page.when_shown("clusters", **view)
    gr.Button(visible=False).click(**view, api_name="clusters")
    page.add_clustered_btn.click(**page.handler(add_clustered, ("models",)), inputs=[page.models, page.session],
                                 api_visibility="private").then(**planes.show(page))  # and the heads: when_shown
