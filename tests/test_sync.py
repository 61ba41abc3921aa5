"""Two devices sharing one library folder through a sync engine, edited offline on both.

Two library folders and two device identities in ``tmp_path`` stand in for a laptop and a
desktop; :func:`sync` copies files between them the way Syncthing, Dropbox or
``rsync -a --update`` do (what is missing or newer, both ways, deleting nothing).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readinglist import doctor, journal, storage
from readinglist.cli import main
from readinglist.device import Device
from readinglist.errors import StorageError
from readinglist.journal import Entry, Merger, Op
from readinglist.library import Library
from readinglist.storage import JOURNALS_DIR, MERGED_FILE

LAPTOP = Device("1" * 16, "laptop")
DESKTOP = Device("2" * 16, "desktop")


def sync(a: Path, b: Path, *, skip: tuple[str, ...] = ()) -> None:
    """Copy what is missing or newer from ``a`` to ``b`` and back (files named in ``skip``
    stay behind: a sync engine that has not got to them yet)."""
    for source, target in ((a, b), (b, a)):
        for path in sorted(source.rglob("*")):
            if not path.is_file() or path.name == "lock" or path.name in skip:
                continue
            copy = target / path.relative_to(source)
            if not copy.exists() or path.stat().st_mtime_ns > copy.stat().st_mtime_ns:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)


def listing(library: Library) -> list[dict[str, Any]]:
    """What ``readinglist list --json`` prints: every paper, state and digest, in order."""
    return library.papers_json(library.ordered())


@pytest.fixture
def folders(tmp_path: Path, digest_paths: list[Path]) -> tuple[Path, Path]:
    """The laptop imported three digests; the desktop got the folder by sync."""
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    assert Library(laptop, LAPTOP).import_files(digest_paths[:3]).ok
    sync(laptop, desktop)
    return laptop, desktop


@contextlib.contextmanager
def clock_off_by(monkeypatch: pytest.MonkeyPatch, ms: int) -> Iterator[None]:
    real = journal.clock_ms
    with monkeypatch.context() as patch:
        patch.setattr(journal, "clock_ms", lambda: real() + ms)
        yield


def test_offline_edits_on_both_devices_converge_with_nothing_lost(
    folders: tuple[Path, Path], digest_paths: list[Path]
) -> None:
    laptop, desktop = folders
    a = Library(laptop, LAPTOP)
    first, second, third, fourth = a.ordered()[:4]
    a.mark([first])
    a.tag([second], add=["ml"])
    a.set_note(third, "laptop thoughts")
    assert a.import_files([digest_paths[4]]).ok
    b = Library(desktop, DESKTOP)
    b.decide([fourth], "later")
    b.tag([second], add=["vision"])
    b.set_note(third, "desktop thoughts")
    assert b.import_files([digest_paths[3]]).ok
    sync(laptop, desktop)
    a, b = Library(laptop, LAPTOP), Library(desktop, DESKTOP)
    assert listing(a) == listing(b)
    assert len(a.papers) == 751  # both imports, merged
    assert a.state(first).read and a.state(fourth).status == "later"
    assert set(a.state(second).tags) == {"ml", "vision"}
    note = a.state(third).note
    assert "laptop thoughts" in note and "desktop thoughts" in note and "CONFLICT" in note
    assert [pid for pid, _ in a.conflicts()] == [third] == [pid for pid, _ in b.conflicts()]
    # The reader settles it on one device; the other sees it settled.
    a.set_note(third, "both: laptop and desktop thoughts")
    sync(laptop, desktop)
    b = Library(desktop, DESKTOP)
    assert b.state(third).note == "both: laptop and desktop thoughts"
    assert b.conflicts() == []


def test_the_same_field_changed_on_both_goes_to_the_later_change(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop, desktop = folders
    a, b = Library(laptop, LAPTOP), Library(desktop, DESKTOP)
    pid = a.ordered()[0]
    a.decide([pid], "skipped")
    with clock_off_by(monkeypatch, 1000):
        b.decide([pid], "later")
    sync(laptop, desktop)
    assert Library(laptop, LAPTOP).state(pid).status == "later"
    assert Library(desktop, DESKTOP).state(pid).status == "later"


def test_a_clock_an_hour_behind_still_wins_once_it_has_seen_the_other_change(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop, desktop = folders
    a = Library(laptop, LAPTOP)
    pid = a.ordered()[0]
    a.mark([pid])
    sync(laptop, desktop)
    with clock_off_by(monkeypatch, -3_600_000):
        b = Library(desktop, DESKTOP)
        assert b.state(pid).read
        b.decide([pid], "later")  # after seeing the laptop's: it must win
        b.mark([pid], read=False)
        b.decide([pid], "skipped")  # its own changes keep their order
    sync(laptop, desktop)
    assert Library(laptop, LAPTOP).state(pid).status == "skipped"
    assert Library(desktop, DESKTOP).state(pid).status == "skipped"


def test_undo_takes_back_only_this_devices_change(folders: tuple[Path, Path]) -> None:
    laptop, desktop = folders
    a = Library(laptop, LAPTOP)
    first, second = a.ordered()[:2]
    a.mark([first])
    a.tag([second], add=["ml"])
    sync(laptop, desktop)
    b = Library(desktop, DESKTOP)
    b.tag([first], add=["later-reading"])
    b.decide([second], "later")
    b.tag([second], remove=["ml"])
    sync(laptop, desktop)
    a = Library(laptop, LAPTOP)
    # The laptop's last change was "+ml on second", which the desktop took back since:
    # undo leaves the desktop's change alone (nothing to put back).
    change = a.undo()
    assert change is not None and change.ids == ()
    assert (
        change.label == "undo tag 1 paper +ml (nothing put back: changed on another device since)"
    )
    assert a.state(second).tags == () and a.state(second).status == "later"
    # The one before: "first read", which nobody changed since.
    change = a.undo()
    assert change is not None and change.ids == (first,)
    assert not a.state(first).read and a.state(first).tags == ("later-reading",)
    assert a.redo() is not None and a.state(first).read
    # Undo never deletes history: the journal grew by three entries.
    kinds = [e.kind for e in a.store.own_entries()]
    assert kinds[-3:] == ["undo", "undo", "redo"]
    sync(laptop, desktop)
    assert listing(Library(desktop, DESKTOP)) == listing(Library(laptop, LAPTOP))


def test_imports_on_both_devices_are_ordered_the_same_on_both(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    assert Library(laptop, LAPTOP).import_files(digest_paths[:2]).ok
    assert Library(desktop, DESKTOP).import_files(digest_paths[1:4]).ok  # one in common
    sync(laptop, desktop)
    a, b = Library(laptop, LAPTOP), Library(desktop, DESKTOP)
    assert len(a.catalog.imports) == 4 == len(b.catalog.imports)
    assert a.catalog.imports == b.catalog.imports
    assert listing(a) == listing(b)


def test_an_import_waits_for_its_digest_file(
    folders: tuple[Path, Path], digest_paths: list[Path]
) -> None:
    laptop, desktop = folders
    b = Library(desktop, DESKTOP)
    assert b.import_files([digest_paths[3]]).ok
    (name,) = {r.hash for r in b.catalog.imports} - {
        r.hash for r in Library(laptop, LAPTOP).catalog.imports
    }
    sync(laptop, desktop, skip=(f"{name}.json",))
    a = Library(laptop, LAPTOP)  # the journal came, the digest file not yet
    assert len(a.papers) == 424 and len(a.pending()) == 1
    report = [f.text for f in doctor.diagnose(laptop, LAPTOP)]
    assert any("wait for their digest files" in text for text in report)
    sync(laptop, desktop)
    a.refresh()
    assert len(a.papers) == len(b.papers) and a.pending() == []


def test_a_journal_cut_short_mid_copy_is_skipped_until_it_is_whole(
    folders: tuple[Path, Path],
) -> None:
    laptop, desktop = folders
    b = Library(desktop, DESKTOP)
    pid = b.ordered()[0]
    b.mark([pid])
    theirs = b.store.journal_storage.path
    half = laptop / JOURNALS_DIR / theirs.name
    half.write_bytes(theirs.read_bytes()[: theirs.stat().st_size // 2])
    a = Library(laptop, LAPTOP)  # opens; the half file is not read
    assert not a.state(pid).read
    a.tag([pid], add=["x"])  # and changes still save
    findings = doctor.diagnose(laptop, LAPTOP)
    assert any(not f.ok and theirs.name in f.text and "skipped" in f.text for f in findings)
    shutil.copy2(theirs, half)
    assert a.refresh() and a.state(pid).read and a.state(pid).tags == ("x",)


def test_a_fifo_a_folder_or_a_symlink_loop_in_journals_is_skipped_not_waited_on(
    folders: tuple[Path, Path],
) -> None:
    """Named like journals, none of them is one: every command, doctor included, goes on
    (a FIFO once blocked them all forever) and doctor names each."""
    laptop, _ = folders
    journals = laptop / JOURNALS_DIR
    os.mkfifo(journals / "fifo.json")
    (journals / "folder.json").mkdir()
    (journals / "loop.json").symlink_to("loop.json")
    a = Library(laptop, LAPTOP)
    assert a.mark(a.ordered()[:1]) is not None
    problems = [f.text for f in doctor.diagnose(laptop, LAPTOP) if not f.ok]
    for name, why in (("fifo", "not a regular file"), ("folder", "is a directory"),
                      ("loop", "symbolic links")):  # fmt: skip
        assert any(f"{name}.json" in text and why in text.lower() for text in problems), name


@pytest.mark.parametrize(
    "copy_name",
    [
        "{id}.sync-conflict-20261123-101010-ABCDEFG.json",  # Syncthing
        "{id} (conflicted copy 2026-11-23).json",  # Dropbox
    ],
)
def test_a_conflict_copy_of_a_journal_is_merged_then_folded_and_removed(
    folders: tuple[Path, Path], copy_name: str
) -> None:
    laptop, _ = folders
    a = Library(laptop, LAPTOP)
    first, second = a.ordered()[:2]
    a.mark([first])
    own = a.store.journal_storage.path
    newer = own.read_bytes()
    # A backup put back an older journal; the sync engine kept the newer one as a copy.
    a.tag([second], add=["kept"])
    copy = own.with_name(copy_name.format(id=LAPTOP.id))
    shutil.copy2(own, copy)
    own.write_bytes(newer)
    a = Library(laptop, LAPTOP)
    assert a.state(second).tags == ("kept",) and a.state(first).read  # merged from the copy
    findings = doctor.diagnose(laptop, LAPTOP)
    assert not any(f.repair for f in findings if copy.name in f.text)  # not redundant yet
    a.tag([first], add=["y"])  # the next change folds the copy into the journal
    (finding,) = [f for f in doctor.diagnose(laptop, LAPTOP) if copy.name in f.text]
    assert not finding.ok and finding.repair is not None and "redundant" in finding.text
    assert doctor.run(laptop, fix=True, confirm=lambda _: True) == 0
    assert not copy.exists()
    a = Library(laptop, LAPTOP)
    assert a.state(second).tags == ("kept",) and a.state(first).tags == ("y",)


def test_compaction_on_one_device_while_the_other_is_offline(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "COMPACT_AT", 40)
    monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 10)
    laptop, desktop = folders
    a, b = Library(laptop, LAPTOP), Library(desktop, DESKTOP)
    ids = a.ordered()[:30]
    for n, pid in enumerate(ids):
        a.tag([pid], add=[f"t{n % 3}"])
        a.decide([pid], "later" if n % 2 else "skipped")
    sync(laptop, desktop)  # the desktop holds the long journal
    for pid in ids[:20]:
        a.mark([pid])  # the laptop compacts (over 40 entries) meanwhile
    b.tag(ids[:5], add=["desk"])
    assert len(a.store.own_entries()) <= 40
    sync(laptop, desktop)
    a, b = Library(laptop, LAPTOP), Library(desktop, DESKTOP)
    assert listing(a) == listing(b)
    assert all(a.state(pid).read for pid in ids[:20])
    assert all(a.state(pid).status == "later" for pid in ids[21:30:2])
    assert all("desk" in a.state(pid).tags for pid in ids[:5])
    assert a.undo() is not None and not a.state(ids[19]).read  # recent steps still undo


def test_a_conflict_copy_made_before_a_compaction_is_redundant_after_it(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of this device's journal made before it compacted holds entries the journal
    folded into its snapshot: they are not added back with every change (each one set off
    another compaction), and doctor --fix removes the copy with nothing lost."""
    monkeypatch.setattr(journal, "COMPACT_AT", 30)
    monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 5)
    laptop, _ = folders
    a = Library(laptop, LAPTOP)
    ids = a.ordered()[:28]
    for pid in ids[:20]:
        a.tag([pid], add=["early"])
    own = a.store.journal_storage.path
    copy = own.with_name(f"{LAPTOP.id}.sync-conflict-20261123-101010-ABCDEFG.json")
    shutil.copy2(own, copy)
    for pid in ids[20:]:
        Library(laptop, LAPTOP).mark([pid])  # compacts on the way
    before = len(Library(laptop, LAPTOP).store.own_entries())
    Library(laptop, LAPTOP).decide([ids[0]], "later")
    assert len(Library(laptop, LAPTOP).store.own_entries()) == before + 1
    assert doctor.run(laptop, fix=True, confirm=lambda _: True) == 0
    assert not copy.exists()
    a = Library(laptop, LAPTOP)
    assert all("early" in a.state(pid).tags for pid in ids[:20])
    assert all(a.state(pid).read for pid in ids[20:]) and a.state(ids[0]).status == "later"


