"""A training race against the same models trained one after another with the CLI; prints a table.

    python benchmarks/race.py [--epochs 5]

The race: AE + VAE + AAE (mlp, 2-D, the bundled data) through the running app's /race_start, polled with
/train_status: the time until every model has a latent snapshot on the page, until every model has one after
training began, and until the race ends. The CLI: `python -m trainer train` for each model in turn, with one torch
thread as the app's jobs use (and with the CLI's default threads). Targets: first side-by-side snapshot <= 3 s
after Start; total <= 1.2x the CLI one after another.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
MODELS = ("ae", "vae", "aae")


def race(url: str, epochs: int) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    job = client.predict("\n".join(MODELS), "mlp", 2, epochs, 128, 1e-3, 0, "bundled", "bench-race", 0,
                         api_name="/race_start")[0]
    first = trained = None
    while True:
        status = client.predict(job, 10 ** 9, api_name="/train_status")  # no rows back: progress only
        now = time.perf_counter() - started
        lanes = status.get("lanes", [])
        if first is None and lanes and all(lane["snapshots"] >= 1 for lane in lanes):
            first = now
        if trained is None and lanes and all(lane["snapshots"] >= 2 for lane in lanes):
            trained = now
        if status["status"] in ("finished", "stopped", "diverged", "failed"):
            return {"first": first, "trained": trained, "total": now, "status": status["status"]}
        time.sleep(0.25)


def cli(epochs: int, threads: int | None) -> float:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        for model in MODELS:
            cmd = [sys.executable, "-m", "trainer", "train", "--model", model, "--arch", "mlp", "--latent-dim", "2",
                   "--epochs", str(epochs), "--out", f"{out}/{model}", "--quiet"]
            if threads:
                cmd += ["--threads", str(threads)]
            env = {k: v for k, v in os.environ.items() if k != "LATENT_EXPLORER_DATA"}
            subprocess.run(cmd, cwd=tempfile.gettempdir(), env={**env, "PYTHONPATH": str(ROOT)}, check=True,
                           capture_output=True)  # no ./data there: the bundled split, as the race's
    return time.perf_counter() - started


def main():
    from explorer_latency import start

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--settle", type=float, default=45.0,
                   help="seconds to wait after start-up: the app warms up umap-learn in the background meanwhile")
    args = p.parse_args()
    runs = tempfile.mkdtemp(prefix="race-runs-")
    proc, url, _ = start([sys.executable, "app.py"], env={"LATENT_EXPLORER_RUNS": runs})
    try:
        time.sleep(args.settle)  # a class races minutes after the server started, not while it warms up
        result = race(url, args.epochs)
    finally:
        proc.terminate()
        proc.wait()
    one, default = cli(args.epochs, 1), cli(args.epochs, None)
    print(f"\nAE + VAE + AAE, mlp, 2-D, bundled data (8,000 images), {args.epochs} epochs\n")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| race: every model's first snapshot on the page (at its start line) | {result['first']:.1f} s | "
          "<= 3 s |")
    print(f"| race: every model's first snapshot after training began (step 25) | {result['trained']:.1f} s | |")
    print(f"| race: total ({result['status']}) | {result['total']:.1f} s | <= 1.2x the CLI |")
    print(f"| CLI, one after another, 1 torch thread (as the app's jobs) | {one:.1f} s | ratio "
          f"{result['total'] / one:.2f} |")
    print(f"| CLI, one after another, default threads | {default:.1f} s | ratio {result['total'] / default:.2f} |")


if __name__ == "__main__":
    main()
