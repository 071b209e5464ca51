"""Peak server memory and disk per bad request (issue 24's memory and disk items, issue 33's items 6-10); prints
a table.

    python benchmarks/hardening_rss.py [--app DIR] [--fresh] [--only TEXT]

Starts `python app.py` (of this checkout, or of DIR: an older checkout, to compare) on the shipped models with an
empty runs/ and temp folder. For each bad input it resets the server's peak RSS (writing 5 to /proc/PID/clear_refs,
Linux), sends the input as a user or script would (gradio_client, or raw HTTP), and reads the server's peak RSS
(VmHWM), its RSS after, and how much its folders (temp, Gradio's cache, runs, exports) grew. Target: each request's
peak growth <= 500 MB, and the server still decodes a click at the end. The big inputs are built once into
benchmarks/out/ (about a minute). ``--only A|B``: the inputs whose name holds A or B.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
SHIPPED = ROOT / "pretrained" / "vae-2d"
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(app_dir: Path, home: Path):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(home / "tmp"),
           "GRADIO_TEMP_DIR": str(home / "cache"), "LATENT_EXPLORER_RUNS": str(home / "runs"),
           "LATENT_EXPLORER_PRETRAINED": str(ROOT / "pretrained"),
           "LATENT_EXPLORER_TIDY_SECONDS": os.environ.get("LATENT_EXPLORER_TIDY_SECONDS", str(TIDY))}
    (home / "tmp").mkdir(parents=True)
    log = open(home / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the app did not start")


def status_mb(pid: int, key: str) -> float:
    line = next(line for line in open(f"/proc/{pid}/status") if line.startswith(key))
    return int(line.split()[1]) / 1024


def folder_mb(path: Path) -> float:
    total = 0
    for f in path.rglob("*") if path.exists() else ():
        try:
            total += f.stat().st_size if f.is_file() and f.name != "app.log" else 0
        except OSError:  # removed meanwhile
            continue
    return total / 2**20


TIDY = 5  # seconds between the janitor's rounds (10 min by default), so "sessions closed" shows within the run


# -- the bad inputs ----------------------------------------------------------------------------------------------
def config_upload(name: str, change: dict) -> list[Path]:
    folder = OUT / "configs" / name
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads((SHIPPED / "config.json").read_text())
    config["model"].update(change)
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copyfile(SHIPPED / "model.safetensors", folder / "model.safetensors")
    return [folder / "config.json", folder / "model.safetensors"]


def npz_bomb() -> list[Path]:
    """The shipped vae-2d with an embedding.npz of about 2 MB whose latents entry unpacks to 2 GiB of zeros."""
    folder = OUT / "npz-bomb"
    path = folder / "embedding.npz"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            with zf.open("latents.npy", "w", force_zip64=True) as f:
                head = io.BytesIO()
                np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                            "shape": (2**28, 2)})
                f.write(head.getvalue())
                for _ in range(2048):
                    f.write(bytes(2**20))
            zf.writestr("labels.npy", _npy(np.zeros(10_000, np.uint8)))
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(SHIPPED / name, folder / name)
    return [folder / "config.json", folder / "model.safetensors", path]


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def idx_2m() -> list[Path]:
    """Four IDX files whose gzipped training images hold 2,000,000 images (1.5 GB unpacked, 1.5 MB packed)."""
    folder = OUT / "idx-2m"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb", compresslevel=9) as f:
            f.write(struct.pack(">iiii", 2051, 2_000_000, 28, 28))
            for _ in range(2_000_000 // 1000):
                f.write(bytes(784 * 1000))
        with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">ii", 2049, 2_000_000) + bytes(2_000_000))
        (folder / "t10k-images-idx3-ubyte").write_bytes(struct.pack(">iiii", 2051, 20, 28, 28) + bytes(20 * 784))
        (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, 20) + bytes(20))
    return sorted(folder.iterdir())


def big_zips() -> list[Path]:
    """Five zips of about 0.25 MB, each a real run folder whose history.jsonl unpacks to 240 MB."""
    paths = []
    for k in range(5):
        path = OUT / f"big-{k}.zip"
        paths.append(path)
        if path.exists():
            continue
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for name in ("config.json", "model.safetensors"):
                zf.write(SHIPPED / name, f"big-{k}/{name}")
            with zf.open(f"big-{k}/history.jsonl", "w", force_zip64=True) as f:
                for _ in range(240):
                    f.write(b" " * 2**20)
    return paths


def wide_zip() -> Path:
    """A VAE of about 40M parameters (dense widths 4096, 4096) whose weights are zeros: a small zip, 160 MB
    unpacked (issue 33, item 6)."""
    path = OUT / "wide-40m.zip"
    if not path.exists():
        import torch
        from safetensors.torch import save

        from trainer.config import ModelConfig, from_dict
        from trainer.models import state_spec

        config = json.loads((SHIPPED / "config.json").read_text())
        config["model"].update(arch="mlp", hidden=[4096, 4096])
        spec = state_spec(from_dict(ModelConfig, config["model"]).validate())
        weights = save({k: torch.zeros(shape) for k, (shape, _) in spec.items()}, metadata={"epoch": "1"})
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            zf.writestr("wide/config.json", json.dumps(config))
            zf.writestr("wide/model.safetensors", weights)
    return path


def fresh_16d() -> list[Path]:
    """The shipped vae-16d without its embedding.npz: the server fits its UMAP plane and exports its decoder."""
    return [ROOT / "pretrained" / "vae-16d" / n for n in ("config.json", "model.safetensors")]


# -- sending them --------------------------------------------------------------------------------------------
def raw_post(url: str, path: str, length: int, chunk: bytes = b" " * 2**20) -> str:
    """POST ``length`` bytes (a JSON document padded with spaces), as a script would; return the answer."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    body_start = json.dumps({"data": [], "fn_index": 0, "session_hash": "bench"}).encode()
    c = http.client.HTTPConnection(host, int(port), timeout=300)
    c.putrequest("POST", path)
    c.putheader("Content-Type", "application/json")
    c.putheader("Content-Length", str(length))
    c.endheaders()
    try:
        c.send(body_start)
        sent = len(body_start)
        while sent < length:
            c.send(chunk[:length - sent])
            sent += len(chunk)
    except OSError:
        pass  # the server answered (413) and closed
    response = c.getresponse()
    return f"HTTP {response.status}: {response.read()[:80].decode(errors='replace')}"


