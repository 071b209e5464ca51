"""User text shown in the page: echoed as plain text, never as markup. Markdown outputs go through ``plain``;
Gradio renders an error or warning message as HTML, so every handler's gr.Error is escaped (``escape_errors``)."""
from __future__ import annotations

import functools
import html
import inspect
import re

import gradio as gr

from trainer.config import shown

_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")  # what starts links, images, emphasis, code or tables


def plain(value, limit: int = 60, quoted: bool = True) -> str:
    """``value`` as Markdown that shows its characters (cut to ``limit``; quoted as repr does, or as it is): no
    HTML tag, link, image or form of it survives, whatever it holds."""
    text = shown(value, limit) if quoted else str(value)[:limit]
    return html.escape(_MARKDOWN.sub(r"\\\1", text), quote=True)


def html_text(message) -> str:
    """A message as HTML text that shows its characters: without "<" no tag starts, without "&" no entity (quotes
    are left alone, so an API client reads 'name' as it was)."""
    return str(message).replace("&", "&amp;").replace("<", "&lt;")


def escaped(fn):
    """``fn`` with the message of any gr.Error it raises made plain HTML text (a toast renders it as HTML: an
    echoed file or model name once fetched an image and drew a form there)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:
            raise gr.Error(html_text(e.message), duration=e.duration, visible=e.visible, title=e.title,
                           print_exception=e.print_exception) from None
    return run


def escape_errors(demo: gr.Blocks) -> None:
    """Wrap every event handler of ``demo`` in ``escaped`` (generators and coroutines are left as they are: the
    app has none)."""
    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if fn is not None and not (inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn)
                                   or inspect.isasyncgenfunction(fn)):
            block_fn.fn = escaped(fn)


def warn(message) -> None:
    """gr.Warning with ``message`` as plain HTML text."""
    gr.Warning(html_text(message))
