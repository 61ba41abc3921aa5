"""The data structures under the search engine: a word index over titles (exact, prefix
and typo lookups, cached per word) and a byte-string scan for phrases and abstracts."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, filterfalse

from rapidfuzz import process
from rapidfuzz.distance import OSA

from readinglist.query import TWO_TYPOS_MIN, TYPO_MIN, fold

#: Word scores; a paper's score is the sum over the query's free words.
EXACT, PREFIX, TYPO, IN_ABSTRACT = 4, 3, 2, 1
#: Scanning this many bytes costs about as much as checking one text on its own: above it,
#: checking only the candidates beats scanning everything.
_BYTES_PER_CHECK = 2048
_LAST_CHAR = "\U0010ffff"
#: Words whose lookups are kept.
LOOKUP_CACHE = 256
#: Maps ASCII punctuation and spaces to spaces; letters, digits, newlines and UTF-8 stay.
_SPACES = bytes(b if b >= 0x80 or b == 0x0A or chr(b).isalnum() else 0x20 for b in range(256))


# ---------------------------------------------------------------------------- indexes


class IntLists(Mapping[str, Sequence[int]]):
    """Word → slots, read-only, over the catalog's ``array("i")`` bytes per word (marshal
    loads 28k byte strings 10x faster than 28k lists of 1M ints in all)."""

    def __init__(self, raw: Mapping[str, bytes]) -> None:
        self._raw = raw

    def __getitem__(self, word: str) -> Sequence[int]:
        return memoryview(self._raw[word]).cast("i")

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, word: object) -> bool:
        return word in self._raw

    def total(self, words: Iterable[str]) -> int:
        """How many slots all ``words`` have (repeats counted), from their byte lengths."""
        return sum(map(len, map(self._raw.__getitem__, words))) // array("i").itemsize

    def joined(self, words: Iterable[str]) -> array[int]:
        """The slots of all ``words``, one array joined in C: a set made of it is made
        faster than of each word's in turn (a one-letter prefix at 100k papers: 5 → 3 ms)."""
        return array("i", b"".join(map(self._raw.__getitem__, words)))