def key_of_100_mb(url: str) -> str:
    host, port = url.split("//")[1].rstrip("/").split(":")
    body = json.dumps({"data": [["k" * 100 * 2**20], 0, 0.0, 0.0, "umap", "auto"], "fn_index": 0,
                       "session_hash": "bench-key"}).encode()
    c = http.client.HTTPConnection(host, int(port), timeout=300)
    try:
        c.request("POST", "/gradio_api/queue/join", body=body, headers={"Content-Type": "application/json"})
    except OSError:
        pass
    response = c.getresponse()
    return f"HTTP {response.status}: {response.read()[:80].decode(errors='replace')}"


def key_in_log(server) -> str:
    """The 100 MB key, and how much app.log grew by (an older app printed the key in full)."""
    size = (server.home / "app.log").stat().st_size
    answer = key_of_100_mb(server.url)
    time.sleep(3)  # the handler's error, if any, reaches the log
    return f"{answer}; app.log +{((server.home / 'app.log').stat().st_size - size) / 2**20:.1f} MB"


def answer_of(call) -> str:
    try:
        out = call()
    except Exception as e:  # what the server answered, whatever it is
        return f"{type(e).__name__}: {e}"
    return str(out)


def settle(pid: int, quiet: float = 15, timeout: float = 240) -> None:
    """Wait until the process's RSS and CPU time have stayed put for ``quiet`` seconds."""
    def state():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return status_mb(pid, "VmRSS:"), int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    deadline, last, since = time.time() + timeout, state(), time.time()
    while time.time() < deadline and time.time() - since < quiet:
        time.sleep(1)
        now = state()
        if abs(now[0] - last[0]) > 5 or now[1] - last[1] > 30:  # more than 0.3 s of CPU in a second: busy
            since = time.time()
        last = now


