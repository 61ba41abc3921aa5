"""The undo/redo journal, kept in the state file beside what it changes.

Each entry holds the changed papers' state documents before and after a change, so undo
and redo restore documents instead of inverting operations. It lives in ``state.json``, so
it survives restarts and is shared by every process writing the library: ``undo`` in the
app can take back a change made from the CLI, and says so in its label.
"""

from __future__ import annotations

from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

#: How many changes ``undo`` can go back.
HISTORY_LIMIT = 200

Entry = tuple[int, dict[str, Any]]


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
        self.db.table("history").update({"undone": undone}, doc_ids=[str(seq)])

    def record(self, label: str, before: dict[str, Any], after: dict[str, Any], at: str) -> None:
        """Add a change; what was undone can no longer be redone, and old entries go."""
        table = self.db.table("history")
        entries = self.entries()
        dropped = [seq for seq, doc in entries if doc.get("undone")]
        kept = [seq for seq, doc in entries if not doc.get("undone")]
        dropped += kept[: max(0, len(kept) - HISTORY_LIMIT + 1)]
        table.remove(doc_ids=[str(seq) for seq in dropped])
        seq = (entries[-1][0] + 1) if entries else 1
        doc = {"label": label, "at": at, "before": before, "after": after, "undone": False}
        table.insert(Document(doc, doc_id=str(seq)))
