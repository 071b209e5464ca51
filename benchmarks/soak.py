"""A soak of anonymous visitors: 200 mixed requests (uploads, races, GIFs, grids, decodes, reconstructions) from 25
API sessions against one server, 3 at a time; each session closes (its heartbeat ends, as a closed tab's does).
Prints the server's RSS and disk at the start, when the last session closed, and then every minute until Gradio's
and the app's sweeps have run (``--wait`` minutes), as a table. Goal: RSS and the app's temporary files back
within 10% of the start once the sessions closed. Runs the visitors trained stay: they are kept by design (a
public server removes them RUN_HOURS after their last save).

    python benchmarks/soak.py [--app DIR] [--sessions 25] [--wait 26] [--rounds 1] [--settle 3]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardening_rss import DEFAULT, ROOT, folder_mb, start_app, status_mb  # noqa: E402

TIDY = 60  # seconds between the janitor's rounds (10 min by default: the soak would wait that long)
UPLOADS = {"vae-2d": ("config.json", "model.safetensors"),  # a 2-D model: no UMAP to fit
           "vae-16d": ("config.json", "model.safetensors")}  # no embedding.npz: the server fits UMAP, exports


def session(url: str, k: int, counts: dict, lock: threading.Lock) -> None:
    """One visitor: 8 requests in a mixed order, then the tab closes."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    rng = random.Random(k)
    name = "vae-2d" if k % 2 else "vae-16d"
    job = [""]

    def upload():
        files = [handle_file(str(ROOT / "pretrained" / name / f)) for f in UPLOADS[name]]
        client.predict(files, DEFAULT, api_name="/upload")

    def race():
        job[0] = client.predict("ae\nvae", "mlp", 2, 1, 32, 1e-3, k, "bundled", f"soak{k}", 256,
                                api_name="/race_start")[0]
        deadline = time.time() + 300
        while time.time() < deadline:  # its status polls are not counted as requests
            if client.predict(job[0], 0, api_name="/train_status").get("status") in (
                    "finished", "stopped", "diverged", "failed"):
                break
            time.sleep(1)

    def replay_gif():
        client.predict("replay", DEFAULT, 3, 2, "pretrained/vae-2d", "test digit", 0, 2.0, job[0], "umap",
                       api_name="/export_gif")

    steps = [upload, race,
             lambda: client.predict(DEFAULT, "umap", 15, False, "auto", api_name="/manifold"),
             lambda: client.predict(["pretrained/cvae-2d"], "0, 1, 2, 3, 4", api_name="/style_grid"),
             lambda: client.predict("interpolation", DEFAULT, rng.randrange(100), rng.randrange(100),
                                    "pretrained/vae-2d", "test digit", 0, 2.0, "", "umap", api_name="/export_gif"),
             lambda: client.predict(DEFAULT, rng.randrange(3), rng.uniform(-2, 2), rng.uniform(-2, 2), "umap",
                                    "auto", api_name="/decode"),
             lambda: client.predict(DEFAULT, "random", "", None, k, "umap", api_name="/reconstruct"),
             replay_gif]
    order = [steps[0], steps[1], steps[7], *rng.sample(steps[2:7], 5)]  # upload, race and its replay first
    for step in order:
        try:
            step()
            outcome = "answered"
        except Exception as e:  # a refusal (a full server, no snapshots yet) is an answer too
            outcome = "refused: " + str(e).splitlines()[0][:70]
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1
    client.close()


def sample(proc, home: Path) -> tuple[float, float, float]:
    """RSS MB, the app's temporary files MB (sessions, Gradio's cache, exports, GIFs, zips), runs/ MB."""
    return status_mb(proc.pid, "VmRSS:"), folder_mb(home / "tmp") + folder_mb(home / "cache"), folder_mb(home / "runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default=str(ROOT))
    parser.add_argument("--sessions", type=int, default=25)
    parser.add_argument("--wait", type=int, default=26, help="minutes to watch after the last session closed")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of --sessions sessions (a server's first training and UMAP fit allocate once "
                             "what later ones reuse: a second round shows whether it still grows)")
    parser.add_argument("--settle", type=int, default=3, help="minutes between rounds (the janitor's rounds)")
    args = parser.parse_args()
    from gradio_client import Client

    home = Path(tempfile.mkdtemp(prefix="soak-"))
    os.environ["LATENT_EXPLORER_TIDY_SECONDS"] = str(TIDY)
    proc, url = start_app(Path(args.app), home)
    rows = []
    try:
        Client(url, verbose=False).predict(DEFAULT, 0, 0.0, 0.0, "umap", "auto", api_name="/decode")
        time.sleep(90)  # the warm-up (plane backgrounds, UMAP compilation) settles
        rows.append(("start", 0.0, *sample(proc, home), os.getloadavg()[0]))
        counts, lock, started = {}, threading.Lock(), time.time()
        for round_ in range(1, args.rounds + 1):
            pending = list(range((round_ - 1) * args.sessions, round_ * args.sessions))
            workers = []

            def worker():
                while True:
                    with lock:
                        if not pending:
                            return
                        k = pending.pop(0)
                    session(url, k, counts, lock)
            for _ in range(3):
                workers.append(threading.Thread(target=worker))
                workers[-1].start()
            for w in workers:
                w.join()
            rows.append((f"round {round_}: last session closed", time.time() - started, *sample(proc, home),
                         os.getloadavg()[0]))
            print(rows[-1], flush=True)
            if round_ < args.rounds:
                time.sleep(60 * args.settle)
                rows.append((f"round {round_}: +{args.settle} min", time.time() - started, *sample(proc, home),
                             os.getloadavg()[0]))
                print(rows[-1], flush=True)
        for minute in range(1, args.wait + 1):
            time.sleep(60)
            rows.append((f"+{minute} min", time.time() - started, *sample(proc, home), os.getloadavg()[0]))
            print(rows[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    print(f"\napp: {args.app}; {sum(counts.values())} requests from {args.rounds} x {args.sessions} sessions: "
          + ", ".join(f"{n} {what}" for what, n in sorted(counts.items(), key=lambda kv: -kv[1])) + "\n")
    print("| when | s | RSS MB | app's temporary files MB | runs/ MB | load average |")
    print("|---|---|---|---|---|---|")
    for when, seconds, rss, temp, runs, load in rows:
        print(f"| {when} | {seconds:.0f} | {rss:.0f} | {temp:.1f} | {runs:.1f} | {load:.1f} |")


if __name__ == "__main__":
    main()
