"""The query language and its search index: one engine behind `list`, `export` and the TUI.

Language (case-insensitive; a leading ``-`` negates any term):

* free words, ``mamba tiem seires``: every word must match a title word or a tag, exactly,
  as a prefix (``permut``, so results follow the typing) or with a typo (one from 4 letters,
  two from 8). Words of 1–3 letters never match by typo: they would match everything.
* ``"exact phrase"``: a literal substring of the title.
* ``abstract:word`` or ``abstract:"a phrase"``: in the abstract, starting at a word, no typos;
  ``in:abstract`` lets every free word match in the abstract as well.
* filters: ``tag:NAME``, ``is:read|unread|noted|tagged``, ``has:code``, ``seen:N`` (also
  ``>=N``, ``>N``, ``<=N``, ``<N``), ``digest:NAME`` (a digest name prefix, or its date as in
  ``digest:"Mar 13"``).

Filters only narrow. Free words rank: an exact title first, then the sum of word scores
(exact > prefix > typo > abstract only); ties keep the default order, ``Library.ordered()``.

Why it is shaped like this: the TUI runs a query on every keystroke, at up to 100k papers.
Titles are tokenised once into an inverted index (word → paper numbers) that imports extend
in place, so a keystroke costs a vocabulary lookup (bisect for prefixes, rapidfuzz for typos,
cached per word because typing extends one word at a time), C-level set operations and one
sort of ints. Reading state changes with every key press, so it is never indexed: it is
re-read once per ``Library.version``. Abstracts (~140 MB at 100k papers) would take seconds
to tokenise, so they are kept as case-folded bytes, built on first use, and scanned in C.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, compress, repeat
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import OSA

from readinglist.errors import QueryError
from readinglist.model import EMPTY_STATE, Paper, normalise_tag, paper_id

if TYPE_CHECKING:
    from readinglist.library import Library

#: Word scores; a paper's score is the sum over the query's free words.
EXACT, PREFIX, TYPO, IN_ABSTRACT = 4, 3, 2, 1
#: Shortest word matched with a typo, and from which length two typos are allowed.
TYPO_MIN, TWO_TYPOS_MIN = 4, 8
#: Hosts whose links count as code for ``has:code`` (``gitlab.*`` is matched separately).
CODE_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org", "codeberg.org"})
_LAST_CHAR = "\U0010ffff"

_FILTERS = {
    "tag": "tag:NAME",
    "is": "is:read, is:unread, is:noted or is:tagged",
    "has": "has:code",
    "seen": "seen:N, seen:>=N, seen:>N, seen:<=N or seen:<N",
    "digest": 'digest:NAME or digest:"Mar 13"',
    "abstract": 'abstract:WORD or abstract:"a phrase"',
    "in": "in:abstract",
}
_IS_VALUES = ("read", "unread", "noted", "tagged")
_TOKEN_RE = re.compile(r'(-?)(?:([^\W\d_]+):)?(?:"([^"]*)"?|([^\s"]+))?')
_WORD_RE = re.compile(r"[^\W_]+")
_HOST_RE = re.compile(r"https?://([^/?#:\s]+)", re.IGNORECASE)
_SEEN_RE = re.compile(r"(>=|<=|>|<)?(\d+)")
_COMPARE: dict[str | None, Callable[[int, int], bool]] = {
    None: operator.eq,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
#: Maps ASCII punctuation and spaces to spaces; letters, digits, newlines and UTF-8 stay.
_SPACES = bytes(b if b >= 0x80 or b == 0x0A or chr(b).isalnum() else 0x20 for b in range(256))


# ---------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Term:
    """One part of a query. ``field`` is ``word``, ``phrase`` or a filter name.

    A negated free token keeps all its words in one term (``-arm-net`` excludes papers
    matching both ``arm`` and ``net``); a positive one becomes a term per word, for scoring.
    """

    field: str
    value: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]
    in_abstract: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        """The free words that rank results."""
        return tuple(t.value for t in self.terms if t.field == "word" and not t.negated)


def fold(text: str) -> str:
    """The case- and compatibility-insensitive form both texts and queries are compared in."""
    return unicodedata.normalize("NFKC", text).casefold()


def words_of(text: str) -> list[str]:
    """The words of a title or a query, split exactly as ``model.title_key`` splits titles."""
    return _WORD_RE.findall(fold(text))


def parse_query(text: str) -> Query:
    """Parse ``text``; raise :class:`QueryError` (one line) for unknown filters or values.

    A quote left open while typing runs to the end. ``Word:`` with nothing after it is a
    word, not an unknown filter, so pasted titles like ``Order Matters: …`` work.
    """
    terms: list[Term] = []
    in_abstract = False
    for match in _TOKEN_RE.finditer(text):
        negated, name, quoted, bare = match.group(1) == "-", match[2], match[3], match[4]
        if name is not None:
            field = name.casefold()
            if field in _FILTERS:
                term = _filter_term(field, quoted if quoted is not None else bare or "", negated)
                if term is None:
                    in_abstract = True
                else:
                    terms.append(term)
                continue
            if quoted is not None or bare:
                known = " ".join(f"{f}:" for f in _FILTERS)
                raise QueryError(f"unknown filter {field + ':'!r}; known filters: {known}")
            bare = name
        if quoted is not None:
            phrase = " ".join(fold(quoted).split())
            if phrase:
                terms.append(Term("phrase", phrase, negated))
        elif bare and (words := words_of(bare)):
            if negated:
                terms.append(Term("word", " ".join(words), True))
            else:
                terms += [Term("word", word) for word in words]
    return Query(tuple(terms), in_abstract)


def _filter_term(field: str, raw: str, negated: bool) -> Term | None:
    """A validated filter term; ``None`` for ``in:abstract``, which is a switch."""
    value = " ".join(raw.split())
    if not value:
        raise QueryError(f"{field}: needs a value: {_FILTERS[field]}")
    if field == "tag":
        value = normalise_tag(value)
    elif field in ("digest", "abstract"):
        value = fold(value)
    elif field == "seen":
        seen_test(value)
    else:
        value = value.casefold()
        allowed = {"is": _IS_VALUES, "has": ("code",), "in": ("abstract",)}[field]
        if value not in allowed:
            raise QueryError(f"{field}:{raw}: expected {_FILTERS[field]}")
        if field == "in":
            if negated:
                raise QueryError("in:abstract cannot be negated; use -abstract:WORD")
            return None
        if value == "unread":
            return Term("is", "read", not negated)
    if not value:
        raise QueryError(f"{field}:{raw}: expected {_FILTERS[field]}")
    return Term(field, value, negated)


def seen_test(value: str) -> Callable[[int], bool]:
    """``seen:`` value → a test on a paper's sighting count."""
    match = _SEEN_RE.fullmatch(value)
    if match is None:
        raise QueryError(f"seen:{value}: expected {_FILTERS['seen']}")
    compare, count = _COMPARE[match[1]], int(match[2])
    return lambda seen: compare(seen, count)


