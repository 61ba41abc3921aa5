"""Every document is checked on load; schema versions per file.

The end-to-end matrix (every command refuses a damaged document, ``doctor`` reports the
same text) is in test_doctor.py; here the validator itself is checked field by field
against an independent table of what each field accepts, on real files: a library's
``state.json`` and ``imports.json`` as the single-device layout held them (which the move to
journals still reads), a digest file, and a ``papers.json`` an earlier release wrote (the
layout upgrade still reads one). A journal is checked by :func:`readinglist.journal.problem`,
as the library reads it.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist import contents, journal, validate
from readinglist.errors import LibraryCorrupt
from readinglist.library import Library
from readinglist.model import EMPTY_STATE, META_FIELDS, STATUSES, PaperState
from readinglist.storage import (
    IMPORTS_FILE,
    JOURNALS_DIR,
    PAPERS_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    NewerSchema,
    load_file,
    load_versioned,
    schema_doc,
)
from tests.libhelpers import (
    JOURNAL,
    TEMPLATE_DEVICE,
    copy_library,
    imported_digest_files,
    journal_file,
    library_file,
    make_library,
    rename_to_hash,
    single_device_layout,
)

#: papers.json exactly as an earlier release wrote it (see tests/fixtures/README.md).
OLD_PAPERS = Path(__file__).with_name("fixtures") / "v2" / PAPERS_FILE

MISSING = object()
#: One JSON value of each sort, by the name ACCEPTS uses.
VALUES: dict[str, Any] = {
    "text": "x",
    "empty text": "",
    "whole number": 3,
    "fraction": 1.5,
    "true": True,
    "false": False,
    "null": None,
    "list of text": ["a", "b"],
    "empty list": [],
    "list of numbers": [1],
    "mixed list": ["a", 2],
    "list of lists": [["a"]],
    "object": {"a": "b"},
    "a status": "later",
    "a date": "2024-04-01",
    "a paper id": "0123456789ab",
    "missing": MISSING,
}
TEXT = {"text", "empty text", "a status", "a date", "a paper id"}
OPTIONAL_TEXT = TEXT | {"null", "missing"}
TEXT_OR_NULL = TEXT | {"null"}  # required, but may be null
TEXT_LIST = {"list of text", "empty list"}
OPTIONAL_NUMBER = {"whole number", "null", "missing"}
#: The Daily Papers API's metadata, optional in papers (papers.json) and digest files.
META_ACCEPTS: dict[str, set[str]] = {
    "arxiv_id": OPTIONAL_TEXT,
    "authors": TEXT_LIST | {"missing"},
    "published": OPTIONAL_TEXT,
    "upvotes": OPTIONAL_NUMBER,
    "num_comments": OPTIONAL_NUMBER,
    "github_repo": OPTIONAL_TEXT,
    "github_stars": OPTIONAL_NUMBER,
    "project_page": OPTIONAL_TEXT,
    "ai_keywords": TEXT_LIST | {"missing"},
}
#: What each field accepts, written from the brief rather than from validate.py. Tables:
#: papers.json's ``papers`` and ``digests``; state.json's ``state`` and ``history``;
#: imports.json's ``imports``; a digest file's ``info`` (``digest/info``) and ``content``
#: (its ``papers`` table).
ACCEPTS: dict[tuple[str, str], set[str]] = {
    ("papers", "title"): TEXT,
    ("papers", "abstract"): TEXT,
    ("papers", "links"): TEXT_LIST | {"missing"},
    ("papers", "digests"): {"list of text"},  # with real digest ids: see mutate()
    **{("papers", name): accepts for name, accepts in META_ACCEPTS.items()},
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
    ("history", "undone"): {"true", "false"},
    ("imports", "digest"): TEXT,
    ("imports", "name"): TEXT,
    ("imports", "date"): TEXT_OR_NULL,
    ("imports", "seq"): {"whole number"},
    ("imports", "imported_at"): TEXT,
    ("info", "id"): TEXT,
    ("info", "date"): TEXT_OR_NULL,
    ("info", "layout"): TEXT,
    ("info", "fetched"): {"true", "false"},
    ("content", "title"): TEXT,
    ("content", "abstract"): TEXT,
    ("content", "links"): TEXT_LIST | {"missing"},
    ("content", "id"): {"a paper id", "null", "missing"},  # only an upgraded paper has one
    **{("content", name): accepts for name, accepts in META_ACCEPTS.items()},
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


def single_device_files(data_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The library's state.json (schema 4) and imports.json as the single-device layout
    held them: its papers' states and undo steps, and its imports in order."""
    library = Library(data_dir, device=TEMPLATE_DEVICE)
    state = {
        "meta": {"schema": {"version": 4, "kind": "state"}},
        "state": {pid: s.to_doc() for pid, s in library.stateful().items()},
        "history": {},
    }
    records = {r.hash: r.to_doc() for r in library.catalog.imports}
    return state, {"meta": {"schema": schema_doc("imports")}, "imports": records}