class Server:
    """One app process with its own runs/ and temp folders, and a gradio_client session on it."""

    def __init__(self, app_dir: Path):
        from gradio_client import Client

        self.home = Path(tempfile.mkdtemp(prefix="hardening-rss-"))
        self.proc, self.url = start_app(app_dir, self.home)
        self.client = Client(self.url, verbose=False)
        self.client.predict(DEFAULT, 0, 0.0, 0.0, "umap", "auto", api_name="/decode")  # the default models loaded
        settle(self.proc.pid)  # the warm-up (plane backgrounds, UMAP's compilation) would add to the first input
        self.idle = status_mb(self.proc.pid, "VmRSS:")

    def measure(self, call) -> tuple[str, float, float, float, float]:
        """(answer, seconds, peak RSS growth MB, RSS after MB, disk growth MB) of one call."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        before, disk, started = status_mb(self.proc.pid, "VmRSS:"), folder_mb(self.home), time.perf_counter()
        answer = answer_of(lambda: call(self))
        seconds = time.perf_counter() - started
        peak, after = status_mb(self.proc.pid, "VmHWM:"), status_mb(self.proc.pid, "VmRSS:")
        return answer.replace("\n", " ")[:90], seconds, peak - before, after, folder_mb(self.home) - disk

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        shutil.rmtree(self.home, ignore_errors=True)


TRAIN = ["vae", "mlp", 2, 1.0, "gaussian", False, 1, 128, 1e-3, 0, "uploaded", None, "bench", 0, "diagonal", 0,
         "constant", 0.0, 1e-3, 0, "16,32", ""]


DONE = ("finished", "stopped", "diverged", "failed")


def wait_for_job(client, job_id: str, timeout: float = 600) -> dict:
    deadline, status = time.time() + timeout, {}
    while time.time() < deadline:
        status = client.predict(job_id, 0, api_name="/train_status")
        if status.get("status") in DONE:
            break
        time.sleep(1)
    return status


def multipart_post(url: str, megabytes: int) -> int:
    """POST one file of ``megabytes`` to Gradio's upload route as a script would, without a session."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    boundary = "benchmark-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    c = http.client.HTTPConnection(host, int(port), timeout=300)
    c.putrequest("POST", "/gradio_api/upload")
    c.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    c.putheader("Content-Length", str(len(head) + megabytes * 2**20 + len(tail)))
    c.endheaders()
    try:
        c.send(head)
        for _ in range(megabytes):
            c.send(bytes(2**20))
        c.send(tail)
    except OSError:
        pass  # refused before the end
    return c.getresponse().status