def has_code(paper: Paper) -> bool:
    """Whether any of the abstract's links points at a code host."""
    for link in paper.links:
        match = _HOST_RE.match(link)
        host = match[1].casefold().removeprefix("www.") if match else ""
        if host in CODE_HOSTS or host.startswith("gitlab."):
            return True
    return False


# ---------------------------------------------------------------------------- indexes


class _WordIndex:
    """Word → paper numbers, with a cached lookup scoring exact, prefix and typo matches."""

    def __init__(self) -> None:
        self.postings: dict[str, list[int]] = {}
        self._sorted: list[str] | None = None
        #: Words long enough for typo matching, by length, so rapidfuzz only sees candidates
        #: whose length is within the typo allowance.
        self._by_length: dict[int, list[str]] = defaultdict(list)
        self.lookup = lru_cache(maxsize=256)(self._lookup)

    def add(self, entries: Iterable[tuple[int, Iterable[str]]]) -> None:
        postings = self.postings
        for number, words in entries:
            for word in set(words):
                posting = postings.get(word)
                if posting is None:
                    postings[word] = [number]
                    if len(word) >= TYPO_MIN:
                        self._by_length[len(word)].append(word)
                else:
                    posting.append(number)
        self._sorted = None
        self.lookup.cache_clear()

    def renumber(self, new: list[int]) -> None:
        """Replace every number n by ``new[n]``."""
        for word, numbers in self.postings.items():
            self.postings[word] = list(map(new.__getitem__, numbers))
        self.lookup.cache_clear()

    def _lookup(self, word: str) -> _Match:
        """The papers ``word`` matches (shared by the cache: never mutate it)."""
        if self._sorted is None:
            self._sorted = sorted(self.postings)
        vocabulary, postings = self._sorted, self.postings
        near: list[str] = []
        if len(word) >= TYPO_MIN:
            typos = 1 if len(word) < TWO_TYPOS_MIN else 2
            lengths = range(len(word) - typos, len(word) + typos + 1)
            choices = list(chain.from_iterable(self._by_length.get(n, ()) for n in lengths))
            found = process.extract(
                word, choices, scorer=OSA.distance, score_cutoff=typos, limit=None
            )
            near = [choice for choice, _, _ in found]
        start = bisect_left(vocabulary, word)
        prefixed = vocabulary[start : bisect_left(vocabulary, word + _LAST_CHAR, start)]
        return _match(
            [
                (EXACT, postings.get(word, ())),
                (PREFIX, chain.from_iterable(map(postings.__getitem__, prefixed))),
                (TYPO, chain.from_iterable(map(postings.__getitem__, near))),
            ]
        )