@pytest.fixture(scope="module")
def files(template: Path) -> dict[str, Any]:
    """The real files, with an old-shape undo step added to the state: papers.json (of an
    earlier release), the library's state.json and imports.json (as the single-device
    layout held them), and its third digest file (as imported; see ``digest`` for one with
    every field)."""
    papers = orjson.loads(OLD_PAPERS.read_bytes())
    state, imports = single_device_files(template)
    digest = orjson.loads(imported_digest_files(template)[2].read_bytes())
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
    # The import whose seq is VALUES["whole number"]: setting it again is no duplicate.
    (name,) = [n for n, doc in imports["imports"].items() if doc["seq"] == VALUES["whole number"]]
    return {
        "papers": papers,
        "state": state,
        "imports": imports,
        "digest": digest,
        "pid": pid,
        "import": name,
    }


def test_real_files_are_valid(files: dict[str, Any]) -> None:
    # The matrix below covers every field the validator knows (a new one must join it).
    assert [field.name for field in validate.STATE_FIELDS] == STATE_FIELDS == list(FULL_STATE)
    known = {
        "state": validate.STATE_FIELDS,
        "papers": validate.PAPER_FIELDS,
        "digests": validate.DIGEST_FIELDS,
        "history": validate.HISTORY_FIELDS,
        "imports": validate.IMPORT_FIELDS,
        "info": validate.CONTENT_INFO_FIELDS,
        "content": validate.CONTENT_FIELDS,
    }
    for table, fields in known.items():
        assert {field for t, field in ACCEPTS if t == table} == {f.name for f in fields}, table
    assert set(META_ACCEPTS) == set(META_FIELDS)
    for kind in ("papers", "state", "imports", "digest"):
        assert validate.problem(files[kind], kind) is None, kind
    steps = files["state"]["history"].values()
    assert any("changes" in step for step in steps) and any("before" in step for step in steps)


def test_the_real_journal_is_valid(template: Path) -> None:
    """The template's journal: its imports, changes and the note, as the library wrote them."""
    path = journal_file(template, TEMPLATE_DEVICE)
    data = load_file(path, "journal")
    assert journal.problem(data) is None
    device, name, entries = journal.decode(data)
    assert (device, name) == (TEMPLATE_DEVICE.id, TEMPLATE_DEVICE.name)
    kinds = [entry.kind for entry in sorted(entries, key=lambda entry: entry.stamp)]
    assert kinds == [journal.IMPORT] * 5 + [journal.CHANGE] * 2


Finder = Callable[[Any], Any]


def places(files: dict[str, Any]) -> Iterator[tuple[str, str, str, Finder, str]]:
    """(table, field, file kind, how to find the document in that file, how messages name it)."""
    pid, did, name = files["pid"], next(iter(files["papers"]["digests"])), files["import"]
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
        elif table == "history":
            yield table, field, "state", lambda d: d["history"]["99"], "history/99: field '"
        elif table == "imports":
            where = f"imports/{name}: field '"
            yield table, field, "imports", lambda d: d["imports"][name], where
        elif table == "info":
            yield table, field, "digest", lambda d: d["digest"]["info"], "digest/info: field '"
        else:
            assert table == "content"
            yield table, field, "digest", lambda d: d["papers"]["2"], "papers/2: field '"


