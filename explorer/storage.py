"""The app's own folders on disk: how many bytes a folder holds, and each session's temp folder, named by the app
process that made it so that a restarted app can remove what a killed one left (kill -9 skips every cleanup)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

SESSION_PREFIX = "latent-explorer-session-"
_OWNED = re.compile(re.escape(SESSION_PREFIX) + r"p(\d+)-")  # latent-explorer-session-p<PID>-<random>
LEGACY_AGE = 24 * 3600  # a session folder of an older app (no PID in its name) this old belongs to no live session


def folder_bytes(folder) -> int:
    """Bytes of the files under a folder (symbolic links count as themselves)."""
    total = 0
    for dirpath, _, names in os.walk(folder or ()):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def new_session_folder(tmp: str | Path | None = None) -> str:
    """A fresh temp folder for one session's uploads, named by this process."""
    return tempfile.mkdtemp(prefix=f"{SESSION_PREFIX}p{os.getpid()}-", dir=tmp)


def _started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None when it does not run (Linux: /proc)."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError, OSError):
            return None
        return 0.0  # it runs; when it started is unknown


def orphaned(folder: Path, now: float | None = None) -> bool:
    """Whether a session folder belongs to no running app: its process is gone, is this process (which, starting,
    has no sessions yet), or started after the folder was made (its PID was reused)."""
    found = _OWNED.match(folder.name)
    try:
        made = folder.stat().st_mtime
    except OSError:
        return False
    if not found:
        return (now or time.time()) - made > LEGACY_AGE
    pid = int(found.group(1))
    if pid == os.getpid():
        return True
    started = _started(pid)
    return started is None or started > made + 1


def remove_orphans(tmp: str | Path | None = None) -> list[str]:
    """Remove the session folders under the temp folder that no running app owns (call it once, at start);
    returns their names. Only folders named by this app are touched."""
    removed = []
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{SESSION_PREFIX}*"):
        if folder.is_dir() and not folder.is_symlink() and orphaned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
