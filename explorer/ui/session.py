"""One page's state: the one source of truth for what it shows and what it pinned. Every other copy (the picker's
value, the x / y / Model # fields, the page's own pin, the address bar) is derived from it or sent to it."""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field

import numpy as np

from .. import rules
from ..registry import MODELS
from ..storage import new_session_folder

LINK_DEFAULT = rules.LINKS[0]


@dataclass(frozen=True)
class Pin:
    """A pinned point: where on which model's plane. The plane is the view it was pinned on ("latent", "pca" or
    "umap"), so the point keeps its meaning when that model's plane changes (another projection, PCA giving way
    to UMAP)."""
    model: str  # the model's key
    x: float
    y: float
    plane: str


@dataclass
class Session:
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)  # whose training jobs (one id per browser)
    models: list[str] = field(default_factory=list)  # keys of the shown models, in order
    pin: Pin | None = None
    pin_order: tuple[str, int] | None = None  # (page id, sequence number) of the newest pin the page sent
    link: str = LINK_DEFAULT  # how the other models follow a point: rules.LINKS
    projector: bool = False  # large text, thick lines, a colour-blind-safe palette
    drawn: np.ndarray | None = None  # the digit drawn on the sketchpad (28, 28), starred in every plane
    uploads: dict = field(default_factory=dict)  # key -> registry.Entry, this page's own models
    upload_dir: str | None = None  # this page's folder for uploaded files (removed with the session)
    job: str | None = None  # this page's training job
    hash: str | None = None  # Gradio's session hash, so closing the tab finds this state
    note: str = ""  # what a shared link held that was ignored: said in the status line until models are picked
    said: list[str] = field(default_factory=list)  # what the next status line says once (models removed, …)

    def say(self, text: str) -> None:
        """Say ``text`` (Markdown, escaped by the caller) once, in the next status line."""
        self.said.append(text)

    def show(self, keys: list[str]) -> None:
        """Show these models; the pin stays with its model, and goes with it when that model is removed."""
        self.models = list(keys)
        if self.pin is not None and self.pin.model not in self.models:
            self.pin = None

    def pin_point(self, entries, index: int, x: float, y: float, projection: str) -> Pin:
        """Pin (x, y) of shown model ``index``'s plane (as shown for ``projection``)."""
        entry = entries[index]
        self.pin = Pin(entry.key, float(x), float(y), entry.view(projection).name)
        return self.pin

    def pinned(self, entries, projection: str) -> tuple[int, float, float]:
        """The pinned point as (model #, x, y) on the planes shown for ``projection``: the pin, moved onto its
        model's current plane when that plane changed; else the first plane's centre (its origin for a 2-D
        latent), so the page never opens on nothing. Reads the session, never changes it."""
        keys = [e.key for e in entries]
        if self.pin is not None and self.pin.model in keys:
            index = keys.index(self.pin.model)
            x, y = on_plane(entries[index], self.pin, projection)
            return index, x, y
        view = entries[0].view(projection)
        x, y = (0.0, 0.0) if view.name == "latent" else (float(v) for v in np.median(view.xy, 0))
        return 0, float(x), float(y)

    def forget_files(self) -> None:
        """Remove this page's uploaded files and models (the tab closed, or the state expired)."""
        if self.upload_dir:
            shutil.rmtree(self.upload_dir, ignore_errors=True)
            self.upload_dir = None
        for entry in self.uploads.values():
            MODELS.drop(entry)  # their weights leave memory now, not when the server needs room
        self.uploads.clear()


def on_plane(entry, pin: Pin, projection: str) -> tuple[float, float]:
    """``pin`` in the coordinates of ``entry``'s plane for ``projection``: as pinned when that is the plane it was
    pinned on; else the latent behind it, placed on the new plane (exactly through a linear map, else at its
    nearest test code)."""
    view = entry.view(projection)
    if view.name == pin.plane or pin.plane not in entry.views:
        return pin.x, pin.y
    z = entry.views[pin.plane].inverse.inverse_transform(np.array([[pin.x, pin.y]], np.float32))
    if hasattr(view.inverse, "transform"):
        x, y = view.inverse.transform(z)[0]
    else:
        x, y = view.xy[rules.nearest(entry.latents, z[0])]
    return float(x), float(y)


OPEN: dict[str, Session] = {}  # Gradio's session hash -> its state, so closing the tab can clean it up


def track(session: Session, request) -> None:
    """Map the browser session to its state, so that closing the tab (end) can delete its files. Done again before
    every upload: Gradio can fire its unload event while the page lives on."""
    if request is not None and request.session_hash:
        session.hash = request.session_hash
        OPEN[request.session_hash] = session


def upload_dir(session: Session, request=None) -> str:
    """The session's folder for uploaded files (the session is tracked first, so closing the tab finds it)."""
    track(session, request)
    if session.upload_dir is None:
        session.upload_dir = new_session_folder()  # named by this process: a restart removes it after a kill -9
    return session.upload_dir


def cleanup(session: Session | None) -> None:
    """Remove a session's uploaded files and models (the state expired: gr.State's delete callback)."""
    if session is not None:
        session.forget_files()
        OPEN.pop(session.hash, None)


def end(request) -> None:
    """The browser tab closed (Gradio's unload event): delete its files now rather than when the state expires.
    Its training job keeps running; reopening the page re-attaches to it."""
    if request is not None:
        cleanup(OPEN.pop(request.session_hash, None))
