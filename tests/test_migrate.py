"""Libraries written by earlier releases open in this one with nothing lost.

``tests/fixtures/v1`` and ``v2`` hold papers.json and state.json as two earlier releases
wrote them after the same session (see tests/fixtures/README.md): state.json schema 1 keeps
whole documents in its undo steps, schema 2 ``changes``. What each file should mean today is
derived from the file itself, by the rules of the upgrade (written here, not taken from
migrate.py): a paper read then is ``read`` now, its read date kept as ``read_at`` and as
``decided_at``; any other paper is ``new``; tags, notes and every undo step survive.

The last section checks what the triage model adds on real imports: skipped papers that a
new digest lists again are back in the inbox.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist.cli import main
from readinglist.errors import LibraryCorrupt
from readinglist.library import Library
from readinglist.model import EMPTY_STATE, PaperState
from readinglist.storage import (
    LOCK_FILE,
    PAPERS_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    NewerSchema,
    backup_path,
    leftover_temp_files,
    load_file,
    load_versioned,
)
from tests.libhelpers import snapshot
from tests.test_lock import hold, release

FIXTURES = Path(__file__).parent / "fixtures"
#: A state document with every field at its default, as schema 1 and 2 wrote it.
OLD_EMPTY: dict[str, Any] = {
    "read": False,
    "tags": [],
    "note": "",
    "read_at": None,
    "updated": None,
}
#: The note written in the fixtures' session.
NOTE = "Key idea: *tuples first*.\n\nRe-read §3 before the reading group ✓"
#: What the release with state schema 2 printed for its ``list`` on a copy of v2 upgraded by
#: this one (the schema 1 release printed the same with "(1)"); ``{path}``: state.json.
OLDER_REFUSAL = (
    "readinglist: {path}: schema version 3 is newer than this readinglist understands (2); "
    "upgrade readinglist to open it; the file was left untouched (do not restore "
    "state.json.bak over it: that older copy lacks what the newer version saved)"
)

Docs = dict[str, dict[str, Any] | None]


@dataclass
class Old:
    """A copy of one fixture library and its files as the earlier release wrote them."""

    version: int
    data_dir: Path
    papers: dict[str, Any]
    state: dict[str, Any]
    state_bytes: bytes

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def aside(self) -> Path:
        """Where the upgrade keeps the original state.json."""
        return self.data_dir / f"{STATE_FILE}.schema{self.version}.bak"

    def steps(self) -> list[dict[str, Any]]:
        """The undo steps the old release recorded, oldest first."""
        return [step for _, step in sorted((int(n), s) for n, s in self.state["history"].items())]


@pytest.fixture(params=[1, 2], ids=["schema1", "schema2"])
def old(request: pytest.FixtureRequest, tmp_path: Path) -> Old:
    version: int = request.param
    data_dir = tmp_path / "lib"
    data_dir.mkdir()
    for name in (PAPERS_FILE, STATE_FILE):
        shutil.copyfile(FIXTURES / f"v{version}" / name, data_dir / name)
    raw = (data_dir / STATE_FILE).read_bytes()
    papers = orjson.loads((data_dir / PAPERS_FILE).read_bytes())
    return Old(version, data_dir, papers, orjson.loads(raw), raw)


def upgraded(doc: dict[str, Any] | None) -> PaperState:
    """What a state document of schema 1 or 2 means today."""
    if doc is None:
        return EMPTY_STATE
    return PaperState(
        status="read" if doc["read"] else "new",
        tags=tuple(doc["tags"]),
        note=doc["note"],
        read_at=doc["read_at"],
        decided_at=doc["read_at"] if doc["read"] else None,
        updated=doc["updated"],
    )


def replay(docs: Docs, step: dict[str, Any], undo: bool) -> None:
    """What the earlier release's undo (or redo) of ``step`` did to its state documents."""
    if "changes" not in step:
        docs.update(step["before" if undo else "after"])
        return
    for pid, fields in step["changes"].items():
        doc = (docs.get(pid) or OLD_EMPTY) | {
            name: pair[0 if undo else 1] for name, pair in fields.items()
        }
        docs[pid] = None if doc == OLD_EMPTY else doc


def states(library: Library) -> dict[str, PaperState]:
    return {pid: library.state(pid) for pid in library.papers}


def expected_states(library: Library, docs: Docs) -> dict[str, PaperState]:
    return {pid: upgraded(docs.get(pid)) for pid in library.papers}


def without_lock(files: dict[str, bytes]) -> dict[str, bytes]:
    """A snapshot without the lock file, which a holder writes its name into."""
    return {name: data for name, data in files.items() if name != LOCK_FILE}


# ---------------------------------------------------------------------------- opening


