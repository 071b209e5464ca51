import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from explorer import actions, render
from explorer.registry import ModelLoadError, Registry
from explorer.uploads import load_upload, unpack_upload


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tiny_zoo):
    return Registry(pretrained=tiny_zoo, runs=tmp_path_factory.mktemp("runs"), background=False)


@pytest.fixture(scope="module")
def entries(registry):
    return [registry.get(f"pretrained/{n}") for n in ("ae-2d", "vae-2d", "aae-mixture10-2d", "vae-8d")]


def test_registry_lists_and_caches(registry):
    keys = list(registry.available())
    assert keys[:3] == ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]
    assert registry.get("pretrained/vae-2d") is registry.get("pretrained/vae-2d")
    with pytest.raises(ModelLoadError, match="unknown model"):
        registry.get("pretrained/nope")


def test_test_latents_match_the_model(entries, registry):
    for e in entries:
        x, y = registry.test.batch(torch.arange(5))
        with torch.no_grad():
            assert np.allclose(e.model.embed(x, y).numpy(), e.latents[:5], atol=1e-5)


def test_a_plane_point_decodes_the_latent_behind_it(entries):
    """The clicked model decodes exactly the latent behind the point; a test point's own position gives its code."""
    for k, e in enumerate(entries):
        for proj in ("umap", "pca"):
            view = e.view(proj)
            i = int(np.argmin(np.abs(view.xy - np.median(view.xy, 0)).sum(1)))  # a point well inside the plane
            target = actions.click_targets(entries, k, view.xy[i], projection=proj)[k]
            assert target.how == "the point" and not target.outside
            assert np.array_equal(target.z, view.inverse.inverse_transform(view.xy[i:i + 1])[0])
            if view.name == "latent":
                assert np.allclose(target.z, e.latents[i], atol=1e-6)


def test_link_modes_same_test_digit_and_same_z(entries):
    """Default: every other model decodes its own code of the test digit nearest to the point. Same z: only the
    models whose codes were made to match the same prior share (z1, z2) (here the VAE and itself: the AE has no
    prior, the AAE another one), the others still follow the test digit and say why."""
    point = (0.3, -0.2)
    near = actions.nearest(entries[1].view("umap").xy, point)
    targets = actions.click_targets(entries, 1, point)
    assert np.allclose(targets[1].z, point) and targets[1].how == "the point"
    for k in (0, 2, 3):
        assert targets[k].how == f"test digit #{near}" and np.array_equal(targets[k].z, entries[k].latents[near])
        assert np.array_equal(targets[k].xy, entries[k].view("umap").xy[near])
    images = actions.decode_targets(targets)
    assert images.shape == (4, 28, 28)
    assert np.allclose(images[1], entries[1].decode(np.array([[0.3, -0.2]], np.float32))[0])
    assert [actions.code_scale(e, e.view("umap")) for e in entries] == [None, "N(0, I) prior", "mixture10 prior",
                                                                         None]
    same = actions.click_targets(entries, 1, point, link="same z")
    assert same[1].how == "the point"
    for k in (0, 2):
        assert same[k].how == f"test digit #{near} (its codes have another scale)"
    assert same[3].how == f"test digit #{near} (a projected plane)"
    # two models of the same prior share the point itself
    twin = actions.click_targets([entries[1], entries[1]], 0, point, link="same z")
    assert twin[1].how == "same z (N(0, I) prior)" and np.allclose(twin[1].z, point)
    with pytest.raises(ValueError, match="unknown link"):
        actions.click_targets(entries, 0, point, link="same label")


def test_a_point_outside_the_codes_is_marked_outside(entries):
    """Outside = farther from every test code than a tenth of the plane's width: marked in the targets and drawn
    faded in a red frame in the server's strip (never as an ordinary decode)."""
    vae = entries[1].view("umap")
    xmin, xmax, ymin, ymax = vae.extent
    far = (xmax + 10 * (xmax - xmin), ymax)
    assert actions.is_outside(vae, far) and not actions.is_outside(vae, vae.xy[0])
    targets = actions.click_targets(entries, 1, far)
    assert targets[1].outside and not targets[0].outside  # the others decode a real test digit's code
    inside = actions.click_targets(entries, 1, vae.xy[0])
    assert not any(t.outside for t in inside)


@pytest.mark.parametrize("background", actions.BACKGROUNDS)
def test_plane_pictures_render_with_every_background(entries, background):
    from explorer import live

    for e in entries:
        url = live.layer_url(e, "pca", background, True)
        item = live.ASSETS.get(url.rsplit("/", 1)[1])
        assert item is not None and item["data"][:8] == b"\x89PNG\r\n\x1a\n"


