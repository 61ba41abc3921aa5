"""Text from data (digests, file names, notes, damaged files) made safe to show.

Data is text, never code: a title may contain an escape sequence that would clear the
reader's screen, set the window title or write the clipboard (OSC 52), or bidi overrides
and zero-width characters that reorder or hide the words of a row. This module is the one
definition of which characters those are and how they are neutralised; every output path
(CLI rows, ``show``, exports, JSON, the TUI) goes through it.

A neutralised character stays visible: C0 controls become their Unicode *control picture*
(ESC → ``␛``), DEL becomes ``␡``, and C1 controls, bidi controls and invisible characters
become ``�``, so the reader sees that something was there and nothing is executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import islice

import orjson

#: Characters that must never reach a terminal as themselves (newline and tab are text):
#: C0 controls, DEL and C1 controls, then bidi controls and invisible characters.
_CONTROLS = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F))
_INVISIBLE = (
    (0x061C, 0x061C),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
)
_RANGES = _CONTROLS + _INVISIBLE
UNSAFE_RE = re.compile("[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in _RANGES) + "]")
#: The same, plus newline and tab: for one-line places (a list row, a title, a tag).
UNSAFE_LINE_RE = re.compile(UNSAFE_RE.pattern[:-1] + "\t\n]")
REPLACEMENT = "\ufffd"


def _picture(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT


_TABLE = {code: _picture(code) for a, b in _RANGES for code in range(a, b + 1)}
_LINE_TABLE = _TABLE | {ord("\n"): " ", ord("\t"): " "}


def printable(text: str) -> str:
    """``text`` with every unsafe character made visible and inert; newlines and tabs kept."""
    return text.translate(_TABLE) if UNSAFE_RE.search(text) else text


def printable_line(text: str) -> str:
    """:func:`printable` for one line: newlines and tabs become spaces too."""
    return text.translate(_LINE_TABLE) if UNSAFE_LINE_RE.search(text) else text


def count_unsafe(text: str) -> int:
    """How many characters :func:`printable` would neutralise (for import warnings)."""
    return len(UNSAFE_RE.findall(text))


_JSON_UNSAFE_RE = re.compile(
    "[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in _RANGES[2:]) + "]"
)  # orjson escapes C0 itself


def json_text(text: str) -> str:
    """JSON text with every unsafe character escaped as ``\\uXXXX``, so it is still the data.

    orjson already escapes C0 controls; DEL, C1 and the bidi/invisible characters are valid
    raw in JSON but not safe on a terminal. They only occur inside strings, where an
    escape means the same character, so the JSON is unchanged for any parser.
    """
    if not _JSON_UNSAFE_RE.search(text):
        return text
    return _JSON_UNSAFE_RE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def indented_json(value: object) -> str:
    """Indented JSON with terminal-unsafe characters \\u-escaped (still the same data)."""
    return json_text(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def json_array(items: Iterable[object], batch: int = 500) -> Iterator[str]:
    """:func:`indented_json` of the list of ``items``, in parts made ``batch`` items at a
    time: the same text, never all of it (nor all the items) at once. ``list --json`` of
    100k papers peaked at ~1 GB as one dump."""
    rest = iter(items)
    opening = "["
    while part := list(islice(rest, batch)):
        yield f"{opening}\n{indented_json(part)[2:-2]}"  # the items, between "[\n" and "\n]"
        opening = ","
    yield "[]" if opening == "[" else "\n]"
