"""The live planes in a real browser (Debian's Chromium via Playwright); prints a table.

    python benchmarks/live_plane.py [--moves 600] [--pages 10] [--seconds 20]

1. Pointer move -> every decoded canvas repainted, measured inside the page (performance.now() minus the
   event's timeStamp), with 6 models shown: 2-D MLP and conv models and two 16-D models (UMAP grid inverse).
   Target p95 <= 16 ms. The classifier's verdict follows each repaint when the page is idle: reported apart.
2. Requests the page sends while hovering for 10 s (target 0), and the server's CPU while 10 pages hover at
   once (target < 5% of one core).
3. The first visit's download for the live planes (runtime, decoders, classifier, page code, test codes, plane
   pictures), compressed as served and raw. Aim <= 6 MB compressed.
4. Cold start to HTTP 200 against a bare torch + Gradio app (target <= 1.3x): the export never runs at start.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from explorer_latency import BARE_APP, start  # noqa: E402
from explorer import rules  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SIX = ["ae-2d", "vae-2d", "aae-mixture10-2d", "aae-2d", "vae-16d", "aae-16d"]  # mlp, conv, 2-D and 16-D
LIVE = "() => window.latentExplorer && window.latentExplorer.stats().live"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def open_page(browser, url, models=None):
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(url)
    page.wait_for_function(LIVE, timeout=120_000)
    for name in models or []:
        if name in page.evaluate("() => window.latentExplorer.stats().models.map(k => k.split('/')[1])"):
            continue
        picker = page.get_by_label("Models to compare (up to 6)")
        picker.click()
        picker.fill(name)
        picker.press("Enter")
        page.wait_for_function("n => window.latentExplorer.stats().models.some(k => k.endsWith('/' + n)) && "
                               "window.latentExplorer.stats().live", arg=name, timeout=120_000)
    page.wait_for_timeout(1500)  # the last pin and view have arrived
    return page


def hover(page, plane: int, moves: int, pause: float = 1 / 60):
    """Move the mouse along a Lissajous curve over a plane's data rectangle, one move per frame."""
    box = page.locator(".le-over").nth(plane).bounding_box()
    r = rules.plane_rect(box["width"])  # the data rectangle, as the page lays it out
    for i in range(moves):
        t = i / moves * 2 * np.pi
        x = box["x"] + r["left"] + r["side"] * (0.5 + 0.45 * np.sin(3 * t))
        y = box["y"] + r["top"] + r["side"] * (0.5 + 0.45 * np.sin(2 * t + 0.5))
        page.mouse.move(float(x), float(y))
        if pause:
            time.sleep(pause)


RESET = ("() => { const l = window.latentExplorer; l.times.length = 0; l.work.length = 0; "
         "l.verdictTimes.length = 0; }")


