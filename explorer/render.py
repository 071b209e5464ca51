"""Server-side pictures as numpy/PIL: the pictures behind the page's latent planes (with an exact pixel <-> plane
mapping), decoded-digit strips, manifold grids and labelled image tables."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .rules import OUTSIDE_FADE

# tab10: one color per class, the same in every view
PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]], np.uint8)
# projector mode: Paul Tol's colour-blind-safe "muted" scheme (9 colours) and his pale grey
SAFE_PALETTE = np.array([[204, 102, 119], [51, 34, 136], [221, 204, 119], [17, 119, 51], [136, 204, 238],
                         [136, 34, 85], [68, 170, 153], [153, 153, 51], [170, 68, 153], [110, 110, 110]], np.uint8)
WHITE, INK, GRID = (255, 255, 255), (40, 40, 40), (225, 225, 225)
READABLE_PX = 14  # the smallest text a picture may show on screen at 1366 px wide (a projector)
SHOWN_WIDTH = 1270  # px a picture as wide as the page is shown at, there (the window minus the page's margins)


def text_px(width: float, shown: float = SHOWN_WIDTH) -> int:
    """The font size (px of the picture) that is READABLE_PX or more on screen when a picture ``width`` px wide is
    shown in ``shown`` px (the page fits a wider picture into its width; it never enlarges a narrower one)."""
    return max(READABLE_PX, math.ceil(READABLE_PX * width / shown))


@lru_cache(maxsize=8)
def font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow: bitmap font, one size
        return ImageFont.load_default()


@lru_cache(maxsize=1024)
def _glyph(char: str, size: int):
    """One character: its anti-aliased mask (None for blanks), the mask's offset from the pen on the baseline,
    and the advance to the next character."""
    f = font(size)
    advance = f.getlength(char)
    origin = (size, 2 * size)  # room on every side: ink can reach past the advance box
    canvas = Image.new("L", (int(advance) + 2 * size, 3 * size))
    ImageDraw.Draw(canvas).text(origin, char, fill=255, font=f, anchor="ls")
    box = canvas.getbbox()
    if box is None:
        return None, 0, 0, advance
    return canvas.crop(box), box[0] - origin[0], box[1] - origin[1], advance


def centered_text(im: Image.Image, xy: tuple[int, int], text: str, *, size: int, fill, spacing: int = 2) -> None:
    """What ``ImageDraw.multiline_text(xy, text, anchor="ma", align="center", spacing=spacing)`` draws (each line
    centered on x, the first line's ascender at y), from cached glyphs. The decoded strip's captions change
    with every click and Pillow rasterizes every glyph of every call: ~0.6 ms a caption, half of a click's time
    on the server. The default font has no kerning, so glyphs placed by their advances land where Pillow puts
    them (tests/test_render.py compares the two pixel by pixel)."""
    f = font(size)
    x, y = xy
    baseline, line_h = y + f.getmetrics()[0], f.getbbox("A")[3] + spacing
    for line in text.split("\n"):
        glyphs = [_glyph(c, size) for c in line]
        pen = x - sum(g[3] for g in glyphs) / 2
        for mask, left, top, advance in glyphs:
            if mask is not None:
                px, py = math.ceil(pen - 0.5) + left, baseline + top  # a half pixel goes left, as in Pillow
                im.paste(fill, (px, py, px + mask.width, py + mask.height), mask)
            pen += advance
        baseline += line_h


@dataclass(frozen=True)
class Geometry:
    """Where a plane's data rectangle sits in its picture. Pixel (i, j) covers x in
    [xmin + (i - left) * dx, xmin + (i - left + 1) * dx) and, top-down, y in the same way; ``to_data`` returns
    a pixel's center, ``to_pixel`` the pixel a point falls in, so to_pixel(to_data(p)) == p exactly."""
    extent: tuple[float, float, float, float]
    width: int = 400
    height: int = 400
    left: int = 50
    right: int = 10
    top: int = 10
    bottom: int = 38

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    def to_pixel_float(self, xy) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        xmin, xmax, ymin, ymax = self.extent
        px = self.left + (xy[:, 0] - xmin) / (xmax - xmin) * self.plot_w
        py = self.top + (ymax - xy[:, 1]) / (ymax - ymin) * self.plot_h
        return np.stack([px, py], 1)

    def to_pixel(self, xy) -> np.ndarray:
        return np.floor(self.to_pixel_float(xy)).astype(int)

    def to_data(self, px, py) -> tuple[float, float]:
        xmin, xmax, ymin, ymax = self.extent
        x = xmin + (px + 0.5 - self.left) / self.plot_w * (xmax - xmin)
        y = ymax - (py + 0.5 - self.top) / self.plot_h * (ymax - ymin)
        return float(x), float(y)

    def inside(self, px, py) -> bool:
        return self.left <= px < self.left + self.plot_w and self.top <= py < self.top + self.plot_h

    def grid_centers(self, n: int) -> np.ndarray:
        """Plane coordinates of the centers of an n x n grid of cells over the data rectangle, row-major from the top."""
        xmin, xmax, ymin, ymax = self.extent
        xs = xmin + (np.arange(n) + 0.5) / n * (xmax - xmin)
        ys = ymax - (np.arange(n) + 0.5) / n * (ymax - ymin)
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], 1)


