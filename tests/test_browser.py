"""A real headless Chromium (Debian's /usr/bin/chromium) clicks a latent plane."""
import base64
import io
import shutil
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from explorer import actions

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]


@pytest.fixture(scope="module")
def page(app_server):
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM):
        pytest.fail("Debian chromium is not installed (apt-get install -y chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1366, "height": 768})
        pg.goto(app_server[0])
        pg.wait_for_selector(".plane img", timeout=60_000)
        yield pg
        browser.close()


def image_of(page, selector) -> tuple[str, np.ndarray]:
    src = page.locator(selector).first.get_attribute("src")
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        data = urllib.request.urlopen(src if src.startswith("http") else page.url.rstrip("/") + src).read()
    return src, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_click_on_plane_decodes_that_point_in_every_model(page, app_server):
    registry = app_server.registry
    page.get_by_text("Decode exact coordinates").click()  # shows the clicked point's coordinates
    planes = page.locator(".plane img")
    assert planes.count() == 3
    seen = []
    for fx, fy in ((0.55, 0.45), (0.3, 0.7)):
        old_src = page.locator("#decoded img").first.get_attribute("src") if page.locator("#decoded img").count() else None
        old_plane = planes.nth(0).get_attribute("src")
        box = planes.nth(1).bounding_box()
        planes.nth(1).click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        page.wait_for_function(
            "old => { const i = document.querySelector('#decoded img'); return i && i.src && i.src !== old; }",
            arg=old_src, timeout=15_000)
        x = float(page.get_by_label("x", exact=True).input_value())
        y = float(page.get_by_label("y", exact=True).input_value())
        assert int(float(page.get_by_label("Model #").input_value())) == 1
        entries = [registry.get(k) for k in DEFAULT]
        expected = actions.decoded_strip(actions.click_targets(entries, 1, (x, y)), registry.test)
        _, got = image_of(page, "#decoded img")
        assert np.array_equal(got, expected), "the decoded digits are not the decoding of the clicked point"
        # the click landed where it was made: plane point -> pixel is inside the clicked image area
        geo = actions.geometry(entries[1].view("umap"))
        px, py = geo.to_pixel([[x, y]])[0]
        assert abs(px - fx * 400) <= 3 and abs(py - fy * 400) <= 3
        seen.append(got)
        # every plane gets a crosshair at the click (a follow-up event redraws them)
        page.wait_for_function("old => document.querySelector('.plane img').src !== old", arg=old_plane,
                               timeout=15_000)
    assert not np.array_equal(seen[0], seen[1])


def test_trainer_tab_streams_curve_points(page, app_server):
    page.get_by_role("tab", name="Train").click()
    upload = page.get_by_text("IDX files: train/test images and labels")
    assert upload.count() == 0 or not upload.first.is_visible()  # the upload box only shows for "uploaded" data
    page.get_by_label("uploaded").check()
    upload.first.wait_for(state="visible", timeout=10_000)
    page.get_by_label("bundled").check()
    upload.first.wait_for(state="hidden", timeout=10_000)
    # only the options the picked model reads are shown: β for the VAE, the prior for the AAE
    beta, aae_prior = page.get_by_label("β (KL weight, VAE)"), page.get_by_text("AAE prior", exact=True)
    assert beta.is_visible() and not aae_prior.is_visible()
    for picked in ("aae", "vae"):
        page.get_by_label("Model", exact=True).click()
        page.get_by_role("option", name=picked, exact=True).click()
        (aae_prior if picked == "aae" else beta).wait_for(state="visible", timeout=10_000)
        (beta if picked == "aae" else aae_prior).wait_for(state="hidden", timeout=10_000)
    page.get_by_label("Epochs").fill("2")
    page.get_by_label("Use first N images (0 = all)").fill("1280")
    page.get_by_label("Run name (folder under runs/)").fill("browser-run")
    page.get_by_role("button", name="Start").click()
    # the curve plot receives step points while the job runs, then per-epoch points
    count_points = """() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            for (const t of (el.data || [])) { if (t.name === 'loss (raw)' && t.x && t.x.length >= ARG) return true; }
        }
        return false; }"""
    page.wait_for_function(count_points.replace("ARG", "1"), timeout=60_000)
    page.wait_for_function(count_points.replace("ARG", "4"), timeout=120_000)
    page.wait_for_function("() => document.body.innerText.includes('finished 2 epochs')", timeout=120_000)
    assert (app_server[1].runs / "browser-run" / "model.safetensors").is_file()


def test_samples_and_grids_are_drawn_when_their_tab_opens(page, app_server):
    """No empty panels: opening a tab draws its pictures, the same ones its button's endpoint returns."""
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    for tab, elem, endpoint, args in (("Samples", "samples", "/sample", (DEFAULT, 0)),
                                      ("Manifold grids", "grids", "/manifold", (DEFAULT, "umap", 15, False, "auto")),
                                      ("Reconstructions", "recons", "/reconstruct",
                                       (DEFAULT, "one per class", "", None, 0, "umap"))):
        selector = f"#{elem} img"
        assert page.locator(selector).count() == 0  # nothing drawn before the tab opens
        page.get_by_role("tab", name=tab).click()
        page.wait_for_function(f"() => {{ const i = document.querySelector({selector!r}); return i && i.src; }}",
                               timeout=30_000)
        _, shown = image_of(page, selector)
        path = client.predict(*args, api_name=endpoint)[0]
        assert np.array_equal(shown, np.asarray(Image.open(path).convert("RGB"))), f"{tab}: not its endpoint's picture"
    # none of the default models is conditional: the Conditional tab opens with a hint, not an error
    page.get_by_role("tab", name="Conditional").click()
    page.wait_for_function("() => (document.querySelector('#styles-text') || {innerText: ''}).innerText"
                           ".includes('None of the shown models is conditional')", timeout=30_000)
    assert page.locator("#styles img").count() == 0


def test_a_model_name_typed_into_the_picker_is_shown(page, app_server):
    """Typing a shown name and pressing Enter adds that model (Gradio sends no input event for typed entries)."""
    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})  # its own session
    try:
        fresh.goto(app_server[0])
        fresh.wait_for_selector(".plane img", timeout=60_000)
        picker = fresh.get_by_label("Models to compare (up to 6)")
        picker.click()
        picker.fill("cvae-2d")
        picker.press("Enter")
        fresh.wait_for_function("() => document.body.innerText.includes('cvae-2d (cvae, 2-D)')", timeout=30_000)
        fresh.wait_for_function("() => { const i = document.querySelectorAll('.plane img'); "
                                "return i.length === 4 && [...i].every(e => e.complete && e.offsetWidth > 0); }",
                                timeout=30_000)  # all four drawn and laid out before they are measured
        chips = fresh.locator("[data-testid='multiselect'] .token, .token").all_inner_texts()
        assert [c.strip() for c in chips if c.strip()][-1] == "cvae-2d"  # the chip shows the name, not raw text
        planes = fresh.locator(".plane img")
        top, lower = planes.nth(0).bounding_box(), planes.nth(3).bounding_box()
        assert abs(lower["width"] - top["width"]) < 0.05 * top["width"]  # a lone lower plane is not stretched
        assert abs(lower["x"] - top["x"]) < 2  # and sits under the first one
        picker.click()
        picker.fill("nope")  # no model has this name: a warning, and the chip is taken away again
        picker.press("Enter")
        fresh.wait_for_function("() => document.body.innerText.includes(\"No model is called 'nope'\")",
                                timeout=30_000)
        fresh.wait_for_timeout(500)
        chips = [c.strip() for c in fresh.locator(".token").all_inner_texts() if c.strip()]
        assert "nope" not in chips and chips[-1] == "cvae-2d"
        assert fresh.locator(".plane img").count() == 4  # the shown models stay
    finally:
        fresh.close()


