"""Trainer-tab costs on this machine; prints a table.

    python benchmarks/trainer_tab.py [--data ../shared/data] [--epochs 2]

1. The same configuration trained by the CLI (`--threads 1`, as the tab's worker uses) and by the tab's
   background job (through /train_start on a running app): seconds per epoch (target: tab <= 1.1x CLI).
2. /decode latency from a gradio_client while idle and while that job trains (target: p95 <= 2x idle).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from explorer_latency import start  # noqa: E402

CONFIG = ["--model", "vae", "--arch", "mlp", "--hidden", "512,256", "--latent-dim", "2", "--batch-size", "128"]


def decode_times(client, models, n, stop=None):
    times, rng = [], np.random.default_rng(0)
    for _ in range(n):
        if stop is not None and stop.is_set():
            break
        x, y = rng.uniform(-2, 2, 2)
        t = time.perf_counter()
        client.predict(models, 0, float(x), float(y), "umap", "auto", api_name="/decode")
        times.append(time.perf_counter() - t)
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    from gradio_client import Client

    runs = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    cli_out = runs / "cli"
    subprocess.run([sys.executable, "-m", "trainer", "train", *CONFIG, "--epochs", str(args.epochs), "--threads", "1",
                    "--data", args.data, "--out", str(cli_out), "--quiet"], cwd=ROOT, check=True)
    cli_rows = [json.loads(l) for l in (cli_out / "history.jsonl").read_text().splitlines()]
    cli_s = np.mean([r["seconds"] for r in cli_rows if r["kind"] == "epoch"])

    proc, url, _ = start([sys.executable, "app.py"], {"LATENT_EXPLORER_RUNS": str(runs),
                                                     "LATENT_EXPLORER_DATA": args.data})
    try:
        client = Client(url, verbose=False)
        models = [k for k in ("pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d")]
        decode_times(client, models, 10)
        idle = decode_times(client, models, 100)
        job_id = client.predict("vae", "mlp", 2, 1.0, "gaussian", False, args.epochs + 3, 128, 1e-3, 0, "full", None,
                                "tab", 0, "diagonal", api_name="/train_start")[0]
        while client.predict(job_id, 0, api_name="/train_status")["step"] < 50:
            time.sleep(0.5)
        busy = decode_times(client, models, 100)
        while True:
            status = client.predict(job_id, 0, api_name="/train_status")
            epochs = [r for r in status["rows"] if r["kind"] == "epoch"]
            if len(epochs) >= args.epochs + 1 or status["status"] in ("failed", "diverged"):
                break
            time.sleep(1)
        client.predict(job_id, api_name="/train_stop")
        tab_s = np.mean([r["seconds"] for r in epochs[1:args.epochs + 1]])  # epoch 1 shared the CPU with decodes
    finally:
        proc.terminate()
        proc.wait()
    ms = lambda v, q: np.percentile(np.asarray(v) * 1000, q)  # noqa: E731
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| CLI (--threads 1), VAE mlp 2-D, full MNIST | {cli_s:.2f} s/epoch | |")
    print(f"| trainer tab job, same config (epochs after the first) | {tab_s:.2f} s/epoch ({tab_s / cli_s:.2f}x CLI)"
          " | <= 1.10x |")
    print(f"| /decode p50 / p95 idle | {ms(idle, 50):.0f} / {ms(idle, 95):.0f} ms | |")
    print(f"| /decode p50 / p95 while training | {ms(busy, 50):.0f} / {ms(busy, 95):.0f} ms "
          f"({ms(busy, 95) / ms(idle, 95):.2f}x idle p95) | <= 2x |")


if __name__ == "__main__":
    main()
