"""The read model: what lists, queries and commands know of every paper, never changed once
built, and its derived file ``catalog.bin``.

A :class:`Catalog` holds each paper's id, title, links, API metadata, the digests it was seen
in and where its abstract is (abstracts stay in the digest files, read when something needs
one), plus the default order, recurrence counts and the title-word index. It is built by a
:class:`Builder` replaying imports (the one place paper identity and merging are decided) and
is immutable afterwards: an import builds a new one, so a thread holding the old one never
sees it change.

``catalog.bin`` saves opening a library the work of replaying every digest file: a snapshot
(the *base*) followed by one *delta* per import since (the builder's operations), each
segment length-prefixed and checksummed. An import appends its delta instead of rewriting
the file; the base is rewritten once deltas outgrow it. Anything wrong with the file (a torn
last segment, a damaged one, another format) only means it is rebuilt from the digest files:
it is derived, never user data.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from readinglist import contents
from readinglist.errors import StorageError
from readinglist.model import META_FIELDS, Digest, Paper, merged_meta, paper_id, title_key
from readinglist.query import words_of
from readinglist.storage import atomic_write, read_regular

#: Format of ``catalog.bin``; marshal's layout is only promised within one Python version.
CATALOG_FORMAT = (1, sys.version_info[:2])
CATALOG_MAGIC = b"readinglist catalog 2\n"
#: Each segment: payload length, CRC-32 of the payload, then the marshalled payload. The
#: CRC finds torn writes and flipped bits; it is 6 ms over an 18 MB base at 100k papers
#: where blake2b took 41 ms of every command's start.
_SEGMENT = struct.Struct("<II")
#: The base is rewritten when an import would take the deltas past this many, or past a
#: quarter of the base's size: opening then replays at most a few hundred small operations.
MAX_DELTAS = 64
#: Slots in ``array`` columns are C ints.
_INT = "i"


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One import (``imports.json``): which digest file, of which digest, when, in order."""

    hash: str
    digest: str
    name: str
    date: str | None
    seq: int
    imported_at: str

    def to_doc(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "name": self.name,
            "date": self.date,
            "seq": self.seq,
            "imported_at": self.imported_at,
        }

    @classmethod
    def from_doc(cls, name: str, doc: Mapping[str, Any]) -> ImportRecord:
        return cls(name, doc["digest"], doc["name"], doc["date"], doc["seq"], doc["imported_at"])


@dataclass(frozen=True, slots=True)
class Applied:
    """What one import changed: paper ids new to the library, seen again, given metadata."""

    new: tuple[str, ...] = ()
    again: tuple[str, ...] = ()
    enriched: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.new or self.again or self.enriched)


