from pathlib import Path

import numpy as np
import pytest

from explorer import actions, render
from explorer.projection import GridInverse, Identity2D, PCA2D


def test_pixel_mapping_round_trips_for_every_pixel():
    geo = render.Geometry((-3.0, 2.0, -1.0, 4.0), 400, 400)
    px, py = np.meshgrid(np.arange(geo.left, geo.left + geo.plot_w), np.arange(geo.top, geo.top + geo.plot_h))
    xy = np.array([geo.to_data(a, b) for a, b in zip(px.ravel()[::97], py.ravel()[::97])])
    back = geo.to_pixel(xy)
    assert np.array_equal(back[:, 0], px.ravel()[::97]) and np.array_equal(back[:, 1], py.ravel()[::97])
    assert geo.to_data(geo.left, geo.top)[0] == pytest.approx(-3 + 0.5 * 5 / geo.plot_w)
    assert not geo.inside(geo.left - 1, geo.top) and geo.inside(geo.left, geo.top)


def test_points_are_drawn_where_the_mapping_says():
    extent, xy, labels = (0.0, 1.0, 0.0, 1.0), np.array([[0.251, 0.749], [0.6013, 0.1017]]), np.array([3, 9])
    img = render.plane_layer(extent, 200, 200, xy, labels, point_alpha=1.0)
    geo = render.Geometry(extent, 200, 200, 0, 0, 0, 0)
    for (px, py), label in zip(geo.to_pixel(xy), labels):
        assert np.array_equal(img[py, px], render.PALETTE[label])  # the plane's default palette, opaque
    # that pixel's centre is within half a pixel of the data point
    for (px, py), point in zip(geo.to_pixel(xy), xy):
        x, y = geo.to_data(px, py)
        assert abs(x - point[0]) <= 0.5 / geo.plot_w and abs(y - point[1]) <= 0.5 / geo.plot_h


def test_the_outside_hatch_covers_only_the_masked_cells():
    hatch = np.zeros((4, 4), bool)
    hatch[0, 3] = True  # the top-right cell
    img = render.plane_layer((0.0, 1.0, 0.0, 1.0), 40, 40, np.zeros((0, 2)), np.zeros(0, int), hatch=hatch)
    assert (img[:10, 30:] != 250).any() and (img[10:, :] == 250).all() and (img[:10, :30] == 250).all()


def test_projections_invert():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    pca = PCA2D().fit(codes)
    xy = pca.transform(codes)
    assert np.allclose(pca.transform(pca.inverse_transform(xy)), xy, atol=1e-4)
    ident = Identity2D().fit(codes[:, :2])
    assert np.array_equal(ident.inverse_transform(codes[:5, :2].astype(np.float32)), codes[:5, :2].astype(np.float32))
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 5), np.linspace(10, 20, 5)), -1)  # latent = (x, y) itself
    inv = GridInverse(grid, (0, 1, 10, 20))
    assert np.allclose(inv.inverse_transform([[0.3, 12.5], [1.0, 20.0]]), [[0.3, 12.5], [1.0, 20.0]], atol=1e-5)


def test_umap_is_imported_with_numbas_disk_cache_on():
    """umap-learn compiles most of its functions uncached; import_umap() caches them on disk, so a later process
    skips that (measured in benchmarks/explorer_latency.py: 93 s -> 49 s for a fresh model's UMAP here)."""
    from explorer.projection import import_umap

    umap = import_umap()
    f = umap.umap_.smooth_knn_dist  # one of the functions umap-learn itself leaves uncached
    assert type(f._cache).__name__ == "FunctionCache"
    f(np.sort(np.random.default_rng(0).random((20, 5)), axis=1), 5.0)  # compiles now or loads what is cached
    assert list(Path(f._cache.cache_path).glob("*smooth_knn_dist*.nbi"))


def test_sketch_to_digit_centers_and_scales():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[40:200, 150:170] = (0, 0, 0, 255)  # a vertical stroke, off-center
    digit = actions.sketch_to_digit({"composite": canvas, "layers": [], "background": None})
    assert digit.shape == (28, 28) and digit.max() == pytest.approx(1.0)
    ys, xs = np.nonzero(digit > 0.1)
    assert 3 <= ys.min() and ys.max() <= 24 and abs(xs.mean() - 13.5) < 1.5
    assert actions.sketch_to_digit({"composite": np.zeros((280, 280, 4), np.uint8)}) is None
    assert actions.sketch_to_digit(None) is None


@pytest.mark.parametrize("size", [12, 14, 16])
def test_centered_text_from_cached_glyphs_draws_what_pillow_draws(size):
    """The decoded strip draws its captions from cached glyphs; they must match Pillow's own rendering."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(size)
    captions = ["aae-mixture10-2d", "nearest test digit: #2339", "z = (-0.63, 1.07, …), label 3\nclassifier: 3 (99%)"]
    captions += [f"z = ({rng.normal():.2f}, {rng.normal():.2f})\nclassifier: {rng.integers(10)} ({rng.random():.0%})"
                 for _ in range(10)]
    for caption in captions:
        for x in (150, 151):  # the line's left edge then falls on a whole or a half pixel
            ours, pillows = Image.new("RGB", (300, 60), render.WHITE), Image.new("RGB", (300, 60), render.WHITE)
            render.centered_text(ours, (x, 5), caption, size=size, fill=render.INK)
            ImageDraw.Draw(pillows).multiline_text((x, 5), caption, fill=render.INK, font=render.font(size), anchor="ma",
                                                   align="center", spacing=2)
            diff = np.abs(np.asarray(ours, int) - np.asarray(pillows, int))
            assert diff.max() <= 1 and np.asarray(pillows).min() < 100, (caption, x)  # and something was drawn


def test_tables_and_tiles_have_expected_sizes():
    imgs = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)
    assert render.tile(imgs, 2, 3, gap=1).shape == (57, 86)
    table = render.image_table([("a", imgs, None), ("b", imgs, ["x"] * 6)])
    assert table.ndim == 3 and table.shape[1] > 6 * 56


def test_umaps_compiled_functions_are_cached_on_disk_except_those_that_take_a_function():
    """A cached pynndescent function whose argument is another compiled function (``dist``) once failed a fit in a
    later process ("underlying object has vanished"): import_umap leaves those to compile anew each time."""
    import sys

    from numba.core.dispatcher import Dispatcher

    from explorer.projection import import_umap, takes_function

    import_umap()
    dispatchers = [f for name, module in list(sys.modules.items())  # pynndescent.search caches its own, by design
                   if name.split(".")[0] == "pynndescent" and name != "pynndescent.search"
                   for f in vars(module).values() if isinstance(f, Dispatcher) and f.py_func.__module__ != "pynndescent.search"]
    taking = [f for f in dispatchers if takes_function(f)]
    assert taking and all(type(f._cache).__name__ == "NullCache" for f in taking)
    assert any(type(f._cache).__name__ != "NullCache" for f in dispatchers if not takes_function(f))