def test_an_old_library_opens_with_nothing_lost(old: Old) -> None:
    assert old.state["meta"]["schema"] == {"version": old.version, "kind": "state"}
    library = Library(old.data_dir)

    assert {pid: paper.to_doc() for pid, paper in library.papers.items()} == old.papers["papers"]
    assert {did: digest.to_doc() for did, digest in library.digests.items()} == (
        old.papers["digests"]
    )
    assert len(library.papers) == 20
    now = states(library)
    assert now == expected_states(library, old.state["state"])
    assert {pid: state.updated for pid, state in now.items() if pid in old.state["state"]} == {
        pid: doc["updated"] for pid, doc in old.state["state"].items()
    }
    # The session's outcome, as the fixtures' README tells it.
    read = {pid for pid, doc in old.state["state"].items() if doc["read"]}
    assert {pid for pid, state in now.items() if state.status == "read"} == read
    assert len(read) == 3 and library.stats().read == 3
    assert all(now[pid].read_at and now[pid].decided_at == now[pid].read_at for pid in read)
    (noted,) = [pid for pid, state in now.items() if state.note]
    assert now[noted] == PaperState(status="new", tags=("privacy", "ml"), note=NOTE)
    assert sum(state.status == "new" for state in now.values()) == 17
    assert all(state.resurfaced is None and state.snoozed_until is None for state in now.values())


def test_list_json_shows_the_status(old: Old, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(old.data_dir), "list", "--json"]) == 0
    out, err = capsys.readouterr()
    listed = {item["id"]: item for item in orjson.loads(out)}
    assert err == "" and len(listed) == 20
    for pid, item in listed.items():
        doc = old.state["state"].get(pid) or OLD_EMPTY
        assert item["status"] == ("read" if doc["read"] else "new"), pid
        assert item["read"] is doc["read"] and item["resurfaced"] is False
        assert item["read_at"] == doc["read_at"]
        assert item["decided_at"] == (doc["read_at"] if doc["read"] else None)
        assert (item["tags"], item["note"]) == (doc["tags"], doc["note"])
        assert "snoozed_until" not in item


def test_old_undo_steps_undo_and_redo_after_the_upgrade(old: Old) -> None:
    """Each undo and redo leaves every paper as the earlier release's would have, upgraded."""
    library = Library(old.data_dir)
    steps = old.steps()
    assert [step["undone"] for step in steps] == [False] * 4 + [True]
    docs: Docs = dict(old.state["state"])

    def step(undo: bool, expected: dict[str, Any]) -> None:
        change = library.undo() if undo else library.redo()
        assert (
            change is not None
            and change.label == f"{'undo' if undo else 'redo'} {expected['label']}"
        )
        replay(docs, expected, undo)
        assert states(library) == expected_states(library, docs)
        assert states(Library(old.data_dir)) == states(library)  # and so it was saved

    step(False, steps[4])  # the step the old release had undone
    assert library.redo() is None
    for recorded in reversed(steps):
        step(True, recorded)
    assert library.undo() is None
    assert all(state == EMPTY_STATE for state in states(library).values())
    assert orjson.loads(old.state_path.read_bytes())["state"] == {}  # no empty documents left
    for recorded in steps:
        step(False, recorded)
    assert library.redo() is None


def test_the_upgrade_is_saved_once_atomically_with_the_original_aside(
    old: Old, capsys: pytest.CaptureFixture[str]
) -> None:
    papers_bytes = (old.data_dir / PAPERS_FILE).read_bytes()
    inode = old.state_path.stat().st_ino
    Library(old.data_dir)

    assert old.aside.read_bytes() == old.state_bytes
    saved = orjson.loads(old.state_path.read_bytes())
    assert saved["meta"]["schema"] == {"version": SCHEMA_VERSION["state"], "kind": "state"}
    assert load_versioned(old.state_path, "state")[1] == 3
    assert all(doc["status"] in ("read", "new") for doc in saved["state"].values())
    assert b'"read":' not in old.state_path.read_bytes()  # not in any state or undo step
    assert len(saved["history"]) == len(old.state["history"])
    # Replaced by a rename (the old file is now the backup), never rewritten in place.
    assert old.state_path.stat().st_ino != inode
    assert backup_path(old.state_path).stat().st_ino == inode
    assert leftover_temp_files(old.data_dir) == []
    assert (old.data_dir / PAPERS_FILE).read_bytes() == papers_bytes  # schema 1 is current

    before = snapshot(old.data_dir)
    library = Library(old.data_dir)
    assert states(library) == expected_states(library, old.state["state"])
    assert main(["--data-dir", str(old.data_dir), "list", "--json"]) == 0
    capsys.readouterr()
    assert snapshot(old.data_dir) == before  # byte for byte, and no new backup


def test_a_held_lock_leaves_the_upgrade_in_memory_until_a_later_open(old: Old) -> None:
    before = snapshot(old.data_dir)
    child = hold(old.data_dir, "readinglist import")
    try:
        library = Library(old.data_dir)  # opening never waits
        assert states(library) == expected_states(library, old.state["state"])
        assert without_lock(snapshot(old.data_dir)) == without_lock(before)
    finally:
        release(child)
    assert without_lock(snapshot(old.data_dir)) == without_lock(before)
    assert not old.aside.exists()

    library = Library(old.data_dir)
    assert old.aside.read_bytes() == old.state_bytes
    assert load_versioned(old.state_path, "state")[1] == 3
    assert states(library) == expected_states(library, old.state["state"])


