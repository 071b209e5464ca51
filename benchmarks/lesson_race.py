"""The lesson's race (step 5), measured: does the KL of β = 1 stay above β = 4's from the start, on 3 seeds?

    python benchmarks/lesson_race.py [--seeds 0 1 2] [--epochs 2]

Drives the in-browser trainer's own page (explorer/static/train/index.html, served by a plain static server) in
headless Chromium: the race "VAE β = 1 vs β = 4" with the panel's defaults and each seed; then reads every KL
point the charts drew and prints, per seed, the first step after which the (smoothed, as charted) KL of β = 1 is
above β = 4's at every later point, and the gap there and at the end.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "explorer" / "static"
sys.path.insert(0, str(ROOT / "tests"))


def ema(values, alpha=0.3):
    out, s = [], None
    for v in values:
        s = v if s is None else alpha * v + (1 - alpha) * s
        out.append(s)
    return out


def race(page, seed: int, epochs: int, timeout_s: float = 600) -> dict:
    """Run the race with this seed; the KL points of each lane (steps, values)."""
    page.reload()
    page.wait_for_selector(".tb-form")
    page.select_option("select[name=race]", "beta")
    page.fill("input[name=epochs]", str(epochs))
    page.fill("input[name=seed]", str(seed))
    page.click("button[name=start]")
    page.wait_for_function("() => window.latentTrain && window.latentTrain.state === 'done'",
                           timeout=timeout_s * 1000)
    return page.evaluate("""() => Object.fromEntries([...window.latentTrain.charts.series.get('kl')]
                               .map(([lane, points]) => [lane, points]))""")


def first_clear_step(kl: dict) -> tuple[int | None, float, float]:
    lanes = list(kl)
    a, b = (ema([v for _, v in kl[lane]]) for lane in lanes[:2])
    steps = [s for s, _ in kl[lanes[0]]]
    n = min(len(a), len(b))
    clear = None
    for i in range(n - 1, -1, -1):
        if a[i] <= b[i]:
            break
        clear = steps[i]
    return clear, a[min(n - 1, 20)] - b[min(n - 1, 20)], a[n - 1] - b[n - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from conftest import CHROMIUM, CHROMIUM_ARGS

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the table only
            pass

    handler = functools.partial(Quiet, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"{'seed':>4} | {'KL(β=1) > KL(β=4) from step':>27} | {'gap at point 20':>15} | {'gap at the end':>14}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/train/index.html")
        for seed in args.seeds:
            clear, early, end = first_clear_step(race(page, seed, args.epochs))
            print(f"{seed:>4} | {str(clear):>27} | {early:>15.2f} | {end:>14.2f}")
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
