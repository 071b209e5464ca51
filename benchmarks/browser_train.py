"""Training in the browser: which engine, and how the panel feels. python -m benchmarks.browser_train [--runs 5]

Headless Chromium (Playwright, /usr/bin/chromium), one WebAssembly thread (no cross-origin isolation), every
engine in a Web Worker, the Train tab's default model: the 784-512-256-2 MLP VAE (ELU) at batch 128, the whole
step timed (batching from uint8, eps, loss + gradient + Adam, the loss read back). Median of runs of 20 steps.
Candidates: the shipped engine (explorer/static/train/engine.js on the vendored @jax-js/jax 0.1.25, jit),
TensorFlow.js 4.22 (tf.min.js + tfjs-backend-wasm) as written and with an explicit-transpose matMul gradient,
and a plain-JS engine on Float32Arrays (benchmarks/browser/plain_engine.js). The npm packages are fetched with
`npm pack` into benchmarks/out/npm (git-ignored); the shipped page loads only explorer/static.

Then the panel (explorer/static/train/index.html): seconds from Start to the first curve point and the first
plane, the hover repaint (decode + redraw) p95 while a race trains, the epoch's wall time with planes and test
evaluation, and the bytes the engine adds to a first visit (gzip -9 of what the page loads).
"""
from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "explorer" / "static"
NPM = ROOT / "benchmarks" / "out" / "npm"
BENCH = ROOT / "benchmarks" / "browser"
PACKAGES = ["@jax-js/jax@0.1.25", "@tensorflow/tfjs@4.22.0", "@tensorflow/tfjs-backend-wasm@4.22.0"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ENGINE_FILES = ["vendor/jax-js/index.js", "vendor/jax-js/backend-CnjgxpXq.js", "vendor/jax-js/rolldown-runtime-D7D4PA-g.js"]


def fetch_packages() -> None:
    """npm pack each candidate once into benchmarks/out/npm and unpack it beside its tarball."""
    NPM.mkdir(parents=True, exist_ok=True)
    for spec in PACKAGES:
        stem = spec.lstrip("@").replace("/", "-").replace("@", "-")
        if not (NPM / stem / "package").is_dir():
            subprocess.run(["npm", "pack", spec, "--silent"], cwd=NPM, check=True, capture_output=True)
            (NPM / stem).mkdir(exist_ok=True)
            subprocess.run(["tar", "xzf", f"{stem}.tgz", "-C", stem], cwd=NPM, check=True)


def serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    mounts = {"/static/": STATIC, "/npm/": NPM, "/bench/": BENCH}

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                          ".wasm": "application/wasm"}

        def translate_path(self, path):
            path = path.split("?")[0]
            for prefix, base in mounts.items():
                if path.startswith(prefix):
                    return str(base / path[len(prefix):])
            return str(BENCH / "missing")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


ENGINE_JS = """async ([kind, opts]) => {
  const { loadData } = await import("/static/train/data.js");
  const data = await loadData(new URL("/static/data/", location.href));
  const worker = kind === "tfjs" ? new Worker("/bench/tfjs_worker.js") : new Worker("/bench/module_worker.js", { type: "module" });
  return await new Promise((resolve, reject) => {
    worker.onmessage = (e) => { worker.terminate(); resolve(e.data); };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ ...opts, images: data.train.images, npm: new URL("/npm", location.href).href });
  });
}"""


def engines(page, runs: int) -> list[tuple[str, float, str]]:
    rows = []
    for name, kind, opts in [("@jax-js/jax 0.1.25, wasm, jit (shipped engine.js)", "module", {"engine": "jax"}),
                             ("TensorFlow.js 4.22 wasm, explicit-transpose matMul gradient", "tfjs", {"custom": True}),
                             ("TensorFlow.js 4.22 wasm, as written", "tfjs", {"custom": False}),
                             ("plain JS on Float32Arrays (i-k-j matmul)", "module", {"engine": "plain"})]:
        steps = 20 if "plain" not in name else 5
        out = page.evaluate(ENGINE_JS, [kind, {**opts, "steps": steps, "runs": runs}])
        rows.append((name, statistics.median(out["rates"]), f"loss after the runs {out['loss']:.1f}"))
        print(f"  {name}: {statistics.median(out['rates']):,.0f} images/s (runs: "
              f"{', '.join(f'{r:,.0f}' for r in out['rates'])})", flush=True)
    return rows


