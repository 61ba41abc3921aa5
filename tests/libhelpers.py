"""Helpers shared by the reliability and doctor tests: real libraries, damage, fault injection."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from readinglist.library import Library
from readinglist.storage import PAPERS_FILE, SCHEMA_VERSION, STATE_FILE

#: A note that must survive everything.
NOTE = "Key idea: *weight matching*.\n\nRe-read §3 before the reading group ✓"


def make_library(data_dir: Path, digest_paths: list[Path]) -> Library:
    """A library saved twice per file, so both papers.json and state.json have a ``.bak``."""
    library = Library(data_dir)
    assert library.import_files(digest_paths[:4]).ok
    assert library.import_files(digest_paths[4:]).ok
    first, second = library.ordered()[:2]
    library.mark([first])
    library.set_note(second, NOTE)
    return library


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative name → bytes), to prove nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def damaged_versions(good: bytes) -> dict[str, bytes]:
    """Ways a library file gets damaged, derived from a real good file."""
    kind = orjson.loads(good)["meta"]["schema"]["kind"]
    version = f'"version":{SCHEMA_VERSION[kind]},'.encode()
    assert version in good
    return {
        "truncated": good[: len(good) // 2],
        "null": b"null",
        "0 bytes": b"",
        "invalid utf-8": good.replace(b'"meta"', b'"m\xff\xfeta"', 1),
        "wrong top-level type": b"[" + good + b"]",
        "unknown schema version": good.replace(version, b'"version":0,', 1),
        "newer schema version": good.replace(version, b'"version":99,', 1),
    }


LIBRARY_NAMES = (PAPERS_FILE, STATE_FILE)


class FaultyOS:
    """The ``os`` module as seen by readinglist.storage, with some functions failing.

    From its ``nth`` call on, each function in ``names`` raises ``OSError(code)``, like a
    disk that filled up or started failing mid-save. Everything else is the real ``os``.
    """

    def __init__(self, names: tuple[str, ...], code: int, nth: int = 1) -> None:
        for name in names:
            setattr(self, name, self._failing(getattr(os, name), code, nth))

    @staticmethod
    def _failing(real: Callable[..., Any], code: int, nth: int) -> Callable[..., Any]:
        calls = 0

        def faulty(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls >= nth:
                raise OSError(code, os.strerror(code))
            return real(*args, **kwargs)

        return faulty

    def __getattr__(self, attr: str) -> Any:
        return getattr(os, attr)
