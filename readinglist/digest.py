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

Reading is bounded: only regular files (and stdin, through :func:`read_stdin`) are read,
never more than :data:`MAX_DIGEST_BYTES`, so a FIFO, ``/dev/zero`` or an endless pipe is
refused instead of hanging or filling memory. Text is data: control characters, escape
sequences, bidi overrides and invisible characters in a title or abstract are neutralised
by :func:`readinglist.safetext.printable_line` before anything is stored, with a warning
naming each line.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from readinglist.errors import DigestError
from readinglist.model import plural
from readinglist.safetext import UNSAFE_LINE_RE, printable_line

#: Largest digest read, in bytes. A real digest is under 1 MB; the cap only stops a wrong
#: file (a disk image, an endless pipe) from filling memory. Never more than this plus one
#: byte is read, so a file that grows while we read it is refused too.
MAX_DIGEST_BYTES = 64 * 1024 * 1024
#: Lines longer than this are not a digest (and must not cost us more than a split).
MAX_LINE_CHARS = 64 * 1024
#: A title longer than this is a paragraph that lost its title.
MAX_TITLE_CHARS = 500
#: Lines up to this long that do not end a sentence read as titles (used only to notice a
#: title whose abstract is missing; see ``_looks_like_title``).
TITLE_LIKE_CHARS = 300
#: Reading, and decoding a damaged UTF-16/32 file, go this many bytes at a time.
CHUNK_BYTES = 1024 * 1024
#: Lines with neutralised characters that get a warning each; the rest are counted in one.
MAX_NEUTRALISED_WARNINGS = 5
#: A UTF-16/32 file with more invalid sequences than this is not text (and decoding each
#: one costs a microsecond: a 64 MB file of them would take a minute).
MAX_INVALID_SEQUENCES = 1000
#: A file that is not valid UTF-8 is read as Windows-1252 only when its invalid bytes
#: outnumber its valid multi-byte UTF-8 sequences more than this many times: an accented
#: letter in Windows-1252 text almost never forms valid UTF-8, so such text has none or
#: nearly none, while a damaged UTF-8 file keeps its accents.
CP1252_RATIO = 4

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
_CONTROL_CHARS = dict.fromkeys(_CONTROL)
_HIGH_BYTES = bytes(range(0x80, 0x100))
#: Byte order marks, UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
#: Bytes that make an ASCII line not plain (see ``_plain``): C0 controls but line ends, DEL.
_NOT_PLAIN = bytes([*range(0, 10), 11, 12, *range(14, 32), 127])
_WIDE_BOMS = tuple(bom for bom, codec, _ in _BOMS if codec != "utf-8")
#: How ``surrogateescape`` marks an invalid UTF-8 byte; a line with one is damaged.
_BAD_LINE_RE = re.compile("[\udc80-\udcff][^\r\n]*")
#: Opening a FIFO without O_NONBLOCK waits for a writer; a terminal must not become ours.
_OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_NOT_A_FILE = (
    (
        stat.S_ISFIFO,
        "is a named pipe (FIFO), not a digest file; to import from it, use "
        "`readinglist import - < FIFO`",
    ),
    (stat.S_ISCHR, "is a character device, not a digest file; give a saved digest (.txt)"),
    (stat.S_ISBLK, "is a block device, not a digest file; give a saved digest (.txt)"),
    (stat.S_ISSOCK, "is a socket, not a digest file; give a saved digest (.txt)"),
)
_LIMIT = f"{MAX_DIGEST_BYTES // 2**20} MiB"


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
    """Read and parse one regular file (a symlink to one is fine), at most the size cap.

    The path is stat'ed before it is opened, because opening a FIFO blocks until someone
    writes to it and a device such as /dev/zero never ends. It is then opened non-blocking
    and checked again, so a file swapped for a FIFO in between cannot hang us either. OS
    errors become one-line :class:`DigestError`.
    """
    return parse_digest(read_bytes(path), str(path))


