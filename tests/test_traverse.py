"""Latent traversals: one row per latent dim, VAEs ordered by each dim's KL; the page's sliders decode live."""
import json

import numpy as np
import pytest
import torch

from explorer import actions


@pytest.fixture(scope="module")
def registry(tiny_zoo, tmp_path_factory):
    from explorer.registry import Registry

    return Registry(pretrained=tiny_zoo, runs=tmp_path_factory.mktemp("runs"), background=False)


def test_dim_kl_is_the_mean_kl_of_each_dim_and_orders_the_rows(registry):
    vae = registry.get("pretrained/vae-8d")
    test = registry.test.head(500)
    kl = actions.dim_kl(vae, test)
    with torch.no_grad():
        x, _ = test.batch(torch.arange(len(test)))
        mu, logvar, _ = vae.model.encode(x)
    expected = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0).numpy()
    assert kl.shape == (8,) and np.allclose(kl, expected, atol=1e-5)
    with torch.no_grad():
        elbo_kl = float(vae.model.loss(x)["kl"])
    assert np.isclose(kl.sum(), elbo_kl, rtol=0.05)  # the KL term of the ELBO, split by dim
    order, _ = actions.traversal_rows(vae, test)
    assert [kl[j] for j in order] == sorted(kl, reverse=True)
    assert actions.dim_kl(registry.get("pretrained/ae-2d"), test) is None  # no posterior, no KL


def test_a_traversal_moves_one_dim_per_row(registry):
    ae = registry.get("pretrained/ae-2d")
    z0 = ae.latents[5]
    image, rows = actions.traversal(ae, registry.test, z0, span=2.0, steps=5)
    cell = 60
    label_w = image.shape[1] - 5 * cell  # the row labels' width (render.image_table sizes it for its text)
    assert rows == ["z1", "z2"] and 20 < label_w < 200
    scale = actions.traversal_scale(ae)
    assert np.allclose(scale, ae.latents.std(0), rtol=1e-5)  # an AE: the spread of its codes
    assert np.array_equal(actions.traversal_scale(registry.get("pretrained/vae-8d")), np.ones(8, np.float32))
    # the middle column of row z1 is the decoded code itself, the last column z1 + 2 sigma
    middle = image[2:2 + 56:2, label_w + 2 * cell:label_w + 2 * cell + 56:2, 0]
    from explorer.render import to_uint8

    assert np.array_equal(middle, to_uint8(1 - ae.decode(z0[None])[0]))
    moved = z0.copy()
    moved[0] += 2 * scale[0]
    last = image[2:2 + 56:2, label_w + 4 * cell:label_w + 4 * cell + 56:2, 0]
    assert np.array_equal(last, to_uint8(1 - ae.decode(moved[None])[0]))


def test_the_traverse_endpoint(app_server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from PIL import Image

    client = Client(app_server.url, verbose=False)
    keys = ["pretrained/ae-2d", "pretrained/vae-8d"]
    image, caption, sliders = client.predict(keys, "pretrained/vae-8d", "test digit", 7, 3, 11, api_name="/traverse")
    picture = np.asarray(Image.open(image))
    assert picture.shape[0] > 8 * 60  # one row per dim of the 8-D VAE
    assert "ordered by each dim's mean KL" in caption and "test digit #7" in caption
    view = json.loads(sliders)
    entry = app_server.registry.get("pretrained/vae-8d")
    assert np.allclose(view["z0"], entry.latents[7], atol=1e-6) and len(view["order"]) == 8
    _, caption, _ = client.predict(keys, "pretrained/ae-2d", "pinned point", 0, 2, 5, api_name="/traverse")
    assert "pinned point" in caption
    with pytest.raises(AppError, match="between 0 and 9999"):
        client.predict(keys, "pretrained/ae-2d", "test digit", 10 ** 6, 3, 11, api_name="/traverse")
    with pytest.raises(AppError, match="not a shown model"):
        client.predict(keys, "pretrained/cvae-2d", "test digit", 1, 3, 11, api_name="/traverse")


@pytest.mark.browser
def test_the_sliders_decode_the_edited_code_in_the_page(app_server, chromium):
    from test_browser import LIVE, open_app, settle

    page = open_app(chromium, app_server.url)
    page.wait_for_function(LIVE, timeout=120_000)
    page.get_by_role("tab", name="Latent traversal").click()
    page.wait_for_function("() => window.latentTraverse && window.latentTraverse.lastImage", timeout=60_000)
    page.wait_for_selector("#traversal img", timeout=30_000)
    settle(page)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.locator(".lt-range").nth(1).fill("2")  # z2 + 2 sigma
    page.wait_for_timeout(300)
    assert requests == [], "a slider asked the server"
    got = np.asarray(page.evaluate("() => window.latentTraverse.lastImage"))
    entry = app_server.registry.get("pretrained/ae-2d")
    z = entry.latents[0].copy()
    z[1] += 2 * actions.traversal_scale(entry)[1]
    assert np.abs(got - entry.decode(z[None])[0].ravel()).max() <= 2 / 255
    page.context.close()
