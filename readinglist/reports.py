"""What library operations report back: import results, saved changes, counts.

Plain values, so the CLI prints them and the TUI shows them without reaching into the
library.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from readinglist.model import plural


@dataclass(frozen=True, slots=True)
class FileReport:
    """What importing one file did."""

    source: str
    status: Literal["imported", "unchanged", "rejected"]
    new: int = 0
    again: int = 0
    #: Skipped papers this digest brought back to the inbox.
    resurfaced: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()
    layout: str | None = None

    def describe(self) -> str:
        if self.status == "rejected":
            return self.error or f"{self.source}: rejected"
        if self.status == "unchanged":
            return f"{self.source}: unchanged (already imported)"
        back = f" ({self.resurfaced:,} skipped, back in the inbox)" if self.resurfaced else ""
        return (
            f"{self.source}: {plural(self.new + self.again, 'paper')} ({self.layout} layout): "
            f"{self.new:,} new, {self.again:,} seen again{back}"
        )


@dataclass(frozen=True, slots=True)
class ImportReport:
    files: tuple[FileReport, ...]

    @property
    def ok(self) -> bool:
        return all(f.status != "rejected" for f in self.files)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)


@dataclass(frozen=True, slots=True)
class Change:
    """A saved change, as undo/redo and notifications describe it."""

    label: str
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    papers: int
    unread: int
    read: int
    noted: int
    tagged: int
    recurring: int
    digests: tuple[dict[str, Any], ...]
    #: Papers per status today, in ``model.STATUSES`` order.
    statuses: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"digests": list(self.digests)}