class WordIndex:
    """Word → slots, with a cached lookup of the exact, prefix and typo matches of a word."""

    def __init__(self, postings: Mapping[str, Sequence[int]] | None = None) -> None:
        #: Read-only when given (the catalog's); else built here with :meth:`add`.
        self.postings: Mapping[str, Sequence[int]] = (
            defaultdict(list) if postings is None else postings
        )
        self._vocabulary: tuple[list[str], dict[int, list[str]]] | None = None
        # A plain dict, not functools.lru_cache on a bound method: that is a reference
        # cycle (index → cache → method → index) which kept every replaced index alive
        # once gc.freeze() had pinned it (561 → 595 MB over four reloads at 100k).
        self._cache: dict[str, Match] = {}
        #: Lookups kept for good, compact (see :meth:`compact`); replaced, never changed.
        self._kept: Mapping[str, Kept] = {}

    def add(self, entries: Iterable[tuple[int, Iterable[str]]]) -> None:
        postings = self.postings
        assert isinstance(postings, defaultdict), "a read-only index"
        for slot, words in entries:
            for word in set(words):
                postings[word].append(slot)
        self._vocabulary = None
        self._cache.clear()

    def add_shared(self, groups: Iterable[tuple[Iterable[int], Iterable[str]]]) -> None:
        """:meth:`add` of every slot of each group with the group's words (the same
        postings as adding them one slot at a time)."""
        postings = self.postings
        assert isinstance(postings, defaultdict), "a read-only index"
        for group, words in groups:
            slots = list(group)
            for word in set(words) if slots else ():
                postings[word].extend(slots)
        self._vocabulary = None
        self._cache.clear()

    def lookup(self, word: str) -> Match:
        """What ``word`` matches, cached: typing extends one word at a time."""
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) >= LOOKUP_CACHE:
                del self._cache[next(iter(self._cache))]  # the oldest
            kept = self._kept.get(word)
            found = self._cache[word] = self._lookup(word) if kept is None else kept.match()
        return found

    def compact(self, words: Iterable[str], numbering: list[int]) -> dict[str, Kept]:
        """The lookups of ``words``, compact, with their order in ``numbering``: a read of
        the index, so any thread can make them; :meth:`keep` them on the one that looks up."""
        kept: dict[str, Kept] = {}
        for word in words:
            match = self._lookup(word)
            tiers = tuple((score, array("i", slots)) for score, slots in match.tiers)
            kept[word] = Kept(tiers, numbering, array("i", match.ordered(numbering)))
        return kept

    def keep(self, kept: Mapping[str, Kept]) -> None:
        """Look ``kept``'s words up from them from now on, beside those kept already (the
        mapping is replaced, never changed: another thread may have made it)."""
        self._kept = {**self._kept, **kept}

    def cached(self, word: str) -> bool:
        """Whether the lookup of ``word`` is in the cache (answering it costs nothing)."""
        return word in self._cache

    def clear_cache(self) -> None:
        """Forget cached lookups (benchmarks measure cold lookups)."""
        self._cache.clear()

    def vocabulary(self) -> tuple[list[str], dict[int, list[str]]]:
        """The words, sorted (prefixes are a bisect away), and those long enough for typo
        matching by length (so rapidfuzz only sees words within the typo allowance)."""
        if self._vocabulary is None:
            by_length: dict[int, list[str]] = defaultdict(list)
            for known in self.postings:
                if len(known) >= TYPO_MIN:
                    by_length[len(known)].append(known)
            self._vocabulary = sorted(self.postings), by_length
        return self._vocabulary

    def letter_sizes(self) -> dict[str, int]:
        """How many slots the words starting with each character have: a bisection of the
        sorted words per character, the sums in C (~25 → ~3 ms at 100k papers, where it
        runs on the UI thread)."""
        vocabulary, _ = self.vocabulary()
        postings = self.postings
        sizes: dict[str, int] = {}
        start = 0
        while start < len(vocabulary):
            letter = vocabulary[start][0]
            end = bisect_left(vocabulary, letter + _LAST_CHAR, start)
            words = vocabulary[start:end]
            if isinstance(postings, IntLists):
                sizes[letter] = postings.total(words)
            else:
                sizes[letter] = sum(map(len, map(postings.__getitem__, words)))
            start = end
        return sizes

    def _lookup(self, word: str) -> Match:
        """What ``word`` matches (shared by the cache: never mutate it)."""
        (vocabulary, by_length), postings = self.vocabulary(), self.postings
        near: list[str] = []
        if len(word) >= TYPO_MIN:
            typos = 1 if len(word) < TWO_TYPOS_MIN else 2
            lengths = range(len(word) - typos, len(word) + typos + 1)
            choices = list(chain.from_iterable(by_length.get(n, ()) for n in lengths))
            found = process.extract(
                word, choices, scorer=OSA.distance, score_cutoff=typos, limit=None
            )
            near = [choice for choice, _, _ in found]
        start = bisect_left(vocabulary, word)
        prefixed = vocabulary[start : bisect_left(vocabulary, word + _LAST_CHAR, start)]
        return Match(
            [
                (EXACT, postings.get(word, ())),
                (PREFIX, _all_of(postings, prefixed)),
                (TYPO, _all_of(postings, near)),
            ]
        )


def _all_of(postings: Mapping[str, Sequence[int]], words: list[str]) -> Iterable[int]:
    """The slots of ``words``, one after another (repeats kept)."""
    if isinstance(postings, IntLists):
        return postings.joined(words)
    return chain.from_iterable(map(postings.__getitem__, words))


@dataclass(frozen=True, slots=True)
class Kept:
    """A lookup kept compact: the slots of its tiers and its one-word order as arrays (~0.6
    MB for a one-letter word at 100k papers, where its :class:`Match` holds ~5 MB)."""

    tiers: tuple[tuple[int, array[int]], ...]
    numbering: list[int]
    ordered: array[int]

    def match(self) -> Match:
        """The lookup again (~5 ms for a one-letter word at 100k, where making it anew took
        25-70 ms: the union of every word it starts, then a sort)."""
        match = Match(())
        match.tiers = [(score, set(slots)) for score, slots in self.tiers]
        match._ordered = self.numbering, list(self.ordered)
        return match


