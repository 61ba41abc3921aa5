"""Papers, digests and reading state, and what makes two titles the same paper."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_NON_WORD_RE = re.compile(r"[\W_]+")
_TAG_JUNK_RE = re.compile(r"[^\w.+-]+")

#: Length of a paper id: 48 bits, so a collision is ~1e-5 likely even at 100k papers.
ID_LENGTH = 12


def title_key(title: str) -> str:
    """The identity of a title: NFKC, case-folded, punctuation and whitespace collapsed.

    Deliberately no fuzzier than that: "TRP: Trained Rank Pruning…" and "Trained Rank
    Pruning…" are different papers, so no words are dropped and nothing is stemmed.
    """
    folded = (title if title.isascii() else unicodedata.normalize("NFKC", title)).casefold()
    return _NON_WORD_RE.sub(" ", folded).strip()


def paper_id(key: str) -> str:
    """Short id derived from the key alone, so it is the same on every machine."""
    return hashlib.sha1(key.encode()).hexdigest()[:ID_LENGTH]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class Digest:
    id: str
    name: str
    date: str | None
    seq: int
    imported_at: str
    papers: int

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


@dataclass(slots=True)
class Paper:
    """A paper's content: written on import only, never by a user action."""

    id: str
    title: str
    abstract: str
    links: tuple[str, ...]
    digests: list[str]
    #: Highest import sequence among ``digests``; the tie-breaker of the default order.
    latest: int = 0

    @property
    def seen(self) -> int:
        return len(self.digests)

    def to_doc(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "abstract": self.abstract,
            "links": list(self.links),
            "digests": self.digests,
        }

    @classmethod
    def from_doc(cls, pid: str, doc: dict[str, Any]) -> Paper:
        return cls(
            id=pid,
            title=doc["title"],
            abstract=doc["abstract"],
            links=tuple(doc.get("links", ())),
            digests=list(doc["digests"]),
        )


@dataclass(frozen=True, slots=True)
class PaperState:
    """What the reader has done with a paper; small and written often."""

    read: bool = False
    tags: tuple[str, ...] = ()
    note: str = ""
    read_at: str | None = None
    updated: str | None = field(default=None, compare=False)

    @property
    def status(self) -> str:
        """``read (2024-03-13)``, ``read`` or ``unread``, as the CLI, app and export show it."""
        if self.read and self.read_at:
            return f"read ({self.read_at[:10]})"
        return "read" if self.read else "unread"

    def to_doc(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "tags": list(self.tags),
            "note": self.note,
            "read_at": self.read_at,
            "updated": self.updated,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> PaperState:
        if not doc:
            return EMPTY_STATE
        return cls(
            read=bool(doc.get("read", False)),
            tags=tuple(doc.get("tags", ())),
            note=doc.get("note", ""),
            read_at=doc.get("read_at"),
            updated=doc.get("updated"),
        )


EMPTY_STATE = PaperState()


def plural(n: int, noun: str) -> str:
    """``1 paper``, ``2 papers``, ``1,200 digests``: counts as every message words them."""
    return f"1 {noun}" if n == 1 else f"{n:,} {noun}s"


def normalise_tag(tag: str) -> str:
    """Tags are single lower-case words so ``tag:x`` queries need no quoting."""
    return _TAG_JUNK_RE.sub("-", unicodedata.normalize("NFKC", tag).casefold()).strip("-")