def test_a_journal_never_grows_past_what_other_devices_read(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other devices skip a journal over MAX_JOURNAL_BYTES; a change that would make this
    device's that large is refused with nothing saved, so the devices never split."""
    laptop, desktop = folders
    a = Library(laptop, LAPTOP)
    pid = a.ordered()[0]
    size = a.store.journal_storage.path.stat().st_size
    monkeypatch.setattr(storage, "MAX_JOURNAL_BYTES", size + 2000)
    a.set_note(pid, "short")
    with pytest.raises(StorageError, match=r"larger than .* nothing was saved"):
        a.set_note(pid, "long " * 1000)
    assert a.state(pid).note == "short"
    sync(laptop, desktop)
    assert Library(desktop, DESKTOP).state(pid).note == "short"


def test_a_conflict_copy_arriving_after_a_compaction_keeps_what_only_it_holds(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal was restored from a backup older than a tag, then compacted; the sync
    engine's conflict copy with the tag arrives only then. Its entry is older than the
    snapshot but no field of the journal supersedes it: it is folded in, and doctor --fix
    removes the copy only then, with the tag kept."""
    monkeypatch.setattr(journal, "COMPACT_AT", 30)
    monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 5)
    laptop, _ = folders
    a = Library(laptop, LAPTOP)
    ids = a.ordered()[:40]
    own = a.store.journal_storage.path
    backup = own.read_bytes()
    a.tag([ids[0]], add=["precious"])
    newer = own.read_bytes()
    own.write_bytes(backup)  # the reader restores the backup
    for pid in ids[1:]:
        Library(laptop, LAPTOP).mark([pid])  # compacts on the way
    assert "precious" not in Library(laptop, LAPTOP).state(ids[0]).tags
    copy = own.with_name(f"{LAPTOP.id}.sync-conflict-20261123-101010-ABCDEFG.json")
    copy.write_bytes(newer)
    findings = doctor.diagnose(laptop, LAPTOP)
    assert any(copy.name in f.text and f.ok and "lacks" in f.text for f in findings)
    Library(laptop, LAPTOP).decide([ids[1]], "later")  # folds it in
    assert doctor.run(laptop, fix=True, confirm=lambda _: True) == 0
    assert not copy.exists()
    a = Library(laptop, LAPTOP)
    assert a.state(ids[0]).tags == ("precious",) and a.state(ids[1]).status == "later"
    assert all(a.state(pid).read for pid in ids[2:])


def test_long_notes_edited_many_times_compact_the_journal_instead_of_filling_it(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Far fewer than COMPACT_AT entries can fill a journal (each note edit holds the old and
    the new text): past half the limit it compacts, keeping fewer entries whole when they
    alone are large, so changes never stop saving and other devices can read it."""
    laptop, desktop = folders
    monkeypatch.setattr(storage, "MAX_JOURNAL_BYTES", 400_000)
    pid, other = Library(laptop, LAPTOP).ordered()[:2]
    path = Library(laptop, LAPTOP).store.journal_storage.path
    for n in range(60):  # 60 edits × ~100 KB (old + new text): 15 times the limit
        Library(laptop, LAPTOP).set_note(pid, f"v{n} " + "x" * 50_000)
        assert path.stat().st_size <= 400_000
    a = Library(laptop, LAPTOP)
    assert a.mark([other]) is not None and a.state(pid).note.startswith("v59 ")
    assert a.undo() is not None and not a.state(other).read  # recent steps still undo
    sync(laptop, desktop)
    assert Library(desktop, DESKTOP).state(pid).note.startswith("v59 ")


def test_this_devices_journal_replaced_by_an_older_copy_is_told_until_the_next_change(
    folders: tuple[Path, Path],
) -> None:
    """A sync engine copying the other way (or a restored backup) puts back an older copy of
    this device's journal: its later changes are gone from it. The config dir remembers
    the newest change this device saved here, so every command, the app and doctor say so,
    until the next change makes the journal this device's newest again."""
    laptop, _ = folders
    a = Library(laptop, LAPTOP)
    pid = a.ordered()[0]
    own = a.store.journal_storage.path
    older = own.read_bytes()
    a.mark([pid])
    assert Library(laptop, LAPTOP).warnings == []
    own.write_bytes(older)
    b = Library(laptop, LAPTOP)
    (warning,) = b.warnings
    assert str(own) in warning and "older copy" in warning and not b.state(pid).read
    problems = [f.text for f in doctor.diagnose(laptop, LAPTOP) if not f.ok]
    assert problems == [warning]
    b.decide([pid], "later")
    assert b.warnings == [] and Library(laptop, LAPTOP).warnings == []
    assert [f for f in doctor.diagnose(laptop, LAPTOP) if not f.ok] == []


def test_a_change_that_sets_off_compaction_after_a_reopen_is_kept(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command opens the library from its saved merge (journals.cache), which has not
    read the entries: the change that makes the journal compact must be in the snapshot's
    journal, not only in the cache; and the next change, after another reopen, must not
    reuse the snapshot's stamp, even when another device's clock is an hour ahead."""
    monkeypatch.setattr(journal, "COMPACT_AT", 20)
    monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 5)
    laptop, desktop = folders
    with clock_off_by(monkeypatch, 3_600_000):
        Library(desktop, DESKTOP).tag([Library(desktop, DESKTOP).ordered()[0]], add=["ahead"])
    sync(laptop, desktop)
    ids = Library(laptop, LAPTOP).ordered()[:20]
    for pid in ids:
        Library(laptop, LAPTOP).mark([pid])  # a command each: compacts on the way
    assert len(Library(laptop, LAPTOP).store.own_entries()) <= 20
    Library(laptop, LAPTOP).decide([ids[0]], "later")  # after the compaction, reopened
    (laptop / MERGED_FILE).unlink()  # the journals alone, as another device reads them
    a = Library(laptop, LAPTOP)
    assert all(a.state(pid).read for pid in ids[1:]) and a.state(ids[0]).status == "later"
    sync(laptop, desktop)
    assert listing(Library(desktop, DESKTOP)) == listing(Library(laptop, LAPTOP))


def test_a_stamp_past_the_year_9999_is_damage_and_a_full_counter_carries() -> None:
    assert journal.tick((5, journal.COUNTER_LIMIT - 1, "a" * 16), "b" * 16, 3) == (6, 0, "b" * 16)
    assert journal.tick((5, 7, "a" * 16), "b" * 16, 3) == (5, 8, "b" * 16)
    entry = Entry((journal.MAX_WALL, 0, "a" * 16), "2026-01-01T00:00:00+00:00", "change", "x")
    data = {
        "device": {"device": {"id": "a" * 16, "name": "far"}},
        "changes": {journal.key_of(entry.stamp): journal.encode_entry(entry)},
    }
    assert journal.problem(data) is None  # the last millisecond of 9999 is still a stamp
    data["changes"] = {f"{journal.MAX_WALL + 1}.0": journal.encode_entry(entry)}
    assert "not a stamp" in (journal.problem(data) or "")
    data["changes"] = {"9999999999999999.999999999": journal.encode_entry(entry)}
    assert "not a stamp" in (journal.problem(data) or "")


def test_another_programs_tag_reads_as_a_tag_and_prints_as_text(
    folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A tag readinglist would never write (upper case, spaces, a terminal escape) in another
    device's journal is read as the tag readinglist would make of it: ``tag:`` finds it,
    ``tag --remove`` removes it, and nothing of it reaches the terminal as a control."""
    laptop, desktop = folders
    b = Library(desktop, DESKTOP)
    pid = b.ordered()[0]
    b.tag([pid], add=["placeholder"])
    hostile = "tag:UPPER Case\x1b]0;pwned\x07\x1b[2J"
    path = desktop / JOURNALS_DIR / f"{DESKTOP.id}.json"
    raw = path.read_bytes().replace(b'"tag:placeholder"', orjson.dumps(hostile))
    path.write_bytes(raw)
    sync(laptop, desktop)
    a = Library(laptop, LAPTOP)
    (tag,) = a.state(pid).tags
    assert tag == "upper-case-0-pwned-2j" and a.query(f"tag:{tag}") == [pid]
    assert main(["--data-dir", str(laptop), "tags"]) == 0
    out = capsys.readouterr().out
    assert tag in out and "\x1b" not in out and "\x07" not in out
    a.tag([pid], remove=[tag])
    assert Library(laptop, LAPTOP).state(pid).tags == ()


def test_doctor_and_devices_name_both_devices(folders: tuple[Path, Path]) -> None:
    laptop, desktop = folders
    Library(desktop, DESKTOP).mark([Library(desktop, DESKTOP).ordered()[0]])
    sync(laptop, desktop)
    a = Library(laptop, LAPTOP)
    rows = a.devices()
    assert [(row[0], row[1]) for row in rows] == [(LAPTOP.id, "laptop"), (DESKTOP.id, "desktop")]
    assert rows[1][2] == 1
    assert all(f.ok for f in doctor.diagnose(laptop, LAPTOP))
    assert "catalog.bin" in (laptop / ".stignore").read_text()
    assert "catalog.bin" in (laptop / ".gitignore").read_text()


# ----------------------------------------------------------------------------- property

PIDS = ["a" * 12, "b" * 12, "c" * 12]
DEVICES = [LAPTOP.id, DESKTOP.id]
operation = st.one_of(
    st.tuples(st.just("status"), st.sampled_from(["new", "later", "read", "skipped"])),
    st.tuples(st.just("tag"), st.sampled_from(["x", "y"]), st.booleans()),
    st.tuples(st.just("note"), st.sampled_from(["", "one", "two"])),
)
step = st.one_of(
    st.tuples(
        st.just("op"), st.integers(0, 1), st.sampled_from(PIDS), operation, st.integers(-5000, 5000)
    ),
    st.tuples(st.just("copy"), st.integers(0, 1)),
)


def _change(merger: Merger, device: str, pid: str, operation: tuple[Any, ...], now: int) -> Entry:
    """One change as Library makes it: an op from the merged state, stamped after it."""
    state = merger.state(pid)
    if operation[0] == "status":
        old = {name: getattr(state, name) for name in journal.STATUS_FIELDS}
        op = Op(pid, "status", old, old | {"status": operation[1]})
    elif operation[0] == "tag":
        op = Op(pid, f"tag:{operation[1]}", operation[1] in state.tags, operation[2])
    else:
        heads = tuple(v.stamp for v in merger.heads(pid))
        op = Op(pid, "note", state.note, operation[1], heads)
    stamp = journal.tick(merger.latest, device, now)
    return Entry(stamp, "2026-11-23T00:00:00+00:00", journal.CHANGE, "", (op,))


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=40), st.randoms(use_true_random=False))
def test_any_interleaving_of_changes_and_copies_converges(
    steps: list[tuple[Any, ...]], shuffle: random.Random
) -> None:
    mergers = [Merger(device) for device in DEVICES]
    clock = 1_000_000
    for item in steps:
        if item[0] == "op":
            _, who, pid, operation, skew = item
            clock += 7
            mergers[who].add([_change(mergers[who], DEVICES[who], pid, operation, clock + skew)])
        else:  # one device's merged journals reach the other
            mergers[1 - item[1]].add(list(mergers[item[1]].entries.values()))
    for source, target in ((0, 1), (1, 0)):
        mergers[target].add(list(mergers[source].entries.values()))
    entries = list(mergers[0].entries.values())
    shuffle.shuffle(entries)
    fresh = Merger(DEVICES[0])
    fresh.add(entries + entries[: len(entries) // 2])  # any order, some twice
    assert mergers[0].states() == mergers[1].states() == fresh.states()
    assert [mergers[0].note(p) for p in PIDS] == [mergers[1].note(p) for p in PIDS]


wall = st.integers(0, journal.MAX_WALL)
stamp = st.tuples(wall, st.integers(0, 10**6), st.just(LAPTOP.id))
status_value = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["new", "later", "read", "skipped", "snoozed"]),
        **{name: st.one_of(st.none(), st.text(max_size=30)) for name in journal.STATUS_FIELDS[1:]},
    }
)
ops = st.one_of(
    st.builds(Op, st.just(PIDS[0]), st.just("status"), status_value, status_value),
    st.builds(Op, st.just(PIDS[1]), st.just("tag:ml"), st.booleans(), st.booleans()),
    st.builds(
        Op, st.just(PIDS[2]), st.just("note"), st.text(), st.text(),
        st.lists(st.tuples(wall, st.integers(0, 99), st.sampled_from(DEVICES)),
                 max_size=3).map(tuple),
    ),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(Entry, stamp, st.text(max_size=30), st.just(journal.CHANGE), st.text(),
                      st.lists(ops, max_size=4).map(tuple)),
            st.builds(Entry, stamp, st.just("t"), st.sampled_from([journal.UNDO, journal.REDO]),
                      st.text(), st.lists(ops, max_size=2).map(tuple), stamp),
        ),
        max_size=5,
    )
)  # fmt: skip
def test_every_entry_a_device_writes_reads_back_the_same(entries: list[Entry]) -> None:
    """The journal a device writes must always be one it (and every other device) reads."""
    data = {
        "meta": {"schema": {"version": 1, "kind": "journal"}},
        "device": {"device": {"id": LAPTOP.id, "name": "laptop"}},
        "changes": {e.key: journal.encode_entry(e) for e in entries},
    }
    raw = orjson.loads(orjson.dumps(data))
    assert journal.problem(raw) is None
    assert journal.decode(raw)[2] == list({e.key: e for e in entries}.values())


