"""The undo/redo journal, kept in the state file beside what it changes.

An entry records, per paper, only the state fields a change touched, as ``[old, new]``
pairs: ``{"label", "at", "undone", "changes": {pid: {field: [old, new]}}}``. Undo writes
the old values and redo the new ones over the paper's *current* state, so undoing a read
toggle never rewrites a note edited since, and toggling a paper with a long note does not
copy the note into the journal. A paper without a state document counts as the empty
state; one that is back to it loses its document again.

Entries written by earlier releases hold whole documents instead (``before``: {pid: doc or
null}, ``after``: {pid: doc}); they are undone and redone as then, by restoring those.

The journal lives in ``state.json``, so it survives restarts and is shared by every process
writing the library: ``undo`` in the app can take back a change made from the CLI, and says
so in its label. It is bounded by steps and by bytes, since the whole file is rewritten on
every change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from tinydb import TinyDB

from readinglist.model import EMPTY_STATE
from readinglist.storage import document, ids

#: How many changes ``undo`` can go back.
HISTORY_LIMIT = 200
#: Most bytes (as saved JSON) the journal keeps: the oldest entries beyond it are dropped,
#: but never the newest one, however big (an edit of a long note can always be undone).
HISTORY_BYTES = 1_000_000

#: A state document with every field at its default: what a paper without one counts as.
EMPTY_DOC: dict[str, Any] = EMPTY_STATE.to_doc()

Entry = tuple[int, dict[str, Any]]
#: {pid: {field: [old, new]}}: what one change did.
Changes = dict[str, dict[str, list[Any]]]
#: {pid: state document, or None for "no document"}: what undo or redo writes.
Docs = dict[str, dict[str, Any] | None]


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields of state document ``new`` that differ from ``old``, as [old, new] pairs."""
    return {name: [old[name], new[name]] for name in EMPTY_DOC if old[name] != new[name]}


class History:
    """Entries are numbered in order; undone ones stay (for redo) until a new change."""

    def __init__(self, db: TinyDB) -> None:
        self.db = db

    def entries(self) -> list[Entry]:
        raw = self.db.storage.read() or {}
        return sorted((int(seq), doc) for seq, doc in raw.get("history", {}).items())

    def last_done(self) -> Entry | None:
        """The newest change not undone: what ``undo`` reverts."""
        done = [entry for entry in self.entries() if not entry[1].get("undone")]
        return done[-1] if done else None

    def first_undone(self) -> Entry | None:
        """The oldest undone change: what ``redo`` re-applies."""
        return next((entry for entry in self.entries() if entry[1].get("undone")), None)

    def set_undone(self, seq: int, undone: bool) -> None:
        self.db.table("history").update({"undone": undone}, doc_ids=ids([str(seq)]))

    def record(self, label: str, changes: Changes, at: str) -> None:
        """Add a change; what was undone can no longer be redone, and old entries go."""
        table = self.db.table("history")
        entries = self.entries()
        doc = {"label": label, "at": at, "undone": False, "changes": changes}
        kept = [entry for entry in entries if not entry[1].get("undone")]
        kept = kept[max(0, len(kept) - HISTORY_LIMIT + 1) :]
        sizes = [len(orjson.dumps(entry[1])) for entry in kept]
        total = sum(sizes) + len(orjson.dumps(doc))
        oldest = 0
        while oldest < len(kept) and total > HISTORY_BYTES:
            total -= sizes[oldest]
            oldest += 1
        keep = {seq for seq, _ in kept[oldest:]}
        table.remove(doc_ids=ids(str(seq) for seq, _ in entries if seq not in keep))
        seq = (entries[-1][0] + 1) if entries else 1
        table.insert(document(doc, str(seq)))

    @staticmethod
    def docs(doc: dict[str, Any], undo: bool, current: Callable[[str], dict[str, Any]]) -> Docs:
        """The state documents undoing (or redoing) entry ``doc`` writes.

        ``current(pid)`` is the paper's state document now (``EMPTY_DOC`` if it has none).
        """
        if "changes" not in doc:  # an earlier release's entry: whole documents
            return dict(doc["before" if undo else "after"])
        side = 0 if undo else 1
        docs: Docs = {}
        for pid, fields in doc["changes"].items():
            state = current(pid) | {name: pair[side] for name, pair in fields.items()}
            docs[pid] = None if state == EMPTY_DOC else state
        return docs
