import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import torch  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
# the inputs of the app's /train_start endpoint (explorer.ui.train_jobs.train_start), in order: the API's contract
TRAIN_ORDER = ["model", "arch", "latent_dim", "kl_weight", "prior", "label_guided", "epochs", "batch_size", "lr",
               "seed", "data_choice", "idx_files", "name", "limit", "posterior", "prior_components", "lr_schedule",
               "weight_decay", "adv_lr", "decoder_epochs", "channels", "hidden"]
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def wait_for_background_umap():
    """A test that loads a >2-D upload starts a background UMAP fit (registry.start_umap); wait for it here, so
    it cannot run on into later tests (its warnings.catch_warnings once swallowed another test's warning in CI)."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("umap-"):
            thread.join(timeout=600)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full MNIST folder beside the repo (torchvision layout); tests needing it skip elsewhere."""
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.skip(f"full MNIST not found in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_data():
    """The bundled split: 8k train / 2k test, cut to 512 training images."""
    from trainer.data import load_dataset

    data = load_dataset(None, limit=512)
    data.test = data.test.head(256)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer(NamedTuple):
    url: str
    registry: object  # a Registry over the same zoo and runs folders
    proc: subprocess.Popen
    tmp: Path  # the server's TMPDIR: session folders with uploads live here
    cache: Path  # GRADIO_TEMP_DIR: Gradio's own cache of uploaded and returned files
    log: Path


def start_app(root: Path, zoo: Path, runs: Path) -> AppServer:
    """`python app.py` on a free port, serving checkpoints from ``zoo`` and ``runs``, every temp file under ``root``."""
    from explorer.registry import Registry

    tmp, cache = root / "tmp", root / "gradio-cache"
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(tmp),
           "GRADIO_TEMP_DIR": str(cache), "LATENT_EXPLORER_PRETRAINED": str(zoo), "LATENT_EXPLORER_RUNS": str(runs)}
    log_path = root / "app.log"
    with open(log_path, "a") as log:  # the app keeps its own copy of the file
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            pytest.fail(f"app exited: {log_path.read_text()[-3000:]}")
    else:
        proc.kill()
        pytest.fail("app did not answer within 120 s")
    return AppServer(url, Registry(pretrained=zoo, runs=runs), proc, tmp, cache, log_path)


def stop_app(server: AppServer) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> Path:
    from zoo import make_zoo

    return make_zoo(tmp_path_factory.mktemp("appzoo"))


@pytest.fixture(scope="session")
def shipped_server(tmp_path_factory):
    """The app with the shipped models, as a class sees it (one server for the whole test session)."""
    server = start_app(tmp_path_factory.mktemp("shipped"), ROOT / "pretrained", tmp_path_factory.mktemp("shippedruns"))
    yield server
    stop_app(server)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, tiny_zoo):
    """The app serving tiny real checkpoints from a temp zoo (one server for the whole test session)."""
    server = start_app(tmp_path_factory.mktemp("app"), tiny_zoo, tmp_path_factory.mktemp("appruns"))
    yield server
    stop_app(server)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


SERVER_FIXTURES = {"app_server", "client", "clients", "shipped_server"}  # fixtures that start (or talk to) the app as a server


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark what a test needs, from the fixtures it takes: a browser, or the app running as a server (so that
    `-m "not browser and not server"` picks the fast loop)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "chromium" in names:
            item.add_marker(pytest.mark.browser)
        if names & SERVER_FIXTURES:
            item.add_marker(pytest.mark.server)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Browser tests need Debian's chromium: without it, stop once, before any test runs, and say how to get it."""
    needs = [item for item in session.items if item.get_closest_marker("browser")]
    if needs and not (shutil.which("chromium") or Path(CHROMIUM).exists()):
        pytest.exit(f"{len(needs)} selected tests drive a real browser, and Debian's chromium is not installed: run "
                    "`apt-get install -y chromium` (never `playwright install`), or leave them out with "
                    "-m \"not browser\"", returncode=4)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (Debian's, driven by Playwright) for the whole test session; each test opens its own
    context (cookies, storage) in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
