"""``catalog.bin``: the file that saves opening a library the work of replaying every
digest file (see :mod:`readinglist.catalog` for the catalog itself).

A snapshot (the *base*: its head of imports, digests and ids, then the rest of the
columns) followed by one *delta* per import since (the builder's operations), each segment
length-prefixed and checksummed. An import appends its delta instead of rewriting the file;
the base is rewritten once deltas outgrow it. Anything wrong with the file (a torn last
segment, a damaged one, another format) only means it is rebuilt from the digest files: it
is derived, never user data.

The base's titles, links, metadata and sightings are packed (:mod:`readinglist.columns`):
format 5.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import struct
import sys
import zlib
from array import array
from dataclasses import astuple, dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from readinglist import columns
from readinglist.catalog import (
    SLOT_CODE,
    Catalog,
    ImportRecord,
    Op,
    gc_paused,
    listing,
    replayed,
    replayed_onto,
)
from readinglist.columns import Groups, Records, Strings, links_column, sightings_column
from readinglist.errors import StorageError
from readinglist.model import Digest
from readinglist.storage import atomic_write, open_regular

#: Format of ``catalog.bin``; marshal's layout is only promised within one Python version.
CATALOG_FORMAT = (1, sys.version_info[:2])
CATALOG_MAGIC = b"readinglist catalog 5\n"
#: Each segment: payload length, CRC-32 of the payload, then the marshalled payload. The
#: CRC finds torn writes and flipped bits; it is 6 ms over an 18 MB base at 100k papers
#: where blake2b took 41 ms of every command's start.
_SEGMENT = struct.Struct("<II")
#: The base is rewritten when an import would take the deltas past this many, or past a
#: quarter of the base's size: opening then replays at most a few hundred small operations.
MAX_DELTAS = 64


@dataclass(frozen=True, slots=True)
class Saved:
    """A catalog as loaded from ``catalog.bin``, and where its good bytes end."""

    catalog: Catalog
    end: int
    deltas: int
    delta_bytes: int
    base_bytes: int


def _segment(payload: tuple[Any, ...]) -> bytes:
    body = marshal.dumps(payload)
    return _SEGMENT.pack(len(body), _checksum(body)) + body


def _checksum(body: bytes | memoryview) -> int:
    return zlib.crc32(body)


def _base_segments(catalog: Catalog) -> bytes:
    """A base: the *head* (imports, digests, ids: what opening reads at once), then the
    *rest* of the columns (read when first used)."""
    head = (
        CATALOG_FORMAT,
        "head",
        [astuple(r) for r in catalog.imports],
        [(d.id, d.name, d.date, d.seq, d.imported_at, d.papers) for d in catalog.digests],
        catalog.ids,
    )
    links, sightings = links_column(catalog.links), sightings_column(catalog.sightings)
    rest = (
        CATALOG_FORMAT,
        "rest",
        Strings.of(catalog.titles).dump(),
        Strings.of(links.items).dump(),
        links.bounds.tobytes(),
        Records.of(catalog.meta).dump(),
        array("i", sightings.items).tobytes(),
        sightings.bounds.tobytes(),
        catalog.homes[0].tobytes(),
        catalog.homes[1].tobytes(),
        catalog.postings,
        catalog.order.tobytes(),
        catalog.seen_counts,
    )
    return _segment(head) + _segment(rest)


def save(path: Path, catalog: Catalog) -> int:
    """Write ``catalog`` as a new base (atomically); the file's size."""
    payload = CATALOG_MAGIC + _base_segments(catalog)
    atomic_write(path, payload, backup=False)
    return len(payload)


def append(path: Path, ops: list[Op], end: int) -> int:
    """Append one delta after the good bytes (``end``), dropping a torn tail; the new end."""
    segment = _segment((CATALOG_FORMAT, "delta", ops))
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, end)
            os.lseek(fd, end, os.SEEK_SET)
            view = memoryview(segment)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise StorageError(f"{path}: could not save ({error.strerror or error})") from None
    return end + len(segment)


def load(path: Path, data_dir: Path) -> Saved | None:
    """The catalog saved in ``path``, or None when there is none to trust (missing, damaged,
    another format): the caller rebuilds it. A torn or damaged delta ends what is read.

    Only the base's head and the deltas are read now; the rest of the columns (and its
    checksum) when first used (:meth:`Catalog.deferred`). A file that cannot be read (an
    I/O error) is one not to trust.
    """
    with gc_paused(), contextlib.suppress(OSError):
        return _load(path, data_dir)
    return None


def _load(path: Path, data_dir: Path) -> Saved | None:
    try:
        handle = open_regular(path)
    except OSError:
        return None
    with contextlib.ExitStack() as closing:
        closing.callback(handle.close)
        if handle.read(len(CATALOG_MAGIC)) != CATALOG_MAGIC:
            return None
        head = _read_segment(handle)
        if head is None:
            return None
        rest = _Rest(handle, handle.tell())
        if not rest.skip():
            return None
        try:
            payload = marshal.loads(head)
            if type(payload) is not tuple or payload[:2] != (CATALOG_FORMAT, "head"):
                return None
            _, _, import_rows, digest_rows, ids = payload
            imports = [ImportRecord(*r) for r in import_rows]
            digests = [Digest(*d) for d in digest_rows]
            if type(ids) is not list:
                return None
        except _UNREADABLE:
            return None
        base = (tuple(imports), tuple(digests), ids)
        end = handle.tell()
        deltas = 0
        ops: list[Op] = []  # the deltas' operations, in order
        added: list[str] = []
        delta_bytes = 0
        while (body := _read_segment(handle)) is not None:
            try:
                payload = marshal.loads(body)
                if type(payload) is not tuple or payload[:2] != (CATALOG_FORMAT, "delta"):
                    break
                # A delta is one import, used whole or not at all.
                imported, listed = list(imports), list(digests)
                new = listing(payload[2], imported, listed, len(ids) + len(added))
            except _UNREADABLE:
                break  # an unreadable delta: what came before stands
            imports, digests = imported, listed
            added += new
            deltas += 1
            ops += payload[2]
            delta_bytes += len(body)
            end = handle.tell()
        closing.pop_all()  # the rest reads it, then closes it
    records = tuple(imports)
    catalog = Catalog.deferred(
        data_dir,
        records,
        tuple(digests),
        ids + added if added else ids,
        partial(_whole, data_dir, path, rest, base, ops, records),
    )
    return Saved(catalog, end, deltas, delta_bytes, len(head) + rest.length)


