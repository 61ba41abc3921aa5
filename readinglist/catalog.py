"""The read model: what lists, queries and commands know of every paper, never changed once
built.

A :class:`Catalog` holds each paper's id, title, links, API metadata, the digests it was seen
in and where its abstract is (abstracts stay in the digest files, read when something needs
one), plus the default order, recurrence counts and the title-word index. It is built by a
:class:`Builder` replaying imports (the one place paper identity and merging are decided) and
is immutable afterwards: an import builds a new one, so a thread holding the old one never
sees it change.

Its derived file, ``catalog.bin``, is :mod:`readinglist.catalogfile`.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readinglist import contents
from readinglist.columns import DamagedColumn, Grown, memberships, present
from readinglist.model import META_FIELDS, Digest, Paper, merged_meta, paper_id, title_key
from readinglist.storage import CATALOG_FILE

#: Slots in ``array`` columns are C ints.
SLOT_CODE = "i"


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


#: The columns of a catalog opened from its file that are read only once something uses
#: one (:meth:`Catalog.deferred`): a command that changes a paper needs only the ids
#: (``mark`` at 100k: the 18 MB base took ~60 ms to unmarshal, the ids alone ~8 ms).
_DEFERRED = ("titles", "links", "meta", "sightings", "homes", "postings", "order", "seen_counts")


class Catalog(Mapping[str, Paper]):
    """Every paper the library holds, by *slot* (the order papers were first seen in).

    Never mutated once built; the lazily computed views below are derived, so two threads
    computing one at once compute the same thing.
    """

    #: Membership tests answered by scanning ``ids`` before ``slots`` is built (below).
    _scans = 0

    def __init__(
        self,
        data_dir: Path,
        imports: tuple[ImportRecord, ...],
        digests: tuple[Digest, ...],
        ids: list[str],
        titles: Sequence[str],
        links: Sequence[tuple[str, ...]],
        meta: Sequence[dict[str, Any] | None],
        sightings: Sequence[tuple[int, ...]],
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

    @classmethod
    def deferred(
        cls,
        data_dir: Path,
        imports: tuple[ImportRecord, ...],
        digests: tuple[Digest, ...],
        ids: list[str],
        rest: Callable[[], Catalog],
    ) -> Catalog:
        """A catalog of these imports, digests and ids whose other columns are those of
        ``rest()``, called once, when one is first used."""
        catalog = cls.__new__(cls)
        catalog.data_dir, catalog.imports, catalog.digests, catalog.ids = (
            data_dir,
            imports,
            digests,
            ids,
        )
        catalog.__dict__["_rest"] = rest
        catalog.__dict__["_resting"] = threading.Lock()
        return catalog

    if not TYPE_CHECKING:  # mypy sees the columns as the attributes they become

        def __getattr__(self, name: str) -> Any:
            # Reached only for an attribute not set: a deferred column, read now (once:
            # each is set whole, and a second thread asking meanwhile waits for the lock).
            state = self.__dict__
            if name not in _DEFERRED or "_resting" not in state:
                raise AttributeError(name)
            with state["_resting"]:
                rest = state.get("_rest")
                if rest is not None:
                    full = rest()  # raises, the rest kept for the next try, if it fails
                    if full.ids != self.ids:
                        where = self.data_dir / CATALOG_FILE
                        raise DamagedColumn("its columns are not its papers'", where)
                    for column in _DEFERRED:
                        state[column] = getattr(full, column)
                    if "slots" in full.__dict__:
                        state.setdefault("slots", full.slots)
                    del state["_rest"]
            return state[name]

    @property
    def whole(self) -> bool:
        """Whether every column is read (see :meth:`deferred`)."""
        return "_rest" not in self.__dict__

    def complete(self) -> Catalog:
        """This catalog with every column read (what a thread hands another: a read model
        is never left to read its file, or replay imports, in the UI thread)."""
        self.titles  # noqa: B018
        return self

    # ------------------------------------------------------------------ papers

    @cached_property
    def slots(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids)), strict=True))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, pid: object) -> bool:
        # A command that changes a paper or two asks a few times: a scan of the ids takes
        # 1.5 ms at 100k, the id map 14 ms to build. More questions build it.
        if "slots" not in self.__dict__ and self._scans < 4:
            self._scans += 1
            return pid in self.ids
        return pid in self.slots

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __getitem__(self, pid: str) -> Paper:
        """The paper ``pid`` (KeyError if unknown), made on demand: a catalog holds columns."""
        slot = self.slots[pid]
        seen = self._seen_in(slot)
        return Paper(
            pid,
            self.titles[slot],
            self.links[slot],
            tuple(d.id for d in seen),
            max(d.seq for d in seen),
            self.meta[slot],
        )

    def _seen_in(self, slot: int) -> list[Digest]:
        """The digests a slot's paper was seen in (DamagedColumn if its file names others:
        opening checks no paper's digests, the packed sightings being read per paper)."""
        digests, numbers = self.digests, self.sightings[slot]
        if not numbers or not all(0 <= n < len(digests) for n in numbers):
            raise self.unlisted_digest(slot)
        return [digests[n] for n in numbers]

    def unlisted_digest(self, slot: int) -> DamagedColumn:
        """The damage of a file whose paper at ``slot`` was seen in a digest it lacks."""
        return DamagedColumn(f"paper {self.ids[slot]} seen in no digest it lists")

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
        return sorted(self._seen_in(self.slots[pid]), key=lambda d: -d.seq)

    @cached_property
    def arxiv(self) -> dict[str, int]:
        """arXiv id → slot of the paper that has it."""
        found: dict[str, int] = {}
        metas = self.meta
        for slot in present(metas):
            meta = metas[slot]
            if meta and meta.get("arxiv_id"):
                found.setdefault(meta["arxiv_id"], slot)
        return found

    @cached_property
    def digest_papers(self) -> list[int]:
        """Digest number → how many papers were seen in it."""
        counts = [0] * len(self.digests)
        for number, _ in memberships(self.sightings):
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


