"""The models a page can show: the registry every page shares (read-only, locked inside), the digit classifier,
the picker's names for models, and the entries behind a list of keys."""
from __future__ import annotations

import threading

import gradio as gr

from trainer.checkpoint import CheckpointError

from .text import plain
from ..registry import DEFAULT_MODELS, EXPORTS, MODELS, PRETRAINED, ModelLoadError, Registry  # noqa: F401

MAX_MODELS = 6  # planes side by side
REGISTRY = Registry()
_classifier_lock = threading.Lock()
_classifier: list = []


def classifier():
    """The shipped digit classifier (None when absent), loaded once."""
    with _classifier_lock:
        if not _classifier:
            try:
                from trainer.classifier import load_classifier

                _classifier.append(load_classifier(PRETRAINED / "classifier"))
            except (CheckpointError, OSError):
                _classifier.append(None)
        return _classifier[0]


def choices(session=None) -> list[tuple[str, str]]:
    """(shown name, key) pairs: shipped models by name, runs and uploads with their source."""
    keys = list(REGISTRY.available()) + list(session.uploads if session else ())
    return [(k.split("/", 1)[1] if k.startswith("pretrained/") else k.replace("/", ": ", 1), k) for k in keys]


def key_of(name: str, session=None) -> str:
    """The model key behind a picker entry: the picker takes typed text too, so "cvae-2d" (a shown name, typed and
    entered) means pretrained/cvae-2d; anything else is returned as it is."""
    if (session and name in session.uploads) or name.startswith(("pretrained/", "runs/")):
        return name
    return next((key for label, key in choices(session) if label == name.strip()), name)


def entry(key: str, session=None):
    """The loaded model behind a key: one of this page's uploads, or the shared registry's; its weights in memory
    (read again when the server dropped them, registry.MODELS), or a message that says why they cannot be."""
    try:
        if session is not None and key in session.uploads:
            found = session.uploads[key]
            MODELS.use(found)
            return found
        try:
            found = REGISTRY.get(key)
            MODELS.use(found)
        except ModelLoadError:  # a run retrained since it was loaded: load it afresh
            REGISTRY.forget(key)
            found = REGISTRY.get(key)
        return found
    except ModelLoadError as e:
        raise gr.Error(str(e)) from None


def entries_for(keys, session=None) -> list:
    """The entries of the models to show (at most MAX_MODELS), this page's uploads included."""
    keys = [key_of(k, session) for k in list(keys or [])[:MAX_MODELS]]
    if not keys:
        raise gr.Error("Choose at least one model to show.")
    return [entry(key, session) for key in keys]


def default_models() -> list[str]:
    """The models a new page shows (settings.DEFAULT_MODELS: shipped names, or keys such as runs/NAME)."""
    available = REGISTRY.available()
    keys = [name if "/" in name else f"pretrained/{name}" for name in DEFAULT_MODELS]
    return [k for k in keys if k in available][:MAX_MODELS] or list(available)[:3]


def label_value(label):
    """The Label / cluster control's value: "auto" or a whole number."""
    return "auto" if label in (None, "", "auto") else int(label)


def label_choices(entries) -> list:
    """The Label / cluster control's choices: auto, then every label or cluster some shown model decodes with."""
    return ["auto", *range(max((e.config.label_count for e in entries if e.takes_label), default=10))]


def with_room(keys, extra, needed=lambda key: False, session=None) -> list[str]:
    """``keys`` with ``extra`` added, at most MAX_MODELS: the models to show. When some must go, the ones this step
    does not need go first (``needed``: a predicate on keys), the last picked of them first (the lesson's first
    models stay); the session says which went and why, in the next status line."""
    keys = [k for k in dict.fromkeys(keys) if k not in extra]
    extra = list(dict.fromkeys(extra))[:MAX_MODELS]
    over = len(keys) + len(extra) - MAX_MODELS
    if over <= 0:
        return [*keys, *extra]
    order = [k for k in reversed(keys) if not needed(k)] + [k for k in reversed(keys) if needed(k)]
    dropped = set(order[:over])
    if session is not None:
        gone = ", ".join(name_of(k, session) for k in keys if k in dropped)
        added = ", ".join(name_of(k, session) for k in extra)
        session.say(f"Removed {plain(gone, 400, quoted=False)} to make room for {plain(added, 400, quoted=False)} "
                    f"(at most {MAX_MODELS} planes)")
    return [k for k in keys if k not in dropped] + extra


def name_of(key: str, session=None) -> str:
    """The picker's name of a model key."""
    return next((label for label, k in choices(session) if k == key), key)