def repaint_times(page, url, moves: int):
    page.evaluate(RESET)
    repaint, work, verdict = [], [], []
    for plane in (0, 1, 4):  # a 2-D MLP plane, a 2-D conv plane, a 16-D UMAP plane
        hover(page, plane, moves // 3)
        stats = page.evaluate("() => window.latentExplorer.stats()")
        repaint += stats["repaint"]
        work += stats["work"]
        verdict += stats["verdict"]
        page.evaluate(RESET)
    return np.asarray(repaint), np.asarray(work), np.asarray(verdict)


def requests_while_hovering(page, seconds: float = 10.0):
    seen = []
    listener = lambda r: seen.append(r.url)  # noqa: E731
    page.on("request", listener)
    hover(page, 0, int(seconds * 60))
    page.remove_listener("request", listener)
    return seen


def many_pages_cpu(browser, url, server_pid: int, pages: int, seconds: float):
    """pages pages hover at once for `seconds`: each page moves its own pointer over a plane at 60 Hz (pointer
    events dispatched in the page, so all pages move together); the server's CPU time over that window."""
    opened = [open_page(browser, url) for _ in range(pages)]
    counted = sum(p.evaluate("() => window.latentExplorer.stats().repaints") for p in opened)
    before, started = cpu_seconds(server_pid), time.perf_counter()
    for p in opened:  # started without waiting: they run side by side
        p.evaluate("""([seconds, margins]) => {
            const el = document.querySelectorAll('.le-over')[1];
            const box = el.getBoundingClientRect();
            const side = box.width - Math.max(margins.left + margins.right, margins.top + margins.bottom);
            const t0 = performance.now();
            const id = setInterval(() => {
                const t = (performance.now() - t0) / 1000;
                if (t > seconds) return clearInterval(id);
                el.dispatchEvent(new PointerEvent('pointermove', {bubbles: true, pointerType: 'mouse',
                    clientX: box.left + margins.left + side * (0.5 + 0.45 * Math.sin(3 * t)),
                    clientY: box.top + margins.top + side * (0.5 + 0.45 * Math.sin(2 * t + 0.5))}));
            }, 1000 / 60);
        }""", [seconds, rules.PLANE_MARGINS])
    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    used = cpu_seconds(server_pid) - before
    repaints = sum(p.evaluate("() => window.latentExplorer.stats().repaints") for p in opened) - counted
    for p in opened:
        p.context.close()
    return used / elapsed, repaints / elapsed


def first_visit(browser, url):
    """Every /live/ file a fresh page loads: (compressed as served, raw) bytes by kind."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url) if "/live/" in r.url else None)
    page.goto(url)
    page.wait_for_function(LIVE, timeout=120_000)
    page.wait_for_timeout(1000)
    page.context.close()
    kinds: dict[str, list[int]] = {}
    for u in dict.fromkeys(urls):
        with urllib.request.urlopen(urllib.request.Request(u, headers={"Accept-Encoding": "br"})) as r:
            packed = r.read()
            encoding = r.headers.get("Content-Encoding", "identity")
        with urllib.request.urlopen(urllib.request.Request(u, headers={"Accept-Encoding": "identity"})) as r:
            raw = r.read()
        kind = ("runtime (ONNX Runtime Web)" if "onnxruntime-web" in u else "page code" if u.endswith((".js", ".css"))
                else "decoders + classifier (.onnx)" if u.endswith(".onnx") else "test codes (.bin)"
                if u.endswith(".bin") else "plane pictures (.png)")
        k = kinds.setdefault(kind, [0, 0, 0])
        k[0] += len(packed) if encoding != "identity" else len(raw)
        k[1] += len(raw)
        k[2] += 1
    return kinds


def cold_start(runs: int = 3):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BARE_APP)
    bare, app = [], []
    for _ in range(runs):
        proc, _, seconds = start([sys.executable, f.name])
        bare.append(seconds)
        proc.terminate(), proc.wait()
        proc, _, seconds = start([sys.executable, "app.py"])
        app.append(seconds)
        proc.terminate(), proc.wait()
    return float(np.median(app)), float(np.median(bare))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moves", type=int, default=600)
    p.add_argument("--pages", type=int, default=10)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    proc, url, _ = start([sys.executable, "app.py"])
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            kinds = first_visit(browser, url)
            page = open_page(browser, url, SIX)
            repaint, work, verdict = repaint_times(page, url, args.moves)
            rows.append((f"pointer move -> {len(SIX)} decoded canvases repainted ({len(repaint)} moves; 2-D mlp, "
                         "2-D conv and 16-D planes), from the event's time stamp",
                         f"p50 {np.percentile(repaint, 50):.1f} ms",
                         f"p95 {np.percentile(repaint, 95):.1f} ms (max {repaint.max():.1f})",
                         "target p95 <= 16 ms"))
            rows.append(("· of which the page's own decoding and painting (from its handler)",
                         f"p50 {np.percentile(work, 50):.1f} ms", f"p95 {np.percentile(work, 95):.1f} ms", ""))
            rows.append(("the classifier's verdict after a repaint (6 digits, one batch)",
                         f"p50 {np.percentile(verdict, 50):.1f} ms", f"p95 {np.percentile(verdict, 95):.1f} ms",
                         "runs when the page is idle"))
            seen = requests_while_hovering(page)
            queue = [u for u in seen if "/gradio_api/queue" in u]
            rows.append(("requests while hovering for 10 s", f"{len(seen)} in all", f"{len(queue)} to the queue",
                         "target 0"))
            page.context.close()
            share, rate = many_pages_cpu(browser, url, proc.pid, args.pages, args.seconds)
            rows.append((f"server CPU while {args.pages} pages hover at once ({args.seconds:.0f} s; the pages repainted "
                         f"{rate:.0f} times/s in all)", f"{100 * share:.1f}% of one core", "", "target < 5%"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    packed, raw = sum(v[0] for v in kinds.values()), sum(v[1] for v in kinds.values())
    rows.append(("first visit: the live planes' files (3 default models)", f"{packed / 1e6:.2f} MB compressed",
                 f"{raw / 1e6:.2f} MB raw", "aim <= 6 MB compressed; cached (immutable names)"))
    for kind, (k_packed, k_raw, n) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        rows.append((f"· {kind}, {n} file{'s' * (n > 1)}", f"{k_packed / 1e6:.2f} MB", f"{k_raw / 1e6:.2f} MB", ""))
    app, bare = cold_start()
    rows.append(("cold start to HTTP 200 (median of 3)", f"app {app:.2f} s", f"bare Gradio+torch {bare:.2f} s",
                 f"ratio {app / bare:.2f} (target <= 1.3)"))
    print("\n| measure | value | value | target |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
