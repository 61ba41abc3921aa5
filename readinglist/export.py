"""Notes out of the library: Markdown that reads well on GitHub and in Obsidian, or JSON.

Everything exported comes from data (digest titles and file names, links, tags, the
reader's notes), and data is text, never structure: whatever a title or a note contains,
the Markdown keeps one ``# Reading notes`` heading with one ``## title`` per paper, shows
no raw HTML, and writes no control character (see :mod:`readinglist.safetext`). One-line
fields are escaped outright; a note stays Markdown, but its headings are demoted below
the paper's, its raw HTML is escaped, and a code fence it leaves open is closed, all
decided by a real CommonMark parser (markdown-it-py) and checked by parsing the result.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import string
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from readinglist.bibtex import BibRecord, to_bibtex
from readinglist.errors import ReadinglistError, StorageError
from readinglist.model import ARXIV_ABS_URL, now, plural
from readinglist.reading import Reading
from readinglist.safetext import json_array, printable, printable_line
from readinglist.storage import atomic_write

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

#: The YYMM an arXiv id starts with (after the archive name of an old-style id).
_ARXIV_YYMM_RE = re.compile(r"^(?:[a-z-]+(?:\.[A-Z]{2})?/)?(\d{2})(0[1-9]|1[0-2])[.\d]")
#: Heading level of each paper; a note's own headings are demoted below it.
PAPER_LEVEL = 2

#: Characters that are Markdown (or GitHub/Obsidian) syntax anywhere in a line of text;
#: ``&`` only where it would start an entity reference such as ``&lt;``. (``]`` means
#: nothing once every ``[`` is escaped.)
_MD_SPECIAL_RE = re.compile(r"[\\`*_\[<>#|~$]|&(?=#?[0-9A-Za-z]+;)")
#: What a paper link must look like to be written as a link (an autolink cannot hold
#: whitespace, ``<`` or ``>``); anything else is shown as text.
_LINK_RE = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_BACKTICKS_RE = re.compile(r"`+")
_ASCII_PUNCTUATION = frozenset(string.punctuation)
#: CommonMark autolinks (URI and e-mail): a ``<`` starting one is a link, not HTML.
_AUTOLINK_RE = re.compile(
    r"<(?:[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\x00-\x20<>]*"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*)>"
)
#: A note line after the metadata list that would continue that list (indented, or a
#: ``-`` item); an invisible link reference definition ends the list before it.
_CONTINUES_LIST_RE = re.compile(r"[ \t]|-(?:[ \t]|$)")
LIST_END = "[//]: # (note)"
#: A note without any of these holds no HTML, heading or code fence: nothing to check.
#: (The second part is any line that could be a setext underline inside containers.)
_MAY_BREAK_RE = re.compile(r"[<#`~]|^[ \t>*+\-=.)0-9]*[=-][ \t]*$", re.MULTILINE)
#: Rounds of escaping HTML before a note is given up on and shown as a code block.
_HTML_ROUNDS = 3


def export(library: Reading, ids: Sequence[str], fmt: str = "markdown") -> str:
    """The papers ``ids`` as Markdown, JSON (whose unsafe characters are ``\\u`` escapes)
    or BibTeX."""
    if fmt == "json":
        return "".join(json_array(library.each_paper_json(ids))) + "\n"
    if fmt == "bibtex":
        return to_bibtex([bib_record(library, pid) for pid in ids])
    return to_markdown(library, ids)


def bib_record(library: Reading, pid: str) -> BibRecord:
    """What a BibTeX entry says of a paper. One without an arXiv id says where it was seen
    (``note``), as nothing else identifies it; its ``url`` is a Hugging Face search."""
    paper = library.papers[pid]
    year = int(paper.published[:4]) if paper.published else _arxiv_year(paper.arxiv_id)
    note = None
    if not paper.arxiv_id:
        digests = ", ".join(d.label for d in library.digest_list(pid))
        note = f"Seen in {plural(paper.seen, 'digest')}: {digests}"
    return BibRecord(paper.title, paper.authors, year, paper.arxiv_id, note=note)


def _arxiv_year(arxiv_id: str | None) -> int | None:
    """The year an arXiv id was issued (``2403.08763``, ``hep-th/9901001``: YYMM first)."""
    match = _ARXIV_YYMM_RE.search(arxiv_id or "")
    if match is None:
        return None
    yy = int(match[1])
    return (1900 if yy >= 91 else 2000) + yy  # arXiv began in 1991


def to_markdown(library: Reading, ids: Sequence[str]) -> str:
    """One ``# Reading notes`` document with a ``## title`` section per paper, in order."""
    parts = [
        "# Reading notes",
        "",
        f"_Exported from readinglist on {now()[:10]}: {plural(len(ids), 'paper')}._",
        "",
    ]
    for pid in ids:
        parts += _paper_section(library, pid)
    return "\n".join(parts).rstrip() + "\n"


