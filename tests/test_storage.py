"""Atomic, corruption-checked, shared TinyDB storage: this device's journal (small, rewritten
by every change), state.json (the layout marker), digest files (written once), catalog.bin
(derived, appended)."""

from __future__ import annotations

import marshal
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readinglist import journal
from readinglist.cli import main
from readinglist.errors import LibraryCorrupt, ReadinglistError
from readinglist.journal import Merger
from readinglist.library import Library, all_entries
from readinglist.storage import (
    CATALOG_FILE,
    IMPORTS_FILE,
    JOURNALS_DIR,
    MERGED_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    backup_path,
)
from tests.libhelpers import (
    digest_files,
    identities,
    imported_digest_files,
    journal_file,
    rename_to_hash,
)

#: A digest of two papers no real digest holds, to import one more into a library.
EXTRA = (
    "extra.txt",
    b"A Paper Only This Digest Has\nIt is about nothing else.\n"
    b"Another Paper Only This Digest Has\nNor is this one.\n",
)


def corruptions(kind: str) -> dict[str, bytes]:
    """Ways a small library file of ``kind`` ("state" or "journal") is damaged."""
    return {
        "empty": b"",
        "truncated": b'{"meta": {"schema": {"version": 1, "kind": "%s"}}, "changes": {"abc'
        % kind.encode(),
        "null": b"null",
        "list": b"[1, 2]",
        "invalid utf-8": b'{"meta": "\xff\xfe"}',
        "no schema": b'{"changes": {}}',
        "future schema": b'{"meta": {"schema": {"version": 99, "kind": "%s"}}}' % kind.encode(),
        "wrong kind": b'{"meta": {"schema": {"version": 1, "kind": "papers"}}}',
    }


CORRUPTIONS = sorted(corruptions("state"))


def saved_twice(library: Library, kind: str) -> Path:
    """The path of the ``kind`` file of ``library`` ("journal": saved twice so that it has
    a .bak; "state": the layout marker, saved once, with the first change)."""
    library.mark(library.ordered()[:1])
    library.mark(library.ordered()[1:2])  # the second save keeps the first as .bak
    if kind == "state":
        return library.store.state_storage.path
    return library.store.journal_storage.path


@pytest.mark.parametrize("kind", ["state", "journal"])
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corrupt_small_file_is_refused_and_left_untouched(
    library: Library, name: str, kind: str
) -> None:
    path = saved_twice(library, kind)
    damaged = corruptions(kind)[name]
    path.write_bytes(damaged)
    with pytest.raises(LibraryCorrupt) as info:
        Library(library.data_dir)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "left untouched" in message and "\n" not in message
    if name == "future schema":  # restoring the older .bak would lose what it saved
        assert f"do not restore {path.name}.bak over it" in message
    elif kind == "journal":
        assert f"cp '{path}.bak' '{path}'" in message
    else:  # the marker is written once: there is no backup, and the message says so
        assert not backup_path(path).exists() and "no backup exists" in message
    assert path.read_bytes() == damaged


@pytest.mark.parametrize("kind", ["state", "journal"])
@pytest.mark.parametrize("change", ["mark", "import"])
def test_corrupt_file_is_not_overwritten_by_a_running_instance(
    library: Library, kind: str, change: str
) -> None:
    """Another process damaged a file after we loaded it: our next write must refuse."""
    pid = library.ordered()[0]
    library.mark([pid])
    path = (
        library.store.state_storage.path if kind == "state" else library.store.journal_storage.path
    )
    path.write_bytes(b"{trunc")
    folder = library.data_dir
    files = [*folder.iterdir(), *(folder / JOURNALS_DIR).iterdir()]
    others = {p: p.read_bytes() for p in files if p.is_file() and p != path}
    with pytest.raises(LibraryCorrupt) as info:
        if change == "mark":
            library.mark([library.ordered()[1]])
        else:
            library.import_files([EXTRA])
    assert str(info.value).startswith(f"{path}: not valid JSON")
    assert path.read_bytes() == b"{trunc"
    assert {p: p.read_bytes() for p in others} == others


def test_backup_holds_the_previous_good_version(library: Library) -> None:
    a, b = library.ordered()[:2]
    library.mark([a])
    library.mark([b])
    path = library.store.journal_storage.path
    backup = orjson.loads(backup_path(path).read_bytes())
    marked = [op["p"] for entry in backup["changes"].values() for op in entry.get("ops", [])]
    assert a in marked and b not in marked
    assert backup["meta"]["schema"] == {"version": SCHEMA_VERSION["journal"], "kind": "journal"}
    saved = orjson.loads(path.read_bytes())
    assert saved["changes"].items() > backup["changes"].items()  # the backup, and one more