class Catalog(Mapping[str, Paper]):
    """Every paper the library holds, by *slot* (the order papers were first seen in).

    Never mutated once built; the lazily computed views below are derived, so two threads
    computing one at once compute the same thing.
    """

    def __init__(
        self,
        data_dir: Path,
        imports: tuple[ImportRecord, ...],
        digests: tuple[Digest, ...],
        ids: list[str],
        titles: list[str],
        links: list[tuple[str, ...]],
        meta: list[dict[str, Any] | None],
        sightings: list[tuple[int, ...]],
        homes: tuple[array[int], array[int]],
        postings: dict[str, bytes],
        order: array[int],
        seen_counts: dict[int, int],
    ) -> None:
        self.data_dir = data_dir
        self.imports = imports
        #: By digest number (what ``sightings`` hold).
        self.digests = digests
        self.ids = ids
        self.titles = titles
        self.links = links
        self.meta = meta
        self.sightings = sightings
        #: Slot → (index into ``imports``, paper number in that digest file): its abstract.
        self.homes = homes
        #: Title word → slots, as the bytes of an ``array("i")``: loads 10x faster than lists.
        self.postings = postings
        #: Slots in the default order: seen most first, then newest digest, then title.
        self.order = order
        #: Times seen → how many papers.
        self.seen_counts = seen_counts

    # ------------------------------------------------------------------ papers

    @cached_property
    def slots(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids)), strict=True))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, pid: object) -> bool:
        return pid in self.slots

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __getitem__(self, pid: str) -> Paper:
        """The paper ``pid`` (KeyError if unknown), made on demand: a catalog holds columns."""
        slot = self.slots[pid]
        digests = self.digests
        seen = self.sightings[slot]
        return Paper(
            pid,
            self.titles[slot],
            self.links[slot],
            tuple(digests[n].id for n in seen),
            max(digests[n].seq for n in seen),
            self.meta[slot],
        )

    def abstract(self, pid: str) -> str:
        """A paper's abstract, read from the digest file it was first seen in."""
        return self.abstracts([pid])[pid]

    def abstracts(self, pids: Sequence[str]) -> dict[str, str]:
        """Abstracts of many papers, each digest file read once."""
        wanted: dict[int, list[tuple[str, int]]] = {}
        files, entries = self.homes
        for pid in pids:
            slot = self.slots[pid]
            wanted.setdefault(files[slot], []).append((pid, entries[slot]))
        found: dict[str, str] = {}
        for number, papers in wanted.items():
            content = contents.read(self.data_dir, self.imports[number].hash)
            for pid, entry in papers:
                found[pid] = content.papers[entry]["abstract"]
        return found

    def all_abstracts(self) -> Iterator[str]:
        """Every abstract in slot order (what the search engine scans), file by file."""
        files, entries = self.homes
        cached: tuple[int, contents.Content] | None = None
        for slot in range(len(self.ids)):
            number = files[slot]
            if cached is None or cached[0] != number:
                cached = (number, contents.read(self.data_dir, self.imports[number].hash))
            yield cached[1].papers[entries[slot]]["abstract"]

    # ------------------------------------------------------------------ derived

    @cached_property
    def ordered_ids(self) -> list[str]:
        """All ids in the default order."""
        return list(map(self.ids.__getitem__, self.order))

    @cached_property
    def digest_numbers(self) -> dict[str, int]:
        return {d.id: n for n, d in enumerate(self.digests)}

    @property
    def recurring(self) -> int:
        """Papers seen in two or more digests."""
        return sum(count for seen, count in self.seen_counts.items() if seen >= 2)

    def seen(self, pid: str) -> int:
        return len(self.sightings[self.slots[pid]])

    def digest_list(self, pid: str) -> list[Digest]:
        """The digests a paper appeared in, newest import first."""
        found = (self.digests[n] for n in self.sightings[self.slots[pid]])
        return sorted(found, key=lambda d: -d.seq)

    @cached_property
    def arxiv(self) -> dict[str, int]:
        """arXiv id → slot of the paper that has it."""
        found: dict[str, int] = {}
        for slot, meta in enumerate(self.meta):
            if meta and meta.get("arxiv_id"):
                found.setdefault(meta["arxiv_id"], slot)
        return found

    @cached_property
    def digest_papers(self) -> list[int]:
        """Digest number → how many papers were seen in it."""
        counts = [0] * len(self.digests)
        for seen in self.sightings:
            for number in seen:
                counts[number] += 1
        return counts


@dataclass(frozen=True, slots=True)
class Identified:
    """A text digest's papers as :meth:`Builder.apply_identified` takes them, in digest
    order. Computed from the digest alone (:func:`identify`), so a bulk import computes
    them in its worker processes (title keys and ids: ~0.65 s of 100k papers) and sends
    only these columns back, never the abstracts."""

    titles: list[str]
    links: list[Sequence[str]]
    keys: list[str]
    ids: list[str]


def identify(titles: list[str], links: list[Sequence[str]]) -> Identified:
    """Title keys and paper ids of a text digest's papers."""
    keys = list(map(title_key, titles))
    return Identified(titles, links, keys, list(map(paper_id, keys)))


