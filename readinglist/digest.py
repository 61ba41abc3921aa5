"""Digest text → entries.

A digest is a Hugging Face *Daily Papers* page saved as text: a few header lines, then a
title line followed by its abstract line, again and again. Two layouts exist in the wild
and are told apart by content, never by file name:

* ``spaced``: blank lines between everything and a header of ``new``, ``Get trending
  papers…``, ``Subscribe``, ``byAK and the research community`` and a date like ``Mar 13``;
* ``compact``: no blank lines, two ``Get trending…`` lines, and the first title glued to
  ``Subscribe`` (``SubscribeAccelerating Image Generation…``).

Parsing is all-or-nothing: any problem raises :class:`DigestError` naming the line, so a
file is either imported whole or not at all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from readinglist.errors import DigestError

#: Lines longer than this are not a digest (and must not cost us more than a split).
MAX_LINE_CHARS = 64 * 1024
#: A title longer than this is a paragraph that lost its title.
MAX_TITLE_CHARS = 500
#: Lines up to this long that do not end a sentence read as titles (used only to notice a
#: title whose abstract is missing; see ``_looks_like_title``).
TITLE_LIKE_CHARS = 300

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
_DATE_RE = re.compile(rf"^(?:{_MONTHS})[a-z]*\.? \d{{1,2}}(?:, ?\d{{4}})?$", re.IGNORECASE)
_HEADER_RE = re.compile(
    r"^(?:new|subscribe|byak and the research community"
    r"|get trending papers in your email inbox.*)$",
    re.IGNORECASE,
)
_SUBSCRIBE = "Subscribe"
_URL_RE = re.compile(r"https?://[^\s<>\"'`]+")
_URL_TRAILING = ".,;:!?'\"”’"
_CONTROL = bytes([*range(0, 9), 11, *range(14, 32), 127])


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper as it appears in one digest."""

    title: str
    abstract: str
    line: int
    links: tuple[str, ...] = ()
    date: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedDigest:
    """A whole digest file, parsed; ``content_id`` is its identity."""

    source: str
    layout: str
    date: str | None
    entries: tuple[Entry, ...]
    content_id: str
    warnings: tuple[str, ...] = field(default=())


def read_digest(path: Path) -> ParsedDigest:
    """Read and parse one file, turning OS errors into one-line :class:`DigestError`."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DigestError(source, "no such file") from None
    except IsADirectoryError:
        raise DigestError(source, "is a directory") from None
    except PermissionError:
        raise DigestError(source, "permission denied") from None
    except OSError as error:
        raise DigestError(source, error.strerror or str(error)) from None
    return parse_digest(data, source)


def parse_digest(data: bytes, source: str) -> ParsedDigest:
    """Parse digest bytes; raise :class:`DigestError` with a line number on any problem."""
    text, warnings = _decode(data, source)
    lines = _split_lines(text)
    items: list[tuple[int, str]] = []
    blank_lines = 0
    for number, raw in enumerate(lines, start=1):
        if len(raw) > MAX_LINE_CHARS:
            raise DigestError(source, f"line is {len(raw):,} characters long; not a digest", number)
        line = " ".join(raw.split())  # collapse whitespace; far faster than a regex
        if line:
            items.append((number, line))
        else:
            blank_lines += 1
    if not items:
        raise DigestError(source, "empty file: no papers found")

    date, body = _skip_header(items)
    layout = "spaced" if blank_lines > 1 else "compact"
    entries = _pair(body, date, source)
    if not entries:
        raise DigestError(source, "no papers found (only header lines)")
    return ParsedDigest(
        source=source,
        layout=layout,
        date=date,
        entries=tuple(entries),
        content_id=_content_id(entries),
        warnings=tuple(warnings),
    )


def _split_lines(text: str) -> list[str]:
    """Lines ended by LF, CRLF or a lone CR (str.splitlines also splits on form feeds etc.)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _decode(data: bytes, source: str) -> tuple[str, list[str]]:
    if not data.strip():
        raise DigestError(source, "empty file: no papers found")
    nul = data.find(b"\0")
    if nul >= 0:
        raise DigestError(source, f"binary file (NUL byte at offset {nul}); not a digest")
    head = data[:8192]
    if len(head) - len(head.translate(None, _CONTROL)) > len(head) // 10:
        raise DigestError(source, "binary file (mostly control bytes); not a digest")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        # Everything before the bad byte is valid UTF-8: count its lines as the parser
        # does, so that a file with old Mac ("\r") line ends gets the right line too.
        line = len(_split_lines(data[: error.start].decode("utf-8")))
        warning = (
            f"{source}:{line}: not valid UTF-8; decoded the file as Windows-1252 "
            "(check accented characters)"
        )
        return data.decode("cp1252", errors="replace"), [warning]


