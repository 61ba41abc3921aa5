"""Undo and redo over the journal: entries hold what changed, not copies; the journal
compacts itself and undo still reaches its recent changes; old undo steps still work."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readinglist import journal
from readinglist.device import Device
from readinglist.errors import ReadinglistError
from readinglist.library import Library
from readinglist.model import EMPTY_STATE, STATUSES, normalise_tag
from readinglist.storage import backup_path
from tests.libhelpers import single_device_layout

#: A long note, as long as a journal entry's note may be.
LONG_NOTE = "Reading notes. " * 66_000  # 990 KB
assert len(LONG_NOTE) <= journal.MAX_TEXT
#: A note bigger than a journal entry's note may be.
BIG_NOTE = "Reading notes. " * 140_000  # 2.1 MB
#: Another device sharing the library folder.
OTHER = Device("0123456789abcdef", "other device")


def small_digest(titles: list[str]) -> tuple[str, bytes]:
    abstract = "An abstract long enough to be a paper's abstract in a digest file."
    return "small.txt", "".join(f"{title}\n{abstract}\n" for title in titles).encode()


def make_small(data_dir: Path, papers: int = 3) -> Library:
    library = Library(data_dir)
    assert library.import_files([small_digest([f"Paper {n}" for n in range(papers)])]).ok
    return library


def raw_journal(library: Library) -> dict:
    return orjson.loads(library.store.journal_storage.path.read_bytes())


def entries(library: Library) -> list[dict]:
    """This device's journal entries as saved, oldest first."""
    changes = raw_journal(library)["changes"]
    ordered = sorted(changes, key=lambda key: tuple(map(int, key.split("."))))
    return [changes[key] for key in ordered]


def test_toggling_a_paper_with_a_long_note_does_not_copy_the_note(tmp_path: Path) -> None:
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.set_note(pid, LONG_NOTE)
    path = library.store.journal_storage.path
    note = LONG_NOTE.rstrip().encode()
    # The journal and its backup each hold the note once, from the note edit.
    assert orjson.dumps(raw_journal(library)).count(note) == 1
    assert path.stat().st_size < len(LONG_NOTE) + 10_000
    sizes = [path.stat().st_size]
    for _ in range(40):
        library.toggle_read([pid])
        sizes.append(path.stat().st_size)
    growth = [after - before for before, after in itertools.pairwise(sizes)]
    assert all(0 < grown < 1_000 for grown in growth), growth
    assert backup_path(path).read_bytes().count(note) == 1
    assert path.read_bytes().count(note) == 1
    toggles = [e for e in entries(library) if e["label"].startswith("mark ")]
    assert len(toggles) == 40
    assert all(e["kind"] == journal.CHANGE for e in toggles)
    assert all([op["p"] for op in e["ops"]] == [pid] for e in toggles)
    assert all([op["f"] for op in e["ops"]] == ["status"] for e in toggles)
    assert not any(b"Reading notes" in orjson.dumps(e) for e in toggles)
    # Undo and redo still restore exactly, note and all.
    assert not library.state(pid).read
    assert library.undo() is not None and library.state(pid).read
    assert library.undo() is not None and not library.state(pid).read
    assert library.redo() is not None and library.state(pid).read
    assert Library(library.data_dir).state(pid).note == LONG_NOTE.rstrip()
    undos = [e for e in entries(library) if e["kind"] in (journal.UNDO, journal.REDO)]
    assert len(undos) == 3 and not any(b"Reading notes" in orjson.dumps(e) for e in undos)


def test_a_note_longer_than_a_journal_holds_never_locks_the_library_out(tmp_path: Path) -> None:
    """Refused with a message (nothing saved), or saved and read back: never a journal the
    next open refuses."""
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    try:
        library.set_note(pid, BIG_NOTE)
    except ReadinglistError as error:
        assert "\n" not in str(error)
        expected = ""
    else:
        expected = BIG_NOTE.rstrip()
    assert library.state(pid).note == expected
    assert Library(library.data_dir).state(pid).note == expected


def everything(library: Library) -> dict[str, object]:
    return {pid: library.state(pid) for pid in library.ordered()}


