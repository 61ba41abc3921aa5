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

#: Characters that must never reach a terminal as themselves. Newline and tab are text.
UNSAFE_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but \t \n), DEL, C1
    "\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
#: The same, plus newline and tab: for one-line places (a list row, a title, a tag).
UNSAFE_LINE_RE = re.compile(UNSAFE_RE.pattern[:-1] + "\t\n]")
REPLACEMENT = "\ufffd"


def _picture(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT


_TABLE = {code: _picture(chr(code)) for code in (*range(0x20), *range(0x7F, 0xA0))}
for _code in range(0xA0, 0x10000):
    if UNSAFE_RE.match(chr(_code)):
        _TABLE[_code] = REPLACEMENT
_TABLE.pop(ord("\n"))
_TABLE.pop(ord("\t"))
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


_JSON_UNSAFE_RE = re.compile(UNSAFE_RE.pattern.replace("\x00-\x08\x0b-\x1f", ""))


def json_text(text: str) -> str:
    """JSON text with every unsafe character escaped as ``\\uXXXX``, so it is still the data.

    orjson already escapes C0 controls; DEL, C1 and the bidi/invisible characters are valid
    raw in JSON but not safe on a terminal. They only occur inside strings, where an
    escape means the same character, so the JSON is unchanged for any parser.
    """
    if not _JSON_UNSAFE_RE.search(text):
        return text
    return _JSON_UNSAFE_RE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
