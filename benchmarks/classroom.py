"""A class of 30 on one 2-core server for 60 s, each student a separate process; prints a table.

    python benchmarks/classroom.py [--seconds 60] [--browsers 6] [--clients 24] [--settle 40] [--no-job]
                                   [--server-views]

- --browsers headless Chromium pages (one Playwright process each) run the lesson's actions in turn: hover and
  click the planes, switch the background, reconstruct, sample, draw the manifold grids (the last three are drawn
  in the page: their time is the page's, and any request they make to the Gradio queue is counted);
- --clients `gradio_client` users ask the server what a page still asks it, at a human pace (one every 2-4 s): a
  click (/decode: what a page without WebAssembly sends) and a background switch (/load_models). --server-views:
  they also call /reconstruct, /sample and /manifold, as every page did before the views ran in the page;
- one training job (a VAE on the bundled data) trains meanwhile, started and polled through the API.
The server and the job run at normal priority, and so do a few "probe" students (--probe-browsers,
--probe-clients) whose numbers are what a student sees; the rest of the class runs at nice 19 (their Chromium
sessions' scheduling groups too), so that their client-side work on this one machine takes the server's two
cores as little as possible; their requests still reach the server as fast as they make them. --no-job: no
training job. --settle S: wait S seconds after start-up first (the app's warm-up, as before a class).
Per action: p50/p95 latency and errors (probes and the rest of the class apart); the pages' hover repaint time
(against one page alone); the server's CPU and peak RSS. Targets: 0 errors, p95 <= 1 s for every server
action, hover as fast as alone, RSS <= 2 GB.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LIVE = "() => window.latentExplorer && window.latentExplorer.stats().live"
JOIN = "/gradio_api/queue/join"  # a request to the Gradio queue: an event the server handles
CROWD_NICE = 19  # most of the simulated class: on this one machine their own CPU work (Chromium running the
# decoders, gradio_client decoding replies) would otherwise starve the server, as real students' laptops do not


def client_actions(rng, server_views=False):
    """One action of an API student: (name, endpoint, args)."""
    kind = rng.choice(["click", "click", "background", *(("reconstruct", "sample", "manifold") if server_views
                                                          else ())])
    if kind == "click":
        return kind, "/decode", (DEFAULT, int(rng.integers(3)), float(rng.uniform(-2, 2)), float(rng.uniform(-2, 2)),
                                 "umap", "auto")
    if kind == "background":
        return kind, "/load_models", (DEFAULT, "umap", str(rng.choice(["none", "manifold", "prior density",
                                                                        "classifier"])), True)
    if kind == "reconstruct":
        return kind, "/reconstruct", (DEFAULT, "random", "", None, int(rng.integers(1000)), "umap")
    if kind == "sample":
        return kind, "/sample", (DEFAULT, int(rng.integers(1000)))
    return kind, "/manifold", (DEFAULT, "umap", 15, False, "auto")


def api_student(url, seconds, seed, out, crowd, server_views=False):
    from gradio_client import Client

    os.nice(CROWD_NICE if crowd else 0)

    rng = np.random.default_rng(seed)
    client = Client(url, verbose=False)
    records, end = [], time.time() + seconds
    time.sleep(rng.uniform(0, 3))
    while time.time() < end:
        kind, endpoint, args = client_actions(rng, server_views)
        t = time.perf_counter()
        try:
            client.predict(*args, api_name=endpoint)
            records.append((kind, time.perf_counter() - t, ""))
        except Exception as e:  # an error is a result here
            records.append((kind, time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:120]}"))
        time.sleep(rng.uniform(2, 4))
    out.put(("API", crowd, records, {}))


def trainer(url, seconds, out):
    from gradio_client import Client

    client = Client(url, verbose=False)
    records = []
    t = time.perf_counter()
    try:
        job = client.predict("vae", "mlp", 2, 1.0, "gaussian", False, 50, 128, 1e-3, 0, "bundled", None,
                             "classroom-race", 0, api_name="/train_start")[0]
        records.append(("train start", time.perf_counter() - t, ""))
    except Exception as e:
        out.put(("job", False, [("train start", time.perf_counter() - t, f"{type(e).__name__}: {e}")], {}))
        return
    end, status = time.time() + seconds, {}
    while time.time() < end:
        t = time.perf_counter()
        try:
            status = client.predict(job, 0, api_name="/train_status")
            records.append(("train status", time.perf_counter() - t, ""))
        except Exception as e:
            records.append(("train status", time.perf_counter() - t, f"{type(e).__name__}: {e}"))
        time.sleep(2)
    try:
        client.predict(job, api_name="/train_stop")
    except Exception:
        pass
    out.put(("job", False, records, {"epochs": status.get("epoch") if isinstance(status, dict) else None}))


def renice_children():
    """Chromium sets its renderers' priority itself: keep every thread of every process under this one, and
    their session's scheduling group, at CROWD_NICE."""
    me = os.getpid()
    while True:
        parents = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    pass
        for pid in parents:
            p = pid
            while p in parents and p not in (me, 1, 0):
                p = parents[p]
            if p == me and pid != me:
                try:  # Playwright starts Chromium in a session of its own, and Linux schedules each session's
                    Path(f"/proc/{pid}/autogroup").write_text(str(CROWD_NICE))  # group as one (autogroup)
                except OSError:
                    pass
                for task in Path(f"/proc/{pid}/task").glob("*"):  # Linux: a nice value is per thread
                    try:
                        if os.getpriority(os.PRIO_PROCESS, int(task.name)) != CROWD_NICE:
                            os.setpriority(os.PRIO_PROCESS, int(task.name), CROWD_NICE)
                    except (OSError, ValueError):
                        pass
        time.sleep(1)


