"""The live planes: decoders exported to ONNX, the files the page is served, and the page itself in Chromium
(explorer/static/live_plane.js with the vendored ONNX Runtime Web) against torch and the server's rules."""
import gzip
import hashlib
import json
import shutil
import socket
import threading
import time

import brotli
import numpy as np
import pytest
import torch

from conftest import ROOT

pytestmark = []
SHIPPED = ["ae-2d", "vae-2d", "aae-2d", "aae-mixture10-2d", "aae-guided-2d", "cvae-2d", "caae-2d", "ae-16d",
           "vae-16d", "aae-16d", "aae-cluster16", "aae-semi100"]


# -- the exported files ---------------------------------------------------------------------------------------
def test_shipped_decoders_are_current_exports_of_their_weights():
    """pretrained.build exports every shipped decoder (and the classifier); each names the weights it came from."""
    from explorer import onnx_export

    for name in SHIPPED:
        folder = ROOT / "pretrained" / name
        assert onnx_export.is_current(folder / onnx_export.DECODER, onnx_export.run_source(folder)), name
    clf = ROOT / "pretrained" / "classifier"
    source = onnx_export.source_hash((clf / "config.json").read_bytes(), (clf / "model.safetensors").read_bytes())
    assert onnx_export.is_current(clf / onnx_export.CLASSIFIER, source)


def test_an_export_is_stale_once_the_weights_change(tmp_path):
    from explorer import onnx_export
    from trainer import checkpoint

    folder = tmp_path / "run"
    shutil.copytree(ROOT / "pretrained" / "ae-2d", folder)
    before = onnx_export.run_source(folder)
    assert onnx_export.is_current(folder / onnx_export.DECODER, before)
    tensors, meta = checkpoint.read_safetensors(folder / "model.safetensors")
    tensors["decoder.net.0.bias"] = tensors["decoder.net.0.bias"] + 1
    from safetensors.torch import save as st_save

    checkpoint.atomic_write(folder / "model.safetensors", st_save(tensors, metadata=meta))
    assert not onnx_export.is_current(folder / onnx_export.DECODER, onnx_export.run_source(folder))
    (tmp_path / "foreign.onnx").write_bytes(b"not onnx at all")
    assert onnx_export.read_metadata(tmp_path / "foreign.onnx") == {}
    assert not onnx_export.is_current(tmp_path / "foreign.onnx", before)


