"""A user's uploaded model: its files unpacked safely into the session's folder (exact names only, no pickles,
sizes and paths checked before anything is read), then loaded as any model (registry.make_entry) with at most
settings.UPLOAD_PARAMETERS weights. Uploads live in their session only and count against its disk (SESSION_BYTES)."""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from trainer import checkpoint
from trainer.config import shown
from trainer.data import Split

from . import registry, settings
from .model_files import ModelLoadError, open_zip
from .registry import ALLOWED_FILES, Entry, make_entry, start_background
from .storage import folder_bytes

MAX_UPLOAD_BYTES = 64 * 2**20  # a zip or file bigger than this is refused before reading
MAX_UNPACKED_BYTES = 256 * 2**20
MAX_UPLOADS = 8  # models one session may upload (each stays in memory until its tab closes)
SESSION_BYTES = 512 * 2**20  # what one session's uploads and training data may take on disk, unpacked


def unpack_upload(files: list[str | Path], dest: Path, max_unpacked: int = MAX_UNPACKED_BYTES) -> tuple[str, list[str]]:
    """Copy an uploaded checkpoint (a .zip or loose files) into ``dest`` safely. Returns the run's name (the folder
    inside the zip, or the zip's name; "" for loose files) and the names of the files it ignored.

    Files are matched by their exact names (config.json, model.safetensors, metrics.json, history.jsonl,
    embedding.npz); others, like a run's optimizer.safetensors, are ignored, never renamed into place. Paths inside
    zips are flattened after refusing any absolute or ``..`` path; sizes are capped before anything is read."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = [Path(f) for f in files or []]
    if not paths:
        raise ModelLoadError("no file uploaded: choose a .zip of a run folder, or its config.json and model.safetensors")
    total = sum(p.stat().st_size for p in paths)
    if total > MAX_UPLOAD_BYTES:
        raise ModelLoadError(f"upload of {total / 2**20:.0f} MB is larger than the {MAX_UPLOAD_BYTES >> 20} MB allowed")
    name, ignored, taken = "", [], {}
    for p in paths:
        if p.suffix.lower() in (".pt", ".pth", ".pkl", ".ckpt", ".bin"):
            raise ModelLoadError(f"{p.name}: PyTorch pickles are never loaded (they can run code); "
                                 "upload config.json + model.safetensors")
    for p in paths:
        if p.suffix.lower() == ".zip":
            name, skipped = _unzip(p, dest, taken, max_unpacked)
            ignored += skipped
        elif p.name in ALLOWED_FILES:
            _claim(taken, p.name, p.name, p.stat().st_size, max_unpacked)
            shutil.copyfile(p, dest / p.name)
        else:
            ignored.append(p.name)
    for required in (checkpoint.CONFIG, checkpoint.WEIGHTS):
        if not (dest / required).is_file():
            got = f" (ignored: {', '.join(ignored[:5])})" if ignored else ""
            raise ModelLoadError(f"the upload has no {required}{got}; a checkpoint needs files named config.json "
                                 "and model.safetensors, as in a run folder")
    return name, ignored


def _claim(taken: dict[str, int], base: str, shown_as: str, size: int, limit: int) -> None:
    """Count one file to unpack: each name once (two config.json would overwrite each other), at most ``limit``
    bytes in all."""
    if base in taken:
        raise ModelLoadError(f"the upload holds two files named {base} ({shown(shown_as)} is the second): upload one "
                             "run folder at a time")
    if sum(taken.values()) + size > limit:
        raise ModelLoadError(f"{shown(shown_as)}: unpacking it would take more than the {limit / 2**20:.1f} MB this "
                             f"upload may still use on the server (one session keeps at most {SESSION_BYTES >> 20} MB "
                             "of uploads; reload the page to start again)")
    taken[base] = size


def _unzip(path: Path, dest: Path, taken: dict[str, int], limit: int) -> tuple[str, list[str]]:
    """Unpack a zip's checkpoint files into ``dest`` (``limit`` bytes for the whole upload); returns the run's
    name and the entries it ignored."""
    try:
        with open_zip(path) as zf:
            infos = zf.infolist()
            unpacked, room = sum(i.file_size for i in infos), min(limit, MAX_UNPACKED_BYTES) - sum(taken.values())
            if unpacked > room:
                raise ModelLoadError(f"{path.name}: unpacks to {unpacked / 2**20:.0f} MB, more than the "
                                     f"{room / 2**20:.0f} MB allowed")
            for info in infos:
                name = info.filename.replace("\\", "/")
                if name.startswith("/") or ".." in name.split("/") or ":" in name:
                    raise ModelLoadError(f"{path.name}: refused the unsafe path {shown(info.filename)} inside the zip")
            wanted = [i for i in infos if not i.is_dir() and Path(i.filename).name in ALLOWED_FILES]
            for info in wanted:
                _claim(taken, Path(info.filename).name, info.filename, info.file_size, limit)
            for info in wanted:
                with zf.open(info) as src, open(dest / Path(info.filename).name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            config = next((i.filename for i in wanted if Path(i.filename).name == checkpoint.CONFIG), "")
            ignored = [i.filename for i in infos if not i.is_dir() and i not in wanted]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, RuntimeError, NotImplementedError) as e:
        raise ModelLoadError(f"{path.name}: not a valid zip file ({shown(str(e), 120)})") from None
    name = Path(config).parent.name if config else ""
    name = next((n for n in (name, path.stem) if checkpoint.RUN_NAME.fullmatch(n)), "")  # else the model's kind
    return name, [shown(n, 80).strip("'") for n in ignored]


def discard_upload(folder: Path, error: Exception) -> str:
    """Remove a refused upload's folder; return the error's message naming the user's files, not our temp path."""
    shutil.rmtree(folder, ignore_errors=True)
    return str(error).replace(f"{folder}{os.sep}", "").replace(str(folder), "your upload")


def load_upload(files, session_dir: Path, test: Split, index: int,
                room: int = MAX_UNPACKED_BYTES) -> tuple[Entry, list[str]]:
    """Unpack and load an upload into a fresh folder of this session (using at most ``room`` bytes); the folder
    is removed on failure. Returns the entry and the names of the files it ignored."""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=session_dir))
    try:
        name, ignored = unpack_upload(files, folder, room)
        name = name or _upload_name(folder)
        entry = make_entry(f"upload/{index}-{name}", f"upload: {name}", folder, test,
                           max_parameters=settings.UPLOAD_PARAMETERS)
        registry.MODELS.use(entry)  # the server-wide pool (read when used: tests swap it)
        start_background(entry)
        return entry, ignored
    except (ModelLoadError, checkpoint.CheckpointError) as e:
        raise ModelLoadError(discard_upload(folder, e)) from None
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def session_room(folder) -> int:
    """Bytes a session may still unpack into its folder (SESSION_BYTES in all)."""
    return max(0, SESSION_BYTES - folder_bytes(folder))


def _upload_name(folder: Path) -> str:
    try:
        cfg = checkpoint.read_config(folder)["model"]
        return f"{cfg.get('model', '?')}-{cfg.get('latent_dim', '?')}d"
    except (checkpoint.CheckpointError, TypeError, KeyError, AttributeError):
        return "model"
