"""The shape of every document in a library file, checked each time a file is loaded.

A file can be valid JSON of the right schema and still hold a title that is a number or
tags that are one string (a hand edit, a sync tool, another program). Found later, such a
document is a traceback in some command, or worse, gets saved back. So
:func:`storage.load_file <readinglist.storage.load_file>` checks every document here, and
every command, the app and ``doctor`` refuse the same files with the same one-line reason
naming the document (table and id) and the field.

It runs on every load, at up to 100k papers, so the common case (nothing wrong) is one tight
loop of exact type tests per table (:func:`_docs_ok`), which costs about as much as touching
each document once; only when it fails does a slower walk over the same :class:`Field` specs
find the first problem and word it. :func:`problem` is the one entry.
Unknown tables and fields are allowed: a newer release of the same schema may add them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from itertools import chain, repeat
from typing import Any, NamedTuple

import orjson

from readinglist.model import ID_LENGTH, META_FIELDS, STATUSES, plural
from readinglist.safetext import json_text, printable_line

#: A paper id: what ``model.paper_id`` makes.
PAPER_ID_RE = re.compile(f"[0-9a-f]{{{ID_LENGTH}}}")
_HEX_RUN_RE = re.compile("[0-9a-f]*")
#: A history key of a single-device state.json: a decimal number (no sign, no leading 0).
_SEQ_RE = re.compile("0|[1-9][0-9]*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KNOWN_STATUSES = frozenset(STATUSES)
#: State fields whose values (not only types) are checked.
_VALUED = ("status", "snoozed_until")
#: Ids and field names shown as they are; anything else is shown quoted.
_PLAIN_KEY_RE = re.compile(r"[\w.-]{1,40}", re.ASCII)
_NOT_AN_ID = f"not a paper id ({ID_LENGTH} lowercase hex characters)"
#: Longest piece of a wrong value quoted in a message.
SHOWN_CHARS = 40

_MISSING: Any = object()
_TYPE_NAMES = {
    str: "text",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
    list: "a list",
    dict: "an object",
}


class Field(NamedTuple):
    """One field of a document: the exact types its value may have (``bool`` is no ``int``)."""

    name: str
    types: frozenset[type]
    expected: str
    #: The value ``from_doc`` uses when the field is absent; ``_MISSING`` if it is required.
    default: Any = _MISSING
    #: For lists: the exact type of every item.
    items: type | None = None
    #: Absent from nearly every document: checked only in documents with other fields than
    #: the usual ones, so that 100k papers from text digests pay nothing for them.
    rare: bool = False


_TEXT: frozenset[type] = frozenset({str})
_TEXT_OR_NULL: frozenset[type] = frozenset({str, type(None)})
_LIST: frozenset[type] = frozenset({list})
_INT_OR_NULL: frozenset[type] = frozenset({int, type(None)})

_DIGESTS = Field("digests", _LIST, "a non-empty list of digest ids", items=str)
#: A paper (``Paper.from_doc``); ``digests`` is also checked against the digests table.
#: The metadata fields (``model.META_FIELDS``, from the Daily Papers API) are optional.
PAPER_FIELDS = (
    Field("title", _TEXT, "text"),
    Field("abstract", _TEXT, "text"),
    Field("links", _LIST, "a list of text", default=[], items=str),
    _DIGESTS,
    Field("arxiv_id", _TEXT_OR_NULL, "text or null", default=None, rare=True),
    Field("authors", _LIST, "a list of text", default=[], items=str, rare=True),
    Field("published", _TEXT_OR_NULL, "text or null", default=None, rare=True),
    Field("upvotes", _INT_OR_NULL, "a whole number or null", default=None, rare=True),
    Field("num_comments", _INT_OR_NULL, "a whole number or null", default=None, rare=True),
    Field("github_repo", _TEXT_OR_NULL, "text or null", default=None, rare=True),
    Field("github_stars", _INT_OR_NULL, "a whole number or null", default=None, rare=True),
    Field("project_page", _TEXT_OR_NULL, "text or null", default=None, rare=True),
    Field("ai_keywords", _LIST, "a list of text", default=[], items=str, rare=True),
)
assert tuple(f.name for f in PAPER_FIELDS[4:]) == META_FIELDS
#: A digest (``Digest.from_doc``).
DIGEST_FIELDS = (
    Field("name", _TEXT, "text"),
    Field("date", _TEXT_OR_NULL, "text or null", default=None),
    Field("seq", frozenset({int}), "a whole number"),
    Field("imported_at", _TEXT, "text"),
    Field("papers", frozenset({int}), "a whole number"),
)
#: A paper in a digest file (``readinglist.contents``): its text, an id only when upgraded.
CONTENT_FIELDS = (
    Field("title", _TEXT, "text"),
    Field("abstract", _TEXT, "text"),
    Field("links", _LIST, "a list of text", default=[], items=str),
    Field("id", _TEXT_OR_NULL, "a paper id", default=None, rare=True),
    *PAPER_FIELDS[4:],
)
#: What a digest file says of its digest.
CONTENT_INFO_FIELDS = (
    Field("id", _TEXT, "a digest id"),
    Field("date", _TEXT_OR_NULL, "text or null"),
    Field("layout", _TEXT, "text"),
    Field("fetched", frozenset({bool}), "true or false"),
)
#: One import (``catalog.ImportRecord``), keyed by its digest file's name.
IMPORT_FIELDS = (
    Field("digest", _TEXT, "a digest id"),
    Field("name", _TEXT, "text"),
    Field("date", _TEXT_OR_NULL, "text or null"),
    Field("seq", frozenset({int}), "a whole number"),
    Field("imported_at", _TEXT, "text"),
)
_DIGEST_FILE_RE = re.compile("[0-9a-f]{32}")
#: A paper's reading state (``PaperState.from_doc``, which has a default for each field).
STATE_FIELDS = (
    Field("status", _TEXT, "new, later, read, skipped or snoozed", default="new"),
    Field("tags", _LIST, "a list of text", default=[], items=str),
    Field("note", _TEXT, "text", default=""),
    Field("read_at", _TEXT_OR_NULL, "text or null", default=None),
    Field("decided_at", _TEXT_OR_NULL, "text or null", default=None),
    Field("snoozed_until", _TEXT_OR_NULL, "a date (YYYY-MM-DD) or null", default=None),
    Field("resurfaced", _TEXT_OR_NULL, "a digest id or null", default=None),
    Field("updated", _TEXT_OR_NULL, "text or null", default=None),
)
_STATE_BY_NAME = {field.name: field for field in STATE_FIELDS}
#: What ``_changes_ok`` finds for a field that is not a state field: no type matches.
_NO_SPEC: tuple[frozenset[type], None] = (frozenset(), None)
#: Tables whose documents :func:`problem` checks field by field, per kind of file.
_CHECKED_TABLES = {
    "papers": {"papers", "digests"},
    "state": {"state", "history"},
    "imports": {"imports"},
    "digest": {"digest", "papers"},
}
#: An undo step, either shape: whole documents (``before``/``after``) or ``changes``.
HISTORY_FIELDS = (
    Field("label", _TEXT, "text"),
    Field("at", _TEXT, "text"),
    Field("undone", frozenset({bool}), "true or false"),
)


def problem(data: Mapping[str, Any], kind: str) -> str | None:
    """The first problem in a whole library file of ``kind`` ("papers" or "state"), or None.

    The text names the document and the field, e.g. ``papers/10da4114ab12: field 'title'
    is 123 (a number), expected text``, and is shown after the file's name.
    """
    checked = _CHECKED_TABLES[kind]
    for name, table in data.items():
        if type(table) is not dict:
            return f"table '{_key(name)}' is {show(table)}, expected an object of documents"
        if name not in checked and not _all_dicts(table.values()):  # others: TinyDB's minimum
            doc_id, doc = next((i, d) for i, d in table.items() if type(d) is not dict)
            return f"{_key(name)}/{_key(doc_id)}: {_doc_problem(doc, ())}"
    if kind == "imports":
        return _imports_problem(data.get("imports", {}))
    if kind == "digest":
        info = data.get("digest", {})
        if set(info) != {"info"}:
            return "table 'digest' must hold one document, 'info'"
        papers = data.get("papers", {})
        return (
            _table_problem("digest", info, CONTENT_INFO_FIELDS, paper_ids=False)
            or _table_problem("papers", papers, CONTENT_FIELDS, paper_ids=False)
            or _content_ids_problem(papers)
        )
    if kind == "papers":
        papers, digests = data.get("papers", {}), data.get("digests", {})
        return (
            _table_problem("digests", digests, DIGEST_FIELDS, paper_ids=False)
            or _table_problem("papers", papers, PAPER_FIELDS, paper_ids=True)
            or _references_problem(papers, digests)
        )
    states = data.get("state", {})
    return (
        _table_problem("state", states, STATE_FIELDS, paper_ids=True)
        or _history_problem(data.get("history", {}))
        or _status_problem(states, data.get("history", {}))
    )


def _content_ids_problem(papers: dict[str, dict[str, Any]]) -> str | None:
    """An upgraded paper's ``id`` (types are already checked) becomes a key of state.json."""
    for number, doc in papers.items():
        pid = doc.get("id")
        if pid is not None and not PAPER_ID_RE.fullmatch(pid):
            return f"papers/{_key(number)}: field 'id' is {show(pid)}, expected {_NOT_AN_ID}"
    return None


