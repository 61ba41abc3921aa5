"""The query language: one meaning behind `list QUERY`, `export QUERY` and the TUI filter.

Language (case-insensitive; a leading ``-`` negates any term):

* free words, ``mamba tiem seires``: every word must match a title word or a tag, exactly,
  as a prefix (``permut``, so results follow the typing) or with a typo (one from 4 letters,
  two from 8). Words of 1–3 letters never match by typo: they would match everything.
* ``"exact phrase"``: a literal substring of the title.
* ``abstract:word`` or ``abstract:"a phrase"``: in the abstract, starting at a word, no typos;
  ``in:abstract`` lets every free word match in the abstract as well.
* filters: ``tag:NAME``, ``is:new|later|read|skipped|snoozed`` (the status today),
  ``is:resurfaced``, ``is:unread`` (not read), ``is:noted|tagged``, ``has:code``, ``seen:N``
  (also ``>=N``, ``>N``, ``<=N``, ``<N``), ``digest:NAME`` (a digest name prefix, or its
  date written loosely: ``digest:"Mar 13"``, ``digest:apr``, ``digest:2024-03-13``; the year
  only narrows when the digest's date has one), ``digest:latest`` (the last imported).
* metadata from the Daily Papers API: ``author:NAME`` (a surname, matched like a title
  word: exactly, as a prefix or with a typo; ``author:"geoffrey hinton"``: the other words
  match any part of an author's name) and ``upvotes:N`` (compared like ``seen:``).

Filters only narrow. Free words rank: an exact title first, then the sum of word scores
(exact > prefix > typo > abstract only); ties keep the default order, ``Library.ordered()``.

The index that answers queries is :mod:`readinglist.search`.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from readinglist.errors import QueryError
from readinglist.model import MONTH_NAMES, STATUSES, normalise_tag

#: Hosts whose links count as code for ``has:code`` (``gitlab.*`` is matched separately).
CODE_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org", "codeberg.org"})

#: Every filter and how it is written: the one help text of the query language.
FILTERS = {
    "tag": "tag:NAME",
    "is": "is:new, is:later, is:read, is:skipped, is:snoozed, is:resurfaced, is:unread, "
    "is:noted or is:tagged",
    "has": "has:code",
    "seen": "seen:N, seen:>=N, seen:>N, seen:<=N or seen:<N",
    "author": 'author:SURNAME or author:"first last" (typos ok)',
    "upvotes": "upvotes:N, upvotes:>=N, upvotes:>N, upvotes:<=N or upvotes:<N",
    "digest": 'digest:NAME, digest:"Mar 13", digest:apr, digest:2024-03-13 or digest:latest',
    "abstract": 'abstract:WORD or abstract:"a phrase"',
    "in": "in:abstract",
}
_IS_VALUES = (*STATUSES, "resurfaced", "unread", "noted", "tagged")
_TOKEN_RE = re.compile(r'(-?)(?:([^\W\d_]+):)?(?:"([^"]*)"?|([^\s"]+))?')
#: Shortest word matched with a typo, and from which length two typos are allowed.
TYPO_MIN, TWO_TYPOS_MIN = 4, 8
_WORD_RE = re.compile(r"[^\W_]+")
_MARKS_RE = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_MONTHS = tuple(month.casefold() for month in MONTH_NAMES)
_LOOSE_DATE_RE = re.compile(r"([a-z]{3})[a-z]*\.?(?:\s+(\d{1,2}))?(?:,?\s*(\d{4}))?")
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")
_HOST_RE = re.compile(r"https?://([^/?#:\s]+)", re.IGNORECASE)
_SEEN_RE = re.compile(r"(>=|<=|>|<)?(\d+)")
_COMPARE: dict[str | None, Callable[[int, int], bool]] = {
    None: operator.eq,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


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
    """The form both texts and queries are compared in: case, compatibility forms and
    diacritics folded, so ``resume`` finds "Résumé" (and ``résumé`` finds "Resume")."""
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return unicodedata.normalize("NFC", _MARKS_RE.sub("", decomposed))


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
            if field in FILTERS:
                term = _filter_term(field, quoted if quoted is not None else bare or "", negated)
                if term is None:
                    in_abstract = True
                else:
                    terms.append(term)
                continue
            if quoted is not None or bare:
                known = " ".join(f"{f}:" for f in FILTERS)
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
        raise QueryError(f"{field}: needs a value: {FILTERS[field]}")
    if field == "tag":
        value = normalise_tag(value)
    elif field in ("digest", "abstract"):
        value = fold(value)
    elif field == "author":
        value = " ".join(words_of(value))
    elif field in ("seen", "upvotes"):
        count_test(field, value)
    else:
        value = value.casefold()
        allowed = {"is": _IS_VALUES, "has": ("code",), "in": ("abstract",)}[field]
        if value not in allowed:
            raise QueryError(f"{field}:{raw}: expected {FILTERS[field]}")
        if field == "in":
            if negated:
                raise QueryError("in:abstract cannot be negated; use -abstract:WORD")
            return None
        if value == "unread":
            return Term("is", "read", not negated)
        if value == "new":  # everything not decided: kept as an exclusion, not a 100k set
            return Term("is", "decided", not negated)
    if not value:
        raise QueryError(f"{field}:{raw}: expected {FILTERS[field]}")
    return Term(field, value, negated)


def count_test(field: str, value: str) -> Callable[[int], bool]:
    """``seen:`` or ``upvotes:`` value → a test on a paper's count."""
    match = _SEEN_RE.fullmatch(value)
    if match is None:
        raise QueryError(f"{field}:{value}: expected {FILTERS[field]}")
    compare, count = _COMPARE[match[1]], int(match[2])
    return lambda found: compare(found, count)


