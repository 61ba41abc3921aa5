"""Every document is checked on load; schema versions per file; the index cache's checksum.

The end-to-end matrix (every command refuses a damaged document, ``doctor`` reports the
same text) is in test_doctor.py; here the validator itself is checked field by field
against an independent table of what each field accepts, on the real library's files.
"""

from __future__ import annotations

import copy
import hashlib
import marshal
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist import validate
from readinglist.errors import LibraryCorrupt
from readinglist.library import Library
from readinglist.model import EMPTY_STATE, STATUSES, PaperState
from readinglist.search import CHECKSUM_BYTES, INDEX_FORMAT, INDEX_MAGIC, SearchEngine
from readinglist.storage import (
    INDEX_FILE,
    PAPERS_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    NewerSchema,
    load_file,
    load_versioned,
)
from tests.libhelpers import make_library

MISSING = object()
#: One JSON value of each sort, by the name ACCEPTS uses.
VALUES: dict[str, Any] = {
    "text": "x",
    "empty text": "",
    "whole number": 3,
    "fraction": 1.5,
    "true": True,
    "null": None,
    "list of text": ["a", "b"],
    "empty list": [],
    "list of numbers": [1],
    "mixed list": ["a", 2],
    "list of lists": [["a"]],
    "object": {"a": "b"},
    "a status": "later",
    "a date": "2024-04-01",
    "missing": MISSING,
}
TEXT = {"text", "empty text", "a status", "a date"}
OPTIONAL_TEXT = TEXT | {"null", "missing"}
TEXT_LIST = {"list of text", "empty list"}
#: What each field accepts, written from the brief rather than from validate.py.
ACCEPTS: dict[tuple[str, str], set[str]] = {
    ("papers", "title"): TEXT,
    ("papers", "abstract"): TEXT,
    ("papers", "links"): TEXT_LIST | {"missing"},
    ("papers", "digests"): {"list of text"},  # with real digest ids: see mutate()
    ("digests", "name"): TEXT,
    ("digests", "date"): OPTIONAL_TEXT,
    ("digests", "seq"): {"whole number"},
    ("digests", "imported_at"): TEXT,
    ("digests", "papers"): {"whole number"},
    ("state", "status"): {"a status", "missing"},  # text, but only one of model.STATUSES
    ("state", "tags"): TEXT_LIST | {"missing"},
    ("state", "note"): TEXT | {"missing"},
    ("state", "read_at"): OPTIONAL_TEXT,
    ("state", "decided_at"): OPTIONAL_TEXT,
    ("state", "snoozed_until"): {"a date", "null", "missing"},  # text, but only YYYY-MM-DD
    ("state", "resurfaced"): OPTIONAL_TEXT,
    ("state", "updated"): OPTIONAL_TEXT,
    ("history", "label"): TEXT,
    ("history", "at"): TEXT,
    ("history", "undone"): {"true"},
}
STATE_FIELDS = [
    "status",
    "tags",
    "note",
    "read_at",
    "decided_at",
    "snoozed_until",
    "resurfaced",
    "updated",
]
FULL_STATE = {
    "status": "read",
    "tags": ["t"],
    "note": "n",
    "read_at": "2024-03-01",
    "decided_at": "2024-03-01",
    "snoozed_until": None,
    "resurfaced": None,
    "updated": None,
}
#: The same state as an earlier release (state.json schema 1 or 2) wrote it.
OLD_FULL_STATE = {
    "read": True,
    "tags": ["t"],
    "note": "n",
    "read_at": "2024-03-01",
    "updated": None,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Path:
    return make_library(tmp_path_factory.mktemp("validate") / "lib", digest_paths).data_dir


@pytest.fixture(scope="module")
def files(template: Path) -> dict[str, Any]:
    """The real library's two files, with an old-shape undo step added to the state."""
    papers = orjson.loads((template / PAPERS_FILE).read_bytes())
    state = orjson.loads((template / STATE_FILE).read_bytes())
    pid = next(iter(papers["papers"]))
    state["state"][pid] = dict(FULL_STATE)
    state["history"]["99"] = {
        "label": "mark 1 paper read",
        "at": "2024-03-01T00:00:00+00:00",
        "undone": False,
        "before": {pid: None},
        "after": {pid: dict(FULL_STATE)},
    }
    state["history"]["98"] = {
        "label": "edit note",
        "at": "2024-03-02T00:00:00+00:00",
        "undone": True,
        "changes": {pid: {name: [value, value] for name, value in FULL_STATE.items()}},
    }
    return {"papers": papers, "state": state, "pid": pid}


def test_real_files_are_valid(files: dict[str, Any]) -> None:
    # The matrix below covers every field the validator knows (a new one must join it).
    assert [field.name for field in validate.STATE_FIELDS] == STATE_FIELDS == list(FULL_STATE)
    assert {field for table, field in ACCEPTS if table == "state"} == set(STATE_FIELDS)
    assert validate.problem(files["papers"], "papers") is None
    assert validate.problem(files["state"], "state") is None
    steps = files["state"]["history"].values()
    assert any("changes" in step for step in steps) and any("before" in step for step in steps)


def places(pid: str, did: str) -> Iterator[tuple[str, str, str, Callable[[Any], Any], str]]:
    """(table, field, file kind, how to find the document in that file, how messages name it)."""
    for table, field in ACCEPTS:
        if table == "papers":
            yield table, field, "papers", lambda d: d["papers"][pid], f"papers/{pid}: field '"
        elif table == "digests":
            yield table, field, "papers", lambda d: d["digests"][did], f"digests/{did}: field '"
        elif table == "state":
            yield table, field, "state", lambda d: d["state"][pid], f"state/{pid}: field '"
            after = f"history/99: field 'after.{pid}."
            yield table, field, "state", lambda d: d["history"]["99"]["after"][pid], after
            change = f"history/98: field 'changes.{pid}."  # values are [old, new] pairs
            yield "changes", field, "state", lambda d: d["history"]["98"]["changes"][pid], change
        else:
            yield table, field, "state", lambda d: d["history"]["99"], "history/99: field '"


@pytest.mark.parametrize("sort", sorted(VALUES))
def test_each_field_accepts_exactly_its_type(files: dict[str, Any], sort: str) -> None:
    """Every field against every sort of JSON value: refused ones name document and field."""
    did = next(iter(files["papers"]["digests"]))
    for table, field, kind, find, where in places(files["pid"], did):
        data = files[kind]
        doc = find(data)
        value = VALUES[sort] if VALUES[sort] is MISSING else copy.deepcopy(VALUES[sort])
        if (table, field) == ("papers", "digests") and sort == "list of text":
            value = list(data["digests"])[:2]  # real ids: "a" and "b" are unknown digests
        if table == "changes" and value is not MISSING:
            value = [value, copy.deepcopy(value)]
        old = doc.pop(field, MISSING)
        try:
            if value is not MISSING:
                doc[field] = value
            found = validate.problem(data, kind)
        finally:
            doc.pop(field, None)
            if old is not MISSING:
                doc[field] = old
        accepts = ACCEPTS["state" if table == "changes" else table, field]
        assert (found is None) == (sort in accepts), (table, field, sort, found)
        if found:
            assert found.startswith((f"{where}{field}'", f"{where}{field}[")), found
            assert "\n" not in found
    assert validate.problem(files["papers"], "papers") is None  # all put back
    assert validate.problem(files["state"], "state") is None


def test_messages_name_the_value_and_what_was_expected(files: dict[str, Any]) -> None:
    papers, state, pid = copy.deepcopy(files["papers"]), copy.deepcopy(files["state"]), files["pid"]
    papers["papers"][pid]["title"] = 123
    assert validate.problem(papers, "papers") == (
        f"papers/{pid}: field 'title' is 123 (a number), expected text"
    )
    papers["papers"][pid]["title"] = "ok"
    papers["papers"][pid]["digests"] = ["0123456789abcdef"]
    assert validate.problem(papers, "papers") == (
        f"papers/{pid}: field 'digests[0]' is \"0123456789abcdef\" (text), "
        "which the digests table does not hold"
    )
    state["state"][pid]["tags"] = ["ok", 5]
    assert validate.problem(state, "state") == (
        f"state/{pid}: field 'tags[1]' is 5 (a number), expected text"
    )
    state["state"][pid]["tags"] = "ml"
    assert validate.problem(state, "state") == (
        f"state/{pid}: field 'tags' is \"ml\" (text), expected a list of text"
    )
    state["state"][pid]["tags"] = []
    state["state"][pid]["status"] = 1
    assert validate.problem(state, "state") == (
        f"state/{pid}: field 'status' is 1 (a number), "
        "expected new, later, read, skipped or snoozed"
    )
    state["state"][pid]["status"] = "done"
    found = validate.problem(state, "state")
    assert found is not None and found.startswith(
        f"state/{pid}: field 'status' is \"done\" (text), expected new, later, read, skipped"
    )


def test_unknown_tables_and_fields_are_allowed(files: dict[str, Any]) -> None:
    """A newer release of the same schema may add fields and tables."""
    papers, state, pid = copy.deepcopy(files["papers"]), copy.deepcopy(files["state"]), files["pid"]
    papers["papers"][pid]["venue"] = {"name": "ICML"}
    papers["authors"] = {"a1": {"name": "X"}}
    state["state"][pid]["rating"] = 5
    state["history"]["99"]["device"] = "laptop"
    assert validate.problem(papers, "papers") is None
    assert validate.problem(state, "state") is None
    papers["authors"] = {"a1": "X"}  # still TinyDB's minimum: documents are objects
    assert (
        validate.problem(papers, "papers")
        == 'authors/a1: the document is "X" (text), expected an object'
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda h, p: h.update({"01": h.pop("99")}), "history/01: key is not a whole number"),
        (lambda h, p: h.update({"-1": h.pop("99")}), "history/-1: key is not a whole number"),
        (lambda h, p: h["99"].pop("after"), "history/99: field 'after' is missing"),
        (lambda h, p: h["99"].update(before=[]), "history/99: field 'before' is an empty list"),
        (
            lambda h, p: h["99"]["after"].update({p: None}),
            "history/99: field 'after.{pid}' is null",
        ),
        (
            lambda h, p: h["99"]["after"].update({"X" * 12: {}}),
            "history/99: field 'after' names XXXXXXXXXXXX, not a paper id",
        ),
        (
            lambda h, p: h["99"].update(changes={p: {"colour": ["red", "blue"]}}),
            "history/99: field 'changes.{pid}.colour' is not a reading-state field",
        ),
        (
            lambda h, p: h["99"].update(changes={p: {"status": ["new", 3]}}),
            "history/99: field 'changes.{pid}.status[1]' is 3 (a number), expected new, later, "
            "read, skipped or snoozed",
        ),
        (
            lambda h, p: h["99"].update(changes={p: {"read": [False, True]}}),
            "history/99: field 'changes.{pid}.read' is not a reading-state field",
        ),
        (
            lambda h, p: h["99"].update(changes={p: {"tags": [[], [3]]}}),
            "history/99: field 'changes.{pid}.tags[1][0]' is 3 (a number), expected text",
        ),
        (
            lambda h, p: h["99"].update(changes={p: {"note": ["a"]}}),
            "history/99: field 'changes.{pid}.note' is a list of 1 item, expected a pair",
        ),
        (
            lambda h, p: h["99"].update(changes=[]),
            "history/99: field 'changes' is an empty list, expected an object of changed papers",
        ),
        (
            lambda h, p: [h["99"].pop(k) for k in ("before", "after")],
            "history/99: field 'changes' is missing (and so are 'before' and 'after')",
        ),
    ],
)
def test_undo_steps_of_both_shapes_are_checked(
    files: dict[str, Any], change: Any, expected: str
) -> None:
    state = copy.deepcopy(files["state"])
    change(state["history"], files["pid"])
    found = validate.problem(state, "state")
    assert found is not None and found.startswith(expected.format(pid=files["pid"])), found


