"""The per-file half of an import: read and parse a digest, write its digest file, identify
its papers. It needs nothing but the file and the library folder, so a bulk import runs it
in worker processes, and the library merges what comes back, in order, in its own.

What comes back is a :class:`Prepared`: the digest's facts and its papers' titles, links,
title keys and ids, never the abstracts (they are in the digest file the worker wrote).
Pickling whole parsed digests back to the parent cost most of what a pool saved
(docs/PERFORMANCE.md); these columns are ~20 KB a digest.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readinglist import contents
from readinglist.catalog import Identified, identify
from readinglist.dailypapers import (
    DayDigest,
    FetchedPaper,
    is_response,
    parse_response,
    to_digest,
)
from readinglist.digest import ParsedDigest, parse_digest, read_bytes
from readinglist.errors import DigestError, ReadinglistError, StorageError
from readinglist.model import paper_id, title_key
from readinglist.reports import FileReport

#: A digest to import: a file (a text digest or a saved API response, told apart by content),
#: a name and its bytes (stdin), or a day fetched from the Daily Papers API.
Source = Path | tuple[str, bytes] | DayDigest

#: Worker processes of a bulk import: one per core of this 2-vCPU machine, while the parent
#: merges (100k papers: 7.0 → ~4 s wall; see docs/PERFORMANCE.md).
WORKERS = 2
#: Fewer files than this are prepared in this process: a file takes ~8 ms, starting the
#: workers ~30 ms, and the daily import of one digest must not pay for them.
POOL_MIN_FILES = 8


@dataclass(frozen=True, slots=True)
class Prepared:
    """One digest, parsed and written as its digest file, ready to merge."""

    #: The name reports give it (the path as given, ``<stdin>``, a fetched day's source).
    source: str
    #: The import's name (a text digest's file stem, a fetched day's ISO date).
    stem: str
    layout: str
    date: str | None
    warnings: tuple[str, ...]
    #: The digest file's name (the hash of its bytes).
    hash: str
    #: The digest's identity (a text digest's content id, a fetched day's id).
    digest: str
    #: A text digest's papers, identified; None for a fetched day (see ``content``).
    papers: Identified | None
    #: A fetched day's digest file (its papers' metadata decides who they are, against the
    #: library's papers: identified when merged); None for a text digest.
    content: contents.Content | None

    @property
    def fetched(self) -> bool:
        return self.content is not None


def source_name(source: Source) -> str:
    if isinstance(source, DayDigest):
        return source.digest.source
    return source[0] if isinstance(source, tuple) else str(source)


def parse_source(source: Source) -> tuple[str, ParsedDigest, dict[str, FetchedPaper] | None]:
    """(digest name, parsed digest, API metadata by paper id or None) of one source.

    A saved API response becomes exactly what fetching its day gives (named by the day).
    """
    if isinstance(source, DayDigest):
        return source.name, source.digest, source.papers
    if isinstance(source, tuple):
        name, data = source
        stem = Path(name).stem or name
    else:
        name, data, stem = str(source), read_bytes(source), source.stem
    if is_response(data, name):
        day = to_digest(parse_response(data, name))
        return day.name, day.digest, day.papers
    return stem, parse_digest(data, name), None


def encode_digest(
    digest: ParsedDigest, fetched: dict[str, FetchedPaper] | None
) -> tuple[str, bytes, contents.Content]:
    """The digest file of one parsed digest: (name, bytes, content)."""
    docs: list[dict[str, Any]] = []
    for entry in digest.entries:
        doc: dict[str, Any] = {
            "title": entry.title,
            "abstract": entry.abstract,
            "links": list(entry.links),
        }
        info = fetched.get(paper_id(title_key(entry.title))) if fetched else None
        if info is not None:
            doc.update(info.meta())
        docs.append(doc)
    name, payload = contents.encode(
        digest.content_id, digest.date, digest.layout, fetched is not None, docs
    )
    content = contents.Content(
        name, digest.content_id, digest.date, digest.layout, fetched is not None, tuple(docs)
    )
    return name, payload, content


def prepare(source: Source, data_dir: Path, *, sync_soon: bool = True) -> Prepared | FileReport:
    """Parse ``source`` and write its digest file (not yet durable: see
    :func:`contents.sync_folder`); a file that is not a digest is a rejected report and
    writes nothing. ``sync_soon=False`` (in a worker) leaves even starting the file's
    fsync to the process that merges it."""
    try:
        stem, digest, fetched = parse_source(source)
    except DigestError as error:
        return FileReport(source_name(source), "rejected", error=str(error))
    name, payload, content = encode_digest(digest, fetched)
    contents.write(data_dir, name, payload, sync=False, sync_soon=sync_soon)
    entries = digest.entries
    papers = (
        None
        if fetched is not None
        else identify([e.title for e in entries], [e.links for e in entries])
    )
    return Prepared(
        digest.source,
        stem,
        digest.layout,
        digest.date,
        digest.warnings,
        name,
        content.digest,
        papers,
        content if fetched is not None else None,
    )


@contextlib.contextmanager
def prepared(
    sources: Sequence[Source], data_dir: Path, *, pool: bool = True
) -> Iterator[Iterator[Prepared | FileReport]]:
    """Each source prepared (:func:`prepare`), in order: by :data:`WORKERS` processes when
    there are many files and ``pool``, else in this process.

    Leaving the block (done, an error, Ctrl+C) cancels what no worker has started and waits
    for what they have: a worker is never killed halfway through writing a file, and
    ignores Ctrl+C, which only the parent acts on.
    """
    if pool and _pool_pays(sources):
        with _pooled(sources, data_dir) as results:
            yield results
    else:
        yield (prepare(source, data_dir) for source in sources)


def _pool_pays(sources: Sequence[Source]) -> bool:
    """Many files, two cores, and a process that may fork: only this thread running (a
    forked child gets a copy of any lock another thread holds)."""
    if len(sources) < POOL_MIN_FILES or not all(isinstance(s, Path) for s in sources):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2 and threading.active_count() == 1 and hasattr(os, "fork")


@contextlib.contextmanager
def _pooled(sources: Sequence[Source], data_dir: Path) -> Iterator[Iterator[Prepared | FileReport]]:
    # Imported here: only a bulk import needs them (~15 ms).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork: the workers start in ~5 ms with every module loaded (spawn: ~0.2 s each).
    executor = ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker
    )

    def results() -> Iterator[Prepared | FileReport]:
        futures = [executor.submit(_prepare_here, source, data_dir) for source in sources]
        for future in futures:
            try:
                result = future.result()
            except BrokenProcessPool:
                raise StorageError(
                    "a worker process of the import died (out of memory?); nothing was imported"
                ) from None
            if isinstance(result, _Failed):
                raise StorageError(result.message)
            if isinstance(result, Prepared):
                contents.sync_soon(data_dir, result.hash)
            yield result

    try:
        yield results()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class _Failed:
    """A worker's :class:`ReadinglistError` (its subclasses do not survive pickling)."""

    message: str


def _start_worker() -> None:
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, between files
    gc.freeze()  # the parent's objects: never scanned, so never copied by touching them


def _prepare_here(source: Source, data_dir: Path) -> Prepared | FileReport | _Failed:
    try:
        return prepare(source, data_dir, sync_soon=False)
    except ReadinglistError as error:
        return _Failed(str(error))