def test_the_planes_have_a_key_to_their_digit_colors(page):
    from explorer.render import PALETTE

    page.get_by_role("tab", name="Click a plane").click()
    legend = page.locator("#digit-legend")
    legend.wait_for(state="visible", timeout=15_000)
    swatches = legend.locator("span > span")
    colors = [swatches.nth(d).evaluate("e => getComputedStyle(e).color") for d in range(swatches.count())]
    assert colors == [f"rgb({r}, {g}, {b})" for r, g, b in PALETTE[:10]]
    assert [int(t) for t in legend.inner_text().split(":", 1)[1].replace("●", " ").split()] == list(range(10))


def test_the_conditional_tab_adds_the_shipped_conditional_models(page, app_server):
    """With no CVAE/CAAE shown, the Conditional tab's shortcut adds the shipped ones and draws their grids."""
    from gradio_client import Client

    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})  # its own session
    try:
        fresh.goto(app_server.url)
        fresh.wait_for_selector(".plane img", timeout=60_000)
        fresh.get_by_role("tab", name="Conditional").click()
        fresh.wait_for_function("() => (document.querySelector('#styles-text') || {innerText: ''}).innerText"
                                ".includes('None of the shown models is conditional')", timeout=30_000)
        fresh.get_by_role("button", name="Add the CVAE and CAAE").click()
        fresh.wait_for_function("() => { const i = document.querySelector('#styles img'); return i && i.src; }",
                                timeout=30_000)
        chips = [c.strip() for c in fresh.locator(".token").all_inner_texts() if c.strip()]
        assert chips == ["ae-2d", "vae-2d", "aae-mixture10-2d", "cvae-2d"]  # the tiny zoo has no caae-2d
        assert fresh.locator(".plane img").count() == 4
        _, shown = image_of(fresh, "#styles img")
        path = Client(app_server.url, verbose=False).predict([*DEFAULT, "pretrained/cvae-2d"], "0, 1, 2, 3, 4",
                                                             api_name="/style_grid")[0]
        assert np.array_equal(shown, np.asarray(Image.open(path).convert("RGB")))
    finally:
        fresh.close()