def replayed_onto(base: Catalog, ops: list[Op], known_keys: dict[str, str]) -> Catalog:
    """The catalog a builder froze before it had every column: its operations replayed
    onto the base's columns."""
    with gc_paused():
        builder = Builder(base.data_dir, base.complete())
        builder._known_keys = dict(known_keys)
        builder.replay_all(ops)
        return builder.freeze()


def replayed(data_dir: Path, base: Catalog | None, records: Sequence[ImportRecord]) -> Builder:
    """``base`` with the imports of ``records`` replayed from their digest files."""
    builder = Builder(data_dir, base)
    for record in records:
        builder.apply(record, contents.read(data_dir, record.hash), keep=True)
    return builder


# ---------------------------------------------------------------------------- building


#: A builder operation, as saved in a delta (tuples of plain values, for marshal).
Op = tuple[Any, ...]


class Builder:
    """Replays imports onto a copy of a catalog (or none), then freezes a new one.

    Every change is one *operation* (:meth:`_do`), recorded in ``ops``: that is what an
    import appends to ``catalog.bin``, and what opening it replays.

    On a base whose columns past the ids are not read yet (:meth:`Catalog.deferred`) it
    keeps only the imports, digests and ids, until something needs more (:meth:`_columns`):
    a text digest new to the library needs nothing more, and the catalog it freezes reads
    the base's columns, this builder's operations replayed, when first used (the daily
    import into 100k papers: ~0.2 s of reading, copying and ordering 100k papers saved).
    """

    titles: list[str] | Grown[str]
    links: list[tuple[str, ...]] | Grown[tuple[str, ...]]
    meta: list[dict[str, Any] | None] | Grown[dict[str, Any] | None]
    sightings: list[tuple[int, ...]] | Grown[tuple[int, ...]]
    homes: tuple[array[int], array[int]]
    seen_counts: Counter[int]
    #: arXiv id → paper id, including papers this builder added.
    _arxiv: dict[str, str]

    def __init__(self, data_dir: Path, base: Catalog | None) -> None:
        self.data_dir = data_dir
        self.base = base
        b = base or _EMPTY
        self.imports = list(b.imports)
        self.digests = list(b.digests)
        self.digest_numbers = dict(b.digest_numbers) if base else {}
        self.ids = list(b.ids)
        self.slots = dict(b.slots) if base else {}
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
        #: Whether the columns past the ids are here (see the class).
        self._whole = base is None or base.whole
        if self._whole:
            self._copy_columns(b)

    def _copy_columns(self, b: Any) -> None:
        base = self.base
        if base is None:
            self.titles, self.links, self.meta, self.sightings = [], [], [], []
        else:  # the base's columns stay as they are (packed), what changes kept beside
            self.titles, self.links = Grown(b.titles), Grown(b.links)
            self.meta, self.sightings = Grown(b.meta), Grown(b.sightings)
        self.homes = (array(SLOT_CODE, b.homes[0]), array(SLOT_CODE, b.homes[1]))
        self.seen_counts = Counter(b.seen_counts)
        #: arXiv id → paper id, including papers this builder added.
        self._arxiv = (
            {arxiv_id: b.ids[slot] for arxiv_id, slot in base.arxiv.items()} if base else {}
        )

    def _columns(self) -> None:
        """Have every column: the base's, read now, with this builder's operations so far
        replayed onto them."""
        if self._whole:
            return
        assert self.base is not None
        whole = Builder(self.data_dir, self.base.complete())
        whole._known_keys = self._known_keys
        whole.replay_all(self.ops)
        vars(self).update({k: v for k, v in vars(whole).items() if k != "ops"})

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
        if not self._whole:  # the imports, digests and ids only (:meth:`_columns`)
            ops = list(ops)
            for pid in listing(ops, self.imports, self.digests, len(self.ids)):
                self.slots[pid] = len(self.ids)
                self.ids.append(pid)
            for op in ops:
                if op[0] == "digest":
                    self.digest_numbers[op[2]] = op[1]
            return
        ids, slots, titles, links, metas = self.ids, self.slots, self.titles, self.links, self.meta
        sightings, (files, entries), counts = self.sightings, self.homes, self.seen_counts
        index, arxiv, changed = self._words, self._arxiv, self._changed
        known_keys = self._known_keys
        from readinglist.query import words_of  # ~5 ms of commands that build nothing

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
            number = _put_digest(self.digests, op)
            self.digest_numbers[self.digests[number].id] = number
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
        self._columns()  # metadata and links to merge
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
        # A digest new to the library: no paper was seen in it yet (but in this one).
        first = number is None
        if number is None:
            number = len(self.digests)
        else:
            self._columns()
        file_no = len(self.imports)
        new: dict[str, dict[str, Any] | None] = {}
        again: dict[str, None] = {}
        pending: list[Op] = []
        slots, known_keys = self.slots, self._known_keys
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
            elif first or number not in self.sightings[slot]:
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
        if not self._whole:
            assert self.base is not None
            self._frozen = True
            rest = partial(replayed_onto, self.base, self.ops, self._known_keys)
            deferred = Catalog.deferred(
                self.data_dir, tuple(self.imports), tuple(self.digests), self.ids, rest
            )
            deferred.__dict__["slots"] = self.slots
            return deferred
        postings = self.base.postings if self.base else {}
        if self._words:
            postings = dict(postings)
            for word, slots in self._words.items():
                postings[word] = postings.get(word, b"") + array(SLOT_CODE, slots).tobytes()
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
            array(SLOT_CODE),
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
        order = array(SLOT_CODE)
        previous = 0
        for slot in sorted(changed, key=key):
            position = _gallop(rest, key(slot), previous, key)
            order.extend(rest[previous:position])
            order.append(slot)
            previous = position
        order.extend(rest[previous:])
        return order