def test_fp16_initializers_are_lossless_and_only_where_exact():
    """Weights fp16 holds exactly are stored as fp16 behind a Cast; others stay float32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from explorer import onnx_export

    exact = np.array([0.5, -1.25, 3.0], np.float32)
    inexact = np.array([0.1, 1e-9, 70000.0], np.float32)
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
                              [numpy_helper.from_array(exact, "a"), numpy_helper.from_array(inexact, "b")])
    proto = helper.make_model(graph)
    assert onnx_export.fp16_initializers(proto) == 1
    inits = {i.name: i for i in proto.graph.initializer}
    assert inits["a__fp16"].data_type == TensorProto.FLOAT16 and inits["b"].data_type == TensorProto.FLOAT
    assert np.array_equal(numpy_helper.to_array(inits["a__fp16"]).astype(np.float32), exact)
    assert proto.graph.node[0].op_type == "Cast" and proto.graph.node[0].output == ["a"]
    onnx.checker.check_model(proto)


@pytest.mark.slow
def test_runs_are_exported_in_one_child_process_with_their_sources(tmp_path):
    """What the app does for runs and uploads: fresh exports the page may run; a bad job fails alone."""
    from explorer import onnx_export

    folder = ROOT / "pretrained" / "cvae-2d"
    source = onnx_export.run_source(folder)
    jobs = [{"what": "decoder", "folder": folder, "out": tmp_path / "x.onnx", "source": source},
            {"what": "decoder", "folder": tmp_path, "out": tmp_path / "y.onnx", "source": source},
            {"what": "decoder", "folder": folder, "out": tmp_path / "z.onnx", "source": "another"}]
    good, bad, stale = onnx_export.export_in_subprocess(jobs)
    assert good == "" and "CheckpointError" in bad and "changed" in stale
    meta = onnx_export.read_metadata(tmp_path / "x.onnx")
    assert meta["source"] == source and meta["num_classes"] == "10" and meta["latent_dim"] == "2"
    assert not (tmp_path / "y.onnx").exists() and not (tmp_path / "z.onnx").exists()


def test_the_vendored_runtime_matches_its_manifest():
    """onnxruntime-web is pinned and vendored: every file the page loads is listed with its sha256."""
    folder = ROOT / "explorer" / "static" / "vendor" / "onnxruntime-web"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["package"] == "onnxruntime-web" and manifest["version"] == "1.30.0"
    files = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert files == set(manifest["files"])
    for name, info in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"], name


# -- the routes ---------------------------------------------------------------------------------------------------
def test_static_files_and_assets_are_served_immutable_and_compressed():
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from explorer import live

    client = TestClient(Starlette(routes=live.ROUTES))
    url = live.static_url("live_plane.js")
    r = client.get(url, headers={"Accept-Encoding": "br"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == live.IMMUTABLE and r.headers["content-encoding"] == "br"
    assert r.content == (live.STATIC / "live_plane.js").read_bytes()  # the client undid the compression
    wasm = live.static_url(live.ORT_DIR + "ort-wasm-simd-threaded.wasm")
    raw = client.get(wasm, headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-type"] == "application/wasm" and raw.headers["content-encoding"] == "gzip"
    assert client.get(url.replace(live.STATIC_DIGEST, "0" * 16)).headers["cache-control"] == "no-cache"
    for bad in ("/live/static/x/../live.py", live.static_url("../live.py"), live.static_url("nope.js"),
                "/live/a/unknown.bin"):
        assert client.get(bad).status_code == 404, bad
    asset = live.ASSETS.add_bytes(b"\x00\x01" * 5000, ".bin")
    r = client.get(asset, headers={"Accept-Encoding": "gzip"})
    assert r.content == b"\x00\x01" * 5000 and r.headers["cache-control"] == live.IMMUTABLE
    name = asset.rsplit("/", 1)[1]
    assert name.startswith(hashlib.sha256(b"\x00\x01" * 5000).hexdigest()[:32])  # named by its content
    item = live.ASSETS.get(name)
    assert gzip.decompress(item["gzip"]) == b"\x00\x01" * 5000  # compressed once, then kept
    client.get(asset, headers={"Accept-Encoding": "br"})
    assert brotli.decompress(item["br"]) == b"\x00\x01" * 5000


def test_the_asset_store_is_bounded():
    from explorer.live import Assets

    store = Assets(max_bytes=10_000)
    urls = [store.add_bytes(bytes([k]) * 4000, ".bin") for k in range(5)]
    kept = [u for u in urls if store.get(u.rsplit("/", 1)[1])]
    assert kept == urls[-2:]  # the oldest went first


# -- the page in Chromium, against torch and the server's rules -----------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shipped():
    from explorer.registry import Registry, start_export

    registry = Registry(pretrained=ROOT / "pretrained", runs=ROOT / "no-runs-here")
    entries = [registry.get(f"pretrained/{name}") for name in SHIPPED]
    for e in entries:
        start_export(e)  # the shipped decoder.onnx is current: no export runs
        assert e.export_status == "ready" and e.onnx.parent == e.run.path
    return registry, entries


@pytest.fixture(scope="module")
def harness(shipped, chromium):
    """The page's code on a bare page, served by the live routes (no Gradio): one view at a time."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    from explorer import live

    state = {"view": "{}"}
    routes = [*live.ROUTES, Route("/", lambda r: HTMLResponse('<div id="host"></div>')),
              Route("/view", lambda r: Response(state["view"], media_type="application/json"))]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    page = chromium.new_context().new_page()  # the session's one browser, a context of its own
    page.goto(f"http://127.0.0.1:{port}/")

    def show(view_json: str):
        state["view"] = view_json
        page.evaluate("""async (url) => {
            const code = await import(url);
            const view = await (await fetch('/view')).text();
            if (!window.latentExplorer) code.mount(document.getElementById('host'), {value: view}, () => {},
                                                   () => {});
            else await window.latentExplorer.setView(view);
        }""", live.static_url("live_plane.js"))
        page.wait_for_function("window.latentExplorer && window.latentExplorer.stats().live", timeout=60_000)

    yield page, show
    page.context.close()
    server.should_exit = True


def _view(entries, link="same test digit", label="auto"):
    from explorer import live
    from explorer.registry import EXPORTS
    from explorer.ui.models import REGISTRY

    clf = live.classifier_onnx(ROOT / "pretrained" / "classifier", EXPORTS)
    return live.view_json(entries, projection="umap", background="none", points=True, link=link, label=label,
                          pinned=(0, 0.0, 0.0), classifier_onnx=clf, test=REGISTRY.test)


@pytest.mark.browser
@pytest.mark.parametrize("group", [SHIPPED[:5], SHIPPED[5:10], SHIPPED[10:]],
                         ids=["2-D", "conditional and 16-D", "clustered"])