def test_valid_changes_of_every_field_are_accepted(files: dict[str, Any]) -> None:
    state, pid = copy.deepcopy(files["state"]), files["pid"]
    state["history"]["99"] = {
        "label": "x",
        "at": "y",
        "undone": True,
        "changes": {
            pid: {
                "status": ["new", "read"],
                "tags": [[], ["a"]],
                "note": ["", "n"],
                "read_at": [None, "2024"],
                "decided_at": [None, "2024"],
                "snoozed_until": ["2024-04-01", None],
                "resurfaced": ["f224d3c540e90325", None],
                "updated": ["2023", "2024"],
            }
        },
    }
    assert validate.problem(state, "state") is None
    for status in STATUSES:  # each status, in the state table and both undo shapes
        state["state"][pid]["status"] = status
        state["history"]["99"]["changes"][pid]["status"] = [status, status]
        state["history"]["97"] = {
            "label": "x",
            "at": "y",
            "undone": False,
            "before": {pid: {"status": status}},
            "after": {pid: {"status": status}},
        }
        assert validate.problem(state, "state") is None, status


@pytest.mark.parametrize("side", ["before", "after", "changes"])
def test_a_status_outside_the_list_is_refused_in_undo_steps(
    files: dict[str, Any], side: str
) -> None:
    """Undo or redo would write it into the state table, which the next load refuses."""
    state, pid = copy.deepcopy(files["state"]), files["pid"]
    if side == "changes":
        state["history"]["98"]["changes"][pid]["status"] = ["read", "done"]
    else:
        state["history"]["99"][side] = {pid: {**FULL_STATE, "status": "done"}}
    found = validate.problem(state, "state")
    assert found is not None and "status" in found, found
    assert 'is "done" (text), expected new, later, read, skipped or snoozed' in found, found