@dataclass(frozen=True, slots=True)
class _Match:
    """The papers one word matches: number → best score, and the numbers grouped by score.

    ``groups`` (best score first, numbers ascending, i.e. in the default order) is what makes
    a one-word query cheap: its results are these lists, filtered, with nothing to sort.
    """

    scores: dict[int, int]
    groups: tuple[tuple[int, list[int]], ...]

    def group(self, score: int) -> list[int]:
        return next((numbers for s, numbers in self.groups if s == score), [])


def _match(tiers: Iterable[tuple[int, Iterable[int]]]) -> _Match:
    """A match from (score, numbers) pairs given best score first; each number keeps its best."""
    scores: dict[int, int] = {}
    groups: list[tuple[int, list[int]]] = []
    for score, numbers in tiers:
        fresh = set(numbers).difference(scores)
        if fresh:
            scores.update(dict.fromkeys(fresh, score))
            groups.append((score, sorted(fresh)))
    return _Match(scores, tuple(groups))


class _Texts:
    """Case-folded UTF-8 texts, one per paper number, searched by C-level ``bytes`` scans.

    With ``words``, ASCII punctuation becomes spaces and every text starts with one, so
    ``b" " + needle`` finds the needle only at the start of a word without a regex (``re``
    cannot skip ahead to a ``\\b`` pattern and is ~20x slower over 140 MB of abstracts).
    """

    def __init__(self, texts: Iterable[str], words: bool) -> None:
        self._words = words
        self._items: list[bytes] = []
        self.extend(texts)

    def extend(self, texts: Iterable[str]) -> None:
        if self._words:
            self._items += [b" " + fold(text).encode().translate(_SPACES) for text in texts]
        else:
            self._items += [fold(text).encode() for text in texts]

    def reorder(self, old: list[int]) -> None:
        """Text n becomes the one that was number ``old[n]``."""
        self._items = list(map(self._items.__getitem__, old))

    def find(self, needle: str, within: Collection[int] | None = None) -> set[int]:
        """Numbers of the texts containing ``needle`` (only among ``within`` when given)."""
        pattern = needle.encode()
        if self._words:
            pattern = b" " + pattern.translate(_SPACES).strip()
        numbers: Iterable[int] = range(len(self._items)) if within is None else list(within)
        texts = self._items if within is None else map(self._items.__getitem__, numbers)
        return set(compress(numbers, map(operator.contains, texts, repeat(pattern))))


