"""Atomic, corruption-checked, shared TinyDB storage."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from readinglist.errors import LibraryCorrupt
from readinglist.library import Library
from readinglist.storage import SCHEMA_VERSION

CORRUPTIONS = {
    "empty": b"",
    "truncated": b'{"meta": {"schema": {"version": 1, "kind": "state"}}, "state": {"abc',
    "null": b"null",
    "list": b"[1, 2]",
    "invalid utf-8": b'{"meta": "\xff\xfe"}',
    "no schema": b'{"state": {}}',
    "future schema": b'{"meta": {"schema": {"version": 99, "kind": "state"}}}',
    "wrong kind": b'{"meta": {"schema": {"version": 1, "kind": "papers"}}}',
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_state_file_is_refused_and_left_untouched(library: Library, name: str) -> None:
    library.mark(library.ordered()[:1])
    library.mark(library.ordered()[1:2])  # the second save keeps the first as state.json.bak
    path = library.store.state_storage.path
    path.write_bytes(CORRUPTIONS[name])
    with pytest.raises(LibraryCorrupt) as info:
        Library(library.data_dir)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "left untouched" in message and ".bak" in message and "\n" not in message
    assert path.read_bytes() == CORRUPTIONS[name]


def test_corrupt_file_is_not_overwritten_by_a_running_instance(library: Library) -> None:
    """Another process damaged the file after we loaded it: our next write must refuse."""
    pid = library.ordered()[0]
    library.mark([pid])
    path = library.store.state_storage.path
    path.write_bytes(b"{trunc")
    with pytest.raises(LibraryCorrupt):
        library.mark([library.ordered()[1]])
    assert path.read_bytes() == b"{trunc"


def test_backup_holds_the_previous_good_version(library: Library) -> None:
    a, b = library.ordered()[:2]
    library.mark([a])
    library.mark([b])
    path = library.store.state_storage.path
    backup = orjson.loads(path.with_name("state.json.bak").read_bytes())
    assert a in backup["state"] and b not in backup["state"]
    assert backup["meta"]["schema"] == {"version": SCHEMA_VERSION["state"], "kind": "state"}


def test_mark_read_does_not_rewrite_the_papers_file(library: Library) -> None:
    papers = library.store.papers_storage.path
    before = papers.stat()
    library.mark(library.ordered()[:5])
    library.tag(library.ordered()[:5], add=["x"])
    after = papers.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


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


def test_leftover_temp_files_are_cleaned_on_open(library: Library) -> None:
    library.mark(library.ordered()[:1])
    leftover = library.data_dir / ".state.json.99999.tmp"
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
    path = library.store.state_storage.path
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
    assert not list(library.data_dir.glob(".*.tmp"))


def test_malformed_document_is_reported_as_damage(library: Library) -> None:
    path = library.store.papers_storage.path
    data = orjson.loads(path.read_bytes())
    pid = next(iter(data["papers"]))
    del data["papers"][pid]["title"]
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(LibraryCorrupt) as info:
        Library(library.data_dir)
    assert f"papers.json: papers/{pid}: field 'title' is missing, expected text;" in str(info.value)
