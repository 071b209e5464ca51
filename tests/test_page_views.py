"""The views the page computes itself (explorer/static/views/*.js, fed by explorer/page_views.py) against the
server's own functions (explorer/actions.py, torch), for every shipped model: the same codes and the same pixels
within 2/255 (grids, Gaussian quantiles, interpolation, traversal, style rows, cluster heads), the encoders within
1e-4 and the reconstruction errors in nats, the priors' moments over 10,000 draws, the classifier's caption."""
import json
import threading
import time

import numpy as np
import pytest
import torch

from conftest import ROOT, free_port

SHIPPED = ["ae-2d", "vae-2d", "aae-2d", "aae-mixture10-2d", "aae-guided-2d", "cvae-2d", "caae-2d", "ae-16d",
           "vae-16d", "aae-16d", "aae-cluster16", "aae-semi100"]
GROUPS = {"2-D": SHIPPED[:5], "conditional and 16-D": SHIPPED[5:10], "clustered": SHIPPED[10:]}
PIXEL = 2 / 255  # pixels: page against torch
ENCODER = 1e-4  # codes: page's encoder against torch
DRAWS = 10_000  # prior draws per side


@pytest.fixture(scope="module")
def zoo():
    from explorer.registry import Registry, start_export

    registry = Registry(pretrained=ROOT / "pretrained", runs=ROOT / "no-runs-here")
    entries = {name: registry.get(f"pretrained/{name}") for name in SHIPPED}
    for e in entries.values():
        start_export(e)
        assert e.export_status == "ready"
    return registry, entries


# -- what Python sends ------------------------------------------------------------------------------------------
def test_prior_parameters_are_each_models_sampling_distribution(zoo):
    """page_views.prior_json names the distribution sample_latent draws from, with its fitted parameters."""
    from explorer import page_views

    _, entries = zoo
    kinds = {name: page_views.prior_json(e)["kind"] for name, e in entries.items()}
    assert kinds == {"ae-2d": "gaussian", "vae-2d": "normal", "aae-2d": "normal", "aae-mixture10-2d": "mixture10",
                     "aae-guided-2d": "mixture10", "cvae-2d": "normal", "caae-2d": "normal", "ae-16d": "gaussian",
                     "vae-16d": "mixture", "aae-16d": "normal", "aae-cluster16": "normal", "aae-semi100": "normal"}
    ae = page_views.prior_json(entries["ae-16d"])
    assert np.allclose(ae["mean"], entries["ae-16d"].model.code_mean.float().numpy())
    guided = page_views.prior_json(entries["aae-guided-2d"])
    assert guided["labels"] == "guided" and page_views.prior_json(entries["aae-mixture10-2d"])["labels"] is None
    assert page_views.prior_json(entries["aae-cluster16"])["labels"] == "cycle"


@pytest.mark.slow  # each dim's KL over the test split, for vae-16d
def test_views_json_gives_every_view_what_it_reads(zoo):
    from explorer import page_views

    registry, entries = zoo
    shown = [entries[n] for n in ("ae-2d", "vae-16d", "aae-cluster16")]
    view = json.loads(page_views.views_json(shown, registry.test))
    for m, e in zip(view["models"], shown):
        assert m["encoder"] and m["onnx"] and m["prior"]["dim"] == e.config.latent_dim
        assert sorted(m["traversal"]["order"]) == list(range(e.config.latent_dim))
    assert view["models"][2]["clusters"]["accuracy"] == pytest.approx(0.71, abs=0.01)
    assert view["views"]["samples"] == 64 and view["sprite"] and view["test_count"] == len(registry.test)


