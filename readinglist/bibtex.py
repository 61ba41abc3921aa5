"""Papers as BibTeX, for citing from LaTeX.

One ``@misc`` entry per paper (arXiv papers are preprints: ``@misc`` with ``eprint`` and
``archivePrefix`` is what arXiv itself and biblatex recommend). Keys are author-year-word
(``vaswani2017attention``), made unique with ``a``, ``b``, ``c``… suffixes assigned in an
order that depends only on the colliding papers, never on the order they were passed in,
so exporting the same papers again gives the same keys.

Text is data, not LaTeX: BibTeX's special characters are escaped, capitals are protected
with braces so styles that lowercase titles keep ``BERT`` and ``Transformer``, Unicode is
kept (biblatex and modern BibTeX read UTF-8), and control characters are neutralised with
:mod:`readinglist.safetext`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from readinglist.model import ARXIV_ABS_URL, HF_SEARCH_URL
from readinglist.safetext import printable_line

_ESCAPES = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "{": r"\{",
        "}": r"\}",
        "%": r"\%",
        "&": r"\&",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "^": r"\textasciicircum{}",
        "~": r"\textasciitilde{}",
    }
)
# fmt: off
#: Lower-case words that start a surname ("van der Maaten", "de la Cruz"), in any case.
_PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du", "la",
    "le", "ten", "ter", "zu", "bin", "ibn", "al", "el",
})
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
#: Title words skipped when choosing the key's word.
_STOPWORDS = frozenset({
    "a", "an", "the", "on", "of", "in", "for", "to", "and", "or", "with", "at", "by", "from",
    "via", "is", "are", "do", "does", "how", "what", "why", "when", "can", "toward", "towards",
})
# fmt: on
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l"})
_NOT_KEY_RE = re.compile(r"[^a-z0-9]+")
#: Characters a URL may keep; everything else (spaces, braces, backslashes) is %-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True, slots=True)
class BibRecord:
    """What one entry needs; ``url`` defaults to the arXiv page, else a Hugging Face search."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    arxiv_id: str | None = None
    url: str | None = None
    #: Free text, e.g. the digests the paper was seen in.
    note: str | None = None


def to_bibtex(records: Sequence[BibRecord]) -> str:
    """The records as BibTeX, one ``@misc`` entry each, in the order given."""
    keys = _unique_keys(records)
    return "\n".join(_entry(key, record) for key, record in zip(keys, records, strict=True))


def _entry(key: str, record: BibRecord) -> str:
    fields: list[tuple[str, str]] = [("title", protect_title(record.title))]
    if record.authors:
        fields.append(("author", " and ".join(bibtex_name(name) for name in record.authors)))
    if record.year is not None:
        fields.append(("year", str(record.year)))
    arxiv_id = _clean(record.arxiv_id or "")
    if arxiv_id:
        fields += [("eprint", escape(arxiv_id)), ("archivePrefix", "arXiv")]
    fields.append(("url", _url(record)))
    if record.note and (note := _clean(record.note)):
        fields.append(("note", escape(note)))
    body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields)
    return f"@misc{{{key},\n{body}}}\n"


def _url(record: BibRecord) -> str:
    """A URL safe inside braces: no spaces, braces or backslashes (all %-encoded)."""
    from urllib.parse import quote  # only an export pays for it (5 ms of every command)

    if record.url:
        url = _clean(record.url)
    elif record.arxiv_id and _clean(record.arxiv_id):
        url = ARXIV_ABS_URL + _clean(record.arxiv_id)
    else:
        url = HF_SEARCH_URL + quote(_clean(record.title), safe="")
    return quote(url, safe=_URL_SAFE)


# --------------------------------------------------------------------------- text


def escape(text: str) -> str:
    """``text`` with BibTeX/LaTeX special characters escaped (no other change)."""
    return text.translate(_ESCAPES)