def test_bad_ids_are_shown_safely(files: dict[str, Any]) -> None:
    state = copy.deepcopy(files["state"])
    state["state"]["\x1b]52;c;aGk=\x07" + "\u202e" * 50] = {}
    found = validate.problem(state, "state")
    assert found is not None and found.startswith('state/"\\u001b]52;c;aGk=\\u0007\\u202e')
    assert found.endswith('…": the id is not a paper id (12 lowercase hex characters)')
    assert not any(ch in found for ch in "\x1b\x07\u202e")


def test_a_table_that_is_not_an_object(files: dict[str, Any]) -> None:
    papers = copy.deepcopy(files["papers"])
    papers["digests"] = list(papers["digests"].values())
    assert validate.problem(papers, "papers") == (
        "table 'digests' is a list of 5 items, expected an object of documents"
    )


# ---------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("version", [1, 2])
def test_an_earlier_state_schema_is_read_and_saved_as_schema_3(
    template: Path, tmp_path: Path, version: int
) -> None:
    """An earlier release's state.json (``read: bool``; schema 2 adds ``changes`` undo steps)
    loads upgraded, undoes and redoes, and is saved as schema 3 with the original aside.

    tests/test_migrate.py does the same with files the earlier releases wrote themselves.
    """
    data_dir = Path(shutil.copytree(template, tmp_path / "lib"))
    library = Library(data_dir)
    pid, other = library.ordered()[5:7]
    tagged = {**OLD_FULL_STATE, "tags": ["old"]}
    steps: dict[str, Any] = {
        "1": {
            "label": "mark 1 paper read",
            "at": "2024-03-01T00:00:00+00:00",
            "undone": False,
            "before": {pid: None},
            "after": {pid: tagged},
        }
    }
    if version == 2:
        steps["2"] = {
            "label": "mark 1 paper unread",
            "at": "2024-03-02T00:00:00+00:00",
            "undone": True,
            "changes": {pid: {"read": [True, False], "read_at": ["2024-03-01", None]}},
        }
    old = {"meta": {"schema": {"version": version, "kind": "state"}}, "state": {pid: tagged}}
    original = orjson.dumps(old | {"history": steps})
    (data_dir / STATE_FILE).write_bytes(original)
    upgraded, on_disk = load_versioned(data_dir / STATE_FILE, "state")
    assert on_disk == version and (data_dir / STATE_FILE).read_bytes() == original
    expected = {**FULL_STATE, "tags": ["old"]}
    assert upgraded["state"][pid] == {
        "status": "read",
        "tags": ["old"],
        "note": "n",
        "read_at": "2024-03-01",
        "decided_at": "2024-03-01",  # when it was read: the last decision known
        "updated": None,
    }

    library = Library(data_dir)
    assert library.state(pid) == PaperState.from_doc(expected)
    if version == 2:
        assert library.redo() is not None
        assert (library.state(pid).status, library.state(pid).read_at) == ("new", None)
        assert library.undo() is not None and library.state(pid) == PaperState.from_doc(expected)
    assert library.undo() is not None
    assert library.state(pid) == EMPTY_STATE
    saved = orjson.loads((data_dir / STATE_FILE).read_bytes())
    assert (
        saved["meta"]["schema"]
        == {"version": 3, "kind": "state"}
        == {"version": SCHEMA_VERSION["state"], "kind": "state"}
    )
    assert (data_dir / f"{STATE_FILE}.schema{version}.bak").read_bytes() == original
    library.mark([other])
    assert Library(data_dir).state(other).read
    papers = orjson.loads((data_dir / PAPERS_FILE).read_bytes())
    assert papers["meta"]["schema"] == {"version": 1, "kind": "papers"}


