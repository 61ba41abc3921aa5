"""The search index: answers a parsed query over one library, fast enough per keystroke.

Why it is shaped like this: the TUI runs a query on every keystroke, at up to 100k papers.
Titles are tokenised once into an inverted index (word → papers) that imports extend in
place, so a keystroke costs a vocabulary lookup (bisect for prefixes, rapidfuzz for typos,
cached per word because typing extends one word at a time), C-level set operations and one
sort of ints. Reading state changes with every triage key, so it is never indexed: it is
re-read once per ``Library.version``. Abstracts (~140 MB at 100k papers) would take seconds
to tokenise, so they are kept as case-folded bytes, built on first use, and scanned in C.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import operator
import sys
import weakref
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from itertools import chain, compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING

from readinglist.bibtex import split_name
from readinglist.errors import StorageError
from readinglist.library import bulk_allocation
from readinglist.model import STATUSES, Digest, Paper, paper_id, today
from readinglist.query import (
    Term,
    count_test,
    date_matches,
    has_code,
    loose_date,
    parse_query,
    words_of,
)
from readinglist.storage import INDEX_FILE, atomic_write
from readinglist.textindex import EXACT, IN_ABSTRACT, PREFIX, TYPO, Match, Texts, WordIndex

if TYPE_CHECKING:
    from readinglist.library import Library

#: Version of the saved index (``index.cache``). It also names the papers.json version it
#: was built from, and is ignored for any other one.
INDEX_FORMAT = (3, sys.version_info[:2])  # 3: words fold diacritics
#: ``index.cache`` is this, a blake2b checksum of the rest, then the marshalled index. Only
#: bytes that match their checksum are unmarshalled: marshal is not made for damaged input.
INDEX_MAGIC = b"readinglist index\n"
CHECKSUM_BYTES = 16
#: What a saved index holds: slot → paper id, title word → slots, times seen → slots and
#: digest → slots; all of it derived from one papers.json version.
SavedIndex = tuple[list[str], dict[str, list[int]], dict[int, list[int]], dict[str, list[int]]]


@dataclass(frozen=True, slots=True)
class _States:
    """Slot sets derived from reading state, valid for one ``Library.version`` on one day
    (a snooze that runs out makes a paper new again without any change being saved)."""

    version: tuple[int, str]
    flags: dict[str, set[int]]
    tags: dict[str, set[int]]
    tag_words: WordIndex
    #: Word → its title match merged with its tag match, for words that match a tag.
    merged: dict[str, Match]


# ---------------------------------------------------------------------------- engine


class SearchEngine:
    """Answers queries over one library; built once, extended on import, reused per keystroke.

    Papers get a *slot* when indexed (insertion order, never changes); everything the index
    holds and every set a query builds is in slots. Only the final results are translated to
    *numbers*, positions in the default order, so that ordering them is sorting small ints.
    An import changes the order; the next query recomputes slot → number and nothing else.
    """

    def __init__(self, library: Library, saved: SavedIndex | None = None) -> None:
        """Index ``library``, or restore the word index ``saved`` (see ``saved()``).

        A ``saved`` index that does not cover exactly the library's papers raises
        ``ValueError``; the caller then builds afresh.
        """
        # A weak reference: the library holds its engine, and a cycle between them would
        # keep every replaced engine (and its 100k-paper index) alive after a reload.
        self.library: Library = weakref.proxy(library)
        #: The dict this index covers; the library drops the engine when it replaces it.
        self.papers = library.papers
        self._slots: dict[str, int] = {}
        self._slot_pids: list[str] = []
        self._titles = WordIndex()
        # Built on first use (phrase, abstract, has:code queries), not at start: the index
        # must be ready within a second of launch at 100k papers.
        self._title_texts: Texts | None = None
        self._abstract_texts: Texts | None = None
        self._code: list[int] | None = None
        # Metadata from the Daily Papers API, indexed on the first author: or upvotes:
        # query: slots of papers that have any, and (surname words, all name words).
        self._with_meta: list[int] | None = None
        self._authors: tuple[WordIndex, WordIndex] | None = None
        self._seen: dict[int, set[int]] = {}
        self._digests: dict[str, list[int]] = {}
        self._order: list[str] | None = None
        self._pids: list[str] = []  # number → id: the default order
        self._number: list[int] = []  # slot → number
        self._states: _States | None = None
        # Slots in the default order keep slot → number nearly monotonic until imports
        # reshuffle it, which keeps translated sets nearly sorted.
        if saved is None:
            self._add([self.papers[pid] for pid in library.ordered()])
        else:
            self._restore(saved)
        self._sync()
        self._titles.vocabulary()  # sorted here, in the loading worker, not on a keystroke

    # ------------------------------------------------------------ building

    def add(
        self,
        digest_id: str,
        new: Iterable[str],
        again: Iterable[str],
        enriched: Collection[str] = (),
    ) -> None:
        """Index one imported digest: its new papers, new sightings of known ones, and
        known papers that gained metadata or links (``enriched``)."""
        self._add([self.papers[pid] for pid in new])
        if enriched:  # rare (a fetched day merging with text digests): rebuilt when needed
            self._code = self._with_meta = self._authors = None
        for pid in again:
            slot, seen = self._slots[pid], self.papers[pid].seen
            self._seen[seen - 1].discard(slot)
            self._seen.setdefault(seen, set()).add(slot)
            self._digests.setdefault(digest_id, []).append(slot)

    @classmethod
    def open(cls, library: Library, *, build: bool = True) -> SearchEngine | None:
        """The engine from the library's saved index (``index.cache``), or built and saved.

        With ``build=False``, None when no saved index matches the library's papers.json.
        """
        signature = library.store.papers_storage.signature
        saved = _load(library.data_dir / INDEX_FILE, signature)
        with bulk_allocation():
            if saved is not None:
                with contextlib.suppress(ValueError):
                    return cls(library, saved)
            if not build:
                return None
            engine = cls(library)
        engine.save()
        return engine

    def save(self) -> None:
        """Best effort: the file only saves time at the next start, nothing depends on it."""
        signature = self.library.store.papers_storage.signature
        if signature is None:
            return
        body = marshal.dumps(((INDEX_FORMAT, signature), *self.saved()))
        with contextlib.suppress(StorageError):
            atomic_write(self.library.data_dir / INDEX_FILE, _seal(body), backup=False)

    def saved(self) -> SavedIndex:
        """What is worth keeping on disk: everything a build computes paper by paper."""
        seen = {n: list(slots) for n, slots in self._seen.items()}
        return self._slot_pids, dict(self._titles.postings), seen, self._digests

    def _restore(self, saved: SavedIndex) -> None:
        slot_pids, postings, seen, digests = saved
        if len(slot_pids) != len(self.papers) or not all(map(self.papers.__contains__, slot_pids)):
            raise ValueError("the saved index covers other papers")
        self._slot_pids = slot_pids
        self._slots = dict(zip(slot_pids, range(len(slot_pids)), strict=True))
        if len(self._slots) != len(slot_pids):
            raise ValueError("the saved index lists a paper twice")
        self._seen = {n: set(slots) for n, slots in seen.items()}
        self._digests = digests
        self._titles.postings = defaultdict(list, postings)

    def _add(self, papers: list[Paper]) -> None:
        slots = self._register(papers)
        self._titles.add((slot, words_of(p.title)) for slot, p in zip(slots, papers, strict=True))
        if self._code is not None:
            self._code += [slot for slot, p in zip(slots, papers, strict=True) if has_code(p)]
        if self._title_texts is not None:
            self._title_texts.extend(p.title for p in papers)
        if self._abstract_texts is not None:
            self._abstract_texts.extend(p.abstract for p in papers)
        with_meta = [(slot, p) for slot, p in zip(slots, papers, strict=True) if p.meta]
        if self._with_meta is not None:
            self._with_meta += [slot for slot, _ in with_meta]
        if self._authors is not None:
            _index_authors(self._authors, with_meta)

    def _register(self, papers: list[Paper]) -> list[int]:
        """Give ``papers`` the next slots and note their sightings; returns the slots."""
        first = len(self._slot_pids)
        # Created together, so the int objects every posting shares sit close in memory.
        slots = list(range(first, first + len(papers)))
        for slot, paper in zip(slots, papers, strict=True):
            # A fresh copy: results touch every id they hold, and these, allocated together,
            # share cache lines; the library's own sit among 140 MB of abstracts (2.5x slower).
            self._slot_pids.append(paper.id.encode().decode())
            self._slots[paper.id] = slot
            self._seen.setdefault(paper.seen, set()).add(slot)
            for digest in paper.digests:
                self._digests.setdefault(digest, []).append(slot)
        return slots

    def _sync(self) -> None:
        """Renumber when an import changed the default order."""
        order = self.library.ordered()
        if order is self._order:
            return
        self._order = order
        if order == self._pids:
            return
        slots = list(map(self._slots.__getitem__, order))
        self._pids = list(map(self._slot_pids.__getitem__, slots))
        self._number = [0] * len(order)
        for number, slot in enumerate(slots):
            self._number[slot] = number

    def _state(self) -> _States:
        version = (self.library.version, today())
        if self._states is None or self._states.version != version:
            day = version[1]
            names = ("decided", *STATUSES, "resurfaced", "noted", "tagged")
            flags: dict[str, set[int]] = {name: set() for name in names}
            tags: dict[str, set[int]] = defaultdict(set)
            # Library.state() for every paper costs ~40 ms at 100k; the library's own map
            # holds only papers that have any state (the rest are EMPTY_STATE). It may name
            # papers the papers file lacks (say, restored from an older backup): skipped.
            for pid, state in self.library.stateful():
                slot = self._slots.get(pid)
                if slot is None:
                    continue
                status = state.current(day)
                flags[status].add(slot)
                if status != "new":
                    flags["decided"].add(slot)
                elif state.resurfaced:
                    flags["resurfaced"].add(slot)
                if state.note:
                    flags["noted"].add(slot)
                if state.tags:
                    flags["tagged"].add(slot)
                for tag in state.tags:
                    tags[tag].add(slot)
            tag_words = WordIndex()
            tag_words.add((s, words_of(tag)) for tag, slots in tags.items() for s in slots)
            self._states = _States(version, flags, tags, tag_words, {})
        return self._states

    def _titles_text(self) -> Texts:
        if self._title_texts is None:
            titles = (self.papers[pid].title for pid in self._slot_pids)
            self._title_texts = Texts(titles, words=False)
        return self._title_texts

    def _with_code(self) -> list[int]:
        if self._code is None:
            pids = self._slot_pids
            self._code = [slot for slot, pid in enumerate(pids) if has_code(self.papers[pid])]
        return self._code

    def _meta_slots(self) -> list[int]:
        if self._with_meta is None:
            pids, papers = self._slot_pids, self.papers
            self._with_meta = [slot for slot, pid in enumerate(pids) if papers[pid].meta]
        return self._with_meta

    def _author_words(self) -> tuple[WordIndex, WordIndex]:
        if self._authors is None:
            pids, papers = self._slot_pids, self.papers
            self._authors = (WordIndex(), WordIndex())
            _index_authors(self._authors, [(s, papers[pids[s]]) for s in self._meta_slots()])
        return self._authors

    def _abstracts(self) -> Texts:
        if self._abstract_texts is None:
            abstracts = (self.papers[pid].abstract for pid in self._slot_pids)
            self._abstract_texts = Texts(abstracts, words=True)
        return self._abstract_texts

    # ------------------------------------------------------------ answering

    def search(self, text: str) -> list[str]:
        """Ids matching ``text``, best first (see the module docstring for the language)."""
        query = parse_query(text)
        self._sync()
        scoring: list[Match] = []
        positive: list[Collection[int]] = []
        banned: set[int] = set()
        # Terms that scan text run last, over what the index terms left.
        scanned = {"phrase", "abstract", "word"} if query.in_abstract else {"phrase", "abstract"}
        for term in query.terms:
            if term.field in scanned:
                continue
            if term.field == "word":
                matches = [self._word(word) for word in term.value.split(" ")]
                found = _common([m.slots for m in matches])
                scoring += [] if term.negated else matches
            else:
                found = self._filter(term)
            if term.negated:
                banned.update(found)
            else:
                positive.append(found)
        candidates = set(_common(positive)) if positive else None
        for term in query.terms:
            if term.field not in scanned:
                continue
            found = self._scan(term, None if candidates is None else candidates - banned)
            if term.negated:
                banned |= found
            else:
                candidates = found if candidates is None else candidates & found
                if term.field == "word":
                    scoring.append(self._word(term.value))
        if candidates is None:  # nothing but exclusions: the default order, minus those
            return _without(self._pids, sorted(map(self._number.__getitem__, banned)))
        candidates -= banned
        exact = self._slots.get(paper_id(" ".join(query.words)), -1) if query.words else -1
        head = [self._number[exact]] if exact in candidates else []
        candidates.discard(exact)
        ranked = head + self._ranked(candidates, scoring, query.in_abstract)
        return list(map(self._pids.__getitem__, ranked))

    def _ranked(self, candidates: set[int], scoring: list[Match], in_abstract: bool) -> list[int]:
        """The candidates' numbers: best total score first, ties in the default order."""
        number = self._number.__getitem__
        if len(scoring) == 1:
            # One word, by far the commonest and largest case: its tiers, ranked once and
            # kept, filtered down to the candidates.
            numbers = list(chain.from_iterable(scoring[0].ranked(self._number)))
            if not in_abstract and len(candidates) == len(numbers):
                return numbers  # nothing filtered out (candidates are a subset)
            keep = set(map(number, candidates))
            ranked = list(compress(numbers, map(keep.__contains__, numbers)))
            if in_abstract:  # abstract-only matches last
                ranked += sorted(map(number, candidates - scoring[0].slots))
            return ranked
        if not scoring:
            return sorted(map(number, candidates))
        slots = list(candidates)
        per_word = (map(m.scores.get, slots, repeat(IN_ABSTRACT)) for m in scoring)
        totals = map(sum, zip(*per_word, strict=True))
        # Sort once on number - total * size: best total first, then the default order.
        size = len(self._pids)
        keys = sorted(
            map(operator.sub, map(number, slots), map(operator.mul, totals, repeat(size)))
        )
        return [key % size for key in keys]

    def _word(self, word: str) -> Match:
        """What ``word`` matches in titles or tags (never mutate the result)."""
        title = self._titles.lookup(word)
        state = self._state()
        tagged = state.tag_words.lookup(word)
        if not tagged.tiers:
            return title
        if word not in state.merged:
            tiers = (EXACT, PREFIX, TYPO)
            state.merged[word] = Match((s, title.tier(s) | tagged.tier(s)) for s in tiers)
        return state.merged[word]

    def _scan(self, term: Term, within: set[int] | None) -> set[int]:
        """Matches of a phrase, ``abstract:`` or ``in:abstract`` word, among ``within``."""
        if term.field == "phrase":
            return self._titles_text().find(term.value, within)
        if term.field == "abstract":
            return self._abstracts().find(term.value, within)
        found: set[int] | None = None
        for word in term.value.split(" "):
            matched = self._word(word).slots
            rest = None if within is None else within - matched
            hits = self._abstracts().find(word, rest) | matched
            found = hits if found is None else found & hits
        return found or set()

    def _digests_named(self, value: str) -> list[str]:
        digests = self.library.digests.values()
        if value == "latest":
            return [max(digests, key=lambda d: d.seq).id] if digests else []
        matches = _digest_finder(value)
        return [d.id for d in digests if matches(d)]

    def _filter(self, term: Term) -> Collection[int]:
        if term.field == "tag":
            return self._state().tags.get(term.value, set())
        if term.field == "is":
            return self._state().flags[term.value]
        if term.field == "has":
            return self._with_code()
        if term.field == "seen":
            test = count_test("seen", term.value)
            return set().union(*(slots for seen, slots in self._seen.items() if test(seen)))
        if term.field == "upvotes":
            test, pids, papers = count_test("upvotes", term.value), self._slot_pids, self.papers
            return {
                slot
                for slot in self._meta_slots()
                if (votes := papers[pids[slot]].upvotes) is not None and test(votes)
            }
        if term.field == "author":
            surnames, names = self._author_words()
            *others, last = term.value.split(" ")
            return _common([surnames.lookup(last).slots, *(names.lookup(w).slots for w in others)])
        digests = self._digests_named(term.value)
        return set(chain.from_iterable(self._digests.get(d, ()) for d in digests))


