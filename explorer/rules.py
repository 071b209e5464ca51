"""The rules the server and the page share, written once here: where a point of one model's plane lands in every
shown model (the link, the latent behind a point, "outside the codes", the label a model decodes with), and the
page's constants and layout rules. explorer/static/rules.js is the page's copy; tests/make_golden.py writes what
these functions return into tests/golden_rules.json, and tests/test_rules.py checks both sides against it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

import numpy as np

from trainer.config import MAX_CLUSTERS

from .projection import GridInverse, Identity2D, PCA2D

if TYPE_CHECKING:
    from .registry import Entry, View

LINKS = ("same test digit", "same z")  # how the other models follow a point of one model's plane
OUTSIDE_FRACTION = 0.1  # a point farther than this share of its plane's width from every test code is "outside"
OUTSIDE_FADE = 0.35  # a digit decoded outside its codes keeps this share of its ink (page tiles and server strip)
LABEL_LIMIT = MAX_CLUSTERS  # a label is a digit or a clustered AAE's cluster: 0 <= label < LABEL_LIMIT
PLANE_MARGINS = {"left": 44, "right": 6, "top": 8, "bottom": 40}  # px around a live plane's data rectangle
PROJECTOR_SCALE = 1.35  # projector mode: text and lines a third bigger
PROJECTOR_MARGINS = {"left": 60, "right": 8, "top": 10, "bottom": 54}  # ... and room for them around the plane
TICK_PX = 40  # px of plane per tick value at least (times the text's scale): the values never run together
WALK_STEP = 0.02  # an arrow key moves the point by this share of the plane's width
WALK_FAST = 5  # ... and this many times more with Shift
RANDOM_ELLIPSES = 50  # test digits whose q(z|x) the "random" option draws
Z_DECIMALS = 4  # decimals of a pinned point's coordinates in a link
# px: the page's planes (a gap between them, smallest while they fit the width, largest, smallest ever) and what
# a plane's title and note take, and the key under the planes
PLANE_LAYOUT = {"gap": 12, "min": 180, "max": 520, "smallest": 120, "title": 44, "key": 36}


def page_constants() -> dict:
    """The constants the page reads from the view (live.view_json's "rules"), never from its own copy."""
    return {"margins": dict(PLANE_MARGINS), "outside_fade": OUTSIDE_FADE, "walk_step": WALK_STEP,
            "walk_fast": WALK_FAST, "label_limit": LABEL_LIMIT, "random_ellipses": RANDOM_ELLIPSES,
            "layout": dict(PLANE_LAYOUT), "z_decimals": Z_DECIMALS, "projector_scale": PROJECTOR_SCALE,
            "projector_margins": dict(PROJECTOR_MARGINS), "tick_px": TICK_PX}


# -- where a point lands --------------------------------------------------------------------------------------
@dataclass
class Target:
    """Where one point lands in one model."""
    entry: Entry
    view: View
    xy: np.ndarray  # point in this model's plane
    z: np.ndarray  # the latent decoded (d,)
    label: int | None  # class for conditional decoding (None for unconditional models)
    how: str  # "the point", "same z (N(0, I) prior)" or "test digit #i" (with why, when same z was asked)
    outside: bool = False  # the point is outside the region this model's test codes cover


def nearest(points: np.ndarray, xy) -> int:
    return int(np.argmin(((points - np.asarray(xy, dtype=np.float32)) ** 2).sum(1)))


def conditional_label(entry: Entry, view: View, xy, label) -> int | None:
    """Models that decode with a label (``Entry.takes_label``) use the chosen one (a digit, or a clustered AAE's
    cluster), or ("auto", or a value the model has not) the one of the nearest test point."""
    if not entry.takes_label:
        return None
    if label in (None, "auto") or not 0 <= int(label) < entry.config.label_count:
        return int(entry.label_of[nearest(view.xy, xy)])
    return int(label)


def code_scale(entry: Entry, view: View) -> str | None:
    """What a model's plane coordinates mean, when two models can share them: the prior their codes were made to
    match (N(0, I) for a VAE or a Gaussian-prior AAE, the AAE's mixture or roll). None when a model's codes have a
    scale of their own (the AE, a prior fitted to the codes) or the plane is a projection of a bigger latent."""
    config = entry.config
    if view.name != "latent":
        return None
    if config.model in ("vae", "cvae"):
        return None if config.prior_components else "N(0, I) prior"
    if config.model in ("aae", "caae"):
        return "N(0, I) prior" if config.prior == "gaussian" else f"{config.prior} prior"
    return None


def outside_radius(view: View) -> float:
    xmin, xmax, ymin, ymax = view.extent
    return OUTSIDE_FRACTION * max(xmax - xmin, ymax - ymin)


def is_outside(view: View, xy) -> bool:
    """Farther from every test code of this plane than ``outside_radius``: the model never saw a code there."""
    d2 = ((view.xy - np.asarray(xy, dtype=np.float32).reshape(1, 2)) ** 2).sum(1).min()
    return bool(d2 > np.float32(outside_radius(view)) ** 2)


def click_targets(entries: list[Entry], clicked: int, xy, *, projection: str = "umap", label="auto",
                  link: str = "same test digit") -> list[Target]:
    """A point ``xy`` of model ``clicked``'s plane: the latent to decode in every model.

    The clicked model decodes the latent behind the point. With ``link`` "same test digit" every other model
    decodes its own code of the test digit nearest to the point; with "same z" the models whose codes share the
    clicked one's scale (``code_scale``) decode the same (z1, z2), the others still the same test digit. The page
    (explorer/static/rules.js, linkTargets) follows the same rule; tests/golden_rules.json checks the two."""
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; expected one of {', '.join(LINKS)}")
    xy = np.asarray(xy, dtype=np.float32).reshape(2)
    source = entries[clicked].view(projection)
    scale = code_scale(entries[clicked], source)
    near = nearest(source.xy, xy)
    targets = []
    for k, entry in enumerate(entries):
        view = entry.view(projection)
        same_z = link == "same z" and scale is not None and code_scale(entry, view) == scale
        if k == clicked or same_z:
            z, point = view.inverse.inverse_transform(xy[None])[0], xy
            how = "the point" if k == clicked else f"same z ({scale})"
        else:
            z, point, how = entry.latents[near], view.xy[near], f"test digit #{near}"
            if link == "same z":
                how += " (its codes have another scale)" if view.name == "latent" else " (a projected plane)"
        targets.append(Target(entry, view, np.asarray(point), np.asarray(z, np.float32),
                              conditional_label(entry, view, point, label), how, is_outside(view, point)))
    return targets


def parse_label(value, limit: int = LABEL_LIMIT):
    """A label as a link or a control gives it: "auto", or a whole number 0 <= n < limit; None for anything else."""
    text = str(value)
    if text == "auto":
        return "auto"
    return int(text) if re.fullmatch(r"[0-9]+", text) and int(text) < limit else None


# -- the view in a link: the pieces explorer/ui/share.py and the page's shareQuery / parseQuery share ----------
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # a decimal number, nothing else


def format_coord(v: float) -> str:
    """A coordinate in a link as the page writes it (Number.toFixed): Z_DECIMALS decimals, a tie rounded away from
    zero (Python's format rounds it to even), and 0 for -0 (for |v| < 1e21, where toFixed stops writing decimals)."""
    return str(Decimal(v or 0.0).quantize(Decimal(1).scaleb(-Z_DECIMALS), rounding=ROUND_HALF_UP))


def parse_pin(z, plane, shown: int) -> tuple[int, float, float] | None:
    """A link's pinned point: z "x,y" (two decimal numbers, finite) on plane # ``plane`` (a whole number; None
    for 0) of ``shown`` planes; None when it is not one."""
    parts, plane = str(z).split(","), "0" if plane is None else str(plane)
    if len(parts) != 2 or not all(NUMBER.fullmatch(p) for p in parts) or not re.fullmatch(r"[0-9]+", plane):
        return None
    x, y = float(parts[0]), float(parts[1])
    return (int(plane), x, y) if math.isfinite(x) and math.isfinite(y) and int(plane) < shown else None


def url_query(pairs) -> str:
    """(name, value) pairs as the page's URLSearchParams writes them: form-encoded, "~" escaped too."""
    form = lambda text: quote_plus(str(text), safe="*").replace("~", "%7E")  # noqa: E731
    return "&".join(f"{form(name)}={form(value)}" for name, value in pairs)


# -- what the page is sent of one model, for these rules -----------------------------------------------------
def page_inverse(view: View) -> tuple[dict, dict[str, np.ndarray]]:
    """How the page maps a plane point to the latent, exactly as ``view.inverse.inverse_transform`` does."""
    inv = view.inverse
    if isinstance(inv, Identity2D):
        return {"kind": "identity", "dim": int(inv.dim_)}, {}
    if isinstance(inv, PCA2D):
        return {"kind": "pca", "mean": inv.mean_.tolist(), "components": inv.components_.tolist()}, {}
    if isinstance(inv, GridInverse):
        return {"kind": "grid", "extent": list(inv.extent_)}, {"grid": inv.grid_.astype(np.float32)}
    raise TypeError(f"no page-side inverse for {type(inv).__name__}")


def page_fields(entry: Entry, view: View) -> dict:
    """The plain values the page's rules read of one model's plane (its arrays come from ``page_arrays``)."""
    config = entry.config
    return {"latent_dim": config.latent_dim, "view": view.name, "extent": list(view.extent),
            "inverse": page_inverse(view)[0], "conditional": entry.takes_label, "num_classes": config.label_count,
            "clustered": config.clustered, "scale": code_scale(entry, view), "radius": outside_radius(view)}


def page_arrays(entry: Entry, view: View) -> dict[str, np.ndarray]:
    """The arrays the page's rules read (float32 and uint8, as its binary file holds them)."""
    arrays = {"xy": view.xy.astype(np.float32), "latents": entry.latents.astype(np.float32),
              "labels": (entry.labels % 256).astype(np.uint8), **page_inverse(view)[1]}
    if entry.takes_label:  # what each test digit decodes with (a clustered AAE: its cluster, not its digit)
        arrays["label_of"] = (entry.label_of % 256).astype(np.uint8)
    return arrays


# -- the page's layout: written here so that tests can find a plane's data rectangle -----------------------------
def plane_rect(size: float, margins: dict = PLANE_MARGINS) -> dict:
    """The data rectangle (a square) in a live plane of ``size`` px."""
    side = size - max(margins["left"] + margins["right"], margins["top"] + margins["bottom"])
    return {"left": margins["left"], "top": margins["top"], "side": side}


def to_plane(extent, rect: dict, u: float, v: float) -> tuple[float, float]:
    """Plane coordinates of the canvas pixel position (u, v) (y up in the plane, down on the canvas)."""
    xmin, xmax, ymin, ymax = extent
    return (xmin + ((u - rect["left"]) / rect["side"]) * (xmax - xmin),
            ymax - ((v - rect["top"]) / rect["side"]) * (ymax - ymin))


def to_canvas(extent, rect: dict, x: float, y: float) -> tuple[float, float]:
    xmin, xmax, ymin, ymax = extent
    return (rect["left"] + ((x - xmin) / (xmax - xmin)) * rect["side"],
            rect["top"] + ((ymax - y) / (ymax - ymin)) * rect["side"])


def inside(rect: dict, u: float, v: float) -> bool:
    return rect["left"] <= u < rect["left"] + rect["side"] and rect["top"] <= v < rect["top"] + rect["side"]


def walk(extent, point: tuple[float, float], direction: tuple[int, int], fast: bool = False) -> tuple[float, float]:
    """Where an arrow key moves a point: a share of the plane's width and height, kept inside the plane."""
    xmin, xmax, ymin, ymax = extent
    step = WALK_STEP * (WALK_FAST if fast else 1)
    return (min(xmax, max(xmin, point[0] + direction[0] * step * (xmax - xmin))),
            min(ymax, max(ymin, point[1] + direction[1] * step * (ymax - ymin))))


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n axis ticks between lo and hi, at a 1-2-2.5-5 step."""
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), raw)
    out, v = [], math.ceil(lo / step) * step
    while v <= hi + 1e-9:
        out.append(0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def plane_size(n: int, width: float, height: float, layout: dict = PLANE_LAYOUT) -> float:
    """The biggest planes for n models in a box of width x height: try every number of columns; when none keeps
    every row in view with planes of layout["min"] px or more, as wide as they can be in one row (up to 3 models)
    or two (the page scrolls; a class sees 6 planes of a good size, not 6 stamps)."""
    def wide(cols: int) -> int:
        return math.floor((width - layout["gap"] * (cols - 1)) / cols)

    best = 0
    for cols in range(1, n + 1):
        rows = -(-n // cols)
        tall = math.floor((height - layout["title"] * rows - layout["key"]) / rows)
        if tall >= layout["min"]:
            best = max(best, min(layout["max"], wide(cols), tall))
    if best < layout["min"]:
        best = min(layout["max"], wide(n if n <= 3 else -(-n // 2)))
    return max(min(best, width), layout["smallest"])