def _status_problem(states: dict[str, dict[str, Any]], history: Any) -> str | None:
    """A status outside :data:`model.STATUSES` or a snooze date that is no date (types are
    already checked), in the state table or in an undo step, which would write it there."""
    values: list[tuple[str, str, Any]] = []  # (where, field, value)
    if not (
        {doc.get("status", "new") for doc in states.values()} <= _KNOWN_STATUSES
        and all(_DATE_RE.fullmatch(d["snoozed_until"]) for d in states.values() if _until(d))
    ):
        values += [
            (f"state/{pid}: field '{name}", name, doc.get(name))
            for pid, doc in states.items()
            for name in _VALUED
        ]
    for seq, step in history.items() if type(history) is dict else ():
        for side in ("before", "after"):
            docs = step.get(side)
            for pid, doc in docs.items() if type(docs) is dict else ():
                if type(doc) is dict:
                    values += [
                        (f"history/{seq}: field '{side}.{pid}.{name}", name, doc.get(name))
                        for name in _VALUED
                    ]
        changes = step.get("changes")
        for pid, fields in changes.items() if type(changes) is dict else ():
            for name in _VALUED:
                for index, value in enumerate(fields.get(name) or ()):
                    values.append(
                        (f"history/{seq}: field 'changes.{pid}.{name}[{index}]", name, value)
                    )
    for where, name, value in values:
        if value is None or type(value) is not str:
            continue  # absent (the default), or a wrong type the type checks name
        bad = value not in _KNOWN_STATUSES if name == "status" else not _DATE_RE.fullmatch(value)
        if bad:
            return f"{where}' is {show(value)}, expected {_STATE_BY_NAME[name].expected}"
    return None