def _index_authors(index: tuple[WordIndex, WordIndex], papers: list[tuple[int, Paper]]) -> None:
    """Add papers' authors: the words of each surname (``van der Maaten``: all three), and
    of each whole name, to the surname and name indexes."""
    surnames, names = index
    surnames.add((slot, [w for a in p.authors for w in _surname_words(a)]) for slot, p in papers)
    names.add((slot, [w for a in p.authors for w in words_of(a)]) for slot, p in papers)


def _surname_words(name: str) -> list[str]:
    if "," in name:  # "Maaten, Laurens van der"
        return words_of(name.split(",", 1)[0])
    _first, von, last, _suffix = split_name(name)
    return words_of(" ".join(von + last))


def _digest_finder(value: str) -> Callable[[Digest], bool]:
    """What ``digest:VALUE`` means for one digest: its name starts with it, or its date is
    the day or month VALUE names, however loosely written. A digest without a date of its
    own (the compact layout) is known by its import day, as the app shows it."""
    wanted = loose_date(value)

    def matches(digest: Digest) -> bool:
        if digest.name.casefold().startswith(value):
            return True
        if wanted is None:
            return False
        if digest.date:
            found = loose_date(digest.date)
        else:
            day = digest.imported_day()
            found = (day.year, day.month, day.day) if day > day.min else None
        return found is not None and date_matches(wanted, found)

    return matches