# -- the page in Chromium ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(chromium, zoo):
    """The views' code on a bare page served by the live routes (no Gradio): call its functions on a view."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    from explorer import live, page_views
    from explorer.registry import EXPORTS

    registry, entries = zoo
    clf = live.classifier_onnx(ROOT / "pretrained" / "classifier", EXPORTS)
    views = {name: page_views.views_json([entries[n] for n in group], registry.test, classifier_onnx=clf)
             for name, group in GROUPS.items()}
    routes = [*live.ROUTES, Route("/", lambda r: HTMLResponse("<div id='host'></div>")),
              Route("/view/{group}", lambda r: Response(views[r.path_params["group"]], media_type="application/json"))]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    context = chromium.new_context()
    tab = context.new_page()
    tab.goto(f"http://127.0.0.1:{port}/")
    tab.evaluate("""async (urls) => {
        window.V = {};
        for (const [name, url] of Object.entries(urls)) Object.assign(window.V, await import(url));
        window.views = {};
    }""", {name: live.static_url(f"views/{name}.js") for name in
           ("common", "grids", "samples", "recon", "traversal", "styles", "clusters", "priors")})
    yield tab
    context.close()
    server.should_exit = True


def load(page, group):
    """The group's view in the page, with its models' arrays and the runtime."""
    page.evaluate("""async (group) => {
        const view = V.readView(await (await fetch('/view/' + group)).text());
        window.views[group] = { view, models: await V.loadModels(view), ort: await V.ortOf(view) };
    }""", group)


def decode_in_page(page, group, k, z, labels=None):
    return np.asarray(page.evaluate("""async ([group, k, z, labels]) => {
        const g = window.views[group];
        const { probs } = await V.decodeBatch(g.ort, g.models[k], Float32Array.from(z), labels);
        return Array.from(probs);
    }""", [group, k, np.asarray(z, np.float32).ravel().tolist(), labels])).reshape(-1, 784)


def assert_pixels(got, want, where):
    diff = np.abs(got - np.asarray(want).reshape(len(got), -1)).max()
    assert diff <= PIXEL, f"{where}: max |page - torch| {diff:.4f}"


@pytest.mark.browser
@pytest.mark.parametrize("group", list(GROUPS))
def test_grids_interpolations_traversals_decode_like_the_server(page, zoo, group):
    """Same codes as actions.manifold_grid / interpolation / traversal, and their pixels within 2/255."""
    from explorer import actions, page_views, render

    registry, entries = zoo
    load(page, group)
    for k, name in enumerate(GROUPS[group]):
        e = entries[name]
        view = e.view("umap")
        z_page = np.asarray(page.evaluate("([g, k]) => Array.from(V.gridCodes(window.views[g].models[k], 7))",
                                          [group, k])).reshape(49, -1)
        z_server = view.inverse.inverse_transform(render.Geometry(view.extent).grid_centers(7))
        assert np.allclose(z_page, z_server, atol=1e-5), name
        label = 0 if e.takes_label else None
        assert_pixels(decode_in_page(page, group, k, z_page, label), e.decode(z_server, label), f"{name} grid")
        got = page.evaluate("([g, k]) => { const r = V.interpolationCodes(window.views[g].models[k], 3, 2, 10); "
                            "return [Array.from(r.z), r.labels]; }", [group, k])
        t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]
        z = (1 - t) * e.latents[3] + t * e.latents[2]
        assert np.allclose(np.reshape(got[0], z.shape), z, atol=1e-6), name
        if e.takes_label:
            assert got[1] == np.where(t[:, 0] < 0.5, e.label_of[3], e.label_of[2]).tolist()
        info = page_views.traversal_json(e, registry.test)
        got = page.evaluate("([z0, o, s]) => Array.from(V.traversalCodes(Float32Array.from(z0), o, s, 3, 5).z)",
                            [e.latents[5].tolist(), info["order"], info["scale"]])
        order, _ = actions.traversal_rows(e, registry.test)
        want = np.repeat(e.latents[5][None], len(order) * 5, 0).reshape(len(order), 5, -1)
        for r, j in enumerate(order):
            want[r, :, j] += np.linspace(-3, 3, 5, dtype=np.float32) * actions.traversal_scale(e)[j]
        assert np.allclose(np.reshape(got, want.shape), want, atol=1e-5), name


@pytest.mark.browser
def test_the_gaussian_quantile_grid_is_the_servers(page, zoo):
    """The page's quantile codes are the ones actions.manifold_grid(quantiles=True) decodes, and its pixels match."""
    from explorer import actions, page_views, render

    _, entries = zoo
    load(page, "2-D")
    vae = entries["vae-2d"]
    k = GROUPS["2-D"].index("vae-2d")
    z = np.asarray(page.evaluate("() => Array.from(V.quantileCodes(6, 2, [0.05, 0.95]))")).reshape(36, 2)
    q = np.asarray(page_views.quantiles(6))
    gx, gy = np.meshgrid(q, q[::-1])
    z_server = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    assert np.allclose(z, z_server, atol=1e-6)
    want = vae.decode(z_server)
    assert np.array_equal(render.tile(want, 6, 6, scale=2), actions.manifold_grid(vae, quantiles=True, n=6))
    assert_pixels(decode_in_page(page, "2-D", k, z), want, "vae-2d quantile grid")


