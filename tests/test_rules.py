"""One set of rules, checked from both sides: tests/golden_rules.json is what the Python rules (explorer/rules.py)
give today, and the page's rules (explorer/static/rules.js) give the same under Node's test runner."""
import json
import shutil
import subprocess

import pytest

from conftest import ROOT

import make_golden


def test_the_golden_file_is_what_the_python_rules_give():
    """A Python rule changed without `python tests/make_golden.py` (and the page's copy) fails here."""
    on_file = json.loads(make_golden.GOLDEN.read_text())
    now = json.loads(make_golden.dumps(make_golden.golden()))
    for section in ("constants", "link_groups", "models"):
        assert on_file[section] == now[section], f"{section} changed: run python tests/make_golden.py"
    assert on_file["cases"].keys() == now["cases"].keys()
    for name, cases in now["cases"].items():
        assert on_file["cases"][name] == cases, f"the {name} cases changed: run python tests/make_golden.py"


def test_the_page_rules_give_the_golden_results():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (18 or newer) runs the page's rule tests: apt-get install -y nodejs")
    files = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert files, "no tests in tests/js"
    run = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout


def test_the_page_is_sent_the_constants_it_draws_with():
    """The view JSON carries the shared constants (margins, fade, walk, label limit, ellipses, layout)."""
    from explorer import live, rules
    from explorer.registry import Registry

    registry = Registry(pretrained=ROOT / "pretrained", runs=ROOT / "no-runs-here")
    entry = registry.get("pretrained/ae-2d")
    view = json.loads(live.view_json([entry], projection="umap", background="none", points=True,
                                     link=rules.LINKS[0], label="auto", pinned=(0, 0.0, 0.0)))
    assert view["rules"] == rules.page_constants() and view["links"] == list(rules.LINKS)
    assert view["rules"]["margins"] == rules.PLANE_MARGINS and view["rules"]["outside_fade"] == rules.OUTSIDE_FADE
    fields = json.loads(json.dumps(rules.page_fields(entry, entry.view("umap"))))
    assert {k: view["models"][0][k] for k in fields} == fields  # what the golden models hold is what is sent
    assert set(view["models"][0]["arrays"]) == set(rules.page_arrays(entry, entry.view("umap")))


def test_the_server_strip_fades_an_outside_digit_by_the_shared_fade():
    import numpy as np

    from explorer import render, rules

    ink = np.full((28, 28), 1.0, np.float32)
    tiles = [{"title": "a", "image": ink, "caption": "", "outside": outside} for outside in (False, True)]
    strip = render.labelled_tiles(tiles, size=28)
    inside_px, outside_px = strip[56 + 20 + 14, 20 + 14], strip[56 + 20 + 14, 28 + 40 + 20 + 14]
    assert inside_px[0] == 0 and outside_px[0] == render.to_uint8(np.float32(1 - rules.OUTSIDE_FADE))
