"""Files the app makes for a page: pictures (in Gradio's cache, by content), GIFs and zips (in temp folders that
forget them after MEDIA_TTL seconds)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np

from trainer.checkpoint import atomic_write

from .. import live, render

MEDIA_TTL = 900  # seconds a made file stays on disk (the page fetched it long before)
CACHE_SWEEP = 600  # seconds between sweeps of Gradio's cache (uploads and output pictures older than MEDIA_TTL)


def picture(**kwargs) -> gr.Image:
    """An output image whose numpy picture goes to Gradio's cache under its content hash, written atomically and
    only once (cached_png). gr.Image rewrites an existing file in place, so a second student drawing the same
    picture truncated it while the first one's browser was still downloading it ("peer closed connection" in
    benchmarks/classroom.py). Bound to the instance, not a subclass: Gradio writes a .pyi beside the source of
    every component class."""
    image = gr.Image(type="numpy", format="png", interactive=False, **kwargs)
    plain = image.postprocess
    image.postprocess = lambda value: plain(cached_png(value, image.GRADIO_CACHE)
                                            if isinstance(value, np.ndarray) else value)
    return image


def cached_png(image: np.ndarray, cache_dir) -> str:
    """The PNG of ``image`` (uint8, or floats in [0, 1]) at cache_dir/<sha256>/image.png: written atomically when
    new, touched when it is there already (the cache sweep goes by age)."""
    data = live.png_bytes(image if image.dtype == np.uint8 else render.to_uint8(image))
    path = Path(cache_dir) / hashlib.sha256(data).hexdigest() / "image.png"
    if path.is_file():
        os.utime(path)
    else:
        atomic_write(path, data)
    return str(path)


class TempFiles:
    """A temp folder of made files (GIFs, zips) that removes those older than ``ttl`` whenever it makes one."""

    def __init__(self, name: str, ttl: float = MEDIA_TTL):
        self.folder, self.ttl = Path(tempfile.gettempdir()) / name, ttl

    def new(self, prefix: str, suffix: str) -> Path:
        """A fresh empty file's path (a new folder for it when the file must keep a given name)."""
        self.sweep()
        fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=self.folder)
        os.close(fd)
        return Path(path)

    def named(self, name: str) -> Path:
        """A path ending in exactly ``name``, in a fresh folder of its own."""
        self.sweep()
        return Path(tempfile.mkdtemp(dir=self.folder)) / name

    def sweep(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for old in self.folder.rglob("*"):
            try:
                if old.is_file() and now - old.stat().st_mtime > self.ttl:
                    old.unlink()
            except OSError:  # removed meanwhile
                continue
        for folder in self.folder.iterdir():
            try:
                if folder.is_dir() and now - folder.stat().st_mtime > self.ttl:
                    folder.rmdir()  # only when empty
            except OSError:
                continue