def test_a_mark_rewrites_only_the_journal(library: Library) -> None:
    """Reading changes touch neither the digest files, nor state.json (the layout marker,
    once it is there), nor catalog.bin."""
    data_dir = library.data_dir
    untouched = [*digest_files(data_dir), data_dir / STATE_FILE, data_dir / CATALOG_FILE]
    before = identities(untouched)
    state = library.store.journal_storage.path
    ids = library.ordered()[:5]
    library.mark(ids)
    first = state.read_bytes()
    library.tag(ids, add=["x"])
    library.set_note(ids[0], "a note")
    library.undo()
    library.decide(ids[1:2], "snoozed", "2099-01-01")
    assert identities(untouched) == before
    assert state.read_bytes() != first and Library(data_dir).state(ids[1]).status == "snoozed"


def test_an_import_only_creates_digest_files_and_appends_to_the_catalog(
    library: Library, digest_paths: list[Path]
) -> None:
    data_dir = library.data_dir
    catalog = data_dir / CATALOG_FILE
    old_digests = identities(digest_files(data_dir))
    old_catalog = catalog.read_bytes()
    inode = catalog.stat().st_ino

    report = library.import_files([EXTRA])
    assert report.new == 2
    new = [p for p in digest_files(data_dir) if p.name not in old_digests]
    assert len(new) == 1 and imported_digest_files(data_dir)[-1] == new[0]
    assert identities([p for p in digest_files(data_dir) if p not in new]) == old_digests
    grown = catalog.read_bytes()
    assert catalog.stat().st_ino == inode  # the same file, appended to
    assert len(grown) > len(old_catalog) and grown.startswith(old_catalog)
    assert set(Library(data_dir).papers) == set(library.papers)

    # Importing the same digests again changes no file at all.
    journal = library.store.journal_storage.path
    files = identities([*digest_files(data_dir), journal, data_dir / STATE_FILE, catalog])
    assert library.import_files([*digest_paths, EXTRA]).new == 0
    assert identities([*digest_files(data_dir), journal, data_dir / STATE_FILE, catalog]) == files
    assert not (data_dir / IMPORTS_FILE).exists()


def test_a_change_reads_only_the_ids_of_the_catalog(library: Library) -> None:
    """catalog.bin's head (imports, digests, ids: deltas too) is all that opening it
    reads; a command that changes a paper by its id reads no more of it. The rest of the
    columns, read when first used, are those a whole open gives."""
    library.import_files([EXTRA])  # a base and a delta
    ids = library.ordered()
    reader = Library(library.data_dir)
    reader.tag([reader.resolve(ids[-1][:6])], add=["late"])
    reader.mark([ids[0]])
    assert "titles" not in vars(reader.catalog) and "slots" not in vars(reader.catalog)
    whole = Library(library.data_dir)
    whole.catalog.titles  # noqa: B018 (read whole before it is compared)
    assert reader.ordered() == whole.ordered() == ids
    assert "titles" in vars(reader.catalog)
    assert reader.papers_json(ids) == whole.papers_json(ids)
    assert (reader.state(ids[-1]).tags, reader.state(ids[0]).read) == (("late",), True)


def test_a_merge_restored_from_its_cache_changes_as_one_merged_anew(library: Library) -> None:
    """journals.cache restores a merge's papers as they are used: changes made then (to
    papers restored, and not) leave it equal to the merge of the journals themselves."""
    ids = library.ordered()
    library.mark(ids[:3])
    library.tag(ids[2:6], add=["a", "b"])
    library.set_note(ids[4], "first")
    cached = Library(library.data_dir)  # from journals.cache, saved by the changes above
    cached.tag([ids[5]], remove=["a"])
    cached.set_note(ids[4], "second")
    cached.mark([ids[7]])
    cached.tag([ids[5], ids[7]], add=["c"])  # papers exported since they were restored
    (library.data_dir / MERGED_FILE).unlink()
    fresh = Library(library.data_dir)
    assert merge_of(cached) == merge_of(fresh)
    assert cached.merger.states() == fresh.merger.states()
    assert fresh.state(ids[5]).tags == ("b", "c") and fresh.state(ids[4]).note == "second"
    assert merge_of(Library(library.data_dir)) == merge_of(fresh)


