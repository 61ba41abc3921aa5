"""Helpers shared by the reliability and doctor tests: real libraries, damage, fault injection."""

from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import struct
import zlib
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from readinglist import journal
from readinglist.catalogfile import CATALOG_MAGIC
from readinglist.columns import Groups, Records, Strings
from readinglist.config import ENV_CONFIG_DIR
from readinglist.device import DEVICE_FILE, Device, this_device
from readinglist.journal import Entry, Merger, Op
from readinglist.library import Library
from readinglist.model import now
from readinglist.storage import (
    CATALOG_FILE,
    DIGESTS_DIR,
    IMPORTS_FILE,
    JOURNALS_DIR,
    MERGED_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    journal_path,
    read_journal,
    schema_doc,
)

#: A note that must survive everything.
NOTE = "Key idea: *weight matching*.\n\nRe-read §3 before the reading group ✓"

#: The device of libraries made outside any test's config dir (a template made once per
#: module, before the test's ``READINGLIST_CONFIG_DIR`` is set): never the real home's.
#: A test working on a copy acts as it (:func:`copy_library`).
TEMPLATE_DEVICE = Device("7e57ed0000000001", "fixture device")


def current_device() -> Device:
    """This test's device (its config dir), or :data:`TEMPLATE_DEVICE` outside a test (so
    that no identity is ever created in the real config dir)."""
    return this_device() if os.environ.get(ENV_CONFIG_DIR) else TEMPLATE_DEVICE


def make_library(data_dir: Path, digest_paths: list[Path]) -> Library:
    """A library whose journal was saved several times, so it has a ``.bak``; state.json,
    the layout marker, is written once, with the first change (it has no ``.bak``). Its
    catalog.bin holds a base (the first import) and one appended delta (the second)."""
    library = Library(data_dir, device=current_device())
    assert library.import_files(digest_paths[:4]).ok
    assert library.import_files(digest_paths[4:]).ok
    first, second = library.ordered()[:2]
    library.mark([first])
    library.set_note(second, NOTE)
    return library


def act_as(device: Device) -> None:
    """Make ``device`` this test's identity (``$READINGLIST_CONFIG_DIR/device.json``), so
    that every Library and CLI command of the test writes its journal."""
    folder = os.environ.get(ENV_CONFIG_DIR)
    assert folder, "only inside a test, whose config dir is its own"
    Path(folder).mkdir(parents=True, exist_ok=True)
    payload = orjson.dumps({"id": device.id, "name": device.name})
    (Path(folder) / DEVICE_FILE).write_bytes(payload)


def copy_library(template: Path, target: Path) -> Path:
    """A copy of the library ``template`` at ``target``; the test acts as the device that
    made it (whose journal is the one every change writes)."""
    shutil.copytree(template, target)
    owners = {read_journal(path)[:2] for path in journal_files(target)}
    if len(owners) == 1:
        act_as(Device(*next(iter(owners))))
    return target


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative name → bytes), to prove nothing changed;
    but the saved merge of the journals (``journals.cache``), a shortcut any open may
    rewrite for the journals it found, never an answer (and ignored unless it matches)."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MERGED_FILE
    }


def user_files(directory: Path) -> dict[str, bytes]:
    """:func:`snapshot` but catalog.bin, derived: a command that read it whole saves it
    folded (its imports in its base), and a damaged one is rebuilt."""
    return {name: data for name, data in snapshot(directory).items() if name != CATALOG_FILE}


