"""The deploy sends git-tracked regular files by their exact names, and the dry run lists exactly what is sent (a
fake upload function stands in for Hugging Face: nothing here touches the network)."""
from __future__ import annotations

import os
import subprocess

import pytest

from explorer import deploy

CARD = "---\nsdk: gradio\nsdk_version: 6.31.0\napp_file: app.py\npython_version: \"3.11\"\n---\n# x\n"
TRACKED = ("app.py", "requirements.txt", "README.md", ".gitattributes", "explorer/ui/app.py", "trainer/train.py",
           "pretrained/vae-2d/model.safetensors", "pretrained/vae-2d/config.json", "docs/screenshot [old].png",
           "pretrained/vae-2d/optimizer.safetensors", "tests/test_x.py")
UNTRACKED = ("explorer/hf_token.txt", "trainer/secrets.py", "pretrained/my-private-run/model.safetensors",
             "pretrained/my-private-run/config.json", "docs/screenshot o.png")  # "o" matches the pattern "[old]"
SENT = sorted(set(TRACKED) - {"pretrained/vae-2d/optimizer.safetensors", "tests/test_x.py"})


class FakeHub:
    """Records what the deploy would send to Hugging Face."""

    def __init__(self):
        self.sent, self.repos = None, []

    def create_repo(self, repo_id, **kwargs):
        self.repos.append(repo_id)

    def create_commit(self, *, repo_id, operations, **kwargs):
        self.sent = {op.path_in_repo: open(op.path_or_fileobj, "rb").read() for op in operations}


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for name in TRACKED + UNTRACKED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(CARD if name == "README.md" else "gradio==6.31.0\n" if "requirements" in name
                                 else f"contents of {name}")
    git(root, "init", "-q")
    git(root, "add", "--", *TRACKED)
    return root


def test_the_deploy_sends_exactly_the_tracked_files_the_dry_run_lists(repo, capsys):
    hub = FakeHub()
    assert deploy.main(["me/space", "--dry-run"], root=repo, api=hub) == 0
    listed = [line.split(maxsplit=1)[1] for line in capsys.readouterr().out.splitlines() if line.startswith(" ")]
    assert hub.sent is None and hub.repos == []  # a dry run sends nothing
    assert listed == SENT
    assert deploy.main(["me/space"], root=repo, api=hub) == 0
    assert sorted(hub.sent) == listed, "the upload received another list than the dry run printed"
    assert hub.sent["docs/screenshot [old].png"] == b"contents of docs/screenshot [old].png"
    for secret in UNTRACKED:
        assert secret not in hub.sent


def test_a_symbolic_link_is_refused_and_nothing_is_sent(repo, capsys):
    outside = repo.parent / "secret.txt"
    outside.write_text("a token")
    os.symlink(outside, repo / "pretrained" / "vae-2d" / "embedding.npz")
    git(repo, "add", "pretrained/vae-2d/embedding.npz")
    hub = FakeHub()
    assert deploy.main(["me/space"], root=repo, api=hub) == 2
    assert "pretrained/vae-2d/embedding.npz is a symbolic link" in capsys.readouterr().err
    assert hub.sent is None and hub.repos == []


def test_a_folder_that_is_not_a_git_checkout_is_refused(tmp_path, capsys):
    (tmp_path / "app.py").write_text("")
    assert deploy.main(["me/space", "--dry-run"], root=tmp_path, api=FakeHub()) == 2
    assert "is not a git checkout" in capsys.readouterr().err
