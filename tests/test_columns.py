"""Packed catalog columns read as the lists they replace, and a grown column as a list
changed the same way (readinglist.columns)."""

from __future__ import annotations

import marshal
from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from readinglist.columns import (
    DamagedColumn,
    Groups,
    Grown,
    Records,
    Strings,
    links_column,
    present,
    sightings_column,
)

#: Any text a title may hold: non-ASCII, empty, and lone surrogates (``json.loads`` makes them).
texts = st.one_of(
    st.text(st.characters(codec=None), max_size=12),
    st.sampled_from(["\ud800", "a\udfffb", "é", "论文", ""]),
)


def saved(value: object) -> object:
    """``value`` as catalog.bin keeps it (marshal)."""
    return marshal.loads(marshal.dumps(value))


@given(st.lists(texts, max_size=30))
def test_strings_read_back_as_written(strings: list[str]) -> None:
    packed = Strings.of(strings)
    loaded = Strings.load(saved(packed.dump()))  # type: ignore[arg-type]
    for column in (packed, loaded):
        assert list(column) == strings and len(column) == len(strings)
        assert [column[i] for i in range(len(strings))] == strings
        assert [column[-i] for i in range(1, len(strings) + 1)] == strings[::-1]
        assert column[1:-1:2] == strings[1:-1:2]
    with pytest.raises(IndexError):
        packed[len(strings)]
    with pytest.raises(IndexError):
        packed[-len(strings) - 1]


@given(st.lists(st.lists(texts, max_size=4), max_size=20))
def test_links_read_back_as_written(links: list[list[str]]) -> None:
    packed = links_column(links)
    items = Strings.load(saved(Strings.of(packed.items).dump()))  # type: ignore[arg-type]
    loaded = Groups.load(items, saved(packed.bounds.tobytes()))  # type: ignore[arg-type]
    expected = [tuple(group) for group in links]
    for column in (packed, loaded):
        assert list(column) == expected
        assert [column[i] for i in range(len(links))] == expected


@given(st.lists(st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=5), max_size=20))
def test_sightings_read_back_as_written(sightings: list[list[int]]) -> None:
    packed = sightings_column(sightings)
    loaded = Groups.load(array("i", packed.items), packed.bounds.tobytes())
    expected = [tuple(seen) for seen in sightings]
    assert list(packed) == list(loaded) == expected
    assert [loaded[i] for i in range(len(sightings))] == expected


@pytest.mark.parametrize(
    "saved_column",
    [
        (b"abc", array("q", [0, 1]).tobytes()),  # ends before the blob does
        (b"abc", array("q", [0, 4]).tobytes()),  # past it
        (b"abc", array("q", [1, 3]).tobytes()),  # not from its start
        (b"abc", b""),  # no offsets at all
        (b"abc", b"\0\0\0"),  # not whole offsets
    ],
)
def test_offsets_that_do_not_fit_are_refused(saved_column: tuple[bytes, bytes]) -> None:
    with pytest.raises(ValueError):
        Strings.load(saved_column)


#: What a builder does to a column: append an item, or replace the one at an index (taken
#: modulo the column's length, negative ones too).
edits = st.lists(st.tuples(st.booleans(), st.integers(-50, 50), texts), max_size=25)


@given(st.lists(texts, max_size=10), edits, edits)
def test_a_grown_column_is_its_base_changed_and_leaves_the_base_alone(
    base: list[str], first: list[tuple[bool, int, str]], second: list[tuple[bool, int, str]]
) -> None:
    packed = Strings.of(base)
    model = list(base)
    grown = Grown(packed)

    def change(column: Grown[str], model: list[str], ops: list[tuple[bool, int, str]]) -> None:
        for append, index, text in ops:
            if append or not model:
                column.append(text)
                model.append(text)
            else:
                column[index % len(model) - len(model) * (index < 0)] = text
                model[index % len(model) - len(model) * (index < 0)] = text

    change(grown, model, first)
    again = Grown(grown)  # the next import's builder, on this one's catalog
    later = list(model)
    change(again, later, second)
    assert list(grown) == model and [grown[i] for i in range(len(model))] == model
    assert list(again) == later and [again[-i] for i in range(1, len(later) + 1)] == later[::-1]
    assert list(packed) == base  # neither builder changed what it started from
    assert list(Strings.of(grown)) == model and list(Strings.of(again)) == later  # as saved
    assert len(grown) == len(model) and len(again) == len(later)
    with pytest.raises(IndexError):
        again[len(later)]
    with pytest.raises(IndexError):
        again[-len(later) - 1]


groups_of_links = st.lists(st.lists(texts, max_size=3), max_size=8)
groups_of_numbers = st.lists(st.lists(st.integers(0, 99), min_size=1, max_size=3), max_size=8)


@given(st.data())
def test_grown_links_and_sightings_pack_as_their_items(data: st.DataObject) -> None:
    """What catalog.bin saves of a builder's columns: packed runs of the base around the
    replaced items, then the appended ones."""
    for column, groups in ((links_column, groups_of_links), (sightings_column, groups_of_numbers)):
        base = [tuple(group) for group in data.draw(groups)]
        grown = Grown(column(base))  # type: ignore[operator]
        model = list(base)
        for group in data.draw(groups):
            if model and data.draw(st.booleans()):
                index = data.draw(st.integers(0, len(model) - 1))
                grown[index] = model[index] = tuple(group)
            else:
                grown.append(tuple(group))
                model.append(tuple(group))
        packed = column(grown)  # type: ignore[operator]
        assert list(packed) == model and [packed[i] for i in range(len(model))] == model


#: A paper's API metadata as the catalog keeps it, or None (a paper from a text digest).
records = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["arxiv_id", "authors", "upvotes", "ai_keywords"]),
        st.one_of(texts, st.integers(-5, 10**6), st.lists(texts, max_size=3)),
    ),
)


@given(st.lists(records, max_size=20), st.lists(st.tuples(st.integers(0, 19), records)))
def test_records_read_back_as_written_and_grown(
    metas: list[dict[str, object] | None], changes: list[tuple[int, dict[str, object] | None]]
) -> None:
    packed = Records.of(metas)
    loaded = Records.load(saved(packed.dump()))  # type: ignore[arg-type]
    assert list(packed) == list(loaded) == metas
    assert [loaded[i] for i in range(len(metas))] == metas
    assert list(present(loaded)) == [i for i, meta in enumerate(metas) if meta is not None]
    grown, model = Grown(loaded), list(metas)
    for index, meta in changes:  # a fetch enriching a paper, or a new paper
        if index < len(model):
            grown[index] = model[index] = meta
        else:
            grown.append(meta)
            model.append(meta)
    assert list(Records.of(grown)) == model and list(loaded) == metas
    assert list(present(grown)) == [i for i, meta in enumerate(model) if meta is not None]


def test_a_record_that_is_not_one_is_refused() -> None:
    column = Records.of([{"upvotes": 3}])
    blob, bounds = column.dump()
    damaged = Records.load((marshal.dumps([1]), array("q", [0, len(marshal.dumps([1]))]).tobytes()))
    assert Records.load((blob, bounds))[0] == {"upvotes": 3}
    with pytest.raises(DamagedColumn, match=r"catalog\.bin: damaged .* remove it"):
        damaged[0]
