"""The search engine: answers a parsed query over one catalog, fast enough per keystroke.

Why it is shaped like this: the TUI runs a query on every keystroke, at up to 100k papers.
The catalog holds an inverted index of title words (word → papers), so a keystroke costs a
vocabulary lookup (bisect for prefixes, rapidfuzz for typos, cached per word because typing
extends one word at a time), C-level set operations and one sort of ints. Reading state
changes with every triage key, so it is never indexed: it is re-read once per state version.
Abstracts (~140 MB at 100k papers) stay in the digest files until a query needs them; then
they are kept as case-folded bytes and scanned in C.

An engine is made for one :class:`~readinglist.catalog.Catalog` (a few ms: the index is the
catalog's) and, like it, never changes what it answers from: an import makes a new catalog
and so a new engine.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain, compress, count, filterfalse, repeat
from typing import Any

from readinglist.bibtex import split_name
from readinglist.catalog import Catalog
from readinglist.columns import lengths, memberships, present
from readinglist.model import STATUSES, Digest, PaperState, paper_id, today
from readinglist.query import (
    TYPO_MIN,
    Term,
    count_test,
    date_matches,
    has_code,
    loose_date,
    parse_query,
    words_of,
)
from readinglist.reading import FirstKeys, Found, Letters, Numbered, Reading
from readinglist.subset import AllBut
from readinglist.textindex import (
    EXACT,
    IN_ABSTRACT,
    PREFIX,
    IntLists,
    Match,
    Texts,
    WordIndex,
)

#: ``seen:`` counts are kept a byte each (tested in C); this one stands for itself and any
#: more, whose papers are tested again on their whole count.
SEEN_CAP = 255
#: A ``bytes.translate`` table: 1 for :data:`SEEN_CAP`, 0 for any other count.
_CAPPED = bytes(SEEN_CAP) + bytes([1])


@dataclass(frozen=True, slots=True)
class _States:
    """Slot sets derived from reading state, valid for one state version on one day (a
    snooze that runs out makes a paper new again without any change being saved)."""

    version: tuple[int, str]
    flags: dict[str, set[int]]
    tags: dict[str, set[int]]
    tag_words: WordIndex
    #: Word → its title match merged with its tag match, for words that match a tag.
    merged: dict[str, Match]


# ---------------------------------------------------------------------------- engine


class SearchEngine:
    """Answers queries over one catalog.

    Everything the index holds and every set a query builds is in *slots* (the catalog's
    numbering). Only the final results are translated to *numbers*, positions in the
    default order, so that ordering them is sorting small ints.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._slots = catalog.slots
        self._titles = WordIndex(IntLists(catalog.postings))
        # Built on first use (phrase, abstract, has:code, author: queries), not at start.
        self._title_texts: Texts | None = None
        self._abstract_texts: Texts | None = None
        self._code: list[int] | None = None
        self._with_meta: list[int] | None = None
        self._authors: tuple[WordIndex, WordIndex] | None = None
        self._votes: dict[int, int] | None = None
        self._seen: bytes | None = None
        self._digests: dict[int, list[int]] | None = None
        self._pids = catalog.ordered_ids  # number → id: the default order
        self._number = [0] * len(catalog.ids)  # slot → number
        for number, slot in enumerate(catalog.order):
            self._number[slot] = number
        self._states: _States | None = None
        #: The last ``among`` asked for (the inbox), whether the slots kept for it are
        #: those outside it, and those slots (see ``_among_slots``).
        self._among: tuple[Collection[str], bool, set[int]] | None = None
        self._titles.vocabulary()  # sorted here, in the loading worker, not on a keystroke

    def prepare(self, states: Mapping[str, PaperState], version: int) -> None:
        """Derive the slot sets of this reading state now: in the worker that builds the
        index rather than on the app's first query (~15 ms at 100k with 5,000 states)."""
        self._state(states, version)

    def _state(self, states: Mapping[str, PaperState], version: int) -> _States:
        key = (version, today())
        if self._states is None or self._states.version != key:
            day = key[1]
            names = ("decided", *STATUSES, "resurfaced", "noted", "tagged")
            flags: dict[str, set[int]] = {name: set() for name in names}
            tags: dict[str, set[int]] = {}
            # Only papers with any state are in ``states`` (the rest are EMPTY_STATE). It may
            # name papers the catalog lacks (say, restored from an older backup): skipped.
            for pid, state in states.items():
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
                    tags.setdefault(tag, set()).add(slot)
            tag_words = WordIndex()
            # A tag's words once per tag, not per paper (20 → ~10 ms of each state version
            # at 100k papers with 3,333 tagged: the first query, and the first after a key).
            tag_words.add_shared((slots, words_of(tag)) for tag, slots in tags.items())
            self._states = _States(key, flags, tags, tag_words, {})
        return self._states

    def _titles_text(self) -> Texts:
        if self._title_texts is None:
            self._title_texts = Texts(self.catalog.titles, words=False)
        return self._title_texts

    def _with_code(self) -> list[int]:
        if self._code is None:
            self._code = _code_slots(self.catalog)
        return self._code

    def _meta_slots(self) -> list[int]:
        if self._with_meta is None:
            self._with_meta = list(present(self.catalog.meta))
        return self._with_meta

    def _upvote_counts(self) -> dict[int, int]:
        """Slot → upvotes: read once, as each paper's metadata is decoded on its own (not
        on every key of ``upvotes:>N``)."""
        if self._votes is None:
            self._votes = _upvotes(self.catalog)
        return self._votes

    def _author_words(self) -> tuple[WordIndex, WordIndex]:
        if self._authors is None:
            metas = self.catalog.meta
            self._authors = (WordIndex(), WordIndex())
            _index_authors(self._authors, [(s, metas[s] or {}) for s in self._meta_slots()])
        return self._authors

    def _abstracts(self) -> Texts:
        if self._abstract_texts is None:
            self._abstract_texts = Texts(self.catalog.all_abstracts(), words=True)
        return self._abstract_texts

    def _seen_counts(self) -> bytes:
        if self._seen is None:
            self._seen = _count_seen(self.catalog)
        return self._seen

    def _digest_slots(self) -> dict[int, list[int]]:
        if self._digests is None:
            self._digests = _digest_slots(self.catalog)
        return self._digests

    # ------------------------------------------------------------ answering

    def search(
        self, text: str, states: Mapping[str, PaperState] | None = None, version: int = 0
    ) -> list[str]:
        """Ids matching ``text``, best first (see :mod:`readinglist.query` for the
        language); ``states``: the reading state at ``version`` (``Library.stateful()``)."""
        return list(self.find(text, states, version))

    def find(
        self,
        text: str,
        states: Mapping[str, PaperState] | None = None,
        version: int = 0,
        among: Collection[str] | None = None,
    ) -> Found:
        """:meth:`search`, as a :class:`Found`, only among the papers ``among`` (say, the
        inbox) when given. Never change ``among`` after: what it holds is kept, by identity,
        for the next query (making it slots costs a pass over it)."""
        query = parse_query(text)
        state = self._state(states or {}, version)
        scoring: list[Match] = []
        positive: list[Collection[int]] = []
        banned: set[int] = set()
        inside: Collection[int] | None = None
        if among is not None:
            outside, kept = self._among_slots(among)
            if outside:
                banned.update(kept)
            else:
                inside = kept
                positive.append(inside)
        # Terms that scan text run last, over what the index terms left.
        scanned = {"phrase", "abstract", "word"} if query.in_abstract else {"phrase", "abstract"}
        # Wanted short prefixes wait for the other terms' candidates (see ``_word_among``).
        broad: list[Term] = []
        for term in query.terms:
            if term.field in scanned:
                continue
            if term.field == "word":
                if not term.negated and any(map(self._broad, term.value.split(" "))):
                    broad.append(term)
                    continue
                matches = [self._word(word, state) for word in term.value.split(" ")]
                found = _common([m.slots for m in matches])
                scoring += [] if term.negated else matches
            else:
                found = self._filter(term, state)
            if term.negated:
                banned.update(found)
            else:
                positive.append(found)
        for term in broad:
            narrowed = [found for found in positive if found is not inside]
            within = _common(narrowed) if narrowed else None
            matches = [
                self._word_among(word, state, within)
                if within is not None and self._among_is_cheaper(word, len(within))
                else self._word(word, state)
                for word in term.value.split(" ")
            ]
            positive.append(_common([m.slots for m in matches]))
            scoring += matches
        slots = self._slots
        # The candidates are ``base`` minus ``banned``. ``base`` is a set shared with the
        # lookup cache when one word is all there is (never change it): copying it cost a
        # pass over up to 100k slots per key for a one-letter word.
        base = _common(positive) if positive else None
        if base is not None and not isinstance(base, (set, frozenset)):
            base = set(base)
        for term in query.terms:
            if term.field not in scanned:
                continue
            within = None if base is None else set(base).difference(banned)
            found = self._scan(term, state, within)
            if term.negated:
                banned |= found
            else:
                base = found if base is None else found.intersection(base)
                if term.field == "word":
                    scoring.append(self._word(term.value, state))
        candidates = base

        def contains(pid: str) -> bool:
            slot = slots.get(pid)
            in_base = candidates is None or slot in candidates
            return slot is not None and in_base and slot not in banned

        if candidates is None:  # nothing but exclusions: the default order, minus those
            ids = _without(self._pids, sorted(map(self._number.__getitem__, banned)))
            return Answer(ids, contains, self, candidates, banned)

        exact = slots.get(paper_id(" ".join(query.words)), -1) if query.words else -1
        ranked = self._ranked(candidates, banned, scoring, query.in_abstract)
        if exact in candidates and exact not in banned:
            ranked.remove(self._number[exact])  # near the top: in the exact tier
            ranked.insert(0, self._number[exact])
        return Answer(Numbered(self._pids, ranked), contains, self, candidates, banned)

    def _among_slots(self, among: Collection[str]) -> tuple[bool, set[int]]:
        """The slots of the papers outside ``among`` (True) or of those in it (False),
        whichever are fewer; kept for the next call with the same ``among`` (the inbox,
        asked for on every filter key)."""
        if self._among is None or self._among[0] is not among:
            slots, size = self._slots, len(self._pids)
            if isinstance(among, AllBut) and among.catalog is self.catalog:
                # A pass over the few left out, not the ~100k in (65 → ~10 ms at 100k), and
                # no set of those in: it took 5-9 ms of the first key after a decision.
                outside, kept = True, set(map(slots.__getitem__, among.left_out))
            else:
                outside, kept = False, {s for pid in among if (s := slots.get(pid)) is not None}
            if len(kept) * 2 > size:  # the others are fewer
                outside, kept = not outside, set(range(size)).difference(kept)
            self._among = (among, outside, kept)
        return self._among[1], self._among[2]

    def _ranked(
        self, base: Collection[int], banned: set[int], scoring: list[Match], in_abstract: bool
    ) -> list[int]:
        """The numbers of the candidates (``base`` minus ``banned``): best total score
        first, ties in the default order."""
        number = self._number.__getitem__
        if len(scoring) == 1:
            # One word, by far the commonest and largest case: its tiers, ranked once and
            # kept, filtered down to the candidates.
            match = scoring[0]
            numbers = match.ordered(self._number)
            if base is match.slots and not in_abstract:
                if not banned:
                    return list(numbers)
                # Inside C: the inbox or a negated word leaves out a few of up to 100k.
                left_out = set(map(number, banned))
                return list(filterfalse(left_out.__contains__, numbers))
            keep = set(map(number, set(base).difference(banned)))
            ranked = list(compress(numbers, map(keep.__contains__, numbers)))
            if in_abstract:  # abstract-only matches last
                rest = set(base).difference(banned, match.slots)
                ranked += sorted(map(number, rest))
            return ranked
        candidates = set(base).difference(banned)
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

    def _word(self, word: str, state: _States) -> Match:
        """What ``word`` matches in titles or tags (never mutate the result)."""
        title = self._titles.lookup(word)
        tagged = state.tag_words.lookup(word)
        if not tagged.tiers:
            return title
        if word not in state.merged:
            state.merged[word] = title.joined(tagged, self._number)
        return state.merged[word]

    def _broad(self, word: str) -> bool:
        """Whether ``word`` is a short prefix not looked up yet: ``t`` starts thousands of
        title words, and their union took 15-40 ms of a key at 100k papers."""
        return len(word) < TYPO_MIN and not self._titles.cached(word)

    def first_letters(self) -> Iterator[Letters]:
        """The lookups of the one-letter words that start title words of at least 5 % of
        the papers, compact, commonest first, one letter a step (see
        :meth:`keep_first_letters`): a query's first key, which cold took ~20 ms of the key
        at 100k papers. ~13 ms a step there, small enough to take between keys as soon as
        the index is built."""
        enough = len(self._pids) // 20
        sizes = Counter(self._titles.letter_sizes())
        for letter, size in sizes.most_common():
            if size < enough:
                return
            yield self._titles.compact([letter], self._number)

    def keep_first_letters(self, kept: Letters) -> None:
        """Look the letters of ``kept`` up from it from now on, beside those kept before
        (on the thread that queries)."""
        self._titles.keep(kept)

    def first_keys(self) -> FirstKeys:
        """What the filters ``seen:``, ``digest:``, ``has:code`` and ``upvotes:`` read of
        every paper, made ready: for a worker while the reader pauses (see
        :meth:`keep_first_keys`); their first use took 25, 32, 210 and 300 ms of a key at
        100k papers fetched from the API. Not ``author:``'s index: ~2 s and ~100 MB more
        there, for a filter many readers never type."""
        catalog = self.catalog
        return FirstKeys(
            _count_seen(catalog), _digest_slots(catalog), _code_slots(catalog), _upvotes(catalog)
        )

    def keep_first_keys(self, ready: FirstKeys) -> None:
        """Answer from ``ready`` from now on (on the thread that queries)."""
        self._seen = self._seen or ready.seen
        self._digests = self._digests or ready.digests
        self._code = self._code or ready.code
        self._votes = self._votes or ready.upvotes

    def _among_is_cheaper(self, word: str, candidates: int) -> bool:
        """Whether checking a short word against ``candidates`` titles (~5 µs each) beats
        looking it up (~0.17 µs per paper of each title word it starts, at 100k papers
        ~80 % of papers for one letter, a quarter of that for each letter more)."""
        return self._broad(word) and candidates * 40 * 4 ** (len(word) - 1) <= len(self._pids)

    def _word_among(self, word: str, state: _States, within: Collection[int]) -> Match:
        """:meth:`_word` as far as ``within`` goes (a few candidates the other terms left),
        from their titles' words; a word this short has no typo matches. Not cached: it
        is only ever part of the answer. The query ``mamba t``: 43 → 10 ms at 100k papers."""
        titles, start = self.catalog.titles, " " + word
        exact: list[int] = []
        prefixed: list[int] = []
        for slot in within:
            words = words_of(titles[slot])
            if word in words:
                exact.append(slot)
            elif start in " " + " ".join(words):  # C-level: a third of a loop's cost
                prefixed.append(slot)
        title = Match([(EXACT, exact), (PREFIX, prefixed)])
        tagged = state.tag_words.lookup(word)
        if not tagged.tiers:
            return title
        return Match(
            (s, title.tier(s) | tagged.tier(s).intersection(within)) for s in (EXACT, PREFIX)
        )

    def _scan(self, term: Term, state: _States, within: set[int] | None) -> set[int]:
        """Matches of a phrase, ``abstract:`` or ``in:abstract`` word, among ``within``."""
        if term.field == "phrase":
            return self._titles_text().find(term.value, within)
        if term.field == "abstract":
            return self._abstracts().find(term.value, within)
        found: set[int] | None = None
        for word in term.value.split(" "):
            matched = self._word(word, state).slots
            rest = None if within is None else within - matched
            hits = self._abstracts().find(word, rest) | matched
            found = hits if found is None else found & hits
        return found or set()

    def _digests_named(self, value: str) -> list[int]:
        digests = self.catalog.digests
        if value == "latest":
            return [max(range(len(digests)), key=lambda n: digests[n].seq)] if digests else []
        matches = _digest_finder(value)
        return [n for n, d in enumerate(digests) if matches(d)]

    def _filter(self, term: Term, state: _States) -> Collection[int]:
        if term.field == "tag":
            return state.tags.get(term.value, set())
        if term.field == "is":
            return state.flags[term.value]
        if term.field == "has":
            return self._with_code()
        if term.field == "seen":
            test = count_test("seen", term.value)
            # Each paper's count tested in C: bytes.translate by a table of the test's
            # answers (a pass in Python over 100k papers took ~25 ms of the key).
            counts = self._seen_counts()
            found = set(compress(count(), counts.translate(bytes(map(test, range(256))))))
            if SEEN_CAP in counts:  # tested again on their whole counts
                for slot in compress(count(), counts.translate(_CAPPED)):
                    if test(len(self.catalog.sightings[slot])):
                        found.add(slot)
                    else:
                        found.discard(slot)
            return found
        if term.field == "upvotes":
            test = count_test("upvotes", term.value)
            return {slot for slot, votes in self._upvote_counts().items() if test(votes)}
        if term.field == "author":
            surnames, names = self._author_words()
            *others, last = term.value.split(" ")
            return _common([surnames.lookup(last).slots, *(names.lookup(w).slots for w in others)])
        by_digest = self._digest_slots()
        numbers = self._digests_named(term.value)
        return set(chain.from_iterable(by_digest.get(n, ()) for n in numbers))


