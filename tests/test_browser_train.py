"""Training in the page (explorer/static/train/, the engine on the vendored @jax-js/jax) in a real headless
Chromium, against the trainer: the same step gives the same terms and weights as torch, a run trained in the
page evaluates like one the CLI trained, its zip loads in the app, and training sends no request."""
import base64
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save_file

from conftest import ROOT

STATIC = ROOT / "explorer" / "static"
BATCH = 128


# -- files that need no browser ---------------------------------------------------------------------------------
def test_the_vendored_engine_matches_its_manifest():
    """@jax-js/jax is pinned and vendored: every file the page may load is listed with its sha256."""
    folder = STATIC / "vendor" / "jax-js"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["package"] == "@jax-js/jax" and manifest["version"] == "0.1.25"
    assert {p.name for p in folder.iterdir()} - {"manifest.json"} == set(manifest["files"])
    for name, info in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"], name


def test_the_page_subset_is_the_head_of_the_training_split_and_the_shipped_test_split():
    """explorer/static/data is a complete MNIST-format folder: the first 10,000 training images (what the CLI's
    --limit 10000 takes) and the test split shipped in trainer/assets, byte for byte."""
    from trainer.data import ASSETS, PAGE_SUBSET, load_dataset

    data = load_dataset(PAGE_SUBSET)
    assert len(data.train) == 10_000 and len(data.test) == 10_000
    assert torch.bincount(data.train.labels).min() > 800  # every digit is there (the head is not sorted)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert (PAGE_SUBSET / name).read_bytes() == (ASSETS / name).read_bytes()
    full = ROOT.parent / "shared" / "data" / "MNIST" / "raw"
    if (full / "train-images-idx3-ubyte").is_file():
        head = load_dataset(full, limit=10_000)
        assert torch.equal(head.train.images, data.train.images) and torch.equal(head.train.labels, data.train.labels)