@dataclass(frozen=True, slots=True)
class _States:
    """Sets derived from reading state, valid for one ``Library.version``."""

    version: int
    flags: dict[str, set[int]]
    tags: dict[str, set[int]]
    tag_words: _WordIndex
    #: Word → its title match merged with its tag match, for words that match a tag.
    merged: dict[str, _Match]


# ---------------------------------------------------------------------------- engine


class SearchEngine:
    """Answers queries over one library; built once, extended on import, reused per keystroke.

    A paper's number is its position in the default order, so putting results in that
    order is sorting small ints. An import changes the order; the next query then renumbers
    the index (a C-level pass over the postings) instead of tokenising every title again.
    """

    def __init__(self, library: Library) -> None:
        self.library = library
        #: The dict this index covers; the library drops the engine when it replaces it.
        self.papers = library.papers
        self._order = library.ordered()
        self._pids: list[str] = []
        self._numbers: dict[str, int] = {}
        self._titles = _WordIndex()
        self._title_texts = _Texts((), words=False)
        self._abstract_texts: _Texts | None = None
        self._code: set[int] = set()
        self._seen: dict[int, set[int]] = {}
        self._digests: dict[str, list[int]] = {}
        self._states: _States | None = None
        self._add([self.papers[pid] for pid in self._order])

    # ------------------------------------------------------------ building

    def add(self, digest_id: str, new: Iterable[str], again: Iterable[str]) -> None:
        """Index one imported digest: its new papers, and new sightings of known ones.

        New papers are numbered after the known ones until the next query renumbers.
        """
        self._add([self.papers[pid] for pid in new])
        for pid in again:
            number, seen = self._numbers[pid], self.papers[pid].seen
            self._seen[seen - 1].discard(number)
            self._seen.setdefault(seen, set()).add(number)
            self._digests.setdefault(digest_id, []).append(number)

    def _add(self, papers: list[Paper]) -> None:
        first = len(self._pids)
        for number, paper in enumerate(papers, first):
            self._pids.append(paper.id)
            self._numbers[paper.id] = number
            self._seen.setdefault(paper.seen, set()).add(number)
            for digest in paper.digests:
                self._digests.setdefault(digest, []).append(number)
            if has_code(paper):
                self._code.add(number)
        self._titles.add((n, words_of(p.title)) for n, p in enumerate(papers, first))
        self._title_texts.extend(p.title for p in papers)
        if self._abstract_texts is not None:
            self._abstract_texts.extend(p.abstract for p in papers)

    def _sync(self) -> None:
        """Renumber the index when an import changed the default order."""
        order = self.library.ordered()
        if order is self._order:
            return
        if order != self._pids:
            old = list(map(self._numbers.__getitem__, order))
            new = [0] * len(old)
            for number, previous in enumerate(old):
                new[previous] = number
            renumber = new.__getitem__
            self._titles.renumber(new)
            for texts in (self._title_texts, self._abstract_texts):
                if texts is not None:
                    texts.reorder(old)
            self._code = set(map(renumber, self._code))
            self._seen = {seen: set(map(renumber, ns)) for seen, ns in self._seen.items()}
            self._digests = {d: list(map(renumber, ns)) for d, ns in self._digests.items()}
            self._pids = list(order)
            self._numbers = dict(zip(order, range(len(order)), strict=True))
            self._states = None
        self._order = order

    def _state(self) -> _States:
        version = self.library.version
        if self._states is None or self._states.version != version:
            flags: dict[str, set[int]] = {"read": set(), "noted": set(), "tagged": set()}
            tags: dict[str, set[int]] = defaultdict(set)
            for number, pid in enumerate(self._pids):
                state = self.library.state(pid)
                if state is EMPTY_STATE:
                    continue
                if state.read:
                    flags["read"].add(number)
                if state.note:
                    flags["noted"].add(number)
                if state.tags:
                    flags["tagged"].add(number)
                for tag in state.tags:
                    tags[tag].add(number)
            tag_words = _WordIndex()
            tag_words.add((n, words_of(tag)) for tag, numbers in tags.items() for n in numbers)
            self._states = _States(version, flags, tags, tag_words, {})
        return self._states

    def _abstracts(self) -> _Texts:
        if self._abstract_texts is None:
            abstracts = (self.papers[pid].abstract for pid in self._pids)
            self._abstract_texts = _Texts(abstracts, words=True)
        return self._abstract_texts

    # ------------------------------------------------------------ answering

    def search(self, text: str) -> list[str]:
        """Ids matching ``text``, best first (see the module docstring for the language)."""
        query = parse_query(text)
        self._sync()
        scoring: list[_Match] = []
        positive: list[Collection[int]] = []
        banned: set[int] = set()
        # Terms that scan text run last, over what the index terms left.
        scanned = {"phrase", "abstract", "word"} if query.in_abstract else {"phrase", "abstract"}
        for term in query.terms:
            if term.field in scanned:
                continue
            if term.field == "word":
                matches = [self._word(word) for word in term.value.split(" ")]
                found = _common([m.scores for m in matches])
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
        if candidates is None:
            candidates = set(range(len(self._pids)))
        candidates -= banned
        exact = self._numbers.get(paper_id(" ".join(query.words)), -1) if query.words else -1
        head = [exact] if exact in candidates else []
        candidates.discard(exact)
        return list(map(self._pids.__getitem__, head + self._ranked(candidates, scoring)))

    def _ranked(self, candidates: set[int], scoring: list[_Match]) -> list[int]:
        """Best total score first, ties in the default order (ascending numbers)."""
        if len(scoring) == 1:
            # One word, by far the commonest and largest case: its groups are already ranked.
            # Abstract-only matches (``in:abstract``) come last.
            keep = candidates.__contains__
            ranked = [
                n for _, numbers in scoring[0].groups for n in compress(numbers, map(keep, numbers))
            ]
            return ranked + sorted(candidates.difference(scoring[0].scores))
        numbers = sorted(candidates)
        if not scoring:
            return numbers
        totals = list(
            map(
                sum,
                zip(
                    *(map(m.scores.get, numbers, repeat(IN_ABSTRACT)) for m in scoring), strict=True
                ),
            )
        )
        levels = sorted(set(totals), reverse=True)
        return [
            number
            for level in levels
            for number in compress(numbers, map(operator.eq, totals, repeat(level)))
        ]

    def _word(self, word: str) -> _Match:
        """The papers ``word`` matches in their title or tags (never mutate the result)."""
        title = self._titles.lookup(word)
        state = self._state()
        tagged = state.tag_words.lookup(word)
        if not tagged.scores:
            return title
        if word not in state.merged:
            tiers = (EXACT, PREFIX, TYPO)
            state.merged[word] = _match((s, chain(title.group(s), tagged.group(s))) for s in tiers)
        return state.merged[word]

    def _scan(self, term: Term, within: set[int] | None) -> set[int]:
        """Matches of a phrase, ``abstract:`` or ``in:abstract`` word, among ``within``."""
        if term.field == "phrase":
            return self._title_texts.find(term.value, within)
        if term.field == "abstract":
            return self._abstracts().find(term.value, within)
        found: set[int] | None = None
        for word in term.value.split(" "):
            scores = self._word(word).scores
            rest = None if within is None else within.difference(scores)
            hits = self._abstracts().find(word, rest).union(scores)
            found = hits if found is None else found & hits
        return found or set()

    def _filter(self, term: Term) -> Collection[int]:
        if term.field == "tag":
            return self._state().tags.get(term.value, set())
        if term.field == "is":
            return self._state().flags[term.value]
        if term.field == "has":
            return self._code
        if term.field == "seen":
            test = seen_test(term.value)
            return set().union(*(numbers for seen, numbers in self._seen.items() if test(seen)))
        digests = [
            d.id
            for d in self.library.digests.values()
            if d.name.casefold().startswith(term.value) or fold(d.date or "") == term.value
        ]
        return set(chain.from_iterable(self._digests.get(d, ()) for d in digests))


def _common(collections: list[Collection[int]]) -> Collection[int]:
    """The numbers in all of ``collections`` (the collection itself when there is one)."""
    if len(collections) == 1:
        return collections[0]
    smallest, *others = sorted(collections, key=len)
    return set(smallest).intersection(*others)
