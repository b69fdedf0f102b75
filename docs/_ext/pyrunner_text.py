"""Texts read from the code (an option's help, the API's descriptions) as docutils nodes: as
they are written, with ``code`` and `code` shown as code and nothing else interpreted, so no
such text can break the build."""

from __future__ import annotations

import re

from docutils import nodes

_CODE = re.compile(r"``(.+?)``|`([^`]+)`")


def inline(text: str) -> list[nodes.Node]:
    """``text`` as plain text, its ``code`` and `code` as literals."""
    parts: list[nodes.Node] = []
    last = 0
    for match in _CODE.finditer(text):
        if match.start() > last:
            parts.append(nodes.Text(text[last : match.start()]))
        parts.append(nodes.literal(text=match.group(1) or match.group(2)))
        last = match.end()
    if last < len(text):
        parts.append(nodes.Text(text[last:]))
    return parts


def paragraphs(text: str | None, limit: int | None = None) -> list[nodes.Node]:
    """One paragraph per blank-line-separated block of ``text`` (the first ``limit`` ones)."""
    blocks = [" ".join(b.split()) for b in (text or "").strip().split("\n\n") if b.strip()]
    return [nodes.paragraph("", "", *inline(block)) for block in blocks[:limit]]
