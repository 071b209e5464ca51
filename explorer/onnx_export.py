"""Decoders (and the digit classifier) exported to ONNX for the page's live planes (ONNX Runtime Web).

Every file the browser runs is written here, by ``torch.onnx`` from weights that ``trainer.checkpoint`` has
validated; its metadata names the weights it came from (``source``: a hash of config + weights), so a stale or
foreign file is never served: ``is_current`` is checked before a file is used, and a mismatch means export again.
Initializers whose values fp16 holds exactly (the shipped models' weights are fp16) are stored as fp16 with a
Cast to float: half the download, and the same numbers as torch.

The app exports in a child process (``export_in_subprocess``): torch.export traces with a dispatch mode that is
global to the process, so an export in a thread of the server would capture (and break) the other threads' work.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainer.losses import cholesky_factor

from . import priority

FORMAT = "latent-explorer-onnx"
EXPORT_VERSION = "2"  # bump when the exported graph changes: older files are then exported again (2: logits too)
DECODER, ENCODER, CLASSIFIER = "decoder.onnx", "encoder.onnx", "classifier.onnx"


class ExportError(RuntimeError):
    """A model could not be exported (the message says which and why)."""


class _Decoded(nn.Module):
    """z (B, d) [, one-hot label (B, C)] -> pixel probabilities (B, H*W), what the page paints, and their logits
    (B, H*W), from which the page computes a reconstruction's error in nats as torch does (a probability rounded
    to 1 in float32 has lost the logit's tail)."""

    def __init__(self, model):
        super().__init__()
        self.decoder = copy.deepcopy(model.decoder).float().cpu()  # a copy: the app keeps decoding with the model

    def forward(self, z, label=None):
        logits = self.decoder(z, label).flatten(1)
        return torch.sigmoid(logits), logits


class _Encoded(nn.Module):
    """images (B, H*W) in [0, 1] [, one-hot label (B, C)] -> what the page reconstructs and plots: ``z`` (B, d), the
    model's ``embed`` (a VAE's mean); a VAE's q(z|x) covariance ``cov`` (B, d, d); a clustered AAE's ``cluster``
    (B, K), the decoder's cluster input as ``reconstruct`` makes it from q(y|x)."""

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model).float().cpu().eval()

    def forward(self, images, label=None):
        config = self.model.config
        x = images.view(-1, 1, *config.image_size)
        if config.clustered:
            logits, style = self.model.encode(x)
            return style, self.model.cluster_input(logits)
        out = self.model.encoder(x, label)  # the label as the one-hot the page sends (conditional models)
        if config.model not in ("vae", "cvae"):
            return out
        d = config.latent_dim
        mu, logvar = out[:, :d], out[:, d:2 * d]
        factor = (cholesky_factor(logvar, out[:, 2 * d:]) if config.posterior == "full"
                  else torch.diag_embed(torch.exp(0.5 * logvar)))
        return mu, factor @ factor.transpose(-1, -2)


class _Classified(nn.Module):
    """images (B, 784) in [0, 1] -> class probabilities (B, C)."""

    def __init__(self, classifier):
        super().__init__()
        self.net = copy.deepcopy(classifier.net).float().cpu()

    def forward(self, images):
        return torch.softmax(self.net(images.view(-1, 1, 28, 28)), dim=1)