def test_a_merge_saved_later_loses_nothing_and_is_saved_when_asked(library: Library) -> None:
    """The app saves journals.cache at the reader's pauses, not after every decision: until
    then an open merges the journals, which hold every change; once saved, an open restores
    it, equal to a merge made anew."""
    ids = library.ordered()
    library.mark(ids[:1])  # saved after the change, as a command does
    path = library.data_dir / MERGED_FILE
    before = path.read_bytes()
    library.merge_saved_later = True
    library.mark(ids[1:3])
    library.tag([ids[3]], add=["later"])
    assert path.read_bytes() == before  # held back
    library.save_merge()
    saved = path.read_bytes()
    assert saved != before
    library.save_merge()  # nothing changed since: nothing to save
    assert path.read_bytes() == saved
    restored = Library(library.data_dir)
    assert path.read_bytes() == saved  # restored, not merged and saved again
    path.unlink()
    assert merge_of(restored) == merge_of(Library(library.data_dir))
    library.set_note(ids[4], "held back")
    assert Library(library.data_dir).state(ids[4]).note == "held back"  # the journals have it


def test_a_merge_saved_later_is_never_saved_over_damage_or_a_failed_change(
    library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    """A merge held back (the app's) is not saved once the journals were reloaded since (a
    reload that found damage leaves the old merge: saved under the new files, the next open
    would neither report the damage nor show the other process's change), nor after a change
    that failed (what is merged may not be what the journal holds)."""
    ids = library.ordered()
    library.merge_saved_later = True
    library.set_note(ids[0], "kept")
    with pytest.raises(ReadinglistError, match="not UTF-8"):
        library.set_note(ids[1], "bytes \udcff from a shell")  # refused before any write
    assert main(["--data-dir", str(library.data_dir), "note", ids[1], "--set", "x\udcff"]) == 1
    assert "not UTF-8 text" in capsys.readouterr().err
    library.save_merge()
    assert Library(library.data_dir).state(ids[0]).note == "kept"
    assert Library(library.data_dir).state(ids[1]).note == ""

    library.mark(ids[2:3])  # held back again
    Library(library.data_dir).mark(ids[3:4])  # another process of this device
    path = journal_file(library.data_dir)
    doc = orjson.loads(path.read_bytes())
    last = doc["changes"][list(doc["changes"])[-1]]
    doc["changes"]["9795484547446.0"] = last | {"ops": [{"p": ids[2], "f": "status", "x": 1}]}
    path.write_bytes(orjson.dumps(doc))  # damaged since, by another program
    with pytest.raises(LibraryCorrupt):
        library.refresh()
    library.save_merge()
    with pytest.raises(LibraryCorrupt):  # still reported, not hidden by a saved merge
        Library(library.data_dir)


def test_entries_merged_into_a_restored_merge_are_exported(library: Library) -> None:
    """Entries merged later (another device's, say) into a merge restored from its export
    change papers nobody read since: the next export has them (each paper's export is
    kept until it changes)."""
    ids = library.ordered()
    library.tag(ids[:4], add=["a"])
    saved, known = library.merger.export(), {e.stamp for e in all_entries(library.store)}
    library.tag(ids[1:3], add=["b"])
    library.set_note(ids[3], "later")
    later = [e for e in all_entries(library.store) if e.stamp not in known]
    restored = Merger.restore(library.device.id, saved, lambda: all_entries(library.store))
    restored.export()  # every paper's export kept, then some change
    restored.add(later)
    assert decoded(restored.export()) == decoded(library.merger.export())
    assert restored.state(ids[3]).note == "later" and restored.state(ids[2]).tags == ("a", "b")


def decoded(export: tuple[Any, ...]) -> tuple[Any, ...]:
    papers, *rest = export
    return ({pid: marshal.loads(saved) for pid, saved in papers.items()}, *rest)


def merge_of(library: Library) -> tuple[Any, ...]:
    """The merge's export, each paper decoded (its marshalled bytes may spell the same
    data differently)."""
    return decoded(library.merger.export())


#: Texts a note or label may hold that JSON must escape, or that look like its syntax.
AWKWARD = st.text(alphabet=st.sampled_from('a"\\{}[],:\n\t\x00\u2028é🙂 '), max_size=12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(AWKWARD, min_size=1, max_size=4), empty=st.booleans())
def test_entries_added_to_the_journal_s_bytes_are_those_tinydb_saves(
    library: Library, tmp_path: Path, texts: list[str], empty: bool
) -> None:
    """A change after an open whose saved merge describes this very journal is added to
    the journal's bytes, unparsed; the file is then byte for byte what TinyDB saves after
    parsing it (and the next open reads it as such)."""
    source = library.data_dir
    if empty:  # a journal of no entry (its library's imports in another device's journal)
        source = tmp_path / "empty"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(library.data_dir, source)
        own = source / JOURNALS_DIR / f"{library.device.id}.json"
        other = own.with_name("0123456789abcdef.json")
        data = orjson.loads(own.read_bytes())
        data["device"]["device"]["id"] = "0123456789abcdef"
        other.write_bytes(orjson.dumps(data))
        data["device"]["device"]["id"], data["changes"] = library.device.id, {}
        own.write_bytes(orjson.dumps(data))
    copies = []
    for name in ("spliced", "parsed"):
        shutil.rmtree(tmp_path / name, ignore_errors=True)
        shutil.copytree(source, tmp_path / name)
        copies.append(tmp_path / name)
    Library(copies[0])  # saves the merge of the copy's very files (a copy is another file)
    (copies[1] / MERGED_FILE).unlink()  # the merge is made anew: the journal is parsed
    spliced, parsed = Library(copies[0]), Library(copies[1])
    assert (spliced.store.journal_storage.summary().count == 0) is empty
    pid = spliced.ordered()[0]
    latest = spliced.merger.latest
    entries = []
    for n, text in enumerate(texts):
        latest = journal.tick(latest, spliced.device.id, journal.clock_ms())
        op = journal.Op(pid, journal.NOTE, "", text, (), None, None)
        entries.append(
            journal.Entry(latest, f"2026-11-23T10:0{n}:00+00:00", journal.CHANGE, text, (op,))
        )
    for lib in (spliced, parsed):
        with lib.store.transaction():
            lib.store.append(entries)
    assert spliced.store.journal_storage._data is None  # added unparsed
    assert parsed.store.journal_storage._data is not None
    own = f"{JOURNALS_DIR}/{spliced.device.id}.json"
    assert (copies[0] / own).read_bytes() == (copies[1] / own).read_bytes()
    again = Library(copies[0])
    assert again.store.own_entries()[-len(entries) :] == entries


def test_a_journal_another_process_creates_during_an_open_is_merged(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device whose journal does not exist yet opens from its saved merge; a process of
    the same device that saves its first change meanwhile (while the open reads the
    catalog) is not taken for part of that merge: the change is seen, and kept."""
    config = tmp_path / "second-device"
    monkeypatch.setenv("READINGLIST_CONFIG_DIR", str(config))
    assert main(["--data-dir", str(library.data_dir), "stats"]) == 0  # saves its merge
    first, second = library.ordered()[:2]
    opening = Library._open_catalog
    marked = []

    def meanwhile(self: Library) -> None:
        if not marked:
            marked.append(None)  # this process's open, not the mark's
            marked[0] = main(["--data-dir", str(library.data_dir), "mark", first])
        opening(self)

    monkeypatch.setattr(Library, "_open_catalog", meanwhile)
    reader = Library(library.data_dir)
    monkeypatch.setattr(Library, "_open_catalog", opening)
    assert marked == [0]
    reader.refresh()
    assert reader.state(first).read
    reader.mark([second])
    again = Library(library.data_dir)
    assert again.state(first).read and again.state(second).read


def test_a_catalog_whose_rest_cannot_be_read_says_so_each_time(library: Library) -> None:
    """catalog.bin's rest damaged after the open (checksums are read with it) and a digest
    file missing, so it cannot be rebuilt either: each use says which file is missing,
    never a traceback."""
    path = library.data_dir / CATALOG_FILE
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # inside the base's rest
    path.write_bytes(bytes(raw))
    missing = digest_files(library.data_dir)[0]
    missing.unlink()
    reader = Library(library.data_dir)
    for _ in range(2):
        with pytest.raises(LibraryCorrupt) as info:
            reader.view()
        assert str(missing) in str(info.value) and not reader.catalog.whole


def test_an_older_state_json_is_saved_upgraded_by_an_open(library: Library) -> None:
    """state.json of an earlier schema (a library an earlier release wrote) is saved at
    the current one by the first open, the original kept aside."""
    path = library.data_dir / STATE_FILE
    data = orjson.loads(path.read_bytes())
    data["meta"]["schema"]["version"] = 4
    path.write_bytes(orjson.dumps(data))
    Library(library.data_dir)
    assert orjson.loads(path.read_bytes())["meta"]["schema"]["version"] == SCHEMA_VERSION["state"]
    assert path.with_name(f"{STATE_FILE}.schema4.bak").exists()


def test_two_instances_do_not_lose_each_others_changes(library: Library) -> None:
    other = Library(library.data_dir)
    ids = library.ordered()
    for i in range(20):
        library.mark([ids[2 * i]])
        other.tag([ids[2 * i + 1]], add=["other"])
    library.set_note(ids[0], "mine")
    other.set_note(ids[1], "theirs")
    fresh = Library(library.data_dir)
    assert all(fresh.state(ids[2 * i]).read for i in range(20))
    assert all(fresh.state(ids[2 * i + 1]).tags == ("other",) for i in range(20))
    assert (fresh.state(ids[0]).note, fresh.state(ids[1]).note) == ("mine", "theirs")


def test_refresh_picks_up_another_instance(library: Library) -> None:
    other = Library(library.data_dir)
    pid = library.ordered()[0]
    other.mark([pid])
    assert not library.state(pid).read
    assert library.refresh() is True
    assert library.state(pid).read
    assert library.refresh() is False


@pytest.mark.parametrize(
    "name", [STATE_FILE, "journal", "journal.bak", "another device's journal", CATALOG_FILE]
)
def test_leftover_temp_files_are_cleaned_on_open(library: Library, name: str) -> None:
    library.mark(library.ordered()[:1])
    journal = library.store.journal_storage.path
    folder = {
        "journal": journal.parent / f".{journal.name}.99999.tmp",
        "journal.bak": journal.parent / f".{journal.name}.bak.99999.tmp",
        "another device's journal": journal.parent / ".0123456789abcdef.json.99999.tmp",
    }
    leftover = folder.get(name, library.data_dir / f".{name}.99999.tmp")
    leftover.write_bytes(b'{"half": ')
    Library(library.data_dir)
    assert not leftover.exists()


def test_leftover_temp_files_of_digest_files_are_cleaned_on_open(library: Library) -> None:
    name = digest_files(library.data_dir)[0].name
    leftover = library.data_dir / "digests" / f".{name}.99999.tmp"
    leftover.write_bytes(b'{"half": ')
    Library(library.data_dir)
    assert not leftover.exists()


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(Exception, match="is a file, expected the library folder"):
        Library(target)


def test_no_files_are_written_by_reading(tmp_path: Path) -> None:
    lib = Library(tmp_path / "fresh")
    assert lib.query("") == []
    assert not (tmp_path / "fresh").exists()


def test_write_failure_leaves_disk_and_memory_consistent(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from readinglist.errors import StorageError

    pid = library.ordered()[0]
    library.mark([pid])
    path = library.store.journal_storage.path
    before = path.read_bytes()
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match="No space left on device"):
        library.mark([library.ordered()[1]])
    monkeypatch.setattr(os, "write", real_write)
    assert path.read_bytes() == before
    assert not library.state(library.ordered()[1]).read
    assert not list(library.data_dir.rglob(".*.tmp"))


def test_malformed_document_is_reported_as_damage(library: Library) -> None:
    path = library.store.journal_storage.path
    data = orjson.loads(path.read_bytes())
    key = next(k for k, entry in data["changes"].items() if "import" in entry)
    del data["changes"][key]["import"]["name"]
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(LibraryCorrupt) as info:
        Library(library.data_dir)
    assert str(info.value).startswith(
        f"{path}: changes/{key!r}: field 'import.name' is not a short text; "
        "the file was left untouched"
    )
    assert path.read_bytes() == orjson.dumps(data)


def test_malformed_document_in_a_digest_file_is_reported_as_damage(library: Library) -> None:
    """A digest file whose name matches its content (as an import would write it), but one
    of whose papers has no title: refused, naming the file, the paper and the field."""
    data_dir = library.data_dir
    path = imported_digest_files(data_dir)[1]
    data = orjson.loads(path.read_bytes())
    del data["papers"]["3"]["title"]
    payload = orjson.dumps(data)
    renamed = rename_to_hash(path, payload)
    with pytest.raises(LibraryCorrupt) as info:
        Library(data_dir)
    assert str(info.value).startswith(
        f"{renamed}: papers/3: field 'title' is missing, expected text; the file was left untouched"
    )
    assert renamed.read_bytes() == payload and not (data_dir / CATALOG_FILE).exists()


def test_a_digest_file_edited_in_place_is_reported_as_damage(library: Library) -> None:
    """A hand edit that keeps the JSON valid still changes the content its name promises."""
    data_dir = library.data_dir
    path = imported_digest_files(data_dir)[1]
    edited = path.read_bytes().replace(b'"title":"', b'"title":"Edited: ', 1)
    path.write_bytes(edited)
    (data_dir / CATALOG_FILE).unlink()
    with pytest.raises(LibraryCorrupt) as info:
        Library(data_dir)
    assert str(info.value).startswith(
        f"{path}: its content does not match its name (the file was changed); the file was "
        "left untouched"
    )
    assert path.read_bytes() == edited and not (data_dir / CATALOG_FILE).exists()