def _read_segment(handle: BinaryIO) -> bytes | None:
    """The payload of the segment at the handle's position, if whole and intact."""
    header = handle.read(_SEGMENT.size)
    if len(header) != _SEGMENT.size:
        return None
    length, checksum = _SEGMENT.unpack(header)
    body = handle.read(length)
    return body if len(body) == length and _checksum(body) == checksum else None


class _Rest:
    """Where a base's rest of the columns is in an open catalog file, read (and checked)
    only when first used: an open reads 1.5 of 18 MB at 100k papers (~15 ms less). The
    file stays open till then, so it is this file's rest even once another process has
    replaced it (an append never truncates a base)."""

    def __init__(self, handle: BinaryIO, offset: int) -> None:
        self.handle: BinaryIO | None = handle
        self.offset = offset
        self.length = self.checksum = 0

    def skip(self) -> bool:
        """Step the handle over the rest; False if the file ends within it."""
        assert self.handle is not None
        header = self.handle.read(_SEGMENT.size)
        if len(header) != _SEGMENT.size:
            return False
        self.length, self.checksum = _SEGMENT.unpack(header)
        end = self.offset + _SEGMENT.size + self.length
        if os.fstat(self.handle.fileno()).st_size < end:
            return False
        self.handle.seek(end)
        return True

    def read(self) -> bytes:
        """The payload (ValueError if it is not what the file held when opened)."""
        handle, self.handle = self.handle, None
        if handle is None:
            raise ValueError("read already")
        with handle:
            body = os.pread(handle.fileno(), self.length, self.offset + _SEGMENT.size)
        if len(body) != self.length or _checksum(body) != self.checksum:
            raise ValueError("the base's rest is damaged")
        return body

    def __del__(self) -> None:
        if self.handle is not None:
            self.handle.close()


#: What a segment this release cannot read raises while it is decoded or replayed.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, EOFError, AttributeError)


def _whole(
    data_dir: Path,
    path: Path,
    rest: _Rest,
    base: tuple[tuple[ImportRecord, ...], tuple[Digest, ...], list[str]],
    ops: list[Op],
    records: tuple[ImportRecord, ...],
) -> Catalog:
    """The whole catalog a file's head was opened from (its imports: ``records``): its
    base's other columns, then its deltas' ``ops`` replayed. Should they not make one
    (damaged since it was opened, or a file another program wrote), the digest files do,
    saved over the file (best effort, as it is derived: a writer racing with this only
    leaves a file the next open does not trust)."""
    imports, digests, ids = base
    try:
        with gc_paused():
            catalog = _from_base(data_dir, imports, digests, ids, marshal.loads(rest.read()))
        return replayed_onto(catalog, ops, {}) if ops else catalog
    except (*_UNREADABLE, OSError):
        with gc_paused():
            catalog = replayed(data_dir, None, records).freeze()
        with contextlib.suppress(StorageError):
            save(path, catalog)
        return catalog


def _from_base(
    data_dir: Path,
    imports: tuple[ImportRecord, ...],
    digests: tuple[Digest, ...],
    ids: list[str],
    rest: tuple[Any, ...],
) -> Catalog:
    if type(rest) is not tuple or rest[:2] != (CATALOG_FORMAT, "rest"):
        raise ValueError("the second segment is not the base's rest")
    _, _, packed_titles, link_texts, link_bounds, packed_meta, seen_in, seen_bounds, *others = rest
    files, entries, postings, order, seen_counts = others
    numbers = array("i")
    numbers.frombytes(seen_in)
    titles = Strings.load(packed_titles)
    meta = Records.load(packed_meta)
    links = Groups.load(Strings.load(link_texts), link_bounds)
    sightings = Groups.load(numbers, seen_bounds)
    homes = (array(SLOT_CODE), array(SLOT_CODE))
    homes[0].frombytes(files)
    homes[1].frombytes(entries)
    ordered = array(SLOT_CODE)
    ordered.frombytes(order)
    if not len(ids) == len(titles) == len(links) == len(meta) == len(sightings) == len(ordered):
        raise ValueError("columns of different lengths")
    return Catalog(
        data_dir,
        imports,
        digests,
        ids,
        titles,
        links,
        meta,
        sightings,
        homes,
        postings,
        ordered,
        seen_counts,
    )


def check(catalog: Catalog) -> str | None:
    """What is wrong with a catalog read from its file that opening it does not check (every
    item of its packed columns: see :class:`~readinglist.columns.DamagedColumn`); None if
    nothing. What ``doctor`` reports."""
    try:
        for column in (catalog.titles, catalog.links, catalog.meta, catalog.sightings):
            columns.check(column)
    except StorageError as error:
        return str(error)
    listed = len(catalog.digests)
    for number, slot in columns.memberships(catalog.sightings):
        if not 0 <= number < listed:
            return str(catalog.unlisted_digest(slot))
    return None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
