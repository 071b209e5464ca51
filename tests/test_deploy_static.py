"""python -m explorer.deploy --static: the static edition built, listed and uploaded with an sdk: static card;
exactly the built folder's files. Nothing is ever sent: the upload goes to a stand-in for huggingface_hub's HfApi."""
import re

import pytest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from explorer import deploy

    out = tmp_path_factory.mktemp("space") / "site"
    return out, deploy.static_site(out, ["ae-2d"])


@pytest.mark.slow  # builds a static edition
def test_the_static_space_gets_exactly_the_built_folder_and_a_static_card(built):
    from explorer import deploy

    out, files = built
    assert files == sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    card = deploy.front_matter(out / "README.md")
    assert card["sdk"] == "static" and card["app_file"] == "index.html" and (out / card["app_file"]).is_file()
    assert "models/ae-2d/decoder.onnx" in files and "models/ae-2d/encoder.onnx" in files
    assert not any(f.startswith("models/vae-2d/") for f in files)  # only the chosen models


@pytest.mark.slow  # builds a static edition
def test_the_dry_run_lists_every_file_and_sends_nothing(tmp_path, capsys, monkeypatch):
    import huggingface_hub

    from explorer import deploy

    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: pytest.fail("a dry run must not reach the Hub"))
    assert deploy.main(["--static", "someone/class-explorer", "--models", "ae-2d", "--dry-run",
                        "--out", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^\s+[\d,]+  (\S+)$", out, re.M)
    assert listed == sorted(p.relative_to(tmp_path / "site").as_posix()
                            for p in (tmp_path / "site").rglob("*") if p.is_file())
    assert "for the static Space someone/class-explorer" in out and "nothing was uploaded" in out


class FakeApi:
    """Records what would be sent (tests/test_deploy.py's FakeHub, for the static Space)."""

    def __init__(self):
        self.calls = []

    def create_repo(self, *args, **kwargs):
        self.calls.append(("create_repo", args, kwargs))

    def create_commit(self, **kwargs):
        self.calls.append(("create_commit", (), kwargs))


@pytest.mark.slow  # builds a static edition
def test_the_upload_creates_a_static_space_and_sends_the_listed_files(tmp_path):
    from explorer import deploy

    api = FakeApi()
    out = tmp_path / "site"
    assert deploy.main(["--static", "someone/class-explorer", "--models", "ae-2d", "--out", str(out)], api=api) == 0
    (create, args, kwargs), (commit, _, sent) = api.calls
    assert create == "create_repo" and args == ("someone/class-explorer",)
    assert kwargs["space_sdk"] == "static" and kwargs["repo_type"] == "space"
    assert commit == "create_commit" and sent["repo_id"] == "someone/class-explorer" and sent["repo_type"] == "space"
    names = [op.path_in_repo for op in sent["operations"]]
    assert names == sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert all(op.path_or_fileobj == str(out / op.path_in_repo) for op in sent["operations"])


def test_static_only_options_are_refused_for_the_gradio_deploy(capsys):
    from explorer import deploy

    assert deploy.main(["someone/app", "--models", "ae-2d", "--dry-run"]) == 2
    assert "go with --static" in capsys.readouterr().err