def test_the_lesson_opens_on_the_page(page):
    page.get_by_text("A 10-minute lesson (for class)").click()
    page.get_by_text("VAE continuity").wait_for(state="visible", timeout=15_000)
    page.get_by_text("A 10-minute lesson (for class)").click()  # closed again for the tests that follow


def test_the_report_card_lists_a_model_once_it_is_measured(page, app_server):
    """The "How good is each model?" accordion: empty for the unmeasured tiny zoo; after `trainer eval --save`
    a new page lists the model with the numbers eval printed."""
    import json
    import subprocess
    import sys

    title = "How good is each model? (each measured on its held-out test digits)"
    page.get_by_text(title).click()
    page.get_by_text("Nats per image, lower is better").wait_for(state="visible", timeout=15_000)
    assert page.locator("#report td", has_text="vae-2d").count() == 0  # the tiny zoo comes unmeasured
    page.get_by_text(title).click()
    folder = app_server.registry.pretrained / "vae-2d"
    saved = (folder / "metrics.json").read_bytes()
    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        r = subprocess.run([sys.executable, "-m", "trainer", "eval", str(folder), "--json", "--save"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        results = json.loads(r.stdout)
        fresh.goto(app_server.url)
        fresh.wait_for_selector(".plane img", timeout=60_000)
        fresh.get_by_text(title).click()
        row = fresh.locator("#report tr", has_text="vae-2d")
        row.wait_for(state="visible", timeout=15_000)
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[:2] == ["vae-2d", "VAE"]
        assert cells[5:9] == [f"{results['neg_elbo']:.1f}", f"{results['recon_bce']:.1f}",
                              f"{100 * results['knn_accuracy']:.0f}%", f"{100 * results['confident_share']:.0f}%"]
        listed = {cells.split("\t")[0].strip() for cells in fresh.locator("#report tbody tr").all_inner_texts()}
        assert "vae-2d" in listed and not listed & {"ae-2d", "aae-mixture10-2d", "cvae-2d", "vae-8d"}  # unmeasured
    finally:
        fresh.close()
        (folder / "metrics.json").write_bytes(saved)
