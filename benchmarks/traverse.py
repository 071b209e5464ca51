"""Latent traversal speed on this machine; prints a table.

    python benchmarks/traverse.py [--repeats 20]

For each 16-D shipped model (and one 2-D one): the Traversal tab's handler (`explorer.ui.traversal.traverse`: one row per
latent dim x 11 steps around a test digit, the rendered grid, its caption and the sliders' JSON), in-process,
the first call (its test codes and, for VAEs, the per-dim KL over the test split are computed then) and the
median / p95 of the calls after it; then the /traverse endpoint through gradio_client against `python app.py`.
Target: /traverse for vae-16d (16 rows x 11 steps) <= 300 ms on the server.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
MODELS = ["pretrained/vae-16d", "pretrained/ae-16d", "pretrained/aae-16d", "pretrained/vae-2d"]


def handler_times(key: str, repeats: int) -> tuple[float, list[float]]:
    from explorer.ui.session import Session
    from explorer.ui.traversal import traverse

    def once(i):
        t = time.perf_counter()
        traverse([key], key, "test digit", i, 3.0, 11, Session())
        return time.perf_counter() - t

    first = once(0)
    return first, [once(i) for i in range(1, repeats + 1)]


def endpoint_times(url: str, key: str, repeats: int) -> list[float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict([key], key, "test digit", 0, 3.0, 11, api_name="/traverse")  # warm
    out = []
    for i in range(1, repeats + 1):
        t = time.perf_counter()
        client.predict([key], key, "test digit", i, 3.0, 11, api_name="/traverse")
        out.append(time.perf_counter() - t)
    return out


def ms(values) -> str:
    return f"{1000 * np.median(values):.0f} / {1000 * np.percentile(values, 95):.0f} ms"


def main():
    from explorer_latency import start

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    rows, warm_p95 = [], {}
    for key in MODELS:
        first, warm = handler_times(key, args.repeats)
        rows.append([key, f"{1000 * first:.0f} ms", ms(warm)])
        warm_p95[key] = 1000 * np.percentile(warm, 95)
    proc, url, _ = start([sys.executable, "app.py"])
    try:
        for row in rows:
            row.append(ms(endpoint_times(url, row[0], args.repeats)))
    finally:
        proc.terminate()
        proc.wait()
    print("| model | handler, first call | handler p50 / p95 | /traverse via gradio_client p50 / p95 |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    vae = warm_p95["pretrained/vae-16d"]
    print(f"\ntarget: /traverse for vae-16d <= 300 ms on the server: {'met' if vae <= 300 else 'MISSED'} "
          f"(handler p95 {vae:.0f} ms)")


if __name__ == "__main__":
    main()
