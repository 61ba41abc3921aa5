"""The undo steps of the single-device layout, as ``state.json`` held them until journals.

An entry recorded, per paper, only the state fields a change touched, as ``[old, new]``
pairs: ``{"label", "at", "undone", "changes": {pid: {field: [old, new]}}}``; entries of the
first releases held whole documents instead (``before``: {pid: doc or null}, ``after``).
The move into a device's journal (:func:`readinglist.layout.migrated_entries`) turns each
into a journal entry that can still be undone; undo itself now lives in the journal
(:mod:`readinglist.journal`).
"""

from __future__ import annotations

from typing import Any

from readinglist.model import EMPTY_STATE

#: A state document with every field at its default: what a paper without one counts as.
EMPTY_DOC: dict[str, Any] = EMPTY_STATE.to_doc()


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields of state document ``new`` that differ from ``old``, as [old, new] pairs."""
    return {name: [old[name], new[name]] for name in EMPTY_DOC if old[name] != new[name]}