def source_hash(*parts: bytes) -> str:
    """The hash an export is keyed by: the exporter's version and the bytes it was made from."""
    h = hashlib.sha256(EXPORT_VERSION.encode())
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def run_source(run_dir: str | Path) -> str:
    """``source_hash`` of a run folder: its model config and its weights file."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text()).get("model")
    return source_hash(json.dumps(config, sort_keys=True).encode(), (run_dir / "model.safetensors").read_bytes())


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata an export carries ({} for a file that is not one of ours or not ONNX at all)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # any unreadable file is simply not a current export
        return {}
    meta = {p.key: p.value for p in proto.metadata_props}
    return meta if meta.get("format") == FORMAT else {}


def is_current(path: str | Path, source: str) -> bool:
    path = Path(path)
    return path.is_file() and read_metadata(path).get("source") == source


def _export(module: nn.Module, args: tuple, names: list[str], dynamic: dict, metadata: dict, path: Path,
            outputs: tuple[str, ...] = ("probs",)) -> Path:
    from trainer.checkpoint import atomic_write

    module = module.eval()
    with warnings.catch_warnings(), torch.no_grad():  # the exporter warns about its own internals
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, args, dynamo=True, input_names=names, output_names=list(outputs),
                                        dynamic_shapes=dynamic, verbose=False)
        except Exception as e:  # the exporter raises many types
            raise ExportError(f"could not export {metadata.get('what', 'the model')} to ONNX: "
                              f"{type(e).__name__}: {e}") from None
    proto = program.model_proto
    fp16_initializers(proto)
    for key, value in {"format": FORMAT, **metadata}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    atomic_write(path, proto.SerializeToString())
    return path


def export_decoder(model, path: str | Path, *, source: str) -> Path:
    """Write the decoder of ``model`` (an Autoencoder) to ``path``: inputs ``z`` (B, d) and, for conditional
    models and clustered AAEs, ``label`` (B, C) one-hot (the digit, or the cluster); output ``probs`` (B, H*W)."""
    config = model.config
    batch = torch.export.Dim("batch", min=1, max=4096)
    z = torch.zeros(2, config.latent_dim)
    labels = config.label_count if (config.conditional or config.clustered) else 0  # the digit, or the cluster
    if labels:
        args, names = (z, torch.zeros(2, labels)), ["z", "label"]
        dynamic = {"z": {0: batch}, "label": {0: batch}}
    else:
        args, names, dynamic = (z,), ["z"], {"z": {0: batch}}
    meta = {"what": "decoder", "source": source, "latent_dim": config.latent_dim,
            "num_classes": labels,
            "image_size": "x".join(map(str, config.image_size))}
    return _export(_Decoded(model), args, names, dynamic, meta, Path(path), ("probs", "logits"))


def encoder_outputs(config) -> tuple[str, ...]:
    """What an exported encoder answers (see _Encoded)."""
    return ("z", "cluster") if config.clustered else ("z", "cov") if config.model in ("vae", "cvae") else ("z",)


def export_encoder(model, path: str | Path, *, source: str) -> Path:
    """Write the encoder of ``model`` to ``path``: inputs ``images`` (B, H*W) in [0, 1] and, for conditional
    models, ``label`` (B, C) one-hot; outputs ``encoder_outputs(config)`` (see _Encoded)."""
    config = model.config
    batch = torch.export.Dim("batch", min=1, max=4096)
    images = torch.zeros(2, math.prod(config.image_size))
    if config.conditional:
        args, names = (images, torch.zeros(2, config.num_classes)), ["images", "label"]
        dynamic = {"images": {0: batch}, "label": {0: batch}}
    else:
        args, names, dynamic = (images,), ["images"], {"images": {0: batch}}
    meta = {"what": "encoder", "source": source, "latent_dim": config.latent_dim,
            "num_classes": config.num_classes if config.conditional else 0,
            "image_size": "x".join(map(str, config.image_size))}
    return _export(_Encoded(model), args, names, dynamic, meta, Path(path), encoder_outputs(config))


def export_classifier(classifier, path: str | Path, *, source: str) -> Path:
    """Write the digit classifier to ``path``: input ``images`` (B, 784) in [0, 1], output ``probs`` (B, C)."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    meta = {"what": "classifier", "source": source}
    return _export(_Classified(classifier), (torch.zeros(2, 784),), ["images"], {"images": {0: batch}}, meta,
                   Path(path))


