"""Peak server memory per bad request (issue 24's memory and disk items); prints a table.

    python benchmarks/hardening_rss.py [--app DIR]

Starts `python app.py` (of this checkout, or of DIR: an older checkout, to compare) on the shipped models with an
empty runs/ and temp folder. For each bad input it resets the server's peak RSS (writing 5 to /proc/PID/clear_refs,
Linux), sends the input as a user or script would (gradio_client, or raw HTTP), and reads the server's peak RSS
(VmHWM) and its RSS after. Target: each request's peak growth <= 500 MB, and the server still decodes a click at
the end. The big inputs are built once into benchmarks/out/ (about a minute).
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
           "LATENT_EXPLORER_PRETRAINED": str(ROOT / "pretrained")}
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
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


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


class Server:
    """One app process with its own runs/ and temp folders, and a gradio_client session on it."""

    def __init__(self, app_dir: Path):
        from gradio_client import Client

        self.home = Path(tempfile.mkdtemp(prefix="hardening-rss-"))
        self.proc, self.url = start_app(app_dir, self.home)
        self.client = Client(self.url, verbose=False)
        self.client.predict(DEFAULT, 0, 0.0, 0.0, "umap", "auto", api_name="/decode")  # the default models loaded
        self.idle = status_mb(self.proc.pid, "VmRSS:")

    def measure(self, call) -> tuple[str, float, float, float]:
        """(answer, seconds, peak RSS growth MB, RSS after MB) of one call."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        before, started = status_mb(self.proc.pid, "VmRSS:"), time.perf_counter()
        answer = answer_of(lambda: call(self))
        seconds = time.perf_counter() - started
        peak, after = status_mb(self.proc.pid, "VmHWM:"), status_mb(self.proc.pid, "VmRSS:")
        return answer.replace("\n", " ")[:90], seconds, peak - before, after

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        shutil.rmtree(self.home, ignore_errors=True)


TRAIN = ["vae", "mlp", 2, 1.0, "gaussian", False, 1, 128, 1e-3, 0, "uploaded", None, "bench", 0, "diagonal", 0,
         "constant", 0.0, 1e-3, 0, "16,32", ""]


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
            "five 0.25 MB zips of 240 MB each": many([[z] for z in big_zips()])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default=str(ROOT), help="checkout whose app.py to run (default: this one)")
    parser.add_argument("--fresh", action="store_true",
                        help="a new server for each input (an older app keeps gigabytes it freed, which hides the "
                             "next input's growth)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    OUT.mkdir(parents=True, exist_ok=True)
    print("building the inputs (once)...", flush=True)
    todo = cases()
    rows, server = [], None
    try:
        for name, call in todo.items():
            if server is None or args.fresh:
                if server is not None:
                    server.close()
                server = Server(Path(args.app))
            rows.append((name, *server.measure(call)))
            print(f"  {name}: +{rows[-1][3]:.0f} MB in {rows[-1][2]:.1f} s", flush=True)
        ok = answer_of(lambda: server.client.predict(DEFAULT, 1, 0.5, -1.0, "umap", "auto", api_name="/decode"))
        idle = server.idle
    finally:
        if server is not None:
            server.close()
    print(f"\napp: {args.app}{' (a new server for each input)' if args.fresh else ''}; idle RSS after loading the "
          f"default models: {idle:.0f} MB; a click decoded after the last input: "
          f"{'yes' if ok.endswith(('.png', '.webp')) else ok[:80]}\n")
    print("| bad input | answer (abridged) | s | peak RSS growth MB | RSS after MB |")
    print("|---|---|---|---|---|")
    for name, answer, seconds, grown, after in rows:
        print(f"| {name} | {answer.replace('|', '/')} | {seconds:.1f} | {grown:.0f} | {after:.0f} |")


if __name__ == "__main__":
    main()