def identities(paths: list[Path]) -> dict[str, tuple[int, int, bytes]]:
    """(inode, mtime, bytes) of each file: equal only if it was neither rewritten nor replaced."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in paths}


def damaged_versions(good: bytes) -> dict[str, bytes]:
    """Ways a library file (of any kind: a journal, state.json) gets damaged, derived from
    a real good file."""
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


#: This device's journal (``journals/<device id>.json``), named before the device is known.
JOURNAL = "journal"
#: The library's small, rewritten files: this device's journal (every change writes it) and
#: state.json (the layout marker): every command refuses either one damaged.
LIBRARY_NAMES = (JOURNAL, STATE_FILE)


def journal_file(data_dir: Path, device: Device | None = None) -> Path:
    """This test's device's journal in ``data_dir`` (or ``device``'s)."""
    return journal_path(data_dir, (device or current_device()).id)


def library_file(data_dir: Path, name: str) -> Path:
    """The file one of :data:`LIBRARY_NAMES` names."""
    return journal_file(data_dir) if name == JOURNAL else data_dir / name


def journal_files(data_dir: Path) -> list[Path]:
    """Every journal in the folder (this device's and other devices')."""
    return sorted((data_dir / JOURNALS_DIR).glob("*.json"))


def merged(data_dir: Path) -> Merger:
    """The merge of every journal in the folder, read independently of a Library."""
    merger = Merger(current_device().id)
    for path in journal_files(data_dir):
        merger.add(read_journal(path)[2])
    return merger


def digest_files(data_dir: Path) -> list[Path]:
    """The library's digest files (``digests/<hash>.json``), by name."""
    return sorted((data_dir / DIGESTS_DIR).glob("*.json"))


def imported_digest_files(data_dir: Path) -> list[Path]:
    """The digest files the journals' imports name, in import order."""
    return [data_dir / DIGESTS_DIR / f"{i.hash}.json" for i in merged(data_dir).imports()]


def edit_journals(data_dir: Path, edit: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrite each journal file ``edit`` (given its whole data) says it changed, as another
    program would (in place, no lock, no backup)."""
    for path in journal_files(data_dir):
        data = orjson.loads(path.read_bytes())
        if edit(data):
            path.write_bytes(orjson.dumps(data))


def rename_to_hash(path: Path, payload: bytes) -> Path:
    """Put ``payload`` in a digest file named by its hash (as an import would), in place of
    ``path``, and make the journal's import name the new file instead: a digest file whose
    content is what it says it is, so only its documents can be wrong."""
    data_dir = path.parent.parent
    name = hashlib.blake2b(payload, digest_size=16).hexdigest()
    new = path.with_name(f"{name}.json")
    new.write_bytes(payload)
    path.unlink()

    def rename(data: dict[str, Any]) -> bool:
        records = [e["import"] for e in data.get("changes", {}).values() if "import" in e]
        for record in records:
            if record["hash"] == path.stem:
                record["hash"] = name
        return any(record["hash"] == name for record in records)

    edit_journals(data_dir, rename)
    (data_dir / CATALOG_FILE).unlink(missing_ok=True)  # so that opening reads every file
    return new


def write_entry(
    data_dir: Path,
    kind: str,
    label: str,
    ops: Iterable[Op] = (),
    record: dict[str, Any] | None = None,
) -> Entry:
    """Add one entry, after every other, straight into this device's journal, as another
    program could have (no lock, no checks); return it."""
    path = journal_file(data_dir)
    data = orjson.loads(path.read_bytes())
    device = data["device"]["device"]["id"]
    latest = max(tuple(map(int, key.split("."))) for key in data["changes"])
    entry = Entry((latest[0] + 1, 0, device), now(), kind, label, tuple(ops), None, record)
    data["changes"][entry.key] = journal.encode_entry(entry)
    path.write_bytes(orjson.dumps(data))
    return entry


def single_device_layout(data_dir: Path, state: dict[str, Any] | None = None) -> None:
    """Turn a library into the single-device layout an earlier release wrote: its imports
    back in ``imports.json``, ``state`` (default: none) as ``state.json``, no journals.
    The next open moves them into this device's journal."""
    records = {
        i.hash: {
            "digest": i.digest,
            "name": i.name,
            "date": i.date,
            "seq": seq,
            "imported_at": i.at,
        }
        for seq, i in enumerate(merged(data_dir).imports(), start=1)
    }
    imports = {"meta": {"schema": schema_doc("imports")}, "imports": records}
    (data_dir / IMPORTS_FILE).write_bytes(orjson.dumps(imports))
    shutil.rmtree(data_dir / JOURNALS_DIR)
    for name in (STATE_FILE, f"{STATE_FILE}.bak"):
        (data_dir / name).unlink(missing_ok=True)
    if state is not None:
        (data_dir / STATE_FILE).write_bytes(orjson.dumps(state))


# ---------------------------------------------------------------------------- catalog.bin

#: A catalog segment's header, read independently of readinglist.catalog: the payload's
#: length, then the CRC-32 of the payload.
SEGMENT = struct.Struct("<II")


def segments(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each segment of a good catalog.bin."""
    found, position = [], len(CATALOG_MAGIC)
    assert raw.startswith(CATALOG_MAGIC)
    while position < len(raw):
        length, checksum = SEGMENT.unpack_from(raw, position)
        end = position + SEGMENT.size + length
        assert zlib.crc32(raw[position + SEGMENT.size : end]) == checksum
        found.append((position, end))
        position = end
    assert position == len(raw)
    return found


def sealed(payload: Any) -> bytes:
    """A segment holding ``payload``, with a right checksum."""
    body = marshal.dumps(payload)
    return SEGMENT.pack(len(body), zlib.crc32(body)) + body


def damaged_catalogs(good: bytes) -> dict[str, bytes | None]:
    """Ways catalog.bin gets damaged or outdated (None: the file is missing), from a real
    good file holding a base (its head and the rest of its columns) and at least one delta."""
    parts = segments(good)
    assert len(parts) >= 3, "the template's catalog should hold a base and a delta"
    (head_start, head_end), (rest_start, rest_end) = parts[0], parts[1]
    last_start, last_end = parts[-1]

    def flipped(i: int) -> bytes:
        return good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1 :]

    def middle(start: int, end: int) -> int:
        return (start + SEGMENT.size + end) // 2

    head = marshal.loads(good[head_start + SEGMENT.size : head_end])
    rest = marshal.loads(good[rest_start + SEGMENT.size : rest_end])
    other_python = (head[0][0], (3, 0))
    titles = Strings.load(rest[2])
    links = Groups.load(Strings.load(rest[3]), rest[4])
    metas = Records.load(rest[5])
    sightings = Groups.load(array("i", rest[6]), rest[7])
    damaged: dict[str, bytes | None] = {
        "missing": None,
        "0 bytes": b"",
        "garbage": b"garbage",
        "magic only": CATALOG_MAGIC,
        "truncated in half": good[: len(good) // 2],
        "truncated in the base": good[: head_start + SEGMENT.size + 10],
        "the base's head only": good[:head_end],
        "torn last segment": good[: (last_start + last_end) // 2],
        "last segment's header only": good[: last_start + SEGMENT.size],
        "last segment missing": good[:last_start],
        "trailing bytes": good + b"\0\0\0",
        "flipped byte in the magic": flipped(0),
        "flipped byte in a length": flipped(head_start),
        "flipped byte in a checksum": flipped(head_start + 4),
        "flipped byte in the base's head": flipped(middle(head_start, head_end)),
        "flipped byte in the base's rest": flipped(middle(rest_start, rest_end)),
        "flipped byte in the last delta": flipped(middle(last_start, last_end)),
        "flipped last byte": flipped(len(good) - 1),
        "another format (another Python)": CATALOG_MAGIC
        + sealed((other_python, *head[1:]))
        + good[head_end:],
        "a head of the wrong shape": CATALOG_MAGIC + sealed(head[:4]) + good[head_end:],
        "a rest of the wrong shape": good[:rest_start] + sealed(rest[:5]) + good[rest_end:],
        "a rest with columns of different lengths": good[:rest_start]
        + sealed((*rest[:2], Strings.of(list(titles)[:-1]).dump(), *rest[3:]))
        + good[rest_end:],
        "a rest whose packed titles do not fit their offsets": good[:rest_start]
        + sealed((*rest[:2], (rest[2][0][:-1], rest[2][1]), *rest[3:]))
        + good[rest_end:],
        "a rest with another format": good[:rest_start]
        + sealed((other_python, *rest[1:]))
        + good[rest_end:],
        "an earlier release's file (catalog 3, columns not packed)": b"readinglist catalog 3\n"
        + good[head_start:rest_start]
        + sealed((*rest[:2], list(titles), list(links), list(metas), list(sightings), *rest[8:]))
        + good[rest_end:],
        "a delta first": CATALOG_MAGIC + good[last_start:last_end],
        "a list, not a tuple": CATALOG_MAGIC + sealed(list(head)) + good[head_end:],
        "a delta of an unknown operation": good[:last_start] + sealed((head[0], "delta", [("?",)])),
        "a delta seeing a paper it does not hold": good[:last_start]
        + sealed((head[0], "delta", [("sight", len(head[4]) + 5, 0)])),
    }
    assert tuple(damaged) == CATALOG_DAMAGE
    return damaged


#: The names of :func:`damaged_catalogs`, to parametrize tests before any file exists.
CATALOG_DAMAGE = (
    "missing",
    "0 bytes",
    "garbage",
    "magic only",
    "truncated in half",
    "truncated in the base",
    "the base's head only",
    "torn last segment",
    "last segment's header only",
    "last segment missing",
    "trailing bytes",
    "flipped byte in the magic",
    "flipped byte in a length",
    "flipped byte in a checksum",
    "flipped byte in the base's head",
    "flipped byte in the base's rest",
    "flipped byte in the last delta",
    "flipped last byte",
    "another format (another Python)",
    "a head of the wrong shape",
    "a rest of the wrong shape",
    "a rest with columns of different lengths",
    "a rest whose packed titles do not fit their offsets",
    "a rest with another format",
    "an earlier release's file (catalog 3, columns not packed)",
    "a delta first",
    "a list, not a tuple",
    "a delta of an unknown operation",
    "a delta seeing a paper it does not hold",
)


class FaultyOS:
    """The ``os`` module as seen by readinglist.storage, with some functions failing.

    From its ``nth`` call on, each function in ``names`` raises ``OSError(code)``, like a
    disk that filled up or started failing mid-save. Everything else is the real ``os``.
    With ``only``, just the calls whose arguments it accepts count and fail (say, renames
    onto one file), the others are real.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        code: int,
        nth: int = 1,
        only: Callable[..., bool] | None = None,
    ) -> None:
        for name in names:
            setattr(self, name, self._failing(getattr(os, name), code, nth, only))

    @staticmethod
    def _failing(
        real: Callable[..., Any], code: int, nth: int, only: Callable[..., bool] | None
    ) -> Callable[..., Any]:
        calls = 0

        def faulty(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            if only is not None and not only(*args, **kwargs):
                return real(*args, **kwargs)
            calls += 1
            if calls >= nth:
                raise OSError(code, os.strerror(code))
            return real(*args, **kwargs)

        return faulty

    def __getattr__(self, attr: str) -> Any:
        return getattr(os, attr)
