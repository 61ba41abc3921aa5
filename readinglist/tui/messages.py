"""Typed messages from the app's workers; widgets are only touched in their handlers."""

from __future__ import annotations

from textual.message import Message

from readinglist.library import Library
from readinglist.reports import ImportReport


class LibraryLoaded(Message):
    def __init__(self, library: Library) -> None:
        self.library = library
        super().__init__()


class LibraryFailed(Message):
    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__()


class SearchReady(Message):
    """The search index is built: the whole library is searchable."""


class ImportProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total
        super().__init__()


class ImportFinished(Message):
    def __init__(self, report: ImportReport | None, error: str | None = None) -> None:
        self.report = report
        self.error = error
        super().__init__()
