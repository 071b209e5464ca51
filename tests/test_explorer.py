import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

from explorer import actions, render
from explorer.registry import ModelLoadError, Registry, load_upload, unpack_upload
from trainer.data import bundled_test_split
from zoo import make_zoo


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    zoo = make_zoo(tmp_path_factory.mktemp("zoo"))
    return Registry(pretrained=zoo, runs=tmp_path_factory.mktemp("runs"))


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


def test_clicking_a_test_points_pixel_decodes_that_points_latent(entries):
    """The exact pixel -> latent mapping: the pixel where a test point is drawn decodes (to half a pixel) its code."""
    for k, e in enumerate(entries):
        for proj in ("umap", "pca"):
            view = e.view(proj)
            geo = actions.geometry(view)
            i = int(np.argmin(np.abs(view.xy - np.median(view.xy, 0)).sum(1)))  # a point well inside the plane
            px, py = geo.to_pixel(view.xy[i:i + 1])[0]
            xy = actions.pixel_to_plane(e, proj, px, py)
            half = np.array([(geo.extent[1] - geo.extent[0]), (geo.extent[3] - geo.extent[2])]) / (2 * geo.plot_w)
            assert np.all(np.abs(np.array(xy) - view.xy[i]) <= half + 1e-6)
            target = actions.click_targets(entries, k, xy, projection=proj)[k]
            expected = view.inverse.inverse_transform(view.xy[i:i + 1])[0]
            assert np.allclose(target.z, expected, atol=float(half.max()) * 3)
            if view.name == "latent":
                assert np.allclose(target.z, e.latents[i], atol=float(half.max()) + 1e-6)


def test_click_semantics_shared_plane_and_nearest_digit(entries):
    targets = actions.click_targets(entries, 1, (0.3, -0.2))
    for t in targets[:3]:  # the 2-D models share (z1, z2)
        assert np.allclose(t.z, [0.3, -0.2]) and t.how == "same (z1, z2)"
    near = actions.nearest(entries[1].view("umap").xy, (0.3, -0.2))
    assert targets[3].how == f"same test digit #{near}" and np.allclose(targets[3].z, entries[3].latents[near])
    images = actions.decode_targets(targets)
    assert images.shape == (4, 28, 28)
    assert np.allclose(images[1], entries[1].decode(np.array([[0.3, -0.2]], np.float32))[0])
    # clicking the projected model decodes the latent behind its point; the 2-D models get the nearest test digit
    xy = entries[3].view("pca").xy[7]
    t2 = actions.click_targets(entries, 3, xy, projection="pca")
    assert t2[3].how == "latent behind the point"
    assert np.allclose(t2[3].z, entries[3].view("pca").inverse.inverse_transform(xy[None])[0])
    assert t2[0].how.startswith("same test digit")


@pytest.mark.parametrize("background", actions.BACKGROUNDS)
def test_planes_render_with_every_background(entries, background):
    for e in entries:
        geo, image = actions.plane(e, "pca", background)
        assert image.shape == (400, 400, 3) and image.dtype == np.uint8
        marked = actions.marked_plane(e, "pca", background, None, True, cross=e.view("pca").xy[0])
        assert (marked != image).any()


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
    for row, i in enumerate((0, 1)):  # each row starts with the test digit whose style it keeps (drawn 2x)
        y = row * (60 + 14) + 2
        first = grid[y:y + 56:2, 130:130 + 56:2, 0]
        assert np.array_equal(first, render.to_uint8(1 - registry.test.images[i].float().numpy() / 255))
    assert grid.shape[1] == 130 + 11 * 60
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
    from explorer import ui

    monkeypatch.setattr(ui, "REGISTRY", registry)
    keys = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/vae-8d"]
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[60:220, 130:150] = (0, 0, 0, 255)  # a "1"
    session = ui.new_session()
    image, table, message, scatter, session = ui.reconstruct(keys, "one per class", "", {"composite": canvas}, 0,
                                                             "pca", session)
    assert "your drawing" in message and session["drawn"] is not None and len(table) == 3
    stars = [t for t in scatter.data if t.name == "your drawing"]
    assert len(stars) == 3
    with_star = ui.crosshairs(keys, "pca", "none", True, "auto", session)
    drawn, session["drawn"] = session["drawn"], None
    without = ui.crosshairs(keys, "pca", "none", True, "auto", session)
    session["drawn"] = drawn
    for a, b in zip(with_star[:3], without[:3]):
        assert (a["value"] != b["value"]).any()
    _, _, _, scatter, session = ui.reconstruct(keys, "random", "", None, 0, "pca", session)
    assert not [t for t in scatter.data if t.name == "your drawing"]  # the star is gone with the drawing
    _, _, message, scatter, _ = ui.reconstruct(keys, "random", "", {"composite": np.zeros((280, 280, 4), np.uint8)},
                                               0, "pca", session)
    assert ui.NO_DRAWING in message
    assert not hasattr(scatter, "data")  # nothing drawn before or now: the scatter is left as it is