def test_the_journal_compacts_and_undo_still_reaches_recent_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past COMPACT_AT entries, the journal keeps the newest KEEP_ON_COMPACT whole and folds
    the rest into one snapshot: the state is unchanged, and undo reaches the kept changes."""
    monkeypatch.setattr(journal, "COMPACT_AT", 12)
    monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 4)
    library = make_small(tmp_path / "lib", papers=3)
    a, b, c = library.ordered()
    library.set_note(a, "first note")
    library.tag([b], add=["kept"])
    library.decide([c], "later")
    seen = []
    for number in range(9):  # 13 entries with the import: one compaction
        library.set_note(b, f"note {number}")
        seen.append(everything(library))
    saved = entries(library)
    kinds = [e["kind"] for e in saved]
    assert len(saved) <= journal.COMPACT_AT
    assert kinds.count(journal.SNAPSHOT) == 1 and kinds.count(journal.IMPORT) == 1
    assert kinds.count(journal.CHANGE) == journal.KEEP_ON_COMPACT
    # The state is what it was before compacting, here and for a fresh open.
    for view in (library, Library(library.data_dir)):
        assert everything(view) == seen[-1]
        assert view.state(a).note == "first note" and view.state(b).tags == ("kept",)
        assert view.state(c).status == "later" and view.state(b).note == "note 8"
        assert len(view.ordered()) == 3
    # Undo reaches back over the kept changes, each one exactly, then stops.
    for back in range(1, journal.KEEP_ON_COMPACT):
        assert library.undo() is not None
        assert everything(library) == seen[-1 - back]
        assert everything(Library(library.data_dir)) == seen[-1 - back]
    assert library.undo() is not None and library.state(b).note == "note 4"
    assert library.undo() is None
    assert library.redo() is not None and library.state(b).note == "note 5"


def test_the_journal_keeps_compacting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many more changes than COMPACT_AT: the journal stays bounded, nothing is lost."""
    monkeypatch.setattr(journal, "COMPACT_AT", 10)
    monkeypatch.setattr(journal, "KEEP_ON_COMPACT", 3)
    library = make_small(tmp_path / "lib", papers=3)
    ids = library.ordered()
    for number in range(60):
        pid = ids[number % 3]
        if number % 2:
            library.toggle_read([pid])
        else:
            library.tag([pid], add=[f"t{number % 5}"], remove=[f"t{(number + 2) % 5}"])
        assert len(entries(library)) <= journal.COMPACT_AT
    before = everything(library)
    assert everything(Library(library.data_dir)) == before
    assert library.undo() is not None and library.undo() is not None
    assert library.redo() is not None and library.redo() is not None
    assert everything(library) == before == everything(Library(library.data_dir))


def test_undo_puts_back_only_the_fields_its_step_changed(tmp_path: Path) -> None:
    """A note written since by another device survives undoing a mark."""
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.mark([pid])
    Library(library.data_dir, device=OTHER).set_note(pid, "written on another device")
    change = library.undo()
    assert change is not None and change.ids == (pid,)
    for view in (library, Library(library.data_dir)):
        state = view.state(pid)
        assert (state.read, state.read_at, state.note) == (
            False,
            None,
            "written on another device",
        )


def test_undo_leaves_a_field_another_device_changed_since(tmp_path: Path) -> None:
    """Only fields still holding what this device wrote go back: another device's later
    status stays, and the rest of the change is undone."""
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.decide([pid], "read", tags=["mine"])
    Library(library.data_dir, device=OTHER).decide([pid], "later")
    assert library.undo() is not None
    state = Library(library.data_dir).state(pid)
    assert (state.status, state.tags) == ("later", ())


def test_a_paper_back_to_the_empty_state_has_no_state(tmp_path: Path) -> None:
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.tag([pid], add=["x"])
    library.set_note(pid, "n")
    library.undo()
    library.undo()
    for view in (library, Library(library.data_dir)):
        assert pid not in view.stateful() and view.state(pid) == EMPTY_STATE
    library.redo()
    assert Library(library.data_dir).stateful()[pid].tags == ("x",)


def test_steps_written_by_an_earlier_release_undo_and_redo(tmp_path: Path) -> None:
    """Whole-document steps ({before, after}) of schema 1, moved into the journal with the
    single-device library, work as they did, beside new ones."""
    library = make_small(tmp_path / "lib")
    a, b = library.ordered()[:2]
    at = "2024-03-13T09:30:00+00:00"
    read_a = {"read": True, "tags": [], "note": "", "read_at": at, "updated": at}
    tagged_a = read_a | {"tags": ["x"]}
    noted_b = {"read": False, "tags": [], "note": "old note", "read_at": None, "updated": at}
    old = {
        "meta": {"schema": {"version": 1, "kind": "state"}},
        "state": {a: read_a, b: noted_b},
        "history": {
            "1": {
                "label": "mark 1 paper read",
                "at": at,
                "before": {a: None},
                "after": {a: read_a},
            },
            "2": {"label": "edit note", "at": at, "before": {b: None}, "after": {b: noted_b}},
            "3": {
                "label": "tag 1 paper +x",
                "at": at,
                "before": {a: read_a},
                "after": {a: tagged_a},
            },
        },
    }
    for number, step in old["history"].items():
        step["undone"] = number == "3"
    single_device_layout(library.data_dir, old)

    upgraded = Library(library.data_dir)
    assert (upgraded.state(a).status, upgraded.state(a).decided_at) == ("read", at)
    assert upgraded.state(b).status == "new" and upgraded.state(b).note == "old note"
    assert upgraded.redo().label == "redo tag 1 paper +x"
    assert upgraded.state(a).tags == ("x",)
    upgraded.mark([b])  # a new-shape step on top of the old ones
    labels = [upgraded.undo().label for _ in range(4)]
    assert labels == [
        "undo mark 1 paper read",
        "undo tag 1 paper +x",
        "undo edit note",
        "undo mark 1 paper read",
    ]
    assert upgraded.undo() is None
    assert Library(library.data_dir).stateful() == {}
    for _ in range(4):
        assert upgraded.redo() is not None
    reopened = Library(library.data_dir)
    assert reopened.state(a).tags == ("x",) and reopened.state(a).read_at == at
    assert reopened.state(b).note == "old note" and reopened.state(b).status == "read"