def issue_33_cases() -> dict:
    """Issue 33, items 6-10: what anonymous visitors can make a server keep."""
    from gradio_client import Client, handle_file

    def wide_uploads(s):
        answers = []
        for _ in range(3):  # three sessions, three uploads each
            client = Client(s.url, verbose=False)
            answers += [answer_of(lambda: client.predict([handle_file(str(wide_zip()))], DEFAULT,
                                                         api_name="/upload")[1]) for _ in range(3)]
        time.sleep(30)  # the decoders are exported in the background
        return (f"{sum('Loaded' in a for a in answers)} of 9 loaded; exports "
                f"{folder_mb(s.home / 'tmp' / 'latent-explorer-onnx'):.0f} MB; last: {answers[-1]}")

    def decode_while_fitting(s):
        import statistics
        import threading

        def upload():
            client = Client(s.url, verbose=False)
            client.predict([handle_file(str(f)) for f in fresh_16d()], DEFAULT, api_name="/upload")
        def decodes(n):
            times = []
            for k in range(n):
                started = time.perf_counter()
                s.client.predict(DEFAULT, 0, 0.1 * (k % 10), -0.5, "umap", "auto", api_name="/decode")
                times.append(1000 * (time.perf_counter() - started))
            return times
        alone = decodes(20)  # the same machine's load, no uploads: what the median is compared with
        threads = [threading.Thread(target=upload) for _ in range(8)]
        for t in threads:
            t.start()
        times = decodes(40)
        for t in threads:
            t.join()
        return (f"/decode alone: median {statistics.median(alone):.0f} ms; during 8 fresh 16-D uploads: median "
                f"{statistics.median(times):.0f} ms, worst {max(times):.0f} ms")

    def wide_run(s):
        client = Client(s.url, verbose=False)
        job_id, message, *_ = client.predict(*TRAIN[:10], "bundled", None, "wide", 1, *TRAIN[14:21],
                                             "2048,2048,2048,2048", api_name="/train_start")
        done = wait_for_job(client, job_id)
        return f"{message[:40]}; job {done.get('status')}; runs/ {folder_mb(s.home / 'runs'):.0f} MB"

    def races(s):
        for k in range(10):
            client = Client(s.url, verbose=False)
            job_id, *_ = client.predict("ae\nvae", "mlp", 2, 1, 8, 1e-3, 0, "bundled", f"race{k}", 512,
                                        api_name="/race_start")
            wait_for_job(client, job_id)
            client.close()  # the session ends (its heartbeat closes)
        time.sleep(4 * TIDY)  # the janitor's rounds
        return "10 races of 2 lanes finished, their sessions closed"

    def long_race(s):
        client = Client(s.url, verbose=False)
        job_id, *_ = client.predict("ae\nvae", "mlp", 2, 1, 1, 1e-3, 0, "bundled", "long", 3000,
                                    api_name="/race_start")
        status = wait_for_job(client, job_id)
        started = time.perf_counter()
        client.predict("replay", DEFAULT, 3, 2, "pretrained/vae-2d", "test digit", 0, 2.0, job_id, "umap",
                       api_name="/export_gif")
        return (f"batch-1 race of 3,000 steps a lane: {[lane['snapshots'] for lane in status.get('lanes', [])]} "
                f"snapshots; its GIF in {time.perf_counter() - started:.1f} s")

    def indices(api_name, keys, n, *args):
        many = ",".join(str(k) for k in range(n))
        return lambda s: s.client.predict(keys, *args[:1], many, *args[1:], api_name=api_name)

    def anonymous_uploads(s):
        statuses = [multipart_post(s.url, 100) for _ in range(8)]
        return f"8 POSTs of 100 MB: {statuses.count(200)} taken, {statuses.count(429)} refused (429)"

    return {"9 uploads of a 40M-parameter model (zip of zeros), 3 sessions": wide_uploads,
            "/decode while 8 sessions upload fresh 16-D models": decode_while_fitting,
            "/train_start: dense widths 4x2048, limit 1, 1 epoch": wide_run,
            "10 races, sessions closed": races,
            "a batch-1 race (snapshots, replay GIF)": long_race,
            "/style_grid with 3,000 indices": indices("/style_grid", ["pretrained/cvae-2d"], 3000),
            "/reconstruct with 10,000 indices": indices("/reconstruct", DEFAULT, 10_000, "by index", None, 0,
                                                        "umap"),
            "800 MB to /gradio_api/upload, no session": anonymous_uploads}


