"""User text shown in the page's Markdown: echoed as plain text, never as markup."""
from __future__ import annotations

import html
import re

from trainer.config import shown

_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")  # what starts links, images, emphasis, code or tables


def plain(value, limit: int = 60, quoted: bool = True) -> str:
    """``value`` as Markdown that shows its characters (cut to ``limit``; quoted as repr does, or as it is): no
    HTML tag, link, image or form of it survives, whatever it holds."""
    text = shown(value, limit) if quoted else str(value)[:limit]
    return html.escape(_MARKDOWN.sub(r"\\\1", text), quote=True)