def accepted(
    files: dict[str, Any], table: str, field: str, kind: str, find: Finder, sort: str
) -> str | None:
    """What validate.problem says of the file of ``kind`` with this field set to this sort
    of value (then put back)."""
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
        return validate.problem(data, kind)
    finally:
        doc.pop(field, None)
        if old is not MISSING:
            doc[field] = old


@pytest.mark.parametrize("sort", sorted(VALUES))
def test_each_field_accepts_exactly_its_type(files: dict[str, Any], sort: str) -> None:
    """Every field against every sort of JSON value: refused ones name document and field."""
    for table, field, kind, find, where in places(files):
        found = accepted(files, table, field, kind, find, sort)
        accepts = ACCEPTS["state" if table == "changes" else table, field]
        assert (found is None) == (sort in accepts), (table, field, sort, found)
        if found:
            assert found.startswith((f"{where}{field}'", f"{where}{field}[")), found
            assert "\n" not in found
    for kind in ("papers", "state", "imports", "digest"):
        assert validate.problem(files[kind], kind) is None  # all put back


def test_a_digest_file_with_a_bad_paper_id_is_refused(template: Path, tmp_path: Path) -> None:
    data_dir = copy_library(template, tmp_path / "lib")
    path = imported_digest_files(data_dir)[-1]
    data = orjson.loads(path.read_bytes())
    data["papers"]["1"]["id"] = "My Paper"
    renamed = rename_to_hash(path, orjson.dumps(data))
    # Taken, marking that paper would save a journal entry the next open refuses.
    with pytest.raises(LibraryCorrupt) as info:
        Library(data_dir)
    assert str(info.value).startswith(f"{renamed}: papers/1: field 'id' is \"My Paper\"")


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


def test_messages_of_imports_name_the_import_and_field(files: dict[str, Any]) -> None:
    imports, name = copy.deepcopy(files["imports"]), files["import"]
    record = imports["imports"][name]
    record["seq"] = "3"
    assert validate.problem(imports, "imports") == (
        f"imports/{name}: field 'seq' is \"3\" (text), expected a whole number"
    )
    record["seq"] = 3.0
    assert validate.problem(imports, "imports") == (
        f"imports/{name}: field 'seq' is 3.0 (a number), expected a whole number"
    )
    record["seq"] = 3
    del record["date"]
    assert validate.problem(imports, "imports") == (
        f"imports/{name}: field 'date' is missing, expected text or null"
    )
    record["date"] = None
    record["imported_at"] = ["2024"]
    assert validate.problem(imports, "imports") == (
        f"imports/{name}: field 'imported_at' is a list of 1 item, expected text"
    )
    record["imported_at"] = "2024"
    assert validate.problem(imports, "imports") is None
    imports["imports"]["papers.json"] = imports["imports"].pop(name)
    assert validate.problem(imports, "imports") == (
        "imports/papers.json: not a digest file's name (32 lowercase hex characters)"
    )
    imports["imports"][name] = imports["imports"].pop("papers.json")
    other = next(n for n in imports["imports"] if n != name)
    imports["imports"][other]["seq"] = 3
    assert validate.problem(imports, "imports") == "imports: two imports have the same 'seq'"
    imports["imports"][other] = "3"
    assert validate.problem(imports, "imports") == (
        f'imports/{other}: the document is "3" (text), expected an object'
    )


