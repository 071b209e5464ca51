"""RSS of one process over finished races: each race is forgotten as the janitor forgets it, and the freed heap
given back (malloc_trim), as on the server. Shows what a first training allocates once and whether later races
add to it. Prints a table.

    python benchmarks/race_memory.py [--races 16]
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--races", type=int, default=16)
    args = parser.parse_args()
    ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX, as app.py sets it
    sys.path.insert(0, str(ROOT))
    import torch

    from explorer import janitor
    from explorer.jobs import JobManager
    from trainer.config import ModelConfig, TrainConfig
    from trainer.data import load_dataset

    torch.set_num_threads(1)
    jobs = JobManager(Path(tempfile.mkdtemp(prefix="race-memory-")), total=2)
    data = load_dataset(None, limit=512)
    rows = [("start", rss_mb())]
    for k in range(args.races):
        race = jobs.start_race(f"owner{k}", [ModelConfig(model="ae"), ModelConfig(model="vae")],
                               TrainConfig(epochs=1, batch_size=8, limit=512), data, name=f"race{k}")
        race.thread.join()
        race.last_seen = time.time() - 3600
        jobs.forget_finished(set(), idle=0)
        del race
        gc.collect()
        janitor.trim()
        rows.append((f"after race {k + 1}", rss_mb()))
        print(f"  {rows[-1][0]}: {rows[-1][1]:.0f} MB", flush=True)
    print("\n| when | RSS MB |\n|---|---|")
    for when, mb in rows:
        print(f"| {when} | {mb:.0f} |")


if __name__ == "__main__":
    main()
