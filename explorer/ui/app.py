"""The Gradio app: lays out the header and the tabs (one module each), wires them, and launches."""
from __future__ import annotations

import json
import os
import threading
import time

import gradio as gr

from .. import actions, live
from . import (add_model, clusters, conditional, gifs, grids, header, models, planes, reconstructions, samples,
               scatter, train, train_jobs, traversal)
from .media import CACHE_SWEEP, MEDIA_TTL
from .models import classifier, default_models
from .page import Page
from .session import OPEN, Session, cleanup, end
from .text import escape_errors

TABS = (planes, scatter, grids, reconstructions, traversal, samples, conditional, clusters, train, add_model)
TAB_IDS = tuple(tab.TAB[0] for tab in TABS)  # the names a shared link's tab= takes
SESSION_TTL = 4 * 3600  # seconds: a session idle this long is dropped with its uploads (API clients never "close")
HEAD = f'<link rel="stylesheet" href="{live.static_url("app.css")}">'  # not launch(css=): Gradio scopes that


def build() -> gr.Blocks:
    page = Page()
    page.tab_ids_json = json.dumps({label: id_ for id_, label in (tab.TAB for tab in TABS)})
    page.tab_of = {}
    with gr.Blocks(title="Latent Explorer", delete_cache=(CACHE_SWEEP, MEDIA_TTL), fill_width=True) as demo:
        page.session = gr.State(new_session, delete_callback=cleanup, time_to_live=SESSION_TTL)
        page.owner = gr.BrowserState(None, storage_key="latent-explorer-owner")
        header.layout(page)
        with gr.Tabs() as page.tabs:
            for tab in TABS:
                with gr.Tab(tab.TAB[1], id=tab.TAB[0]) as page.tab_of[tab.TAB[0]]:
                    tab.layout(page)
        page.waiting = gr.Timer(2.0, active=False)  # ticks while a shown model's UMAP or decoder is made
        page.view_inputs = [page.models, page.projection, page.background, page.points, page.label, page.session]
        for tab in (*TABS, gifs):
            tab.wire(page)
        opened = demo.load(**page.handler(header.remember_owner, ("owner",)), inputs=[page.owner, page.session],
                           api_visibility="private")
        opened.then(**train.attach(page)).then(
            **page.handler(open_view, ("models", "background", "label", "link", "projector", "tabs")),
            inputs=[page.session], api_visibility="private").then(
            **page.handler(planes.show_models, planes.VIEW), inputs=page.view_inputs, api_visibility="private")
        page.measured.then(header.report_markdown, None, [page.report], api_visibility="private")
        demo.unload(end_session)
    escape_errors(demo)
    return demo


def new_session() -> Session:
    """Each new page's state (gr.State calls this; not the class itself, which Gradio would read as a value)."""
    return Session()


def end_session(request: gr.Request) -> None:
    """The browser tab closed: its files go now (session.end)."""
    end(request)


def tidy() -> None:
    """What no session needs any more: finished jobs nobody watches, expired runs (a public server), exports of
    models nobody shows (janitor.tidy)."""
    from .. import janitor

    janitor.tidy(train_jobs.JOBS, models.REGISTRY, {s.owner for s in list(OPEN.values())})


def open_view(session: Session, request: gr.Request) -> dict:
    """A page opens: the view its shared link holds (header.open_view), with this app's tabs."""
    return header.open_view(session, request, TAB_IDS)


def warm_planes() -> None:
    """Draw every plane background of the default models once (a few seconds), so the first students to switch
    backgrounds in class do not wait for them (every page shares these pictures)."""
    try:
        for key in default_models():
            entry = models.REGISTRY.get(key)
            for background in actions.BACKGROUNDS:
                live.layer_url(entry, "umap", background, True, classifier() if background == "classifier" else None)
    except Exception as e:  # a page then draws them on first use, as before
        print(f"plane warm-up failed ({type(e).__name__}: {e})", flush=True)


def warm_up_background() -> None:
    """Once the server listens: draw the Scatter tab's sprite of test digits (a second) and the default models'
    plane backgrounds (warm_planes), then compile umap-learn's code, so that a student's fresh 16-D model gets its
    UMAP plane in seconds (the first fit in a process otherwise spends most of a minute compiling)."""
    from ..projection import warm_up

    live.digit_sprite(models.REGISTRY.test)
    warm_planes()
    try:
        warm_up()
    except Exception as e:  # the first real fit then compiles instead; nothing else depends on it
        print(f"UMAP warm-up failed ({type(e).__name__}: {e})", flush=True)


def launch(**kwargs) -> None:
    from starlette.middleware import Middleware

    from .. import settings
    from ..http_limits import BodyLimit, UploadQuota
    from ..storage import remove_orphans

    remove_orphans()  # what a killed app left: no session of this one owns anything yet
    demo = build().queue(default_concurrency_limit=8)
    demo.launch(max_file_size="150mb", server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
                head=HEAD, theme=gr.themes.Soft(), ssr_mode=False,  # the live planes' files are served by our own routes
                app_kwargs={"routes": live.ROUTES, "middleware": [Middleware(
                    BodyLimit, behind_proxy=settings.ON_SPACE, quota=UploadQuota(
                        settings.UPLOAD_CLIENT_BYTES, settings.UPLOAD_TOTAL_BYTES, settings.UPLOAD_WINDOW))]},
                prevent_thread_lock=True,
                **kwargs)
    threading.Thread(target=warm_up_background, daemon=True, name="warm-up").start()
    threading.Thread(target=every, args=(settings.TIDY_SECONDS, tidy), daemon=True, name="janitor").start()
    demo.block_thread()


def every(seconds: float, fn) -> None:
    """Call ``fn`` every ``seconds``, reporting (never raising) what fails."""
    while True:
        time.sleep(seconds)
        try:
            fn()
        except Exception as e:  # the next round tries again
            print(f"{fn.__name__} failed ({type(e).__name__}: {e})", flush=True)