def test_the_saved_merge_is_only_a_shortcut(folders: tuple[Path, Path]) -> None:
    """``journals.cache`` (the merge saved for the next open) gives what merging every
    journal gives; one copied from the other device, damaged, or of other files is unused."""
    laptop, desktop = folders
    a, b = Library(laptop, LAPTOP), Library(desktop, DESKTOP)
    first, second = a.ordered()[:2]
    a.mark([first])
    a.set_note(second, "laptop")
    b.tag([first], add=["desk"])
    b.set_note(second, "desk")
    sync(laptop, desktop)
    truth = listing(Library(laptop, LAPTOP))
    cache = laptop / MERGED_FILE
    assert cache.exists()
    for payload in (
        (desktop / MERGED_FILE).read_bytes(),  # the other device's, copied over
        cache.read_bytes()[:40],  # cut short
        b"readinglist merged 1\n" + b"\x00" * 50,  # garbage after the magic
    ):
        cache.write_bytes(payload)
        assert listing(Library(laptop, LAPTOP)) == truth
    cache.unlink()
    assert listing(Library(laptop, LAPTOP)) == truth  # merged again, and saved
    assert listing(Library(laptop, LAPTOP)) == truth  # from the saved merge
    # Undo needs the entries a saved merge lacks: they are read then. The laptop's last
    # change, its note, is in conflict with the desktop's: undo leaves both texts.
    restored = Library(laptop, LAPTOP)
    change = restored.undo()
    assert change is not None and "nothing put back" in change.label
    notes = {item["id"]: item["note"] for item in truth}
    assert restored.state(second).note == notes[second] and "CONFLICT" in notes[second]
    assert restored.undo() is not None and not restored.state(first).read