def _common(collections: list[Collection[int]]) -> Collection[int]:
    """The slots in all of ``collections`` (the collection itself when there is one)."""
    if len(collections) == 1:
        return collections[0]
    smallest, *others = sorted(collections, key=len)
    return set(smallest).intersection(*others)


def _without(items: list[str], skip: list[int]) -> list[str]:
    """``items`` minus the (ascending) positions ``skip``, copied in slices."""
    kept: list[str] = []
    start = 0
    for position in skip:
        kept += items[start:position]
        start = position + 1
    return kept + items[start:]


def _seal(body: bytes) -> bytes:
    """``index.cache`` holding ``body``: a header with its checksum, then ``body``."""
    return INDEX_MAGIC + _checksum(body) + body


def _checksum(body: bytes | memoryview) -> bytes:
    return hashlib.blake2b(body, digest_size=CHECKSUM_BYTES).digest()


def _load(path: Path, signature: object) -> SavedIndex | None:
    """The index saved for papers.json version ``signature``; None if there is none.

    None too for a file that is damaged (checksum), of another format or papers.json
    version, or not shaped like an index: it is only a cache, so it is rebuilt, silently.
    """
    if signature is None:
        return None
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    start = len(INDEX_MAGIC) + CHECKSUM_BYTES
    body = memoryview(raw)[start:]
    if not raw.startswith(INDEX_MAGIC) or raw[len(INDEX_MAGIC) : start] != _checksum(body):
        return None
    try:
        loaded = marshal.loads(body)
    except (EOFError, ValueError, TypeError):  # saved by another Python's marshal
        return None
    if type(loaded) is not tuple or not loaded or loaded[0] != (INDEX_FORMAT, signature):
        return None
    saved = loaded[1:]
    return saved if _well_formed(saved) else None


def _well_formed(saved: tuple[object, ...]) -> bool:
    """Whether ``saved`` is laid out as a :data:`SavedIndex`: its containers and their keys.

    The checksum proves the bytes are the ones saved and the header that they were saved
    in this format for this papers.json; this catches a writer of another layout under the
    same format number. The ~1M slot numbers inside are not visited (that alone would cost
    0.1-0.2 s at 100k papers); ``_restore`` checks the ids against the library.
    """
    if len(saved) != 4:
        return False
    slot_pids, postings, seen, digests = saved
    return (
        type(slot_pids) is list
        and _all_of(slot_pids, str)
        and all(
            type(keyed) is dict and _all_of(keyed, key_type) and _all_of(keyed.values(), list)
            for keyed, key_type in ((postings, str), (seen, int), (digests, str))
        )
    )


def _all_of(items: Iterable[object], kind: type) -> bool:
    return set(map(type, items)) <= {kind}