def _paper_section(library: Reading, pid: str) -> list[str]:
    paper, state = library.papers[pid], library.state(pid)
    digests = ", ".join(escape(d.label) for d in library.digest_list(pid))
    seen = plural(paper.seen, "digest")
    lines = [
        f"{'#' * PAPER_LEVEL} {escape(paper.title)}",
        "",
        f"- **Seen in {seen}:** {digests}",
        f"- **Status:** {escape(state.summary)}",
    ]
    if state.tags:
        lines.append("- **Tags:** " + " ".join(code_span(tag) for tag in state.tags))
    if paper.authors:
        lines.append("- **Authors:** " + escape(", ".join(paper.authors)))
    if paper.arxiv_id:
        lines.append(f"- **arXiv:** {link(ARXIV_ABS_URL + paper.arxiv_id)}")
    if paper.links:
        lines.append("- **Links:** " + " ".join(link(url) for url in paper.links))
    lines.append(f"- **Id:** {code_span(pid)}")
    lines.append("")
    return lines + note_section(state.note)


def note_section(note: str) -> list[str]:
    """The lines that put a note after its paper's metadata list (none for no note).

    A note that starts indented or with a ``-`` item would continue that list, so an
    invisible link reference definition (:data:`LIST_END`) ends the list first.
    """
    markdown = note_markdown(note) if note else ""
    if not markdown:
        return []
    if _CONTINUES_LIST_RE.match(markdown):
        return [LIST_END, "", markdown, ""]
    return [markdown, ""]


# --------------------------------------------------------------------- one-line fields


def escape(text: str) -> str:
    """A one-line field (title, digest name, status) as Markdown that shows exactly it.

    Unsafe characters are made visible first (:func:`safetext.printable_line`), then every
    character that is syntax is backslash-escaped, except ``_`` between two letters or
    digits, which CommonMark never reads as emphasis (``000_88429e94`` stays readable).
    """

    def one(match: re.Match[str]) -> str:
        char, at, line = match[0], match.start(), match.string
        inside_word = 0 < at < len(line) - 1 and line[at - 1].isalnum() and line[at + 1].isalnum()
        return char if char == "_" and inside_word else "\\" + char

    return _MD_SPECIAL_RE.sub(one, printable_line(text).strip())


def code_span(text: str) -> str:
    """``text`` as a code span, fenced by more backticks than it holds, so nothing escapes."""
    text = printable_line(text)
    if not text:
        return ""
    fence = "`" * (max(map(len, _BACKTICKS_RE.findall(text)), default=0) + 1)
    edge = text[0] + text[-1]
    # CommonMark strips one space from each end when both ends are spaces.
    pad = "`" in edge or (edge == "  " and text.strip(" ") != "")
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


def link(url: str) -> str:
    """An http(s) URL as an autolink; anything else is not a link and is shown as text."""
    url = printable_line(url).strip()
    return f"<{url}>" if _LINK_RE.fullmatch(url) else escape(url)


# ------------------------------------------------------------------------------- notes


def note_markdown(note: str, level: int = PAPER_LEVEL) -> str:
    """A note as Markdown that stays inside its paper's section.

    The note keeps its own Markdown, but: unsafe characters are made visible; raw HTML is
    escaped to show as text (code spans and code blocks are left as they are); headings
    are demoted by ``level`` (``#`` → ``###`` under a ``##`` paper, at most ``######``);
    a code fence left open is closed. The result is parsed again to check all of that;
    a note that still breaks a rule (contrived input) is exported as a code block.
    """
    text = printable(note.replace("\r\n", "\n").replace("\r", "\n"))  # CR ends a line here
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    if not _MAY_BREAK_RE.search(text):
        return "\n".join(lines)
    parser = _parser()
    safe, tokens = _escape_html(parser, lines)
    safe, tokens = _demote_headings(parser, safe, tokens, level)
    safe, tokens = _close_fence(parser, safe, tokens)
    if _breaks_structure(tokens, safe, level):
        return "\n".join(_code_block(lines))
    return "\n".join(safe)


