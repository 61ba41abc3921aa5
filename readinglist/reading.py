"""Reading a library: one set of read methods over a catalog and a reading state.

:class:`Reading` is shared by :class:`~readinglist.library.Library` (the write path, which
reads its newest state) and :class:`ReadModel`, an immutable snapshot of one catalog and
one reading state: what the app's workers hand to the UI thread, which reads only from the
snapshot it adopted, however the library changes meanwhile.
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import filterfalse, islice
from typing import TYPE_CHECKING, Any, overload

from readinglist.catalog import Catalog
from readinglist.columns import memberships
from readinglist.errors import UnknownPaper
from readinglist.model import EMPTY_STATE, STATUSES, Digest, Paper, PaperState, day_id, today
from readinglist.reports import Stats

if TYPE_CHECKING:
    from readinglist.search import SearchEngine
    from readinglist.textindex import Kept
#: Shortest id prefix accepted on the command line.
MIN_PREFIX = 4
#: One-letter lookups made ready for an index (:meth:`SearchEngine.first_letters`).
Letters = dict[str, "Kept"]


@dataclass(frozen=True, slots=True)
class FirstKeys:
    """What the filters ``seen:``, ``digest:``, ``has:code`` and ``upvotes:`` read of the
    catalog, made ready by a worker for the index the UI thread queries
    (:meth:`SearchEngine.first_keys`)."""

    seen: bytes
    digests: dict[int, list[int]]
    code: list[int]
    upvotes: dict[int, int]


class Found(Sequence[str]):
    """A query's answer: the ids best first (never change them), with a membership test
    that needs no set of them: the TUI counts progress over a filter's result on every key,
    and a set of 100k ids took 15-30 ms of a keystroke at 100k papers. ``ids`` may make
    each id only when it is read (:class:`Numbered`)."""

    __slots__ = ("_contains", "_ids")

    def __init__(self, ids: Sequence[str], contains: Callable[[str], bool]) -> None:
        self._ids = ids
        self._contains = contains

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._ids[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        return self._ids.index(value, start, len(self) if stop is None else stop)

    def __contains__(self, pid: object) -> bool:
        return isinstance(pid, str) and self._contains(pid)

    def without(self, left_out: Collection[str]) -> Found:
        """These ids minus ``left_out`` (say, the papers read), in the same order."""
        contains = self._contains
        return Found(
            list(filterfalse(left_out.__contains__, self)),
            lambda pid: pid not in left_out and contains(pid),
        )


class Numbered(Sequence[str]):
    """The ids of ``numbers`` (positions in ``ids``), made as they are read: a one-letter
    query's answer is ~50k ids at 100k papers, and making them all took ~5 ms of the key
    (each id's string is touched, mostly out of the CPU's caches), for the 30 a screen
    shows."""

    __slots__ = ("_ids", "_numbers")

    def __init__(self, ids: Sequence[str], numbers: Sequence[int]) -> None:
        self._ids, self._numbers = ids, numbers

    def __len__(self) -> int:
        return len(self._numbers)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return list(map(self._ids.__getitem__, self._numbers[index]))
        return self._ids[self._numbers[index]]

    def __iter__(self) -> Iterator[str]:
        return map(self._ids.__getitem__, self._numbers)

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """Where ``value`` is, found in C (``Sequence.index`` reads item by item in Python:
        ~50 ms deep in a 100k answer)."""
        return start + operator.indexOf(islice(self, start, stop), value)


class Reading:
    """Read methods over ``catalog`` (papers) and ``_states`` (reading state, only papers
    that have any), ``_read`` (ids read) and ``version`` (bumped by every change)."""

    catalog: Catalog
    _states: Mapping[str, PaperState]
    _read: set[str] | frozenset[str]
    version: int

    def search_engine(self) -> SearchEngine:
        raise NotImplementedError

    @property
    def papers(self) -> Catalog:
        """The papers (a mapping of id → :class:`Paper`): the current catalog."""
        return self.catalog

    @property
    def digests(self) -> dict[str, Digest]:
        return {d.id: d for d in self.catalog.digests}

    def abstract(self, pid: str) -> str:
        return self.catalog.abstract(pid)

    def state(self, pid: str) -> PaperState:
        return self._states.get(pid, EMPTY_STATE)

    def stateful(self) -> Mapping[str, PaperState]:
        """Papers with any reading state (read, tags, note); every other one is EMPTY_STATE.
        Replaced, never changed, by each change: a snapshot to read from any thread."""
        return self._states

    @property
    def read_ids(self) -> Collection[str]:
        """The papers read (a snapshot's own: do not change it)."""
        return self._read

    def count_read(self, ids: Collection[str]) -> int:
        """How many of ``ids`` (distinct paper ids, as queries return) are read."""
        if len(ids) >= len(self.catalog):
            return len(self._read)  # every paper: no need to look at 100k ids
        return len(self._read.intersection(ids))

    @property
    def recurring(self) -> int:
        """Papers seen in two or more digests."""
        return self.catalog.recurring

    def ordered(self) -> list[str]:
        """All ids in the default order: seen desc, newest digest first, then title."""
        return self.catalog.ordered_ids

    def query(self, text: str = "") -> list[str]:
        """Ids matching ``text`` (see :mod:`readinglist.query`), best first."""
        if not text.strip():
            return list(self.ordered())  # a copy: the cached order must not be changed
        return self.search_engine().search(text, self._states, self.version)

    def find(self, text: str = "", among: Collection[str] | None = None) -> Found:
        """:meth:`query` only among the papers ``among`` (kept by identity: never change
        it), as a :class:`~readinglist.search.Found` (fast membership): what the app's
        filter asks on every key."""
        return self.search_engine().find(text, self._states, self.version, among)

    def resolve(self, ref: str) -> str:
        """A paper id from an id or a unique prefix of one."""
        ref = ref.strip().lower()
        if ref in self.catalog:
            return ref
        if len(ref) < MIN_PREFIX:
            raise UnknownPaper(
                f"{ref!r}: no paper has this id (prefixes need {MIN_PREFIX}+ characters)"
            )
        matches = [pid for pid in self.catalog.ids if pid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownPaper(f"{ref!r}: no paper has this id (see `readinglist list`)")
        raise UnknownPaper(
            f"{ref!r}: ambiguous id prefix, matches {', '.join(sorted(matches)[:5])}"
        )

    def digest_list(self, pid: str) -> list[Digest]:
        """The digests a paper appeared in, newest import first."""
        return self.catalog.digest_list(pid)

    def all_tags(self) -> list[str]:
        return sorted(self.tag_counts())

    def tag_counts(self) -> dict[str, int]:
        """Tags in use and how many papers carry each, most used first."""
        counts = Counter(tag for state in self._states.values() for tag in state.tags)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def counts(self, ids: Collection[str]) -> Counter[str]:
        """How many of ``ids`` (a set or a mapping: no repeats) have each status today.

        Walks the papers that have a state, not ``ids``: the status line counts the inbox
        after every decision, and a Counter over 100k ids took 61 ms of each ``r``.
        """
        day = today()
        found = Counter(state.current(day) for pid, state in self._states.items() if pid in ids)
        found["new"] += len(ids) - found.total()
        return found

    def papers_json(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Papers as ``list --json``, ``show --json`` and ``export --format json`` print
        them (see :meth:`each_paper_json`)."""
        return list(self.each_paper_json(ids))

    def each_paper_json(self, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """:meth:`papers_json`, one paper at a time (for a stream), their abstracts read
        first with one pass per digest file."""
        abstracts = self.catalog.abstracts(ids)
        return (self.to_json(pid, abstracts[pid]) for pid in ids)

    def to_json(self, pid: str, abstract: str) -> dict[str, Any]:
        paper, state = self.catalog[pid], self.state(pid)
        status = state.current()
        return {
            "id": pid,
            "title": paper.title,
            "abstract": abstract,
            "seen": paper.seen,
            "digests": [{"name": d.name, "date": d.date} for d in self.digest_list(pid)],
            "status": status,
            "resurfaced": bool(state.resurfaced) and status == "new",
            **({"snoozed_until": state.snoozed_until} if status == "snoozed" else {}),
            "read": state.read,
            "read_at": state.read_at,
            "decided_at": state.decided_at,
            "tags": list(state.tags),
            "note": state.note,
            "links": list(paper.links),
            "updated": state.updated,
            **{key: value for key, value in _known(paper) if value not in (None, [])},
        }

    @property
    def read_total(self) -> int:
        return len(self._read)

    def stats(self) -> Stats:
        read = self.read_total
        catalog = self.catalog
        counts = self.counts(catalog)
        per_digest: list[list[int]] = [[0, 0] for _ in catalog.digests]
        is_read = self._read
        ids = catalog.ids
        for number, slot in memberships(catalog.sightings):
            if not 0 <= number < len(per_digest):
                raise catalog.unlisted_digest(slot)
            per_digest[number][0] += 1
            per_digest[number][1] += ids[slot] in is_read
        digests = tuple(
            {
                "name": d.name,
                "date": d.date,
                "papers": per_digest[n][0],
                "read": per_digest[n][1],
            }
            for n, d in sorted(enumerate(catalog.digests), key=lambda item: item[1].seq)
        )
        states = self._states
        return Stats(
            papers=len(catalog),
            unread=len(catalog) - read,
            read=read,
            noted=sum(1 for pid, s in states.items() if s.note and pid in catalog),
            tagged=sum(1 for pid, s in states.items() if s.tags and pid in catalog),
            recurring=self.recurring,
            digests=digests,
            statuses={status: counts[status] for status in STATUSES},
        )

    def fetched_days(self) -> list[str]:
        """The days (``YYYY-MM-DD``) fetched from the Daily Papers API, or imported from a
        saved response, oldest first: the digests whose id is their day's."""
        return sorted(d.name for d in self.catalog.digests if d.id == day_id(d.name))

    def days_to_fetch(self) -> list[date]:
        """What a plain ``fetch`` (or the app's ``f``) covers: the last day fetched, which
        may have grown since, through today; the first time, today."""
        from readinglist.dailypapers import days_after  # ~20 ms of commands that never fetch

        fetched = self.fetched_days()
        return days_after(fetched[-1] if fetched else None)


def _known(paper: Paper) -> Iterable[tuple[str, Any]]:
    """The metadata ``to_json`` adds (only what is known)."""
    return (
        ("arxiv_id", paper.arxiv_id),
        ("authors", list(paper.authors)),
        ("upvotes", paper.upvotes),
        ("published", paper.published),
    )


@dataclass(frozen=True, eq=False)
class ReadModel(Reading):
    """One catalog and one reading state, never changed: safe to read from any thread."""

    catalog: Catalog
    _states: Mapping[str, PaperState]
    _read: frozenset[str]
    version: int
    #: None until :meth:`indexed` builds it: the app shows its first rows without it.
    engine: SearchEngine | None

    def search_engine(self) -> SearchEngine:
        if self.engine is None:
            raise RuntimeError("this view has no search index yet: see ReadModel.indexed")
        return self.engine

    def first_letters(self) -> Iterator[Letters]:
        """The commonest one-letter lookups, made ready a letter a step (see
        :meth:`SearchEngine.first_letters`: ~13 ms a step at 100k papers)."""
        return self.search_engine().first_letters()

    def keep_first_letters(self, kept: Letters) -> None:
        """Look those letters up from ``kept`` from now on, beside those kept before; on the
        thread that queries."""
        self.search_engine().keep_first_letters(kept)

    def first_keys(self) -> FirstKeys:
        """What the filters read of every paper, made ready (see
        :meth:`SearchEngine.first_keys`: ~0.5 s at 100k papers, for a worker)."""
        return self.search_engine().first_keys()

    def keep_first_keys(self, ready: FirstKeys) -> None:
        """Answer from ``ready`` from now on; on the thread that queries this view."""
        self.search_engine().keep_first_keys(ready)

    def indexed(self) -> ReadModel:
        """This view with its search index (~0.1 s at 100k papers, so a worker builds it
        after the first rows are drawn, from the immutable catalog alone), prepared for
        this reading state."""
        if self.engine is not None:
            return self
        from readinglist.search import SearchEngine

        engine = SearchEngine(self.catalog)
        engine.prepare(self._states, self.version)
        return replace(self, engine=engine)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes  # only the app trims (4 ms of every command)

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator returns memory itself
        return None


def release_freed_memory() -> None:
    """Give the pages of a replaced catalog back to the system, once the last view of it is
    dropped. glibc keeps freed heap pages for reuse, so each reload at 100k papers grew RSS
    (124 → 182 MB over 10 reloads) although nothing stayed alive; trimmed, it stays flat."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
