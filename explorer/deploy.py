"""Deploy to a Hugging Face Space:

    python -m explorer.deploy --static USER/SPACE [--models NAME ...] [--out DIR] [--private] [--dry-run]
    python -m explorer.deploy USER/SPACE [--private] [--dry-run]

``--static`` (the free path for a class: Hugging Face serves static Spaces for free) builds the static edition
(explorer/site.py) and sends exactly its files, with a Space card of ``sdk: static``; every view runs in the
students' browsers. Without it, the Gradio app: that Space runs on compute, which a paid plan (or ZeroGPU) pays for.

The Gradio deploy sends exactly what the Space runs (the app, its packages, the pretrained models, the bundled test
split, the README with its Space card, the requirements), as one commit of exact file names (``HfApi.create_commit``;
no patterns, so the list printed is the list sent); so does the static one. Only files git tracks are sent: an
untracked token, a private run folder under pretrained/ or a run's resume point never leave the machine; a symbolic
link is refused (it could point anywhere). Runs, caches, tests and benchmarks stay home. ``--dry-run`` prints the
file list and its size and checks the README's Space card; nothing is sent. The token is the one ``hf auth login``
saved, or $HF_TOKEN.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_FILES = ("app.py", "requirements.txt", "README.md", ".gitattributes")
TOP_DIRS = ("explorer", "trainer", "pretrained", "docs")  # docs/: the screenshot the README card shows
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".gradio", "runs", "data"}
SKIPPED_SUFFIXES = {".pyc", ".tmp", ".log"}
SKIPPED_NAMES = {"optimizer.safetensors", "trainer_state.json"}  # a run's resume point: never part of a Space
PYTHON = "3.11"


class DeployError(ValueError):
    """The Space card or the file selection is wrong; the message says what to fix."""


def tracked(root: Path) -> list[str]:
    """The files git tracks under ``root``, as repository paths."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--full-name", "--", "."],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise DeployError(f"{root.name} is not a git checkout (or git is missing): the deploy sends only the files "
                          "git tracks") from None
    return [name for name in out.decode().split("\0") if name]


def space_files(root: Path = ROOT) -> list[Path]:
    """The files a Space needs, relative to ``root``, sorted: tracked by git, regular files (a symbolic link is
    refused), never a cache, a log, a run or its resume point."""
    files = []
    for name in tracked(root):
        rel = Path(name)
        if not (name in TOP_FILES or rel.parts[0] in TOP_DIRS) or SKIPPED_PARTS & set(rel.parts) \
                or rel.suffix in SKIPPED_SUFFIXES or rel.name in SKIPPED_NAMES \
                or any(part.startswith(".") for part in rel.parts[:-1] if part) or \
                (rel.name.startswith(".") and name not in TOP_FILES):
            continue
        path = root / rel
        if any((root / Path(*rel.parts[:k])).is_symlink() for k in range(1, len(rel.parts) + 1)):
            raise DeployError(f"{name} is a symbolic link: the deploy sends regular files only (replace the link "
                              "with the file, or remove it from git)")
        if not path.is_file():
            raise DeployError(f"{name} is tracked by git but missing here: restore it or commit its removal")
        files.append(rel)
    return sorted(files)


def front_matter(readme: Path) -> dict[str, str]:
    """The README's YAML front matter as flat key: value pairs (what a Space card holds)."""
    text = readme.read_text(encoding="utf-8")
    found = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not found:
        raise DeployError(f"{readme.name} has no Space card (a --- front matter block at its top)")
    card = {}
    for line in found.group(1).splitlines():
        if ":" in line and not line.startswith(" "):
            key, value = line.split(":", 1)
            card[key.strip()] = value.strip().strip("\"'")
    return card


def pinned(requirements: Path, package: str) -> str | None:
    for line in requirements.read_text().splitlines():
        name, _, version = line.split("#")[0].strip().partition("==")
        if name.strip().lower().replace("_", "-") == package and version:
            return version.strip()
    return None


