import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import torch  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


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


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """`python app.py` serving tiny real checkpoints from a temp zoo; yields (url, registry of the same zoo)."""
    from explorer.registry import Registry
    from zoo import make_zoo

    zoo = make_zoo(tmp_path_factory.mktemp("appzoo"))
    runs = tmp_path_factory.mktemp("appruns")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "LATENT_EXPLORER_PRETRAINED": str(zoo), "LATENT_EXPLORER_RUNS": str(runs)}
    log = open(tmp_path_factory.mktemp("log") / "app.log", "w+")
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
            log.seek(0)
            pytest.fail(f"app exited: {log.read()[-3000:]}")
    else:
        proc.kill()
        pytest.fail("app did not answer within 120 s")
    yield url, Registry(pretrained=zoo, runs=runs)
    proc.terminate()
    proc.wait(10)


