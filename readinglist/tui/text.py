"""The one way text from data or the user reaches a widget: literal, never markup.

Textual parses a ``str`` handed to ``Static``/``Label``/``notify`` as content markup, so a
title with ``[/INST]`` crashed the app and ``[@click=app.quit]`` became a live action.
Everything shown goes through :func:`literal` (a :class:`Content`, which is never parsed)
after :mod:`readinglist.safetext` has made control characters visible and inert.
"""

from __future__ import annotations

from textual.content import Content

from readinglist.safetext import printable, printable_line


def literal(text: str, style: str = "") -> Content:
    """Multi-line text from data, shown exactly as written (controls made visible)."""
    return Content.styled(printable(text), style) if style else Content(printable(text))


def literal_line(text: str, style: str = "") -> Content:
    """One line of text from data: newlines and tabs become spaces."""
    line = printable_line(text)
    return Content.styled(line, style) if style else Content(line)
