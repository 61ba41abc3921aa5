"""Typed messages from the app's workers; widgets are only touched in their handlers."""

from __future__ import annotations

from textual.message import Message

from readinglist.library import Holder, Library
from readinglist.reading import FirstKeys, ReadModel
from readinglist.reports import Change, ImportReport


class LibraryLoaded(Message):
    """The library is open: its write path and what it holds (a read model)."""

    def __init__(self, library: Library, view: ReadModel) -> None:
        self.library = library
        self.view = view
        super().__init__()


class LibraryFailed(Message):
    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__()


class SearchReady(Message):
    """The library was (re)read and its search index built: ``view`` is all of it."""

    def __init__(self, view: ReadModel) -> None:
        self.view = view
        super().__init__()


class FirstKeysReady(Message):
    """What the first keys of a query look up, made ready for ``view``'s index."""

    def __init__(self, view: ReadModel, ready: FirstKeys) -> None:
        self.view = view
        self.ready = ready
        super().__init__()


class ImportProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total
        super().__init__()


class ImportFinished(Message):
    def __init__(
        self, report: ImportReport | None, error: str | None = None, view: ReadModel | None = None
    ) -> None:
        self.report = report
        self.error = error
        self.view = view
        super().__init__()


class FetchProgress(Message):
    """Fetching day ``done + 1`` of ``total`` (``day``); ``done == total``: importing."""

    def __init__(self, done: int, total: int, day: str) -> None:
        self.done = done
        self.total = total
        self.day = day
        super().__init__()


class FetchFinished(Message):
    """A fetch ended: what it imported (of ``days``, ``empty`` had no papers and
    ``problems`` name those left out), or the one-line reason nothing was imported."""

    def __init__(
        self,
        report: ImportReport | None,
        days: int = 0,
        empty: int = 0,
        error: str | None = None,
        problems: tuple[str, ...] = (),
        view: ReadModel | None = None,
    ) -> None:
        self.view = view
        self.report = report
        self.days = days
        self.empty = empty
        self.error = error
        self.problems = problems
        super().__init__()


class LockWait(Message):
    """A change is waiting for another writer (posted from whichever thread waits)."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        super().__init__()


class WriteDone(Message):
    """A change made in the background (another writer held the lock) finished; ``view``:
    the library right after it, taken in the worker."""

    def __init__(self, change: Change | None, error: str | None, view: ReadModel) -> None:
        self.change = change
        self.error = error
        self.view = view
        super().__init__()