def test_a_change_after_a_deferred_upgrade_keeps_the_original_aside(old: Old) -> None:
    """Opened while another process held the lock, then changed: the original is kept too."""
    child = hold(old.data_dir, "readinglist import")
    try:
        library = Library(old.data_dir)
    finally:
        release(child)
    pid = library.ordered()[-1]
    library.tag([pid], add=["x"])
    library.tag([pid], add=["y"])  # the second save replaces state.json.bak
    assert load_versioned(old.state_path, "state")[1] == 3
    assert old.aside.read_bytes() == old.state_bytes


@pytest.mark.parametrize("where", ["state", "undo step"])
def test_a_read_field_of_the_wrong_type_is_refused(
    old: Old, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """One line naming the document and field 'read'; nothing is written."""
    data = old.state
    pid = next(pid for pid, doc in data["state"].items() if doc["read"])
    if where == "state":
        data["state"][pid]["read"] = "yes"
        names = (f"state/{pid}: field 'read' is \"yes\" (text), expected true or false",)
    elif old.version == 1:
        data["history"]["1"]["after"][pid]["read"] = 1
        names = ("history/1", f"after.{pid}", "field 'read' is 1 (a number)")
    else:
        data["history"]["1"]["changes"][pid]["read"] = [False, 1]
        names = ("history/1", f"changes.{pid}", "field 'read' is 1 (a number)")
    old.state_path.write_bytes(orjson.dumps(data))
    before = snapshot(old.data_dir)

    with pytest.raises(LibraryCorrupt) as info:
        Library(old.data_dir)
    message = str(info.value)
    assert message.startswith(f"{old.state_path}: ") and "\n" not in message
    assert all(name in message.split("; ")[0] for name in names), message
    assert main(["--data-dir", str(old.data_dir), "mark", pid, "--unread"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"readinglist: {message}\n")
    assert snapshot(old.data_dir) == before


def test_a_newer_schema_is_refused_as_the_older_releases_refuse_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The earlier release refused our upgraded file in one line; we refuse schema 4 alike."""
    data_dir = Path(shutil.copytree(FIXTURES / "v2", tmp_path / "lib"))
    Library(data_dir)  # upgraded to schema 3
    path = data_dir / STATE_FILE
    data = orjson.loads(path.read_bytes())
    assert data["meta"]["schema"]["version"] == 3
    data["meta"]["schema"]["version"] = 4
    path.write_bytes(orjson.dumps(data))
    before = snapshot(data_dir)

    assert main(["--data-dir", str(data_dir), "list"]) == 1
    out, err = capsys.readouterr()
    ours = OLDER_REFUSAL.replace("schema version 3", "schema version 4")
    ours = ours.replace("understands (2)", "understands (3)")
    assert (out, err) == ("", ours.format(path=path) + "\n")
    with pytest.raises(NewerSchema):
        load_file(path, "state")
    assert snapshot(data_dir) == before


# ---------------------------------------------------------------------------- resurfacing


def test_skipped_papers_resurface_when_a_new_digest_lists_them(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:4]).ok
    known = sorted(library.papers)
    assert library.decide(known, "skipped") is not None
    fifth = Library(tmp_path / "scratch")  # which known papers the fifth digest lists again
    assert fifth.import_files(digest_paths[4:]).ok
    again = sorted(set(fifth.papers) & set(known))
    kept = {again[0]: "later", again[1]: "later", again[2]: "read", again[3]: "read"}
    for pid, status in kept.items():
        assert library.decide([pid], status) is not None
    before = states(library)
    digests = set(library.digests)

    (file,) = library.import_files(digest_paths[4:]).files
    (did,) = set(library.digests) - digests
    back = [pid for pid in again if pid not in kept]
    assert (file.again, file.resurfaced) == (len(again), len(back)) and len(back) >= 20
    assert f"({len(back)} skipped, back in the inbox)" in file.describe()
    for view in (library, Library(library.data_dir)):
        for pid in library.papers:
            state = view.state(pid)
            if pid in back:
                assert (state.status, state.resurfaced) == ("new", did), pid
                assert state.current() == "new" and state.summary == "new (resurfaced)"
                assert view.to_json(pid)["resurfaced"] is True
                assert (state.tags, state.note) == (before[pid].tags, before[pid].note)
            elif pid in kept:
                assert (state.status, state.resurfaced) == (kept[pid], None), pid
                assert state == before[pid]
            elif pid in known:
                assert (state.status, state.resurfaced) == ("skipped", None), pid
            else:
                assert state == EMPTY_STATE, pid  # new in the fifth digest
    assert library.decide(back[:1], "read") is not None
    assert library.state(back[0]).resurfaced is None  # deciding again clears the mark