def test_messages_of_a_digest_file_name_the_paper_and_field(files: dict[str, Any]) -> None:
    digest = copy.deepcopy(files["digest"])
    digest["papers"]["7"]["title"] = 123
    assert validate.problem(digest, "digest") == (
        "papers/7: field 'title' is 123 (a number), expected text"
    )
    digest["papers"]["7"]["title"] = "ok"
    digest["papers"]["7"]["links"] = "https://arxiv.org/abs/1"
    assert validate.problem(digest, "digest") == (
        "papers/7: field 'links' is \"https://arxiv.org/abs/1\" (text), expected a list of text"
    )
    digest["papers"]["7"]["links"] = []
    digest["papers"]["7"]["upvotes"] = "12"  # a rare field, checked all the same
    assert validate.problem(digest, "digest") == (
        "papers/7: field 'upvotes' is \"12\" (text), expected a whole number or null"
    )
    digest["papers"]["7"]["upvotes"] = 12
    digest["papers"]["7"]["authors"] = ["A. Author", None]
    assert validate.problem(digest, "digest") == (
        "papers/7: field 'authors[1]' is null, expected text"
    )
    del digest["papers"]["7"]["authors"]
    assert validate.problem(digest, "digest") is None
    digest["digest"]["info"]["fetched"] = "no"
    assert validate.problem(digest, "digest") == (
        "digest/info: field 'fetched' is \"no\" (text), expected true or false"
    )
    digest["digest"]["info"]["fetched"] = False
    digest["digest"]["extra"] = {"id": "x"}
    assert validate.problem(digest, "digest") == "table 'digest' must hold one document, 'info'"
    digest["digest"] = {}
    assert validate.problem(digest, "digest") == "table 'digest' must hold one document, 'info'"
    digest["digest"] = {"info": "x"}
    assert validate.problem(digest, "digest") == (
        'digest/info: the document is "x" (text), expected an object'
    )


def test_unknown_tables_and_fields_are_allowed(files: dict[str, Any]) -> None:
    """A newer release of the same schema may add fields and tables."""
    papers, state, pid = copy.deepcopy(files["papers"]), copy.deepcopy(files["state"]), files["pid"]
    imports, digest = copy.deepcopy(files["imports"]), copy.deepcopy(files["digest"])
    papers["papers"][pid]["venue"] = {"name": "ICML"}
    papers["authors"] = {"a1": {"name": "X"}}
    state["state"][pid]["rating"] = 5
    state["history"]["99"]["device"] = "laptop"
    imports["imports"][files["import"]]["size"] = 123
    imports["machines"] = {"laptop": {"seen": "2024"}}
    digest["papers"]["1"]["venue"] = "ICML"
    digest["digest"]["info"]["source"] = {"url": "https://example.org"}
    digest["figures"] = {}
    assert validate.problem(papers, "papers") is None
    assert validate.problem(state, "state") is None
    assert validate.problem(imports, "imports") is None
    assert validate.problem(digest, "digest") is None
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
        "table 'digests' is a list of 1 item, expected an object of documents"
    )
    imports = copy.deepcopy(files["imports"])
    imports["imports"] = list(imports["imports"])
    assert validate.problem(imports, "imports") == (
        "table 'imports' is a list of 5 items, expected an object of documents"
    )
    digest = copy.deepcopy(files["digest"])
    digest["papers"] = None
    assert validate.problem(digest, "digest") == (
        "table 'papers' is null, expected an object of documents"
    )