def _gallop(
    rest: list[int], wanted: tuple[int, int, str, int], lo: int, key: Callable[[int], Any]
) -> int:
    """Where ``wanted`` goes in ``rest`` (sorted by ``key``), searched from ``lo`` onwards
    by doubling steps, then bisected: the papers an import adds sit next to each other
    (its digest's new papers form one group), so each is placed in a few key calls, not
    ~17. A daily import's 300 papers at 100k: ~5,100 → ~1,000 key calls (each decodes a
    packed paper: 64 → 12 ms of folding it into the catalog)."""
    bound, size = 1, len(rest)
    while lo + bound <= size and key(rest[lo + bound - 1]) < wanted:
        bound *= 2
    return bisect_left(rest, wanted, lo=lo + bound // 2, hi=min(lo + bound, size), key=key)


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
    order = array(SLOT_CODE)
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


def _put_digest(digests: list[Digest], op: Op) -> int:
    """Replay a ``digest`` operation (a digest new at the end, or one's count of papers
    updated); its number."""
    _, number, did, name, date, seq, imported_at, papers = op
    digest = Digest(did, name, date, seq, imported_at, papers)
    if number == len(digests):
        digests.append(digest)
    elif 0 <= number < len(digests):
        digests[number] = digest
    else:
        raise IndexError(f"digest {number} of {len(digests)}")
    return int(number)


def listing(
    ops: Sequence[Op], imports: list[ImportRecord], digests: list[Digest], count: int
) -> list[str]:
    """Replay a delta's ``ops`` on a catalog's imports and digests (in place), checked as
    replaying them checks them; the ids of the papers they add. How a catalog file is
    opened before its other columns are read (:meth:`Catalog.deferred`)."""
    new: list[str] = []
    for op in ops:
        kind = op[0]
        if kind == "paper":
            _, pid, _, _, _, _, _, _ = op
            new.append(pid)
        elif kind in ("sight", "enrich"):
            _, slot, *_ = op
            if len(op) != (3 if kind == "sight" else 4) or not 0 <= slot < count + len(new):
                raise IndexError(f"{kind} of slot {slot}")
        elif kind == "digest":
            _put_digest(digests, op)
        elif kind == "import":
            imports.append(ImportRecord(*op[1:]))
        else:
            raise ValueError(f"unknown catalog operation {kind!r}")
    return new


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
