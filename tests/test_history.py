"""The undo journal stores what changed, not copies: small, exact, and readable when old."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readinglist import history
from readinglist.library import Library
from readinglist.model import EMPTY_STATE, STATUSES, normalise_tag

#: A note bigger than the journal's whole byte budget.
BIG_NOTE = "Reading notes. " * 140_000  # 2.1 MB


def small_digest(titles: list[str]) -> tuple[str, bytes]:
    abstract = "An abstract long enough to be a paper's abstract in a digest file."
    return "small.txt", "".join(f"{title}\n{abstract}\n" for title in titles).encode()


def make_small(data_dir: Path, papers: int = 3) -> Library:
    library = Library(data_dir)
    assert library.import_files([small_digest([f"Paper {n}" for n in range(papers)])]).ok
    return library


def raw_state(data_dir: Path) -> dict:
    return orjson.loads((data_dir / "state.json").read_bytes())


def folder_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())


def test_toggling_a_paper_with_a_long_note_does_not_copy_the_note(tmp_path: Path) -> None:
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.set_note(pid, BIG_NOTE)
    before = folder_bytes(library.data_dir)
    for _ in range(40):
        library.toggle_read([pid])
    assert folder_bytes(library.data_dir) - before < 100_000
    entries = raw_state(library.data_dir)["history"].values()
    toggles = [e for e in entries if e["label"].startswith("mark ")]
    assert len(toggles) == 40
    # `decided_at` and `updated` too, unless two toggles fell in the same second.
    assert all({"status", "read_at"} <= set(e["changes"][pid]) for e in toggles)
    assert all(set(e["changes"]) == {pid} and len(e["changes"][pid]) <= 4 for e in toggles)
    assert not any("Reading notes" in orjson.dumps(e).decode() for e in toggles)
    # Undo and redo still restore exactly, note and all.
    assert not library.state(pid).read
    assert library.undo() is not None and library.state(pid).read
    assert library.undo() is not None and not library.state(pid).read
    assert library.redo() is not None and library.state(pid).read
    assert Library(library.data_dir).state(pid).note == BIG_NOTE.rstrip()


def test_the_journal_is_bounded_by_bytes_but_keeps_the_newest_step(tmp_path: Path) -> None:
    library = make_small(tmp_path / "lib")
    a, b = library.ordered()[:2]
    library.mark([b])
    library.set_note(a, BIG_NOTE)  # one step bigger than the whole budget: still kept
    assert len(raw_state(library.data_dir)["history"]) == 1
    library.mark([a])  # the big step is the oldest now, and goes
    steps = raw_state(library.data_dir)["history"].values()
    assert [e["label"] for e in steps] == ["mark 1 paper read"]
    assert sum(len(orjson.dumps(e)) for e in steps) <= history.HISTORY_BYTES
    assert library.undo() is not None and library.undo() is None
    assert library.state(a).note == BIG_NOTE.rstrip() and library.state(b).read


def test_the_journal_is_bounded_by_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "HISTORY_LIMIT", 5)
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    for _ in range(8):
        library.toggle_read([pid])
    assert len(raw_state(library.data_dir)["history"]) == 5
    assert [library.undo() is not None for _ in range(6)] == [True] * 5 + [False]


def test_undo_puts_back_only_the_fields_its_step_changed(tmp_path: Path) -> None:
    """A note written since (by a program that keeps no journal) survives undoing a mark."""
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.mark([pid])
    data = raw_state(library.data_dir)
    data["state"][pid]["note"] = "written by another program"
    (library.data_dir / "state.json").write_bytes(orjson.dumps(data))
    change = library.undo()
    assert change is not None and change.ids == (pid,)
    state = Library(library.data_dir).state(pid)
    assert (state.read, state.read_at, state.note) == (False, None, "written by another program")


def test_a_paper_back_to_the_empty_state_has_no_document(tmp_path: Path) -> None:
    library = make_small(tmp_path / "lib")
    pid = library.ordered()[0]
    library.tag([pid], add=["x"])
    library.set_note(pid, "n")
    library.undo()
    library.undo()
    assert pid not in raw_state(library.data_dir).get("state", {})
    library.redo()
    assert raw_state(library.data_dir)["state"][pid]["tags"] == ["x"]


def test_steps_written_by_an_earlier_release_undo_and_redo(tmp_path: Path) -> None:
    """Whole-document steps ({before, after}) of schema 1 work as they did, beside new ones."""
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
    (library.data_dir / "state.json").write_bytes(orjson.dumps(old))

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
    assert raw_state(library.data_dir).get("state", {}) == {}
    for _ in range(4):
        assert upgraded.redo() is not None
    reopened = Library(library.data_dir)
    assert reopened.state(a).tags == ("x",) and reopened.state(a).read_at == at
    assert reopened.state(b).note == "old note" and reopened.state(b).status == "read"


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
            tags = [t for t in states[n][1] if t not in minus]
            tags += [t for t in step[2] if t not in tags]
            states[n] = (states[n][0], tuple(tags), states[n][2])
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
                actual = tuple((s.status, s.tags, s.note) for s in map(view.state, ids))
                assert actual == timeline[now]
                for state in map(view.state, ids):
                    assert (state.read_at is not None) == state.read
                    assert (state.snoozed_until is not None) == (state.status == "snoozed")
                    assert state.status == "new" or state.decided_at is not None
                if now == 0:  # all undone: every field is back, not just those the model sees
                    assert all(view.state(pid) == EMPTY_STATE for pid in ids)
