"""Bulk import: its shortcuts give what the plain code gives (title keys, the default
order), and an import prepared by worker processes gives the very library an import in
this process gives, on the real digests, with the same errors."""

from __future__ import annotations

import codecs
import multiprocessing
import random
import re
import shutil
import threading
import unicodedata
from array import array
from bisect import bisect_left
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readinglist import catalog as catalogs
from readinglist import catalogfile, prepare
from readinglist.digest import read_digest
from readinglist.errors import StorageError
from readinglist.library import Library, expand_paths
from readinglist.model import Digest, title_key
from readinglist.storage import CATALOG_FILE, DIGESTS_DIR, JOURNALS_DIR
from tests.conftest import by_title
from tests.libhelpers import snapshot

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


@given(
    rest=st.lists(st.integers(0, 50), max_size=80).map(sorted),
    wanted=st.integers(-1, 51),
    data=st.data(),
)
def test_placing_a_changed_paper_by_doubling_steps_is_bisecting(
    rest: list[int], wanted: int, data: st.DataObject
) -> None:
    """``_gallop`` (how an import's papers are moved into the default order) finds what
    ``bisect_left`` finds, from any start that nothing after ``wanted`` precedes."""
    place = bisect_left(rest, wanted)
    start = data.draw(st.integers(0, place), label="start")
    assert catalogs._gallop(rest, wanted, start, int) == place  # type: ignore[arg-type]


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


# ---------------------------------------------------------------------------- the pool