@pytest.mark.browser
@pytest.mark.parametrize("group", list(GROUPS))
def test_encoders_and_reconstruction_errors_match_the_server(page, zoo, group):
    """Test digits read from the sprite, through each model's encoder.onnx: codes within 1e-4 of torch (a VAE's
    q(z|x) covariance too), reconstructions' errors in nats as actions.reconstructions reports them."""
    from explorer import actions
    from trainer.losses import bernoulli_nll

    registry, entries = zoo
    load(page, group)
    idx = [0, 1, 2, 3, 4, 7, 42, 999]
    images = actions.test_digits(registry.test, idx).reshape(len(idx), 784)
    labels = registry.test.labels.numpy()[idx]
    from_sprite = np.asarray(page.evaluate("""async (idx) => {
        const g = window.views['""" + group + """'];
        return Array.from(V.testImages(await V.loadImage(g.view.sprite), idx)); }""", idx)).reshape(len(idx), 784)
    assert np.abs(from_sprite - images).max() < 1e-6  # the sprite holds the test digits exactly
    for k, name in enumerate(GROUPS[group]):
        e = entries[name]
        got = page.evaluate("""async ([g, k, images, labels]) => {
            const v = window.views[g];
            const enc = await V.encodeBatch(v.ort, v.models[k], Float32Array.from(images), labels);
            const r = await V.reconstruct(v.ort, v.models[k], Float32Array.from(images), labels);
            return { z: Array.from(enc.z), cov: enc.cov ? Array.from(enc.cov) : null, errors: r.errors,
                     cluster: enc.cluster ? Array.from(enc.cluster) : null };
        }""", [group, k, images.ravel().tolist(), labels.tolist()])
        y = labels if e.config.conditional else None
        z = e.encode(images, y)
        assert np.abs(np.reshape(got["z"], z.shape) - z).max() <= ENCODER, name
        x = torch.as_tensor(images).reshape(-1, 1, 28, 28)
        with torch.no_grad():
            logits = e.model.reconstruct(x, e.labels_for(len(x), labels))
        want = bernoulli_nll(logits, x).numpy()
        assert np.allclose(got["errors"], want, atol=0.05), (name, got["errors"], want)
        if e.config.model in ("vae", "cvae") and e.config.latent_dim == 2:
            _, cov = actions.posterior_2d(e, images, y)
            page_cov = np.reshape(got["cov"], (len(idx), 2, 2))
            assert np.allclose(page_cov[:, [0, 0, 1], [0, 1, 1]], cov, atol=ENCODER), name
        if e.config.clustered:
            with torch.no_grad():
                want_cluster = e.model.cluster_input(e.model.encode(x)[0]).numpy()
            assert np.abs(np.reshape(got["cluster"], want_cluster.shape) - want_cluster).max() <= ENCODER, name


