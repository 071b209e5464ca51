"""One checkpoint format everywhere: a run folder.

    config.json          model + training config, dataset, class names, epoch, format version
    model.safetensors    weights (and buffers)
    metrics.json         last epoch's metrics (+ evaluation results when measured)
    history.jsonl        one JSON line per logged step / epoch
    optimizer.safetensors  the resume point: weights, optimizer tensors and RNG of one epoch in one file, with
                         the rest of the optimizer state as JSON in its metadata; written last (--resume)

Files are written atomically (temp file + rename) and read without unpickling anything. A save writes every
file to a temp file first and then renames them all into place, the resume point last: it is the commit. A kill
before the renames leaves temp files; one during them (microseconds) can leave files an epoch ahead of the resume
point. Whoever opens the folder to train it again (``open_for_training``: the CLI, the app's Train tab) removes the
temp files and rolls such files back to the resume point, so weights, history and resume point agree again;
``load`` (the explorer, eval) removes temp files older than STALE_TEMP_SECONDS.
A derived file (embedding.npz, made from the weights by pretrained.build) is deleted when the weights change.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .config import ConfigError, ModelConfig, TrainConfig, check_class_names, from_dict, shown, to_dict
from .models import Autoencoder, build_model, model_class, state_spec

FORMAT = "latent-explorer-checkpoint"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 2**20  # no model this app trains comes near; bigger files are refused
MAX_HEADER_BYTES = 16 * 2**20  # a safetensors header (JSON); ours are a few KB
MAX_JSON_BYTES = 16 * 2**20
CONFIG, WEIGHTS, OPTIMIZER, METRICS, HISTORY = (
    "config.json", "model.safetensors", "optimizer.safetensors", "metrics.json", "history.jsonl")
LEGACY_STATE = "trainer_state.json"  # runs saved before the resume point was one file
RUN_FILES = (CONFIG, WEIGHTS, OPTIMIZER, METRICS, HISTORY, LEGACY_STATE)
DERIVED = ("embedding.npz",)  # made from the weights (pretrained.build): stale, so deleted, when they change
RESUME_WEIGHTS = "weights:"  # the weights' key prefix inside the resume point (optimizer keys are name/i/key)
FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # what a model's weights may be stored as
INT_DTYPES = {"I64": 8, "I32": 4}  # what its integer buffers (a clustered AAE's labelled images) may be stored as
RUN_NAME = re.compile(r"\w[\w .-]{0,63}")  # \w: letters and digits of any script, and _


class CheckpointError(ValueError):
    """A checkpoint file or folder is missing, foreign or damaged; the message names it."""


# -- atomic writes -----------------------------------------------------------
def _write_temp(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to a fsynced temp file beside ``path`` (named .NAME.*.tmp) and return the temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


STALE_TEMP_SECONDS = 600  # a temp file this old is a killed writer's: a live save keeps one for seconds


def remove_temp_files(run_dir: str | Path, older_than: float = 0) -> list[str]:
    """Delete the temp files a killed writer left in a run folder (ours only: .NAME.*.tmp of its own files), those
    older than ``older_than`` seconds (a reader passes STALE_TEMP_SECONDS: a job may be writing the folder)."""
    removed = []
    for name in (*RUN_FILES, *DERIVED):
        for stale in Path(run_dir).glob(f".{name}.*.tmp"):
            try:
                if time.time() - stale.stat().st_mtime >= older_than:
                    stale.unlink()
                    removed.append(stale.name)
            except OSError:  # gone meanwhile, or a folder we may not write (a shipped one)
                continue
    return removed


# -- safe reading --------------------------------------------------------------
def _looks_pickled(first: bytes) -> bool:
    return first[:4] == b"PK\x03\x04" or (first[:1] == b"\x80" and first[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))


def read_header(path: str | Path) -> dict:
    """The JSON header of a safetensors file, read without its data and checked: every tensor entry has a dtype,
    a shape and data offsets that fit the file (never unpickles; the file is opened, not loaded)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path}: {size / 2**20:.0f} MB is larger than the {MAX_FILE_BYTES >> 20} MB allowed")
    with open(path, "rb") as f:
        first = f.read(8)
        header_len = struct.unpack("<Q", first)[0] if len(first) == 8 else None
        raw = f.read(header_len) if header_len is not None and header_len <= min(size - 8, MAX_HEADER_BYTES) else b""
    if _looks_pickled(first) and not raw.startswith(b"{"):
        raise CheckpointError(f"{path}: this is a PyTorch pickle (.pt/.pth), not safetensors; pickles are never "
                              "loaded because they can run code. Convert it with safetensors.torch.save_file.")
    if header_len is None or header_len > size - 8:
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (its header length "
                              f"{'is missing' if header_len is None else header_len} exceeds the file's "
                              f"{max(0, size - 8)} bytes)")
    if header_len > MAX_HEADER_BYTES:
        raise CheckpointError(f"{path}: its header of {header_len:,} bytes is larger than the "
                              f"{MAX_HEADER_BYTES >> 20} MB allowed")
    header = _parse_json(raw, path, "its header") if raw.startswith(b"{") else None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (its header is not JSON)")
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{path}: its __metadata__ is not a JSON object of strings")
    data_bytes = size - 8 - header_len
    for key, entry in header.items():
        if key != "__metadata__":
            _check_entry(path, key, entry, data_bytes)
    return header


