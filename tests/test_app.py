"""The real app in a subprocess, driven through gradio_client's named endpoints."""
import re

import numpy as np
import pytest
from PIL import Image

from explorer import actions
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]


@pytest.fixture
def client(app_server):
    from gradio_client import Client

    return Client(app_server[0], verbose=False)


def read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_named_endpoints_exist(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/decode", "/reconstruct", "/sample", "/load_models", "/manifold", "/interpolate", "/upload"} <= names


def test_load_models_returns_the_live_view(client, app_server):
    """The live planes' view: every model's plane picture, test codes and decoder, behind immutable URLs."""
    import json
    import urllib.request

    out = client.predict(DEFAULT, "umap", "none", True, api_name="/load_models")
    view = json.loads(out[0])
    assert [m["key"] for m in view["models"]] == DEFAULT and view["link"] == "same test digit"
    assert "ae-2d" in out[2] and "vae-2d" in out[2]
    first = view["models"][0]
    with urllib.request.urlopen(app_server.url.rstrip("/") + first["layer"]) as r:
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert read(__import__("io").BytesIO(r.read())).shape[2] == 3
    with urllib.request.urlopen(app_server.url.rstrip("/") + first["data"]) as r:
        size = 4 * sum(np.prod(a["shape"]) for name, a in first["arrays"].items() if a["dtype"] == "f32")
        assert len(r.read()) >= size
    assert client.predict(DEFAULT, "pca", "none", False, "auto", api_name="/load_models")[0]  # label is optional


def test_decode_takes_the_link_mode_and_defaults_to_the_test_digit(client, app_server):
    registry = app_server.registry
    entries = [registry.get(k) for k in DEFAULT]
    for args, link in (((), "same test digit"), (("same z",), "same z")):
        path = client.predict(DEFAULT, 1, 0.4, -0.7, "umap", "auto", *args, api_name="/decode")
        expected = actions.decoded_strip(actions.click_targets(entries, 1, (0.4, -0.7), link=link), registry.test)
        assert np.array_equal(read(path), expected)


def test_decode_matches_local_decoding(client, app_server):
    registry = app_server.registry
    path = client.predict(DEFAULT, 1, 0.4, -0.7, "umap", "auto", api_name="/decode")
    entries = [registry.get(k) for k in DEFAULT]
    expected = actions.decoded_strip(actions.click_targets(entries, 1, (0.4, -0.7)), registry.test)
    got = read(path)
    assert got.shape == expected.shape and np.array_equal(got, expected)
    other = read(client.predict(DEFAULT, 1, -1.5, 1.2, "umap", "auto", api_name="/decode"))
    assert not np.array_equal(other, got)


def test_reconstruct_sample_manifold(client):
    image, table, message, _ = client.predict(DEFAULT, "one per class", "", None, 0, "umap", api_name="/reconstruct")
    assert read(image).shape[0] > 4 * 56 and [r[0] for r in table["data"]] == ["ae-2d", "vae-2d", "aae-mixture10-2d"]
    assert "Test digits" in message and all(re.fullmatch(r"\d+\.\d", r[1]) for r in table["data"])
    image, captions = client.predict(DEFAULT, 0, api_name="/sample")
    assert read(image).shape[1] > 3 * 8 * 56 and len(captions.splitlines()) == 3
    assert "vae-2d · N(0, I) prior" in captions and "ae-2d · Gaussian fitted to codes" in captions
    image, captions = client.predict(DEFAULT, "umap", 7, True, "auto", api_name="/manifold")
    assert read(image).shape[1] > 3 * 7 * 56 and "vae-2d · Gaussian quantiles" in captions


def test_user_errors_are_messages_and_the_server_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="between 0 and 9999"):
        client.predict(DEFAULT, "by index", "1, 123456", None, 0, "umap", api_name="/reconstruct")
    with pytest.raises(AppError, match="unknown model"):
        client.predict(["pretrained/nope"], 0, 0.0, 0.0, "umap", "auto", api_name="/decode")
    with pytest.raises(AppError, match="greater than maximum value 4294967295"):  # once an unexplained crash
        client.predict(DEFAULT, 1e20, api_name="/sample")
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(AppError, match="Invalid file type"):
        client.predict([handle_file(str(bad))], DEFAULT, api_name="/upload")
    renamed = tmp_path / "model.safetensors"
    renamed.write_bytes(b"\x80\x04K\x01.")
    config = tmp_path / "config.json"
    config.write_text('{"format": "latent-explorer-checkpoint", "format_version": 1, "model": {"model": "vae"}}')
    with pytest.raises(AppError, match="Upload refused.*pickle"):
        client.predict([handle_file(str(config)), handle_file(str(renamed))], DEFAULT, api_name="/upload")
    assert client.predict(DEFAULT, 0, 0.0, 0.0, "umap", "auto", api_name="/decode")


def test_uploads_stay_in_their_session(app_server, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url, registry = app_server.url, app_server.registry
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    run = registry.pretrained / "vae-8d"
    choices, message = a.predict([handle_file(str(run / "config.json")), handle_file(str(run / "model.safetensors"))],
                                 DEFAULT, api_name="/upload")
    assert "upload: vae-8d" in message
    key = "upload/1-vae-8d"
    assert a.predict([key], 0, 0.0, 0.0, "umap", "auto", api_name="/decode")
    with pytest.raises(AppError, match="unknown model"):
        b.predict([key], 0, 0.0, 0.0, "umap", "auto", api_name="/decode")
    # nor can anyone fetch the unpacked files over HTTP: only Gradio's own cache is served
    import urllib.error
    import urllib.request

    unpacked = sorted(app_server.tmp.glob("latent-explorer-session-*/upload-*/model.safetensors"))
    cached = sorted(app_server.cache.rglob("*.png"))
    assert unpacked and cached
    assert urllib.request.urlopen(f"{url}gradio_api/file={cached[-1]}", timeout=10).status == 200  # the route works
    for path in (unpacked[-1], registry.pretrained / "vae-8d" / "model.safetensors", app_server.log):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10)
        assert e.value.code in (403, 404)
