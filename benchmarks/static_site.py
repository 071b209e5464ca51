"""The static edition in headless Chromium, served by `python -m http.server` (no Python app): prints a table.

    python benchmarks/static_site.py [--site DIR] [--runs 20]

- requests that are not files of the folder, in a walk through every tab (target 0);
- a 20 x 20 manifold grid in 6 models, p50 / p95 over runs (target p95 <= 100 ms);
- 64 prior samples in each of 6 models with the classifier's caption (target <= 100 ms);
- a drawn digit made MNIST-like and reconstructed (encoder + decoder + error in nats) in 6 models (target <= 50 ms);
- load from a cold cache to live planes (target < 5 s), 3 fresh browser contexts;
- the first visit's download with the 3 default models (target <= 8 MB compressed) and each further model's cost.

http.server sends files as they are; a real host compresses them: "compressed" is each fetched file gzipped
(level 6) and brotli'd (quality 9) here, summed. Timings are on a shared 2-core machine: the load average is
printed with them.
"""
from __future__ import annotations

import argparse
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import brotli
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIX = ["ae-2d", "vae-2d", "aae-mixture10-2d", "ae-16d", "vae-16d", "aae-16d"]  # 4 conv decoders: the heavy case
SIX_MLP = ["ae-2d", "aae-mixture10-2d", "aae-guided-2d", "cvae-2d", "caae-2d", "aae-cluster16"]  # MLP decoders only
DEFAULTS = ["ae-2d", "vae-2d", "aae-mixture10-2d"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TABS = ["planes", "scatter", "manifold", "reconstructions", "traversal", "samples", "conditional", "clusters", "train"]
DRAW = """() => {  // a 7 drawn on the Reconstructions tab's canvas
  const c = document.querySelector('.lv-sketch-canvas'), g = c.getContext('2d');
  g.lineWidth = 22; g.lineCap = 'round'; g.beginPath(); g.moveTo(70, 60); g.lineTo(210, 60); g.lineTo(120, 230);
  g.stroke(); window.latentViews.recon.sketch.drawn = true; }"""


def serve(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc, f"http://127.0.0.1:{port}/"


def packed(folder: Path, names) -> tuple[int, int, int]:
    """Raw, gzip and brotli bytes of these files."""
    raw = gz = br = 0
    for name in names:
        data = (folder / name).read_bytes()
        raw += len(data)
        gz += len(data) if name.endswith((".png", ".gz")) else len(gzip.compress(data, 6))
        br += len(data) if name.endswith((".png", ".gz")) else len(brotli.compress(data, quality=9))
    return raw, gz, br


def files_of(urls, base) -> list[str]:
    return sorted({urlparse(u).path.lstrip("/") or "index.html" for u in urls if u.startswith(base)})


def first_visit(browser, base, query) -> tuple[float, list[str]]:
    """A fresh context (cold cache): seconds from navigation to live planes, and the URLs it fetched."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, service_workers="block")
    page = context.new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    started = time.perf_counter()
    page.goto(base + query)
    page.wait_for_function("window.latentExplorer && window.latentExplorer.stats().live", timeout=120_000)
    seconds = time.perf_counter() - started
    page.wait_for_timeout(1500)  # the verdicts' classifier and anything late
    context.close()
    return seconds, urls


def walk(browser, base, query, folder):
    """Every tab once: the requests that are not files of the folder."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(base + query)
    page.wait_for_function("window.latentExplorer && window.latentExplorer.stats().live", timeout=120_000)
    for tab in TABS:
        page.click(f"button[data-tab={tab}]")
        page.wait_for_timeout(3000)
    context.close()
    strangers = [u for u in urls if not u.startswith(base) or not (folder / (urlparse(u).path.lstrip("/") or
                                                                              "index.html")).is_file()]
    return len(urls), [u for u in strangers if not u.endswith("/favicon.ico")]


def grid_times(browser, base, runs: int, models) -> list[float]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(base + "?tab=manifold&models=" + ",".join(models))
    page.wait_for_function("window.latentViews && window.latentViews.grids && window.latentViews.grids.times.length",
                           timeout=120_000)
    times = [page.evaluate("() => window.latentViews.grids.draw(20, false)") for _ in range(runs)]
    context.close()
    return times


def timings(browser, base, runs: int) -> dict[str, list[float]]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(base + "?models=" + ",".join(SIX))
    page.wait_for_function("window.latentExplorer && window.latentExplorer.stats().live", timeout=120_000)
    out = {}
    page.click("button[data-tab=manifold]")
    page.wait_for_function("window.latentViews && window.latentViews.grids && window.latentViews.grids.times.length",
                           timeout=120_000)
    out["grid"], out["grid_first"] = [], []
    for _ in range(runs):
        out["grid"].append(page.evaluate("() => window.latentViews.grids.draw(20, false)"))
        out["grid_first"].append(page.evaluate("() => window.latentViews.grids.first"))
    page.click("button[data-tab=samples]")
    page.wait_for_function("window.latentViews.samples && window.latentViews.samples.times.length", timeout=120_000)
    out["samples"], out["caption"] = [], []
    for s in range(runs):
        out["samples"].append(page.evaluate("(s) => window.latentViews.samples.sample(s, 64)", s))
        out["caption"].append(page.evaluate("() => window.latentViews.samples.captioned"))
    page.click("button[data-tab=reconstructions]")
    page.wait_for_function("window.latentViews.recon && window.latentViews.recon.times.length", timeout=120_000)
    page.evaluate(DRAW)
    out["drawn"] = [page.evaluate("() => window.latentViews.recon.drawnOnly()") for _ in range(runs)]
    context.close()
    return out


def pct(values, q) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, help="a built static edition (default: build all models into a temp dir)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory()
    folder = args.site
    if folder is None:
        from explorer import site

        folder = Path(tmp.name) / "site"
        site.build(folder, log=lambda *_: None)
    proc, base = serve(folder)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            loads, fetched = [], None
            for _ in range(3):
                seconds, urls = first_visit(browser, base, "")
                loads.append(seconds)
                fetched = fetched or files_of(urls, base)
            _, more = first_visit(browser, base, "?models=" + ",".join([*DEFAULTS, "vae-16d"]))
            extra = sorted(set(files_of(more, base)) - set(fetched))
            asked, strangers = walk(browser, base, "?models=" + ",".join(SIX), folder)
            times = timings(browser, base, args.runs)
            times["grid_mlp"] = grid_times(browser, base, args.runs, SIX_MLP)
            browser.close()
    finally:
        proc.terminate()
    load = os.getloadavg()
    raw, gz, br = packed(folder, fetched)
    xraw, xgz, xbr = packed(folder, extra)
    enc = [f for f in os.listdir(folder / "models") if (folder / "models" / f / "encoder.onnx").is_file()]
    egz = np.mean([packed(folder, [f"models/{m}/encoder.onnx"])[1] for m in enc])
    rows = [
        ("requests not files of the folder (walk of every tab, 6 models)", f"{len(strangers)} of {asked}", "0",
         "met" if not strangers else "missed"),
        ("20x20 grid in 6 models, p50 / p95", f"{pct(times['grid'], 50):.0f} / {pct(times['grid'], 95):.0f} ms",
         "p95 <= 100 ms", "met" if pct(times["grid"], 95) <= 100 else "missed"),
        ("20x20 grid in 6 MLP models (no conv decoder), p50 / p95",
         f"{pct(times['grid_mlp'], 50):.0f} / {pct(times['grid_mlp'], 95):.0f} ms", "p95 <= 100 ms",
         "met" if pct(times["grid_mlp"], 95) <= 100 else "missed"),
        ("... the first model's grid on screen (6 models above), p50 / p95",
         f"{pct(times['grid_first'], 50):.0f} / {pct(times['grid_first'], 95):.0f} ms", "reported", ""),
        ("64 samples in each of 6 models on screen, p50 / p95",
         f"{pct(times['samples'], 50):.0f} / {pct(times['samples'], 95):.0f} ms", "<= 100 ms",
         "met" if pct(times["samples"], 95) <= 100 else "missed"),
        ("... and the classifier's caption written, p50 / p95",
         f"{pct(times['caption'], 50):.0f} / {pct(times['caption'], 95):.0f} ms", "reported", ""),
        ("drawn digit reconstructed in 6 models, p50 / p95",
         f"{pct(times['drawn'], 50):.0f} / {pct(times['drawn'], 95):.0f} ms", "<= 50 ms",
         "met" if pct(times["drawn"], 95) <= 50 else "missed"),
        ("cold load to live planes (3 default models), median / max of 3",
         f"{np.median(loads):.2f} / {max(loads):.2f} s", "< 5 s", "met" if max(loads) < 5 else "missed"),
        ("first visit, 3 default models: raw / gzip / brotli",
         f"{raw / 1e6:.1f} / {gz / 1e6:.1f} / {br / 1e6:.1f} MB", "<= 8 MB compressed",
         "met" if gz <= 8e6 else "met with brotli, missed with gzip" if br <= 8e6 else "missed"),
        ("a 4th model on the planes (vae-16d): raw / gzip / brotli",
         f"{xraw / 1e6:.2f} / {xgz / 1e6:.2f} / {xbr / 1e6:.2f} MB", "reported", ""),
        ("its encoder, fetched when Reconstructions opens (mean, gzip)", f"{egz / 1e6:.2f} MB", "reported", ""),
    ]
    print(f"| measure | measured | target | |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average (1, 5, 15 min) after the run: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; "
          f"{os.cpu_count()} CPUs; runs: {args.runs}")
    print("first visit's files:", ", ".join(fetched))
    print("a 4th model's files:", ", ".join(extra))


if __name__ == "__main__":
    main()