@pytest.mark.parametrize(
    ("name", "kind", "newer"), [(STATE_FILE, "state", 4), (PAPERS_FILE, "papers", 2)]
)
def test_a_newer_schema_is_refused_per_kind(
    template: Path, tmp_path: Path, name: str, kind: str, newer: int
) -> None:
    path = Path(shutil.copytree(template, tmp_path / "lib")) / name
    data = orjson.loads(path.read_bytes())
    data["meta"]["schema"]["version"] = newer
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(NewerSchema) as info:
        load_file(path, kind)
    assert f"schema version {newer} is newer than this readinglist understands ({newer - 1})" in (
        str(info.value)
    )


def test_the_other_kind_of_file_is_not_mistaken_for_a_newer_one(
    template: Path, tmp_path: Path
) -> None:
    """state.json (schema 3) copied over papers.json (schema 1) is the wrong file, not newer."""
    data_dir = Path(shutil.copytree(template, tmp_path / "lib"))
    shutil.copyfile(data_dir / STATE_FILE, data_dir / PAPERS_FILE)
    with pytest.raises(LibraryCorrupt) as info:
        load_file(data_dir / PAPERS_FILE, "papers")
    assert not isinstance(info.value, NewerSchema)
    assert info.value.problem == "holds 'state' data, expected 'papers'"