def cases() -> dict:
    """Bad input -> a call(server) that sends it and returns the answer."""
    from gradio_client import Client, handle_file

    def upload(paths):
        return lambda s: s.client.predict([handle_file(str(p)) for p in paths], DEFAULT, api_name="/upload")[1]

    def train(paths):
        def call(s):
            job = s.client.predict(*TRAIN[:11], [handle_file(str(p)) for p in paths], *TRAIN[12:],
                                   api_name="/train_start")
            s.client.predict(job[0], api_name="/train_stop")  # an older app starts training on them
            return job[1]
        return call

    def many(paths_list):
        def call(s):
            client = Client(s.url, verbose=False)  # one session
            answers = [answer_of(lambda p=p: client.predict([handle_file(str(f)) for f in p], DEFAULT,
                                                            api_name="/upload")[1]) for p in paths_list]
            return (f"{sum('Loaded' in a for a in answers)} loaded, {folder_mb(s.home / 'tmp'):.0f} MB on disk; "
                    f"last: {answers[-1]}")
        return call

    shipped = [SHIPPED / n for n in ("config.json", "model.safetensors")]
    return {"config hidden [20000, 20000]": upload(config_upload("hidden", dict(hidden=[20000, 20000]))),
            "config image_size [1000, 1000]": upload(config_upload("image", dict(arch="mlp",
                                                                                  image_size=[1000, 1000]))),
            "config num_classes 10^6": upload(config_upload("classes", dict(model="cvae", num_classes=10**6))),
            "config channels [4096]": upload(config_upload("channels", dict(channels=[4096]))),
            "config disc_hidden [20000, 20000]": upload(config_upload("disc", dict(
                model="aae", posterior="diagonal", disc_hidden=[20000, 20000]))),
            "embedding.npz: 2 MB, 2 GiB unpacked": upload(npz_bomb()),
            "IDX gzip of 2,000,000 images": train(idx_2m()),
            "POST of 400 MB to /gradio_api/queue/join": lambda s: raw_post(s.url, "/gradio_api/queue/join",
                                                                           400 * 2**20),
            "a model key of 100 MB (/decode)": key_in_log,
            "40 uploads in one session": many([shipped] * 40),
            "five 0.25 MB zips of 240 MB each": many([[z] for z in big_zips()]),
            **issue_33_cases()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default=str(ROOT), help="checkout whose app.py to run (default: this one)")
    parser.add_argument("--fresh", action="store_true",
                        help="a new server for each input (an older app keeps gigabytes it freed, which hides the "
                             "next input's growth)")
    parser.add_argument("--only", default="", help="only the inputs whose name holds this text (or one of A|B|C)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    OUT.mkdir(parents=True, exist_ok=True)
    print("building the inputs (once)...", flush=True)
    todo = {name: call for name, call in cases().items() if any(part in name for part in args.only.split("|"))}
    rows, server = [], None
    try:
        for name, call in todo.items():
            if server is None or args.fresh:
                if server is not None:
                    server.close()
                server = Server(Path(args.app))
            rows.append((name, *server.measure(call)))
            print(f"  {name}: +{rows[-1][3]:.0f} MB, disk +{rows[-1][5]:.0f} MB in {rows[-1][2]:.1f} s", flush=True)
        ok = answer_of(lambda: server.client.predict(DEFAULT, 1, 0.5, -1.0, "umap", "auto", api_name="/decode"))
        idle = server.idle
    finally:
        if server is not None:
            server.close()
    load = os.getloadavg()[0]
    print(f"\napp: {args.app}{' (a new server for each input)' if args.fresh else ''}; idle RSS after loading the "
          f"default models: {idle:.0f} MB; a click decoded after the last input: "
          f"{'yes' if ok.endswith(('.png', '.webp')) else ok[:80]}; load average {load:.1f}\n")
    print("| bad input | answer (abridged) | s | peak RSS growth MB | RSS after MB | disk growth MB |")
    print("|---|---|---|---|---|---|")
    for name, answer, seconds, grown, after, disk in rows:
        print(f"| {name} | {answer.replace('|', '/')} | {seconds:.1f} | {grown:.0f} | {after:.0f} | {disk:.0f} |")


if __name__ == "__main__":
    main()
