"""What a class sees, on a projector (1366 x 768) and a big screen (1920 x 1080), with the shipped models: nothing
covered, cut off or too small to read, no flood of errors, no picture of models no longer shown, and what the
lesson promises on the page."""
from __future__ import annotations

import re
import time

import pytest

from test_browser import LIVE, at, open_app

DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]
CONTROLS = "button, input, textarea, [role=tab], .le-over"  # what a teacher clicks


@pytest.fixture(scope="module")
def page(shipped_server, chromium):
    pg = open_app(chromium, shipped_server.url)
    pg.wait_for_function(LIVE, timeout=120_000)
    yield pg
    pg.context.close()


def fresh(chromium, url, **context):
    """Another page (its own session) once it decodes in the page."""
    pg = open_app(chromium, url, **context)
    pg.wait_for_function(LIVE, timeout=120_000)
    return pg


def covered(page, settle: float = 5.0) -> list[str]:
    """The visible controls in the window whose middle another element covers (what a click there would hit), once
    the page has settled (it lays itself out again after a click, a font change or new planes)."""
    deadline = time.time() + settle
    while True:
        found = _covered(page)
        if not found or time.time() > deadline:
            return found
        page.wait_for_timeout(250)


def _covered(page) -> list[str]:
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].filter((el) => {
        // Gradio keeps a second copy of every tab bar, buttons without a role that it measures, under the first
        if (el.closest('.tab-wrapper') && el.tagName === 'BUTTON' && !el.getAttribute('role')) return false;
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height || !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) return false;
        const x = r.left + r.width / 2, y = r.top + r.height / 2;
        if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return false;
        const hit = document.elementFromPoint(x, y);
        return hit && !el.contains(hit) && !hit.contains(el);
    }).map((el) => (el.getAttribute('aria-label') || el.textContent || el.className || el.tagName).trim()
        .slice(0, 40))""", CONTROLS)


def status(page) -> str:
    return page.locator("#status").inner_text()


# -- broken in front of a class ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_open_lesson_covers_no_control(chromium, shipped_server, size):
    pg = fresh(chromium, shipped_server.url, viewport={"width": size[0], "height": size[1]})
    try:
        assert covered(pg) == []
        pg.get_by_text("A 10-minute lesson (for class)").click()
        pg.wait_for_selector("#lesson-steps", state="visible")
        for step in ("Step 1", "Step 5"):
            pg.get_by_role("tab", name=step).click()
            text = pg.locator("#lesson-steps .lesson-step").filter(has_text=re.compile(r"\w")).first.inner_text()
            assert len(text) > 40
            assert covered(pg) == [], f"the lesson covers controls at {size}"
        tabs = pg.get_by_role("tab")  # every tab of the page stays on its bar, none behind a "…" menu
        for name in ("Clusters", "Train", "Add a model"):
            assert tabs.filter(has_text=name).first.is_visible()
    finally:
        pg.context.close()


def test_a_timer_whose_event_fails_says_so_once_and_stops(chromium):
    """An error in a timer-driven event (a value out of a slider's range, say) showed as a toast 5 times a second
    until the tab was closed. page.ticking stops the timer when its event fails."""
    import gradio as gr

    from conftest import free_port
    from explorer.ui.page import ticking

    calls = []

    def fail():
        calls.append(time.time())
        raise gr.Error("Value 1 is less than minimum value 2")

    with gr.Blocks() as demo:
        timer = gr.Timer(0.2, active=True)
        out = gr.Textbox()
        ticking(timer, fn=fail, inputs=None, outputs=[out])
    port = free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, ssr_mode=False)
    try:
        context = chromium.new_context()
        pg = context.new_page()
        pg.goto(f"http://127.0.0.1:{port}/")
        pg.wait_for_timeout(4000)
        assert 1 <= len(calls) <= 3, f"{len(calls)} failing ticks in 4 s"
        assert pg.locator("text=less than minimum value").count() <= len(calls)
        context.close()
    finally:
        demo.close()


def test_models_made_room_for_are_named_in_the_status_line(chromium, shipped_server):
    five = ["ae-2d", "vae-2d", "aae-mixture10-2d", "ae-16d", "vae-16d"]
    pg = fresh(chromium, f"{shipped_server.url}?models={','.join(five)}&tab=clusters")
    try:
        pg.get_by_role("button", name="Add the clustered AAEs").click()
        pg.wait_for_function("() => document.querySelector('#status').innerText.includes('aae-cluster16')",
                             timeout=60_000)
        said = status(pg)
        assert "Removed" in said and "to make room for aae-cluster16, aae-semi100" in said
        pg.wait_for_function("() => window.latentExplorer.stats().models.length === 6", timeout=60_000)
        shown = pg.evaluate("() => window.latentExplorer.stats().models")
        assert len(shown) == 6 and "pretrained/aae-mixture10-2d" in shown  # the lesson's AAE step keeps its AAE
        removed = re.search(r"Removed (.+?) to make room", said).group(1).split(", ")
        assert all(f"pretrained/{name}" not in shown for name in removed) and len(removed) == 1
    finally:
        pg.context.close()


def test_the_pin_stays_with_its_model_when_another_is_removed(chromium, shipped_server):
    pg = fresh(chromium, f"{shipped_server.url}?models=ae-2d,vae-2d,aae-mixture10-2d&z=2,2&plane=1")
    try:
        assert pg.evaluate("() => window.latentExplorer.pinned") == {"model": 1, "x": 2, "y": 2}
        chip = pg.locator(".token").filter(has=pg.get_by_text("ae-2d", exact=True))
        chip.locator(".token-remove, [role=button]").first.click()
        pg.wait_for_function("() => window.latentExplorer.stats().models.length === 2", timeout=60_000)
        models = pg.evaluate("() => window.latentExplorer.stats().models")
        assert models == ["pretrained/vae-2d", "pretrained/aae-mixture10-2d"]
        assert pg.evaluate("() => window.latentExplorer.pinned") == {"model": 0, "x": 2, "y": 2}  # still vae-2d's
    finally:
        pg.context.close()


def test_an_open_tab_draws_again_for_the_models_shown(chromium, shipped_server):
    pg = fresh(chromium, f"{shipped_server.url}?tab=samples")
    try:
        titles = "() => document.querySelector('#samples-text').innerText"
        pg.wait_for_function(f"() => ({titles})().includes('aae-mixture10-2d ·')", timeout=60_000)
        pg.get_by_role("button", name="Add ae-16d and vae-16d").click()  # drawn again, not left for 3 models
        pg.wait_for_function(f"() => ({titles})().includes('vae-16d ·') && ({titles})().includes('ae-16d ·')",
                             timeout=90_000)
        assert pg.evaluate(titles).count("·") >= 5
        pg.get_by_role("tab", name="Latent traversal").click()
        pg.wait_for_function("() => document.querySelector('#traverse-text').innerText.includes('ae-2d')",
                             timeout=60_000)
        pg.get_by_label("Model", exact=True).click()
        pg.get_by_role("option", name="vae-16d").click()
        pg.wait_for_function("() => document.querySelector('#traverse-text').innerText.startsWith('vae-16d')",
                             timeout=60_000)
    finally:
        pg.context.close()


# -- what the lesson promises ------------------------------------------------------------------------------------
def test_a_vae_regions_size_is_shown_where_it_can_be_seen(page):
    """A typical q(z|x) is 1.5-4 px across at these sizes: the page zooms it in an inset and says its sigma."""
    page.mouse.click(*at(page, 1, 0.55, 0.45))
    page.wait_for_timeout(500)
    note = page.locator(".le-note").nth(1).inner_text()
    sigma = [float(v) for v in re.search(r"σ ([\d.]+) × ([\d.]+)", note).groups()]
    assert 0 < sigma[1] <= sigma[0] < 1
    blue = page.evaluate("""() => {
        const c = document.querySelectorAll('.le-over')[1];
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 60 && d[i + 1] > 60 && d[i + 1] < 100 && d[i + 2] > 180) n++;
        return n; }""")
    assert blue > 300, f"{blue} px of the ellipse's blue: no zoomed inset"


def test_the_dragged_dimension_is_the_one_the_note_shows(chromium, shipped_server):
    pg = fresh(chromium, f"{shipped_server.url}?models=vae-16d&tab=traversal")
    try:
        pg.wait_for_function("() => window.latentTraverse && window.latentTraverse.lastImage", timeout=60_000)
        row = pg.locator(".lt-row").filter(has_text=re.compile(r"^z12\b"))
        row.locator("input").fill("2")
        pg.wait_for_function("() => document.querySelector('.lt-note').innerText.includes('z12 =')", timeout=10_000)
    finally:
        pg.context.close()


def test_a_umap_plane_says_why_it_shows_no_prior_density(chromium, shipped_server):
    pg = fresh(chromium, f"{shipped_server.url}?models=vae-2d,vae-16d&bg=prior+density")
    try:
        captions = pg.locator(".le-caption").all_inner_texts()
        assert len(captions) == 1 and "UMAP" in captions[0] and "pca" in captions[0]
    finally:
        pg.context.close()


# -- readable from the back of the room --------------------------------------------------------------------------
def test_the_text_in_pictures_is_at_least_14_px_on_screen(page):
    from explorer import render

    page.get_by_role("tab", name="Manifold grids").click()
    page.wait_for_selector("#grids img", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#grids img').complete", timeout=30_000)
    natural, shown = page.evaluate("() => { const i = document.querySelector('#grids img');"
                                   " return [i.naturalWidth, i.getBoundingClientRect().width]; }")
    assert render.text_px(natural) * shown / natural >= render.READABLE_PX - 0.5
    page.get_by_role("tab", name="Latent planes").click()


def test_projector_mode_enlarges_the_page_and_cuts_no_title_at_1366_with_six_models(chromium, shipped_server):
    from explorer import rules

    six = "ae-2d,vae-2d,aae-mixture10-2d,aae-semi100,vae-16d,aae-cluster16"
    pg = fresh(chromium, f"{shipped_server.url}?models={six}&projector=1")
    try:
        assert pg.get_by_label("Projector mode").is_checked()
        cut = pg.evaluate("() => [...document.querySelectorAll('.le-title, .le-tile-title')]"
                          ".filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent)")
        assert cut == []
        tab_px = pg.evaluate("() => parseFloat(getComputedStyle(document.querySelector('button[role=tab]')).fontSize)")
        assert tab_px >= 17
        rect = pg.evaluate("() => window.latentExplorer.planes.rect(0)")
        assert rect["left"] == rules.PROJECTOR_MARGINS["left"]
        sizes = pg.evaluate("() => [...document.querySelectorAll('.le-plane')].map((c) => c.offsetWidth)")
        assert len(sizes) == 6 and min(sizes) >= rules.PLANE_LAYOUT["min"]
        assert "projector=1" in pg.url
        assert covered(pg) == []
    finally:
        pg.context.close()


def test_nothing_a_class_needs_is_cut_off(page):
    page.get_by_label("Plane background").click()
    page.get_by_role("option", name="prior density").click()
    page.wait_for_function("() => window.latentExplorer.view.background === 'prior density'", timeout=30_000)
    box = page.get_by_label("Plane background")
    assert box.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1"), "the picked background is cut"
    page.get_by_label("Plane background").click()
    page.get_by_role("option", name="none", exact=True).click()
    page.get_by_text("How good is each model?").click()
    table = page.locator("#report table")
    table.wait_for()
    right = page.locator("#report").bounding_box()
    heads = table.locator("th").all()
    for th in heads[:8]:  # model ... samples in holes: what a class reads first
        b = th.bounding_box()
        assert b["x"] + b["width"] <= right["x"] + right["width"] + 1, th.inner_text()
    page.get_by_text("How good is each model?").click()


def test_the_train_tab_shows_no_replay_before_a_run(page):
    page.get_by_role("tab", name="Train").click()
    assert not page.get_by_label("Replay epoch").is_visible()
    page.get_by_role("tab", name="Latent planes").click()


def test_download_run_downloads_the_zip(chromium, shipped_server):
    from test_run_folders import tiny_run

    tiny_run(shipped_server.registry.runs / "class-run", "vae")
    pg = fresh(chromium, shipped_server.url)
    try:
        pg.get_by_role("tab", name="Train").click()
        pg.get_by_text("Saved runs").click()
        pg.get_by_label("Runs under runs/").click()
        pg.get_by_role("option", name="class-run").click()
        with pg.expect_download(timeout=60_000) as download:
            pg.get_by_role("button", name="Download run (.zip)").click()
        assert download.value.suggested_filename == "class-run.zip"
        assert pg.get_by_label("Resume to epoch").input_value() != "10"  # the run's own planned epochs
    finally:
        pg.context.close()


def test_samples_add_the_16d_models_with_one_button(monkeypatch, tmp_path):
    from conftest import ROOT
    from explorer.registry import Registry
    from explorer.ui import models, samples
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", Registry(pretrained=ROOT / "pretrained", runs=tmp_path,
                                                     background=False))
    keys = samples.add_16d(DEFAULT, Session())["models"]["value"]
    assert keys == [*DEFAULT, "pretrained/ae-16d", "pretrained/vae-16d"]
