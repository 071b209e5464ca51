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
    for needed in ("app.py", "requirements.txt", "README.md", "explorer/ui/app.py", "explorer/static/live_plane.js",
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
    for command in (["init", "-q"], ["add", "-A"]):  # the deploy sends what git tracks
        subprocess.run(["git", "-C", str(root), *command], check=True, capture_output=True)
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


def _read_only_command(folder, command: list[str]) -> tuple[list[str], bool]:
    """``command`` inside a private mount namespace where ``folder`` is mounted read-only (root ignores file
    modes, so chmod cannot make a folder read-only for it); without that ability, the command as it is."""
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{folder}' '{folder}' && "
                            f"! touch '{folder}/.probe' 2>/dev/null"], capture_output=True)
    if probe.returncode != 0:
        return command, False
    script = f"mount --bind -o ro '{folder}' '{folder}' && exec " + " ".join(f"'{c}'" for c in command)
    return ["unshare", "-m", "sh", "-c", script], True


@pytest.mark.server
@pytest.mark.browser
def test_the_app_starts_as_a_space_starts(tmp_path, chromium):
    """Exactly the deploy's files in a fresh, read-only folder, with the environment a Space sets: the page
    loads, a point decodes (on the server and in the page), and the app writes only to its temp folder."""
    import os
    import shutil
    import time
    import urllib.request

    from conftest import free_port
    from explorer.deploy import space_files

    space, tmp = tmp_path / "app", tmp_path / "tmp"
    for f in space_files():
        (space / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, space / f)
    tmp.mkdir()
    before = sorted(p.relative_to(space) for p in space.rglob("*"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LATENT_EXPLORER_", "GRADIO_", "PORT"))}
    env.update(SYSTEM="spaces", GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port), TMPDIR=str(tmp),
               GRADIO_ANALYTICS_ENABLED="False", HOME=str(tmp))
    command, read_only = _read_only_command(space, [sys.executable, "app.py"])
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen(command, cwd=space, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "app.log").read_text()[-3000:]
            time.sleep(0.5)
        from gradio_client import Client

        client = Client(url, verbose=False)
        assert client.predict(["pretrained/vae-2d"], 0, 0.5, -0.5, "umap", "auto", api_name="/decode")
        from test_browser import LIVE

        context = chromium.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(LIVE, timeout=120_000)  # the shipped decoders, run in the page
        page.get_by_role("tab", name="Train").click()
        note = page.locator("#train-note").inner_text()
        context.close()
        if read_only:
            assert "not writable here, so runs are saved in a temporary folder" in note
        else:
            assert "runs vanish when it restarts" in note
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    written = [p for p in space.rglob("*") if p.relative_to(space) not in before]
    assert [p for p in written if "__pycache__" not in p.parts] == [], f"the app wrote into its folder: {written}"
    assert "Traceback" not in (tmp_path / "app.log").read_text()


def test_a_teachers_settings_are_read_from_the_environment():
    import os

    code = ("import json, explorer.settings as s; print(json.dumps([s.TRAIN_JOBS, s.UPLOADS, list(s.DEFAULT_MODELS), "
            "s.ON_SPACE]))")
    env = {**os.environ, "LATENT_EXPLORER_TRAIN_JOBS": "0", "LATENT_EXPLORER_UPLOADS": "off",
           "LATENT_EXPLORER_MODELS": "vae-2d, cvae-2d", "SYSTEM": "spaces"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    import json

    assert json.loads(out.stdout) == [0, False, ["vae-2d", "cvae-2d"], True]
    bad = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "LATENT_EXPLORER_UPLOADS": "maybe"})
    assert bad.returncode != 0 and "LATENT_EXPLORER_UPLOADS='maybe': expected on or off" in bad.stderr


def test_training_and_uploads_can_be_turned_off(tiny_zoo, tmp_path, monkeypatch):
    import gradio as gr

    from explorer import jobs, settings
    from explorer.registry import Registry
    from explorer.ui import add_model, models, train_jobs
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", Registry(pretrained=tiny_zoo, runs=tmp_path))
    monkeypatch.setattr(train_jobs, "JOBS", jobs.JobManager(tmp_path, total=0))
    session = Session()
    with pytest.raises(gr.Error, match="training is turned off on this server"):
        train_jobs.train_start("vae", "mlp", 2, 1.0, "gaussian", False, 1, 128, 1e-3, 0, "bundled", None, "x", 0,
                                "diagonal", 0, session=session)
    monkeypatch.setattr(settings, "UPLOADS", False)
    with pytest.raises(gr.Error, match="uploads are turned off on this server"):
        add_model.upload([str(tiny_zoo / "vae-2d" / "config.json")], [], session)
    monkeypatch.setattr(models, "DEFAULT_MODELS", ("cvae-2d", "nope", "vae-2d"))
    assert models.default_models() == ["pretrained/cvae-2d", "pretrained/vae-2d"]  # unknown names are left out


def test_a_downloaded_run_uploads_back_as_the_same_model(app_server, tiny_zoo):
    """Nothing lost to a Space's ephemeral disk: Download run gives the zip that Add a model takes back."""
    import shutil
    import zipfile

    import numpy as np
    from gradio_client import Client, handle_file
    from PIL import Image

    runs = app_server.registry.runs
    shutil.copytree(tiny_zoo / "vae-2d", runs / "keep-me")
    client = Client(app_server.url, verbose=False)
    path = client.predict("keep-me", api_name="/download_run")
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
    assert names == sorted(f"keep-me/{n}" for n in ("config.json", "model.safetensors", "metrics.json",
                                                     "history.jsonl"))  # no resume point: an upload ignores it
    models, message, *_ = client.predict([handle_file(path)], [], api_name="/upload")
    key = models["value"][-1]
    assert key.endswith("keep-me") and "Loaded" in message
    ours = client.predict([key], 0, 0.4, -0.3, "umap", "auto", api_name="/decode")
    from explorer import actions

    run_entry = app_server.registry.get("runs/keep-me")
    expected = actions.decoded_strip(actions.click_targets([run_entry], 0, (0.4, -0.3)), app_server.registry.test)
    got = np.asarray(Image.open(ours).convert("RGB"))
    assert got.shape == expected.shape
    digit = (slice(76, 76 + 128), slice(20, 20 + 128))  # the decoded digit (the titles differ: upload vs run)
    assert np.array_equal(got[digit], expected[digit]) and (expected[digit] < 255).any()
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="choose a saved run from the list"):
        client.predict("../etc", api_name="/download_run")