def empty(data_dir: Path) -> Catalog:
    return Builder(data_dir, None).freeze()


# ---------------------------------------------------------------------------- building


#: A builder operation, as saved in a delta (tuples of plain values, for marshal).
Op = tuple[Any, ...]


class Builder:
    """Replays imports onto a copy of a catalog (or none), then freezes a new one.

    Every change is one *operation* (:meth:`_do`), recorded in ``ops``: that is what an
    import appends to ``catalog.bin``, and what opening it replays.
    """

    def __init__(self, data_dir: Path, base: Catalog | None) -> None:
        self.data_dir = data_dir
        self.base = base
        b = base or _EMPTY
        self.imports = list(b.imports)
        self.digests = list(b.digests)
        self.digest_numbers = dict(b.digest_numbers) if base else {}
        self.ids = list(b.ids)
        self.slots = dict(b.slots) if base else {}
        self.titles = list(b.titles)
        self.links = list(b.links)
        self.meta = list(b.meta)
        self.sightings = list(b.sightings)
        self.homes = (array(_INT, b.homes[0]), array(_INT, b.homes[1]))
        self.seen_counts = Counter(b.seen_counts)
        #: arXiv id → paper id, including papers this builder added.
        self._arxiv: dict[str, str] = (
            {arxiv_id: b.ids[slot] for arxiv_id, slot in base.arxiv.items()} if base else {}
        )
        self._frozen = False
        #: Word → slots added since the base (a defaultdict: 1M ``setdefault(word, [])``
        #: calls, each allocating a list, cost 0.04 s more at 100k).
        self._words: defaultdict[str, list[int]] = defaultdict(list)
        #: Paper id → its ASCII title's key, whose words are the title's (``query.words_of``
        #: splits titles as ``title_key`` does), known to :meth:`apply` before the paper's
        #: operation is replayed: 0.6 s of 100k papers' ``words_of`` saved.
        self._known_keys: dict[str, str] = {}
        #: Slots added or seen again since the base (what the order must place anew).
        self._changed: set[int] = set()
        self.ops: list[Op] = []

    # ------------------------------------------------------------ operations

    def _do(self, *ops: Op) -> None:
        if self._frozen:
            raise RuntimeError("a frozen builder's lists belong to its catalog")
        self.ops += ops
        self.replay_all(ops)

    def replay(self, op: Op) -> None:
        self.replay_all((op,))

    def replay_all(self, ops: Iterable[Op]) -> None:
        """Apply operations in order (an import's, or a saved delta's).

        Papers and sightings, nearly all of the operations, are applied with every column
        bound to a local name once per call rather than looked up per operation (an import
        of 100k papers: 1.35 → 0.8 s in this method).
        """
        ids, slots, titles, links, metas = self.ids, self.slots, self.titles, self.links, self.meta
        sightings, (files, entries), counts = self.sightings, self.homes, self.seen_counts
        index, arxiv, changed = self._words, self._arxiv, self._changed
        known_keys = self._known_keys
        for op in ops:
            kind = op[0]
            if kind == "paper":
                _, pid, title, urls, meta, file_no, entry_no, number = op
                slot = len(ids)
                ids.append(pid)
                slots[pid] = slot
                titles.append(title)
                links.append(tuple(urls))
                metas.append(meta)
                sightings.append((number,))
                files.append(file_no)
                entries.append(entry_no)
                counts[1] += 1
                key = known_keys.pop(pid, None)
                for word in set(words_of(title) if key is None else key.split()):
                    index[word].append(slot)
                if meta and meta.get("arxiv_id"):
                    arxiv.setdefault(meta["arxiv_id"], pid)
                changed.add(slot)
            elif kind == "sight":
                _, slot, number = op
                seen = sightings[slot]
                counts[len(seen)] -= 1
                counts[len(seen) + 1] += 1
                sightings[slot] = (*seen, number)
                changed.add(slot)
            else:
                self._replay_other(op)

    def _replay_other(self, op: Op) -> None:
        kind = op[0]
        if kind == "enrich":
            _, slot, meta, links = op
            self.meta[slot] = meta
            self.links[slot] = tuple(links)
            if meta.get("arxiv_id"):
                self._arxiv.setdefault(meta["arxiv_id"], self.ids[slot])
        elif kind == "digest":
            _, number, did, name, date, seq, imported_at, papers = op
            digest = Digest(did, name, date, seq, imported_at, papers)
            if number == len(self.digests):
                self.digests.append(digest)
            else:
                self.digests[number] = digest
            self.digest_numbers[did] = number
        elif kind == "import":
            self.imports.append(ImportRecord(*op[1:]))
        else:
            raise ValueError(f"unknown catalog operation {kind!r}")

    # ------------------------------------------------------------ imports

    def knows_digest(self, did: str) -> bool:
        return did in self.digest_numbers

    def apply(
        self, record: ImportRecord, content: contents.Content, *, keep: bool = False
    ) -> Applied:
        """Add one import: the one place a paper's identity is decided.

        A paper is the one with its title (``model.title_key``); a fetched paper is the one
        with its arXiv id, else the one with its title unless that one has another arXiv id.
        Listed twice in one digest it is seen once. A known paper keeps its title, abstract
        and id; a fetch only fills in and refreshes its metadata (``model.merged_meta``)
        and adds its repository and project page to its links. A fetched day is one digest
        however often it is fetched: later fetches add the papers listed since.

        An import that changes nothing is left out, unless ``keep`` (replaying imports.json,
        which lists it).
        """
        if not content.fetched and not any("id" in doc for doc in content.papers):
            titles = [doc["title"] for doc in content.papers]
            links = [doc.get("links", ()) for doc in content.papers]
            return self.apply_identified(record, identify(titles, links), keep=keep)
        number = self.digest_numbers.get(record.digest)
        file_no = len(self.imports)
        new: dict[str, dict[str, Any] | None] = {}  # id → metadata
        again: dict[str, None] = {}
        enriched: dict[str, None] = {}
        pending: list[Op] = []
        known_keys = self._known_keys
        if number is None:
            number = len(self.digests)
        for entry_no, doc in enumerate(content.papers):
            meta = _meta(doc) if content.fetched else None
            pid = doc.get("id")  # an upgraded library's paper, identified already
            key = None
            if pid is None:
                key = title_key(doc["title"])
                pid = paper_id(key)
                if meta and meta.get("arxiv_id"):
                    pid = self._identify(pid, meta["arxiv_id"], doc["title"], new)
            if pid in new or pid in again:
                continue
            slot = self.slots.get(pid)
            if slot is None:
                links = list(doc.get("links", ()))
                pending.append(("paper", pid, doc["title"], links, meta, file_no, entry_no, number))
                new[pid] = meta
                if key is not None and doc["title"].isascii():
                    known_keys[pid] = key
                if meta and meta.get("arxiv_id"):
                    self._arxiv.setdefault(meta["arxiv_id"], pid)  # found by the next entries
                continue
            if meta is not None:
                merged = merged_meta(self.meta[slot], meta)
                pages = (merged.get("github_repo"), merged.get("project_page"))
                joined = tuple(dict.fromkeys([*self.links[slot], *(u for u in pages if u)]))
                if merged != (self.meta[slot] or {}) or joined != self.links[slot]:
                    pending.append(("enrich", slot, merged, list(joined)))
                    enriched[pid] = None
            if number not in self.sightings[slot]:
                pending.append(("sight", slot, number))
                again[pid] = None
        return self._record(record, number, pending, new, again, enriched, keep)

    def apply_identified(
        self, record: ImportRecord, papers: Identified, *, keep: bool = False
    ) -> Applied:
        """:meth:`apply` of a text digest whose papers were identified already (by
        :func:`identify`, maybe in another process): the same operations, by the same rules
        (a text digest has no metadata, so a paper is the one with its title key)."""
        number = self.digest_numbers.get(record.digest)
        if number is None:
            number = len(self.digests)
        file_no = len(self.imports)
        new: dict[str, dict[str, Any] | None] = {}
        again: dict[str, None] = {}
        pending: list[Op] = []
        slots, sightings, known_keys = self.slots, self.sightings, self._known_keys
        rows = zip(papers.ids, papers.titles, papers.links, papers.keys, strict=True)
        for entry_no, (pid, title, urls, key) in enumerate(rows):
            if pid in new or pid in again:
                continue
            slot = slots.get(pid)
            if slot is None:
                pending.append(("paper", pid, title, list(urls), None, file_no, entry_no, number))
                new[pid] = None
                if title.isascii():
                    known_keys[pid] = key
            elif number not in sightings[slot]:
                pending.append(("sight", slot, number))
                again[pid] = None
        return self._record(record, number, pending, new, again, {}, keep)

    def _record(
        self,
        record: ImportRecord,
        number: int,
        pending: list[Op],
        new: dict[str, dict[str, Any] | None],
        again: dict[str, None],
        enriched: dict[str, None],
        keep: bool,
    ) -> Applied:
        """Do an import's operations: its record, its digest's, then ``pending``."""
        sightings = len(new) + len(again)
        if not sightings and not enriched and not keep:
            return Applied()
        self._do(("import", *astuple(record)))
        if number == len(self.digests):
            self._do(
                ("digest", number, record.digest, record.name, record.date, record.seq,
                 record.imported_at, sightings)
            )  # fmt: skip
        elif sightings and number < len(self.digests):
            old = self.digests[number]
            self._do(
                ("digest", number, old.id, old.name, old.date, old.seq, old.imported_at,
                 old.papers + sightings)
            )  # fmt: skip
        self._do(*pending)
        return Applied(tuple(new), tuple(again), tuple(enriched))

    def _identify(
        self, pid: str, arxiv_id: str, title: str, new: Mapping[str, dict[str, Any] | None]
    ) -> str:
        found = self._arxiv.get(arxiv_id)
        if found is not None:
            return found
        slot = self.slots.get(pid)
        meta = self.meta[slot] if slot is not None else new.get(pid)
        if (meta or {}).get("arxiv_id") not in (None, arxiv_id):
            return paper_id(f"{title_key(title)}\narXiv {arxiv_id}")
        return pid

    # ------------------------------------------------------------ freezing

    def freeze(self) -> Catalog:
        postings = self.base.postings if self.base else {}
        if self._words:
            postings = dict(postings)
            for word, slots in self._words.items():
                postings[word] = postings.get(word, b"") + array(_INT, slots).tobytes()
        counts = {seen: n for seen, n in self.seen_counts.items() if n}
        catalog = Catalog(
            self.data_dir,
            tuple(self.imports),
            tuple(self.digests),
            self.ids,
            self.titles,
            self.links,
            self.meta,
            self.sightings,
            self.homes,
            postings,
            array(_INT),
            counts,
        )
        catalog.order = self._order(catalog)
        catalog.__dict__["slots"] = self.slots
        self._frozen = True
        return catalog

    def _order(self, catalog: Catalog) -> array[int]:
        """The default order: the base's, with the papers this builder added or saw again
        moved into place (sorting 100k titles anew costs 0.2 s; this, a few ms)."""
        base = self.base
        changed = self._changed
        if base is None or len(base.order) != len(base.ids) or len(changed) > len(self.ids) // 32:
            # Placing a slot costs ~30 key calls (a sort, then a bisection); a full order
            # ~1 µs per slot: an import into an empty library placed 100k slots in 0.45 s.
            return full_order(catalog)
        if not self._changed:
            return base.order
        key = order_key(catalog)
        rest = [slot for slot in base.order if slot not in changed]
        order = array(_INT)
        previous = 0
        for slot in sorted(changed, key=key):
            position = bisect_left(rest, key(slot), lo=previous, key=key)
            order.extend(rest[previous:position])
            order.append(slot)
            previous = position
        order.extend(rest[previous:])
        return order


