"""Text a visitor or a file brings is shown as text: never markup the page runs, fetches or draws (a shared link's
values, an upload's file names, a model name typed in the picker, a run's class names)."""
from __future__ import annotations

import io
import json
import shutil
import urllib.parse
import zipfile

import pytest

GRADIO_TOAST = "[data-testid=toast-body]"
ELSEWHERE = "127.0.0.2"  # a host only a payload names: any request to it is a leak of the visitor's address
PAYLOADS = {  # each short enough to be echoed whole (names are cut to 60-80 characters)
    "script": "<script>window.__pwned=1</script>",
    "handler": "<img src=x onerror=window.__pwned=2>",
    "image": f"<img src=//{ELSEWHERE}/pwn-img.png>",
    "form": "<form id=pwnform><input type=password name=pw></form>",
    "svg link": "<svg><a href=javascript:window.__pwned=3><rect width=9999 height=9999 /></a></svg>",
}
LINK_PARAMETERS = ("models", "tab", "bg", "link", "label", "z", "plane", "projector")


def harmless(page, requests) -> None:
    """Nothing of a payload ran, rendered or fetched, even after a click on the page."""
    page.mouse.click(600, 400)  # a transparent full-page link would catch this click
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None, "a payload's script ran"
    assert page.locator("form#pwnform, input[type=password]").count() == 0, "a payload's form was drawn"
    assert page.locator("a[href^='javascript']").count() == 0, "a payload's javascript: link was drawn"
    assert [u for u in requests if urllib.parse.urlsplit(u).hostname == ELSEWHERE] == [], \
        "the page fetched a payload's image"