class Match:
    """The slots one word matches, in disjoint tiers by score, best first.

    Kept as sets, which is all that excluding (``-word``) or intersecting needs; the tiers in
    the default order (one-word results) and the score map (summing several words) are built
    when first asked for, and kept with the cached lookup.
    """

    def __init__(self, tiers: Iterable[tuple[int, Iterable[int]]]) -> None:
        """From (score, slots) pairs given best score first; a slot keeps its best score."""
        self.tiers: list[tuple[int, set[int]]] = []
        self._ordered: tuple[list[int], list[int]] | None = None
        for score, slots in tiers:
            fresh = set(slots)
            fresh.difference_update(*(taken for _, taken in self.tiers))  # no second copy
            if fresh:
                self.tiers.append((score, fresh))

    def ordered(self, numbering: list[int]) -> list[int]:
        """The slots as numbers: tier by tier, each ascending (the default order), kept for
        this numbering; a one-word query's answer (never mutate it)."""
        if self._ordered is None or self._ordered[0] is not numbering:
            number = numbering.__getitem__
            # Through a set: a set of ints below its table's size iterates them ascending
            # (an int hashes to itself), so the sort finds a few runs to merge. A one-letter
            # word's ~50k at 100k papers: 8.4 → 4.1 ms.
            ordered = list(chain.from_iterable(sorted(set(map(number, s))) for _, s in self.tiers))
            self._ordered = numbering, ordered
        return self._ordered[1]

    def joined(self, other: Match, numbering: list[int]) -> Match:
        """This match and ``other`` as one, a slot keeping its best score, for ``other`` of a
        few slots (a tag's words): made from this one's tiers and order rather than anew.
        A title's one-letter match (~50k slots at 100k papers) with a tag's: unions of
        every tier and a sort of them all took ~20 ms of the key."""
        title = {score: slots for score, slots in self.tiers}
        moved: dict[int, int] = {}  # slot → the better score ``other`` gives it
        for score, slots in other.tiers:
            as_good = (title_slots for s, title_slots in title.items() if s >= score)
            moved.update(dict.fromkeys(slots.difference(moved, *as_good), score))
        if not moved:
            return self
        ordered = self.ordered(numbering)
        number = numbering.__getitem__
        joined = Match(())
        joined_order: list[int] = []
        start = 0
        for score in sorted({*title, *moved.values()}, reverse=True):
            slots = title.get(score, set())
            part = ordered[start : start + len(slots)]
            start += len(slots)
            added = [slot for slot, better in moved.items() if better == score]
            gone = {number(slot) for slot in moved if slot in slots}
            if gone:
                part = list(filterfalse(gone.__contains__, part))
            tier = slots.difference(moved).union(added) if added or gone else slots
            if tier:
                joined.tiers.append((score, tier))
                joined_order += sorted(part + list(map(number, added))) if added else part
        joined._ordered = numbering, joined_order
        return joined

    @cached_property
    def slots(self) -> set[int]:
        if len(self.tiers) == 1:
            return self.tiers[0][1]
        return set().union(*(slots for _, slots in self.tiers))

    @cached_property
    def scores(self) -> dict[int, int]:
        scores: dict[int, int] = {}
        for score, slots in self.tiers:
            scores.update(dict.fromkeys(slots, score))
        return scores

    def tier(self, score: int) -> set[int]:
        return next((slots for s, slots in self.tiers if s == score), set())


class Texts:
    """Texts as one case-folded UTF-8 byte string, so that a search is one C-level
    ``bytes.find`` scan (~2 GB/s) rather than a call per text. Texts are numbered by slot.

    With ``words``, ASCII punctuation becomes spaces and every text starts with one, so
    ``b" " + needle`` finds the needle only at the start of a word without a regex (``re``
    cannot skip ahead to a ``\\b`` pattern and is ~20x slower over 140 MB of abstracts).
    """

    def __init__(self, texts: Iterable[str], words: bool) -> None:
        self._words = words
        self._blob = b""
        self._pending: list[bytes] = []
        #: Offset of text n; the last entry is the end of the blob.
        self._starts = [0]
        self.extend(texts)

    def extend(self, texts: Iterable[str]) -> None:
        """Append texts; joined on the next search, so importing many files stays linear."""
        starts = self._starts
        for text in texts:
            part = fold(text).encode()
            part = b" " + part.translate(_SPACES) + b"\n" if self._words else part + b"\n"
            self._pending.append(part)
            starts.append(starts[-1] + len(part))

    def find(self, needle: str, within: Collection[int] | None = None) -> set[int]:
        """Slots of the texts containing ``needle`` (only among ``within`` when given)."""
        pattern = needle.encode()
        if self._words:
            pattern = b" " + pattern.translate(_SPACES).strip()
        if self._pending:
            self._blob = b"".join([self._blob, *self._pending])
            self._pending = []
        blob, starts = self._blob, self._starts
        if within is not None and len(within) * _BYTES_PER_CHECK < len(blob):
            return {n for n in within if blob.find(pattern, starts[n], starts[n + 1]) >= 0}
        found: set[int] = set()
        at = blob.find(pattern)
        while at >= 0:
            slot = bisect_right(starts, at) - 1
            found.add(slot)
            at = blob.find(pattern, starts[slot + 1])
        return found