@cache
def _parser() -> MarkdownIt:
    # Imported here: only exports of notes need it, and it costs ~0.1 s at startup.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _parse(parser: MarkdownIt, lines: list[str]) -> list[Token]:
    return parser.parse("\n".join(lines))


def _html_ranges(tokens: list[Token]) -> list[list[int]]:
    """Line ranges of the blocks holding raw HTML."""
    ranges = []
    for token in tokens:
        if token.map is None:
            continue
        if token.type == "html_block" or (
            token.type == "inline"
            and any(child.type == "html_inline" for child in token.children or ())
        ):
            ranges.append(token.map)
    return ranges


def _escape_html(parser: MarkdownIt, lines: list[str]) -> tuple[list[str], list[Token]]:
    """Escape the ``<`` of raw HTML, leaving code spans and autolinks alone.

    If that left HTML (a construct where the simple scan below reads code spans
    differently than CommonMark, e.g. a backtick inside a link destination), the next
    round escapes every ``<`` of the block, code spans included.
    """
    lines = list(lines)
    tokens = _parse(parser, lines)
    for round_ in range(_HTML_ROUNDS):
        ranges = _html_ranges(tokens)
        if not ranges:
            break
        for start, end in ranges:
            block = _escape_lt("\n".join(lines[start:end]), keep_code=round_ == 0)
            lines[start:end] = block.split("\n")
        tokens = _parse(parser, lines)
    return lines, tokens


def _escape_lt(text: str, *, keep_code: bool) -> str:
    """``text`` with each ``<`` that could start HTML backslash-escaped."""
    out: list[str] = []
    at, size = 0, len(text)
    while at < size:
        char = text[at]
        if char == "\\" and at + 1 < size and text[at + 1] in _ASCII_PUNCTUATION:
            out.append(text[at : at + 2])  # already an escape (maybe of a backtick or "<")
            at += 2
        elif char == "`" and keep_code:
            run = _BACKTICKS_RE.match(text, at)
            assert run is not None
            end = _code_span_end(text, run.end(), len(run[0]))
            out.append(text[at:end])  # a code span is shown verbatim; or a literal run
            at = end
        elif char == "<":
            autolink = _AUTOLINK_RE.match(text, at) if keep_code else None
            out.append(autolink[0] if autolink else "\\<")
            at = autolink.end() if autolink else at + 1
        else:
            out.append(char)
            at += 1
    return "".join(out)


def _code_span_end(text: str, start: int, length: int) -> int:
    """End of the code span whose opening run of ``length`` backticks ends at ``start``.

    With no closing run of exactly that length the opening run is literal text.
    """
    for run in _BACKTICKS_RE.finditer(text, start):
        if len(run[0]) == length:
            return run.end()
    return start


def _demote_headings(
    parser: MarkdownIt, lines: list[str], tokens: list[Token], level: int
) -> tuple[list[str], list[Token]]:
    """Every heading ``level`` levels deeper; setext headings become ATX ones."""
    new: dict[int, str | None] = {}  # line number → replacement (None: removed)
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        depth = min(6, int(token.tag[1:]) + level)
        start, end = token.map
        line = lines[start]
        if token.markup.startswith("#"):
            at = line.find("#")  # the prefix before it holds only container markers
            if line[at : at + len(token.markup)] == token.markup:
                new[start] = line[:at] + "#" * depth + line[at + len(token.markup) :]
            continue
        content = tokens[index + 1].content
        first = content.split("\n", 1)[0].strip()
        raw = line.rstrip()
        if not first or not raw.endswith(first):
            continue  # not expected; the final check decides
        title = " ".join(part.strip() for part in content.split("\n"))
        closing = re.search(r"(?:^|(?<=[ \t]))#+[ \t]*$", title)
        if closing:  # would be read as an ATX closing sequence and dropped
            title = title[: closing.start()] + "\\" + title[closing.start() :]
        new[start] = f"{raw[: len(raw) - len(first)]}{'#' * depth} {title}"
        new.update(dict.fromkeys(range(start + 1, end)))
    if not new:
        return lines, tokens
    kept = (new.get(number, line) for number, line in enumerate(lines))
    lines = [line for line in kept if line is not None]
    return lines, _parse(parser, lines)