def fp16_initializers(proto) -> int:
    """Store every float initializer that fp16 holds exactly as fp16, cast back to float by a node at the
    graph's start (ONNX Runtime folds the cast when it loads the model). Returns how many were converted."""
    from onnx import TensorProto, helper, numpy_helper

    graph, casts, converted = proto.graph, [], 0
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        with np.errstate(over="ignore"):  # a value beyond fp16's range just stays float32
            half = values.astype(np.float16)
        if not np.isfinite(half).all() or not np.array_equal(half.astype(np.float32), values):
            continue
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(half, f"{init.name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{init.name}__fp16"], [init.name], to=TensorProto.FLOAT))
        converted += 1
    for node in reversed(casts):
        graph.node.insert(0, node)
    return converted


def export_in_subprocess(jobs: list[dict], timeout: float = 600) -> list[str]:
    """Run ``python -m explorer.onnx_export`` once for several exports, each {"what": "decoder" or "encoder" (a run
    folder) or "classifier", "folder", "out", "source"}; returns one message per job: "" for success, else why it failed."""
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-m", "explorer.onnx_export"], cwd=root, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    priority.lower(child.pid)  # while it still imports torch: the requests of the people waiting come first
    try:
        stdout, stderr = child.communicate(json.dumps([{k: str(v) for k, v in job.items()} for job in jobs]),
                                           timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return [f"the export took more than {timeout:.0f} s"] * len(jobs)
    try:
        results = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return [f"the export process failed: {last}"] * len(jobs)
    return [str(r) for r in results]


class ExportQueue:
    """Exports asked for by the app, done in batches by one child process at a time: each start of it imports
    torch and the exporter (seconds), so the models a page asks for at once share one."""

    def __init__(self):
        self._pending, self._lock, self._running = [], threading.Lock(), False

    def submit(self, job: dict, done) -> None:
        """Export ``job`` (as for export_in_subprocess) in the background; then call ``done(message)``."""
        with self._lock:
            self._pending.append((job, done))
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._work, daemon=True, name="onnx-export").start()

    def _work(self) -> None:
        time.sleep(0.3)  # the models a page asks for arrive within milliseconds of each other: one batch
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._running = False
                    return
            for (_, done), message in zip(batch, export_in_subprocess([job for job, _ in batch])):
                done(message)


QUEUE = ExportQueue()


def sweep(folder: Path, keep: set[str], older_than: float) -> list[str]:
    """Remove the exports in ``folder`` (named by their source hash) of models nobody shows (``keep``: the sources
    of the models in memory) and untouched for ``older_than`` seconds (a page may still be fetching one); returns
    their names. Each upload's decoder once stayed there for good (80 MB each)."""
    removed, now = [], time.time()
    for path in Path(folder).glob("*.onnx*"):  # and an exporter's .onnx.data beside it
        try:
            if path.name.split(".", 1)[0] not in keep and now - path.stat().st_mtime > older_than:
                path.unlink()
                removed.append(path.name)
        except OSError:  # removed meanwhile
            continue
    return removed


def _run_job(job: dict) -> str:
    from trainer import checkpoint
    from trainer.classifier import load_classifier

    try:
        if job["what"] in ("decoder", "encoder"):
            model = checkpoint.load(job["folder"]).model
            if run_source(job["folder"]) != job["source"]:  # a job wrote a new epoch meanwhile: not these weights
                return "the run's weights changed while it was exported"
            export = export_decoder if job["what"] == "decoder" else export_encoder
            export(model, job["out"], source=job["source"])
        else:
            export_classifier(load_classifier(job["folder"]), job["out"], source=job["source"])
        return ""
    except Exception as e:  # one bad job must not stop the others
        return f"{type(e).__name__}: {e}"


def main() -> int:
    """Export the jobs given as JSON on stdin (see export_in_subprocess); print one JSON list of results."""
    torch.set_num_threads(1)  # a background job beside the app's server: one core
    print(json.dumps([_run_job(job) for job in json.loads(sys.stdin.read())]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