def protect_title(title: str) -> str:
    """The title escaped, each word with a capital letter in braces (``{BERT}:``)."""
    words = []
    for word in _clean(title).split(" "):
        escaped = escape(word)
        if any(char.isupper() for char in word):
            # ``{\…`` would be a BibTeX "special character", whose letters styles *do*
            # change case; a double brace is a plain protected group.
            escaped = f"{{{{{escaped}}}}}" if escaped.startswith("\\") else f"{{{escaped}}}"
        words.append(escaped)
    return " ".join(words)


def bibtex_name(name: str) -> str:
    """``Ludwig van der Maaten`` → ``van der Maaten, Ludwig``, ready for an ``and`` list.

    A single name stays as it is; a name already in ``Last, First`` form is kept; a name in
    braces (``{Google DeepMind}``) is a corporate name and stays one unit; a name that
    contains the word "and" is braced so BibTeX does not split it into two authors.
    """
    name = _clean(name)
    inner = name[1:-1] if name.startswith("{") and name.endswith("}") else None
    if inner is not None and _balanced(inner):
        return "{" + escape(inner) + "}"
    if re.search(r"\band\b", name, re.IGNORECASE):
        return "{" + escape(name) + "}"
    if "," in name:
        return escape(name)
    first, von, last, suffix = split_name(name)
    text = " ".join(von + last)
    if suffix:
        text += ", " + " ".join(suffix)
    if first:
        text += ", " + " ".join(first)
    return escape(text)


def split_name(name: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """``First von Last Jr`` parts of a ``First Last`` name (each a list of words)."""
    words = name.split()
    suffix: list[str] = []
    while len(words) > 1 and words[-1].casefold().rstrip(",") in _SUFFIXES:
        suffix.insert(0, words.pop().rstrip(","))
    if len(words) <= 1:
        return [], [], words, suffix
    start = len(words) - 1
    for index in range(1, len(words) - 1):
        if words[index].casefold() in _PARTICLES:
            start = index
            break
    end = start
    while end < len(words) - 1 and words[end].casefold() in _PARTICLES:
        end += 1
    return words[:start], words[start:end], words[end:], suffix


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _clean(text: str) -> str:
    return " ".join(printable_line(text).split())


# --------------------------------------------------------------------------- keys


def _unique_keys(records: Sequence[BibRecord]) -> list[str]:
    """Author-year-word keys; colliding ones get a, b, c… by (arXiv id, title, authors)."""
    bases = [_base_key(record) for record in records]
    groups: dict[str, list[int]] = {}
    for index, base in enumerate(bases):
        groups.setdefault(base, []).append(index)
    keys: list[str] = list(bases)
    taken = {base for base, members in groups.items() if len(members) == 1}
    for base in sorted(groups):
        members = groups[base]
        if len(members) == 1:
            continue
        members.sort(key=lambda i: _sort_key(records[i]))
        suffix = 0
        for index in members:
            while (key := base + _letters(suffix)) in taken:
                suffix += 1
            keys[index] = key
            taken.add(key)
            suffix += 1
    return keys


def _sort_key(record: BibRecord) -> tuple[str, str, tuple[str, ...], int]:
    return (record.arxiv_id or "\uffff", record.title, record.authors, record.year or 0)


def _letters(n: int) -> str:
    """0 → a, 25 → z, 26 → aa: a suffix that never runs out."""
    text = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


def _base_key(record: BibRecord) -> str:
    author = "anon"
    if record.authors:
        name = _clean(record.authors[0]).strip("{}")
        if "," in name:
            last = name.split(",")[0].split()
        else:
            _first, _von, last, _suffix = split_name(name)
        author = _ascii_word(" ".join(last)) or _ascii_word(name) or "anon"
    year = str(record.year) if record.year is not None else ""
    word = "paper"
    for candidate in _clean(record.title).split():
        folded = _ascii_word(candidate)
        if folded and folded not in _STOPWORDS:
            word = folded
            break
    return f"{author}{year}{word}"


def _ascii_word(text: str) -> str:
    """Lower-case ASCII letters and digits only: ``Müller`` → ``muller``."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).casefold()
    return _NOT_KEY_RE.sub("", folded.encode("ascii", "ignore").decode())
