"""Errors the user is meant to read.

Every error raised to the CLI or the TUI derives from :class:`ReadinglistError`, whose
``str()`` is a complete one-line message (file, line, what is wrong, how to recover),
so the front ends never have to format them or show a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ReadinglistError(Exception):
    """A problem the user can act on; ``str()`` is the one-line message."""


class DigestError(ReadinglistError):
    """A digest file that cannot be imported; nothing from it is stored."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class StorageError(ReadinglistError):
    """The library could not be read or written; the files on disk are unchanged."""


class LibraryCorrupt(StorageError):
    """A library file is not something we wrote; it is never overwritten."""

    def __init__(self, path: Path, problem: str, recovery: str | None = None) -> None:
        self.path = path
        self.problem = problem
        if recovery is None:
            backup = path.with_name(path.name + ".bak")
            if backup.exists():
                recovery = (
                    f"restore the last good copy with `cp '{backup}' '{path}'` "
                    "or run `readinglist doctor`"
                )
            else:
                recovery = (
                    f"no backup exists; move '{path}' aside to start afresh or run "
                    "`readinglist doctor`"
                )
        super().__init__(f"{path}: {problem}; the file was left untouched. To recover, {recovery}")


class LibraryLocked(StorageError):
    """Another process held the library lock for too long."""


class UnknownPaper(ReadinglistError):
    """An id (or id prefix) that names no paper, or more than one."""


class QueryError(ReadinglistError):
    """A query that cannot be understood, e.g. an unknown filter name."""


class FetchError(DigestError):
    """Daily papers that could not be fetched or understood; nothing from them is stored.

    A digest error too (its source is the day, or the saved response file), so importing a
    saved API response rejects a bad one exactly like a bad text digest.
    """