def test_the_js_file_formats_under_node():
    """The zip, safetensors and IDX writers and readers round-trip under Node's test runner."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run([node, "--test", str(ROOT / "tests" / "js" / "runfiles.test.mjs")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "# fail 0" in out.stdout and "# pass 0" not in out.stdout


# -- the browser ----------------------------------------------------------------------------------------------
class Server:
    """A static server on 127.0.0.1: /static/ is explorer/static, /fixtures/ a test folder; it logs every path."""

    def __init__(self, fixtures: Path):
        self.fixtures, self.paths = fixtures, []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                              ".mjs": "text/javascript", ".wasm": "application/wasm"}

            def translate_path(self, path):
                path = path.split("?")[0]
                outer.paths.append(path)
                for prefix, base in (("/static/", STATIC), ("/fixtures/", outer.fixtures)):
                    if path.startswith(prefix):
                        target = (base / path[len(prefix):]).resolve()
                        if target.is_relative_to(base.resolve()):
                            return str(target)
                return str(outer.fixtures / "missing")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def harness(tmp_path_factory, chromium):
    server = Server(tmp_path_factory.mktemp("fixtures"))
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{server.url}/static/train/index.html")
    yield server, chromium, page
    context.close()
    server.httpd.shutdown()


def first_test_digits(n: int) -> torch.Tensor:
    from trainer.data import bundled_test_split

    return bundled_test_split().batch(torch.arange(n))[0]


# -- one step, the same as torch's ---------------------------------------------------------------------------------
STEP_JS = """async ([config, train]) => {
  const { JaxEngine } = await import("/static/train/engine.js");
  const { readSafetensors, writeSafetensors } = await import("/static/train/runfiles.js");
  const { stateShapes } = await import("/static/train/spec.js");
  const read = async (name) => readSafetensors(new Uint8Array(await (await fetch(name, { cache: "no-store" })).arrayBuffer())).tensors;
  // no-store: every case writes these two files anew, and a cached copy of the last case's would be read
  const init = await read("/fixtures/init.safetensors"), batch = await read("/fixtures/batch.safetensors");
  const engine = await new JaxEngine().init(config, train, 0);
  engine.setWeights(init);
  const terms = await engine.step(batch.x, batch.eps ? { eps: batch.eps } : { real: batch.real });
  const bytes = writeSafetensors(await engine.weights(), stateShapes(engine.config));
  let text = "";
  for (let i = 0; i < bytes.length; i += 65536) text += String.fromCharCode(...bytes.subarray(i, i + 65536));
  return { terms, weights: btoa(text) };
}"""
CASES = {"ae": dict(model="ae"), "vae": dict(model="vae", kl_weight=1.0), "vae-beta4": dict(model="vae", kl_weight=4.0),
         "aae": dict(model="aae", prior="gaussian"), "aae-mixture10": dict(model="aae", prior="mixture10"),
         "vae-16d": dict(model="vae", latent_dim=16)}


@pytest.mark.browser
@pytest.mark.parametrize("case", list(CASES))
def test_one_step_in_the_page_equals_torch(harness, case):
    """From torch's initial weights, the same batch and the same noise (the VAE's eps, the AAE's prior draws),
    the page's loss terms equal the trainer's training_step within 1e-4 nats (+ 4 float32 ulps of the term: a
    545-nat sum is only resolved to 6.1e-5, and torch's own float32 value is 4.8e-5 from its float64 one) and
    every weight after the step (one Adam step per optimizer: the AAE's reconstruction, discriminator and
    generator phases) within 1e-5, except where the gradient is below 1e-6: Adam's first step lr g / (|g| + 1e-8)
    turns float32 gradient noise there into up to ~5e-5 (one element of 400,000 here; torch float32 against
    float64 differs by 1.8e-5 on such elements too), so those get 1e-4 and may be at most 5% of a tensor (2.6% of the discriminator's middle layer)."""
    from trainer.config import ModelConfig, TrainConfig
    from trainer.priors import sample_prior
    from trainer.train import new_model

    server, _, page = harness
    config, train = ModelConfig(**CASES[case]), TrainConfig(lr=1e-3, adv_lr=1e-3)
    model = new_model(config, seed=3)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, server.fixtures / "init.safetensors")
    x = first_test_digits(BATCH)
    torch.manual_seed(11)  # the noise training_step draws next, drawn here first the same way
    noise = ({"eps": torch.randn(BATCH, config.latent_dim)} if config.model == "vae" else
             {"real": sample_prior(config.prior, BATCH, config.latent_dim)} if config.model == "aae" else {})
    save_file({"x": x.flatten(1).contiguous(), **noise}, server.fixtures / "batch.safetensors")
    optimizers = model.configure_optimizers(train.lr, train.adv_lr)
    torch.manual_seed(11)
    expected = {k: float(v) for k, v in model.training_step(x, None, optimizers).items()}
    after = model.state_dict()

    got = page.evaluate(STEP_JS, [CASES[case], {"lr": train.lr, "adv_lr": train.adv_lr}])
    assert set(got["terms"]) == set(expected)
    for key, value in expected.items():  # 1e-4 nats, plus 4 float32 ulps of a ~545-nat term (ulp 6.1e-5)
        assert abs(got["terms"][key] - value) < 1e-4 + 2.4e-7 * abs(value), (key, got["terms"][key], value)
    weights = st_load(base64.b64decode(got["weights"]))
    assert set(weights) == set(after)
    gradients = adam_gradients(model, optimizers)
    initial = st_load((server.fixtures / "init.safetensors").read_bytes())
    moved = 0
    for key, value in after.items():
        error = (weights[key] - value).abs()
        if key in gradients:  # Adam's first step is lr g / (|g| + 1e-8): near |g| ~ 1e-8 it magnifies float32 noise
            tiny = (gradients[key].abs() < 1e-6) & (gradients[key] != 0)  # exact zeros (blank pixels) stay put
            assert float(tiny.float().mean()) < 0.05, key  # the strict check covers nearly every weight
            assert float(error[~tiny].max()) < 1e-5, (key, float(error[~tiny].max()))
            assert float(torch.cat([error[tiny], torch.zeros(1)]).max()) < 1e-4, key
        else:  # buffers (the AE's sampling Gaussian) do not change in a step
            assert float(error.max()) < 1e-5, key
        moved += int(not torch.equal(value, initial[key]))
    assert moved >= 12  # the step did move the weights


def adam_gradients(model, optimizers) -> dict[str, torch.Tensor]:
    """Each parameter's gradient in the last step (the first step: exp_avg = (1 - beta1) g), for the first
    optimizer that holds it."""
    names = {id(p): k for k, p in model.named_parameters()}
    out = {}
    for opt in optimizers.values():
        for group in opt.param_groups:
            for p in group["params"]:
                out.setdefault(names[id(p)], opt.state[p]["exp_avg"] / (1 - group["betas"][0]))
    return out


CODES_JS = """async ([codes, d]) => {
  const { fitGaussian } = await import("/static/train/spec.js");
  const { pcaAxes } = await import("/static/train/plane.js");
  const g = fitGaussian(Float32Array.from(codes), d), p = pcaAxes(Float32Array.from(codes), d);
  return { mean: [...g.code_mean], tril: [...g.code_scale_tril], pcaMean: [...p.mean], axes: p.components.map((v) => [...v]) };
}"""


@pytest.mark.browser
def test_the_pages_code_statistics_equal_the_trainers(harness):
    """What the page computes from a model's codes after an epoch: the AE's sampling Gaussian (trainer/models/ae.py
    after_epoch: mean, Cholesky factor of torch.cov + 1e-5 I) and the PCA plane of 16-D codes (trainer.evaluate.
    pca_axes, axes up to sign), from one mean-and-scatter helper."""
    from trainer.evaluate import pca_axes

    _, _, page = harness
    d = 16
    codes = (torch.randn(500, d, generator=torch.Generator().manual_seed(5)) * torch.linspace(3, 0.2, d)
             + torch.linspace(-1, 1, d))
    got = page.evaluate(CODES_JS, [codes.flatten().tolist(), d])
    cov = torch.cov(codes.T.double()) + 1e-5 * torch.eye(d, dtype=torch.float64)
    assert np.allclose(got["mean"], codes.double().mean(0).numpy(), atol=1e-5)
    assert np.allclose(np.array(got["tril"]).reshape(d, d), torch.linalg.cholesky(cov).numpy(), atol=1e-5)
    mean, axes = pca_axes(codes.numpy())
    assert np.allclose(got["pcaMean"], mean, atol=1e-5)
    for mine, theirs in zip(got["axes"], axes):
        assert abs(abs(float(np.dot(mine, theirs))) - 1) < 1e-6  # the same axis, up to its sign


# -- a run trained in the page ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page_run(harness, tmp_path_factory):
    """A 2-epoch VAE trained through the standalone panel (its form, Start, Stop, Resume, Download run, Keep),
    with every request the page and its worker made while training."""
    server, _, page = harness
    page.goto(f"{server.url}/static/train/index.html")
    page.wait_for_selector(".tb-form")
    page.select_option("select[name=race]", "one")
    page.select_option("select[name=model]", "vae")
    page.fill("input[name=epochs]", "2")
    page.fill("input[name=seed]", "0")
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.click("button[name=start]")
    page.wait_for_function("() => window.latentTrain.firstTerms !== null", timeout=60_000)
    before = len(requests)
    page.click("button[name=stop]")  # Stop keeps the run where it is; Resume goes on from there
    page.wait_for_function("() => window.latentTrain.state === 'stopped'", timeout=60_000)
    status = page.inner_text(".tb-status")
    assert "stopped" in status and page.is_enabled("button[name=resume]") and "/ 20,000 images" in status
    page.click("button[name=resume]")
    page.wait_for_function("() => window.latentTrain.state === 'done'", timeout=300_000, polling=500)
    during = requests[before:]
    with page.expect_download() as info:
        page.click(".tb-actions button:has-text('Download run')")
    folder = tmp_path_factory.mktemp("page-run")
    zip_path = folder / info.value.suggested_filename
    info.value.save_as(zip_path)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder)
    name = zip_path.stem
    page.evaluate("""() => { window.kept = null;
      window.addEventListener("latent-explorer:keep", (e) => { window.kept = e.detail; }, { once: true }); }""")
    page.click(".tb-actions button:has-text('Keep')")
    page.wait_for_function("() => window.kept !== null", timeout=60_000)
    kept = page.evaluate("""async () => { const m = window.kept;
      const probs = await m.decode(Float32Array.of(0.5, -0.5));
      return { key: m.key, kind: m.kind, latent_dim: m.latent_dim, conditional: m.conditional, extent: m.extent,
        inverse: m.inverse, sizes: [m.xy.length, m.latents.length, m.labels.length],
        latents: Array.from(m.latents), labels: Array.from(m.labels.slice(0, 50)), probs: Array.from(probs) }; }""")
    return {"zip": zip_path, "folder": folder / name, "name": name, "before": requests[:before], "during": during,
            "kept": kept}