def panel(page, url: str, runs: int) -> dict:
    """Start -> first curve point and plane (median of runs); hover p95 while a 3-model race trains; epoch time."""
    firsts = []
    for _ in range(runs):
        page.goto(f"{url}/static/train/index.html")
        page.wait_for_selector(".tb-form")
        page.fill("input[name=epochs]", "1")
        page.click("button[name=start]")
        page.wait_for_function("() => window.latentTrain.firstTerms !== null && window.latentTrain.firstPlane !== null",
                               timeout=60_000)
        firsts.append(page.evaluate("() => [window.latentTrain.firstTerms, window.latentTrain.firstPlane]"))
        page.wait_for_function("() => window.latentTrain.state === 'done'", timeout=300_000, polling=500)
    epoch = page.evaluate("() => document.querySelector('.tb-status').textContent")
    page.goto(f"{url}/static/train/index.html")
    page.wait_for_selector(".tb-form")
    page.select_option("select[name=race]", "kinds")
    page.fill("input[name=epochs]", "2")
    page.click("button[name=start]")
    page.wait_for_function("() => window.latentTrain.views.every((v) => v.snapshot)", timeout=120_000)
    box = page.locator(".tb-plane-canvas").first.bounding_box()
    frames = page.evaluate("""async ([x, y, w, h]) => {
      const canvas = document.querySelector(".tb-plane-canvas");
      const times = [];
      for (let i = 0; i < 300; i++) { // pointer moves at 60 Hz; each repaint timed to its next frame
        const t0 = performance.now();
        canvas.dispatchEvent(new PointerEvent("pointermove", { clientX: x + w * (0.2 + 0.6 * ((i * 37) % 100) / 100),
          clientY: y + h * (0.2 + 0.6 * ((i * 61) % 100) / 100), bubbles: true }));
        await new Promise((r) => requestAnimationFrame(r));
        times.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 16));
      }
      return { frame: times, handler: window.latentTrain.views[0].times.slice(-300) };
    }""", [box["x"], box["y"], box["width"], box["height"]])
    page.click("button[name=stop]")
    p95 = lambda xs: sorted(xs)[int(0.95 * (len(xs) - 1))]  # noqa: E731
    return {"first_terms": statistics.median(f[0] for f in firsts), "first_plane": statistics.median(f[1] for f in firsts),
            "hover_p95": p95(frames["handler"]), "hover_frame_p95": p95(frames["frame"]), "epoch_status": epoch}


def download_bytes() -> dict:
    gz = lambda files: sum(len(gzip.compress((STATIC / f).read_bytes(), 9)) for f in files)  # noqa: E731
    train = sorted(str(p.relative_to(STATIC)) for p in (STATIC / "train").glob("*.js"))
    data = sorted(str(p.relative_to(STATIC)) for p in (STATIC / "data").glob("*.gz"))
    return {"engine": gz(ENGINE_FILES), "modules": gz(train + ["train/panel.css"]),
            "data": sum((STATIC / f).stat().st_size for f in data)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    fetch_packages()
    httpd, url = serve()
    load = os.getloadavg()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url}/static/train/index.html")
        webgpu = page.evaluate("async () => !!(navigator.gpu && await navigator.gpu.requestAdapter())")
        print(f"engines (VAE 784-512-256-2, batch 128, Worker, 1 wasm thread; load average {load:.1f} on "
              f"{os.cpu_count()} cores; WebGPU adapter: {'yes' if webgpu else 'none'}):", flush=True)
        rows = engines(page, args.runs)
        feel = panel(page, url, 3)
        browser.close()
    httpd.shutdown()
    size = download_bytes()
    print("\n| engine | images/s (median) |\n|---|---|")
    for name, rate, _ in rows:
        print(f"| {name} | {rate:,.0f} |")
    print("\n| panel target | measured | target | met |\n|---|---|---|---|")
    checks = [("first curve point after Start", f"{feel['first_terms']:.2f} s", "≤ 2 s", feel["first_terms"] <= 2),
              ("first plane after Start", f"{feel['first_plane']:.2f} s", "≤ 2 s", feel["first_plane"] <= 2),
              ("hover repaint p95 (decode + redraw) while a race trains", f"{feel['hover_p95']:.1f} ms", "≤ 16 ms",
               feel["hover_p95"] <= 16),
              ("hover to next frame p95 (incl. the browser's frame)", f"{feel['hover_frame_p95']:.1f} ms", "—", True),
              ("engine added to a first visit (gzip -9)", f"{size['engine'] / 1024:.0f} KB", "≤ 1 MB",
               size["engine"] <= 2**20),
              ("panel modules + css (gzip -9)", f"{size['modules'] / 1024:.0f} KB", "—", True),
              ("training data (10k train + 10k test digits, .gz)", f"{size['data'] / 2**20:.2f} MB", "—", True),
              ("jax-js engine images/s", f"{rows[0][1]:,.0f}", "≥ 2,000", rows[0][1] >= 2000)]
    for what, got, target, ok in checks:
        print(f"| {what} | {got} | {target} | {'yes' if ok else 'NO'} |")
    print(f"\n1-epoch VAE through the panel, last status: {feel['epoch_status']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
