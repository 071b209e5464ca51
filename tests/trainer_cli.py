"""`python -m trainer ...` for tests: in this process through `trainer.__main__.main` (no new interpreter, no second
torch import), or as a real process where the process is what a test is about (signals, kill -9, a round trip)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.__main__ import main
from trainer.data import DATA_ENV

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Runs the CLI in this process, from an empty folder and without $LATENT_EXPLORER_DATA (as a fresh shell would);
    returns what a subprocess would: the exit code, stdout and stderr."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args) -> subprocess.CompletedProcess:
        argv = [str(a) for a in args]
        capsys.readouterr()  # only this command's output
        try:
            code = main(argv)
        except SystemExit as e:  # argparse exits itself: --help, or a value it cannot parse
            code = e.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, out, err)

    return run


def cli_process(*args, cwd=None) -> subprocess.CompletedProcess:
    """A real `python -m trainer` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(DATA_ENV, None)
    return subprocess.run([sys.executable, "-m", "trainer", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=300)