def read_bytes(path: Path) -> bytes:
    """The bytes of a digest file (text or a saved API response), read as
    :func:`read_digest` describes: a regular file only, never blocking, at most the cap."""
    source = str(path)
    try:
        _check_regular(os.stat(path), source)
        with open(path, "rb", opener=_open_nonblocking) as stream:
            info = os.fstat(stream.fileno())
            _check_regular(info, source)
            return _read_capped(stream, source, info.st_size + 1)
    except OSError as error:
        raise DigestError(source, _os_problem(error)) from None


def read_stdin(stream: BinaryIO, source: str = "<stdin>") -> bytes:
    """Everything on ``stream`` (``sys.stdin.buffer`` for ``import -``), at most the cap.

    Reads at most :data:`MAX_DIGEST_BYTES` + 1 bytes, so an endless pipe is refused with a
    :class:`DigestError` instead of filling memory.
    """
    try:
        return _read_capped(stream, source)
    except OSError as error:
        raise DigestError(source, _os_problem(error)) from None


def _check_regular(info: os.stat_result, source: str) -> None:
    """Refuse anything but a regular file no larger than the cap, before reading a byte."""
    mode = info.st_mode
    if stat.S_ISREG(mode):
        if info.st_size > MAX_DIGEST_BYTES:
            raise DigestError(
                source,
                f"is {info.st_size:,} bytes, over the {_LIMIT} limit for a digest "
                "(real ones are under 1 MB); is this the right file?",
            )
        return
    if stat.S_ISDIR(mode):
        raise DigestError(source, "is a directory")
    problem = next((text for test, text in _NOT_A_FILE if test(mode)), None)
    raise DigestError(source, problem or "is not a regular file; give a saved digest (.txt)")


