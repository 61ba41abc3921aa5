"""Bulk import: its shortcuts give what the plain code gives (title keys, the default
order), and an import prepared by worker processes gives the very library an import in
this process gives, on the real digests, with the same errors."""

from __future__ import annotations

import random
import re
import unicodedata
from array import array
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from readinglist import catalog as catalogs
from readinglist.model import Digest, title_key

_NON_WORD_RE = re.compile(r"[\W_]+")


def regex_key(title: str) -> str:
    """``title_key`` as it was: NFKC, casefold, the regex."""
    folded = (title if title.isascii() else unicodedata.normalize("NFKC", title)).casefold()
    return _NON_WORD_RE.sub(" ", folded).strip()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_an_ascii_titles_key_is_what_the_regex_makes_of_it(title: str) -> None:
    assert title_key(title) == regex_key(title)


def test_every_ascii_character_keys_as_the_regex_keys_it() -> None:
    for char in map(chr, range(128)):
        for title in (char, f"a{char}b", f"{char}{char}X{char}", f"Ab{char} {char}9"):
            assert title_key(title) == regex_key(title), repr(title)


def test_the_full_default_order_is_order_keys_order() -> None:
    """``full_order`` (grouped sorts) against sorting every slot by ``order_key``: equal
    and case-different titles, papers seen in several digests, any seqs."""
    rng = random.Random(7)
    for _ in range(300):
        digests = tuple(
            Digest(
                str(n), "d", None, rng.choice([rng.randint(-3, 3), rng.randint(1, 10**6)]), "", 0
            )
            for n in range(rng.randint(1, 6))
        )
        count = rng.randint(0, 50)
        titles = [rng.choice(["A", "a", "B", "b ", "É", "é", "ß", "SS", ""]) for _ in range(count)]
        sightings = [
            tuple(rng.sample(range(len(digests)), rng.randint(1, len(digests))))
            for _ in range(count)
        ]
        catalog = catalogs.Catalog(
            Path("."),
            (),
            digests,
            [str(n) for n in range(count)],
            titles,
            [()] * count,
            [None] * count,
            sightings,
            (array("i"), array("i")),
            {},
            array("i"),
            {},
        )
        expected = array("i", sorted(range(count), key=catalogs.order_key(catalog)))
        assert catalogs.full_order(catalog) == expected