def test_views_produce_images(entries, registry):
    strip = actions.decoded_strip(actions.click_targets(entries, 0, (0.0, 0.0)), registry.test)
    assert strip.ndim == 3
    images, labels, idx = actions.pick_test_digits(registry.test, "one per class")
    assert list(labels) == list(range(10))
    table, errors = actions.reconstructions(entries, images, labels)
    assert [r[0] for r in errors] == [e.label for e in entries] and all(r[1] > 0 for r in errors)
    assert actions.samples(entries[1], 16).shape == (28 * 4 * 2 + 6, 28 * 4 * 2 + 6)
    assert actions.manifold_grid(entries[1], n=5, quantiles=True).shape[0] > 0
    assert actions.interpolation(entries, registry.test, 3, 2).ndim == 3
    cvae = registry.get("pretrained/cvae-2d")
    grid = actions.style_grid(cvae, registry.test, [0, 1])
    label_w, row_h = grid.shape[1] - 11 * 60, (grid.shape[0] - 2) // 2  # 11 digits of 60 px a row, 2 rows
    assert 60 < label_w < 250 and row_h > 60
    for row, i in enumerate((0, 1)):  # each row starts with the test digit whose style it keeps (drawn 2x)
        y = row * row_h + 2
        first = grid[y:y + 56:2, label_w:label_w + 56:2, 0]
        assert np.array_equal(first, render.to_uint8(1 - registry.test.images[i].float().numpy() / 255))
    with pytest.raises(ValueError, match="between 0 and"):
        actions.pick_test_digits(registry.test, "by index", indices="5, 99999")
    with pytest.raises(ValueError, match="whole numbers"):
        actions.pick_test_digits(registry.test, "by index", indices="five")


# -- uploads ------------------------------------------------------------------------------
def zip_of(files: dict[str, bytes], path):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def test_good_zip_upload_loads(tmp_path, registry):
    run = registry.pretrained / "vae-2d"
    z = zip_of({f"vae-2d/{n}": (run / n).read_bytes() for n in ("config.json", "model.safetensors")}, tmp_path / "r.zip")
    entry, ignored = load_upload([z], tmp_path, registry.test, 1)
    assert entry.key == "upload/1-vae-2d" and entry.latents.shape == (10000, 2) and ignored == []


@pytest.mark.parametrize("files,match", [
    ({"../evil/config.json": b"{}"}, "unsafe path"),
    ({"/abs/config.json": b"{}"}, "unsafe path"),
    ({"notes.txt": b"hi"}, "no config.json"),
])
def test_bad_zips_are_refused(tmp_path, files, match):
    z = zip_of(files, tmp_path / "bad.zip")
    with pytest.raises(ModelLoadError, match=match):
        unpack_upload([z], tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_zip_bomb_and_pickles_are_refused(tmp_path, registry):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.safetensors", b"\0" * (300 * 2**20))
    with pytest.raises(ModelLoadError, match="unpacks to 300 MB"):
        unpack_upload([bomb], tmp_path / "out")
    pt = tmp_path / "model.pt"
    pt.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelLoadError, match="never loaded"):
        unpack_upload([pt], tmp_path / "out2")
    cfg = tmp_path / "config.json"
    cfg.write_bytes((registry.pretrained / "vae-2d" / "config.json").read_bytes())
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(pickle.dumps({"a": 1}))
    session = tmp_path / "session"
    session.mkdir()
    with pytest.raises(ModelLoadError, match="pickle"):
        load_upload([cfg, fake], session, registry.test, 1)
    assert list(session.iterdir()) == []  # the failed upload's folder is removed


def test_drawn_digit_is_reconstructed_and_starred_in_every_plane(registry, monkeypatch):
    from explorer.ui import models, planes, reconstructions
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", registry)
    keys = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/vae-8d"]
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[60:220, 130:150] = (0, 0, 0, 255)  # a "1"
    session = Session()
    out = reconstructions.reconstruct(keys, "one per class", "", {"composite": canvas}, 0, "pca", session)
    assert "your drawing" in out["recon_msg"] and session.drawn is not None and len(out["recon_table"]) == 3
    stars = [t for t in json.loads(out["scatter"].plot)["data"] if t.get("name") == "your drawing"]
    assert len(stars) == 3
    with_star = json.loads(planes.refresh_live(keys, "pca", "none", True, "auto", session)["live"])
    drawn, session.drawn = session.drawn, None
    without = json.loads(planes.refresh_live(keys, "pca", "none", True, "auto", session)["live"])
    session.drawn = drawn
    for model in with_star["models"]:  # the page draws the star where the server placed the drawing
        star = actions.embed_point(registry.get(model["key"]), drawn, "pca")
        assert np.allclose(model["star"], star)
    assert all(m["star"] is None for m in without["models"])
    out = reconstructions.reconstruct(keys, "random", "", None, 0, "pca", session)
    assert not [t for t in json.loads(out["scatter"].plot)["data"] if t.get("name") == "your drawing"]  # gone
    out = reconstructions.reconstruct(keys, "random", "", {"composite": np.zeros((280, 280, 4), np.uint8)}, 0,
                                      "pca", session)
    assert reconstructions.NO_DRAWING in out["recon_msg"]
    assert "scatter" not in out  # nothing drawn before or now: the scatter is left as it is