def _until(doc: dict[str, Any]) -> bool:
    return doc.get("snoozed_until") is not None


# ---------------------------------------------------------------------------- tables


def _table_problem(
    name: str, table: dict[str, dict[str, Any]], fields: tuple[Field, ...], *, paper_ids: bool
) -> str | None:
    """The first bad id or document of one table (``name``), as :func:`problem` words it."""
    if paper_ids and not _all_paper_ids(table):
        bad = next(pid for pid in table if not PAPER_ID_RE.fullmatch(pid))
        return f"{name}/{_key(bad)}: the id is {_NOT_AN_ID}"
    if _docs_ok(table.values(), fields):
        return None
    for doc_id, doc in table.items():
        found = _doc_problem(doc, fields)
        if found:
            return f"{name}/{_key(doc_id)}: {found}"
    return None  # unreachable: _docs_ok fails only where _doc_problem finds something


def _references_problem(papers: dict[str, dict[str, Any]], digests: dict[str, Any]) -> str | None:
    """Every paper was seen in at least one digest, and only in digests the file holds."""
    lists = list(map(dict.__getitem__, papers.values(), repeat("digests")))
    if all(lists) and set(chain.from_iterable(lists)) <= digests.keys():
        return None
    for pid, seen in zip(papers, lists, strict=True):
        if not seen:
            return f"papers/{pid}: field 'digests' is an empty list, expected {_DIGESTS.expected}"
        for index, did in enumerate(seen):
            if did not in digests:
                return (
                    f"papers/{pid}: field 'digests[{index}]' is {show(did)}, "
                    "which the digests table does not hold"
                )
    return None


