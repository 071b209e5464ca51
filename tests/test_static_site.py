"""The static edition (python -m explorer.site OUT): the folder it writes, and the page served from it by a plain
static server (python -m http.server, no Python app): every tab, a shared link, offline after a visit, Keep."""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT, free_port

MODELS = ["ae-2d", "cvae-2d", "aae-cluster16"]  # one of each view's kind: plain, conditional, clustered


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, list[str]]:
    from explorer import site as static

    out = tmp_path_factory.mktemp("static") / "out"
    files = static.build(out, MODELS, log=lambda *_: None)
    return out, files


@pytest.mark.slow  # builds a static edition of three models
def test_the_folder_holds_exactly_the_files_it_lists(site):
    out, files = site
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == files
    for name in MODELS:
        for file in ("decoder.onnx", "encoder.onnx", "model.json", "latent.bin", "latent-none.png",
                     "latent-classifier-safe.png"):
            assert f"models/{name}/{file}" in files, (name, file)
    for file in ("index.html", "sw.js", "site.json", "classifier.onnx", "sprite.png", "static/site/app.js",
                 "static/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm", "static/vendor/jax-js/index.js",
                 "static/data/train-images-idx3-ubyte.gz", "static/train/worker.js", "static/views/grids.js"):
        assert file in files, file
    assert not [f for f in files if f.endswith((".py", ".pyc", ".safetensors", ".npz"))]
    site_json = json.loads((out / "site.json").read_text())
    assert list(site_json["models"]) == [f"pretrained/{n}" for n in MODELS]
    assert site_json["default"] == ["pretrained/ae-2d"]  # of the defaults, the ones built
    assert "A 10-minute lesson" not in site_json["lesson"] and "<ol>" in site_json["lesson"]
    doc = json.loads((out / "models/aae-cluster16/model.json").read_text())
    assert doc["extras"]["encoder"] == "models/aae-cluster16/encoder.onnx" and doc["extras"]["clusters"]


def test_the_cli_refuses_what_it_cannot_build(tmp_path, capsys):
    from explorer import site as static

    assert static.main([str(tmp_path / "a"), "--models", "no-such-model"]) == 2
    assert "no shipped model no-such-model" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert static.main([str(tmp_path / "mine"), "--models", "ae-2d"]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"  # never wiped


@pytest.fixture(scope="module")
def served(site):
    """python -m http.server in the folder: nothing but its files."""
    out, _ = site
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=out,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def open_site(chromium, url, query=""):
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + query)
    page.wait_for_function("window.latentExplorer && window.latentExplorer.stats().live", timeout=60_000)
    return context, page, requests, errors


TAB_READY = {  # what each tab shows once it has drawn (a selector in its panel)
    "planes": ".le-plane canvas", "scatter": "canvas.lv-scatter", "manifold": ".lv-panel canvas",
    "reconstructions": ".lv-row canvas", "traversal": ".lv-row canvas", "samples": ".lv-panel canvas",
    "conditional": ".lv-panel canvas", "clusters": ".lv-heat", "train": ".tb-panel",
}


def walk_tabs(page):
    for tab, ready in TAB_READY.items():
        page.click(f"button[data-tab={tab}]")
        page.wait_for_selector(f"section.ls-panel:not([hidden]) {ready}", timeout=60_000)
        assert "could not" not in page.locator("section.ls-panel:not([hidden])").inner_text().lower(), tab


@pytest.mark.browser
def test_every_tab_works_from_the_folder_alone(chromium, site, served):
    """A walk through every tab asks only for files of the folder (nothing else, no other host)."""
    out, files = site
    context, page, requests, errors = open_site(chromium, served, "?models=" + ",".join(MODELS))
    try:
        walk_tabs(page)
        page.click("button[data-tab=manifold]")
        page.check("text=VAE: through Gaussian quantiles")
        page.wait_for_function("() => [...document.querySelectorAll('.lv-title')].some((t) => "
                               "t.textContent === 'cvae-2d · Gaussian quantiles · label 0')", timeout=20_000)
        titles = page.locator("section.ls-panel:not([hidden]) .lv-title").all_inner_texts()
        assert titles[0] == "ae-2d · latent plane" and titles[2] == "aae-cluster16 · latent plane · cluster 0"
    finally:
        context.close()
    assert not errors, errors
    asked = {urlparse(u).path.lstrip("/") or "index.html" for u in requests}
    assert all(u.startswith(served) for u in requests), [u for u in requests if not u.startswith(served)]
    assert asked <= set(files) | {"favicon.ico"}, asked - set(files)
    assert "models/cvae-2d/encoder.onnx" in asked and "static/views/clusters.js" in asked


@pytest.mark.browser
def test_a_shared_link_opens_the_same_view_and_is_written_back(chromium, served):
    from explorer.ui import share

    query = "?models=cvae-2d,aae-cluster16&tab=samples&z=0.5000,-1.0000&plane=1&bg=manifold&link=same+z&label=3"
    context, page, _, _ = open_site(chromium, served, query)
    try:
        assert page.locator("button[data-tab=samples]").get_attribute("aria-selected") == "true"
        pinned = page.evaluate("() => window.latentExplorer.pinned")
        assert pinned == {"model": 1, "x": 0.5, "y": -1}
        view = {"models": ["pretrained/cvae-2d", "pretrained/aae-cluster16"], "tab": "samples", "pin": (1, 0.5, -1.0),
                "background": "manifold", "link": "same z", "label": 3, "projector": False}
        page.wait_for_function("(q) => location.search === '?' + q", arg=share.share_query(view), timeout=10_000)
        assert page.locator(".ls-model input:checked").count() == 2
    finally:
        context.close()


