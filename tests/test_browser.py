"""A real headless Chromium (Debian's /usr/bin/chromium) on the app: the live planes, the tabs, the trainer."""
import base64
import io
import shutil
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from explorer import actions, rules

pytestmark = pytest.mark.browser
from conftest import CHROMIUM, CHROMIUM_ARGS as ARGS  # noqa: E402,F401 (other test files import them from here)
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]


LIVE = "() => window.latentExplorer && window.latentExplorer.stats().live"


def open_app(browser, url, **context):
    """A fresh page (its own session) on the app, once its live planes decode in the page."""
    viewport = context.pop("viewport", {"width": 1366, "height": 768})
    pg = browser.new_context(viewport=viewport, **context).new_page()
    pg.goto(url)
    pg.wait_for_selector(".le-plane canvas", state="attached", timeout=60_000)  # a shared link may open another tab
    return pg


@pytest.fixture(scope="module")
def page(app_server, chromium):
    pg = open_app(chromium, app_server.url)
    pg.wait_for_function(LIVE, timeout=120_000)  # the tiny zoo's decoders are exported when first shown
    settle(pg)
    yield pg
    pg.context.close()


def settle(page, quiet_ms: int = 1000, timeout: float = 30.0) -> None:
    """Wait until the page has sent no request for ``quiet_ms`` (its start-up events and pins are done)."""
    last = [time.time()]
    listener = lambda r: last.__setitem__(0, time.time())  # noqa: E731
    page.on("request", listener)
    deadline = time.time() + timeout
    while time.time() < deadline and time.time() - last[0] < quiet_ms / 1000:
        page.wait_for_timeout(100)
    page.remove_listener("request", listener)


def image_of(page, selector) -> tuple[str, np.ndarray]:
    src = page.locator(selector).first.get_attribute("src")
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        origin = "/".join(page.url.split("/")[:3])  # the address bar may hold a shared view's query
        data = urllib.request.urlopen(src if src.startswith("http") else origin + src).read()
    return src, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def plane_box(page, k):
    """The k-th plane's canvas and the data rectangle inside it (the page lays it out by rules.plane_rect)."""
    box = page.locator(".le-over").nth(k).bounding_box()
    r = rules.plane_rect(box["width"])
    return box, {"x": box["x"] + r["left"], "y": box["y"] + r["top"], "side": r["side"]}


def at(page, k, fx, fy):
    """Page coordinates of the point at fractions (fx, fy) of plane k's data rectangle (y from the top)."""
    _, r = plane_box(page, k)
    return r["x"] + fx * r["side"], r["y"] + fy * r["side"]


def wait_for_field(page, label, value, timeout=15.0):
    """Wait until the number field ``label`` (under "Decode exact coordinates") holds ``value``."""
    deadline, seen = time.time() + timeout, None
    while time.time() < deadline:
        seen = page.get_by_label(label, exact=True).input_value()
        try:
            if abs(float(seen) - value) < 1e-6:
                return
        except ValueError:
            pass
        page.wait_for_timeout(100)
    raise AssertionError(f"{label} is {seen!r}, expected {value}")


def tiles(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('.le-digit')].map(c => c.toDataURL())")


def page_targets(page):
    return page.evaluate("() => window.latentExplorer.lastTargets.map(t => ({how: t.how, z: Array.from(t.z), "
                         "outside: t.outside, point: t.point}))")


