"""Training speed and quality on this machine; prints a table.

    python benchmarks/train_speed.py [--data ../shared/data] [--quick]

Rows: one epoch of every model x arch at default sizes; the classic reference configuration
(pytorch/examples vae/main.py: MLP 784-400-20 VAE, ReLU, batch 128, Adam 1e-3) for 10 epochs; the seed
tutorial's model size (MLP 784-64-64-16, batch 64); the default 16-D VAE for 10 epochs; and the peak RSS
of a CLI training run. Published figures on this machine: reference 15 s/epoch (train + test) and 105.6
nats after 10 epochs; seed loop 17 s/epoch.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.config import ModelConfig, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.train import Callback, fit, new_model  # noqa: E402

REFERENCE_SECONDS, REFERENCE_NATS, SEED_SECONDS = 15.0, 105.6, 17.0
# the fastest configuration found that comes close to both targets (see docs/benchmarks.md)
DEFAULT_VAE16 = dict(model="vae", arch="conv", channels=(16, 32), hidden=(256,), latent_dim=16)


class Timer(Callback):
    def __init__(self):
        self.rows = []
        self.last = time.perf_counter()

    def on_epoch(self, row, model):
        now = time.perf_counter()
        wall, self.last = now - self.last, now
        self.rows.append({**row, "wall": wall})  # train + test evaluation
        print(f"    epoch {row['epoch']}: {row['seconds']:.1f}s train, {wall:.1f}s wall, "
              + "  ".join(f"{k} {v:.2f}" for k, v in row.items() if k in ("test_neg_elbo", "test_recon")),
              flush=True, file=sys.stderr)


def run(data, model_cfg: dict, epochs: int, batch_size: int = 128, lr: float = 1e-3, lr_schedule: str = "constant"):
    """Train in a fresh process (earlier runs in the same process slow small models down measurably)."""
    spec = json.dumps(dict(model_cfg=model_cfg, epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
                           data=data))
    out = subprocess.run([sys.executable, __file__, "--one", spec], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    print(out.stderr, end="", flush=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_here(data_path, model_cfg: dict, epochs: int, batch_size: int, lr: float, lr_schedule: str):
    data = load_dataset(data_path)
    timer = Timer()
    model = new_model(ModelConfig(**model_cfg), seed=0)
    params = sum(p.numel() for p in model.parameters())
    fit(model, data, TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule), [timer])
    train_s = sum(r["seconds"] for r in timer.rows) / epochs
    wall_s = sum(r["wall"] for r in timer.rows) / epochs
    last = timer.rows[-1]
    return {"params": params, "train_s": train_s, "wall_s": wall_s, "img_s": len(data.train) / train_s,
            "nats": last.get("test_neg_elbo", last.get("test_recon"))}


def cli_peak_rss_mb(data_path: str) -> float:
    out = Path("/tmp/latent-explorer-bench-run")
    cmd = [sys.executable, "-m", "trainer", "train", "--model", "vae", "--arch", "conv", "--channels", "16,32",
           "--hidden", "256", "--latent-dim", "16", "--epochs", "1", "--data", data_path, "--out", str(out),
           "--overwrite", "--quiet"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--quick", action="store_true", help="skip the 10-epoch runs")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration, print its JSON
    args = p.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(run_here(spec.pop("data"), **spec)))
        return
    data = args.data
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, each row in a fresh process")
    rows = []
    for model in ("ae", "vae", "aae", "cvae", "caae"):
        for arch in ("mlp", "conv"):
            print(f"  {model} {arch} (latent 2), 1 epoch", flush=True)
            cfg = dict(model=model, arch=arch, latent_dim=2, hidden=(512, 256) if arch == "mlp" else (256,))
            rows.append((f"{model} {arch} latent 2", 1, run(data, cfg, 1), ""))
    print("  default 16-D VAE with a prior of 10 fitted Gaussians, 1 epoch", flush=True)
    r = run(data, {**DEFAULT_VAE16, "prior_components": 10}, 1, lr=2e-3)
    rows.append(("VAE conv 16-32 latent 16, 10 fitted Gaussians", 1, r, "wall includes the prior's refit "
                 "(EM on 20,000 codes); compare the vae conv row"))
    print("  seed-sized model (MLP 784-64-64-16, batch 64), 3 epochs", flush=True)
    r = run(data, dict(model="ae", hidden=(64, 64), latent_dim=16), 3, batch_size=64)
    rows.append(("seed size: AE mlp 64-64-16, batch 64", 3, r, f"{SEED_SECONDS / r['wall_s']:.1f}x faster than the seed loop (17 s)"))
    if not args.quick:
        print("  reference VAE (MLP 784-400-20, ReLU, batch 128), 10 epochs", flush=True)
        r = run(data, dict(model="vae", hidden=(400,), latent_dim=20, activation="relu"), 10)
        rows.append(("reference VAE mlp 400-20 relu", 10, r, f"{REFERENCE_SECONDS / r['wall_s']:.1f}x faster than "
                     f"published (15 s); {r['nats'] - REFERENCE_NATS:+.2f} nats vs 105.6"))
        print("  default 16-D VAE, 10 epochs", flush=True)
        r = run(data, DEFAULT_VAE16, 10, lr=2e-3, lr_schedule="cosine")
        rows.append(("VAE conv 16-32 latent 16, lr 2e-3 cosine", 10, r, "targets: <= 98 nats, <= 15 s/epoch"))
    rss = cli_peak_rss_mb(args.data)
    print()
    print(f"| setup | epochs | params | train s/epoch | wall s/epoch (train+test) | images/s | test −ELBO or recon (nats) | note |")
    print("|---|---|---|---|---|---|---|---|")
    for name, epochs, r, note in rows:
        print(f"| {name} | {epochs} | {r['params']:,} | {r['train_s']:.2f} | {r['wall_s']:.2f} | {r['img_s']:,.0f} | "
              f"{r['nats']:.2f} | {note} |")
    print(f"\npeak RSS of a CLI training run (conv VAE latent 16, full MNIST): {rss:.0f} MB (target <= 1536 MB)")


if __name__ == "__main__":
    main()
