"""Load: concurrent gradio_client users against a local `python app.py`; prints a table.

    python benchmarks/load.py [--clients 20] [--seconds 60] [--rounds 2]

Each client is a separate gradio_client session that loops, without pause, over: a click decoded in every
default model (/decode at a random point of a random plane, 4 in 5 requests) or a reconstruction of ten random
test digits (/reconstruct, 1 in 5). Every response is checked (an image came back). Per round it prints requests,
errors, throughput, latency percentiles, the server's peak RSS and the size of Gradio's file cache. The second
round runs on the same server: its peak RSS should not grow past the first round's (target: 0 errors, no growth).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from explorer_latency import ROOT, rss_mb, start  # noqa: E402

sys.path.insert(0, str(ROOT))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


class Monitor(threading.Thread):
    """Samples the server's RSS every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.2)


def user(client, models, seconds: float, seed: int, latencies: list, errors: list, decode_share: float) -> None:
    rng = random.Random(seed)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        try:
            if rng.random() < decode_share:
                out = client.predict(models, rng.randrange(len(models)), rng.uniform(-3, 3), rng.uniform(-3, 3),
                                     "umap", "auto", api_name="/decode")
                ok = isinstance(out, str) and Path(out).is_file()
            else:
                out = client.predict(models, "random", "", None, rng.randrange(10_000), "umap",
                                     api_name="/reconstruct")
                ok = Path(out[0]).is_file() and len(out[1]["data"]) == len(models)
            if not ok:
                raise RuntimeError(f"unexpected response {str(out)[:200]}")
            latencies.append(time.perf_counter() - started)
        except Exception as e:  # every failure is counted and shown
            errors.append(f"{type(e).__name__}: {e}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--models", default="ae-2d,vae-2d,aae-mixture10-2d", help="the app's default three")
    p.add_argument("--decode-share", type=float, default=0.8, help="share of requests that are /decode clicks")
    args = p.parse_args(argv)
    from gradio_client import Client

    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    cache = tmp / "gradio-cache"
    proc, url, _ = start([sys.executable, "app.py"], env={"TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(cache)})
    try:
        clients = [Client(url, verbose=False, download_files=str(tmp / f"client-{i}")) for i in range(args.clients)]
        models = [f"pretrained/{m}" for m in args.models.split(",")]
        clients[0].predict(models, "umap", "none", True, api_name="/load_models")  # loads the models (warm-up)
        idle = rss_mb(proc.pid)
        print(f"server {url}, models {', '.join(models)}, {args.clients} clients, {args.seconds:.0f} s per round; "
              f"RSS before load {idle:.0f} MB\n")
        print("| round | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms | server CPU (cores) |"
              " peak RSS MB | RSS after MB | Gradio cache MB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        peaks, all_errors = [], []
        for rnd in range(1, args.rounds + 1):
            latencies, errors = [], []
            monitor = Monitor(proc.pid)
            monitor.start()
            cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
            threads = [threading.Thread(target=user, args=(c, models, args.seconds, 1000 * rnd + i, latencies, errors,
                                                 args.decode_share))
                       for i, c in enumerate(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            monitor.stop.set()
            monitor.join()
            cores = (cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - wall0)
            ms = np.asarray(latencies) * 1000
            q = np.percentile(ms, [50, 95, 99]) if len(ms) else [np.nan] * 3
            peaks.append(monitor.peak)
            all_errors += errors
            print(f"| {rnd} | {len(ms) + len(errors)} | {len(errors)} | {len(ms) / args.seconds:.1f} | {q[0]:.0f} | "
                  f"{q[1]:.0f} | {q[2]:.0f} | {ms.max() if len(ms) else float('nan'):.0f} | {cores:.2f} | {monitor.peak:.0f} | "
                  f"{rss_mb(proc.pid):.0f} | {folder_mb(cache):.0f} |", flush=True)
        growth = peaks[-1] - peaks[0]
        print(f"\npeak RSS growth from round 1 to round {args.rounds}: {growth:+.0f} MB "
              f"({'no growth' if growth <= max(32, 0.05 * peaks[0]) else 'GROWS'}); errors: {len(all_errors)}")
        for e in sorted(set(all_errors))[:5]:
            print("  error:", e[:300])
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