def _imports_problem(imports: dict[str, dict[str, Any]]) -> str | None:
    for name in imports:
        if not _DIGEST_FILE_RE.fullmatch(name):
            return f"imports/{_key(name)}: not a digest file's name (32 lowercase hex characters)"
    found = _table_problem("imports", imports, IMPORT_FIELDS, paper_ids=False)
    if found:
        return found
    seqs = [doc["seq"] for doc in imports.values()]
    if len(set(seqs)) != len(seqs):
        return "imports: two imports have the same 'seq'"
    return None


def _history_problem(history: dict[str, dict[str, Any]]) -> str | None:
    for seq, entry in history.items():
        if not _SEQ_RE.fullmatch(seq):
            return f"history/{_key(seq)}: key is not a whole number (an undo step's number)"
        found = _doc_problem(entry, HISTORY_FIELDS) or _step_problem(entry)
        if found:
            return f"history/{seq}: {found}"
    return None


def _step_problem(entry: dict[str, Any]) -> str | None:
    """What an undo step changed: ``changes`` ({pid: {field: [old, new]}}), or whole documents."""
    if "changes" in entry or ("before" not in entry and "after" not in entry):
        return _changes_problem(entry.get("changes", _MISSING))
    return _states_problem("before", entry.get("before", _MISSING), nullable=True) or (
        _states_problem("after", entry.get("after", _MISSING), nullable=False)
    )


def _changes_problem(changes: Any) -> str | None:
    expected = "an object of changed papers ({id: {field: [old, new]}})"
    if changes is _MISSING:
        return f"field 'changes' is missing (and so are 'before' and 'after'), expected {expected}"
    if type(changes) is not dict:
        return f"field 'changes' is {show(changes)}, expected {expected}"
    if _all_paper_ids(changes) and _changes_ok(changes.values()):
        return None
    for pid, fields in changes.items():
        if not PAPER_ID_RE.fullmatch(pid):
            return f"field 'changes' names {_key(pid)}, {_NOT_AN_ID}"
        if type(fields) is not dict:
            return (
                f"field 'changes.{pid}' is {show(fields)}, expected an object of [old, new] pairs"
            )
        for name, pair in fields.items():
            field = _STATE_BY_NAME.get(name)
            if field is None:
                known = ", ".join(_STATE_BY_NAME)
                return f"field 'changes.{pid}.{_key(name)}' is not a reading-state field ({known})"
            if type(pair) is not list or len(pair) != 2:
                return (
                    f"field 'changes.{pid}.{name}' is {show(pair)}, "
                    f"expected a pair [old, new] of {field.expected}"
                )
            for index, value in enumerate(pair):
                found = _value_problem(f"changes.{pid}.{name}[{index}]", value, field)
                if found:
                    return found
    return None  # unreachable: _changes_ok fails only where this finds something


def _changes_ok(changes: Iterable[Any]) -> bool:
    """:func:`_docs_ok` for the ``changes`` of one undo step: {field: [old, new]} per paper."""
    spec = {field.name: (field.types, field.items) for field in STATE_FIELDS}
    for fields in changes:
        if type(fields) is not dict:
            return False
        for name, pair in fields.items():
            types, items = spec.get(name, _NO_SPEC)
            if type(pair) is not list or len(pair) != 2:
                return False
            old, new = pair
            if type(old) not in types or type(new) not in types:
                return False
            if items is not None:
                for item in chain(old, new):
                    if type(item) is not items:
                        return False
    return True