# ---------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_earlier_state_schema_is_read_and_saved_as_the_current_one(
    template: Path, tmp_path: Path, version: int
) -> None:
    """An earlier release's state.json (``read: bool``; schema 2 adds ``changes`` undo steps;
    schema 3 has a status, like 4, of the layout before digest files), beside imports.json,
    loads upgraded; its state and undo steps move into this device's journal, where they
    undo and redo; state.json is saved as the schema 5 marker, the original aside.

    tests/test_migrate.py does the same with files the earlier releases wrote themselves.
    """
    data_dir = copy_library(template, tmp_path / "lib")
    library = Library(data_dir)
    pid, other = library.ordered()[5:7]
    tagged = {**OLD_FULL_STATE, "tags": ["old"]} if version < 3 else {**FULL_STATE, "tags": ["old"]}
    steps: dict[str, Any] = {
        "1": {
            "label": "mark 1 paper read",
            "at": "2024-03-01T00:00:00+00:00",
            "undone": False,
            "before": {pid: None},
            "after": {pid: tagged},
        }
    }
    if version >= 2:
        read = {"read": [True, False]} if version == 2 else {"status": ["read", "new"]}
        steps["2"] = {
            "label": "mark 1 paper unread",
            "at": "2024-03-02T00:00:00+00:00",
            "undone": True,
            "changes": {pid: {**read, "read_at": ["2024-03-01", None]}},
        }
    old = {"meta": {"schema": {"version": version, "kind": "state"}}, "state": {pid: tagged}}
    original = orjson.dumps(old | {"history": steps})
    single_device_layout(data_dir, old | {"history": steps})
    assert (data_dir / STATE_FILE).read_bytes() == original
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
        **({"snoozed_until": None, "resurfaced": None} if version == 3 else {}),
    }
    imports = (data_dir / IMPORTS_FILE).read_bytes()

    library = Library(data_dir)
    assert library.state(pid) == PaperState.from_doc(expected)
    if version >= 2:
        assert library.redo() is not None
        assert (library.state(pid).status, library.state(pid).read_at) == ("new", None)
        assert library.undo() is not None and library.state(pid) == PaperState.from_doc(expected)
    assert library.undo() is not None
    assert library.state(pid) == EMPTY_STATE
    saved = orjson.loads((data_dir / STATE_FILE).read_bytes())
    assert saved == {  # only the marker: the state is in the journal
        "meta": {"schema": {"version": 5, "kind": "state"}}
    }
    assert saved["meta"]["schema"] == {"version": SCHEMA_VERSION["state"], "kind": "state"}
    assert (data_dir / f"{STATE_FILE}.schema{version}.bak").read_bytes() == original
    library.mark([other])
    assert Library(data_dir).state(other).read
    # imports.json, moved into the journal, is kept aside as it was.
    assert not (data_dir / IMPORTS_FILE).exists()
    assert (data_dir / f"{IMPORTS_FILE}.schema1.bak").read_bytes() == imports
    assert orjson.loads(imports)["meta"]["schema"] == {"version": 1, "kind": "imports"}
    assert [p.name for p in (data_dir / JOURNALS_DIR).glob("*.json")] == [
        journal_file(data_dir).name
    ]


def with_schema_version(path: Path, version: int) -> bytes:
    data = orjson.loads(path.read_bytes())
    data["meta"]["schema"]["version"] = version
    return orjson.dumps(data)


@pytest.mark.parametrize(
    ("name", "kind", "newer"),
    [
        (STATE_FILE, "state", 6),
        (JOURNAL, "journal", 2),
        (IMPORTS_FILE, "imports", 2),
        (PAPERS_FILE, "papers", 2),
    ],
)
def test_a_newer_schema_is_refused_per_kind(
    template: Path, tmp_path: Path, name: str, kind: str, newer: int
) -> None:
    data_dir = copy_library(template, tmp_path / "lib")
    if name == IMPORTS_FILE:  # only the single-device layout has one
        single_device_layout(data_dir)
    path = library_file(data_dir, name)
    path.write_bytes(with_schema_version(OLD_PAPERS if kind == "papers" else path, newer))
    with pytest.raises(NewerSchema) as info:
        load_file(path, kind)
    assert f"schema version {newer} is newer than this readinglist understands ({newer - 1})" in (
        str(info.value)
    )


def test_a_digest_file_of_a_newer_schema_is_refused(template: Path, tmp_path: Path) -> None:
    """Named by its content like any digest file, but written by a newer readinglist."""
    data_dir = copy_library(template, tmp_path / "lib")
    path = imported_digest_files(data_dir)[0]
    renamed = rename_to_hash(path, with_schema_version(path, 2))
    with pytest.raises(NewerSchema) as info:
        contents.read(data_dir, renamed.stem)
    assert str(info.value).startswith(
        f"{renamed}: schema version 2 is newer than this readinglist understands (1)"
    )
    with pytest.raises(NewerSchema):
        Library(data_dir)


KINDS = {STATE_FILE: "state", JOURNAL: "journal", IMPORTS_FILE: "imports"}