def test_hovering_decodes_every_model_in_the_page_without_asking_the_server(page, app_server):
    """A hover decodes the point in every model, in the page, as the server would; it sends no request at all."""
    requests = []
    listener = lambda r: requests.append(r.url)  # noqa: E731
    page.on("request", listener)
    before = tiles(page)
    page.mouse.move(*at(page, 1, 0.2, 0.2))
    page.mouse.move(*at(page, 1, 0.6, 0.7), steps=40)
    page.wait_for_timeout(300)
    after = tiles(page)
    page.remove_listener("request", listener)
    assert requests == [], f"hovering asked the server: {requests[:5]}"
    assert all(a != b for a, b in zip(before, after)), "every model's decoded digit changed"
    stats = page.evaluate("() => window.latentExplorer.stats()")
    assert stats["live"] and len(stats["repaint"]) >= 10
    # the page's last decode is the server's decode of that point
    point = page.evaluate("() => window.latentExplorer.point")
    registry = app_server.registry
    entries = [registry.get(k) for k in DEFAULT]
    targets = actions.click_targets(entries, 1, (point["x"], point["y"]))
    for got, want in zip(page_targets(page), targets):
        assert got["how"] == want.how and np.allclose(got["z"], want.z, atol=1e-6)
    decoded = page.evaluate("([k, x, y]) => window.latentExplorer.decodeAt(k, x, y)", [1, point["x"], point["y"]])
    expected = actions.decode_targets(targets).reshape(3, -1)
    assert np.abs(np.asarray(decoded["images"]) - expected).max() <= 2 / 255
    # leaving the plane shows the pinned point again
    page.mouse.move(5, 5)
    page.wait_for_function("() => window.latentExplorer.point === window.latentExplorer.pinned", timeout=5_000)


def test_a_click_pins_the_point_for_the_server(page, app_server):
    page.get_by_text("Decode exact coordinates").click()
    page.mouse.click(*at(page, 2, 0.55, 0.45))
    pinned = page.evaluate("() => window.latentExplorer.pinned")
    assert pinned["model"] == 2
    page.wait_for_function("x => Math.abs(parseFloat(document.querySelector('#live-planes ~ * input, "
                           "input[aria-label=\"x\"]')?.value ?? 'NaN') - x) < 1e-6 || "
                           "Math.abs(parseFloat([...document.querySelectorAll('input')].find(i => "
                           "i.closest('label')?.innerText.trim() === 'x')?.value) - x) < 1e-6", arg=pinned["x"],
                           timeout=15_000)
    assert float(page.get_by_label("x", exact=True).input_value()) == pytest.approx(pinned["x"], abs=1e-6)
    assert float(page.get_by_label("y", exact=True).input_value()) == pytest.approx(pinned["y"], abs=1e-6)
    assert int(float(page.get_by_label("Model #").input_value())) == 2
    extent = app_server.registry.get(DEFAULT[2]).view("umap").extent
    assert pinned["x"] == pytest.approx(extent[0] + 0.55 * (extent[1] - extent[0]), abs=0.01 * (extent[1] - extent[0]))
    assert not page.locator("#decoded").is_visible()  # the page decodes itself: no server strip
    page.get_by_text("Decode exact coordinates").click()


def test_arrow_keys_walk_a_focused_plane_and_pin_the_point(page):
    page.mouse.click(*at(page, 1, 0.5, 0.5))
    start = page.evaluate("() => window.latentExplorer.pinned")
    page.locator(".le-over").nth(1).focus()
    page.mouse.move(5, 5)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    moved = page.evaluate("() => window.latentExplorer.pinned")
    extent = page.evaluate("() => window.latentExplorer.models[1].extent")
    assert moved["x"] - start["x"] == pytest.approx(3 * rules.WALK_STEP * (extent[1] - extent[0]))
    assert moved["y"] - start["y"] == pytest.approx(rules.WALK_STEP * (extent[3] - extent[2]))
    wait_for_field(page, "x", moved["x"])  # pinned on the server a moment after the last key


def test_a_touch_drag_moves_the_point_and_pins_it_where_it_ends(page):
    """Touch: no hover, so a drag moves the decoded point and lifting the finger pins it."""
    over = page.locator(".le-over").nth(0)
    x0, y0 = at(page, 0, 0.3, 0.3)
    x1, y1 = at(page, 0, 0.7, 0.6)
    before = tiles(page)
    over.evaluate("""(el, [x0, y0, x1, y1]) => {
        const ev = (type, x, y) => el.dispatchEvent(new PointerEvent(type, {pointerId: 7, pointerType: 'touch',
            clientX: x, clientY: y, bubbles: true, isPrimary: true}));
        ev('pointerdown', x0, y0);
        for (let i = 1; i <= 10; i++) ev('pointermove', x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10);
        ev('pointerup', x1, y1);
    }""", [x0, y0, x1, y1])
    page.wait_for_timeout(300)
    pinned = page.evaluate("() => window.latentExplorer.pinned")
    _, r = plane_box(page, 0)
    extent = page.evaluate("() => window.latentExplorer.models[0].extent")
    assert pinned["model"] == 0
    assert pinned["x"] == pytest.approx(extent[0] + (x1 - r["x"]) / r["side"] * (extent[1] - extent[0]), rel=1e-6)
    assert tiles(page) != before


