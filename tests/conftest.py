import os
import sys
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
