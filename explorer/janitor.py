"""What no session needs any more, removed now and then (the app calls ``tidy`` every few minutes): finished jobs
nobody watches, a public server's expired runs, and the exported decoders of models no longer in memory."""
from __future__ import annotations

import ctypes
import sys

from . import live, onnx_export, settings
from .registry import EXPORTS, MODELS, Registry

EXPORT_GRACE = 900  # seconds an unused export stays (a page may still be fetching it): media.MEDIA_TTL


def tidy(jobs, registry: Registry, open_owners: set[str], exports=EXPORTS) -> dict[str, list[str]]:
    """One round; returns what it removed, by kind."""
    forgotten = jobs.forget_finished(open_owners, idle=settings.TIDY_SECONDS)
    expired = jobs.expire()
    for name in expired:
        registry.forget(f"runs/{name}")
    keep = {entry.onnx_source for entry in MODELS.entries() if entry.onnx_source} | {live.classifier_source()}
    removed = {"jobs": forgotten, "runs": expired, "exports": onnx_export.sweep(exports, keep, EXPORT_GRACE)}
    trim()
    return removed


def trim() -> None:
    """Give the heap that forgotten jobs and dropped models freed back to the system (glibc keeps it otherwise,
    and the RSS stays at its peak)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