def browser_student(url, seconds, seed, out, crowd):
    from playwright.sync_api import sync_playwright

    from explorer import rules

    if crowd:
        os.nice(CROWD_NICE)
        threading.Thread(target=renice_children, daemon=True).start()

    rng = random.Random(seed)
    records, repaint, end = [], [], time.time() + seconds
    joins = []  # requests to the Gradio queue while a view is drawn in the page (there should be none)

    def timed(kind, act, wait, timeout=20_000):
        t = time.perf_counter()
        try:
            act()
            page.wait_for_function(wait[0], arg=wait[1] if len(wait) > 1 else None, timeout=timeout)
            records.append((kind, time.perf_counter() - t, ""))
        except Exception as e:
            records.append((kind, time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:120]}"))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        t = time.perf_counter()
        try:  # a class's first minute: 30 pages opening at once on two cores
            page.goto(url, timeout=120_000)
            page.wait_for_function(LIVE, timeout=120_000)
            records.append(("open", time.perf_counter() - t, ""))
        except Exception as e:  # a result too; this student then does nothing more
            records.append(("open", time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:120]}"))
            end = 0
        while time.time() < end:
            action = rng.choice(["hover", "hover", "background", "reconstruct", "sample", "manifold"])
            try:  # one action; whatever fails is a result, and the student goes on
                if action == "hover":
                    page.get_by_role("tab", name="Latent planes").click()
                    box = page.locator(".le-over").nth(rng.randrange(3)).bounding_box()
                    r = rules.plane_rect(box["width"])  # the data rectangle, as the page lays it out
                    left, top, side = box["x"] + r["left"], box["y"] + r["top"], r["side"]
                    for i in range(90):  # 1.5 s at 60 Hz, then a click pins the point
                        page.mouse.move(left + side * (0.5 + 0.45 * np.sin(i / 9)),
                                        top + side * (0.5 + 0.45 * np.cos(i / 13)))
                        time.sleep(1 / 60)
                    timed("click (pin)",
                          lambda: page.mouse.click(left + side * rng.random(), top + side * rng.random()),
                          ("() => true",))
                    repaint += page.evaluate("() => window.latentExplorer.stats().repaint")
                    page.evaluate("() => { window.latentExplorer.times.length = 0; }")
                elif action == "background":
                    page.get_by_role("tab", name="Latent planes").click()
                    old = page.evaluate("() => window.latentExplorer.view.models[0].layer")
                    pick = rng.choice(["none", "manifold", "prior density", "classifier"])

                    def switch():
                        page.get_by_label("Plane background").click()
                        page.get_by_role("option", name=pick, exact=True).click()
                    timed("background", switch, ("old => window.latentExplorer.view.models[0].layer !== old || "
                                                 "window.latentExplorer.view.models[0].layer.length === 0", old))
                else:  # drawn in the page (explorer/static/views): its own controls, its own times
                    tab, button, view, name = {
                        "reconstruct": ("Reconstructions", "Reconstruct", "#recon-view", "recon"),
                        "sample": ("Samples", "Sample from the priors", "#samples-view", "samples"),
                        "manifold": ("Manifold grids", "Draw grids", "#grids-view", "grids")}[action]
                    page.get_by_role("tab", name=tab).click()
                    try:
                        page.wait_for_function(f"() => window.latentViews && window.latentViews.{name} && "
                                               f"window.latentViews.{name}.times.length > 0", timeout=60_000)
                    except Exception as e:
                        records.append((f"{action} in the page (first)", 60.0,
                                        f"{type(e).__name__}: {str(e)[:120]}"))
                        continue
                    # a new seed or grid size each time, as a student exploring
                    if action == "reconstruct":
                        page.locator(f"{view} select").first.select_option("random")
                        page.locator(f"{view} input[type=number]").first.fill(str(rng.randrange(10**6)))
                    elif action == "sample":
                        page.locator(f"{view} input[type=number]").first.fill(str(rng.randrange(10**6)))
                    else:
                        page.locator(f"{view} input[type=range]").evaluate(
                            "(e, v) => { e.value = v; }", str(rng.randrange(8, 22)))
                    count = page.evaluate(f"() => window.latentViews.{name}.times.length")
                    seen = []
                    listen = lambda r: seen.append(r.url) if JOIN in r.url else None  # noqa: E731
                    page.on("request", listen)
                    timed(f"{action} in the page",
                          lambda: page.locator(view).get_by_role("button", name=button).click(),
                          (f"n => window.latentViews.{name}.times.length > n", count))
                    page.wait_for_timeout(300)
                    page.remove_listener("request", listen)
                    joins.extend(seen)
                time.sleep(rng.uniform(1, 2))
            except Exception as e:
                records.append((action, 0.0, f"{type(e).__name__}: {str(e)[:120]}"))
                time.sleep(1)
        browser.close()
    out.put(("page", crowd, records, {"repaint": repaint, "view_joins": len(joins)}))


