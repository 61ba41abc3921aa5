"""Papers, digests and reading state, and what makes two titles the same paper."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote_plus

_NON_WORD_RE = re.compile(r"[\W_]+")
_TAG_JUNK_RE = re.compile(r"[^\w.+-]+")

#: Length of a paper id: 48 bits, so a collision is ~1e-5 likely even at 100k papers.
ID_LENGTH = 12

HF_PAPER_URL = "https://huggingface.co/papers/"
HF_SEARCH_URL = "https://huggingface.co/papers?q="
ARXIV_ABS_URL = "https://arxiv.org/abs/"
ARXIV_PDF_URL = "https://arxiv.org/pdf/"


def title_key(title: str) -> str:
    """The identity of a title: NFKC, case-folded, punctuation and whitespace collapsed.

    Deliberately no fuzzier than that: "TRP: Trained Rank Pruning…" and "Trained Rank
    Pruning…" are different papers, so no words are dropped and nothing is stemmed.
    """
    if title.isascii():
        # What folding and the regex make of ASCII, by C-level byte passes: 3.3 → 0.6 µs a
        # title (0.35 s of keying a 100k-paper import's 130k sightings).
        return b" ".join(title.encode().translate(_ASCII_KEY).split()).decode()
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _NON_WORD_RE.sub(" ", folded).strip()


#: An ASCII byte's part of a title key: a letter casefolded, a digit itself, anything else
#: (what ``_NON_WORD_RE`` matches) a space.
_ASCII_KEY = bytes(ord(c.casefold()) if c.isalnum() else 32 for c in map(chr, range(128))) + bytes(
    128
)


def paper_id(key: str) -> str:
    """Short id derived from the key alone, so it is the same on every machine."""
    return hashlib.sha1(key.encode()).hexdigest()[:ID_LENGTH]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Month abbreviations as the Daily Papers page writes dates (``Mar 13``).
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


#: ``datetime.date`` under a name that ``Digest.date`` (its date label) does not shadow.
Day = date


def day_id(day: str) -> str:
    """The digest id of a fetched day: the day alone, so every fetch of it (and a saved
    response of it) is one digest, which a re-fetch extends instead of adding another."""
    return hashlib.sha256(f"daily papers\n{day}\n".encode()).hexdigest()[:16]


def day_label(day: Day) -> str:
    """``Mar 13``: how a day is written wherever digests show theirs."""
    return f"{MONTH_NAMES[day.month - 1]} {day.day}"


@dataclass(slots=True)
class Digest:
    id: str
    name: str
    date: str | None
    seq: int
    imported_at: str
    papers: int

    def imported_day(self) -> Day:
        """The local day the digest was imported (``imported_at`` is a UTC timestamp);
        what a digest without a date of its own (the compact layout) is known by."""
        try:
            return datetime.fromisoformat(self.imported_at).astimezone().date()
        except ValueError:
            return Day.min

    @property
    def label(self) -> str:
        return f"{self.date} ({self.name})" if self.date else self.name

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "date": self.date,
            "seq": self.seq,
            "imported_at": self.imported_at,
            "papers": self.papers,
        }

    @classmethod
    def from_doc(cls, digest_id: str, doc: dict[str, Any]) -> Digest:
        return cls(
            id=digest_id,
            name=doc["name"],
            date=doc.get("date"),
            seq=doc["seq"],
            imported_at=doc["imported_at"],
            papers=doc["papers"],
        )


#: What a paper from the Daily Papers API may know besides its text, as stored next to it in
#: its digest file (each optional; a paper from a text digest has none of them).
META_FIELDS = (
    "arxiv_id",
    "authors",
    "published",
    "upvotes",
    "num_comments",
    "github_repo",
    "github_stars",
    "project_page",
    "ai_keywords",
)
#: Figures that keep changing while a paper is on the page; the newest fetch wins.
REFRESHABLE = frozenset({"upvotes", "github_stars", "num_comments"})


@dataclass(frozen=True, slots=True)
class Paper:
    """What the catalog knows of a paper (its abstract stays in its digest file: see
    ``Catalog.abstract``). Made on demand from the catalog's columns; never changed."""

    id: str
    title: str
    links: tuple[str, ...]
    #: The digests it was seen in, in the order it was seen.
    digests: tuple[str, ...]
    #: Highest import sequence among ``digests``; the tie-breaker of the default order.
    latest: int = 0
    #: Known :data:`META_FIELDS` (JSON values), or None (a paper from text digests).
    meta: dict[str, Any] | None = None

    @property
    def seen(self) -> int:
        return len(self.digests)

    @property
    def arxiv_id(self) -> str | None:
        return self.meta.get("arxiv_id") if self.meta else None

    @property
    def authors(self) -> tuple[str, ...]:
        return tuple(self.meta.get("authors", ())) if self.meta else ()

    @property
    def upvotes(self) -> int | None:
        return self.meta.get("upvotes") if self.meta else None

    @property
    def published(self) -> str | None:
        """The paper's own (arXiv) date, ``YYYY-MM-DD``."""
        return self.meta.get("published") if self.meta else None

    @property
    def ai_keywords(self) -> tuple[str, ...]:
        return tuple(self.meta.get("ai_keywords", ())) if self.meta else ()


def paper_page(paper: Paper) -> str:
    """Where a paper is read: its Hugging Face page when its arXiv id is known, else a
    Hugging Face search for its title (a text digest does not say which page it is)."""
    if paper.arxiv_id:
        return HF_PAPER_URL + paper.arxiv_id
    return HF_SEARCH_URL + quote_plus(paper.title)


