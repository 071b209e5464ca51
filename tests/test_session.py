"""One page's state (explorer/ui/session.py) and the bugs that came from state kept in the wrong place: the pin
belongs to its model and its plane, models are found by key, caches are keyed by content, one label range, and
no pin from the page is lost."""
from __future__ import annotations

import functools
import json
import time

import numpy as np
import pytest

from conftest import ROOT


@pytest.fixture
def shipped(monkeypatch, tmp_path):
    """The explorer's registry over the shipped models (and an empty runs folder)."""
    from explorer.registry import Registry
    from explorer.ui import models

    registry = Registry(pretrained=ROOT / "pretrained", runs=tmp_path / "runs", background=False)
    monkeypatch.setattr(models, "REGISTRY", registry)
    return registry


def test_the_pin_stays_with_its_model_and_goes_with_it(shipped):
    from explorer.ui.models import entries_for
    from explorer.ui.session import Session

    session = Session()
    keys = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]
    session.show(keys)
    session.pin_point(entries_for(keys), 1, 2.0, 2.0, "umap")
    session.show([keys[1], keys[2]])  # another model removed: the pin keeps its model and point
    assert session.pinned(entries_for([keys[1], keys[2]]), "umap") == (0, 2.0, 2.0)
    session.show([keys[0], keys[2]])  # its own model removed: no pin; the first plane's origin instead
    assert session.pin is None and session.pinned(entries_for([keys[0], keys[2]]), "umap") == (0, 0.0, 0.0)


def test_the_pin_is_read_on_the_plane_it_was_pinned_on(shipped):
    """Bug: the traversal read the pinned point as a UMAP point even when the plane showed PCA."""
    from explorer.ui import traversal
    from explorer.ui.models import entries_for
    from explorer.ui.session import Session

    keys = ["pretrained/vae-16d", "pretrained/vae-2d"]
    entries = entries_for(keys)
    pca = entries[0].views["pca"]
    x, y = (float(v) for v in pca.xy[42])
    session = Session()
    session.show(keys)
    session.pin_point(entries, 0, x, y, "pca")
    out = traversal.traverse(keys, keys[0], "pinned point", 0, 3, 5, session, "pca")
    z0 = np.array(json.loads(out["traverse_live"])["z0"], np.float32)
    assert np.allclose(z0, pca.inverse.inverse_transform(np.array([[x, y]]))[0], atol=1e-5)
    assert not np.allclose(z0, entries[0].views["umap"].inverse.inverse_transform(np.array([[x, y]]))[0], atol=1e-2)
    # the page now shows UMAP: the pin moves onto that plane, at the latent it stands for (its nearest test code)
    index, ux, uy = session.pinned(entries, "umap")
    near = int(np.argmin(((entries[0].latents - z0) ** 2).sum(1)))
    assert index == 0 and np.allclose((ux, uy), entries[0].views["umap"].xy[near])


def test_a_gif_finds_its_model_by_key_not_by_name(shipped, monkeypatch):
    """Bug: two models named vae-2d (pretrained/vae-2d and runs/vae-2d) could swap decoders in the GIF."""
    import shutil

    from explorer import gif
    from explorer.ui import gifs
    from explorer.ui.session import Session

    shutil.copytree(ROOT / "pretrained" / "ae-2d", shipped.runs / "vae-2d")  # another model, the same name
    used = []
    monkeypatch.setattr(gif, "traversal_frames", lambda entry, *args, **kwargs: used.append(entry.key) or [])
    monkeypatch.setattr(gif, "save", lambda frames, path: path)
    keys = ["pretrained/vae-2d", "runs/vae-2d"]
    for model in keys:
        gifs.export_gif("traversal", keys, 0, 1, model, "test digit", 0, 3, None, Session())
    assert used == keys


def test_caches_are_keyed_by_the_split_they_were_computed_on(shipped):
    """Bug: dim_kl(entry, test) and test_posteriors(entry, test) cached under the entry alone."""
    from explorer import actions

    entry = shipped.get("pretrained/vae-2d")
    test = shipped.test
    whole, head = actions.dim_kl(entry, test), actions.dim_kl(entry, test.head(50))
    assert not np.allclose(whole, head)
    assert actions.test_posteriors(entry, test.head(50)).shape == (50, 3)
    assert actions.test_posteriors(entry, test).shape == (len(test), 3)


def test_one_label_range_for_the_control_and_a_shared_link(shipped):
    """Bug: the control offered 0-15, a shared link took only 0-9, and a model may have up to 100 clusters."""
    from types import SimpleNamespace

    from explorer.ui import header, share
    from explorer.ui.models import entries_for, label_choices
    from explorer.ui.session import Session
    from trainer.config import MAX_CLUSTERS

    assert label_choices(entries_for(["pretrained/aae-cluster16"])) == ["auto", *range(16)]
    assert label_choices(entries_for(["pretrained/cvae-2d", "pretrained/ae-2d"])) == ["auto", *range(10)]
    known = {"pretrained/aae-cluster16"}
    for label, taken in (("15", 15), (str(MAX_CLUSTERS - 1), MAX_CLUSTERS - 1), ("auto", "auto")):
        assert share.parse_view_query({"label": label}, known, [], ())[0]["label"] == taken
    assert share.parse_view_query({"label": str(MAX_CLUSTERS)}, known, [], ())[1] == [("label", str(MAX_CLUSTERS))]
    request = SimpleNamespace(query_params={"models": "aae-cluster16", "label": "15"}, session_hash=None)
    assert header.open_view(Session(), request)["label"]["value"] == 15
    session = Session()
    request = SimpleNamespace(query_params={"models": "ae-2d", "label": "15"}, session_hash=None)
    assert "label" not in header.open_view(session, request) and "label=&#x27;15&#x27;" in session.note


def slowly(fn, seconds):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        time.sleep(seconds)
        return fn(*args, **kwargs)
    return run


@pytest.mark.server
@pytest.mark.browser
def test_a_pin_sent_while_another_is_handled_is_not_lost(monkeypatch, chromium):
    """Bug: the page's pin event dropped a pin sent while the last one was handled (Gradio's trigger_mode "once"),
    so a point walked right after a click stayed pinned at the click for the other tabs and the API. With the
    server's pin handler 1.5 s slow, the walked point must still end up pinned."""
    from conftest import free_port
    from explorer import live
    from explorer.ui import app, planes
    from test_browser import LIVE, at, open_app, wait_for_field

    monkeypatch.setattr(planes, "pinned_by_page", slowly(planes.pinned_by_page, 1.5))
    demo = app.build().queue()
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, ssr_mode=False, app_kwargs={"routes": live.ROUTES})
    try:
        page = open_app(chromium, f"http://127.0.0.1:{port}/")
        page.wait_for_function(LIVE, timeout=120_000)
        page.get_by_text("Decode exact coordinates").click()
        page.mouse.click(*at(page, 1, 0.4, 0.4))  # pin 1: handled for 1.5 s
        page.locator(".le-over").nth(1).focus()
        page.mouse.move(5, 5)
        page.keyboard.press("ArrowRight")  # pin 2, 0.35 s after the key: sent while pin 1 is handled
        walked = page.evaluate("() => window.latentExplorer.pinned")
        wait_for_field(page, "x", walked["x"], timeout=20)
        page.context.close()
    finally:
        demo.close()
