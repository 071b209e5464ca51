"""Pins: every third-party package a .py file of the repository imports is pinned with == in a requirements file.

What the app, the trainer and the zoo build import must be in requirements.txt (a Space installs only that file);
what only tests and benchmarks import may be in requirements-dev.txt instead.
"""
import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = {"app.py", "explorer", "trainer", "pretrained"}  # what a Space runs or a user builds the zoo with
SKIPPED = {"runs", "data", "__pycache__", "node_modules"}


def python_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py")
                  if not SKIPPED & set(p.relative_to(ROOT).parts) and not any(
                      part.startswith(".") for part in p.relative_to(ROOT).parts))


def top_level_imports(path: Path) -> set[str]:
    """The first name of every absolute import in the file, wherever it sits (in functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503: Pillow, gradio_client, huggingface-hub alike


def pins(requirements: Path) -> dict[str, str]:
    """Distribution -> the whole requirement line (without its comment), for every line that is not an -r."""
    found = {}
    for line in requirements.read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec and not spec.startswith("-"):
            found[normalize(re.split(r"[=<>!~\[; ]", spec)[0])] = spec
    return found


def test_every_imported_third_party_package_is_pinned():
    files = python_files()
    first_party = {p.stem for p in files} | {p.parent.name for p in files}  # packages and sibling modules
    distributions = importlib.metadata.packages_distributions()
    runtime_pins, dev_pins = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    problems = []
    for path in files:
        rel = path.relative_to(ROOT)
        allowed = runtime_pins if rel.parts[0] in RUNTIME else {**dev_pins, **runtime_pins}
        where = "requirements.txt" if rel.parts[0] in RUNTIME else "requirements.txt or requirements-dev.txt"
        for name in sorted(top_level_imports(path) - set(sys.stdlib_module_names) - first_party):
            dists = [normalize(d) for d in distributions.get(name, [])]
            if not dists:
                problems.append(f"{rel}: imports {name!r}, which no installed distribution provides")
            elif not any("==" in allowed.get(d, "") for d in dists):
                problems.append(f"{rel}: imports {name!r} (distribution {dists[0]}); pin it with == in {where}")
    assert not problems, "\n".join(problems)


def test_pins_are_exact():
    for requirements in (ROOT / "requirements.txt", ROOT / "requirements-dev.txt"):
        for dist, spec in pins(requirements).items():
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9.+\-]*", spec), f"{requirements.name}: {spec!r}"
