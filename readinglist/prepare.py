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
import queue
import signal
import threading
import traceback
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
from readinglist.errors import DigestError, StorageError
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
    """Forked workers take the next file by a shared counter (they have the list from the
    fork) and send (number, result) on one queue; this process takes the results in order.

    Nothing in this process feeds them and it runs no thread of its own (with
    ``ProcessPoolExecutor`` a manager thread fed them, competing for the GIL with the
    merge; no faster or slower on this VM, measured, but more to go wrong on Ctrl+C).
    """
    import multiprocessing  # here: only a bulk import needs it (~10 ms)

    context = multiprocessing.get_context("fork")
    taken = context.Value("q", 0)  # files handed out; len(sources) stops the workers
    results: Any = context.Queue()
    workers = [
        context.Process(
            target=_work,
            args=(sources, data_dir, taken, results),
            name=f"readinglist-import-{n}",
            daemon=True,
        )
        for n in range(WORKERS)
    ]
    # Ctrl+C is the parent's to act on: blocked while forking, then ignored in a worker.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        for worker in workers:
            worker.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def in_order() -> Iterator[Prepared | FileReport]:
        arrived: dict[int, Prepared | FileReport | _Failed] = {}
        for number in range(len(sources)):
            while number not in arrived:
                try:
                    done, result = results.get(timeout=0.5)
                except queue.Empty:
                    # A worker that died, or all ended with a result missing (one that
                    # could not be sent): never wait for it forever.
                    if any(w.exitcode for w in workers) or all(
                        w.exitcode is not None for w in workers
                    ):
                        raise StorageError(
                            "a worker process of the import died (out of memory?); "
                            "nothing was imported"
                        ) from None
                    continue
                arrived[done] = result
            result = arrived.pop(number)
            if isinstance(result, _Failed):
                raise (StorageError if result.storage else RuntimeError)(result.message)
            if isinstance(result, Prepared):
                contents.sync_soon(data_dir, result.hash)
            yield result

    try:
        yield in_order()
    finally:
        with taken.get_lock():
            taken.value = len(sources)  # each worker ends after the file it is on
        while any(w.is_alive() for w in workers):
            with contextlib.suppress(queue.Empty):  # a worker ends once its results are read
                while True:
                    results.get_nowait()
            for worker in workers:
                worker.join(0.01)
        results.close()


@dataclass(frozen=True, slots=True)
class _Failed:
    """What a worker raised: a :class:`StorageError` (whose subclasses do not survive
    pickling), or else a bug, with its traceback."""

    message: str
    storage: bool


def _work(sources: Sequence[Source], data_dir: Path, taken: Any, results: Any) -> None:
    """A worker: prepare the next file not taken, until none is left."""
    import gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, between files
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    gc.freeze()  # the parent's objects: never scanned, so never copied by touching them
    while True:
        with taken.get_lock():
            number = taken.value
            if number >= len(sources):
                return
            taken.value = number + 1
        try:
            result: Prepared | FileReport | _Failed = prepare(
                sources[number], data_dir, sync_soon=False
            )
        except StorageError as error:
            result = _Failed(str(error), storage=True)
        except Exception:
            result = _Failed(traceback.format_exc(), storage=False)
        results.put((number, result))
