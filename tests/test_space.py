"""Shipping to a Hugging Face Space: every binary through LFS, the deploy's file selection and card check."""
import subprocess
import sys

import pytest

from conftest import ROOT


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.decode().split("\0") if name]


def is_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_every_tracked_binary_goes_through_lfs():
    """Hugging Face refuses a push with binaries outside LFS: .gitattributes must route each one."""
    files = tracked_files()
    binaries = [f for f in files if (ROOT / f).is_file() and not is_text((ROOT / f).read_bytes())]
    assert binaries, "the repository ships weights and data: some files must be binary"
    out = subprocess.run(["git", "check-attr", "filter", "--", *binaries], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    uncovered = [line.split(":")[0] for line in out.splitlines() if not line.endswith(": filter: lfs")]
    assert uncovered == [], f"binary files outside Git LFS (add their type to .gitattributes): {uncovered}"
    # and nothing that is text is sent through LFS by a pattern too wide
    texts = [f for f in files if f.endswith((".py", ".json", ".md", ".js", ".mjs", ".css", ".txt"))]
    out = subprocess.run(["git", "check-attr", "filter", "--", *texts], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert not [line for line in out.splitlines() if line.endswith(": filter: lfs")]


def test_the_deploy_uploads_what_the_space_runs_and_nothing_else(tmp_path):
    from explorer.deploy import space_files

    files = {f.as_posix() for f in space_files()}
    for needed in ("app.py", "requirements.txt", "README.md", "explorer/ui.py", "explorer/static/live_plane.js",
                   "explorer/static/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm", "trainer/train.py",
                   "trainer/assets/mnist/t10k-images-idx3-ubyte.gz", "pretrained/vae-2d/model.safetensors",
                   "pretrained/vae-2d/decoder.onnx", "pretrained/classifier/classifier.onnx"):
        assert needed in files, needed
    for f in files:
        assert not f.startswith(("runs/", "tests/", "benchmarks/", ".git/", ".ci/")), f
        assert "__pycache__" not in f and not f.endswith((".pyc", ".tmp")), f
    # a run, a cache and a temp file in the tree are left out
    from explorer import deploy

    root = tmp_path / "repo"
    for name in ("app.py", "README.md", "explorer/x.py", "explorer/__pycache__/x.cpython-311.pyc", "runs/r/a.json",
                 "trainer/.hidden/y", "pretrained/m/.model.safetensors.abc.tmp", "pretrained/m/model.safetensors",
                 "tests/test_x.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    assert [f.as_posix() for f in deploy.space_files(root)] == ["README.md", "app.py", "explorer/x.py",
                                                                "pretrained/m/model.safetensors"]


def test_the_dry_run_lists_the_files_and_checks_the_space_card(tmp_path, monkeypatch):
    from explorer import deploy

    assert deploy.check_card() == []  # the repository's own README
    done = subprocess.run([sys.executable, "-m", "explorer.deploy", "someone/latent-explorer", "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pretrained/vae-2d/decoder.onnx" in done.stdout and "runs/" not in done.stdout
    assert "files," in done.stdout and "MB, for the Space someone/latent-explorer" in done.stdout
    assert "nothing was uploaded" in done.stdout
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("")
    (root / "requirements.txt").write_text("gradio==6.31.0\n")
    (root / "README.md").write_text("---\nsdk: streamlit\nsdk_version: 6.30.0\napp_file: main.py\n---\n# x\n")
    problems = deploy.check_card(root)
    assert len(problems) == 4 and "gradio==6.31.0" in problems[1] and "main.py" in problems[2]
    (root / "README.md").write_text("# no card\n")
    with pytest.raises(deploy.DeployError, match="no Space card"):
        deploy.check_card(root)
    bad = subprocess.run([sys.executable, "-m", "explorer.deploy", "not a space", "--dry-run"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "is not USER/SPACE" in bad.stderr
