"""A session's temp folder is named by the app process that made it, so a restarted app removes what a killed one
left (kill -9 skips every cleanup: a session's 153 MB of uploads once stayed for good), and nothing else."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import start_app, stop_app


def test_a_start_removes_the_session_folders_no_running_app_owns(tmp_path):
    from explorer import storage

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)  # a process that has ended
    folders = {name: tmp_path / name for name in (
        f"latent-explorer-session-p{dead}-abc", f"latent-explorer-session-p{os.getpid()}-def",
        "latent-explorer-session-p1-ghi", "latent-explorer-session-old", "latent-explorer-session-new",
        "someone-elses-folder")}
    for folder in folders.values():
        (folder / "upload-1").mkdir(parents=True)
        (folder / "upload-1" / "model.safetensors").write_bytes(b"x" * 1000)
    long_ago = time.time() - storage.LEGACY_AGE - 60
    os.utime(folders["latent-explorer-session-old"], (long_ago, long_ago))
    removed = storage.remove_orphans(tmp_path)
    assert sorted(removed) == sorted([f"latent-explorer-session-p{dead}-abc",
                                      f"latent-explorer-session-p{os.getpid()}-def",  # this process, starting
                                      "latent-explorer-session-old"])
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["latent-explorer-session-new", "latent-explorer-session-p1-ghi", "someone-elses-folder"]


def test_a_new_session_folder_is_named_by_this_process(tmp_path):
    from explorer.storage import new_session_folder

    assert os.path.basename(new_session_folder(tmp_path)).startswith(f"latent-explorer-session-p{os.getpid()}-")


@pytest.mark.slow
def test_after_a_kill_9_the_next_start_removes_the_killed_sessions_uploads(tmp_path, tiny_zoo):
    from gradio_client import Client, handle_file

    runs = tmp_path / "runs"
    server = start_app(tmp_path, tiny_zoo, runs)
    try:
        client = Client(server.url, verbose=False)
        client.predict([handle_file(str(tiny_zoo / "vae-2d" / n)) for n in ("config.json", "model.safetensors")],
                       [], api_name="/upload")
        left = list(server.tmp.glob("latent-explorer-session-*"))
        assert len(left) == 1 and list(left[0].glob("upload-*/model.safetensors"))
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        assert left[0].exists()  # nothing cleaned up after a kill -9
    finally:
        stop_app(server)
    again = start_app(tmp_path, tiny_zoo, runs)  # the same temp folder
    try:
        assert not left[0].exists(), "the killed app's session folder is still on disk"
    finally:
        stop_app(again)