def _read_capped(stream: BinaryIO, source: str, first: int = CHUNK_BYTES) -> bytes:
    """All of ``stream``, reading at most one byte more than the cap (then refusing).

    ``first`` is the expected size plus one, so a regular file is read in one call and
    returned without a copy; more arrives in bounded chunks.
    """
    chunks: list[bytes] = []
    total = 0
    want = first
    while total <= MAX_DIGEST_BYTES:
        chunk = stream.read(min(want, MAX_DIGEST_BYTES + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        want = CHUNK_BYTES
    raise DigestError(
        source,
        f"holds more than {_LIMIT}, the limit for a digest (real ones are under 1 MB); "
        "is this the right file?",
    )


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | _OPEN_FLAGS)


def _os_problem(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    return error.strerror or str(error)


def parse_digest(data: bytes, source: str) -> ParsedDigest:
    """Parse digest bytes; raise :class:`DigestError` with a line number on any problem."""
    text, warnings = _decode(data, source)
    lines = _split_lines(text)
    plain = _plain(data)
    items: list[tuple[int, str]] = []
    blank_lines = 0
    neutralised = 0
    for number, raw in enumerate(lines, start=1):
        if len(raw) > MAX_LINE_CHARS:
            raise DigestError(source, f"line is {len(raw):,} characters long; not a digest", number)
        if not raw:
            blank_lines += 1
            continue
        if plain and raw.isascii() and raw[0] != " " and raw[-1] != " ":
            items.append((number, raw))  # already collapsed and printable: see _plain
            continue
        line = " ".join(raw.split())  # collapse whitespace; far faster than a regex
        if line:
            safe = printable_line(line)
            if safe != line:
                neutralised += 1
                if neutralised <= MAX_NEUTRALISED_WARNINGS:
                    warnings.append(_neutralised_warning(source, number, line))
            items.append((number, safe))
        else:
            blank_lines += 1
    if neutralised > MAX_NEUTRALISED_WARNINGS:
        more = plural(neutralised - MAX_NEUTRALISED_WARNINGS, "more line")
        warnings.append(f"{source}: and {more} with characters neutralised")
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


def _neutralised_warning(source: str, number: int, line: str) -> str:
    """What :func:`printable_line` changed on one line, shown as it now reads."""
    found = UNSAFE_LINE_RE.findall(line)
    controls = sum(1 for char in found if char < "\xa0")  # C0, DEL and C1
    kinds = [
        plural(n, noun)
        for n, noun in (
            (controls, "control character"),
            (len(found) - controls, "bidi or invisible character"),
        )
        if n
    ]
    shown = " ".join(dict.fromkeys(printable_line(char) for char in found))
    return f"{source}:{number}: {' and '.join(kinds)} neutralised (shown as {shown})"


def _split_lines(text: str) -> list[str]:
    """Lines ended by LF, CRLF or a lone CR (str.splitlines also splits on form feeds etc.)."""
    if "\r" not in text:  # the usual case: two copies of the text saved (0.12 s at 100k)
        return text.split("\n")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _plain(data: bytes) -> bool:
    """Whether every ASCII line of the text decoded from ``data`` that neither starts nor
    ends with a space is already what the parser makes of it: whitespace collapsed (no tab,
    form feed or double space) and printable (no control character), so it is taken as is.

    Checked once over the bytes instead of per line: collapsing and neutralising every line
    took 4.8 s of parsing 100k papers (split/join 2.8 s, the unsafe-character regex 2.0 s);
    these two C-level scans take 0.5 s. An ASCII character of the text is the same byte of
    ``data`` whether it was decoded as UTF-8 (damaged or not) or Windows-1252; UTF-16 and
    UTF-32 text is never plain.
    """
    if data.startswith(_WIDE_BOMS):
        return False
    return len(data.translate(None, _NOT_PLAIN)) == len(data) and b"  " not in data


def _count_lines(text: str) -> int:
    """How many lines ``text`` starts (as :func:`_split_lines` counts them)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n") + 1


def _decode(data: bytes, source: str) -> tuple[str, list[str]]:
    """Text of a digest: by its byte order mark, else UTF-8, else Windows-1252.

    The mark is looked for before the binary checks, as UTF-16 and UTF-32 text is full of
    NUL bytes.
    """
    if not data.strip():
        raise DigestError(source, "empty file: no papers found")
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            if codec != "utf-8":
                text, warnings = _decode_wide(data[len(bom) :], codec, name, source)
                _reject_binary(text, source)
                return text, warnings
            data = data[len(bom) :]
            break
    _reject_binary(data, source)
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        # Everything before the bad byte is valid UTF-8: count its lines as the parser
        # does, so that a file with old Mac ("\r") line ends gets the right line too.
        line = _count_lines(data[: error.start].decode("utf-8"))
    return _decode_damaged_utf8(data, source, line)


def _decode_damaged_utf8(data: bytes, source: str, line: int) -> tuple[str, list[str]]:
    """A file that is not valid UTF-8 throughout: damaged UTF-8, or Windows-1252.

    Every count is a C-speed pass over the data, however many bytes are bad.
    """
    text = data.decode("utf-8", "replace")  # one U+FFFD per invalid sequence
    marked = data.decode("utf-8", "surrogateescape")  # one surrogate per invalid byte
    sequences = text.count("\ufffd") - data.count("\ufffd".encode())
    bad_bytes = len(marked) - len(text) + sequences
    ascii_bytes = len(data.translate(None, _HIGH_BYTES))
    multibyte = len(text) - ascii_bytes - sequences
    if bad_bytes > CP1252_RATIO * multibyte:
        warning = (
            f"{source}:{line}: not valid UTF-8; decoded the file as Windows-1252 "
            "(check accented characters)"
        )
        return data.decode("cp1252", errors="replace"), [warning]
    bad_lines = len(_BAD_LINE_RE.findall(marked))
    return text, [_damage_warning(source, line, plural(bad_bytes, "invalid UTF-8 byte"), bad_lines)]


def _decode_wide(body: bytes, codec: str, name: str, source: str) -> tuple[str, list[str]]:
    """UTF-16 or UTF-32 text (after its mark); a few invalid sequences become U+FFFD.

    A damaged file is decoded a window at a time: a decoding error carries a copy of its
    input, so decoding the rest of a big file after each error would copy it each time.
    """
    try:
        return body.decode(codec), []
    except UnicodeDecodeError:
        pass
    decode = getattr(codecs, codec.replace("-", "_") + "_decode")  # (data, errors, final)
    pieces: list[str] = []
    marks: list[int] = []  # where each U+FFFD went in the text
    length = 0
    position = 0
    while position < len(body):
        window = body[position : position + CHUNK_BYTES]
        try:
            piece, used = decode(window, "strict", position + len(window) == len(body))
            invalid = False
        except UnicodeDecodeError as error:
            piece, used, invalid = decode(window[: error.start], "strict", True)[0], error.end, True
        pieces.append(piece)
        length += len(piece)
        position += used
        if invalid:
            marks.append(length)
            pieces.append("\ufffd")
            length += 1
            if len(marks) > MAX_INVALID_SEQUENCES:
                break
    text = "".join(pieces)
    bad_lines: dict[int, None] = {}  # line numbers, in order
    line = 1
    previous = 0
    for mark in marks:
        line += _count_lines(text[previous:mark]) - 1
        bad_lines[line] = None
        previous = mark
    first = next(iter(bad_lines))
    if len(marks) > MAX_INVALID_SEQUENCES:
        raise DigestError(
            source,
            f"not {name} text (over {MAX_INVALID_SEQUENCES:,} invalid sequences after its "
            "byte order mark); not a digest",
            first,
        )
    sequences = plural(len(marks), f"invalid {name} sequence")
    return text, [_damage_warning(source, first, sequences, len(bad_lines))]


def _damage_warning(source: str, line: int, what: str, lines: int) -> str:
    where = "this line" if lines == 1 else f"{lines:,} lines, the first here"
    return f"{source}:{line}: {what} replaced by \ufffd (on {where})"


def _reject_binary(data: bytes | str, source: str) -> None:
    """Refuse data with a NUL or mostly control characters: that is not text."""
    if isinstance(data, bytes):
        nul, unit = data.find(b"\0"), "byte"
        head_bytes = data[:8192]
        size, controls = (
            len(head_bytes),
            len(head_bytes) - len(head_bytes.translate(None, _CONTROL)),
        )
    else:
        nul, unit = data.find("\0"), "character"
        head_text = data[:8192]
        size = len(head_text)
        controls = size - len(head_text.translate(_CONTROL_CHARS))
    if nul >= 0:
        raise DigestError(source, f"binary file (NUL {unit} at offset {nul}); not a digest")
    if controls > size // 10:
        raise DigestError(source, "binary file (mostly control bytes); not a digest")


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
    is_date, is_header, count = _DATE_RE.match, _HEADER_RE.match, len(body)
    index = 0
    while index < count:
        number, title = body[index]
        if is_date(title) or is_header(title):
            current_date = title if is_date(title) else current_date
            index += 1
            continue
        if len(title) > MAX_TITLE_CHARS:
            raise DigestError(
                source,
                f"expected a paper title but found a {len(title):,}-character paragraph "
                "(is a title missing above it?)",
                number,
            )
        following = body[index + 1][1] if index + 1 < count else None
        after = body[index + 2][1] if index + 2 < count else None
        if (
            following is None
            or is_date(following)
            or (_looks_like_title(following) and (after is None or not _looks_like_title(after)))
        ):
            raise DigestError(source, f"title {_quote(title)} has no abstract", number)
        entries.append(Entry(title, following, number, find_links(following), current_date))
        index += 2
    return entries


def find_links(text: str) -> tuple[str, ...]:
    """URLs in an abstract, without the sentence punctuation that follows them."""
    links: dict[str, None] = {}
    start = text.find("http")  # every URL starts with it: the regex scans from there on
    if start < 0:
        return ()
    for match in _URL_RE.finditer(text, start):
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
