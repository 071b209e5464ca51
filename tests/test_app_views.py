"""The Gradio app's exploring tabs draw in the page (explorer/ui/views.py: explorer/static/views/*.js mounted in
each tab): opening a tab and using its main control asks the Gradio queue nothing. The named endpoints stay for
gradio_client users (tests/test_app.py); the page's numbers against the server's: tests/test_page_views.py."""
import json
import re
from pathlib import Path

import pytest

from test_browser import LIVE

MODELS = "ae-2d,vae-2d,cvae-2d,aae-cluster16"  # one of each view's kind: plain, VAE (quantiles), conditional, clustered
JOIN = "/gradio_api/queue/join"


def view(page, elem: str) -> str:
    """A JS expression: the panels' titles of the view mounted as #elem."""
    return f"[...document.querySelectorAll('#{elem} .lv-title')].map((t) => t.textContent)"


def wait_titles(page, elem: str, count: int, has: str = "") -> list[str]:
    page.wait_for_function(f"() => {{ const t = {view(page, elem)}; return t.length === {count} && "
                           f"t.every((s) => s.includes({has!r})); }}", timeout=90_000)
    return page.evaluate(f"() => {view(page, elem)}")


def times(page, name: str) -> int:
    return page.evaluate(f"() => (window.latentViews.{name}.times || []).length")


@pytest.mark.browser
def test_every_exploring_tab_draws_in_the_page_with_no_request_to_the_queue(chromium, shipped_server):
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(f"{shipped_server.url}?models={MODELS}")
        page.wait_for_function(LIVE, timeout=120_000)
        page.wait_for_function("() => document.querySelectorAll('.le-plane').length === 4", timeout=60_000)
        page.wait_for_timeout(1500)  # the opening's own events (load, show the models) are answered
        joins = []
        page.on("request", lambda r: joins.append(r.url) if JOIN in r.url else None)

        page.get_by_role("tab", name="Manifold grids").click()
        titles = wait_titles(page, "grids-view", 4)
        assert titles[0].startswith("ae-2d · ") and "cluster 0" in titles[3]
        page.locator("#grids-view input[type=checkbox]").check()  # the VAE through Gaussian quantiles
        wait_titles(page, "grids-view", 4)
        page.wait_for_function(f"() => {view(page, 'grids-view')}[1].includes('Gaussian quantiles')", timeout=30_000)

        page.get_by_role("tab", name="Samples").click()
        wait_titles(page, "samples-view", 4, "look like a digit")
        before = times(page, "samples")
        page.locator("#samples-view input[type=number]").first.fill("7")
        page.get_by_role("button", name="Sample from the priors").click()
        page.wait_for_function(f"() => window.latentViews.samples.times.length > {before}", timeout=30_000)
        page.get_by_role("button", name="Interpolate").click()
        page.wait_for_function("() => document.querySelectorAll('#samples-view .lv-rows .lv-row').length >= 4",
                               timeout=30_000)

        page.get_by_role("tab", name="Reconstructions").click()
        page.wait_for_function("() => (document.querySelector('#recon-view .lv-status') || {innerText: ''}).innerText"
                               ".startsWith('Test digits')", timeout=60_000)
        box = page.locator("#recon-view canvas.lv-sketch-canvas").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=8)
        page.mouse.up()  # a drawn 1: reconstructed in every model, its star in every plane
        page.wait_for_function("() => (document.querySelector('#recon-view .lv-status') || {innerText: ''}).innerText"
                               ".includes('your drawing')", timeout=30_000)
        assert page.locator("#recon-view table tr").count() == 5  # a header and a mean error per model
        page.wait_for_function("() => window.latentExplorer.stats().models.length === 4 && "
                               "document.querySelector('#recon-view .lv-row')", timeout=10_000)

        page.get_by_role("tab", name="Latent traversal").click()
        caption = "(document.querySelector('#traversal-view .lv-caption') || {innerText: ''}).innerText"
        page.wait_for_function(f"() => {caption}.startsWith('ae-2d around test digit #0')", timeout=60_000)
        page.locator("#traversal-view select").first.select_option(label="vae-2d")
        page.wait_for_function(f"() => {caption}.startsWith('vae-2d around')", timeout=30_000)
        assert page.locator("#traversal-view .lt-row").count() == 2  # the sliders of its two dims

        page.get_by_role("tab", name="Conditional").click()
        assert wait_titles(page, "styles-view", 1) == ["cvae-2d"]  # the one conditional model shown

        page.get_by_role("tab", name="Clusters").click()
        page.wait_for_selector("#clusters-view .lv-heat", timeout=60_000)
        assert "aae-cluster16" in page.locator("#clusters-view").inner_text()

        page.get_by_role("tab", name="Scatter").click()
        wait_titles(page, "scatter-view", 4)
        canvas = page.locator("#scatter-view canvas.lv-scatter").first.bounding_box()
        for fx in (0.3, 0.4, 0.5, 0.6, 0.7):
            for fy in (0.3, 0.4, 0.5, 0.6, 0.7):
                page.mouse.move(canvas["x"] + canvas["width"] * fx, canvas["y"] + canvas["height"] * fy)
                page.wait_for_timeout(60)
        page.wait_for_function("() => window.latentViews.scatter.lastIndex !== undefined", timeout=10_000)

        page.wait_for_timeout(1000)
        assert joins == [], f"{len(joins)} requests to the Gradio queue while the views were used"
        page.get_by_role("tab", name="Samples").click()
        page.get_by_role("button", name="Add ae-16d and vae-16d").click()  # a server action: the listener sees it
        page.wait_for_function(f"() => {view(page, 'samples-view')}.some((t) => t.startsWith('vae-16d'))",
                               timeout=90_000)
        assert joins, "the queue's requests were not seen: the count above proves nothing"

        # the GIF for slides is made on the server from what the page's view shows (not the hidden controls)
        sent = []
        page.on("request", lambda r: sent.append(json.loads(r.post_data)["data"]) if JOIN in r.url else None)
        page.locator("#samples-view input[type=number]").nth(1).fill("5")
        page.locator("#samples-view input[type=number]").nth(2).fill("9")
        page.get_by_role("button", name="Interpolation as a GIF (for slides)").click()
        page.wait_for_selector("#interp-gif a", timeout=60_000)
        assert [d[1:3] for d in sent] == [[5, 9]]
    finally:
        context.close()


@pytest.mark.browser
def test_the_lessons_sample_counts_are_the_ones_the_page_prints(chromium, shipped_server):
    """Lesson step 1 quotes how many of ae-16d's and vae-16d's 64 samples look like a digit: the Samples tab, after
    its Add ae-16d and vae-16d button, prints those very numbers (seed 0)."""
    lesson = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quoted = re.search(r"(\d+) of ae-16d's 64 samples look like a\s+digit, against (\d+) of vae-16d's", lesson)
    assert quoted, "the lesson's step 1 no longer quotes the sample counts"
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(shipped_server.url)
        page.wait_for_function(LIVE, timeout=120_000)
        page.get_by_role("tab", name="Samples").click()
        page.get_by_role("button", name="Add ae-16d and vae-16d").click()
        titles = wait_titles(page, "samples-view", 5, "look like a digit")
        counts = {t.split(" · ")[0]: t.split(" · ")[-1].split(" of ")[0] for t in titles}
        assert (counts["ae-16d"], counts["vae-16d"]) == quoted.groups()
    finally:
        context.close()