LooseDate = tuple[int | None, int, int | None]


def word_matches(query: str, word: str) -> bool:
    """Whether query word ``query`` matches text word ``word`` (both folded): exactly, as a
    prefix, or with the typos its length allows. The index answers the same rule in bulk;
    this is for one word, e.g. to highlight what matched."""
    if word.startswith(query):
        return True
    if len(query) < TYPO_MIN:
        return False
    typos = 1 if len(query) < TWO_TYPOS_MIN else 2
    from rapidfuzz.distance import OSA  # here: ~17 ms of every start that never searches

    return abs(len(word) - len(query)) <= typos and OSA.distance(query, word) <= typos


def loose_date(text: str) -> LooseDate | None:
    """(year, month, day) of ``Mar 13``, ``march 13, 2024``, ``apr``, ``2024-04-02`` or
    ``2024-04``; None for anything else. Year and day may be unknown (None)."""
    text = " ".join(fold(text).split())
    if iso := _ISO_DATE_RE.fullmatch(text):
        month = int(iso[2])
        return (int(iso[1]), month, int(iso[3]) if iso[3] else None) if 1 <= month <= 12 else None
    match = _LOOSE_DATE_RE.fullmatch(text)
    if match is None or match[1] not in _MONTHS:
        return None
    day = int(match[2]) if match[2] else None
    return (int(match[3]) if match[3] else None, _MONTHS.index(match[1]) + 1, day)


def date_matches(wanted: LooseDate, found: LooseDate) -> bool:
    """``found`` (a digest's date) is the day or month ``wanted`` names; an unknown year
    on either side matches any year."""
    year, month, day = wanted
    return (
        month == found[1]
        and (day is None or day == found[2])
        and (year is None or found[0] is None or year == found[0])
    )


def has_code(links: Iterable[str]) -> bool:
    """Whether any of a paper's links points at a code host."""
    for link in links:
        match = _HOST_RE.match(link)
        host = match[1].casefold().removeprefix("www.") if match else ""
        if host in CODE_HOSTS or host.startswith("gitlab."):
            return True
    return False