def test_browser_decodes_like_torch_for_every_shipped_model(harness, shipped, group):
    """Parity: for every shipped model, at 20 random points of its plane, the page's decoded pixels equal torch's
    within 2/255, and the page picks the same latent, label, linked test digit and outside verdict as the server."""
    from explorer import actions

    page, show = harness
    registry, all_entries = shipped
    entries = [all_entries[SHIPPED.index(n)] for n in group]
    rng = np.random.default_rng(0)
    for link in ("same test digit", "same z"):
        show(_view(entries, link=link, label="auto" if link == "same test digit" else 3))
        for k, e in enumerate(entries):
            xmin, xmax, ymin, ymax = e.view("umap").extent
            points = np.c_[rng.uniform(xmin, xmax, 20 if link == "same test digit" else 4),
                           rng.uniform(ymin, ymax, 20 if link == "same test digit" else 4)]
            for x, y in points:
                got = page.evaluate("([k, x, y]) => window.latentExplorer.decodeAt(k, x, y)", [k, float(x), float(y)])
                want = actions.click_targets(entries, k, (x, y), projection="umap",
                                             label="auto" if link == "same test digit" else 3, link=link)
                expected = actions.decode_targets(want).reshape(len(entries), -1)
                for j, (t, w) in enumerate(zip(got["targets"], want)):
                    assert t["how"] == w.how and t["outside"] == w.outside and t["label"] == w.label, (e.key, j)
                    assert np.allclose(t["z"], w.z, rtol=0, atol=1e-6), (e.key, j)
                    diff = np.abs(np.asarray(got["images"][j]) - expected[j]).max()
                    assert diff <= 2 / 255, f"{entries[j].key} at {k}:({x:.3f}, {y:.3f}): max |browser - torch| {diff}"


@pytest.mark.browser
def test_the_page_classifier_agrees_with_the_servers(harness, shipped):
    from explorer import actions
    from explorer.ui.models import classifier

    page, show = harness
    _, entries = shipped
    entries = entries[:3]
    show(_view(entries))
    page.evaluate("() => window.latentExplorer.request({model: 1, x: 0.5, y: -0.5}, performance.now())")
    page.wait_for_function("() => window.latentExplorer.lastVerdicts && "
                           "window.latentExplorer.lastTargets[1].point[0] === Math.fround(0.5)", timeout=15_000)
    probs = np.asarray(page.evaluate("() => window.latentExplorer.lastVerdicts"))
    images = actions.decode_targets(actions.click_targets(entries, 1, (0.5, -0.5)))
    with torch.no_grad():
        x = torch.as_tensor(images).reshape(-1, 1, 28, 28)
        expected = torch.softmax(classifier().eval()(x), 1).numpy()
    assert np.abs(probs - expected).max() < 1e-3


def test_posterior_ellipses_come_from_q_of_each_test_digit(shipped):
    """A 2-D VAE's plane gets each test digit's q(z|x) covariance; the shipped vae-2d's is full (tilted)."""
    from explorer import actions
    from trainer.losses import cholesky_factor

    registry, entries = shipped
    vae = entries[SHIPPED.index("vae-2d")]
    images = actions.test_digits(registry.test, [0, 1, 2])
    mu, cov = actions.posterior_2d(vae, images)
    with torch.no_grad():
        m, logvar, tril = vae.model.encode(torch.as_tensor(images).reshape(-1, 1, 28, 28))
        full = cholesky_factor(logvar, tril)
        sigma = (full @ full.transpose(-1, -2)).numpy()
    assert np.allclose(mu, m.numpy(), atol=1e-6) and np.allclose(cov[:, 0], sigma[:, 0, 0], atol=1e-7)
    assert np.allclose(cov[:, 1], sigma[:, 0, 1], atol=1e-7) and np.abs(cov[:, 1]).max() > 0  # tilted
    assert np.allclose(mu, vae.latents[:3], atol=1e-2)  # the plane's points are those means (fp16 shipped)
    view = json.loads(_view(entries[:3]))
    with_cov = [m["key"] for m in view["models"] if "cov" in m["arrays"]]
    assert with_cov == ["pretrained/vae-2d"]  # only 2-D VAEs: an AE or AAE has no q(z|x) to draw
    assert np.allclose(actions.test_posteriors(vae, registry.test)[:3], cov, atol=1e-6)


@pytest.mark.browser
def test_the_page_draws_the_ellipses_it_is_asked_for(harness, shipped):
    page, show = harness
    _, entries = shipped
    show(_view(entries[:3]))
    ink = ("() => { const c = document.querySelectorAll('.le-over')[1]; const d = c.getContext('2d')"
           ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) "
           "n += d[i] > 0; return n; }")
    page.evaluate("() => window.latentExplorer.request({model: 1, x: 0.3, y: 0.2}, performance.now())")
    page.wait_for_timeout(300)
    pointed = page.evaluate(ink)
    page.get_by_text("50 random test digits").click()
    page.wait_for_timeout(300)
    assert page.evaluate(ink) > pointed  # 50 more ellipses
    page.get_by_text("the test digit at the point").click()
    page.get_by_text("50 random test digits").click()
    page.wait_for_timeout(300)
    assert page.evaluate(ink) < pointed  # none: only the crosshair is left
    assert "A VAE encodes a region, not a point" in page.locator(".le-options").inner_text()
