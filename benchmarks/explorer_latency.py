"""Explorer speed and memory on this machine; prints a table.

    python benchmarks/explorer_latency.py [--clicks 60] [--no-browser]

1. Server handler: one click decoded in 6 models (click_targets + decoded strip), p50/p95 over 300 clicks.
2. Real browser without WebAssembly (the live planes' fallback: a click decodes on the server): Playwright +
   Debian's Chromium clicks the first plane; time until the server's decoded image is replaced, p50/p95 over
   --clicks clicks (target p95 <= 200 ms). With WebAssembly the page decodes itself: benchmarks/live_plane.py.
3. Cold start: `python app.py` until the page answers HTTP 200, against a bare Gradio Blocks app that
   imports torch (target <= 1.3x).
4. Memory: RSS of the running app after loading the default models and the clicks (target <= 1.5 GB).
(A fresh 16-D model's UMAP plane: benchmarks/fresh_umap.py.)
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
BARE_APP = """
import os
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
import torch, torchvision, gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("bare")
demo.launch(server_port=int(os.environ["PORT"]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, env=None):
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PORT": str(port), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return proc, url, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError(f"{cmd} did not start")
            time.sleep(0.05)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values, q):
    return float(np.percentile(np.asarray(values) * 1000, q))


def server_handler(n: int = 300):
    from explorer import actions
    from explorer.registry import Registry

    reg = Registry()
    keys = list(reg.available())[:6]
    entries = [reg.get(k) for k in keys]
    test = reg.test
    from explorer.ui.models import classifier

    clf = classifier()
    rng = np.random.default_rng(0)
    times = []
    for i in range(n):
        view = entries[0].view("umap")
        x0, x1, y0, y1 = view.extent
        xy = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        t = time.perf_counter()
        actions.decoded_strip(actions.click_targets(entries, 0, xy), test, clf)
        times.append(time.perf_counter() - t)
    return keys, times[10:]


def browser_clicks(url: str, clicks: int):
    from playwright.sync_api import sync_playwright

    from explorer import rules

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_init_script("delete window.WebAssembly")  # the fallback: decoded on the server
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(".le-status.le-warn", timeout=60_000)
        plane = page.locator(".le-over").first
        box = plane.bounding_box()
        r = rules.plane_rect(box["width"])  # the data rectangle, as the page lays it out
        box = {"width": r["side"], "height": r["side"], "x": r["left"], "y": r["top"]}
        rng = np.random.default_rng(1)
        for i in range(clicks + 3):
            old = page.evaluate("() => { const i = document.querySelector('#decoded img'); return i ? i.src : null; }")
            fx, fy = rng.uniform(0.2, 0.8, 2)
            t = time.perf_counter()
            plane.click(position={"x": box["x"] + box["width"] * fx, "y": box["y"] + box["height"] * fy})
            page.wait_for_function("old => { const i = document.querySelector('#decoded img');"
                                   " return i && i.src !== old && i.complete && i.naturalWidth > 0; }", arg=old,
                                   timeout=10_000)
            if i >= 3:  # warm-up clicks excluded
                times.append(time.perf_counter() - t)
            time.sleep(0.15)
        browser.close()
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clicks", type=int, default=60)
    p.add_argument("--no-browser", action="store_true")
    args = p.parse_args()
    rows = []
    keys, handler = server_handler()
    rows.append((f"server: one click decoded in {len(keys)} models", f"p50 {pct(handler, 50):.1f} ms",
                 f"p95 {pct(handler, 95):.1f} ms", "target p95 <= 30 ms"))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BARE_APP)
    bare_times, app_times = [], []
    for i in range(3):
        proc, _, seconds = start([sys.executable, f.name])
        bare_times.append(seconds)
        proc.terminate(), proc.wait()
        proc, url, seconds = start([sys.executable, "app.py"])
        app_times.append(seconds)
        if i < 2:
            proc.terminate(), proc.wait()
    bare, app = float(np.median(bare_times)), float(np.median(app_times))
    rows.append(("cold start to HTTP 200 (median of 3)", f"app {app:.2f} s", f"bare Gradio+torch {bare:.2f} s",
                 f"ratio {app / bare:.2f} (target <= 1.3)"))
    try:
        if not args.no_browser:
            clicks = browser_clicks(url, args.clicks)
            rows.append((f"browser without WebAssembly: click -> server's decoded image updated ({len(clicks)} clicks)",
                         f"p50 {pct(clicks, 50):.0f} ms", f"p95 {pct(clicks, 95):.0f} ms", "target p95 <= 200 ms"))
        rows.append(("app RSS after default models + clicks", f"{rss_mb(proc.pid):.0f} MB", "", "target <= 1536 MB"))
    finally:
        proc.terminate()
        proc.wait()
    print("\n| measure | value | value | target |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