def _count_seen(catalog: Catalog) -> bytes:
    """How many digests each paper (by slot) was seen in, up to :data:`SEEN_CAP`."""
    try:
        return bytes(lengths(catalog.sightings))  # in C
    except ValueError:  # a paper seen in SEEN_CAP digests or more
        return bytes(min(times, SEEN_CAP) for times in lengths(catalog.sightings))


def _code_slots(catalog: Catalog) -> list[int]:
    """Slots of the papers with a link to a code host, ascending."""
    found = (slot for link, slot in memberships(catalog.links) if has_code((link,)))
    return list(dict.fromkeys(found))


def _upvotes(catalog: Catalog) -> dict[int, int]:
    """Slot → upvotes, of the papers the API counted them for (every paper's metadata
    decoded: ~0.25 s at 100k fetched papers)."""
    metas = catalog.meta
    found = ((slot, (metas[slot] or {}).get("upvotes")) for slot in present(metas))
    return {slot: votes for slot, votes in found if votes is not None}


def _digest_slots(catalog: Catalog) -> dict[int, list[int]]:
    """Slots by the digests (numbers) they were seen in."""
    digests: dict[int, list[int]] = {}
    for number, slot in memberships(catalog.sightings):
        digests.setdefault(number, []).append(slot)
    return digests