def test_style_grids_draw_the_conditional_models_or_say_what_to_add(registry, monkeypatch):
    """/style_grid (the page draws the tab itself: views/styles.js)."""
    import gradio as gr

    from explorer.ui import conditional, models
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", registry)
    session = Session()
    with pytest.raises(gr.Error, match="None of the shown models is conditional"):
        conditional.style_grids(["pretrained/ae-2d", "pretrained/vae-2d"], "0, 1", session)
    keys = ["pretrained/vae-2d", "pretrained/cvae-2d"]
    out = conditional.style_grids(keys, "0, 1", session)
    assert out["style_gallery"].ndim == 3
    assert "cvae-2d" in out["style_text"] and "vae-2d\n" not in out["style_text"]  # only the conditional one
    # the picker takes typed text: a shown name typed and entered means that model
    assert models.entries_for(["cvae-2d ", "pretrained/ae-2d"], session) == [registry.get("pretrained/cvae-2d"),
                                                                             registry.get("pretrained/ae-2d")]
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        models.entries_for(["nope"], session)
    # the tab's shortcut adds the shipped conditional models; a full picker drops its oldest to make room
    six = [f"pretrained/{n}" for n in ("ae-2d", "vae-2d", "aae-mixture10-2d", "vae-8d")] + ["runs/a", "runs/b"]
    added = lambda keys: conditional.add_conditional(keys, session)["models"]["value"]  # noqa: E731
    assert added(six[:2]) == [*six[:2], "pretrained/cvae-2d"]
    assert added(six) == [*six[:5], "pretrained/cvae-2d"]  # the last picked of the models it does not need goes
    assert session.said == ["Removed runs/b to make room for cvae-2d (at most 6 planes)"]  # (not a model here)
    session.said.clear()
    assert added(["vae-2d", "cvae-2d"]) == keys  # typed names; nothing doubled
    monkeypatch.setattr(conditional, "SHIPPED", ("caae-2d",))  # none installed, none shown: say so
    with pytest.raises(gr.Error, match="No conditional model is installed"):
        conditional.add_conditional(six[:2], session)


def test_a_typed_picker_entry_is_shown_or_taken_away(registry, monkeypatch):
    """The picker's select event for a typed entry: a shown name adds that model; anything else is removed again."""
    from types import SimpleNamespace

    from explorer.ui import models, planes
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", registry)
    session, shown = Session(), ["pretrained/ae-2d"]
    out = planes.typed_model(shown, "pca", "none", True, "auto", session,
                             SimpleNamespace(index=-1, selected=True, value="cvae-2d"))
    assert out["models"]["value"] == ["pretrained/ae-2d", "pretrained/cvae-2d"]
    assert [m["key"] for m in json.loads(out["live"])["models"]] == out["models"]["value"]  # two planes drawn
    # gr.Warning is recorded directly: outside a request it is a Python warning, and warnings.catch_warnings is
    # not thread-safe (a background UMAP fit from an earlier upload can swallow it: CI saw "DID NOT WARN")
    said = []
    monkeypatch.setattr(planes.gr, "Warning", lambda message, *args, **kwargs: said.append(message))
    out = planes.typed_model([*shown, "nope"], "pca", "none", True, "auto", session,
                             SimpleNamespace(index=-1, selected=True, value="nope"))
    assert said == ["No model is called 'nope'; pick one from the list."]
    assert out == {"models": {"__type__": "update", "value": shown}}  # the unknown chip goes; nothing else changes