def plane_layer(extent, width: int, height: int, xy: np.ndarray, labels: np.ndarray, *,
                background: np.ndarray | None = None, point_alpha: float = 0.55,
                hatch: np.ndarray | None = None, palette: np.ndarray = PALETTE) -> np.ndarray:
    """RGB picture of a plane's data rectangle alone (``width`` x ``height`` px over ``extent``): optional
    background (H, W, 3/4), a hatch over the cells of the boolean mask ``hatch`` (n, n; row 0 at the top) and
    the test points colored by class. The page draws the axes, the crosshairs and the moving point over it."""
    geo = Geometry(tuple(extent), width, height, 0, 0, 0, 0)
    img = np.full((height, width, 3), 250, np.float32)
    if background is not None:
        bg = np.asarray(Image.fromarray(background).resize((width, height), Image.BILINEAR), np.float32)
        if bg.shape[2] == 4:
            a = bg[..., 3:] / 255
            img = img * (1 - a) + bg[..., :3] * a
        else:
            img = bg
    if hatch is not None:
        mask = np.asarray(Image.fromarray(hatch.astype(np.uint8) * 255).resize((width, height), Image.NEAREST)) > 0
        yy, xx = np.mgrid[:height, :width]
        stripes = mask & ((xx + yy) % 8 < 2)
        img[mask] = img[mask] * 0.85 + 255 * 0.15
        img[stripes] = img[stripes] * 0.6 + np.array([150, 150, 150]) * 0.4
    if len(xy):
        p = geo.to_pixel(xy)
        ok = (p[:, 0] >= 0) & (p[:, 0] < width - 1) & (p[:, 1] >= 0) & (p[:, 1] < height - 1)
        p, colors = p[ok], palette[np.asarray(labels)[ok] % 10].astype(np.float32)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2x2 px dots, the point's own pixel top-left
            region = img[p[:, 1] + dy, p[:, 0] + dx]
            img[p[:, 1] + dy, p[:, 0] + dx] = region * (1 - point_alpha) + colors * point_alpha
    return img.clip(0, 255).astype(np.uint8)


def to_uint8(images: np.ndarray) -> np.ndarray:
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


def tile(images: np.ndarray, rows: int, cols: int, *, gap: int = 1, scale: int = 1, ink_on_white: bool = True,
         gap_value: int = 200) -> np.ndarray:
    """Grid of (rows * cols, 28, 28) images in [0, 1] as one uint8 picture (dark digits on white by default)."""
    n, h, w = images.shape
    canvas = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), gap_value, np.uint8)
    pix = to_uint8(1 - images if ink_on_white else images)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = pix[k]
    if scale > 1:
        canvas = canvas.repeat(scale, 0).repeat(scale, 1)
    return canvas


def manifold_background(images: np.ndarray, n: int) -> np.ndarray:
    """Faint decoded digits laid over the plane (RGBA), from an n x n grid of decodings."""
    gray = tile(images, n, n, gap=0, ink_on_white=False, gap_value=0).astype(np.float32) / 255
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., :3] = 30
    rgba[..., 3] = (gray * 150).astype(np.uint8)
    return rgba


def density_background(xy: np.ndarray, geo: Geometry, *, bins: int = 100) -> np.ndarray:
    """Where the prior puts codes: a smoothed 2-D histogram of prior samples as a blue RGBA layer."""
    xmin, xmax, ymin, ymax = geo.extent
    hist, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=bins, range=[[ymin, ymax], [xmin, xmax]])
    hist = _blur(hist[::-1], 1.5)
    level = hist / (hist.max() + 1e-12)
    rgba = np.zeros((bins, bins, 4), np.uint8)
    rgba[..., :3] = (60, 110, 200)
    rgba[..., 3] = (np.sqrt(level) * 170).astype(np.uint8)
    return rgba


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    a = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 0, a)
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 1, a)


def classifier_background(labels: np.ndarray, confidence: np.ndarray, n: int,
                          palette: np.ndarray = PALETTE) -> np.ndarray:
    """The classifier's digit for the decoding at each grid cell; opacity = its confidence."""
    rgba = np.zeros((n, n, 4), np.uint8)
    rgba[..., :3] = palette[labels.reshape(n, n) % 10]
    rgba[..., 3] = (np.clip(confidence.reshape(n, n), 0, 1) * 110).astype(np.uint8)
    return rgba


