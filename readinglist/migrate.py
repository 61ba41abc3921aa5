"""Library files written by earlier releases, brought up to this one's schema as they load.

Each step takes a file of one version to the next, in memory; the store then saves the
result once, atomically, after copying the original aside (``state.json.schema2.bak``), so
nothing is lost and a second open finds nothing to do. An older readinglist refuses the
upgraded file with its "newer schema" message.

state.json 1 and 2 → 3 (triage): ``read: true|false`` becomes ``status: read|new``; the read
date, tags, notes and the undo history (both of its shapes) are kept. 3 → 4 changes nothing
in the file: it marks the library's move to digest files (``readinglist.layout``), which an
older readinglist must refuse rather than see as an empty library.
"""

from __future__ import annotations

from typing import Any

from readinglist import validate

Data = dict[str, dict[str, Any]]


class MigrationError(ValueError):
    """A field an upgrade needs has the wrong type: ``state/<id>: field 'read' is …``."""


def upgrade(data: Data, kind: str, version: int) -> Data:
    """``data`` (a whole file of ``kind`` at ``version``) at the current schema."""
    if kind == "state" and version < 3:
        data = _state_to_3(data)
    return data


def _state_to_3(data: Data) -> Data:
    states = data.get("state", {})
    history = data.get("history", {})
    upgraded = dict(data)
    if type(states) is dict:
        upgraded["state"] = {
            pid: _doc_to_3(doc, f"state/{pid}") if type(doc) is dict else doc
            for pid, doc in states.items()
        }
    if type(history) is dict:
        upgraded["history"] = {
            seq: _step_to_3(step, f"history/{seq}") if type(step) is dict else step
            for seq, step in history.items()
        }
    return upgraded


def _status(read: Any, where: str) -> str:
    if type(read) is not bool:
        raise MigrationError(
            f"{where}: field 'read' is {validate.show(read)}, expected true or false"
        )
    return "read" if read else "new"


def _doc_to_3(doc: dict[str, Any], where: str) -> dict[str, Any]:
    if "status" in doc or "read" not in doc:
        return doc
    new = {name: value for name, value in doc.items() if name != "read"}
    new["status"] = _status(doc["read"], where)
    new["decided_at"] = doc.get("read_at") if doc["read"] else None
    return new


def _step_to_3(step: dict[str, Any], where: str) -> dict[str, Any]:
    new = dict(step)
    for side in ("before", "after"):
        docs = step.get(side)
        if type(docs) is dict:
            new[side] = {
                pid: _doc_to_3(doc, f"{where}.{side}.{pid}") if type(doc) is dict else doc
                for pid, doc in docs.items()
            }
    changes = step.get("changes")
    if type(changes) is dict:
        new["changes"] = {
            pid: _fields_to_3(fields, f"{where}.changes.{pid}") if type(fields) is dict else fields
            for pid, fields in changes.items()
        }
    return new


def _fields_to_3(fields: dict[str, Any], where: str) -> dict[str, Any]:
    pair = fields.get("read")
    if pair is None:
        return fields
    if type(pair) is not list or len(pair) != 2:
        raise MigrationError(f"{where}: field 'read' is {validate.show(pair)}, expected [old, new]")
    new = {name: value for name, value in fields.items() if name != "read"}
    new["status"] = [_status(value, where) for value in pair]
    read_at = fields.get("read_at")
    if "decided_at" not in fields and type(read_at) is list and len(read_at) == 2:
        # As in _doc_to_3, so that undo and redo keep decided_at in step with the status.
        new["decided_at"] = [at if read else None for read, at in zip(pair, read_at, strict=True)]
    return new
