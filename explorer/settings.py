"""Where the app keeps things and a teacher's settings for a class Space: read here, from the environment, once.

    LATENT_EXPLORER_TRAIN_JOBS   training jobs the server runs at once (default 2; 0 turns the Train tab off)
    LATENT_EXPLORER_UPLOADS      on (default) or off: may visitors add their own models?
    LATENT_EXPLORER_MODELS       the models a new page shows, comma-separated (default ae-2d,vae-2d,aae-mixture10-2d)
    LATENT_EXPLORER_RUNS         where runs are saved (default runs/ beside the app; a temp folder when that is
                                 not writable, as in a read-only Space)
    LATENT_EXPLORER_PRETRAINED   the shipped models' folder (default pretrained/)
    LATENT_EXPLORER_EXPORTS      where decoders of runs and uploads are exported for the page (default: temp)
    SYSTEM=spaces                set by Hugging Face Spaces: the Train tab says that runs vanish on a restart
    LATENT_EXPLORER_PUBLIC       on or off: every visitor is anonymous (default: on when SYSTEM=spaces); turns on
                                 the retention of runs and the bound on a job's wall time below
  What anonymous visitors can make the server keep (docs/reliability.md, "Server-wide bounds"):
    LATENT_EXPLORER_RUN_HOURS    hours a run trained on a public server is kept after its last save (default 24;
                                 0 keeps runs; only runs the Train tab made are removed)
    LATENT_EXPLORER_JOB_MINUTES  wall time of one training job (default 30 on a public server, else 0: unbounded)
    LATENT_EXPLORER_RUN_MB       disk one run may take (default 256)
    LATENT_EXPLORER_RUNS_MB      disk all runs may take (default 4096)
    LATENT_EXPLORER_UPLOAD_PARAMETERS  weights of one uploaded model (default 10,000,000)
    LATENT_EXPLORER_MODELS_MB    weights of all models held in memory, shipped, runs and uploads (default 1024):
                                 the least recently used are dropped and read again from disk when next shown
    LATENT_EXPLORER_UPLOAD_CLIENT_MB / LATENT_EXPLORER_UPLOAD_TOTAL_MB  bytes Gradio's upload route takes from one
                                 client address / from everyone within UPLOAD_WINDOW (default 400 / 2048)
    LATENT_EXPLORER_TIDY_SECONDS seconds between rounds of explorer.janitor, which also forgets a finished job
                                 nobody asked about for that long (default 600)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DEFAULTS = ("ae-2d", "vae-2d", "aae-mixture10-2d")


class SettingError(ValueError):
    """An environment setting has a value the app cannot use; the message names it."""


def _int(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingError(f"{name}={text!r}: expected a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise SettingError(f"{name}={value}: expected a whole number from {low} to {high}")
    return value


def _switch(name: str, default: bool) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "on", "true", "yes"):
        return True
    if text in ("0", "off", "false", "no"):
        return False
    raise SettingError(f"{name}={text!r}: expected on or off")


def writable(folder: Path) -> bool:
    """Whether the app can create files in ``folder`` (made if it is missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            return True
    except OSError:
        return False


def _runs() -> tuple[Path, str]:
    """The runs folder and, when it had to move, why (shown in the Train tab)."""
    wanted = Path(os.environ.get("LATENT_EXPLORER_RUNS") or ROOT / "runs")
    if writable(wanted):
        return wanted, ""
    fallback = Path(tempfile.gettempdir()) / "latent-explorer-runs"
    if writable(fallback):
        # every visitor reads this note: it names the setting, never the server's folders
        return fallback, ("the runs folder (LATENT_EXPLORER_RUNS) is not writable here, so runs are saved in a "
                          "temporary folder and vanish when the app restarts: download each run to keep it")
    return wanted, "no folder for runs is writable on this server: runs cannot be saved here"


ON_SPACE = os.environ.get("SYSTEM") == "spaces"
TRAIN_JOBS = _int("LATENT_EXPLORER_TRAIN_JOBS", 2, 0, 16)
UPLOADS = _switch("LATENT_EXPLORER_UPLOADS", True)
DEFAULT_MODELS = tuple(m.strip() for m in os.environ.get(
    "LATENT_EXPLORER_MODELS", ",".join(SHIPPED_DEFAULTS)).split(",") if m.strip()) or SHIPPED_DEFAULTS
PRETRAINED = Path(os.environ.get("LATENT_EXPLORER_PRETRAINED") or ROOT / "pretrained")
RUNS, RUNS_NOTE = _runs()
EXPORTS = Path(os.environ.get("LATENT_EXPLORER_EXPORTS") or Path(tempfile.gettempdir()) / "latent-explorer-onnx")
PUBLIC = _switch("LATENT_EXPLORER_PUBLIC", ON_SPACE)
RUN_HOURS = _int("LATENT_EXPLORER_RUN_HOURS", 24 if PUBLIC else 0, 0, 24 * 365)
JOB_MINUTES = _int("LATENT_EXPLORER_JOB_MINUTES", 30 if PUBLIC else 0, 0, 7 * 24 * 60)
RUN_BYTES = _int("LATENT_EXPLORER_RUN_MB", 256, 1, 2**20) * 2**20
RUNS_BYTES = _int("LATENT_EXPLORER_RUNS_MB", 4096, 1, 2**24) * 2**20
UPLOAD_PARAMETERS = _int("LATENT_EXPLORER_UPLOAD_PARAMETERS", 10_000_000, 1, 50_000_000)
MODELS_BYTES = _int("LATENT_EXPLORER_MODELS_MB", 1024, 1, 2**20) * 2**20
UPLOAD_CLIENT_BYTES = _int("LATENT_EXPLORER_UPLOAD_CLIENT_MB", 400, 1, 2**20) * 2**20
UPLOAD_TOTAL_BYTES = _int("LATENT_EXPLORER_UPLOAD_TOTAL_MB", 2048, 1, 2**24) * 2**20
UPLOAD_WINDOW = 25 * 60  # seconds Gradio keeps an upload (media.MEDIA_TTL + CACHE_SWEEP): the quotas' window
TIDY_SECONDS = _int("LATENT_EXPLORER_TIDY_SECONDS", 600, 1, 24 * 3600)  # between the janitor's rounds (below)
