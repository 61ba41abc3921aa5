"""Hugging Face Daily Papers from the API: parsing a day's JSON into a digest, naming days.

``GET {endpoint}/api/daily_papers?date=YYYY-MM-DD&p=PAGE&limit=N`` answers a JSON list of
items (``{title, summary, numComments, paper: {id, title, summary, authors, …}}``). One
parser, :func:`parse_response`, serves both a live fetch and a response saved to a file;
:func:`to_digest` turns a fetched day into the ``ParsedDigest`` the library imports, with
each paper's API metadata alongside. Paper identity stays ``paper_id(title_key(title))``,
so a fetched paper merges with the same paper from a text digest (the library also merges
by arXiv id). A day is one digest however often it is fetched (:func:`day_id`).

Fetching over HTTP is :mod:`readinglist.fetch`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from readinglist.digest import MAX_LINE_CHARS, MAX_TITLE_CHARS, Entry, ParsedDigest, find_links
from readinglist.errors import FetchError
from readinglist.model import META_FIELDS, day_id, day_label, paper_id, title_key
from readinglist.safetext import printable_line

#: A response (or saved response file) larger than this is not a day of papers.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: ``--since`` spans at most this many days, to keep one command polite to the API.
MAX_DAYS = 366
#: ``ParsedDigest.layout`` of a fetched day.
LAYOUT = "api"

_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK_RE = re.compile(r"^(\d{4})-[Ww](\d{1,2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_DAY_IN_NAME_RE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_ARXIV_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/]{0,63}$")


# --------------------------------------------------------------------------- data


class Unreachable(FetchError):
    """The API could not be reached, or answered that it will not serve (offline, timeout,
    HTTP 401/403/404/429/5xx, a bad endpoint): unlike a bad day's content, this would fail
    the same way for the next days, so a fetch of several days stops at it."""


@dataclass(frozen=True, slots=True)
class FetchedPaper:
    """One paper of a day, with the API's metadata (absent fields are ``None`` or empty)."""

    title: str
    abstract: str
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    #: Publication date (``YYYY-MM-DD``) of the paper itself, not of the daily page.
    published: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_keywords: tuple[str, ...] = ()
    #: The repository, the project page, then URLs in the abstract; no repeats.
    links: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The library's id for this paper: the same as for its title in a text digest."""
        return paper_id(title_key(self.title))

    def to_doc(self) -> dict[str, Any]:
        """JSON-ready fields, for storing the metadata next to the paper."""
        return {
            "title": self.title,
            "abstract": self.abstract,
            "arxiv_id": self.arxiv_id,
            "authors": list(self.authors),
            "published": self.published,
            "upvotes": self.upvotes,
            "num_comments": self.num_comments,
            "github_repo": self.github_repo,
            "github_stars": self.github_stars,
            "project_page": self.project_page,
            "ai_keywords": list(self.ai_keywords),
            "links": list(self.links),
        }

    def meta(self) -> dict[str, Any]:
        """The known metadata (``model.META_FIELDS``), JSON-ready, as the library stores it."""
        doc = self.to_doc()
        return {key: doc[key] for key in META_FIELDS if doc[key] not in (None, [])}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FetchedPaper:
        return cls(
            title=doc["title"],
            abstract=doc.get("abstract", ""),
            arxiv_id=doc.get("arxiv_id"),
            authors=tuple(doc.get("authors", ())),
            published=doc.get("published"),
            upvotes=doc.get("upvotes"),
            num_comments=doc.get("num_comments"),
            github_repo=doc.get("github_repo"),
            github_stars=doc.get("github_stars"),
            project_page=doc.get("project_page"),
            ai_keywords=tuple(doc.get("ai_keywords", ())),
            links=tuple(doc.get("links", ())),
        )


@dataclass(frozen=True, slots=True)
class FetchedDay:
    """The papers of one day (``date`` is ``YYYY-MM-DD``, or ``None`` when unknown)."""

    date: str | None
    source: str
    papers: tuple[FetchedPaper, ...]
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class DayDigest:
    """What the library imports for a fetched day: the digest, its name and the metadata."""

    #: The digest's name (the stem a text digest gets from its file name): the ISO day.
    name: str
    digest: ParsedDigest
    #: Paper id → the paper with its API metadata, in the day's order.
    papers: dict[str, FetchedPaper]


# --------------------------------------------------------------------------- parsing


