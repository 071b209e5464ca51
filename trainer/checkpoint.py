"""One checkpoint format everywhere: a run folder.

    config.json          model + training config, dataset, class names, epoch, format version
    model.safetensors    weights (and buffers)
    metrics.json         last epoch's metrics (+ evaluation results when measured)
    history.jsonl        one JSON line per logged step / epoch
    optimizer.safetensors  the resume point: weights, optimizer tensors and RNG of one epoch in one file, with
                         the rest of the optimizer state as JSON in its metadata; written last (--resume)

Files are written atomically (temp file + rename) and read without unpickling anything. A save is several
files, so a kill can land between two of them; the resume point, being one file, is always whole: --resume
continues from it (the epoch it holds) whatever the other files had reached.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .config import ConfigError, ModelConfig, TrainConfig, from_dict, to_dict
from .models import Autoencoder, build_model

FORMAT = "latent-explorer-checkpoint"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 2**20  # no model this app trains comes near; bigger files are refused
CONFIG, WEIGHTS, OPTIMIZER, METRICS, HISTORY = (
    "config.json", "model.safetensors", "optimizer.safetensors", "metrics.json", "history.jsonl")
LEGACY_STATE = "trainer_state.json"  # runs saved before the resume point was one file
RESUME_WEIGHTS = "weights:"  # the weights' key prefix inside the resume point (optimizer keys are name/i/key)


class CheckpointError(ValueError):
    """A checkpoint file or folder is missing, foreign or damaged; the message names it."""


# -- atomic writes -----------------------------------------------------------
def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


# -- safe reading --------------------------------------------------------------
def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, after checking it is one (never unpickles)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path}: {size / 2**20:.0f} MB is larger than the {MAX_FILE_BYTES >> 20} MB allowed")
    raw = path.read_bytes()
    header = _safetensors_header(raw)
    if header is None:
        if raw[:4] == b"PK\x03\x04" or (raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
            raise CheckpointError(f"{path}: this is a PyTorch pickle (.pt/.pth), not safetensors; pickles are never "
                                  "loaded because they can run code. Convert it with safetensors.torch.save_file.")
        if len(raw) >= 8 and struct.unpack("<Q", raw[:8])[0] > len(raw) - 8:
            raise CheckpointError(f"{path}: not a safetensors file, or truncated (its header length "
                                  f"{struct.unpack('<Q', raw[:8])[0]} exceeds the file's {len(raw) - 8} bytes)")
        raise CheckpointError(f"{path}: not a safetensors file (its header is not JSON)")
    header_len = struct.unpack("<Q", raw[:8])[0]
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)
            and isinstance(v.get("data_offsets"), list) and len(v["data_offsets"]) == 2]
    if ends and max(ends) > len(raw) - 8 - header_len:
        raise CheckpointError(f"{path}: truncated ({len(raw)} bytes, its header needs "
                              f"{8 + header_len + max(ends)})")
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: damaged safetensors file ({e})") from None
    return tensors, dict(header.get("__metadata__") or {})


def _safetensors_header(raw: bytes) -> dict | None:
    """The JSON header of safetensors bytes, or None when they are not safetensors."""
    if len(raw) < 8:
        return None
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > len(raw) - 8 or raw[8:9] != b"{":
        return None
    try:
        header = json.loads(raw[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return header if isinstance(header, dict) else None


def read_json(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    if path.stat().st_size > 16 * 2**20:
        raise CheckpointError(f"{path}: too large for a JSON config")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def read_history(run_dir: str | Path, until: int | None = None) -> list[dict]:
    """History rows (with ``until``: those of epochs up to it, as a resume from that epoch keeps); a half-written
    last line (from a kill mid-write of an older format) is skipped."""
    path = Path(run_dir) / HISTORY
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows if until is None else [r for r in rows if r.get("epoch", 0) <= until]


# -- the run folder ------------------------------------------------------------
@dataclass
class Run:
    """A loaded run folder: the model (eval mode) and what was saved beside it."""
    path: Path
    model: Autoencoder
    model_config: ModelConfig
    train_config: TrainConfig
    dataset: dict
    epoch: int
    metrics: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return list(self.dataset.get("classes") or [str(i) for i in range(self.model_config.num_classes)])

    @property
    def name(self) -> str:
        return self.path.name


def read_config(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such checkpoint folder")
    path = run_dir / CONFIG
    cfg = read_json(path)
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Latent Explorer checkpoint config (expected \"format\": \"{FORMAT}\")")
    version = cfg.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path}: format_version missing or not an integer")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this program reads "
                              f"({FORMAT_VERSION}); update Latent Explorer")
    unknown = sorted(set(cfg) - {"format", "format_version", "model", "train", "dataset", "epoch", "created"})
    if unknown:
        raise CheckpointError(f"{path}: unknown keys {unknown}")
    return cfg


def load(run_dir: str | Path, *, device: str | torch.device = "cpu") -> Run:
    """Rebuild the model from config.json alone and load its weights, validating everything."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    try:
        model_config = from_dict(ModelConfig, cfg.get("model"), where=f"{run_dir / CONFIG} model").validate()
        train_config = from_dict(TrainConfig, cfg.get("train") or {}, where=f"{run_dir / CONFIG} train")
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    model = build_model(model_config)
    tensors, _ = read_safetensors(run_dir / WEIGHTS)
    load_state(model, tensors, run_dir / WEIGHTS)
    model.to(device).eval()
    metrics = read_json(run_dir / METRICS) if (run_dir / METRICS).is_file() else {}
    return Run(run_dir, model, model_config, train_config, cfg.get("dataset") or {}, int(cfg.get("epoch", 0)),
               metrics if isinstance(metrics, dict) else {})


