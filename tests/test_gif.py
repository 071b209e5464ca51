"""GIF export: frame count, size and that each frame differs; the /export_gif endpoint."""
import numpy as np
import pytest
from PIL import Image, ImageSequence

from explorer import gif


@pytest.fixture(scope="module")
def registry(tiny_zoo, tmp_path_factory):
    from explorer.registry import Registry

    return Registry(pretrained=tiny_zoo, runs=tmp_path_factory.mktemp("runs"), background=False)


def frames_of(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_an_interpolation_gif_of_six_models_is_small_and_moves(registry, tmp_path):
    keys = ["ae-2d", "vae-2d", "aae-mixture10-2d", "cvae-2d", "vae-8d", "vae-2d"]
    entries = [registry.get(f"pretrained/{k}") for k in keys]
    path = gif.save(gif.interpolation_frames(entries, registry.test, 3, 2), tmp_path / "i.gif")
    frames = frames_of(path)
    assert len(frames) == gif.FRAMES and path.stat().st_size <= 2_000_000
    assert all((a != b).any() for a, b in zip(frames, frames[1:])), "a frame repeats the one before"
    assert frames[0].shape[1] >= 8 * gif.TILE  # 6 models and the two end digits, at slide size


def test_traversal_and_replay_gifs(registry, tmp_path):
    vae = registry.get("pretrained/vae-8d")
    frames = frames_of(gif.save(gif.traversal_frames(vae, registry.test.head(300), vae.latents[0], span=2.0),
                                tmp_path / "t.gif"))
    assert len(frames) == gif.FRAMES and all((a != b).any() for a, b in zip(frames, frames[1:]))
    rng = np.random.default_rng(0)
    snaps = [(e, rng.normal(size=(200, 2)) * e, rng.integers(10, size=200)) for e in (1, 2, 3)]
    frames = frames_of(gif.save(gif.replay_frames([("a", snaps), ("b", snaps[:2])]), tmp_path / "r.gif"))
    assert len(frames) == 3 and all((a != b).any() for a, b in zip(frames, frames[1:]))


def test_the_export_gif_endpoint(app_server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_server.url, verbose=False)
    keys = ["pretrained/ae-2d", "pretrained/vae-2d"]
    common = (keys, 3, 2, "pretrained/vae-2d", "test digit", 5, 2.0, "")
    path = client.predict("interpolation", *common, api_name="/export_gif")
    assert len(frames_of(path)) == gif.FRAMES
    path = client.predict("traversal", *common, api_name="/export_gif")
    assert len(frames_of(path)) == gif.FRAMES
    with pytest.raises(AppError, match="no latent snapshots yet"):
        client.predict("replay", *common, api_name="/export_gif")
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio checks the choice first
        client.predict("movie", *common, api_name="/export_gif")