def test_the_link_mode_is_named_and_switches(page, app_server):
    """Same test digit by default; same z shares the point only between models of one prior, and says why."""
    notes = lambda: page.locator(".le-note").all_inner_texts()
    page.mouse.click(*at(page, 1, 0.5, 0.5))
    assert "Each other model decodes its own code of the test digit" in page.locator(".le-link").inner_text()
    assert all("test digit #" in n for k, n in enumerate(notes()) if k != 1)
    page.get_by_role("button", name="same z").click()
    page.wait_for_function("() => window.latentExplorer.view.link === 'same z'")
    page.mouse.click(*at(page, 1, 0.5, 0.5))
    page.wait_for_timeout(200)
    text = notes()
    assert "(its codes have another scale)" in text[0]  # the AE has no prior
    assert "(its codes have another scale)" in text[2]  # the 10-petal AAE has another prior than the VAE's
    assert "Same z only between models whose codes were made to match the same prior" in page.locator(
        ".le-link").inner_text()
    page.get_by_text("Decode exact coordinates").click()
    page.wait_for_function("() => [...document.querySelectorAll('input[type=radio]')].some(r => r.checked && "
                           "r.value === 'same z')", timeout=15_000)  # the server knows the link
    page.get_by_role("button", name="same test digit").click()
    page.get_by_text("Decode exact coordinates").click()


def test_a_point_outside_the_codes_is_marked_as_outside(page):
    page.mouse.move(*at(page, 1, 0.995, 0.005))  # the corner: no test code near it
    page.wait_for_function("() => window.latentExplorer.lastTargets[1].outside", timeout=5_000)
    assert "outside its codes" in page.locator(".le-note").nth(1).inner_text()
    assert "le-outside" in page.locator(".le-tile").nth(1).get_attribute("class")
    assert page.locator(".le-verdict").nth(1).inner_text() == "outside its codes"
    page.mouse.move(5, 5)


def test_the_planes_have_a_key_to_their_digit_colors(page):
    from explorer.render import PALETTE

    legend = page.locator(".le-legend")
    legend.wait_for(state="visible", timeout=15_000)
    colors = [d.evaluate("e => getComputedStyle(e).color") for d in legend.locator(".le-dot").all()]
    assert colors == [f"rgb({r}, {g}, {b})" for r, g, b in PALETTE[:10]]
    assert [s.inner_text().replace("●", "").strip() for s in legend.locator(".le-swatch").all()] == [
        str(d) for d in range(10)]