def order_key(catalog: Catalog) -> Callable[[int], tuple[int, int, str, int]]:
    """A slot's place in the default order: seen most, newest digest, title, then slot."""
    seqs = [d.seq for d in catalog.digests]
    sightings, titles = catalog.sightings, catalog.titles

    def key(slot: int) -> tuple[int, int, str, int]:
        seen = sightings[slot]
        return (-len(seen), -max(map(seqs.__getitem__, seen)), titles[slot].casefold(), slot)

    return key


def full_order(catalog: Catalog) -> array[int]:
    """Every slot in :func:`order_key`'s order, without a Python key call per slot: slots
    grouped by (-times seen, -newest digest's seq), each group (in slot order) sorted by
    folded title, a C-level lookup. Most groups are one digest's ~200 papers, so the title
    sorts also compare less (100k papers: 0.25–0.45 → ~0.1 s)."""
    seqs = [d.seq for d in catalog.digests]
    folded = [title.casefold() for title in catalog.titles]
    groups: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    for slot, seen in enumerate(catalog.sightings):
        newest = seqs[seen[0]] if len(seen) == 1 else max(map(seqs.__getitem__, seen))
        groups[-len(seen), -newest].append(slot)
    order = array(_INT)
    for group in sorted(groups):
        order.extend(sorted(groups[group], key=folded.__getitem__))
    return order