def load_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], where) -> None:
    """Load validated tensors into ``module``. Its training-only part (the AAE's discriminator) may be left out
    as a whole, as exported models do; it then keeps its fresh initial weights."""
    expected = module.state_dict()
    optional = {k for k in expected if k.startswith(getattr(module, "TRAINING_ONLY", ()))}
    if optional.isdisjoint(tensors):
        expected = {k: v for k, v in expected.items() if k not in optional}
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{where}: tensors do not match the model in config.json "
                              f"(missing: {missing[:5] or 'none'}, unexpected: {extra[:5] or 'none'})")
    for key, value in tensors.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(f"{where}: tensor {key} has shape {tuple(value.shape)}, the model expects "
                                  f"{tuple(expected[key].shape)}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"{where}: tensor {key} contains NaN or infinite values")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=not optional)


def save(run_dir: str | Path, model: Autoencoder, *, train_config: TrainConfig, dataset: dict, epoch: int,
         metrics: dict | None = None, history: list[dict] | None = None,
         optimizers: dict[str, torch.optim.Optimizer] | None = None) -> Path:
    """Write a complete run folder; with ``optimizers``, the resume point last."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in (OPTIMIZER, WEIGHTS, CONFIG, METRICS, HISTORY, LEGACY_STATE):  # half-written by a killed writer
        for stale in run_dir.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    meta = {"epoch": str(epoch), "model": model.config.model}
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(run_dir / WEIGHTS, st_save(weights, metadata=meta))
    write_json(run_dir / CONFIG, {"format": FORMAT, "format_version": FORMAT_VERSION,
                                  "model": to_dict(model.config), "train": to_dict(train_config),
                                  "dataset": dataset, "epoch": epoch,
                                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    if metrics is not None:
        write_json(run_dir / METRICS, metrics)
    if history is not None:
        atomic_write(run_dir / HISTORY, "".join(json.dumps(r, allow_nan=False) + "\n" for r in history))
    if optimizers is not None:
        tensors, state = _flatten_optimizers(optimizers)
        tensors.update({f"{RESUME_WEIGHTS}{k}": v for k, v in weights.items()})
        tensors["rng/torch"] = torch.get_rng_state()
        state_json = json.dumps({"epoch": epoch, "optimizers": state}, allow_nan=False)
        atomic_write(run_dir / OPTIMIZER, st_save(tensors, metadata={**meta, "state": state_json}))
        (run_dir / LEGACY_STATE).unlink(missing_ok=True)
    return run_dir


def resume_epoch(run_dir: str | Path) -> int | None:
    """The epoch --resume would continue from, or None when the run has no resume point."""
    path = Path(run_dir) / OPTIMIZER
    if not path.is_file():
        return None
    epoch = read_safetensors(path)[1].get("epoch", "")
    if not epoch.isdigit():
        raise CheckpointError(f"{path}: no epoch in its metadata")
    return int(epoch)


def _flatten_optimizers(optimizers):
    tensors, state = {}, {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        plain = {}
        for idx, entries in sd["state"].items():
            for key, value in entries.items():
                if torch.is_tensor(value):
                    tensors[f"{name}/{idx}/{key}"] = value.detach().cpu().contiguous()
                else:
                    plain[f"{idx}/{key}"] = value
        state[name] = {"param_groups": sd["param_groups"], "plain": plain}
    return tensors, state


def load_training_state(run_dir: str | Path, model: Autoencoder,
                        optimizers: dict[str, torch.optim.Optimizer]) -> int:
    """Restore the weights, optimizer states and RNG of the resume point for --resume; returns its epoch."""
    run_dir = Path(run_dir)
    tensors, meta = read_safetensors(run_dir / OPTIMIZER)
    weights = {k[len(RESUME_WEIGHTS):]: tensors.pop(k) for k in list(tensors) if k.startswith(RESUME_WEIGHTS)}
    if "state" in meta:
        try:
            state = json.loads(meta["state"])
        except ValueError:
            raise CheckpointError(f"{run_dir / OPTIMIZER}: its optimizer state is not valid JSON") from None
        weights_epoch, source = meta.get("epoch"), run_dir / OPTIMIZER
    else:  # an older run: the state and weights are separate files, which an interrupted save can leave apart
        state = read_json(run_dir / LEGACY_STATE)
        weights, weights_meta = read_safetensors(run_dir / WEIGHTS)
        weights_epoch, source = weights_meta.get("epoch"), run_dir / WEIGHTS
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if not isinstance(epoch, int) or meta.get("epoch") != str(epoch) or weights_epoch != str(epoch):
        raise CheckpointError(f"{run_dir}: weights, optimizer and trainer state are from different epochs "
                              "(the save was interrupted); the weights load, but this run cannot be resumed")
    saved = state.get("optimizers", {})
    if set(saved) != set(optimizers):
        raise CheckpointError(f"{run_dir / OPTIMIZER}: optimizers {sorted(saved)} do not match {sorted(optimizers)}")
    for name, opt in optimizers.items():
        per_param: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith(name + "/"):
                _, idx, k = key.split("/", 2)
                per_param.setdefault(int(idx), {})[k] = value
        for key, value in saved[name]["plain"].items():
            idx, k = key.split("/", 1)
            per_param.setdefault(int(idx), {})[k] = value
        try:
            opt.load_state_dict({"state": per_param, "param_groups": saved[name]["param_groups"]})
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"{run_dir / OPTIMIZER}: optimizer {name} does not fit the model ({e})") from None
    load_state(model, weights, source)
    if "rng/torch" in tensors:
        torch.set_rng_state(tensors["rng/torch"])
    return epoch