def check_card(root: Path = ROOT) -> list[str]:
    """What is wrong with the README's Space card ([] when it is right): sdk gradio, sdk_version the pinned
    Gradio, app_file an existing file, python_version 3.11."""
    card = front_matter(root / "README.md")
    problems = []
    if card.get("sdk") != "gradio":
        problems.append(f"sdk is {card.get('sdk')!r}, expected 'gradio'")
    gradio = pinned(root / "requirements.txt", "gradio")
    if card.get("sdk_version") != gradio:
        problems.append(f"sdk_version is {card.get('sdk_version')!r}, but requirements.txt pins gradio=={gradio}")
    if not card.get("app_file") or not (root / card["app_file"]).is_file():
        problems.append(f"app_file {card.get('app_file')!r} is not a file of the repository")
    if card.get("python_version") != PYTHON:
        problems.append(f"python_version is {card.get('python_version')!r}, expected {PYTHON!r}")
    return problems


def upload(api, space: str, files: list[Path], root: Path = ROOT, private: bool = False, sdk: str = "gradio") -> None:
    """Create the Space if needed and send ``files`` (paths under ``root``) as one commit, each by its exact name."""
    from huggingface_hub import CommitOperationAdd

    api.create_repo(space, repo_type="space", space_sdk=sdk, private=private, exist_ok=True)
    api.create_commit(repo_id=space, repo_type="space", commit_message="Deploy Latent Explorer",
                      operations=[CommitOperationAdd(path_in_repo=f.as_posix(), path_or_fileobj=str(root / f))
                                  for f in files])


STATIC_CARD = """---
title: Latent Explorer
emoji: 🔢
colorFrom: blue
colorTo: indigo
sdk: static
app_file: index.html
pinned: false
short_description: Compare what AE, VAE and AAE models learn on MNIST
---

# Latent Explorer (static edition)

Compare what an autoencoder, a variational autoencoder and an adversarial autoencoder learn on MNIST, side by
side. Every view runs in your browser (ONNX Runtime Web, WebAssembly): no server computes anything, so a whole
class can use this Space at once. Built with `python -m explorer.site`, uploaded with
`python -m explorer.deploy --static`.
"""


def static_site(out: Path, models: list[str] | None) -> list[str]:
    """Build the static edition into ``out`` with its Space card (README.md); the files to upload, exactly."""
    from . import site

    files = site.build(out, models)
    (out / "README.md").write_text(STATIC_CARD, encoding="utf-8")
    return sorted([*files, "README.md"])


def deploy_static(args, api=None) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="latent-explorer-site-") as tmp:
        out = args.out or Path(tmp) / "site"
        try:
            files = static_site(out, args.models)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        files = [Path(f) for f in files]
        list_files(out, files, f"the static Space {args.space}")
        if args.dry_run:
            print("dry run: nothing was uploaded")
            return 0
        upload(api or hub(), args.space, files, out, args.private, sdk="static")
    print(f"uploaded: https://huggingface.co/spaces/{args.space}")
    return 0


def list_files(folder: Path, files: list[Path], target: str) -> None:
    """Print what would be sent: each file's size and name, then the count and total (the dry run's list)."""
    for f in files:
        print(f"{(folder / f).stat().st_size:>12,}  {f.as_posix()}")
    size = sum((folder / f).stat().st_size for f in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB, for {target}")


def hub():
    from huggingface_hub import HfApi

    return HfApi()


def main(argv=None, *, root: Path = ROOT, api=None) -> int:
    """The command; ``api`` stands in for huggingface_hub.HfApi() (a test passes one that records the upload)."""
    parser = argparse.ArgumentParser(prog="python -m explorer.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("space", help="USER/SPACE, the Space to create or update")
    parser.add_argument("--static", action="store_true", help="the static edition (free), not the Gradio app")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="--static: shipped models to include (default all)")
    parser.add_argument("--out", type=Path, help="--static: build into this folder (kept) instead of a temp one")
    parser.add_argument("--private", action="store_true", help="create the Space private")
    parser.add_argument("--dry-run", action="store_true", help="list the files and check the card; send nothing")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.space):
        print(f"error: {args.space!r} is not USER/SPACE", file=sys.stderr)
        return 2
    if args.static:
        return deploy_static(args, api)
    if args.models or args.out:
        print("error: --models and --out go with --static", file=sys.stderr)
        return 2
    try:
        files = space_files(root)
        problems = check_card(root)
    except DeployError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    list_files(root, files, f"the Space {args.space}")
    for problem in problems:
        print(f"error: README.md Space card: {problem}", file=sys.stderr)
    if problems:
        return 2
    if args.dry_run:
        print("dry run: the Space card is right; nothing was uploaded")
        return 0
    upload(api or hub(), args.space, files, root, args.private)
    print(f"uploaded: https://huggingface.co/spaces/{args.space}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