def test_fresh_high_dim_model_gets_umap_in_the_background(registry, monkeypatch):
    """PCA is shown while UMAP is fitted; the page's timer ticks meanwhile and shows the UMAP plane once it is there."""
    from explorer.registry import compute_umap, make_entry
    from explorer.ui import models, planes
    from explorer.ui.session import Session

    monkeypatch.setattr(models, "REGISTRY", registry)
    # a folder without embedding.npz, shown on the first 600 test digits to keep the fit quick
    entry = make_entry("upload/1-x", "upload: x", registry.pretrained / "vae-8d", registry.test.head(600))
    assert entry.umap_status == "" and entry.view("umap").name == "pca"  # PCA until UMAP is there
    entry.umap_status = "computing"  # as registry.start_umap sets it before its thread starts
    session, keys = Session(), ["upload/1-x"]
    session.uploads["upload/1-x"] = entry
    shown = planes.show_models(keys, "umap", "none", True, "auto", session)
    assert json.loads(shown["live"])["models"][0]["title"] == "upload: x · PCA" and "being computed" in shown["status"]
    assert shown["waiting"].active  # the timer starts
    assert not planes.show_models(keys, "pca", "none", True, "auto", session)["waiting"].active  # PCA: no wait
    assert planes.background_tick(keys, "umap", "none", True, "auto", session) == {}  # nothing changes meanwhile

    compute_umap(entry)
    assert entry.umap_status == "ready"
    view = entry.view("umap")
    assert view.name == "umap" and view.xy.shape == (600, 2)
    z = view.inverse.inverse_transform(view.xy[:3])
    assert z.shape == (3, 8) and np.isfinite(z).all()
    ticked = planes.background_tick(keys, "umap", "none", True, "auto", session)
    assert json.loads(ticked["live"])["models"][0]["title"] == "upload: x · UMAP"
    assert "being computed" not in ticked["status"]
    assert not ticked["waiting"].active  # and the timer stops
    assert not planes.background_tick([], "umap", "none", True, "auto", session)["waiting"].active  # emptied: stop


def test_the_page_shows_the_readme_lesson(tmp_path):
    from explorer.ui import header as ui

    lesson = ui.lesson_markdown()  # the project's own README
    assert [line.split("**")[1] for line in lesson.splitlines() if line[:1].isdigit()] == [
        "AE holes", "A VAE encodes a region", "AAE prior matching", "What each dimension does", "β in a race"]
    assert "## " not in lesson and "<!--" not in lesson  # the section only, without the README's comment
    readme = tmp_path / "README.md"
    readme.write_text("# x\n## Other\ntext\n")
    assert ui.lesson_markdown(readme) is None and ui.lesson_markdown(tmp_path / "missing.md") is None
    readme.write_text("# x\n## A 10-minute lesson\n1. **Only** step\n")  # the last section of the file
    assert ui.lesson_markdown(readme) == "1. **Only** step"


def test_the_shared_cache_makes_a_value_once_when_many_ask_at_once_and_again_after_a_failure():
    import threading
    import time

    from explorer.cache import LRU

    cache, calls, results = LRU(4), [], []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return "layer"

    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["layer"] * 8 and len(calls) == 1

    def broken():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.get("j", broken)
    assert cache.get("j", lambda: "made") == "made"  # a failed maker leaves nothing behind


def test_the_scatter_is_serialised_once_per_set_of_planes_and_anew_when_a_plane_changes(registry, monkeypatch):
    """The Scatter's JSON is kept by the models' content and the planes they show: the same set asks for no new
    JSON; a retrained model (other weights) or a plane that changes (PCA giving way to UMAP) gets its own."""
    import dataclasses

    from explorer.registry import View
    from explorer.ui import models, scatter

    monkeypatch.setattr(models, "REGISTRY", registry)
    entries = models.entries_for(["pretrained/ae-2d", "pretrained/vae-8d"], None)
    first = scatter.figure(entries, "pca", None, False)
    assert scatter.figure(entries, "pca", None, False) is first  # the same JSON, not built again
    assert scatter.figure(entries, "pca", None, True) is not first  # the projector's palette is its own
    starred = scatter.figure(entries, "pca", {"pretrained/ae-2d": (0.0, 0.0)}, False)
    assert "your drawing" in starred.plot and "your drawing" not in first.plot
    old = entries[1].views["pca"]
    retrained = dataclasses.replace(entries[1], fingerprint="retrained", views={"pca": View("pca", old.xy + 1,
                                                                                           old.inverse, old.extent)})
    again = scatter.figure([entries[0], retrained], "pca", None, False)
    assert again is not first and json.loads(again.plot) != json.loads(first.plot)
    umap = dataclasses.replace(entries[1], views={**entries[1].views, "umap": View("umap", old.xy - 1, old.inverse,
                                                                                   old.extent)})
    assert scatter.figure([entries[0], umap], "umap", None, False) is not first
