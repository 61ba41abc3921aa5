"""Digest files: each imported digest's parsed content, written once and never changed.

One TinyDB file per import under ``digests/``, named by a hash of its bytes, which are a
function of the digest's content alone (not of its file name, the day it was imported or
the library it went into): the same digest imported on two machines is the same file, so
a folder synced between them never holds two versions of one. What a reader does with the
papers lives elsewhere; which imports happened when, in the journals (``journal``).

Layout (TinyDB's, so any TinyDB reads it)::

    {"meta":   {"schema": {"version": 1, "kind": "digest"}},
     "digest": {"info": {"id": …, "date": "Mar 13" | null, "layout": …, "fetched": bool}},
     "papers": {"1": {"title": …, "abstract": …, "links": […], <API metadata>…}, "2": …}}

Papers are keyed by their position in the digest. A paper's id is derived when the catalog
is built (``catalog.Builder.apply``), by the same rules as ever; a document only carries an
``id`` when it was migrated from a library that had already decided it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from readinglist import validate
from readinglist.errors import LibraryCorrupt, StorageError
from readinglist.storage import (
    DIGESTS_DIR,
    NewerSchema,
    atomic_write,
    check_schema,
    fsync_path,
    read_regular,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

#: Schema of a digest file (``meta/schema``).
CONTENT_VERSION = 1
#: How to mend a damaged or missing digest file: nothing else holds its papers' text, and
#: any good copy of it is byte for byte the same (its name is the hash of its content).
RESTORE = (
    "copy it back from a backup or from a synced copy of the library folder (any good copy "
    "has this very name)"
)
#: Hex characters of a digest file's name (128 bits of blake2b).
HASH_CHARS = 32


@dataclass(frozen=True, slots=True)
class Content:
    """One digest file, read and checked."""

    hash: str
    #: The digest this content belongs to (a text digest's content id, a fetched day's id).
    digest: str
    date: str | None
    layout: str
    #: Whether it came from the Daily Papers API (papers carry metadata, a day is extended
    #: by each fetch) rather than a text digest (imported once).
    fetched: bool
    #: Paper documents in digest order.
    papers: tuple[dict[str, Any], ...]


def encode(
    digest: str, date: str | None, layout: str, fetched: bool, papers: list[dict[str, Any]]
) -> tuple[str, bytes]:
    """(name hash, bytes) of the digest file holding this content."""
    data = {
        "meta": {"schema": {"version": CONTENT_VERSION, "kind": "digest"}},
        "digest": {"info": {"id": digest, "date": date, "layout": layout, "fetched": fetched}},
        "papers": {str(n): doc for n, doc in enumerate(papers, start=1)},
    }
    payload = orjson.dumps(data)
    return content_hash(payload), payload


def content_hash(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=HASH_CHARS // 2).hexdigest()


def path_of(data_dir: Path, name: str) -> Path:
    return data_dir / DIGESTS_DIR / f"{name}.json"


def write(
    data_dir: Path, name: str, payload: bytes, *, sync: bool = True, sync_soon: bool = True
) -> None:
    """Create the digest file ``name`` unless it exists (its name says what it holds).

    With ``sync=False`` the caller syncs the folder (:func:`sync_folder`) once for many;
    meanwhile the file is already being synced in the background, unless ``sync_soon`` is
    False (a worker process: the process that syncs the folder calls :func:`sync_soon`).
    """
    path = path_of(data_dir, name)
    with contextlib.suppress(OSError):
        if content_hash(read_regular(path)) == name:
            return  # imported before, here or on a machine this folder is synced with
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{path.parent}: cannot create ({error.strerror or error})") from None
    atomic_write(path, payload, backup=False, sync=sync)
    if not sync and sync_soon:
        _sync_soon(path)


def sync_soon(data_dir: Path, name: str) -> None:
    """Start syncing the digest file ``name`` (written with ``sync=False``) in the
    background; :func:`sync_folder` waits for it."""
    _sync_soon(path_of(data_dir, name))


#: Files written with ``sync=False`` whose fsync runs in a background thread, so that the
#: disk works while the next digest is parsed: syncing the 520 files of a 100k-paper bulk
#: import at the end took 0.65 s. :func:`sync_folder` waits for each (and reports its
#: error) before syncing the folder, so what is durable when it returns is unchanged.
_syncing: dict[Path, Future[None]] = {}
_syncer: ThreadPoolExecutor | None = None
_syncer_lock = threading.Lock()


def _sync_soon(path: Path) -> None:
    global _syncer
    with _syncer_lock:
        if _syncer is None:
            # Imported here: only imports need it (concurrent.futures and the logging it
            # imports: ~16 ms of every command's start).
            from concurrent.futures import ThreadPoolExecutor

            _syncer = ThreadPoolExecutor(1, thread_name_prefix="readinglist-fsync")
        _syncing[path] = _syncer.submit(fsync_path, path)


def sync_folder(data_dir: Path, names: list[str]) -> None:
    """Make files written with ``sync=False`` durable: each file, then the folder once."""
    folder = data_dir / DIGESTS_DIR
    try:
        for name in names:
            path = path_of(data_dir, name)
            with _syncer_lock:
                started = _syncing.pop(path, None)
            if started is None:
                fsync_path(path)
            else:
                started.result()  # raises what the fsync raised
        if names:
            fsync_path(folder)
    except OSError as error:
        raise StorageError(
            f"{folder}: could not sync to disk ({error.strerror or error})"
        ) from None
    finally:
        _stop_syncer()


def forget_syncs(data_dir: Path) -> None:
    """After an import that failed or was interrupted: wait for the background fsyncs of
    the library's digest files (whatever they raise: nothing lists the files), so that the
    thread ends."""
    folder = data_dir / DIGESTS_DIR
    with _syncer_lock:
        started = [_syncing.pop(p) for p in list(_syncing) if p.parent == folder]
    for future in started:
        with contextlib.suppress(OSError):
            future.result()
    _stop_syncer()


def _stop_syncer() -> None:
    """End the fsync thread once it has nothing to do: a process with one thread may fork
    (``prepare``: a bulk import's workers), and the next import starts another (~0.1 ms)."""
    global _syncer
    with _syncer_lock:
        idle = _syncer if not _syncing else None
        if idle is not None:
            _syncer = None
    if idle is not None:
        idle.shutdown(wait=True)


def read(data_dir: Path, name: str) -> Content:
    """The digest file ``name``, checked: its hash, its schema and every document."""
    path = path_of(data_dir, name)
    try:
        payload = read_regular(path)
    except FileNotFoundError:
        raise LibraryCorrupt(
            path, "is missing, but the library lists its import", recovery=RESTORE
        ) from None
    except OSError as error:
        raise StorageError(f"{path}: cannot read ({error.strerror or error})") from None
    if content_hash(payload) != name:
        changed = "its content does not match its name (the file was changed)"
        raise LibraryCorrupt(path, changed, recovery=RESTORE)
    try:
        data = check_schema(path, payload, "digest")
    except NewerSchema:
        raise  # not damaged: it says to upgrade readinglist
    except LibraryCorrupt as error:
        raise LibraryCorrupt(path, error.problem, recovery=RESTORE) from None
    problem = validate.problem(data, "digest")
    if problem:
        raise LibraryCorrupt(path, problem, recovery=RESTORE)
    info = data["digest"]["info"]
    return Content(
        name,
        info["id"],
        info["date"],
        info["layout"],
        info["fetched"],
        tuple(data.get("papers", {}).values()),
    )
