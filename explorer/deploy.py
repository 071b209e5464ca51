"""Deploy to a Hugging Face Space:

    python -m explorer.deploy --static USER/SPACE [--models NAME ...] [--out DIR] [--private] [--dry-run]
    python -m explorer.deploy USER/SPACE [--private] [--dry-run]

``--static`` (the free path for a class: Hugging Face serves static Spaces for free) builds the static edition
(explorer/site.py) and uploads exactly its files, with a Space card of ``sdk: static``; every view runs in the
students' browsers. Without it, the Gradio app: that Space runs on compute, which a paid plan (or ZeroGPU) pays for.
The Gradio deploy uploads exactly what the Space runs (the app, its packages, the pretrained models, the bundled test split, the
README with its Space card, the requirements) with ``huggingface_hub.HfApi.upload_folder``: no git is needed, and
binaries are stored through Xet. Runs, caches, tests and benchmarks stay home. ``--dry-run`` prints the file list
and its size and checks the README's Space card; nothing is sent. The token is the one ``hf auth login`` saved, or
$HF_TOKEN.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_FILES = ("app.py", "requirements.txt", "README.md", ".gitattributes")
TOP_DIRS = ("explorer", "trainer", "pretrained", "docs")  # docs/: the screenshot the README card shows
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".gradio", "runs", "data"}
SKIPPED_SUFFIXES = {".pyc", ".tmp", ".log"}
PYTHON = "3.11"


class DeployError(ValueError):
    """The Space card or the file selection is wrong; the message says what to fix."""


def space_files(root: Path = ROOT) -> list[Path]:
    """The files a Space needs, relative to ``root``, sorted."""
    files = [Path(name) for name in TOP_FILES if (root / name).is_file()]
    for top in TOP_DIRS:
        for path in sorted((root / top).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not SKIPPED_PARTS & set(rel.parts) and path.suffix not in SKIPPED_SUFFIXES \
                    and not any(part.startswith(".") for part in rel.parts):
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


def deploy_static(args) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="latent-explorer-site-") as tmp:
        out = args.out or Path(tmp) / "site"
        try:
            files = static_site(out, args.models)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        size = sum((out / f).stat().st_size for f in files)
        for f in files:
            print(f"{(out / f).stat().st_size:>12,}  {f}")
        print(f"{len(files)} files, {size / 1e6:.1f} MB, for the static Space {args.space}")
        if args.dry_run:
            print("dry run: nothing was uploaded")
            return 0
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(args.space, repo_type="space", space_sdk="static", private=args.private, exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=args.space, repo_type="space", allow_patterns=files,
                          commit_message="Deploy the Latent Explorer's static edition")
    print(f"uploaded: https://huggingface.co/spaces/{args.space}")
    return 0


def main(argv=None) -> int:
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
        return deploy_static(args)
    if args.models or args.out:
        print("error: --models and --out go with --static", file=sys.stderr)
        return 2
    files = space_files()
    size = sum((ROOT / f).stat().st_size for f in files)
    for f in files:
        print(f"{(ROOT / f).stat().st_size:>12,}  {f.as_posix()}")
    print(f"{len(files)} files, {size / 1e6:.1f} MB, for the Space {args.space}")
    problems = check_card()
    for problem in problems:
        print(f"error: README.md Space card: {problem}", file=sys.stderr)
    if problems:
        return 2
    if args.dry_run:
        print("dry run: the Space card is right; nothing was uploaded")
        return 0
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(args.space, repo_type="space", space_sdk="gradio", private=args.private, exist_ok=True)
    api.upload_folder(folder_path=str(ROOT), repo_id=args.space, repo_type="space",
                      allow_patterns=[f.as_posix() for f in files], commit_message="Deploy Latent Explorer")
    print(f"uploaded: https://huggingface.co/spaces/{args.space}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