def _skip_header(items: list[tuple[int, str]]) -> tuple[str | None, list[tuple[int, str]]]:
    """Drop the page header; return the digest's date label and the remaining lines."""
    date: str | None = None
    for index, (number, line) in enumerate(items):
        if _HEADER_RE.match(line):
            continue
        if _DATE_RE.match(line):
            date = date or line
            continue
        if line.startswith(_SUBSCRIBE) and index < 4:
            # Compact layout: the first title is glued to the "Subscribe" button text.
            return date, [(number, line[len(_SUBSCRIBE) :].strip()), *items[index + 1 :]]
        return date, items[index:]
    return date, []


def _looks_like_title(line: str) -> bool:
    return len(line) <= TITLE_LIKE_CHARS and not line.endswith(".")


def _pair(body: list[tuple[int, str]], date: str | None, source: str) -> list[Entry]:
    """Pair each title with the abstract line after it.

    Lines strictly alternate, so the only judgement needed is for a title whose abstract
    is missing: the next line then reads as a title *and* is itself followed by an
    abstract (or by nothing), which a short abstract never is.
    """
    entries: list[Entry] = []
    current_date = date
    index = 0
    while index < len(body):
        number, title = body[index]
        if _DATE_RE.match(title) or _HEADER_RE.match(title):
            current_date = title if _DATE_RE.match(title) else current_date
            index += 1
            continue
        if len(title) > MAX_TITLE_CHARS:
            raise DigestError(
                source,
                f"expected a paper title but found a {len(title):,}-character paragraph "
                "(is a title missing above it?)",
                number,
            )
        following = body[index + 1][1] if index + 1 < len(body) else None
        after = body[index + 2][1] if index + 2 < len(body) else None
        if (
            following is None
            or _DATE_RE.match(following)
            or (_looks_like_title(following) and (after is None or not _looks_like_title(after)))
        ):
            raise DigestError(source, f"title {_quote(title)} has no abstract", number)
        entries.append(
            Entry(
                title=title,
                abstract=following,
                line=number,
                links=find_links(following),
                date=current_date,
            )
        )
        index += 2
    return entries


def find_links(text: str) -> tuple[str, ...]:
    """URLs in an abstract, without the sentence punctuation that follows them."""
    links: dict[str, None] = {}
    if "http" not in text:
        return ()
    for match in _URL_RE.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        # Drop unbalanced closing parentheses by index: recounting and slicing per character
        # made a URL followed by 64k ")" take seconds.
        excess = url.count(")") - url.count("(")
        end = len(url)
        while excess > 0 and url[end - 1] == ")":
            excess -= 1
            end -= 1
            while end and url[end - 1] in _URL_TRAILING:
                end -= 1
        links.setdefault(url[:end])
    return tuple(links)


def _content_id(entries: list[Entry]) -> str:
    """Identity of a digest: its papers, not its bytes, so a CRLF or BOM copy is the same."""
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.date}\n{entry.title}\n{entry.abstract}\n".encode())
    return digest.hexdigest()[:16]


def _quote(title: str, limit: int = 60) -> str:
    return repr(title if len(title) <= limit else title[: limit - 1] + "…")
