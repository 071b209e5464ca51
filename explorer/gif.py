"""Animated GIFs to take to slides (Pillow only): an interpolation decoded in every shown model, a model's
per-dim traversal (every dim moving at once, one tile each, as disentanglement_lib's GIFs), and a training run's
latent snapshots replayed on fixed axes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import actions, render

FRAMES = 20
TILE = 112  # px of a digit: legible on a slide
FRAME_MS = 120


def _header(image: np.ndarray, text: str, size: int = 18) -> Image.Image:
    im = Image.fromarray(image)
    out = Image.new("RGB", (im.width, im.height + size + 14), render.WHITE)
    out.paste(im, (0, size + 14))
    render.centered_text(out, (im.width // 2, 6), text, size=size, fill=render.INK)
    return out


def interpolation_frames(entries, test, i: int, j: int, frames: int = FRAMES) -> list[Image.Image]:
    """Frame k: every model's decoding of (1 - t) z_i + t z_j, t = k / (frames - 1), beside the two end digits."""
    ends = actions.test_digits(test, [i, j])
    out = []
    for t in np.linspace(0, 1, frames, dtype=np.float32):
        tiles = [{"title": f"#{i}", "image": ends[0], "caption": "from"}]
        for e in entries:
            z = (1 - t) * e.latents[i] + t * e.latents[j]
            label = (e.label_of[i] if t < 0.5 else e.label_of[j]) if e.takes_label else None
            tiles.append({"title": e.label, "image": e.decode(z[None], label)[0], "caption": f"t = {t:.2f}"})
        tiles.append({"title": f"#{j}", "image": ends[1], "caption": "to"})
        strip = render.labelled_tiles(tiles, size=TILE, cols=len(tiles))
        out.append(_header(strip, f"test digit #{i} to #{j}: the straight line between their codes, in every model"))
    return out


def traversal_frames(entry, test, z0, *, span: float = 3.0, frames: int = FRAMES,
                     label: int | None = None) -> list[Image.Image]:
    """Frame k: one tile per latent dim (VAEs ordered by KL), each the code with only that dim moved to the same
    offset; the offset goes -span -> +span -> -span over the frames."""
    order, kl = actions.traversal_rows(entry, test)
    scale = actions.traversal_scale(entry)
    half = frames // 2
    offsets = np.r_[np.linspace(-span, span, frames - half), np.linspace(span, -span, half + 2)[1:-1]]
    cols = min(len(order), 8)
    out = []
    for offset in offsets:
        z = np.repeat(np.asarray(z0, np.float32)[None], len(order), 0)
        for r, j in enumerate(order):
            z[r, j] += offset * scale[j]
        images = entry.decode(z, label)
        tiles = [{"title": f"z{j + 1}", "image": images[r],
                  "caption": f"KL {kl[j]:.2f}" if kl is not None else ""} for r, j in enumerate(order)]
        grid = render.labelled_tiles(tiles, size=TILE, cols=cols)
        out.append(_header(grid, f"{entry.label}: each dim moved by {offset:+.1f} s.d."))  # the font has no σ
    return out


def replay_frames(runs: list[tuple[str, list]], size: int = 300) -> list[Image.Image]:
    """``runs``: (title, snapshots) with snapshots [(epoch, xy (n, 2), labels (n,))]; frame k shows snapshot k of
    every run side by side, each on fixed axes (its extent over all its snapshots)."""
    count = max(len(s) for _, s in runs)
    frames = []
    for k in range(count):
        panels = []
        for title, snaps in runs:
            xy_all = np.concatenate([s[1] for s in snaps])
            lo, hi = np.percentile(xy_all, 0.5, axis=0), np.percentile(xy_all, 99.5, axis=0)
            pad = 0.05 * (hi - lo)
            extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
            epoch, xy, labels = snaps[min(k, len(snaps) - 1)]
            layer = render.plane_layer(extent, size, size, xy, labels, point_alpha=0.8)
            panels.append((layer, f"{title} · epoch {epoch:g}"))
        frames.append(Image.fromarray(render.side_by_side(panels, per_row=len(panels))))
    return frames


def save(frames: list[Image.Image], path: str | Path, duration: int = FRAME_MS) -> Path:
    """One looping GIF; every frame on one adaptive palette of 64 colours (the digits are grey, the points ten)."""
    path = Path(path)
    palette = frames[len(frames) // 2].convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    quantized = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    quantized[0].save(path, save_all=True, append_images=quantized[1:], duration=duration, loop=0, optimize=True,
                      disposal=1)
    return path