def _meta(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    return {k: doc[k] for k in META_FIELDS if doc.get(k) not in (None, [])} or None


@dataclass(frozen=True)
class _Empty:
    imports: tuple[ImportRecord, ...] = ()
    digests: tuple[Digest, ...] = ()
    ids: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    links: tuple[tuple[str, ...], ...] = ()
    meta: tuple[None, ...] = ()
    sightings: tuple[tuple[int, ...], ...] = ()
    homes: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    seen_counts: dict[int, int] = field(default_factory=dict)


_EMPTY: Any = _Empty()


# ---------------------------------------------------------------------------- the file


@dataclass(frozen=True, slots=True)
class Saved:
    """A catalog as loaded from ``catalog.bin``, and where its good bytes end."""

    catalog: Catalog
    end: int
    deltas: int
    delta_bytes: int
    base_bytes: int


def _segment(payload: tuple[Any, ...]) -> bytes:
    body = marshal.dumps(payload)
    return _SEGMENT.pack(len(body), _checksum(body)) + body


def _checksum(body: bytes | memoryview) -> int:
    return zlib.crc32(body)


def base_payload(catalog: Catalog) -> tuple[Any, ...]:
    return (
        CATALOG_FORMAT,
        "base",
        [astuple(r) for r in catalog.imports],
        [(d.id, d.name, d.date, d.seq, d.imported_at, d.papers) for d in catalog.digests],
        catalog.ids,
        catalog.titles,
        catalog.links,
        catalog.meta,
        catalog.sightings,
        catalog.homes[0].tobytes(),
        catalog.homes[1].tobytes(),
        catalog.postings,
        catalog.order.tobytes(),
        catalog.seen_counts,
    )


def save(path: Path, catalog: Catalog) -> int:
    """Write ``catalog`` as a new base (atomically); the file's size."""
    payload = CATALOG_MAGIC + _segment(base_payload(catalog))
    atomic_write(path, payload, backup=False)
    return len(payload)


def append(path: Path, ops: list[Op], end: int) -> int:
    """Append one delta after the good bytes (``end``), dropping a torn tail; the new end."""
    segment = _segment((CATALOG_FORMAT, "delta", ops))
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, end)
            os.lseek(fd, end, os.SEEK_SET)
            view = memoryview(segment)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise StorageError(f"{path}: could not save ({error.strerror or error})") from None
    return end + len(segment)