def parse_response(data: bytes, source: str, day: str | None = None) -> FetchedDay:
    """Parse one API response body (a live page or a saved file) into a day.

    Strict about shape: anything but a JSON list of objects, or a field of the wrong type,
    raises a one-line :class:`FetchError` naming ``source`` and the item. Lenient about
    content: missing optional fields stay empty, an item without a title is skipped with a
    warning. ``day`` defaults to a ``YYYY-MM-DD`` in the source's file name, else the day
    most items were submitted on.
    """
    items = load_items(data, source)
    papers, warnings = parse_items(items, source, first=1)
    if day is None:
        day = _infer_day(source, items)
    return FetchedDay(day, source, tuple(_unique(papers)), tuple(warnings))


def read_response(path: Path, day: str | None = None) -> FetchedDay:
    """Read and parse a saved response file; OS errors become one-line :class:`FetchError`."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_RESPONSE_BYTES:
            raise FetchError(source, f"{size:,} bytes is too large for a day of daily papers")
        data = path.read_bytes()
    except FileNotFoundError:
        raise FetchError(source, "no such file") from None
    except IsADirectoryError:
        raise FetchError(source, "is a directory") from None
    except PermissionError:
        raise FetchError(source, "permission denied") from None
    except OSError as error:
        raise FetchError(source, error.strerror or str(error)) from None
    return parse_response(data, source, day)


def load_items(data: bytes, source: str) -> list[Any]:
    if len(data) > MAX_RESPONSE_BYTES:
        raise FetchError(source, f"{len(data):,} bytes is too large for a day of daily papers")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise FetchError(source, "empty response; expected a JSON list of papers")
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise FetchError(source, f"malformed JSON ({error})") from None
    if not isinstance(items, list):
        raise FetchError(
            source,
            f"expected a JSON list of papers but found {_kind(items)}; not a daily-papers response",
        )
    return items


def parse_items(items: list[Any], source: str, first: int) -> tuple[list[FetchedPaper], list[str]]:
    """Papers from a list of items numbered from ``first`` (1-based across pages)."""
    papers: list[FetchedPaper] = []
    warnings: list[str] = []
    for number, item in enumerate(items, start=first):
        paper = _parse_item(item, _Where(source, number), warnings)
        if paper is not None:
            papers.append(paper)
    return papers, warnings


@dataclass(frozen=True, slots=True)
class _Where:
    source: str
    number: int

    def error(self, message: str) -> FetchError:
        return FetchError(self.source, f"item {self.number}: {message}")

    def warning(self, message: str) -> str:
        return f"{self.source}: item {self.number}: {message}"


def _parse_item(item: Any, where: _Where, warnings: list[str]) -> FetchedPaper | None:
    if not isinstance(item, dict):
        raise where.error(f"expected an object but found {_kind(item)}")
    paper = item.get("paper")
    if paper is None:
        paper = {}
    elif not isinstance(paper, dict):
        raise where.error(f"'paper' is {_kind(paper)}, not an object")

    raw_title = _first(item, paper, "title", where)
    title = clean_text(raw_title) if raw_title is not None else ""
    if not title:
        warnings.append(where.warning("has no title; skipped"))
        return None
    if len(title) > MAX_TITLE_CHARS:
        warnings.append(where.warning(f"title is {len(title):,} characters long; skipped"))
        return None
    raw_abstract = _first(paper, item, "summary", where)
    abstract = clean_text(raw_abstract) if raw_abstract is not None else ""
    if len(abstract) > MAX_LINE_CHARS:
        warnings.append(
            where.warning(f"{_quote(title)}: abstract is {len(abstract):,} characters; skipped")
        )
        return None

    arxiv_id = _string(paper, "id", where)
    if arxiv_id is not None and not _ARXIV_ID_RE.match(arxiv_id):
        warnings.append(where.warning(f"{_quote(title)}: ignored odd arXiv id {arxiv_id!r}"))
        arxiv_id = None
    github_repo = _url(paper, "githubRepo", where, title, warnings)
    project_page = _url(paper, "projectPage", where, title, warnings)
    links = dict.fromkeys(link for link in (github_repo, project_page) if link)
    links.update(dict.fromkeys(find_links(abstract)))
    return FetchedPaper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        authors=_authors(paper.get("authors"), where),
        published=_published(paper, where, title, warnings),
        upvotes=_int(paper, "upvotes", where),
        num_comments=_int(item, "numComments", where),
        github_repo=github_repo,
        github_stars=_int(paper, "githubStars", where),
        project_page=project_page,
        ai_keywords=_keywords(paper.get("ai_keywords"), where),
        links=tuple(links),
    )


def _first(
    primary: dict[str, Any], fallback: dict[str, Any], key: str, where: _Where
) -> str | None:
    """``key`` from ``primary``, else from ``fallback``; text or absent, never another type."""
    for obj in (primary, fallback):
        value = obj.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise where.error(f"'{key}' is {_kind(value)}, not text")
            return value
    return None


def _string(obj: dict[str, Any], key: str, where: _Where) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise where.error(f"'{key}' is {_kind(value)}, not text")
    return clean_text(value) or None


def _int(obj: dict[str, Any], key: str, where: _Where) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"'{key}' is {_kind(value)}, not a whole number")
    return value


def _url(
    obj: dict[str, Any], key: str, where: _Where, title: str, warnings: list[str]
) -> str | None:
    """A web address, or ``None``: a ``javascript:`` or ``file:`` link must never be opened."""
    value = _string(obj, key, where)
    if value is None:
        return None
    if not re.match(r"^https?://\S+$", value, re.IGNORECASE):
        warnings.append(where.warning(f"{_quote(title)}: ignored {key} {_quote(value)}"))
        return None
    return value


def _authors(value: Any, where: _Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise where.error(f"'authors' is {_kind(value)}, not a list")
    names: list[str] = []
    for author in value:
        if not isinstance(author, dict):
            raise where.error(f"an author is {_kind(author)}, not an object")
        name = _string(author, "name", where)
        if name:
            names.append(name)
    return tuple(names)


def _keywords(value: Any, where: _Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise where.error(f"'ai_keywords' is {_kind(value)}, not a list")
    words: dict[str, None] = {}
    for word in value:
        if not isinstance(word, str):
            raise where.error(f"a keyword is {_kind(word)}, not text")
        if cleaned := clean_text(word):
            words.setdefault(cleaned)
    return tuple(words)


def _published(obj: dict[str, Any], where: _Where, title: str, warnings: list[str]) -> str | None:
    value = _string(obj, "publishedAt", where)
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        warnings.append(where.warning(f"{_quote(title)}: ignored publishedAt {_quote(value)}"))
        return None


def clean_text(text: str) -> str:
    """One safe line: unsafe characters neutralised, whitespace collapsed like digest text.

    A carriage return is a line end (as in a digest), so it becomes a space, not ``␍``.
    """
    return " ".join(printable_line(text.replace("\r", " ")).split())


def _unique(papers: Iterable[FetchedPaper]) -> list[FetchedPaper]:
    """First of each paper id: a paper listed twice (or on two pages) is one sighting."""
    first: dict[str, FetchedPaper] = {}
    for paper in papers:
        first.setdefault(paper.id, paper)
    return list(first.values())


def _infer_day(source: str, items: list[Any]) -> str | None:
    """The day in the file name, else the day most items were put on the daily page
    (``paper.submittedOnDailyAt``, which the API's ``date=`` selects by), else the day most
    were published (the item's ``publishedAt``, usually the arXiv day before)."""
    match = _DAY_IN_NAME_RE.search(Path(source).name)
    if match and _valid_day(match.group(1)):
        return match.group(1)
    for stamps in (
        [i["paper"].get("submittedOnDailyAt") for i in items if isinstance(i.get("paper"), dict)],
        [item.get("publishedAt") for item in items],
    ):
        counts: dict[str, int] = {}
        for stamp in stamps:
            if isinstance(stamp, str) and _valid_day(stamp[:10]):
                counts[stamp[:10]] = counts.get(stamp[:10], 0) + 1
        if counts:
            return max(sorted(counts), key=counts.__getitem__)
    return None


def _valid_day(text: str) -> bool:
    try:
        parse_day(text)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --------------------------------------------------------------------------- to the library


def date_label(day: str) -> str:
    """``Mar 13``: how the Daily Papers page (and so a text digest) names a day."""
    return day_label(parse_day(day))


def is_response(data: bytes, source: str) -> bool:
    """Whether ``data`` is (meant to be) a saved API response rather than a text digest.

    Decided by content: JSON that parses (a text digest is never valid JSON) is a response,
    whatever the file is called; a ``.json`` file is one even if broken, so that its error
    is about JSON, not about digest lines.
    """
    if source.casefold().endswith(".json"):
        return True
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if head.lstrip()[:1] not in (b"[", b"{") or len(data) > MAX_RESPONSE_BYTES:
        return False
    try:
        orjson.loads(head)
    except orjson.JSONDecodeError:
        return False
    return True


def content_id(day: FetchedDay) -> str:
    """A stable id for a day's content: the day and the set of its papers' ids.

    Order, upvotes, comment counts and abstract edits change between fetches of the same
    day; none of them makes it a different digest, so none is hashed. A day that gained a
    paper since the last fetch does get a new id.
    """
    digest = hashlib.sha256(f"daily papers\n{day.date}\n".encode())
    for pid in sorted(paper.id for paper in day.papers):
        digest.update(f"{pid}\n".encode())
    return digest.hexdigest()[:16]


def to_digest(day: FetchedDay) -> DayDigest:
    """The day as a ``ParsedDigest``: named by its ISO day, dated ``Mar 13`` like the web
    page and a text digest (so ``digest:"Mar 13"`` finds both), identified by the day
    (:func:`day_id`; by its papers, :func:`content_id`, when the day is unknown). An empty
    day gives no entries: there is nothing to import.
    """
    label = date_label(day.date) if day.date else None
    entries = tuple(
        Entry(title=p.title, abstract=p.abstract, line=n, links=p.links, date=label)
        for n, p in enumerate(day.papers, start=1)
    )
    parsed = ParsedDigest(
        source=day.source,
        layout=LAYOUT,
        date=label,
        entries=entries,
        content_id=day_id(day.date) if day.date else content_id(day),
        warnings=day.warnings,
    )
    name = day.date or Path(day.source).stem or day.source
    return DayDigest(name, parsed, {paper.id: paper for paper in day.papers})


# --------------------------------------------------------------------------- days


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` → date; anything else (or an impossible day) is a clear ValueError."""
    match = _DAY_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a date; expected YYYY-MM-DD, e.g. 2024-03-13")
    try:
        return date(*map(int, match.groups()))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a real date ({error})") from None


def parse_week(text: str) -> list[date]:
    """``2024-W11`` → its seven days, Monday first (ISO weeks, as the API counts them)."""
    match = _WEEK_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a week; expected YYYY-Www, e.g. 2024-W11")
    year, week = map(int, match.groups())
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        weeks = date(year, 12, 28).isocalendar().week if 1 <= year <= 9999 else 52
        raise ValueError(f"{text!r} is not a real week ({year} has weeks 1 to {weeks})") from None
    return [monday + timedelta(days=n) for n in range(7)]


def parse_month(text: str) -> list[date]:
    """``2024-03`` → every day of that month."""
    match = _MONTH_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a month; expected YYYY-MM, e.g. 2024-03")
    year, month = map(int, match.groups())
    if not 1 <= month <= 12 or year < 1:
        raise ValueError(f"{text!r} is not a real month")
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1) if year < 9999 or month < 12 else None
    count = (following - first).days if following else 31
    return [first + timedelta(days=n) for n in range(count)]


def days_since(text: str, today: date | None = None) -> list[date]:
    """From ``text`` (YYYY-MM-DD) through today, at most :data:`MAX_DAYS` days."""
    today = today or date.today()
    start = parse_day(text)
    if start > today:
        raise ValueError(f"{text!r} is in the future (today is {today.isoformat()})")
    count = (today - start).days + 1
    if count > MAX_DAYS:
        raise ValueError(
            f"--since {text} covers {count:,} days; fetch at most {MAX_DAYS} at a time"
        )
    return [start + timedelta(days=n) for n in range(count)]


def days_after(last: str | None, today: date | None = None) -> list[date]:
    """What a plain ``fetch`` gets: from the last day fetched (again: it may have grown since)
    through today, at most :data:`MAX_DAYS` days; the first time, today."""
    today = today or date.today()
    start = min(parse_day(last), today) if last else today
    start = max(start, today - timedelta(days=MAX_DAYS - 1))
    return [start + timedelta(days=n) for n in range((today - start).days + 1)]


def days_for(
    *,
    day: str | None = None,
    since: str | None = None,
    week: str | None = None,
    month: str | None = None,
    today: date | None = None,
) -> list[date]:
    """The days one of ``--date``/``--since``/``--week``/``--month`` names, up to today.

    Exactly one must be given. Days after today are dropped (they have no papers yet); a
    range entirely in the future is a ValueError, like an impossible date.
    """
    given = {
        name: value
        for name, value in (("date", day), ("since", since), ("week", week), ("month", month))
        if value is not None
    }
    if len(given) != 1:
        raise ValueError("give exactly one of --date, --since, --week or --month")
    today = today or date.today()
    ((name, value),) = given.items()
    if name == "since":
        return days_since(value, today)
    days = {"date": lambda v: [parse_day(v)], "week": parse_week, "month": parse_month}[name](value)
    past = [d for d in days if d <= today]
    if not past:
        raise ValueError(f"--{name} {value} is in the future (today is {today.isoformat()})")
    return past