def moments(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return z.mean(0), np.cov(z.T).reshape(z.shape[1], z.shape[1])


def same_moments(a: np.ndarray, b: np.ndarray) -> bool:
    """Two samples of n draws each have the same mean and covariance, within 6 standard errors of a difference
    (for Gaussian-like data: var(mean) = s²/n, var(cov_ij) = (s_i² s_j² + s_ij²)/n); and so do their radii in the
    first two dims (a petal mixture and a Gaussian can share their first two moments, not their radii's)."""
    n = len(a)
    radius = lambda z: np.linalg.norm(z[:, :2], axis=1, keepdims=True)  # noqa: E731
    if a.shape[1] > 1 and not same_moments(radius(a), radius(b)):
        return False
    (ma, ca), (mb, cb) = moments(a), moments(b)
    var = np.diag((ca + cb) / 2)
    cov = (ca + cb) / 2
    mean_ok = np.abs(ma - mb) <= 6 * np.sqrt(2 * var / n) + 1e-9
    cov_ok = np.abs(ca - cb) <= 6 * np.sqrt(2 * (np.outer(var, var) + cov ** 2) / n) + 1e-9
    return bool(mean_ok.all() and cov_ok.all())


@pytest.mark.browser
@pytest.mark.parametrize("group", list(GROUPS))
def test_priors_drawn_in_the_page_have_the_servers_moments(page, zoo, group):
    """10,000 codes drawn in the page from page_views.prior_json against 10,000 from the model's sample_latent
    (with the labels actions.sample_images passes): the same mean and covariance. A wrong prior fails the check."""
    _, entries = zoo
    load(page, group)
    for k, name in enumerate(GROUPS[group]):
        e = entries[name]
        got = np.asarray(page.evaluate("""([g, k, n]) => {
            const prior = window.views[g].view.models[k].prior;
            return Array.from(V.samplePrior(prior, n, new V.Rng(1)));
        }""", [group, k, DRAWS])).reshape(DRAWS, -1)
        labels = torch.arange(DRAWS) % e.config.label_count
        want = e.model.sample_latent(DRAWS, labels, torch.Generator().manual_seed(0)).numpy()
        assert same_moments(got, want), (name, moments(got), moments(want))
        standard = np.random.default_rng(0).normal(size=want.shape)
        if e.config.model == "ae" or e.config.prior_components or e.config.prior != "gaussian":
            assert not same_moments(standard, want), f"{name}: the check cannot tell its prior from N(0, I)"


@pytest.mark.browser
def test_the_samples_caption_counts_what_the_servers_classifier_counts(page, zoo):
    """The classifier in the page gives the server's probabilities on the same decoded samples."""
    from explorer import actions
    from explorer.ui.models import classifier

    _, entries = zoo
    load(page, "2-D")
    got = page.evaluate("""async () => {
        const g = window.views['2-D'];
        const prior = g.view.models[3].prior;
        const { probs } = await V.decodeBatch(g.ort, g.models[3], V.samplePrior(prior, 64, new V.Rng(0)));
        const verdicts = await V.classifyBatch(g.ort, g.view, probs);
        return { images: Array.from(probs), verdicts: Array.from(verdicts),
                 count: V.confident(verdicts, 64, g.view.views.sure) };
    }""")
    images = np.reshape(got["images"], (64, 28, 28)).astype(np.float32)
    _, confidence = actions.classify(classifier(), images)
    with torch.no_grad():
        probs = torch.softmax(classifier().eval()(torch.as_tensor(images).reshape(-1, 1, 28, 28)), 1).numpy()
    assert np.abs(np.reshape(got["verdicts"], probs.shape) - probs).max() < 1e-3
    assert got["count"] == int((confidence > 0.9).sum())


@pytest.mark.slow  # an export in a child process
def test_a_run_gets_its_encoder_exported_in_the_background(tmp_path, monkeypatch):
    """Runs and uploads have no shipped encoder.onnx: start_export makes one beside their decoder, for the page."""
    import shutil

    from explorer import onnx_export, page_views, registry

    run = tmp_path / "runs" / "mine"
    shutil.copytree(ROOT / "pretrained" / "ae-2d", run)
    (run / onnx_export.ENCODER).unlink()
    (tmp_path / "exports").mkdir()
    monkeypatch.setattr(registry, "EXPORTS", tmp_path / "exports")
    entry = registry.Registry(pretrained=tmp_path / "none", runs=tmp_path / "runs").get("runs/mine")
    assert page_views.encoder_path(entry) is None
    registry.start_export(entry)
    deadline = time.time() + 300
    while entry.encoder_onnx is None and time.time() < deadline:
        time.sleep(0.5)
    assert entry.encoder_onnx == tmp_path / "exports" / f"{entry.onnx_source}.encoder.onnx"
    assert onnx_export.read_metadata(entry.encoder_onnx)["what"] == "encoder"
    assert page_views.encoder_path(entry) == entry.encoder_onnx


@pytest.mark.browser
def test_a_view_mounts_in_a_gradio_app_as_the_live_planes_do(chromium, zoo):
    """How the lead wires a view into a tab: explorer/ui/page.py's mounted("views/NAME.js", value=views_json)."""
    import gradio as gr

    from explorer import live, page_views
    from explorer.registry import EXPORTS
    from explorer.ui.page import mounted

    registry, entries = zoo
    clf = live.classifier_onnx(ROOT / "pretrained" / "classifier", EXPORTS)
    value = page_views.views_json([entries["ae-2d"], entries["vae-2d"]], registry.test, classifier_onnx=clf)
    with gr.Blocks() as demo:
        mounted("views/samples.js", value=value, elem_id="samples-in-page")
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, ssr_mode=False, app_kwargs={"routes": live.ROUTES})
    context = chromium.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"http://127.0.0.1:{port}/")
        tab.wait_for_function("() => [...document.querySelectorAll('#samples-in-page .lv-title')].length === 2 && "
                              "[...document.querySelectorAll('#samples-in-page .lv-title')].every("
                              "(t) => t.textContent.includes('look like a digit'))", timeout=60_000)
        assert tab.locator("#samples-in-page .lv-title").first.inner_text().startswith("ae-2d · Gaussian fitted")
    finally:
        context.close()
        demo.close()
