"""mkdocs hook: show the Sphinx roles of aioproducer's docstrings as code, not as raw text.

mkdocstrings renders docstrings as Markdown, so ``:class:`~aioproducer.errors.X``` arrives
in the page as ``:class:<code>~aioproducer.errors.X</code>``; this keeps the code span and,
for a leading ``~``, only the last dotted name (Sphinx's meaning).
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj):<code>(~?)([^<]+)</code>")


def _short(match: re.Match[str]) -> str:
    name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
    return f"<code>{name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite every role in a page's HTML."""
    return _ROLE.sub(_short, html)