def test_a_tag_removed_and_added_by_one_change_stays_where_it_was(tmp_path: Path) -> None:
    """Tags are kept in the order they were last added (the merge's rule, the same on every
    device): removing and adding one tag in one change changes nothing."""
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.tag([pid], add=["ml", "ssm"])
    assert library.tag([pid], add=["ml"], remove=["ml"]) is None
    assert library.tag([pid], add=["x", "ml"], remove=["ml"]) is not None
    for view in (library, Library(library.data_dir)):
        assert view.state(pid).tags == ("ml", "ssm", "x")


def test_a_tag_put_back_by_undo_goes_last(tmp_path: Path) -> None:
    """Undo adds a removed tag again, as a new change: it goes after the others."""
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.tag([pid], add=["x", "ml"])
    library.tag([pid], remove=["x"])
    assert library.undo() is not None
    for view in (library, Library(library.data_dir)):
        assert view.state(pid).tags == ("ml", "x")


# ------------------------------------------------------------------ against a model

PAPERS = 3
TAGS = ("ml", "ssm", "x")

op = st.one_of(
    st.tuples(st.just("mark"), st.sets(st.integers(0, PAPERS - 1), min_size=1), st.booleans()),
    st.tuples(
        st.just("decide"),
        st.sets(st.integers(0, PAPERS - 1), min_size=1),
        st.sampled_from(STATUSES),
    ),
    st.tuples(
        st.just("tag"),
        st.sets(st.integers(0, PAPERS - 1), min_size=1),
        st.lists(st.sampled_from(TAGS), max_size=2),
        st.lists(st.sampled_from(TAGS), max_size=2),
    ),
    st.tuples(st.just("note"), st.integers(0, PAPERS - 1), st.sampled_from(["", "a", "b\n"])),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
)

#: (status, tags, note) per paper.
Snapshot = tuple[tuple[str, tuple[str, ...], str], ...]
#: The day every snooze in the model ends (far off: it never runs out during a test).
UNTIL = "2999-01-01"


def model_change(current: Snapshot, step: tuple) -> Snapshot:
    """What a change does, by the documented semantics, on a plain tuple per paper."""
    states = list(current)
    if step[0] in ("mark", "decide"):
        status = step[2] if step[0] == "decide" else "read" if step[2] else "new"
        for n in step[1]:
            states[n] = (status, *states[n][1:])
    elif step[0] == "tag":
        minus = {normalise_tag(t) for t in step[3]}
        for n in step[1]:
            # Each tag once (`--add ml --add ml` tags ml once). The model knows which tags
            # a paper has, not their order: the journal orders them by when each was last
            # added, which undo and a remove-and-add change make differ from the
            # single-device order (see the two xfailed tests above).
            tags = {t for t in states[n][1] if t not in minus} | set(step[2])
            states[n] = (states[n][0], tuple(sorted(tags)), states[n][2])
    else:
        states[step[1]] = (*states[step[1]][:2], step[2].rstrip())
    return tuple(states)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=25))
def test_undo_and_redo_match_a_simple_model(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        library = make_small(Path(folder) / "lib", PAPERS)
        ids = sorted(library.papers)
        # The model: every state the library went through, and where undo/redo stand.
        timeline: list[Snapshot] = [(("new", (), ""),) * PAPERS]
        now = 0
        for step in steps:
            if step[0] == "undo":
                change = library.undo()
                assert (change is not None) == (now > 0)
                now = max(0, now - 1)
            elif step[0] == "redo":
                change = library.redo()
                assert (change is not None) == (now < len(timeline) - 1)
                now = min(len(timeline) - 1, now + 1)
            else:
                if step[0] == "mark":
                    change = library.mark([ids[n] for n in sorted(step[1])], step[2])
                elif step[0] == "decide":
                    until = UNTIL if step[2] == "snoozed" else None
                    change = library.decide([ids[n] for n in sorted(step[1])], step[2], until)
                elif step[0] == "tag":
                    change = library.tag([ids[n] for n in sorted(step[1])], step[2], step[3])
                else:
                    change = library.set_note(ids[step[1]], step[2])
                after = model_change(timeline[now], step)
                assert (change is not None) == (after != timeline[now])
                if change is not None:
                    timeline[now + 1 :] = [after]
                    now += 1
            for view in (library, Library(library.data_dir)):
                actual = tuple(
                    (s.status, tuple(sorted(s.tags)), s.note) for s in map(view.state, ids)
                )
                assert actual == timeline[now]
                assert all(len(set(s.tags)) == len(s.tags) for s in map(view.state, ids))
                for state in map(view.state, ids):
                    assert (state.read_at is not None) == state.read
                    assert (state.snoozed_until is not None) == (state.status == "snoozed")
                    assert state.status == "new" or state.decided_at is not None
                if now == 0:  # all undone: every field is back, not just those the model sees
                    assert all(view.state(pid) == EMPTY_STATE for pid in ids)