def test_conditional_tab_draws_its_grids_on_open_or_says_what_to_add(registry, monkeypatch):
    import gradio as gr

    from explorer import ui

    monkeypatch.setattr(ui, "REGISTRY", registry)
    session = ui.new_session()
    image, text = ui.style_grids_on_open(["pretrained/ae-2d", "pretrained/vae-2d"], "0, 1", session)
    assert image is None and ui.NO_CONDITIONAL in text  # a hint, not an error, when the tab merely opens
    keys = ["pretrained/vae-2d", "pretrained/cvae-2d"]
    opened, clicked = ui.style_grids_on_open(keys, "0, 1", session), ui.style_grids(keys, "0, 1", session)
    assert opened[0].ndim == 3 and np.array_equal(opened[0], clicked[0]) and opened[1] == clicked[1]
    assert "cvae-2d" in opened[1] and "vae-2d\n" not in opened[1]  # only the conditional model is drawn
    # the picker takes typed text: a shown name typed and entered means that model
    assert ui.entries_for(["cvae-2d ", "pretrained/ae-2d"], session) == [registry.get("pretrained/cvae-2d"),
                                                                         registry.get("pretrained/ae-2d")]
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        ui.entries_for(["nope"], session)
    # the tab's shortcut adds the shipped conditional models; a full picker drops its oldest to make room
    six = [f"pretrained/{n}" for n in ("ae-2d", "vae-2d", "aae-mixture10-2d", "vae-8d")] + ["runs/a", "runs/b"]
    assert ui.add_conditional(six[:2], session)["value"] == [*six[:2], "pretrained/cvae-2d"]
    assert ui.add_conditional(six, session)["value"] == [*six[1:], "pretrained/cvae-2d"]
    assert ui.add_conditional(["vae-2d", "cvae-2d"], session)["value"] == keys  # typed names; nothing doubled
    monkeypatch.setattr(ui, "CONDITIONAL_MODELS", ("caae-2d",))  # none installed, none shown: say so
    with pytest.raises(gr.Error, match="No conditional model is installed"):
        ui.add_conditional(six[:2], session)



def test_a_typed_picker_entry_is_shown_or_taken_away(registry, monkeypatch):
    """The picker's select event for a typed entry: a shown name adds that model; anything else is removed again."""
    from types import SimpleNamespace

    from explorer import ui

    monkeypatch.setattr(ui, "REGISTRY", registry)
    session, shown = ui.new_session(), ["pretrained/ae-2d"]
    typed = lambda text: ui.typed_model(shown, "pca", "none", True, session,
                                        SimpleNamespace(index=-1, selected=True, value=text))
    picker, *views = typed("cvae-2d")
    assert picker["value"] == ["pretrained/ae-2d", "pretrained/cvae-2d"]
    assert [v.get("visible") for v in views[:3]] == [True, True, False]  # two planes drawn
    # gr.Warning is recorded directly: outside a request it is a Python warning, and warnings.catch_warnings is
    # not thread-safe (a background UMAP fit from an earlier upload can swallow it: CI saw "DID NOT WARN")
    said = []
    monkeypatch.setattr(ui.gr, "Warning", lambda message, *args, **kwargs: said.append(message))
    picker, *views = ui.typed_model([*shown, "nope"], "pca", "none", True, session,
                                    SimpleNamespace(index=-1, selected=True, value="nope"))
    assert said == ["No model is called 'nope'; pick one from the list."]
    assert picker["value"] == shown  # the unknown chip is taken away; the shown models stay as they are
    assert all(v == __import__("gradio").skip() for v in views)

def test_fresh_high_dim_model_gets_umap_in_the_background(registry, monkeypatch):
    """PCA is shown while UMAP is fitted; the page's timer ticks meanwhile and shows the UMAP plane once it is there."""
    import gradio as gr

    from explorer import ui
    from explorer.registry import compute_umap, make_entry

    monkeypatch.setattr(ui, "REGISTRY", registry)
    # a folder without embedding.npz, shown on the first 600 test digits to keep the fit quick
    entry = make_entry("upload/1-x", "upload: x", registry.pretrained / "vae-8d", registry.test.head(600))
    assert entry.umap_status == "" and entry.view("umap").name == "pca"  # PCA until UMAP is there
    entry.umap_status = "computing"  # as registry.start_umap sets it before its thread starts
    session, keys = ui.new_session(), ["upload/1-x"]
    session["uploads"]["upload/1-x"] = entry
    shown = ui.load_models(keys, "umap", "none", True, session)
    assert shown[0]["label"] == "upload: x · PCA" and "being computed" in shown[ui.MAX_MODELS + 1]
    assert shown[-1].active  # the timer starts
    assert not ui.load_models(keys, "pca", "none", True, session)[-1].active  # PCA asked for: nothing to wait for
    assert all(v == gr.skip() for v in ui.umap_tick(keys, "umap", "none", True, session))  # still computing

    compute_umap(entry)
    assert entry.umap_status == "ready"
    view = entry.view("umap")
    assert view.name == "umap" and view.xy.shape == (600, 2)
    z = view.inverse.inverse_transform(view.xy[:3])
    assert z.shape == (3, 8) and np.isfinite(z).all()
    ticked = ui.umap_tick(keys, "umap", "none", True, session)
    assert ticked[0]["label"] == "upload: x · UMAP" and "being computed" not in ticked[ui.MAX_MODELS + 1]
    assert not ticked[-1].active  # and the timer stops
    assert not ui.umap_tick([], "umap", "none", True, session)[-1].active  # picker emptied meanwhile: stop too


def test_the_page_shows_the_readme_lesson(tmp_path):
    from explorer import ui

    lesson = ui.lesson_markdown()  # the project's own README
    assert [line.split("**")[1] for line in lesson.splitlines() if line[:1].isdigit()] == [
        "AE holes", "VAE continuity", "AAE prior matching", "β and training"]
    assert "## " not in lesson and "<!--" not in lesson  # the section only, without the README's comment
    readme = tmp_path / "README.md"
    readme.write_text("# x\n## Other\ntext\n")
    assert ui.lesson_markdown(readme) is None and ui.lesson_markdown(tmp_path / "missing.md") is None
    readme.write_text("# x\n## A 10-minute lesson\n1. **Only** step\n")  # the last section of the file
    assert ui.lesson_markdown(readme) == "1. **Only** step"