def test_without_webassembly_the_page_says_so_and_a_click_decodes_on_the_server(page, app_server):
    ctx = page.context.browser.new_context(viewport={"width": 1366, "height": 768})
    ctx.add_init_script("delete window.WebAssembly")
    fresh = ctx.new_page()
    try:
        fresh.goto(app_server.url)
        fresh.wait_for_selector(".le-status.le-warn", timeout=60_000)
        assert "Live decoding is off in this browser" in fresh.locator(".le-status").inner_text()
        fresh.get_by_text("Decode exact coordinates").click()
        settle(fresh)  # the start-up pin has drawn the server's strip of the plane's centre
        old = fresh.locator("#decoded img").first.get_attribute("src")
        fresh.mouse.click(*at(fresh, 1, 0.4, 0.6))
        pinned = fresh.evaluate("() => window.latentExplorer.pinned")
        wait_for_field(fresh, "x", pinned["x"])
        fresh.wait_for_function("old => { const i = document.querySelector('#decoded img'); "
                                "return i && i.src && i.src !== old; }", arg=old, timeout=15_000)
        registry = app_server.registry
        entries = [registry.get(k) for k in DEFAULT]
        from trainer.classifier import load_classifier

        clf = load_classifier(registry.pretrained / "classifier") if (registry.pretrained / "classifier").is_dir() \
            else None  # as the server has it
        expected = actions.decoded_strip(actions.click_targets(entries, 1, (pinned["x"], pinned["y"])),
                                         registry.test, clf)
        _, got = image_of(fresh, "#decoded img")
        assert np.array_equal(got, expected), "the server's strip is the decoding of the clicked point"
    finally:
        ctx.close()


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
        fresh.wait_for_selector(".le-plane canvas", timeout=60_000)
        picker = fresh.get_by_label("Models to compare (up to 6)")
        picker.click()
        picker.fill("cvae-2d")
        picker.press("Enter")
        fresh.wait_for_function("() => document.body.innerText.includes('cvae-2d (cvae, 2-D)')", timeout=30_000)
        fresh.wait_for_function("() => document.querySelectorAll('.le-plane').length === 4", timeout=30_000)
        chips = fresh.locator("[data-testid='multiselect'] .token, .token").all_inner_texts()
        assert [c.strip() for c in chips if c.strip()][-1] == "cvae-2d"  # the chip shows the name, not raw text
        planes = fresh.locator(".le-over")
        top, lower = planes.nth(0).bounding_box(), planes.nth(3).bounding_box()
        assert abs(lower["width"] - top["width"]) < 1  # every plane the same size, none stretched
        assert lower["x"] + lower["width"] <= 1366  # and none off the screen
        picker.click()
        picker.fill("nope")  # no model has this name: a warning, and the chip is taken away again
        picker.press("Enter")
        fresh.wait_for_function("() => document.body.innerText.includes(\"No model is called 'nope'\")",
                                timeout=30_000)
        fresh.wait_for_timeout(500)
        chips = [c.strip() for c in fresh.locator(".token").all_inner_texts() if c.strip()]
        assert "nope" not in chips and chips[-1] == "cvae-2d"
        assert fresh.locator(".le-plane").count() == 4  # the shown models stay
    finally:
        fresh.close()


def test_the_conditional_tab_adds_the_shipped_conditional_models(page, app_server):
    """With no CVAE/CAAE shown, the Conditional tab's shortcut adds the shipped ones and draws their grids."""
    from gradio_client import Client

    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})  # its own session
    try:
        fresh.goto(app_server.url)
        fresh.wait_for_selector(".le-plane canvas", timeout=60_000)
        fresh.get_by_role("tab", name="Conditional").click()
        fresh.wait_for_function("() => (document.querySelector('#styles-text') || {innerText: ''}).innerText"
                                ".includes('None of the shown models is conditional')", timeout=30_000)
        fresh.get_by_role("button", name="Add the CVAE and CAAE").click()
        fresh.wait_for_function("() => { const i = document.querySelector('#styles img'); return i && i.src; }",
                                timeout=30_000)
        chips = [c.strip() for c in fresh.locator(".token").all_inner_texts() if c.strip()]
        assert chips == ["ae-2d", "vae-2d", "aae-mixture10-2d", "cvae-2d"]  # the tiny zoo has no caae-2d
        fresh.wait_for_function("() => document.querySelectorAll('.le-plane').length === 4", timeout=30_000)
        _, shown = image_of(fresh, "#styles img")
        path = Client(app_server.url, verbose=False).predict([*DEFAULT, "pretrained/cvae-2d"], "0, 1, 2, 3, 4",
                                                             api_name="/style_grid")[0]
        assert np.array_equal(shown, np.asarray(Image.open(path).convert("RGB")))
    finally:
        fresh.close()


def test_the_lesson_opens_on_the_page(page):
    """The README's lesson, one step at a time (each step's tab shows its text)."""
    page.get_by_text("A 10-minute lesson (for class)").click()
    page.locator(".lesson-step", has_text="AE holes").first.wait_for(state="visible", timeout=15_000)
    page.get_by_role("tab", name="Step 2").click()
    page.locator(".lesson-step", has_text="A VAE encodes a region").first.wait_for(state="visible", timeout=15_000)
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
        fresh.wait_for_selector(".le-plane canvas", timeout=60_000)
        fresh.get_by_text(title).click()
        row = fresh.locator("#report tr", has_text="vae-2d")
        row.wait_for(state="visible", timeout=15_000)
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[:2] == ["vae-2d", "VAE"]
        assert cells[3:7] == [f"{results['neg_elbo']:.1f}", f"{results['recon_bce']:.1f}",
                              f"{100 * results['knn_accuracy']:.0f}%", f"{100 * results['confident_share']:.0f}%"]
        listed = {cells.split("\t")[0].strip() for cells in fresh.locator("#report tbody tr").all_inner_texts()}
        assert "vae-2d" in listed and not listed & {"ae-2d", "aae-mixture10-2d", "cvae-2d", "vae-8d"}  # unmeasured
    finally:
        fresh.close()
        (folder / "metrics.json").write_bytes(saved)