def labelled_tiles(tiles: list[dict], *, size: int = 140, small: int = 56, cols: int | None = None) -> np.ndarray:
    """Side-by-side tiles, each: a title, a large digit, a caption line, and optionally a small digit with a note.
    tiles: [{"title", "image" (28, 28), "caption", "small" (28, 28) | None, "small_caption"}]."""
    cols = cols or len(tiles)
    rows = -(-len(tiles) // cols)
    top = 56  # room for the component's own label (drawn over the image when scaled down)
    body = size + 62  # title, digit and a two-line caption; the small digit and its note go below
    cell_w, cell_h = size + 40, body + (small + 22 if any(t.get("small") is not None for t in tiles) else 0)
    im = Image.new("RGB", (cols * cell_w, rows * cell_h + top), WHITE)
    d = ImageDraw.Draw(im)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        x0, y0 = c * cell_w + 20, r * cell_h + top
        centered_text(im, (x0 + size // 2, y0), t["title"], size=16, fill=INK)
        shown = 1 - t["image"] * (OUTSIDE_FADE if t.get("outside") else 1.0)  # outside: faded, in a red frame
        im.paste(Image.fromarray(to_uint8(shown)).resize((size, size), Image.NEAREST), (x0, y0 + 20))
        frame = ((200, 30, 30), 3) if t.get("outside") else ((170, 170, 170), 1)
        d.rectangle([x0 - 1, y0 + 19, x0 + size, y0 + 20 + size], outline=frame[0], width=frame[1])
        centered_text(im, (x0 + size // 2, y0 + 24 + size), t.get("caption", ""), size=READABLE_PX, fill=INK)
        if t.get("small") is not None:
            sy = y0 + body
            sm = Image.fromarray(to_uint8(1 - t["small"])).resize((small, small), Image.NEAREST)
            im.paste(sm, (x0 + (size - small) // 2, sy))
            centered_text(im, (x0 + size // 2, sy + small + 3), t.get("small_caption", ""), size=READABLE_PX,
                          fill=(90, 90, 90))
    return np.asarray(im)


def image_table(rows: list[tuple[str, np.ndarray, list[str] | None]], *, scale: int = 2,
                shown: float = SHOWN_WIDTH) -> np.ndarray:
    """Rows of digits with a row label on the left and an optional note under each digit, its text readable when
    the table is shown ``shown`` px wide. rows: [(label, images (K, 28, 28), notes or None)]."""
    k = max(len(r[1]) for r in rows)
    cell = 28 * scale + 4
    def label_width(size: int) -> int:
        return int(max(font(size).getlength(label) for label, _, _ in rows)) + size + 8
    size = text_px(label_width(READABLE_PX) + k * cell, shown)
    label_w = label_width(size)
    note_h = size + 6 if any(notes for _, _, notes in rows) else 0
    row_h = cell + note_h
    im = Image.new("RGB", (label_w + k * cell, len(rows) * row_h + 2), WHITE)
    d = ImageDraw.Draw(im)
    for r, (label, images, notes) in enumerate(rows):
        y = r * row_h + 2
        d.text((label_w - size // 2, y + cell // 2), label, fill=INK, font=font(size), anchor="rm")
        for c, img in enumerate(images):
            x = label_w + c * cell
            im.paste(Image.fromarray(to_uint8(1 - img)).resize((28 * scale, 28 * scale), Image.NEAREST), (x, y))
            if notes:
                d.text((x + 14 * scale, y + 28 * scale + 3), notes[c], fill=(90, 90, 90), font=font(size),
                       anchor="ma")
    return np.asarray(im)


def captioned(image: np.ndarray, title: str, *, size: int = READABLE_PX) -> np.ndarray:
    """An image with a title strip on top, its text ``size`` px."""
    im = Image.fromarray(image if image.ndim == 3 else np.stack([image] * 3, -1))
    pad = size + 8
    out = Image.new("RGB", (im.width, im.height + pad), WHITE)
    out.paste(im, (0, pad))
    ImageDraw.Draw(out).text((im.width // 2, 4), title, fill=INK, font=font(size), anchor="ma")
    return np.asarray(out)


def side_by_side(panels: list[tuple[np.ndarray, str]], *, per_row: int = 3, gap: int = 16,
                 shown: float = SHOWN_WIDTH) -> np.ndarray:
    """Captioned pictures in rows of ``per_row``, as one RGB image (one PNG to export); the titles readable when
    it is shown ``shown`` px wide."""
    rows = [panels[i:i + per_row] for i in range(0, len(panels), per_row)]
    size = text_px(max(sum(img.shape[1] for img, _ in row) + gap * (len(row) - 1) for row in rows), shown)
    shown = [captioned(img, title, size=size) for img, title in panels]
    rows = [shown[i:i + per_row] for i in range(0, len(shown), per_row)]
    width = max(sum(p.shape[1] for p in row) + gap * (len(row) - 1) for row in rows)
    height = sum(max(p.shape[0] for p in row) for row in rows) + gap * (len(rows) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for row in rows:
        x = 0
        for p in row:
            out[y:y + p.shape[0], x:x + p.shape[1]] = p
            x += p.shape[1] + gap
        y += max(p.shape[0] for p in row) + gap
    return out