def partial_sync(source: Path, target: Path, chance: random.Random) -> None:
    """Copy some of what is missing or newer, in a random order: a sync engine caught
    mid-way (a journal may arrive before the digest file its import names, or after)."""
    paths = [
        p
        for p in sorted(source.rglob("*"))  # the listing's order is the file system's
        if p.is_file()
        and p.name != "lock"
        and (
            not (target / p.relative_to(source)).exists()
            or p.stat().st_mtime_ns > (target / p.relative_to(source)).stat().st_mtime_ns
        )
    ]
    chance.shuffle(paths)
    for path in paths[: chance.randint(0, len(paths))]:
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)


@pytest.mark.parametrize(("seed", "compact_at"), [(1, None), (2, None), (3, None), (4, 12)])
def test_random_edits_and_partial_copies_converge(
    tmp_path: Path,
    digest_paths: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    compact_at: int | None,
) -> None:
    """Two devices edit at random while a sync engine copies part of the files, in a random
    order, now one way, now the other; once it has caught up both ways, both list the same,
    and each device's last change of each field it alone wrote is there. Each change opens
    the library afresh, as a command does (so from its saved merge); with ``compact_at``,
    journals compact every few changes on the way."""
    if compact_at:
        monkeypatch.setattr(journal, "COMPACT_AT", compact_at)
        monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 4)
    chance = random.Random(seed)
    folders = [tmp_path / "laptop", tmp_path / "desktop"]
    devices = [LAPTOP, DESKTOP]
    assert Library(folders[0], LAPTOP).import_files(digest_paths[:2]).ok
    sync(*folders)
    ids = Library(folders[0], LAPTOP).ordered()[:6]
    last: dict[tuple[str, str], tuple[int, Any]] = {}  # (paper, field) → (device, value)
    contested: set[tuple[str, str]] = set()
    for _ in range(40):
        who = chance.randrange(2)
        if chance.random() < 0.3:
            partial_sync(folders[who], folders[1 - who], chance)
            continue
        library = Library(folders[who], devices[who])
        pid = chance.choice(ids)
        action = chance.choice(["status", "tag", "note", "import"])
        written: list[tuple[str, str, Any]] = []  # (paper, field, value) this change wrote
        if action == "status":
            status = chance.choice(["later", "read", "skipped", "new"])
            if library.decide([pid], status):
                written.append((pid, "status", status))
        elif action == "tag":
            tag = chance.choice(["ml", "vision"])
            if library.tag([pid], add=[tag]):
                written.append((pid, f"tag:{tag}", True))
        elif action == "note":
            text = f"note {chance.randrange(1000)} from {devices[who].name}"
            if library.set_note(pid, text):
                written.append((pid, "note", text))
        else:
            before = {p: library.state(p).status for p in ids}
            assert library.import_files([chance.choice(digest_paths[2:])]).ok
            # A skipped paper that recurs comes back: the import wrote its status.
            written += [(p, "status", "new") for p in ids if library.state(p).status != before[p]]
        for paper, field, value in written:
            known = last.get((paper, field))
            if known is not None and known[0] != who:
                contested.add((paper, field))
            last[(paper, field)] = (who, value)
    sync(*folders)
    a, b = Library(folders[0], LAPTOP), Library(folders[1], DESKTOP)
    assert listing(a) == listing(b)
    for (pid, field), (_, value) in last.items():
        if (pid, field) in contested:
            continue
        state = a.state(pid)
        if field == "status":
            assert state.status == value
        elif field == "note":
            assert state.note == value
        else:
            assert field.removeprefix("tag:") in state.tags