def alone_repaint(url) -> list[float]:
    from playwright.sync_api import sync_playwright

    from explorer import rules

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url)
        page.wait_for_function(LIVE, timeout=120_000)
        box = page.locator(".le-over").nth(1).bounding_box()
        r = rules.plane_rect(box["width"])  # the data rectangle, as the page lays it out
        for i in range(300):
            page.mouse.move(box["x"] + r["left"] + r["side"] * (0.5 + 0.45 * np.sin(i / 9)),
                            box["y"] + r["top"] + r["side"] * (0.5 + 0.45 * np.cos(i / 13)))
            time.sleep(1 / 60)
        times = page.evaluate("() => window.latentExplorer.stats().repaint")
        browser.close()
    return times


def watch(pid, stop, found):
    from live_plane import cpu_seconds

    found["cpu0"], found["t0"], found["rss"] = cpu_seconds(pid), time.perf_counter(), 0.0
    while not stop.is_set():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                found["rss"] = max(found["rss"], int(line.split()[1]) / 1024)
        time.sleep(0.5)
    found["cpu"] = (cpu_seconds(pid) - found["cpu0"]) / (time.perf_counter() - found["t0"])


def main():
    from explorer_latency import start

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--browsers", type=int, default=6)
    p.add_argument("--clients", type=int, default=24)
    p.add_argument("--settle", type=float, default=0, help="seconds to wait after start-up (its warm-up)")
    p.add_argument("--no-job", dest="job", action="store_false", help="no training job meanwhile")
    p.add_argument("--server-views", action="store_true",
                   help="API users also call /reconstruct, /sample and /manifold (what every page asked before)")
    p.add_argument("--probe-browsers", type=int, default=1, help="pages at normal priority (the rest: nice 19)")
    p.add_argument("--probe-clients", type=int, default=4, help="API users at normal priority (the rest: nice 19)")
    args = p.parse_args()
    import tempfile

    runs = tempfile.mkdtemp(prefix="classroom-runs-")
    proc, url, _ = start([sys.executable, "app.py"], env={"LATENT_EXPLORER_RUNS": runs})
    try:
        time.sleep(args.settle)
        alone = alone_repaint(url) if args.browsers else []
        out = mp.Queue()
        stop, found = threading.Event(), {}
        watcher = threading.Thread(target=watch, args=(proc.pid, stop, found))
        students = [mp.Process(target=trainer, args=(url, args.seconds, out))] if args.job else []
        students += [mp.Process(target=browser_student, args=(url, args.seconds, k, out, k >= args.probe_browsers))
                     for k in range(args.browsers)]
        students += [mp.Process(target=api_student, args=(url, args.seconds, 100 + k, out, k >= args.probe_clients,
                                                          args.server_views))
                     for k in range(args.clients)]
        for s in students:
            s.start()
        time.sleep(5)  # the pages load first; then measure the class at work
        watcher.start()
        results = [out.get(timeout=args.seconds + 600) for _ in students]
        stop.set()
        watcher.join()
        for s in students:
            s.join(timeout=60)
    finally:
        proc.terminate()
        proc.wait()
    by_kind: dict[tuple, list] = {}
    repaint = {False: [], True: []}
    view_joins = 0
    for who, crowd, records, extra in results:
        for kind, seconds, error in records:
            by_kind.setdefault((crowd, f"{who}: {kind}"), []).append((seconds, error))
        repaint[crowd] += extra.get("repaint", [])
        view_joins += extra.get("view_joins", 0)
    print(f"\n{args.browsers} pages + {args.clients} API users + {int(args.job)} training job for "
          f"{args.seconds:.0f} s; {args.probe_browsers} page(s) and {args.probe_clients} API users at normal "
          f"priority, the rest of the class at nice {CROWD_NICE}\n")
    print("| who | action | count | p50 | p95 | errors |\n|---|---|---|---|---|---|")
    for (crowd, kind), rows in sorted(by_kind.items()):
        times = np.asarray([s for s, _ in rows]) * 1000
        errors = [e for _, e in rows if e]
        print(f"| {'class' if crowd else 'probe'} | {kind} | {len(rows)} | {np.percentile(times, 50):.0f} ms | "
              f"{np.percentile(times, 95):.0f} ms | {len(errors)}{' (' + errors[0] + ')' if errors else ''} |")
    for crowd, times in repaint.items():
        if times:
            print(f"| {'class' if crowd else 'probe'} | page: hover repaint, in class | {len(times)} | "
                  f"{np.percentile(times, 50):.1f} ms | {np.percentile(times, 95):.1f} ms | |")
    if alone:
        print(f"| probe | page: hover repaint, one page alone | {len(alone)} | {np.percentile(alone, 50):.1f} ms | "
              f"{np.percentile(alone, 95):.1f} ms | |")
    print(f"\nrequests to the Gradio queue while the pages drew reconstructions, samples and grids: {view_joins}")
    print(f"server: {100 * found['cpu']:.0f}% of one core over the run, peak RSS {found['rss']:.0f} MB")
    print(json.dumps({"cpu": found["cpu"], "rss_mb": found["rss"]}))


if __name__ == "__main__":
    main()