@pytest.mark.parametrize(
    ("copied", "over"),
    [
        (STATE_FILE, JOURNAL),
        (JOURNAL, STATE_FILE),
        (STATE_FILE, IMPORTS_FILE),
        (IMPORTS_FILE, STATE_FILE),
    ],
)
def test_the_other_kind_of_file_is_not_mistaken_for_a_newer_one(
    template: Path, tmp_path: Path, copied: str, over: str
) -> None:
    """state.json (schema 5) copied over a journal or imports.json (schema 1) is the wrong
    file, not a newer one; and the other way round."""
    data_dir = copy_library(template, tmp_path / "lib")
    if IMPORTS_FILE in (copied, over):  # only the single-device layout has one
        marker = orjson.loads((data_dir / STATE_FILE).read_bytes())
        single_device_layout(data_dir, marker if copied == STATE_FILE else None)
    source = library_file(data_dir, copied).read_bytes()
    library_file(data_dir, over).write_bytes(source)
    kind, other = KINDS[over], KINDS[copied]
    with pytest.raises(LibraryCorrupt) as info:
        load_file(library_file(data_dir, over), kind)
    assert not isinstance(info.value, NewerSchema)
    assert info.value.problem == f"holds {other!r} data, expected {kind!r}"


# ---------------------------------------------------------------------------- load_file


def test_corrupt_papers_file_is_refused_by_load_file(tmp_path: Path) -> None:
    """load_file itself refuses (so the layout upgrade, every command and doctor do) and
    names it."""
    path = tmp_path / PAPERS_FILE
    data = orjson.loads(OLD_PAPERS.read_bytes())
    pid = next(iter(data["papers"]))
    data["papers"][pid]["abstract"] = None
    path.write_bytes(orjson.dumps(data))
    shutil.copyfile(OLD_PAPERS, f"{path}.bak")
    with pytest.raises(LibraryCorrupt) as info:
        load_file(path, "papers")
    assert str(info.value).startswith(
        f"{path}: papers/{pid}: field 'abstract' is null, expected text; the file was left "
        f"untouched. To recover, restore the last good copy with `cp '{path}.bak' '{path}'`"
    )


def test_corrupt_journal_is_refused_by_load_file(template: Path, tmp_path: Path) -> None:
    path = journal_file(copy_library(template, tmp_path / "lib"))
    data = orjson.loads(path.read_bytes())
    key = next(k for k, entry in data["changes"].items() if "import" in entry)
    data["changes"][key]["import"]["name"] = None
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(LibraryCorrupt) as info:
        load_file(path, "journal")
    assert str(info.value).startswith(
        f"{path}: changes/{key!r}: field 'import.name' is not a short text; the file was left "
        f"untouched. To recover, restore the last good copy with `cp '{path}.bak' '{path}'`"
    )


def test_corrupt_imports_file_is_refused_by_load_file(template: Path, tmp_path: Path) -> None:
    """imports.json of the single-device layout, which the move to journals reads."""
    data_dir = copy_library(template, tmp_path / "lib")
    single_device_layout(data_dir)
    path = data_dir / IMPORTS_FILE
    data = orjson.loads(path.read_bytes())
    name = next(iter(data["imports"]))
    data["imports"][name]["name"] = None
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(LibraryCorrupt) as info:
        load_file(path, "imports")
    assert str(info.value).startswith(
        f"{path}: imports/{name}: field 'name' is null, expected text; the file was left "
        f"untouched. To recover, no backup exists"
    )


def test_a_digest_file_is_checked_when_read(template: Path, tmp_path: Path) -> None:
    """contents.read checks the name against the content first, then every document."""
    data_dir = copy_library(template, tmp_path / "lib")
    path = imported_digest_files(data_dir)[0]
    assert contents.read(data_dir, path.stem).papers  # the real file reads
    data = orjson.loads(path.read_bytes())
    data["papers"]["1"]["abstract"] = 42
    path.write_bytes(orjson.dumps(data))  # under its old name: the content changed
    with pytest.raises(LibraryCorrupt) as info:
        contents.read(data_dir, path.stem)
    assert info.value.problem == "its content does not match its name (the file was changed)"
    renamed = rename_to_hash(path, orjson.dumps(data))
    with pytest.raises(LibraryCorrupt) as info:
        contents.read(data_dir, renamed.stem)
    assert str(info.value).startswith(
        f"{renamed}: papers/1: field 'abstract' is 42 (a number), expected text; "
        "the file was left untouched"
    )