class Answer(Found):
    """What :meth:`SearchEngine.find` answers: a :class:`Found` that also counts its
    papers' statuses from the engine's slot sets (:meth:`status_counts`)."""

    def __init__(
        self,
        ids: Sequence[str],
        contains: Callable[[str], bool],
        engine: SearchEngine,
        candidates: Collection[int] | None,
        banned: set[int],
    ) -> None:
        super().__init__(ids, contains)
        #: The answer is ``candidates`` (None: every slot) minus ``banned``.
        self._engine, self._candidates, self._banned = engine, candidates, banned

    def status_counts(self, reading: Reading) -> Counter[str] | None:
        """``reading.counts(self)``, the same Counter, as C-level set intersections of the
        slots of each status with this answer; None when ``reading`` is over another
        catalog. The app's status line counts its view on every filter key: a membership
        test per paper with a state took ~13 ms of each key at 100k papers (5,000 states).
        """
        engine = self._engine
        if reading.catalog is not engine.catalog:
            return None
        flags = engine._state(reading.stateful(), reading.version).flags
        found: Counter[str] = Counter()
        candidates, banned = self._candidates, self._banned
        for status in STATUSES[1:]:  # "new": what the others leave
            slots = flags[status] if candidates is None else flags[status].intersection(candidates)
            if count := len(slots.difference(banned) if banned else slots):
                found[status] = count
        found["new"] = len(self) - found.total()
        return found


def _index_authors(
    index: tuple[WordIndex, WordIndex], metas: list[tuple[int, dict[str, Any]]]
) -> None:
    """Add papers' authors: the words of each surname (``van der Maaten``: all three), and
    of each whole name, to the surname and name indexes."""
    surnames, names = index
    authors = [(slot, meta.get("authors", ())) for slot, meta in metas]
    # Each name once: authors recur across papers (a library fetched from the API: ~550k
    # names of ~5 per paper at 100k papers, each split into words in ~5 µs).
    surname_words, name_words = cache(_surname_words), cache(words_of)
    surnames.add((slot, [w for a in each for w in surname_words(a)]) for slot, each in authors)
    names.add((slot, [w for a in each for w in name_words(a)]) for slot, each in authors)


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
