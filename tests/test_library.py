"""Import, identity, recurrence and user state on the real digests, in a real TinyDB."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from readinglist.errors import UnknownPaper
from readinglist.library import Library
from readinglist.model import paper_id, title_key
from tests.conftest import by_title

TOP = "Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching"


def test_counts_and_default_order(library: Library) -> None:
    assert len(library.papers) == 751
    assert sum(p.seen >= 2 for p in library.papers.values()) == 51
    first = library.papers[library.ordered()[0]]
    assert (first.title, first.seen) == (TOP, 4)
    seen = [library.papers[pid].seen for pid in library.ordered()]
    assert seen == sorted(seen, reverse=True)


def test_ties_break_on_newest_digest_then_title(library: Library) -> None:
    order = library.ordered()
    keys = [
        (-library.papers[p].seen, -library.papers[p].latest, library.papers[p].title.casefold())
        for p in order
    ]
    assert keys == sorted(keys)
    # Among single-sighting papers the last imported digest (004) comes first.
    singles = [p for p in order if library.papers[p].seen == 1]
    newest = max(d.seq for d in library.digests.values())
    assert library.papers[singles[0]].latest == newest


def test_reimport_is_unchanged_even_under_another_name(
    library: Library, digest_paths: list[Path], tmp_path: Path
) -> None:
    before = library.store.papers_storage.path.read_bytes()
    copy = tmp_path / "renamed.txt"
    copy.write_bytes(digest_paths[0].read_bytes().replace(b"\n", b"\r\n"))
    report = library.import_files([digest_paths[1], copy])
    assert [f.status for f in report.files] == ["unchanged", "unchanged"]
    assert library.store.papers_storage.path.read_bytes() == before


def test_case_and_punctuation_variants_are_one_paper(library: Library, tmp_path: Path) -> None:
    variant = tmp_path / "variant.txt"
    abstract = "We revisit weight matching. " * 10
    variant.write_text(
        "ANALYSIS  of linear mode-connectivity via permutation based weight matching!\n" + abstract
    )
    report = library.import_files([variant])
    assert (report.files[0].new, report.files[0].again) == (0, 1)
    pid = by_title(library, TOP)
    assert library.papers[pid].seen == 5
    assert len(library.papers) == 751


def test_lookalike_titles_stay_two_papers(library: Library) -> None:
    plain = by_title(library, "Trained Rank Pruning for Efficient Deep Neural Networks")
    trp = by_title(library, "TRP: Trained Rank Pruning for Efficient Deep Neural Networks")
    assert plain != trp
    assert library.papers[plain].abstract != library.papers[trp].abstract


def test_ids_are_derived_from_the_title_key(library: Library) -> None:
    pid = by_title(library, TOP)
    assert pid == paper_id(title_key(TOP)) == paper_id(title_key(TOP.upper() + " "))
    assert len(pid) == 12


def test_bad_file_changes_nothing_and_good_files_still_import(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    lib = Library(tmp_path / "lib")
    bad = tmp_path / "bad.txt"
    bad.write_text("A Title\nAn abstract that is long enough and ends here.\nOrphan Title\n")
    report = lib.import_files([digest_paths[0], bad, tmp_path / "missing.txt"])
    assert [f.status for f in report.files] == ["imported", "rejected", "rejected"]
    assert report.files[1].error == f"{bad}:3: title 'Orphan Title' has no abstract"
    assert report.files[2].error == f"{tmp_path / 'missing.txt'}: no such file"
    assert not report.ok
    assert len(Library(tmp_path / "lib").papers) == 74


def test_state_changes_persist_and_undo_redo(library: Library) -> None:
    a, b = library.ordered()[:2]
    library.mark([a])
    library.tag([a, b], add=["Must Read", "ssm"])
    library.set_note(b, "Compare with S4.\n\n")
    reopened = Library(library.data_dir)
    assert reopened.state(a).read and not reopened.state(b).read
    assert reopened.state(b).tags == ("must-read", "ssm")
    assert reopened.state(b).note == "Compare with S4."

    assert reopened.undo().label == "undo edit note"
    assert reopened.undo().label == "undo tag 2 papers +must-read +ssm"
    again = Library(library.data_dir)
    assert again.state(b) == again.state("nonexistent") and again.state(a).read
    assert again.redo().label == "redo tag 2 papers +must-read +ssm"
    assert Library(library.data_dir).state(a).tags == ("must-read", "ssm")
    # A new change clears what could be redone.
    again.mark([b])
    assert again.redo() is None


def test_noop_changes_record_nothing(library: Library) -> None:
    pid = library.ordered()[0]
    assert library.mark([pid], read=False) is None
    assert library.undo() is None


def test_toggle_read_over_a_selection(library: Library) -> None:
    a, b = library.ordered()[:2]
    library.mark([a])
    library.toggle_read([a, b])
    assert library.state(a).read and library.state(b).read
    library.toggle_read([a, b])
    assert not library.state(a).read and not library.state(b).read


def test_resolve_prefixes(library: Library) -> None:
    pid = by_title(library, TOP)
    assert library.resolve(pid[:6].upper()) == pid
    with pytest.raises(UnknownPaper, match="prefixes need 4"):
        library.resolve(pid[:2])
    with pytest.raises(UnknownPaper, match="no paper has this id"):
        library.resolve("zzzzzzzz")


def test_stats(library: Library) -> None:
    library.mark(library.ordered()[:3])
    library.set_note(library.ordered()[0], "x")
    stats = library.stats()
    assert (stats.papers, stats.read, stats.unread, stats.noted, stats.recurring) == (
        751,
        3,
        748,
        1,
        51,
    )
    assert [d["papers"] for d in stats.digests] == [74, 66, 308, 143, 219]
    assert [d["date"] for d in stats.digests] == ["Mar 13", "Mar 12", None, None, None]


def test_core_does_not_import_textual() -> None:
    import subprocess
    import sys

    code = (
        "import sys, readinglist.cli, readinglist.library, readinglist.query, readinglist.search, "
        "readinglist.export, readinglist.digest, readinglist.storage, readinglist.doctor, "
        "readinglist.textindex, readinglist.lock, readinglist.reports, readinglist.history, "
        "readinglist.drafts; "
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_reload_frees_the_old_index_without_the_cycle_collector(
    library: Library, tmp_path: Path
) -> None:
    """The app re-reads the library when another process imports. The replaced index must
    go by reference counting alone: loads gc.freeze() what they build, so an index kept by
    a reference cycle was never collected (561 → 595 MB over four reloads at 100k)."""
    engine = library.search_engine()
    assert library.query("mamba")  # fill the word cache, as typing does
    old = [weakref.ref(engine), weakref.ref(engine._titles)]  # the engine and its word index
    del engine
    digest = tmp_path / "new.txt"
    digest.write_text("Apr 2\n\nA Brand New Paper on Mamba\n\nIt is new.\n")
    assert Library(library.data_dir).import_files([digest]).ok
    gc.disable()
    try:
        assert library.refresh()
        assert library.query("brand new mamba")[0] != ""
        assert [ref() for ref in old] == [None, None]
    finally:
        gc.enable()