KEPT_ALL = """async () => {  // the service worker's cache holds every file of the folder the page has fetched
    const kept = new Set((await (await caches.open('latent-explorer-static')).keys()).map((r) => r.url));
    const fetched = performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.endsWith('favicon.ico'));
    return fetched.length > 20 && fetched.every((u) => kept.has(u)) && kept.has(location.href);
}"""


@pytest.mark.browser
def test_it_works_offline_once_loaded(chromium, served):
    """The service worker keeps what a visit fetched: offline, a reload still decodes and draws the grids."""
    context, page, _, _ = open_site(chromium, served)
    try:
        page.click("button[data-tab=manifold]")
        page.wait_for_selector("section.ls-panel:not([hidden]) .lv-panel canvas", timeout=60_000)
        page.wait_for_function(KEPT_ALL, timeout=60_000)  # every file this first visit fetched is kept
        assert page.evaluate("() => navigator.serviceWorker.controller !== null")
        context.set_offline(True)
        page.reload()
        page.wait_for_function("window.latentExplorer && window.latentExplorer.stats().live", timeout=60_000)
        page.click("button[data-tab=manifold]")
        page.wait_for_selector("section.ls-panel:not([hidden]) .lv-panel canvas", timeout=60_000)
        with pytest.raises(Exception):  # and it really is offline: a file never fetched is not there
            page.evaluate("async () => { const r = await fetch('models/aae-cluster16/encoder.onnx?x'); "
                          "if (!r.ok) throw new Error('no'); }")
    finally:
        context.close()


KEEP = """() => {
    const n = 300, xy = new Float32Array(2 * n), labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) { xy[2 * i] = Math.cos(i) * 2; xy[2 * i + 1] = Math.sin(i) * 2; labels[i] = i % 10; }
    window.dispatchEvent(new CustomEvent('latent-explorer:keep', { detail: {
        key: 'browser/test', label: 'browser: test', kind: 'vae', prior: 'gaussian', latent_dim: 2,
        conditional: false, xy, latents: xy, labels, extent: [-3, 3, -3, 3], inverse: { kind: 'identity', dim: 2 },
        decode: async (z) => new Float32Array(784).fill(Math.min(1, Math.abs(z[0]) / 3)) } }));
}"""


@pytest.mark.browser
def test_keep_adds_a_browser_model_as_a_plane_whose_pins_stay_in_the_page(chromium, served):
    context, page, _, _ = open_site(chromium, served, "?models=ae-2d,cvae-2d")
    try:
        page.evaluate("() => { window.pins = []; window.latentExplorer.trigger = (name, d) => window.pins.push(d); }")
        page.evaluate(KEEP)
        page.wait_for_function("document.querySelectorAll('.le-plane').length === 3", timeout=20_000)
        assert page.locator(".le-plane .le-title").nth(2).inner_text() == "browser: test"
        got = page.evaluate("() => window.latentExplorer.decodeAt(2, 1.5, 0)")
        assert got["targets"][2]["how"] == "the point" and abs(got["images"][2][0] - 0.5) < 1e-6
        assert got["targets"][0]["how"].startswith("test digit #")  # the others follow its nearest test digit
        page.evaluate("() => window.latentExplorer.pin({model: 2, x: 1.5, y: 0})")
        page.evaluate("() => window.latentExplorer.pin({model: 0, x: 1.0, y: 1.0})")
        assert [p["model"] for p in page.evaluate("() => window.pins")] == [0]  # the kept plane's pin stayed here
    finally:
        context.close()


@pytest.mark.browser
def test_the_lessons_buttons_put_the_models_a_step_needs_on_the_page(chromium, served):
    """The lesson says "In Clusters, press Add the clustered AAEs": the static edition has the button too."""
    context, page, _, _ = open_site(chromium, served, "?models=ae-2d&tab=clusters")
    try:
        assert "None of the shown models has clusters" in page.locator("section.ls-panel:not([hidden])").inner_text()
        assert page.locator("button:has-text('Add ae-16d and vae-16d')").count() == 1  # built without them: hidden
        assert not page.locator("button:has-text('Add ae-16d and vae-16d')").is_visible()
        page.click("button:has-text('Add the clustered AAEs')")
        page.wait_for_selector("section.ls-panel:not([hidden]) .lv-heat", timeout=60_000)
        page.wait_for_function("() => location.search.includes('aae-cluster16')", timeout=10_000)
        assert page.locator(".ls-model input:checked").count() == 2
    finally:
        context.close()


def test_the_lessons_buttons_make_room_by_the_apps_rule():
    """The static edition's withRoom (site/view.js) removes the same models as explorer/ui/models.py with_room."""
    import shutil

    from explorer.ui.models import MAX_MODELS, with_room

    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (18 or newer) runs the page's rule tests: apt-get install -y nodejs")
    six = [f"m{i}" for i in range(MAX_MODELS)]
    cases = [(six, ["x", "y"], ["m5"]), (six, ["x"], []), (["a", "b"], ["x", "y"], ["a"]), (six[:5], ["m0", "x"], ["m1"]),
             (six, ["x", "y"], six)]
    script = ("import { withRoom } from './explorer/static/site/view.js';\n"
              f"const cases = {json.dumps(cases)};\n"
              f"console.log(JSON.stringify(cases.map(([s, e, n]) => withRoom(s, e, {MAX_MODELS}, (k) => n.includes(k)).models)));")
    run = subprocess.run([node, "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [with_room(s, e, lambda k, n=n: k in n) for s, e, n in cases]
