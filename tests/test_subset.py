"""``AllBut`` (the app's inbox as "every paper but the decided") answers as the set of ids
it stands for, and the search engine answers the same among it as among that set."""

from __future__ import annotations

from pathlib import Path

from readinglist.library import Library
from readinglist.subset import AllBut


def test_all_but_is_the_set_it_stands_for_and_queries_answer_alike(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:2]).ok
    ids = library.ordered()
    view = library.view()
    left_out = [*ids[3:40:3], "not-a-paper"]  # an id the catalog lacks is not left out
    subset = AllBut(view.catalog, left_out)
    expected = frozenset(ids) - frozenset(left_out)
    assert len(subset) == len(expected) and frozenset(subset) == expected
    assert all((pid in subset) == (pid in expected) for pid in [*ids, "not-a-paper", 3])
    assert subset.select(ids) == [pid for pid in ids if pid in expected]
    assert subset.select([*ids[::-2], "nope"]) == [pid for pid in ids[::-2] if pid in expected]
    for text in ("", "model", "-model", "lang", "is:new", "seen:>=2", '"language model"'):
        found, wanted = view.find(text, subset), view.find(text, expected)
        assert list(found) == list(wanted), text
        assert all((pid in found) == (pid in wanted) for pid in [*ids, "not-a-paper"])


def test_an_answer_counts_its_statuses_as_the_read_model_counts_them(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    """``Answer.status_counts`` (slot sets, what the status line uses on every key) gives
    ``Reading.counts`` of the same ids, also for a newer state and among the inbox."""
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:2]).ok
    ids = library.ordered()
    library.decide(ids[:6], "skipped")
    library.decide(ids[6:9], "read")
    library.snooze(ids[9:11], 3)
    library.tag(ids[11:13], add=["x"])
    view = library.view()
    inbox = AllBut(view.catalog, ids[:11])
    for among in (None, inbox, frozenset(ids[::2])):
        for text in ("", "model", "-model", "is:new", "-is:read", "tag:x", "seen:>=2", "zzzz"):
            answer = view.find(text, among)
            assert answer.status_counts(view) == view.counts(answer), (text, among)  # type: ignore[attr-defined]
            library.decide(list(answer[:1]), "later")
            newer = library.view()
            assert answer.status_counts(newer) == newer.counts(answer)  # type: ignore[attr-defined]
            view = newer


def test_adding_a_group_of_slots_indexes_as_adding_them_one_by_one() -> None:
    from readinglist.textindex import WordIndex

    groups = [([3, 1, 7], ["ml", "theory", "ml"]), ([1, 2], ["ml", "vision"]), ([], ["x"])]
    one_by_one, shared = WordIndex(), WordIndex()
    one_by_one.add((slot, words) for slots, words in groups for slot in slots)
    shared.add_shared(groups)
    assert dict(shared.postings) == dict(one_by_one.postings)
    for word in ("ml", "m", "theroy", "vision", "x"):
        assert shared.lookup(word).tiers == one_by_one.lookup(word).tiers
