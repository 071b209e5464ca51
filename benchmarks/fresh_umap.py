"""A fresh 16-D model's UMAP plane: time from the model appearing to its plane, and the plane's kNN; prints a table.

    python benchmarks/fresh_umap.py

Each shipped 16-D model stands in for a student's new run: its 10,000 test codes, no shipped plane. Every row runs
in a new process, as a new upload meets the app:
- "before": the settings of the app before (umap-learn's default 500 epochs for 10,000 points, the plane's
  inverse by UMAP's own inverse_transform on the 48 x 48 grid);
- "now": ``registry.compute_umap`` (200 epochs, the 16-nearest-codes inverse), after the app's start-up warm-up
  (``projection.warm_up``, which the app runs in the background once it listens), and without it.
kNN: 5 nearest neighbours, the plane's first 5,000 points as references, scored on the other 5,000.
Target: <= 10 s with the warm-up done, kNN within 0.01 of before.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("vae-16d", "ae-16d", "aae-16d")
CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from explorer import projection
from explorer.registry import Registry, compute_umap
from trainer.evaluate import knn_accuracy

entry = Registry().get("pretrained/{name}")
entry.views.pop("umap")  # as a fresh model: PCA only
warm = 0.0
if {warm}:
    t = time.perf_counter(); projection.warm_up(); warm = time.perf_counter() - t
t = time.perf_counter()
if {before}:
    reducer = projection.fit_umap(entry.latents)
    xy = reducer.embedding_
    projection.umap_grid(reducer, xy)
else:
    compute_umap(entry)
    xy = entry.views["umap"].xy
seconds = time.perf_counter() - t
knn = knn_accuracy(xy[:5000], entry.labels[:5000], xy[5000:], entry.labels[5000:])
print(json.dumps({{"seconds": seconds, "knn": knn, "warm": warm}}))
"""


def run(name: str, before: bool, warm: bool) -> dict:
    code = CHILD.format(root=str(ROOT), name=name, before=before, warm=warm)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    rows = []
    for name in MODELS:
        old = run(name, before=True, warm=True)
        new = run(name, before=False, warm=True)
        cold = run(name, before=False, warm=False)
        rows.append((name, f"{old['seconds']:.1f} s, kNN {old['knn']:.3f}",
                     f"{new['seconds']:.1f} s, kNN {new['knn']:.3f} (warm-up {new['warm']:.0f} s before)",
                     f"{cold['seconds']:.1f} s", f"{new['knn'] - old['knn']:+.3f}"))
    print("\n| model | before: 500 epochs + UMAP inverse (warm) | now, after the start-up warm-up | now, no warm-up "
          "| kNN change |\n|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\ntarget: <= 10 s with the warm-up done, kNN within 0.01")


if __name__ == "__main__":
    main()