_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
                "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def _check_entry(path, key, entry, data_bytes: int) -> None:
    """One tensor of a safetensors header: a known dtype, a shape of whole numbers, offsets inside the data."""
    def whole(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0
    ok = (isinstance(entry, dict) and entry.get("dtype") in _DTYPE_BYTES and isinstance(entry.get("shape"), list)
          and all(whole(n) for n in entry["shape"]) and isinstance(entry.get("data_offsets"), list)
          and len(entry["data_offsets"]) == 2 and all(whole(n) for n in entry["data_offsets"]))
    if not ok:
        raise CheckpointError(f"{path}: damaged safetensors header (tensor {shown(key)} needs a dtype, a shape and "
                              "two data offsets)")
    start, end = entry["data_offsets"]
    if end > data_bytes:
        raise CheckpointError(f"{path}: truncated (tensor {shown(key)} ends at byte {end:,} of its data, the file "
                              f"holds {data_bytes:,})")
    if end - start != math.prod(entry["shape"]) * _DTYPE_BYTES[entry["dtype"]]:
        raise CheckpointError(f"{path}: damaged safetensors header (tensor {shown(key)} of shape "
                              f"{shown(entry['shape'])} does not fill its {end - start:,} bytes)")


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, after checking its header (never unpickles)."""
    header = read_header(path)
    try:
        tensors = st_load(Path(path).read_bytes())
    except (SafetensorError, ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: damaged safetensors file ({shown(str(e), 200)})") from None
    return tensors, dict(header.get("__metadata__") or {})


def _parse_json(raw: bytes | str, path, what: str = "it"):
    try:
        return json.loads(raw)
    except RecursionError:
        raise CheckpointError(f"{path}: {what} is nested too deeply to be a Latent Explorer file") from None
    except ValueError as e:  # also UnicodeDecodeError, and ints of more than 4300 digits
        raise CheckpointError(f"{path}: not valid JSON ({shown(str(e), 120)})") from None


def read_json(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(f"{path}: too large for a JSON config")
    return _parse_json(path.read_bytes(), path)


def read_history(run_dir: str | Path, until: int | None = None) -> list[dict]:
    """History rows (with ``until``: those of epochs up to it, as a resume from that epoch keeps); a half-written
    last line (from a kill mid-write of an older format) or a line that is not a JSON object is skipped."""
    path = Path(run_dir) / HISTORY
    rows = []
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(row, dict) and isinstance(row.get("epoch", 0), (int, float)):
                rows.append(row)
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


def load(run_dir: str | Path, *, device: str | torch.device = "cpu", max_parameters: int | None = None) -> Run:
    """Rebuild the model from config.json alone and load its weights, validating everything: the config's sizes
    (and, with ``max_parameters``, its weights' count: an app's bound on uploads), then its tensors' names, shapes
    and dtypes against the weights file's header, before any model is built."""
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    remove_temp_files(run_dir, older_than=STALE_TEMP_SECONDS)
    try:
        model_config = from_dict(ModelConfig, cfg.get("model"), where=f"{run_dir / CONFIG} model").validate()
        train_config = from_dict(TrainConfig, cfg.get("train") or {}, where=f"{run_dir / CONFIG} train")
        spec = state_spec(model_config)
        count = sum(math.prod(shape) for shape, _ in spec.values())
        if max_parameters is not None and count > max_parameters:
            raise ConfigError(f"this model has {count:,} parameters; a model uploaded here may have at most "
                              f"{max_parameters:,}")
    except ConfigError as e:
        raise CheckpointError(f"{run_dir / CONFIG}: {e}" if str(run_dir) not in str(e) else str(e)) from None
    dataset = cfg.get("dataset") if isinstance(cfg.get("dataset"), dict) else {}
    if dataset.get("classes") is not None:  # checked like the model's fields: the explorer titles clusters with them
        try:
            check_class_names(dataset["classes"], model_config.num_classes, "dataset.classes")
        except ConfigError as e:
            raise CheckpointError(f"{run_dir / CONFIG}: {e}") from None
    header = read_header(run_dir / WEIGHTS)
    stored = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    match_state(stored, {key: shape for key, (shape, _) in spec.items()}, model_class(model_config).TRAINING_ONLY,
                run_dir / WEIGHTS)
    for key in stored:  # every stored name is the model's by now
        allowed = FLOAT_DTYPES if spec[key][1] else INT_DTYPES
        if header[key]["dtype"] not in allowed:
            raise CheckpointError(f"{run_dir / WEIGHTS}: tensor {shown(key)} is stored as {header[key]['dtype']}; "
                                  f"expected one of {', '.join(allowed)}")
    model = build_model(model_config)
    tensors, _ = read_safetensors(run_dir / WEIGHTS)
    load_state(model, tensors, run_dir / WEIGHTS)
    model.to(device).eval()
    metrics = read_json(run_dir / METRICS) if (run_dir / METRICS).is_file() else {}
    epoch = cfg.get("epoch", 0)
    return Run(run_dir, model, model_config, train_config, dataset,
               epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else 0,
               metrics if isinstance(metrics, dict) else {})


def match_state(stored: dict[str, tuple], expected: dict[str, tuple], optional: tuple[str, ...], where) -> set[str]:
    """Check stored tensor names and shapes against a model's; its training-only part (names starting with one
    of ``optional``, the AAE's discriminator) may be left out as a whole, as exported models do. Returns the
    names that must be loaded."""
    optional_keys = {k for k in expected if optional and k.startswith(optional)}
    if optional_keys.isdisjoint(stored):
        expected = {k: v for k, v in expected.items() if k not in optional_keys}
    missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{where}: tensors do not match the model in config.json "
                              f"(missing: {shown(missing[:5], 200) if missing else 'none'}, "
                              f"unexpected: {shown(extra[:5], 200) if extra else 'none'})")
    for key, shape in stored.items():
        if shape != tuple(expected[key]):
            raise CheckpointError(f"{where}: tensor {key} has shape {shape}, the model expects {tuple(expected[key])}")
    return set(expected)