# ---------------------------------------------------------------------------- index cache

QUERIES = [
    "",
    "mamba tiem seires",
    "permut",
    "reinforcment lerning",
    "revisited",
    "seen:>=2",
    "is:read",
    "has:code diffusion",
    '"linear mode"',
    "-model",
]


def answers(data_dir: Path) -> dict[str, list[str]]:
    library = Library(data_dir)
    return {query: library.query(query) for query in QUERIES}


@pytest.fixture
def indexed(template: Path, tmp_path: Path) -> tuple[Path, bytes, dict[str, list[str]]]:
    """A library, its saved index, and the answers of an index built from scratch."""
    data_dir = Path(shutil.copytree(template, tmp_path / "lib"))
    (data_dir / INDEX_FILE).unlink(missing_ok=True)
    assert SearchEngine.open(Library(data_dir), build=False) is None
    fresh = answers(data_dir)  # builds and saves the index
    good = (data_dir / INDEX_FILE).read_bytes()
    assert good.startswith(INDEX_MAGIC)
    assert SearchEngine.open(Library(data_dir), build=False) is not None
    assert answers(data_dir) == fresh
    return data_dir, good, fresh


def test_a_damaged_index_is_rebuilt_and_never_changes_an_answer(
    indexed: tuple[Path, bytes, dict[str, list[str]]],
) -> None:
    """Single flipped bytes (magic, checksum, all over the body) and truncations."""
    data_dir, good, fresh = indexed
    path = data_dir / INDEX_FILE
    header = len(INDEX_MAGIC) + CHECKSUM_BYTES
    body = range(header, len(good), (len(good) - header) // 11)
    offsets = [0, len(INDEX_MAGIC) - 1, len(INDEX_MAGIC), header - 1, *body, len(good) - 1]
    damaged = [good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1 :] for i in offsets]
    damaged += [good[:n] for n in (0, header - 1, header, header + 1, len(good) // 2, -1)]
    damaged += [good + b"\0", b"garbage"]
    for payload in damaged:
        path.write_bytes(payload)
        library = Library(data_dir)
        assert SearchEngine.open(library, build=False) is None
        assert {query: library.query(query) for query in QUERIES} == fresh
        assert SearchEngine.open(library, build=False) is not None  # rebuilt and saved again


def sealed(body: Any) -> bytes:
    raw = marshal.dumps(body)
    return INDEX_MAGIC + hashlib.blake2b(raw, digest_size=CHECKSUM_BYTES).digest() + raw


def test_an_index_of_the_wrong_shape_is_rebuilt(
    indexed: tuple[Path, bytes, dict[str, list[str]]],
) -> None:
    """Right checksum, format and papers.json version, but not an index this code can use."""
    data_dir, good, fresh = indexed
    path = data_dir / INDEX_FILE
    header, pids, postings, seen, digests = marshal.loads(good[len(INDEX_MAGIC) + CHECKSUM_BYTES :])
    assert header[0] == INDEX_FORMAT
    wrong = [
        (header,),
        (header, pids, postings, seen),
        (header, pids, postings, seen, digests, {}),
        (header, tuple(pids), postings, seen, digests),
        (header, [*pids[:-1], 7], postings, seen, digests),
        (header, [*pids[:-1], pids[0]], postings, seen, digests),  # one paper twice
        (header, pids[:-1], postings, seen, digests),
        (header, pids, list(postings.items()), seen, digests),
        (header, pids, {**postings, 5: [0]}, seen, digests),
        (header, pids, {**postings, "x": 0}, seen, digests),
        (header, pids, postings, {"1": [0]}, digests),
        (header, pids, postings, seen, None),
        ((1, header[1]), pids, postings, seen, digests),  # the format before checksums
        ((header[0], (0, 0, 0)), pids, postings, seen, digests),  # another papers.json
        [header, pids, postings, seen, digests],
        "index",
    ]
    library = Library(data_dir)
    for body in wrong:
        path.write_bytes(sealed(body))
        assert SearchEngine.open(library, build=False) is None, body
    assert answers(data_dir) == fresh  # rebuilt from the last one
    path.write_bytes(marshal.dumps((header, pids, postings, seen, digests)))  # no checksum
    assert SearchEngine.open(library, build=False) is None
    path.write_bytes(sealed((header, pids, postings, seen, digests)))
    assert SearchEngine.open(library, build=False) is not None
    assert answers(data_dir) == fresh


def test_corrupt_papers_file_is_refused_by_load_file(template: Path, tmp_path: Path) -> None:
    """load_file itself refuses (so the app, every command and doctor do) and names it."""
    path = Path(shutil.copytree(template, tmp_path / "lib")) / PAPERS_FILE
    data = orjson.loads(path.read_bytes())
    pid = next(iter(data["papers"]))
    data["papers"][pid]["abstract"] = None
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(LibraryCorrupt) as info:
        load_file(path, "papers")
    assert str(info.value).startswith(
        f"{path}: papers/{pid}: field 'abstract' is null, expected text; the file was left "
        f"untouched. To recover, restore the last good copy with `cp '{path}.bak' '{path}'`"
    )