@pytest.mark.browser
def test_training_in_the_page_sends_no_request(harness, page_run):
    """Once the first curve point is drawn, the page asks the server for nothing (a blob: download is local);
    before it, only the panel's own static files (its modules, the vendored engine, the data folder)."""
    server = harness[0]
    assert [u for u in page_run["during"] if not u.startswith(("blob:", "data:"))] == []
    assert page_run["before"] and all(u.startswith(f"{server.url}/static/") for u in page_run["before"])
    assert any(u.endswith("/static/data/train-images-idx3-ubyte.gz") for u in page_run["before"])


@pytest.mark.browser
def test_a_vae_trained_in_the_page_evaluates_like_one_the_cli_trained(page_run, tmp_path):
    """The downloaded run folder is what `python -m trainer eval` reads, unchanged; its held-out -ELBO is within
    5 nats of the same config (vae, latent 2, 2 epochs, batch 128, seed 0) trained by the CLI on the same 10,000
    images (the page's data folder is an MNIST-format folder)."""
    from trainer import checkpoint

    folder = page_run["folder"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "history.jsonl", "metrics.json",
                                                         "model.safetensors"]
    rows = checkpoint.read_history(folder)
    assert [r["epoch"] for r in rows if r["kind"] == "epoch"] == [1, 2]
    assert [r["step"] for r in rows if r["kind"] == "step"][:3] == [20, 40, 60]  # log_every 20, as the trainer
    evaluated = subprocess.run([sys.executable, "-m", "trainer", "eval", str(folder), "--json", "--classifier", ""],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert evaluated.returncode == 0, evaluated.stderr
    page_elbo = json.loads(evaluated.stdout)["neg_elbo"]
    cli = tmp_path / "cli-vae"
    trained = subprocess.run([sys.executable, "-m", "trainer", "train", "--model", "vae", "--latent-dim", "2",
                              "--epochs", "2", "--seed", "0", "--data", str(STATIC / "data"), "--out", str(cli),
                              "--quiet", "--threads", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr
    cli_elbo = json.loads((cli / "metrics.json").read_text())["test_neg_elbo"]  # the same estimator on the test split
    assert 140 < page_elbo < 200 and abs(page_elbo - cli_elbo) < 5, (page_elbo, cli_elbo)


@pytest.mark.browser
def test_the_downloaded_zip_loads_in_the_app_and_decodes(page_run, tmp_path):
    """Add a model takes the zip as it is: the registry unpacks and loads it, its plane holds every test digit,
    and its decoder turns codes into images."""
    from explorer import uploads
    from trainer.data import bundled_test_split

    test = bundled_test_split()
    entry, ignored = uploads.load_upload([str(page_run["zip"])], tmp_path, test, 0)
    assert ignored == [] and entry.key == f"upload/0-{page_run['name']}"
    assert entry.config.model == "vae" and entry.config.latent_dim == 2 and entry.latents.shape == (10_000, 2)
    images = entry.decode(np.array([[0.0, 0.0], [1.0, -1.0]], np.float32))
    assert images.shape[0] == 2 and 0 <= images.min() and images.max() <= 1 and np.ptp(images) > 0.5


@pytest.mark.browser
def test_keep_hands_the_explorer_the_models_test_codes_and_its_decoder(page_run):
    """Keep dispatches "latent-explorer:keep" with every test digit's code, its labels and an extent, and a decode
    that returns probabilities: the codes are torch's embed and the decode torch's sigmoid(decode) of the same
    (downloaded) weights."""
    from trainer import checkpoint
    from trainer.data import bundled_test_split

    kept = page_run["kept"]
    assert kept["key"] == f"browser/{page_run['name']}" and kept["kind"] == "vae" and kept["conditional"] is False
    assert kept["sizes"] == [20_000, 20_000, 10_000] and kept["inverse"] == {"kind": "identity", "dim": 2}
    run = checkpoint.load(page_run["folder"])
    test = bundled_test_split()
    codes = run.model.embed_split(test).numpy()
    assert np.abs(np.array(kept["latents"]).reshape(-1, 2) - codes).max() < 1e-4
    assert kept["labels"] == test.labels[:50].tolist()
    xmin, xmax, ymin, ymax = kept["extent"]
    inside = (codes[:, 0] > xmin) & (codes[:, 0] < xmax) & (codes[:, 1] > ymin) & (codes[:, 1] < ymax)
    assert inside.mean() > 0.99
    with torch.no_grad():
        probs = torch.sigmoid(run.model.decode(torch.tensor([[0.5, -0.5]]))).flatten().numpy()
    assert np.abs(np.array(kept["probs"]) - probs).max() < 1e-5