def load(path: Path, data_dir: Path) -> Saved | None:
    """The catalog saved in ``path``, or None when there is none to trust (missing, damaged,
    another format): the caller rebuilds it. A torn or damaged delta ends what is read.

    The cyclic GC is paused meanwhile (:func:`gc_paused`: 0.33 s → 0.20 s at 100k).
    """
    with gc_paused():
        return _load(path, data_dir)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC paused while a catalog's columns are built: 100k papers' worth of
    objects otherwise set off full collections over the growing heap (unmarshalling them:
    0.33 → 0.20 s; a bulk import's merge: ~1.2 s of collections). Nothing is frozen: a
    replaced catalog is collected like anything else once it is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(path: Path, data_dir: Path) -> Saved | None:
    try:
        raw = read_regular(path)
    except OSError:
        return None
    if not raw.startswith(CATALOG_MAGIC):
        return None
    position = len(CATALOG_MAGIC)
    view = memoryview(raw)
    builder: Builder | None = None
    catalog: Catalog | None = None
    replayed: list[tuple[Any, ...]] = []  # the deltas' operations, one tuple per delta
    delta_bytes = base_bytes = 0
    while position + _SEGMENT.size <= len(raw):
        length, checksum = _SEGMENT.unpack_from(raw, position)
        body = view[position + _SEGMENT.size : position + _SEGMENT.size + length]
        if len(body) != length or _checksum(body) != checksum:
            break
        try:
            payload = marshal.loads(body)
            if type(payload) is not tuple or payload[:1] != (CATALOG_FORMAT,):
                break
            if catalog is None:
                catalog = _from_base(payload, data_dir)
                base_bytes = length
            else:
                if builder is None:
                    builder = Builder(data_dir, catalog)
                for op in payload[2]:
                    builder.replay(op)
                replayed.append(payload[2])
                delta_bytes += length
        except _UNREADABLE:
            if catalog is None:
                return None
            if builder is not None:
                # A delta is one import, used whole or not at all: replay the ones before.
                builder = _replay(data_dir, catalog, replayed)
            break  # an unreadable delta: what came before stands
        position += _SEGMENT.size + length
    if catalog is None:
        return None
    if builder is not None:
        catalog = builder.freeze()
    return Saved(catalog, position, len(replayed), delta_bytes, base_bytes)


#: What a segment this release cannot read raises while it is decoded or replayed.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, EOFError, AttributeError)


def _replay(data_dir: Path, base: Catalog, deltas: list[tuple[Any, ...]]) -> Builder | None:
    if not deltas:
        return None
    builder = Builder(data_dir, base)
    for ops in deltas:
        for op in ops:
            builder.replay(op)
    return builder


def _from_base(payload: tuple[Any, ...], data_dir: Path) -> Catalog:
    (
        _,
        kind,
        imports,
        digests,
        ids,
        titles,
        links,
        meta,
        sightings,
        files,
        entries,
        postings,
        order,
        seen_counts,
    ) = payload
    if kind != "base":
        raise ValueError("the first segment is not a base")
    homes = (array(_INT), array(_INT))
    homes[0].frombytes(files)
    homes[1].frombytes(entries)
    ordered = array(_INT)
    ordered.frombytes(order)
    if not len(ids) == len(titles) == len(links) == len(meta) == len(sightings) == len(ordered):
        raise ValueError("columns of different lengths")
    return Catalog(
        data_dir,
        tuple(ImportRecord(*r) for r in imports),
        tuple(Digest(*d) for d in digests),
        ids,
        titles,
        links,
        meta,
        sightings,
        homes,
        postings,
        ordered,
        seen_counts,
    )


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