def run_zip(tiny_zoo, extra: dict[str, bytes], with_run: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        if with_run:
            for name in ("config.json", "model.safetensors"):
                zf.write(tiny_zoo / "vae-2d" / name, f"vae/{name}")
        for name, data in extra.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def upload_in_page(page, url: str, name: str, data: bytes) -> None:
    """Upload one zip in a fresh page on the Add a model tab (the file box keeps earlier files)."""
    page.goto(f"{url}?tab=add")
    page.wait_for_selector("#status", timeout=60_000)
    page.locator("input[type=file]").last.set_input_files(files=[{"name": name, "mimeType": "application/zip",
                                                                  "buffer": data}])
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Load upload").click()


@pytest.mark.slow
def test_payloads_in_a_shared_link_and_in_uploaded_names_run_nothing_fetch_nothing_draw_nothing(
        app_server, chromium, tiny_zoo):
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    try:
        # every parameter of a shared link holds a payload (one link per payload): the status line echoes them
        for payload in PAYLOADS.values():
            page.goto(f"{app_server.url}?{urllib.parse.urlencode({name: payload for name in LINK_PARAMETERS})}")
            page.wait_for_function("() => document.querySelector('#status') && "
                                   "document.querySelector('#status').innerText.includes('ignored')", timeout=60_000)
            harmless(page, requests)
            assert payload[:40] in page.locator("#status").inner_text()  # shown, as text

        # an upload whose ignored files are named by the payloads: loaded, and the names listed in the status
        names = {f"vae/{p}": b"x" for p in PAYLOADS.values() if ":" not in p}
        upload_in_page(page, app_server.url, "payloads.zip", run_zip(tiny_zoo, names))
        page.wait_for_function("() => document.body.innerText.includes('Ignored')", timeout=60_000)
        harmless(page, requests)

        # the same names without a run: refused, and the refusal (a toast, which Gradio renders as HTML) lists them
        upload_in_page(page, app_server.url, "no-run.zip", run_zip(tiny_zoo, names, with_run=False))
        page.wait_for_selector(GRADIO_TOAST, timeout=30_000)
        page.wait_for_timeout(500)
        harmless(page, requests)
        assert PAYLOADS["form"] in page.locator(GRADIO_TOAST).last.inner_text()  # shown, as text

        # a name with a colon is refused as an unsafe path, and echoed in that refusal
        upload_in_page(page, app_server.url, "unsafe.zip", run_zip(tiny_zoo, {PAYLOADS["svg link"] + PAYLOADS["image"]: b"x"}))
        page.wait_for_function(f"() => [...document.querySelectorAll('{GRADIO_TOAST}')].some("
                               "t => t.innerText.includes('unsafe path'))", timeout=30_000)
        harmless(page, requests)
    finally:
        context.close()


def test_a_refusal_through_the_api_holds_the_names_as_text(app_server, tmp_path, tiny_zoo):
    """What Gradio would render as HTML comes back with "<" and "&" escaped, and nothing else changed."""
    from gradio_client import Client, handle_file

    path = tmp_path / "names.zip"
    path.write_bytes(run_zip(tiny_zoo, {"vae/<img src=x onerror=alert(1)> & 'quoted'": b"x"}, with_run=False))
    client = Client(app_server.url, verbose=False)
    with pytest.raises(Exception) as refused:
        client.predict([handle_file(str(path))], [], api_name="/upload")
    message = str(refused.value)
    assert "&lt;img src=x onerror=alert(1)> &amp; 'quoted'" in message and "<img" not in message


def test_a_model_name_typed_in_the_picker_is_warned_about_as_text(monkeypatch):
    from types import SimpleNamespace

    import gradio as gr

    from explorer.ui import planes
    from explorer.ui.session import Session

    said = []
    monkeypatch.setattr(gr, "Warning", said.append)
    evt = SimpleNamespace(index=-1, selected=True, value=PAYLOADS["image"])
    planes.typed_model([], "umap", "none", True, "auto", Session(), evt)
    assert said and "<img" not in said[0] and "&lt;img src=//127.0.0.2/pwn-img.png>" in said[0]


def test_the_progress_bar_and_the_report_card_show_names_as_text(monkeypatch):
    from explorer.ui import header, models, train_view

    bar = train_view.progress_html({"fraction": 0.5, "eta_s": 0, "status": "failed", "name": PAYLOADS["form"],
                                    "epoch": 1, "epochs": 2, "images_per_s": 0.0, "message": PAYLOADS["image"]})
    assert "<form" not in bar and "<img" not in bar
    monkeypatch.setattr(models.REGISTRY, "available", lambda: {})
    monkeypatch.setattr(models.REGISTRY, "skipped", {"runs/x": f"config.json: unknown keys ['{PAYLOADS['form']}']"},
                        raising=False)
    assert "<form" not in header.report_markdown()


# -- class names (an uploaded clustered AAE's dataset.classes) ------------------------------------------------
@pytest.fixture(scope="module")
def clustered_run(tmp_path_factory):
    from trainer.config import ModelConfig, TrainConfig
    from trainer.data import load_dataset
    from trainer.train import fit, new_model

    data = load_dataset(None, limit=256)
    data.test = data.test.head(64)
    folder = tmp_path_factory.mktemp("clustered") / "aae-cluster"
    config = ModelConfig(model="aae", clusters=10, hidden=(32,), disc_hidden=(16,))
    fit(new_model(config, seed=0), data, TrainConfig(epochs=1, batch_size=64), run_dir=folder)
    return folder


def with_classes(source, folder, classes):
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    config["dataset"]["classes"] = classes
    (folder / "config.json").write_text(json.dumps(config))
    return [folder / "config.json", folder / "model.safetensors"]


@pytest.mark.parametrize("classes,said", [
    (["a"], "must name each of the 10 classes once, got 1 name"),
    (5, "must be a list of 10 class names (strings), got 5"),
    ({"x": 1}, "must be a list of 10 class names (strings)"),
    ([str(k) for k in range(9)] + ["x" * 5000], "is not 1 to 32 letters"),
    ([str(k) for k in range(9)] + ["<b>9</b>"], "is not 1 to 32 letters"),
    ([str(k) for k in range(9)] + [9], "must be a list of 10 class names (strings)"),
])
def test_an_uploads_class_names_are_checked_at_upload(clustered_run, tmp_path, classes, said):
    from explorer.registry import ModelLoadError
    from explorer.uploads import load_upload
    from trainer.data import bundled_test_split

    files = with_classes(clustered_run, tmp_path / "run", classes)
    session = tmp_path / "session"
    session.mkdir()
    with pytest.raises(ModelLoadError, match="dataset.classes") as refused:
        load_upload(files, session, bundled_test_split(), 1)
    assert said in str(refused.value)
    assert list(session.iterdir()) == []  # the refused upload left nothing


def test_the_clusters_tab_titles_clusters_with_good_class_names(clustered_run, tmp_path, monkeypatch):
    from explorer.uploads import load_upload
    from explorer.ui import clusters, models
    from explorer.ui.session import Session
    from trainer.data import bundled_test_split

    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    files = with_classes(clustered_run, tmp_path / "run", names)
    (tmp_path / "session").mkdir()
    entry, _ = load_upload(files, tmp_path / "session", bundled_test_split(), 1)
    session = Session()
    session.uploads[entry.key] = entry
    view = clusters.clusters_view([entry.key], session)
    assert view["clusters_heads"] is not None
    assert set(view["clusters_matrix"].data[0].x) == set(names)


def test_a_data_sets_class_names_are_checked_when_read(tmp_path):
    from trainer.data import DataError, read_classes

    (tmp_path / "classes.json").write_text(json.dumps(["<img src=x>"] * 10))
    with pytest.raises(DataError, match="is not 1 to 32 letters"):
        read_classes(tmp_path)
    (tmp_path / "classes.json").write_text(json.dumps(["T-shirt/top", "Ankle boot"]))
    assert read_classes(tmp_path) == ("T-shirt/top", "Ankle boot")