def _fence_closed(token: Token, lines: list[str]) -> bool:
    start, end = token.map or (0, 0)
    if end - 1 <= start:
        return False
    closer = f"{re.escape(token.markup[0])}{{{len(token.markup)},}}"
    return re.fullmatch(rf" {{0,3}}{closer}[ \t]*", lines[end - 1]) is not None


def _close_fence(
    parser: MarkdownIt, lines: list[str], tokens: list[Token]
) -> tuple[list[str], list[Token]]:
    """Close a top-level code fence left open (it would run to the end of the export).

    An open fence inside a list item or quote ends with its container at the note's end.
    """
    for token in tokens:
        if token.type == "fence" and token.level == 0 and not _fence_closed(token, lines):
            lines = [*lines, token.markup]
            return lines, _parse(parser, lines)
    return lines, tokens


def _breaks_structure(tokens: list[Token], lines: list[str], level: int) -> bool:
    if _html_ranges(tokens):
        return True
    for token in tokens:
        if token.type == "heading_open" and int(token.tag[1:]) <= level:
            return True
        if token.type == "fence" and token.level == 0 and not _fence_closed(token, lines):
            return True
    return False


def _code_block(lines: list[str]) -> list[str]:
    """The note verbatim in a fence longer than any backtick run in it."""
    longest = max((len(run) for line in lines for run in _BACKTICKS_RE.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


# ------------------------------------------------------------------------------ writing


def write_export(path: Path, text: str, data_dir: Path) -> None:
    """Write an export to ``path`` atomically, never into the library's own folder.

    The file is replaced whole (temp file, fsync, rename), so a failed write (full
    disk, no permission) leaves the old file, or no file, never a partial one. A path
    inside ``data_dir`` (after resolving symlinks and ``..``), a directory or a special
    file (device, pipe) is refused before anything is written. A symlink is followed: the
    file it points to is replaced. The mode of a replaced file is kept; a new one is
    private (0600), like the library. Errors are one-line :class:`ReadinglistError`.
    """
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise ReadinglistError(f"{path}: cannot write the export ({_reason(error)})") from None
    if _inside(target, data_dir):
        raise ReadinglistError(
            f"{path}: is inside the library folder {data_dir.resolve()}; writing there could "
            "destroy the library, so nothing was written: choose a file outside it"
        )
    try:
        before = target.stat()
    except FileNotFoundError:
        before = None
    except OSError as error:
        raise ReadinglistError(f"{path}: cannot write the export ({_reason(error)})") from None
    if before is not None and stat.S_ISDIR(before.st_mode):
        raise ReadinglistError(f"{path}: is a directory; name a file (nothing was written)")
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise ReadinglistError(
            f"{path}: is not a regular file (a device, pipe or socket); nothing was written"
        )
    try:
        atomic_write(target, text.encode("utf-8"), backup=False)
    except StorageError as error:
        cause = error.__context__  # atomic_write words its errors for the library
        reason = _reason(cause) if isinstance(cause, OSError) else str(error)
        if _replaced(target, before):  # only the folder's fsync after the rename failed
            raise ReadinglistError(
                f"{path}: written, but the folder could not be synced to disk ({reason}); "
                "the export may be lost if the computer loses power"
            ) from None
        kept = "the existing file was left unchanged" if before else "nothing was written"
        raise ReadinglistError(f"{path}: cannot write the export ({reason}); {kept}") from None
    if before is not None:
        # The content is in place: failing to restore the old mode is no reason to fail.
        with contextlib.suppress(OSError):
            os.chmod(target, stat.S_IMODE(before.st_mode))


def _inside(target: Path, data_dir: Path) -> bool:
    """Whether ``target`` (resolved) is ``data_dir`` or below it.

    Compared by path and by device and inode of every existing ancestor, so a bind
    mount, a case-insensitive file system or a hard-linked folder cannot hide it.
    """
    library = data_dir.resolve()
    if target == library or library in target.parents:
        return True
    try:
        folder = os.stat(library)
    except OSError:
        return False
    for ancestor in (target, *target.parents):
        try:
            found = os.stat(ancestor)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (folder.st_dev, folder.st_ino):
            return True
    return False


def _replaced(target: Path, before: os.stat_result | None) -> bool:
    try:
        after = target.stat()
    except OSError:
        return False
    return before is None or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino)


def _reason(error: BaseException) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)