def paper_facts(paper: Paper) -> list[str]:
    """``arXiv 2403.08763``, ``71 upvotes``, ``published 2024-03-12``…: what the API told
    about a paper, as the CLI and the app word it (nothing for a text digest's paper)."""
    meta = paper.meta or {}
    facts = [f"arXiv {paper.arxiv_id}"] if paper.arxiv_id else []
    for key, noun in (("upvotes", "upvote"), ("github_stars", "star"), ("num_comments", "comment")):
        if meta.get(key) is not None:
            facts.append(plural(meta[key], noun))
    if paper.published:
        facts.append(f"published {paper.published}")
    return facts


def paper_links(paper: Paper) -> list[tuple[str, str]]:
    """A paper's links as (label, url), numbered alike wherever they are listed: the arXiv
    abstract and PDF when the id is known, then its own links (the repository and project
    page labelled as such)."""
    meta = paper.meta or {}
    labels = {meta.get("github_repo"): "Code", meta.get("project_page"): "Project page"}
    links = []
    if paper.arxiv_id:
        links += [
            ("arXiv abstract", ARXIV_ABS_URL + paper.arxiv_id),
            ("arXiv PDF", ARXIV_PDF_URL + paper.arxiv_id),
        ]
    return links + [(labels.get(url, ""), url) for url in paper.links]


def merged_meta(known: dict[str, Any] | None, fetched: dict[str, Any]) -> dict[str, Any]:
    """A paper's metadata after another fetch: known values stay (the paper keeps what it
    was first seen with), missing ones are filled, and :data:`REFRESHABLE` figures take the
    newest fetch's value."""
    merged = dict(known or {})
    for key, value in fetched.items():
        if key in REFRESHABLE or key not in merged:
            merged[key] = value
    return merged


#: A paper's decision. ``new`` is the inbox; a ``snoozed`` paper is ``new`` again once its
#: date has come (see :meth:`PaperState.current`), so no timer is needed.
STATUSES = ("new", "later", "read", "skipped", "snoozed")
#: What ``export --format`` writes.
EXPORT_FORMATS = ("markdown", "json", "bibtex")
#: How the CLI and the app mark each status in a row.
STATUS_MARKS = {"new": "●", "later": "◆", "read": "✓", "skipped": "·", "snoozed": "z"}


def today() -> str:
    """The reader's local date, ``YYYY-MM-DD``: what snooze dates are compared with."""
    return date.today().isoformat()


@dataclass(frozen=True, slots=True)
class PaperState:
    """What the reader has done with a paper; small and written often."""

    status: str = "new"
    tags: tuple[str, ...] = ()
    note: str = ""
    #: When the paper was last marked read (kept while it stays read).
    read_at: str | None = None
    #: When the current status was decided.
    decided_at: str | None = None
    #: ``YYYY-MM-DD`` a snoozed paper comes back on.
    snoozed_until: str | None = None
    #: The digest that brought a skipped paper back to the inbox (until it is decided again).
    resurfaced: str | None = None
    updated: str | None = field(default=None, compare=False)

    @property
    def read(self) -> bool:
        return self.status == "read"

    def current(self, day: str | None = None) -> str:
        """The status on ``day`` (default today): a snooze that has run out is ``new``."""
        if self.status == "snoozed" and (self.snoozed_until or "") <= (day or today()):
            return "new"
        return self.status

    @property
    def mark(self) -> str:
        """One character for a list row: the status today (``↻`` a skipped paper back)."""
        status = self.current()
        return "↻" if status == "new" and self.resurfaced else STATUS_MARKS[status]

    @property
    def summary(self) -> str:
        """``read (2024-03-13)``, ``snoozed until 2024-04-01``, ``new (resurfaced)`` …: the
        status as the CLI, the app and the export show it."""
        status = self.current()
        if status == "read" and self.read_at:
            return f"read ({self.read_at[:10]})"
        if status == "snoozed":
            return f"snoozed until {self.snoozed_until}"
        if status == "new" and self.resurfaced:
            return "new (resurfaced)"
        return status

    def decided(self, status: str, at: str, until: str | None = None) -> PaperState:
        """This state with ``status`` decided at ``at`` (unchanged when it already is)."""
        if status == self.status and until == self.snoozed_until and not self.resurfaced:
            return self
        return replace(
            self,
            status=status,
            decided_at=at,
            read_at=(self.read_at if self.read else at) if status == "read" else None,
            snoozed_until=until if status == "snoozed" else None,
            resurfaced=None,
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "tags": list(self.tags),
            "note": self.note,
            "read_at": self.read_at,
            "decided_at": self.decided_at,
            "snoozed_until": self.snoozed_until,
            "resurfaced": self.resurfaced,
            "updated": self.updated,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> PaperState:
        if not doc:
            return EMPTY_STATE
        return cls(
            status=doc.get("status", "new"),
            tags=tuple(doc.get("tags", ())),
            note=doc.get("note", ""),
            read_at=doc.get("read_at"),
            decided_at=doc.get("decided_at"),
            snoozed_until=doc.get("snoozed_until"),
            resurfaced=doc.get("resurfaced"),
            updated=doc.get("updated"),
        )


EMPTY_STATE = PaperState()


def plural(n: int, noun: str) -> str:
    """``1 paper``, ``2 papers``, ``1,200 digests``: counts as every message words them."""
    return f"1 {noun}" if n == 1 else f"{n:,} {noun}s"


def normalise_tag(tag: str) -> str:
    """Tags are single lower-case words so ``tag:x`` queries need no quoting."""
    return _TAG_JUNK_RE.sub("-", unicodedata.normalize("NFKC", tag).casefold()).strip("-")