def load_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], where) -> None:
    """Load validated tensors into ``module``: names and shapes as in ``match_state``, every value finite once
    cast to the module's dtype (a float64 1e300 would become inf as float32)."""
    expected = module.state_dict()
    match_state({k: tuple(v.shape) for k, v in tensors.items()}, {k: tuple(v.shape) for k, v in expected.items()},
                getattr(module, "TRAINING_ONLY", ()), where)
    cast = {}
    for key, value in tensors.items():
        cast[key] = value.to(expected[key].dtype)
        if cast[key].is_floating_point() and not torch.isfinite(cast[key]).all():
            raise CheckpointError(f"{where}: tensor {key} contains NaN or infinite values"
                                  + (f" (as {str(cast[key].dtype)[6:]})" if value.dtype != cast[key].dtype else ""))
    module.load_state_dict(cast, strict=set(cast) == set(expected))


def save(run_dir: str | Path, model: Autoencoder, *, train_config: TrainConfig, dataset: dict, epoch: int,
         metrics: dict | None = None, history: list[dict] | None = None,
         optimizers: dict[str, torch.optim.Optimizer] | None = None) -> Path:
    """Write a complete run folder: each file to a temp file, then all renamed into place, the resume point (with
    ``optimizers``) last; a derived file (embedding.npz) is deleted first, as the new weights make it stale."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_temp_files(run_dir)
    meta = {"epoch": str(epoch), "model": model.config.model}
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}

    def resume_point() -> bytes:
        tensors, state = _flatten_optimizers(optimizers)
        tensors.update({f"{RESUME_WEIGHTS}{k}": v for k, v in weights.items()})
        tensors["rng/torch"] = torch.get_rng_state()
        state_json = json.dumps({"epoch": epoch, "optimizers": state}, allow_nan=False)
        return st_save(tensors, metadata={**meta, "state": state_json})

    files = {WEIGHTS: lambda: st_save(weights, metadata=meta),
             CONFIG: lambda: json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                         "model": to_dict(model.config), "train": to_dict(train_config),
                                         "dataset": dataset, "epoch": epoch,
                                         "created": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1, allow_nan=False),
             METRICS: (lambda: json.dumps(metrics, indent=1, allow_nan=False)) if metrics is not None else None,
             HISTORY: (lambda: "".join(json.dumps(r, allow_nan=False) + "\n" for r in history))
             if history is not None else None,
             OPTIMIZER: resume_point if optimizers is not None else None}  # in this order: the resume point last
    temps: dict[str, Path] = {}
    try:
        for name, make in files.items():
            if make is not None:  # one file's bytes in memory at a time
                temps[name] = _write_temp(run_dir / name, make())
        for name in DERIVED:
            (run_dir / name).unlink(missing_ok=True)
        for name, tmp in temps.items():
            os.replace(tmp, run_dir / name)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    if optimizers is not None:
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


# -- opening a run folder to train it ------------------------------------------
def open_for_training(run_dir: str | Path) -> str:
    """Make a run folder consistent before training writes to it again; returns what was repaired ("" if nothing).

    The rule: the resume point is the commit. Temp files a killed save left are removed; a file renamed into place
    before the kill, ahead of the resume point (model.safetensors, config.json, metrics.json, history.jsonl), is
    rolled back to it: its weights, its epoch, the history up to that epoch. Only a writer calls this (never the
    explorer, which may read a folder while a job writes it)."""
    run_dir = Path(run_dir)
    notes = []
    if remove_temp_files(run_dir):
        notes.append("removed the temp files of an interrupted save")
    if not (run_dir / OPTIMIZER).is_file() or not (run_dir / CONFIG).is_file():
        return "; ".join(notes)
    tensors, meta = read_safetensors(run_dir / OPTIMIZER)
    epoch = resume_epoch(run_dir)
    weights_epoch = read_header(run_dir / WEIGHTS).get("__metadata__", {}).get("epoch") \
        if (run_dir / WEIGHTS).is_file() else None
    cfg = read_json(run_dir / CONFIG)
    history = read_history(run_dir)
    kept = [r for r in history if r.get("epoch", 0) <= epoch]
    if "state" not in meta or (weights_epoch == str(epoch) and cfg.get("epoch") == epoch and len(kept) == len(history)):
        return "; ".join(notes)  # consistent (or an older run whose resume point holds no weights)
    weights = {k[len(RESUME_WEIGHTS):]: v for k, v in tensors.items() if k.startswith(RESUME_WEIGHTS)}
    atomic_write(run_dir / WEIGHTS, st_save(weights, metadata={"epoch": str(epoch), "model": meta.get("model", "")}))
    atomic_write(run_dir / HISTORY, "".join(json.dumps(r, allow_nan=False) + "\n" for r in kept))
    last = next((r for r in reversed(kept) if r.get("kind") == "epoch"), None)
    if last is not None:
        write_json(run_dir / METRICS, last)
    write_json(run_dir / CONFIG, {**cfg, "epoch": epoch})
    notes.append(f"rolled model.safetensors, config.json, metrics.json and history.jsonl back to epoch {epoch}, "
                 "the resume point (a save was interrupted)")
    return "; ".join(notes)


def run_folder(root: str | Path, name) -> Path:
    """The folder of the run called ``name`` under ``root``: the one place a run's name becomes a path (the CLI's
    --out, the Train tab's Start, Resume, Measure and Show curves). The name is used as it is, never rewritten: up
    to 64 letters or digits (any script), spaces, '.', '_' or '-', starting with a letter, digit or '_'. A name
    that is the same folder as another run on some file systems (it differs only in case or Unicode form) is
    refused, so one run can never be trained or measured under another's name."""
    text = name if isinstance(name, str) else ""
    text = unicodedata.normalize("NFC", text)
    if not RUN_NAME.fullmatch(text) or text != text.strip():
        raise ConfigError(f"run name {shown(name)}: use up to 64 letters, digits, spaces, '.', '_' or '-', starting "
                          "with a letter or digit (like my-vae); it is the run's folder name")
    root = Path(root)
    key = text.casefold()
    if root.is_dir():
        for other in root.iterdir():
            if other.name != text and unicodedata.normalize("NFC", other.name).casefold() == key:
                raise ConfigError(f"run name {shown(name)} differs from the existing run {shown(other.name)} only "
                                  "in case or accents; use that name or another")
    return root / text


def check_new_run_folder(run_dir: str | Path, overwrite: bool = False) -> None:
    """A new run may go into a missing or empty folder; one holding a run or other files only with ``overwrite``
    (its run files are then replaced, its other files kept)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run folder; choose another --out")
    if not run_dir.is_dir() or overwrite:
        return
    if (run_dir / CONFIG).exists():
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it, --overwrite to replace it, "
                          "or choose another --out")
    ours = re.compile(r"\.(" + "|".join(map(re.escape, (*RUN_FILES, *DERIVED))) + r")\..*\.tmp")
    others = sorted(p.name for p in run_dir.iterdir() if not ours.fullmatch(p.name))
    if others:
        listed = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
        raise ConfigError(f"{run_dir} holds files that are not a run ({listed}); pass --overwrite to train into it "
                          "anyway (run files such as metrics.json and history.jsonl are replaced, others kept), "
                          "or choose another --out")