def bulk_folder(folder: Path, digest_paths: list[Path]) -> Path:
    """Nine digest files from the real five (over ``POOL_MIN_FILES``): the five, a CRLF copy
    and a UTF-16 copy (the same digests again), one of papers from two of them (seen
    again), a saved API response naming one of their titles (merged, with metadata) and
    a bad file."""
    folder.mkdir()
    for number, path in enumerate(digest_paths):
        shutil.copy(path, folder / f"{number}0_{path.name}")
    first = digest_paths[0].read_bytes()
    (folder / "05_crlf.txt").write_bytes(first.replace(b"\n", b"\r\n"))
    (folder / "15_utf16.txt").write_bytes(
        codecs.BOM_UTF16_LE + digest_paths[3].read_text().encode("utf-16-le")
    )
    parts = [read_digest(p).entries for p in digest_paths[1:3]]
    mixed = [e for entries in parts for e in entries[:: len(entries) // 7 or 1]]
    (folder / "25_mixed.txt").write_text("".join(f"{e.title}\n{e.abstract}\n" for e in mixed))
    known = parts[0][0].title
    day = [
        {"paper": {"id": "2403.00001", "title": known, "summary": "Saved.", "upvotes": 3},
         "publishedAt": "2024-03-13T00:00:00.000Z"},
        {"paper": {"id": "2403.00002", "title": "A saved paper of its own",
                   "summary": "Its abstract.", "upvotes": 1},
         "publishedAt": "2024-03-13T00:00:00.000Z"},
    ]  # fmt: skip
    (folder / "35_2024-03-13.txt").write_bytes(orjson.dumps(day))
    (folder / "45_bad.txt").write_text(BAD)
    assert len(list(folder.glob("*.txt"))) >= prepare.POOL_MIN_FILES
    return folder


BAD = "A Title\nAn abstract that is long enough and ends here.\nOrphan Title\n"


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many imports ran in worker processes."""
    started: list[int] = []
    pooled = prepare._pooled

    def counted(*args: Any) -> Any:
        started.append(1)
        return pooled(*args)

    monkeypatch.setattr(prepare, "_pooled", counted)
    return started


def library_facts(data_dir: Path) -> dict[str, Any]:
    """Everything an import decides, but its time stamps: digest files (bytes), catalog
    columns (from catalog.bin), journal entries, the papers as a fresh open sees them."""
    saved = catalogfile.load(data_dir / CATALOG_FILE, data_dir)
    assert saved is not None
    c = saved.catalog
    entries = []
    for path in sorted((data_dir / JOURNALS_DIR).glob("*.json")):
        for entry in orjson.loads(path.read_bytes())["changes"].values():
            entries.append({k: v for k, v in entry.items() if k != "at"})
    library = Library(data_dir)
    return {
        "digest files": {
            p.name: p.read_bytes() for p in sorted((data_dir / DIGESTS_DIR).iterdir())
        },
        "imports": [(r.hash, r.digest, r.name, r.date, r.seq) for r in c.imports],
        "digests": [(d.id, d.name, d.date, d.seq, d.papers) for d in c.digests],
        "columns": (
            c.ids,
            list(c.titles),
            list(c.links),
            list(c.meta),
            list(c.sightings),
            c.homes,
            c.postings,
        ),
        "order": (c.order, c.seen_counts),
        "journal": entries,
        "papers": dict(library.papers),
        "states": {pid: library.state(pid) for pid in library.papers},
    }


def untimed(value: Any) -> str:
    """``value`` written out, its time stamps (of the import, of a decision) masked."""
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "<time>", repr(value))


def test_a_pool_import_is_an_in_process_import(
    tmp_path: Path, digest_paths: list[Path], pools: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same folder imported by worker processes and in this process, into a library
    holding two of the digests and a skipped paper that recurs: the same reports and the
    same library, file for file and column for column."""
    folder = bulk_folder(tmp_path / "in", digest_paths)
    paths = expand_paths([folder])
    results = {}
    for how in ("pool", "here"):
        data_dir = tmp_path / how
        library = Library(data_dir)
        assert library.import_files(digest_paths[1:3]).ok
        recurring = by_title(library, read_digest(digest_paths[1]).entries[0].title)
        library.decide([recurring], "skipped")
        with monkeypatch.context() as patch:
            if how == "here":
                patch.setattr(prepare, "POOL_MIN_FILES", 10**6)
            reported: list[tuple[int, int, str]] = []
            report = library.import_files(paths, progress=lambda *p: reported.append(p))  # noqa: B023
        assert library.state(recurring).status == "new"  # resurfaced
        results[how] = (report, reported, library_facts(data_dir))
    assert pools == [1]
    (report, reported, facts), (report_here, reported_here, facts_here) = results.values()
    assert report == report_here
    assert [f.status for f in report.files].count("imported") == 5, report
    assert (
        report.files[-1].error == f"{folder / '45_bad.txt'}:3: title 'Orphan Title' has no abstract"
    )
    assert reported == reported_here and reported[-1] == (len(paths), len(paths), "")
    for name in facts:
        assert untimed(facts[name]) == untimed(facts_here[name]), name
    assert threading.active_count() == 1 and not multiprocessing.active_children()


def test_a_bad_file_in_a_pool_import_changes_nothing(
    tmp_path: Path, digest_paths: list[Path], pools: list[int]
) -> None:
    """A folder of bad files only: each is a one-line error naming its file and line, and
    the library folder is as it was (no digest file, no temp file, no journal entry)."""
    folder = tmp_path / "bad"
    folder.mkdir()
    for number in range(prepare.POOL_MIN_FILES):
        (folder / f"{number}.txt").write_text(BAD if number % 2 else "\n\n")
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    before = snapshot(library.data_dir)
    report = library.import_files(expand_paths([folder]))
    assert pools == [1]
    assert [f.error for f in report.files] == [
        f"{folder / f'{n}.txt'}:3: title 'Orphan Title' has no abstract"
        if n % 2
        else f"{folder / f'{n}.txt'}: empty file: no papers found"
        for n in range(prepare.POOL_MIN_FILES)
    ]
    assert snapshot(library.data_dir) == before


def test_a_worker_that_cannot_write_stops_the_import_and_records_nothing(
    tmp_path: Path, digest_paths: list[Path], pools: list[int]
) -> None:
    folder = bulk_folder(tmp_path / "in", digest_paths)
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    digests = tmp_path / "lib" / DIGESTS_DIR
    shutil.rmtree(digests)
    digests.write_text("not a folder")  # every digest file write fails
    before = snapshot(library.data_dir)
    with pytest.raises(StorageError, match=f"^{re.escape(str(digests))}: cannot create"):
        library.import_files(expand_paths([folder]))
    assert pools == [1]
    assert snapshot(library.data_dir) == before
    assert threading.active_count() == 1 and not multiprocessing.active_children()


def test_a_result_a_worker_cannot_send_stops_the_import_instead_of_waiting_forever(
    tmp_path: Path, digest_paths: list[Path], pools: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result that cannot be sent (pickling fails in the queue's thread, which drops it)
    leaves the worker ending normally: the import stops with an error, records nothing."""
    folder = bulk_folder(tmp_path / "in", digest_paths)
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    before = snapshot(library.data_dir / JOURNALS_DIR)
    real = prepare.prepare

    def unsendable(source: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(source, *args, **kwargs)
        return (lambda: result) if "003_" in str(source) else result  # not picklable

    monkeypatch.setattr(prepare, "prepare", unsendable)  # forked workers inherit it
    with pytest.raises(StorageError, match="nothing was imported"):
        library.import_files(expand_paths([folder]))
    assert pools == [1]
    assert snapshot(library.data_dir / JOURNALS_DIR) == before
    assert threading.active_count() == 1 and not multiprocessing.active_children()


def test_ctrl_c_in_a_pool_import_stops_it_cleanly(
    tmp_path: Path, digest_paths: list[Path], pools: list[int]
) -> None:
    """Ctrl+C (here: raised in the progress callback, in the parent, mid-import): the
    workers finish the file they are writing and stop; nothing is recorded, no temp file
    is left; the same import then runs to the end."""
    folder = bulk_folder(tmp_path / "in", digest_paths)
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    journals = snapshot(library.data_dir / JOURNALS_DIR)
    catalog_bin = (library.data_dir / CATALOG_FILE).read_bytes()

    def interrupt(done: int, total: int, name: str) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        library.import_files(expand_paths([folder]), progress=interrupt)
    assert threading.active_count() == 1 and not multiprocessing.active_children()
    assert snapshot(library.data_dir / JOURNALS_DIR) == journals
    assert (library.data_dir / CATALOG_FILE).read_bytes() == catalog_bin
    assert not list((library.data_dir / DIGESTS_DIR).glob(".*"))  # no temp files
    assert len(Library(library.data_dir).papers) == 74
    statuses = [f.status for f in library.import_files(expand_paths([folder])).files]
    assert statuses == [
        *("unchanged", "unchanged", "imported", "imported", "imported"),
        *("imported", "unchanged", "imported", "imported", "rejected"),
    ]
    assert pools == [1, 1]


def test_a_small_import_runs_in_this_process(
    tmp_path: Path, digest_paths: list[Path], pools: list[int]
) -> None:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths).ok
    assert pools == []


def columns(catalog: catalogs.Catalog) -> dict[str, Any]:
    """Everything a catalog holds but the times of its imports."""
    catalog.complete()
    return {
        "digests": [(d.id, d.name, d.date, d.seq, d.papers) for d in catalog.digests],
        "imports": [(r.hash, r.digest, r.name, r.date, r.seq) for r in catalog.imports],
        "ids": catalog.ids,
        "titles": list(catalog.titles),
        "links": list(catalog.links),
        "meta": list(catalog.meta),
        "sightings": list(catalog.sightings),
        "homes": [column.tolist() for column in catalog.homes],
        "postings": catalog.postings,
        "order": catalog.order.tolist(),
        "seen_counts": catalog.seen_counts,
        "slots": catalog.slots,
    }


@pytest.mark.parametrize("last", range(5))
def test_an_import_onto_an_unread_catalog_makes_what_a_whole_one_makes(
    tmp_path: Path, digest_paths: list[Path], last: int
) -> None:
    """An import onto a catalog whose columns past the ids are not read yet reads none of
    them for a digest new to the library (its papers new, or seen again), and makes the
    catalog an import onto the whole catalog makes (a fetched day, which merges metadata,
    reads them first: tests/test_fetch.py)."""
    first = [p for n, p in enumerate(digest_paths) if n != last]
    Library(tmp_path / "a").import_files(first)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    unread, whole = Library(tmp_path / "a"), Library(tmp_path / "b")
    whole.catalog.complete()
    assert not unread.catalog.whole and whole.catalog.whole
    for library in (unread, whole):
        report = library.import_files([digest_paths[last]])
        assert report.new > 0 and report.files[0].again > 0
    assert not unread.catalog.whole  # nothing of the rest was read
    assert columns(unread.catalog) == columns(whole.catalog)
    assert columns(Library(tmp_path / "a").catalog) == columns(Library(tmp_path / "b").catalog)
