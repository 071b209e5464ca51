"""What anonymous visitors can make a public server keep, and what they are told: bounds on indices, uploads,
models in memory, runs, jobs and Gradio's upload route, each refused with a message naming the thing and its limit,
and never the server's paths."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]


def settings_in(env: dict, code: str) -> str:
    """What ``code`` prints after importing explorer.settings with ``env`` added to the environment."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- 3. a read-only start --------------------------------------------------------------------------------------
def test_a_read_only_runs_folder_is_explained_without_the_servers_paths(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a folder cannot be made inside a file, even by root
    wanted = blocked / "runs"
    code = ("import json, explorer.settings as s; from explorer.ui import train; "
            "print(json.dumps([s.RUNS_NOTE, train.notes(), str(s.RUNS)]))")
    note, notes, runs = json.loads(settings_in({"LATENT_EXPLORER_RUNS": str(wanted)}, code))
    assert "not writable here, so runs are saved in a temporary folder" in note
    for said in (note, *notes):
        assert str(wanted) not in said and str(tmp_path) not in said and runs not in said and "/" not in said, said


# -- 9. indices per request --------------------------------------------------------------------------------------
def test_a_request_names_at_most_a_few_dozen_test_digits():
    from explorer import actions
    from trainer.data import bundled_test_split

    test = bundled_test_split()
    many = ", ".join(str(k) for k in range(3000))
    with pytest.raises(ValueError, match=r"at most 40 test digits at once, got 3,000 indices"):
        actions.pick_test_digits(test, "by index", indices=many)
    images, _, idx = actions.pick_test_digits(test, "by index", indices=", ".join(map(str, range(40))))
    assert len(images) == len(idx) == 40


def test_style_grid_and_reconstruct_refuse_more_indices_with_a_message(app_server):
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    many = ",".join(str(k) for k in range(41))
    for call in (lambda: client.predict(["pretrained/cvae-2d"], many, api_name="/style_grid"),
                 lambda: client.predict(DEFAULT, "by index", many, None, 0, "umap", api_name="/reconstruct")):
        with pytest.raises(Exception, match="at most 40 test digits at once, got 41 indices"):
            call()