def test_a_shared_link_restores_the_view_in_a_fresh_browser(page, app_server):
    """The address bar holds the view; opening it elsewhere restores models, tab, pinned point and background."""
    from urllib.parse import parse_qs, urlparse

    page.get_by_role("tab", name="Latent planes").click()
    page.get_by_label("Plane background").click()
    page.get_by_role("option", name="manifold", exact=True).click()
    drawn = ("bg => { const l = window.latentExplorer; return l.view.background === bg && l.models.length && "
             "l.models[0].layer === l.view.models[0].layer; }")  # the new view's planes are on the page
    page.wait_for_function(drawn, arg="manifold", timeout=30_000)
    page.wait_for_timeout(300)
    page.mouse.click(*at(page, 2, 0.3, 0.6))
    page.wait_for_function("() => location.search.includes('plane=2')", timeout=10_000)
    page.get_by_role("tab", name="Samples").click()
    page.wait_for_function("() => location.search.includes('tab=samples') && location.search.includes('plane=2')",
                           timeout=10_000)
    pinned = page.evaluate("() => window.latentExplorer.pinned")
    shared = page.url
    query = parse_qs(urlparse(shared).query)
    assert query["models"] == [",".join(DEFAULT)] and query["bg"] == ["manifold"] and query["plane"] == ["2"]
    fresh = open_app(page.context.browser, shared)
    try:
        fresh.wait_for_function(LIVE, timeout=60_000)
        assert fresh.evaluate("() => window.latentExplorer.view.background") == "manifold"
        assert fresh.evaluate("() => window.latentExplorer.stats().models") == DEFAULT
        restored = fresh.evaluate("() => window.latentExplorer.pinned")
        assert restored["model"] == 2 and abs(restored["x"] - pinned["x"]) < 1e-3 and abs(restored["y"] - pinned["y"]) < 1e-3
        assert fresh.get_by_role("tab", name="Samples").get_attribute("aria-selected") == "true"
        # unknown or bad values: ignored with a one-line note
        fresh.goto(app_server.url + "?models=pretrained/ae-2d,nope&bg=rainbow&z=x,y&label=12")
        fresh.wait_for_function(LIVE, timeout=60_000)
        status = fresh.locator("#status").inner_text()
        assert "The shared link's no model 'pretrained/nope' here" in status and "bg='rainbow'" in status
        assert fresh.evaluate("() => window.latentExplorer.stats().models") == ["pretrained/ae-2d"]
    finally:
        fresh.context.close()
    page.get_by_role("tab", name="Latent planes").click()
    page.get_by_label("Plane background").click()
    page.get_by_role("option", name="none", exact=True).click()
    page.wait_for_function("() => window.latentExplorer.view.background === 'none'", timeout=30_000)


def test_the_scatter_hover_shows_the_digits_image(page, app_server):
    page.get_by_role("tab", name="Scatter").click()
    page.wait_for_selector("#scatter .js-plotly-plot", timeout=30_000)
    page.wait_for_timeout(1000)
    box = page.locator("#scatter .nsewdrag").first.bounding_box()
    for fx in np.linspace(0.2, 0.8, 7):
        for fy in np.linspace(0.2, 0.8, 7):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            page.wait_for_timeout(150)
            index = page.evaluate("() => window.latentScatterHover && window.latentScatterHover.lastIndex")
            if index is not None:
                break
        if index is not None:
            break
    assert index is not None, "no hover over a point showed a digit"
    page.wait_for_timeout(300)
    shown = np.asarray(page.evaluate("() => { const c = document.querySelector('.ls-digit'); return Array.from("
                                     "c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 "
                                     "=== 0); }")).reshape(28, 28)
    digit = 255 - app_server.registry.test.images[index].numpy()
    assert np.array_equal(shown, digit), f"the hover shows another digit than test #{index}"
    page.mouse.move(5, 5)
    page.get_by_role("tab", name="Latent planes").click()