def _states_problem(side: str, states: Any, *, nullable: bool) -> str | None:
    """``before`` (a state or null per paper) or ``after`` (a state per paper) of an old step."""
    expected = f"an object of paper states{' (or null)' if nullable else ''}"
    if states is _MISSING:
        return f"field '{side}' is missing, expected {expected}"
    if type(states) is not dict:
        return f"field '{side}' is {show(states)}, expected {expected}"
    docs = [doc for doc in states.values() if doc is not None] if nullable else states.values()
    if _all_paper_ids(states) and _docs_ok(docs, STATE_FIELDS):
        return None
    for pid, doc in states.items():
        if not PAPER_ID_RE.fullmatch(pid):
            return f"field '{side}' names {_key(pid)}, {_NOT_AN_ID}"
        path = f"{side}.{pid}"
        if doc is None and nullable:
            continue
        if type(doc) is not dict:
            return f"field '{path}' is {show(doc)}, expected a paper's state (an object)"
        found = _doc_problem(doc, STATE_FIELDS, prefix=f"{path}.")
        if found:
            return found
    return None


# ---------------------------------------------------------------------------- checks


def _all_dicts(docs: Iterable[Any]) -> bool:
    return set(map(type, docs)) <= {dict}


def _all_paper_ids(table: Collection[str]) -> bool:
    """Every key is a paper id: three C-level passes instead of a regex per id."""
    return set(map(len, table)) <= {ID_LENGTH} and bool(_HEX_RUN_RE.fullmatch("".join(table)))


def _docs_ok(docs: Iterable[Any], fields: tuple[Field, ...]) -> bool:
    """True when every document is an object with every field right: the load's hot loop.

    The same tests as :func:`_doc_problem`, without wording anything. It is bound by
    touching each document and value once; plain tuples, because unpacking a NamedTuple
    per field and document costs a third more.
    """
    spec = [(f.name, f.types, f.default, f.items) for f in fields if not f.rare]
    everything = [(f.name, f.types, f.default, f.items) for f in fields]
    # A document holds a rare field only if it has more keys than the usual fields it has.
    required = sum(f.default is _MISSING for f in fields if not f.rare)
    optional = [f.name for f in fields if not f.rare and f.default is not _MISSING]
    has_rare = len(everything) > len(spec)
    for doc in docs:
        if type(doc) is not dict:
            return False
        checked = spec
        if has_rare:
            present = required
            for name in optional:
                present += name in doc
            if len(doc) > present:
                checked = everything
        for name, types, default, items in checked:
            value = doc.get(name, default)
            if type(value) not in types:
                return False
            if items is not None:
                for item in value:
                    if type(item) is not items:
                        return False
    return True


def _doc_problem(doc: Any, fields: tuple[Field, ...], prefix: str = "") -> str | None:
    """The first wrong field of one document, its name prefixed with ``prefix``."""
    if type(doc) is not dict:
        return f"the document is {show(doc)}, expected an object"
    for field in fields:
        found = _value_problem(prefix + field.name, doc.get(field.name, field.default), field)
        if found:
            return found
    return None


def _value_problem(path: str, value: Any, field: Field) -> str | None:
    if value is _MISSING:
        return f"field '{path}' is missing, expected {field.expected}"
    if type(value) not in field.types:
        return f"field '{path}' is {show(value)}, expected {field.expected}"
    if field.items is not None:
        for index, item in enumerate(value):
            if type(item) is not field.items:
                return (
                    f"field '{path}[{index}]' is {show(item)}, expected {_TYPE_NAMES[field.items]}"
                )
    return None


# ---------------------------------------------------------------------------- wording


def _key(key: str) -> str:
    """An id or field name as a message shows it: as is when plain, else quoted and cut."""
    return key if _PLAIN_KEY_RE.fullmatch(key) else show(key, typed=False)


def show(value: Any, *, typed: bool = True) -> str:
    """A wrong value in a few safe characters, with its JSON type: ``123 (a number)``."""
    kind = type(value)
    if value is None or kind is bool:
        return orjson.dumps(value).decode()
    if kind is list:
        return f"a list of {plural(len(value), 'item')}" if value else "an empty list"
    if kind is dict:
        return f"an object of {plural(len(value), 'field')}" if value else "an empty object"
    if kind is str and len(value) > SHOWN_CHARS:
        value = value[: SHOWN_CHARS - 1] + "…"
    shown = printable_line(json_text(orjson.dumps(value).decode()))
    return f"{shown} ({_TYPE_NAMES.get(kind, kind.__name__)})" if typed else shown
