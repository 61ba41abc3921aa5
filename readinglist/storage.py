"""Durable TinyDB storage: atomic writes, a lock between processes, corruption checks.

A library folder holds, each file with one purpose:

* ``digests/*.json``: each imported digest's content, created once, never rewritten
  (:mod:`readinglist.contents`);
* ``imports.json``: which digest files were imported, when, in which order (small);
* ``state.json``: the reader's small, often written state (status, tags, notes, history);
* ``catalog.bin``: derived from the digest files, for fast opening (:mod:`readinglist.catalog`).

The two small files are TinyDB databases stored here.
Each file is written whole to a temp file, fsynced, and renamed over the old one (after
hard-linking the old one to ``.bak``), then the directory is fsynced: a crash leaves the
old or the new file, never a torn one. Data stays in memory between writes.

Writers take an exclusive ``flock`` on ``lock`` and re-read any file another process
replaced since we loaded it (see :meth:`Store.transaction`), so two instances never
silently lose each other's changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import marshal
import os
import shutil
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from readinglist import journal, migrate, validate
from readinglist.device import Device
from readinglist.errors import LibraryCorrupt, StorageError
from readinglist.journal import Entry
from readinglist.lock import Lock

#: The schema version each kind of file is saved with; a readinglist that knows an older one
#: refuses a newer file (:class:`NewerSchema`) instead of misreading it. Older versions load.
#: state.json 2: undo steps hold field changes; 3: a status instead of read/unread; 4: the
#: library's papers live in digest files (``contents``) and ``imports.json``, not in
#: ``papers.json`` (its version stays 1: only the layout upgrade reads it now).
#: state.json 5: the reading state and the imports live in per-device journals
#: (``journals/``); state.json only marks the layout (older releases refuse it).
SCHEMA_VERSION: dict[str, int] = {
    "papers": 1, "state": 5, "imports": 1, "digest": 1, "journal": 1
}  # fmt: skip
PAPERS_FILE = "papers.json"
STATE_FILE = "state.json"
IMPORTS_FILE = "imports.json"
LOCK_FILE = "lock"
#: The library's small, rewritten files and the kind of data each holds.
LIBRARY_FILES = ((IMPORTS_FILE, "imports"), (STATE_FILE, "state"))
#: The derived catalog (see :mod:`readinglist.catalog`): rebuilt from the digest files
#: whenever it is missing or damaged, never user data.
CATALOG_FILE = "catalog.bin"
#: The folder of digest files (``readinglist.contents``).
DIGESTS_DIR = "digests"
#: The folder of per-device journals (``readinglist.journal``).
JOURNALS_DIR = "journals"
#: Most bytes a journal file may have (another device's is input like any other).
MAX_JOURNAL_BYTES = 256 * 1024 * 1024
#: What sync engines need not carry (derived, per process, or per device), written once
#: as ``.stignore`` (Syncthing) and ``.gitignore`` (git) in a new library folder.
IGNORED = ("catalog.bin", "journals.cache", "lock", "*.tmp", "*.bak", "*.corrupt-*")
#: The merge of the journals as this device last made it (derived: see :func:`load_merged`).
MERGED_FILE = "journals.cache"
_MERGED_MAGIC = b"readinglist merged 3\n"
#: The title index of the layout before digest files; removed by the upgrade.
INDEX_FILE = "index.cache"

#: errno values of file systems without hard links; the backup is copied there instead.
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}

Data = dict[str, dict[str, Any]]
Signature = tuple[int, int, int] | None


class NewerSchema(LibraryCorrupt):
    """A file written by a newer readinglist: the fix is upgrading, not restoring a backup.

    Restoring the older ``.bak`` over it would throw away what the newer version saved,
    so unlike :class:`LibraryCorrupt` the message warns against it.
    """

    def __init__(self, path: Path, version: int, supported: int) -> None:
        self.path = path
        self.problem = (
            f"schema version {version} is newer than this readinglist understands "
            f"({supported}); upgrade readinglist"
        )
        StorageError.__init__(
            self,
            f"{path}: {self.problem} to open it; the file was left untouched "
            f"(do not restore {backup_path(path).name} over it: that older copy lacks what the "
            "newer version saved)",
        )


class StrIdTable(Table):
    """Documents keyed by our own string ids (paper ids, digest hashes)."""

    document_id_class = str  # type: ignore[assignment]  # TinyDB's stubs say ids are ints


def ids(keys: Iterable[str]) -> list[int]:
    """Our text ids where TinyDB's type stubs want ints (its tables here are StrIdTable)."""
    return cast("list[int]", list(keys))


def document(doc: Mapping[str, Any], key: str) -> Document:
    """A document stored under our own text id (see :func:`ids`)."""
    return Document(doc, doc_id=key)  # type: ignore[arg-type]


class LibraryDB(TinyDB):
    table_class = StrIdTable


def file_signature(path: Path) -> Signature:
    """(inode, mtime, size) of ``path``: changes whenever the file is replaced or grows.
    None when it cannot be looked at (missing, a symlink loop, a file where its folder
    should be): reading it then says what is wrong."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path`` (at most ``limit`` + 1), refusing what is not a regular file
    (:func:`open_regular`). Raises ``OSError`` as ``open`` does."""
    with open_regular(path) as handle:
        return handle.read() if limit is None else handle.read(limit + 1)


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened to read, refusing what is not a regular file: a FIFO named like a
    library file (a sync engine, a user) would block every command, even doctor, forever.
    Raises ``OSError`` as ``open`` does."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    handle = open(fd, "rb")  # noqa: SIM115 (the caller closes it)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        handle.close()
        raise
    return handle


def backup_path(path: Path) -> Path:
    """Where the previous good version of ``path`` is kept."""
    return path.with_name(path.name + ".bak")


def temp_files(path: Path) -> list[Path]:
    """Temp files a killed writer may have left beside ``path`` (or beside its ``.bak``)."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def leftover_temp_files(data_dir: Path) -> list[Path]:
    """Temp files of unfinished saves: of either library file or of the catalog, and of
    digest files whose writer is no longer running."""
    names = [name for name, _ in LIBRARY_FILES] + [CATALOG_FILE, MERGED_FILE]
    saves = [tmp for name in names for tmp in temp_files(data_dir / name)]
    saves += sorted((data_dir / JOURNALS_DIR).glob(".*.json.*.tmp"))
    # Digest files are written outside the lock: a temp file there may be a running
    # import's, and only its pid (``.<name>.<pid>.tmp``) tells.
    digests = sorted((data_dir / DIGESTS_DIR).glob(".*.tmp"))
    return saves + [tmp for tmp in digests if not _writer_running(tmp)]


def _writer_running(tmp: Path) -> bool:
    try:
        pid = int(tmp.name.split(".")[-2])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not a pid we can ask about: leave it
    return True


def remove_temp_files(data_dir: Path, lock: Lock) -> list[Path] | None:
    """Remove leftovers of dead writers if the lock is free now; None (nothing done) if not.

    Library files (and the catalog) are only saved under the lock, so while we hold it
    their temp files are leftovers; while another writer holds it they may be its own, and
    nobody should wait for it just to tidy up.
    """
    if not leftover_temp_files(data_dir):
        return []
    removed = []
    with lock.attempt() as free:
        if not free:
            return None
        for tmp in leftover_temp_files(data_dir):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def atomic_write(path: Path, payload: bytes, *, backup: bool = True, sync: bool = True) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves the old or the new file.

    On failure no temp file is left behind, and the message says whether the new
    content is in place: only a failed directory fsync after the rename means "saved".
    ``sync=False`` leaves the fsyncs to the caller (many files synced once at the end).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    bak_tmp = path.with_name(f".{backup_path(path).name}.{os.getpid()}.tmp")
    replaced = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if backup and path.exists():
            with contextlib.suppress(FileNotFoundError):
                bak_tmp.unlink()
            try:
                os.link(path, bak_tmp)
            except OSError as error:
                if error.errno not in _NO_HARD_LINKS:
                    raise
                shutil.copyfile(path, bak_tmp)  # FAT, exFAT, some FUSE mounts
            os.replace(bak_tmp, backup_path(path))
        os.replace(tmp, path)
        replaced = True
        if sync:
            fsync_path(path.parent)
    except OSError as error:
        for leftover in (tmp, bak_tmp):
            with contextlib.suppress(OSError):
                leftover.unlink()
        reason = error.strerror or str(error)
        if replaced:
            raise StorageError(
                f"{path}: saved, but the folder could not be synced to disk ({reason}); "
                "the change may be lost if the computer loses power"
            ) from None
        raise StorageError(f"{path}: could not save ({reason}); the library is unchanged") from None


def fsync_path(path: Path) -> None:
    """Make a file's bytes, or a folder's entries, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def schema_doc(kind: str) -> dict[str, Any]:
    """The ``meta/schema`` document a file of ``kind`` is saved with."""
    return {"version": SCHEMA_VERSION[kind], "kind": kind}


def empty_data(kind: str) -> Data:
    return {"meta": {"schema": schema_doc(kind)}}


def check_data_dir(data_dir: Path) -> bool:
    """Whether the library folder exists; :class:`StorageError` if it cannot be one.

    Checked before anything is read, so that a folder below a file, or one we may not read,
    is one clear line for every command and for ``doctor`` (which calls this too), rather
    than a traceback, or an empty library that the first save then fails to create.
    """
    try:
        info = data_dir.stat()
    except FileNotFoundError:
        return False  # created by the first save
    except NotADirectoryError:
        above = next((p for p in data_dir.parents if p.is_file()), data_dir.parent)
        raise StorageError(
            f"{data_dir}: cannot be the library folder, {above} is a file; "
            "use another folder (--data-dir) or move that file"
        ) from None
    except OSError as error:
        raise StorageError(_unreadable_dir(data_dir, error)) from None
    if not stat.S_ISDIR(info.st_mode):
        raise StorageError(f"{data_dir}: is a file, expected the library folder")
    try:
        os.listdir(data_dir)  # needs read permission (doctor lists leftovers)
        (data_dir / STATE_FILE).stat()  # needs search permission (every file in it)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise StorageError(_unreadable_dir(data_dir, error)) from None
    return True


def _unreadable_dir(data_dir: Path, error: OSError) -> str:
    return (
        f"{data_dir}: cannot read the library folder ({error.strerror or error}); "
        "check its permissions or use another folder (--data-dir)"
    )


def load_file(path: Path, kind: str) -> Data:
    """Read and validate one library file; a missing file is an empty library.

    Anything we would not have written, down to one field of one document (see
    :mod:`readinglist.validate`), raises :class:`LibraryCorrupt` so that the caller never
    mistakes a damaged file for an empty one (and never overwrites it), and never meets a
    document of the wrong shape later, as a traceback. A file of an earlier schema comes
    back upgraded (:mod:`readinglist.migrate`), in memory.
    """
    return load_versioned(path, kind)[0]


def load_versioned(path: Path, kind: str, *, check: bool = True) -> tuple[Data, int]:
    """:func:`load_file`, and the schema version the file has on disk (``check=False``: the
    caller checks the documents itself)."""
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        return empty_data(kind), SCHEMA_VERSION[kind]
    except IsADirectoryError:
        raise StorageError(f"{path}: is a directory, expected a library file") from None
    except OSError as error:
        raise StorageError(f"{path}: cannot read ({error.strerror or error})") from None
    data = check_schema(path, raw, kind)
    version: int = data["meta"]["schema"]["version"]
    if version < SCHEMA_VERSION[kind]:
        try:
            data = migrate.upgrade(data, kind, version)
        except migrate.MigrationError as error:
            raise LibraryCorrupt(path, str(error)) from None
    if not check:
        return data, version
    problem = journal.problem(data) if kind == "journal" else validate.problem(data, kind)
    if problem:
        raise LibraryCorrupt(path, problem)
    return data, version


def check_schema(path: Path, raw: bytes, kind: str) -> Data:
    """``raw`` (the bytes of ``path``) as a JSON library file of ``kind`` at a schema version
    this release reads; :class:`LibraryCorrupt` (or :class:`NewerSchema`) otherwise."""
    if not raw.strip():
        raise LibraryCorrupt(path, f"file is empty ({len(raw)} bytes), probably truncated")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise LibraryCorrupt(path, f"not valid JSON ({error.msg} at byte {error.pos})") from None
    if not isinstance(data, dict):
        found = "null" if data is None else type(data).__name__
        raise LibraryCorrupt(path, f"top level is {found}, expected a JSON object")
    schema = data.get("meta", {}).get("schema") if isinstance(data.get("meta"), dict) else None
    if not isinstance(schema, dict) or type(schema.get("version")) is not int:
        raise LibraryCorrupt(path, "no schema version; not a readinglist library file")
    # The kind first: versions differ per kind, so state.json copied over papers.json
    # would otherwise read as "newer".
    if schema.get("kind") != kind:
        raise LibraryCorrupt(path, f"holds {schema.get('kind')!r} data, expected {kind!r}")
    if schema["version"] > SCHEMA_VERSION[kind]:
        raise NewerSchema(path, schema["version"], SCHEMA_VERSION[kind])
    if schema["version"] < 1:
        raise LibraryCorrupt(path, f"unknown schema version {schema['version']}")
    return cast("Data", data)


class AtomicJSONStorage(Storage):
    """TinyDB storage that keeps data in memory and replaces the file atomically.

    While ``hold`` is set (inside a transaction) writes only mark the data dirty, so a
    transaction of many TinyDB operations costs one file write.
    """

    def __init__(self, path: str, kind: str) -> None:
        self.path = Path(path)
        self.kind = kind
        self.hold = False
        self.dirty = False
        self._data: Data | None = None
        self._signature: Signature = None
        self.upgraded_from: int | None = None

    def read(self) -> Data:
        if self._data is None:
            self.reload()
        assert self._data is not None
        return self._data

    def write(self, data: Data) -> None:
        self._data = data
        self._written()

    def _written(self) -> None:
        """Save what is held now, or when the transaction holding writes ends (``hold``)."""
        if self.hold:
            self.dirty = True
        else:
            self.flush()

    def reload(self) -> None:
        signature = file_signature(self.path)
        self._data, version = load_versioned(self.path, self.kind)
        #: The older schema the file has on disk (upgraded in memory), else None.
        self.upgraded_from = version if version < SCHEMA_VERSION[self.kind] else None
        self._signature = signature

    @property
    def signature(self) -> Signature:
        """Identity of the file version we hold (inode, mtime, size), None if no file."""
        return self._signature

    def changed_on_disk(self) -> bool:
        """True when another process replaced the file since we read or wrote it."""
        return self._data is None or file_signature(self.path) != self._signature

    def flush(self) -> None:
        self.dirty = False
        if self._data is None:
            return
        # An older schema's file is saved as the current one: what we add may need it.
        self._data.setdefault("meta", {})["schema"] = schema_doc(self.kind)
        if "changes" in self._data:  # last: see JournalStorage.add
            self._data["changes"] = self._data.pop("changes")
        self._save(orjson.dumps(self._data))

    def _save(self, payload: bytes) -> None:
        """Replace the file with ``payload``; if it cannot be saved, what we hold is
        dropped (it was never saved: the disk is read again next time)."""
        try:
            if self.kind == "journal" and len(payload) > MAX_JOURNAL_BYTES:
                # Other devices skip a journal this large: saving it would split the library.
                raise StorageError(
                    f"{self.path}: this change would make the journal larger than "
                    f"{MAX_JOURNAL_BYTES:,} bytes, which other devices do not read; nothing "
                    "was saved (long notes edited many times fill it)"
                )
            if self.upgraded_from is not None:
                self._keep_original()
            atomic_write(self.path, payload)
        except StorageError:
            self.forget()
            raise
        self._signature = file_signature(self.path)

    def _keep_original(self) -> None:
        """Before the first save of an upgraded file, copy the original aside for good (the
        ``.bak`` is replaced by the next save): ``state.json.schema2.bak``, numbered
        (``.2``, ``.3``) when that name holds other bytes, so that a file of an earlier
        release that reappears (a machine still running it, synced in) never replaces an
        earlier copy; bytes already kept are not copied twice (a save cut short, again)."""
        first = aside = self.path.with_name(f"{self.path.name}.schema{self.upgraded_from}.bak")
        if self.path.exists():
            original = _read_to_keep(self.path)
            number = 1
            while aside.exists():
                if _read_to_keep(aside) == original:
                    break
                number += 1
                aside = first.with_name(f"{first.name}.{number}")
            else:
                atomic_write(aside, original, backup=False)
        self.upgraded_from = None

    def forget(self) -> None:
        """Drop unsaved changes; the next read comes from disk."""
        self._data = None
        self.dirty = False

    def close(self) -> None:
        pass


def _read_to_keep(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise StorageError(f"{path}: cannot read it to keep a copy ({reason})") from None


@dataclass(frozen=True, slots=True)
class JournalSummary:
    """What a command that adds an entry needs to know of this device's journal, saved with
    the merge (``journals.cache``) for the file it was made from, so that such a command
    never parses the journal (10,000 changes: 3 MB, ~35 ms to parse, ~15 ms to save by
    TinyDB, of a ``mark`` whose target is 200 ms)."""

    signature: Signature
    #: How many entries it holds, and the newest one's key.
    count: int
    last: str | None
    #: Its ``device`` document, and whether the file is the bytes :meth:`JournalStorage.flush`
    #: writes (``changes`` last, at the current schema): entries can then be added to them.
    device: Any
    appendable: bool


class JournalStorage(AtomicJSONStorage):
    """This device's journal. Its documents are checked by decoding them, which is left
    until something needs the entries: an open whose merged state is cached (see
    :mod:`readinglist.journal`) needs none (decoding 10k changes: ~0.2 s of each ``mark``).

    Nor is the file parsed while :meth:`summary` (known from the merge saved for this very
    file) says what a change needs: the entries a change adds go into its bytes (:meth:`add`).
    """

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(path, kind)
        self._entries: list[Entry] | None = None
        #: The file's bytes, while they are not parsed (then ``_data`` is None).
        self._raw: bytes | None = None
        self._summary: JournalSummary | None = None

    def reload(self) -> None:
        signature = file_signature(self.path)
        data, _ = load_versioned(self.path, self.kind, check=False)
        self._data, self._signature, self._entries = data, signature, None
        self._raw = self._summary = None
        self.upgraded_from = None

    def read(self) -> Data:
        if self._data is None and self._raw is not None:
            data = check_schema(self.path, self._raw, self.kind)
            self._data, self._raw, self._summary = data, None, None
        return super().read()

    def write(self, data: Data) -> None:
        self._summary = None  # TinyDB changed the documents
        super().write(data)

    @property
    def signature(self) -> Signature:
        if self._data is None and self._raw is None:
            return file_signature(self.path)  # what reading it now would read
        return self._signature

    def use(self, summary: JournalSummary) -> bool:
        """Whether the file is the one ``summary`` (saved with the merge) describes; its
        bytes are then held unparsed, if not parsed yet. False if not (or unreadable)."""
        if self._data is not None or self._raw is not None:
            return not self.dirty and self._signature == summary.signature
        signature = file_signature(self.path)
        if signature != summary.signature:
            return False
        if not summary.appendable:
            # Read now: the version the merge was saved for, or not used (a change another
            # process saves after this would otherwise be read as part of it).
            self.reload()
            return self._signature == summary.signature
        try:
            raw = read_regular(self.path)
        except OSError:
            return False
        if file_signature(self.path) != signature or not raw.endswith(b"}}"):
            return False
        self._data, self._raw, self._entries = None, raw, None
        self._signature, self._summary = signature, summary
        self.upgraded_from = None
        return True

    def summary(self) -> JournalSummary:
        """The journal as a change needs to know it (parsing it, unless known)."""
        if self._summary is None:
            data = self.read()
            changes = data.get("changes", {})
            last = journal.newest_key(changes)
            version = data.get("meta", {}).get("schema", {}).get("version")
            appendable = (
                list(data)[-1:] == ["changes"]
                and version == SCHEMA_VERSION[self.kind]
                and self.upgraded_from is None
            )
            self._summary = JournalSummary(
                self._signature, len(changes), last, data.get("device"), appendable
            )
        return self._summary

    def add(self, docs: dict[str, Any], device: Any) -> bool:
        """Add documents (key → encoded entry) to the unparsed bytes, as TinyDB would to the
        parsed file; False (nothing done) unless the bytes are held unparsed, the device
        document is unchanged and every key is newer than the journal's newest."""
        summary, raw = self._summary, self._raw
        if raw is None or summary is None or summary.device != device:
            return False
        newest = journal.key_order(summary.last) if summary.last else (-1, -1)
        if not docs or any(journal.key_order(key) <= newest for key in docs):
            return False
        added = orjson.dumps(docs)[1:-1]  # "key":{...},"key":{...}
        self._raw = b"".join((memoryview(raw)[:-2], b"," if summary.count else b"", added, b"}}"))
        last = journal.newest_key(docs)
        self._summary = JournalSummary(None, summary.count + len(docs), last, device, True)
        self._written()
        return True

    def flush(self) -> None:
        if self._raw is None:
            super().flush()
            return
        self.dirty = False
        self._save(self._raw)
        if self._summary is not None:
            self._summary = dataclasses.replace(self._summary, signature=self._signature)

    def changed_on_disk(self) -> bool:
        if self._raw is not None:
            return file_signature(self.path) != self._signature
        return super().changed_on_disk()

    @property
    def entries(self) -> list[Entry]:
        """The entries, decoded (and so checked) on first use."""
        if self._entries is None:
            try:
                self._entries = journal.decode(self.read())[2]
            except journal.JournalError as error:
                raise LibraryCorrupt(self.path, str(error)) from None
        return self._entries

    def added(self, entries: list[Entry], *, replace: bool) -> None:
        """Keep the decoded entries in step with what was added to the documents."""
        if replace:
            self._entries = list(entries)
        elif self._entries is not None:
            self._entries = [*self._entries, *entries]

    def forget(self) -> None:
        super().forget()
        self._entries = self._raw = self._summary = None


class JournalFile:
    """Another journal file in the folder: whose it is and its entries, each read on first
    use (or known from a saved merge made from this very file, and then never read); or
    why it is skipped (a copy the sync engine has not finished, another program's file)."""

    __slots__ = ("_data", "_entries", "_header", "path", "signature")

    def __init__(
        self, path: Path, signature: Signature, known: tuple[str | None, str, str | None] | None
    ) -> None:
        self.path, self.signature = path, signature
        #: (device id or None if unreadable, device name, problem or None)
        self._header = known
        self._data: Data | None = None
        self._entries: tuple[Entry, ...] | None = None

    def header(self) -> tuple[str | None, str, str | None]:
        if self._header is None:
            try:
                self._data = read_journal_file(self.path)
                self._header = (*journal.device_of(self._data), None)
            except LibraryCorrupt as error:
                self._header = (None, "", error.problem)
            except StorageError as error:
                self._header = (None, "", str(error))
            except journal.JournalError as error:
                self._header = (None, "", str(error))
        return self._header

    @property
    def device(self) -> str | None:
        return self.header()[0]

    @property
    def name(self) -> str:
        return self.header()[1]

    @property
    def problem(self) -> str | None:
        return self.header()[2]

    @property
    def entries(self) -> tuple[Entry, ...]:
        """Its entries; a file whose documents are damaged becomes one with a problem."""
        if self._entries is None:
            if self.header()[0] is None:
                self._entries = ()
                return self._entries
            try:
                if self._data is None:
                    self._data = read_journal_file(self.path)
                self._entries = tuple(journal.decode(self._data)[2])
            except (StorageError, journal.JournalError) as error:
                problem = error.problem if isinstance(error, LibraryCorrupt) else str(error)
                self._header, self._entries = (None, "", problem), ()
            self._data = None
        return self._entries


def read_journal_file(path: Path) -> Data:
    """One journal file, parsed and of the right kind and schema (its documents are not
    checked: :func:`journal.decode` does that)."""
    try:
        raw = read_regular(path, MAX_JOURNAL_BYTES)
    except OSError as error:
        raise StorageError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(raw) > MAX_JOURNAL_BYTES:
        raise LibraryCorrupt(path, f"larger than {MAX_JOURNAL_BYTES:,} bytes; not a journal")
    return check_schema(path, raw, "journal")


def read_journal(path: Path) -> tuple[str, str, list[Entry]]:
    """(device id, device name, entries) of one journal file; :class:`LibraryCorrupt` or
    :class:`StorageError` say what is wrong."""
    data = read_journal_file(path)
    try:
        return journal.decode(data)
    except journal.JournalError as error:
        raise LibraryCorrupt(path, str(error)) from None


class Journals:
    """The journal files of other devices (and copies a sync engine made of any journal,
    this device's too), read-only: re-read when their listing or signatures change."""

    def __init__(self, folder: Path, own: str) -> None:
        self.folder = folder
        self.own = own
        self.files: dict[str, JournalFile] = {}

    def listing(self) -> dict[str, Signature]:
        try:
            names = [p for p in self.folder.glob("*.json") if p.name != self.own]
        except OSError:
            return {}
        return {p.name: file_signature(p) for p in names}

    def changed(self) -> bool:
        listing = self.listing()
        return listing.keys() != self.files.keys() or any(
            self.files[name].signature != signature for name, signature in listing.items()
        )

    def reload(self) -> None:
        """Note which files are new or changed (each is read only when needed)."""
        files = {}
        for name, signature in self.listing().items():
            file = self.files.get(name)
            if file is None or file.signature != signature:
                file = JournalFile(self.folder / name, signature, None)
            files[name] = file
        self.files = files

    def headers(self) -> dict[str, tuple[Signature, tuple[str | None, str, str | None]]]:
        """Whose each file is, by name and identity (what :meth:`prime` takes back)."""
        return {name: (file.signature, file.header()) for name, file in self.files.items()}

    def prime(self, known: Mapping[str, Any]) -> None:
        """Take whose each file is from :meth:`headers` saved earlier, for the files that
        are still what they were then: those need not be read to know it."""
        for name, file in self.files.items():
            saved = known.get(name)
            if file._header is None and saved is not None and saved[0] == file.signature:
                file._header = saved[1]

    def readable(self) -> list[JournalFile]:
        """The files whose entries could be read (decoding them now if need be)."""
        return [file for file in self.files.values() if file.device and file.entries]


class Store:
    """The library's files that are written (this device's journal, the layout marker
    state.json), the other devices' journals, and the lock that guards writing."""

    def __init__(self, data_dir: Path, device: Device) -> None:
        check_data_dir(data_dir)
        self.data_dir = data_dir
        self.device = device
        self.state_db = LibraryDB(
            str(data_dir / STATE_FILE), storage=AtomicJSONStorage, kind="state"
        )
        self.journal_db = LibraryDB(
            str(journal_path(data_dir, device.id)), storage=JournalStorage, kind="journal"
        )
        self.others = Journals(data_dir / JOURNALS_DIR, journal_path(data_dir, device.id).name)
        self.lock = Lock(data_dir / LOCK_FILE)
        # Validate now: a damaged library must stop us before anything else. (This device's
        # journal is read by the merge, unless the merge saved for this very file says
        # what a change needs to know of it: see JournalStorage.use.)
        self.state_storage.read()
        self.others.reload()
        self.save_upgrades()

    def save_upgrades(self) -> None:
        """Save files an earlier release wrote, upgraded (the original kept aside).

        Only when the lock is free right now (opening never waits): otherwise the upgrade
        lives in memory, and the next open, or the next change, saves it.
        """
        old = [s for s in self.storages() if s.upgraded_from is not None and s.path.exists()]
        if not old:
            return
        with self.lock.attempt() as free:
            # Only what was read and upgraded counts (this device's journal is read later).
            if free and not any(storage.changed_on_disk() for storage in old):
                for storage in old:
                    with contextlib.suppress(StorageError):  # a full disk: saved later
                        storage.flush()

    @property
    def state_storage(self) -> AtomicJSONStorage:
        return self.state_db.storage  # type: ignore[return-value]

    @property
    def journal_storage(self) -> JournalStorage:
        return self.journal_db.storage  # type: ignore[return-value]

    def storages(self) -> tuple[AtomicJSONStorage, AtomicJSONStorage]:
        return (self.state_storage, self.journal_storage)

    def stale(self) -> set[str]:
        """What another process or device replaced since we read it: "state" (the
        marker), "journals" (this device's or another's)."""
        found = {s.kind for s in self.storages() if s.changed_on_disk()}
        if "journal" in found or self.others.changed():
            found.discard("journal")
            found.add("journals")
        return found

    def reload(self, kinds: set[str]) -> None:
        if "state" in kinds:
            self.state_storage.reload()
        if "journals" in kinds:
            if self.journal_storage.changed_on_disk():
                self.journal_storage.reload()
            self.others.reload()
        for db in (self.state_db, self.journal_db):
            db.clear_cache()

    def merge_key(self) -> tuple[Any, ...]:
        """What the merge is made from: this device and the journal files as read."""
        others = sorted((name, file.signature) for name, file in self.others.files.items())
        return (self.device.id, self.journal_storage.signature, tuple(others))

    def own_entries(self) -> list[Entry]:
        """This device's journal, decoded (checked), with what was added since."""
        return list(self.journal_storage.entries)

    def append(self, entries: list[Entry], *, replace: bool = False) -> None:
        """Add ``entries`` to this device's journal (``replace``: they are all of it now)."""
        device = {"device": {"id": self.device.id, "name": self.device.name}}
        docs = {e.key: journal.encode_entry(e) for e in entries}
        if not replace and self.journal_storage.add(docs, device):
            return  # into its bytes, unparsed
        data = self.journal_storage.read()
        data["device"] = device
        table = self.journal_db.table("changes")
        if replace:
            table.truncate()
        table.insert_multiple(document(doc, key) for key, doc in docs.items())
        self.journal_storage.added(entries, replace=replace)

    @contextlib.contextmanager
    def transaction(self, on_error: Callable[[], None] | None = None) -> Iterator[set[str]]:
        """Lock, re-read what changed on disk, let the caller write, save once.

        Yields the kinds that were re-read so the caller can rebuild what it derived from
        them before applying its change. On any error nothing is saved and unsaved
        in-memory changes are dropped, so memory matches disk again; ``on_error`` then lets
        the caller do the same for what it derived, still under the lock (which is
        re-entrant only for the calling thread, so other threads sharing the caller's
        objects wait until all of this is done). Any error, not only a storage one: a
        ``MemoryError`` mid-save once left the change in memory, and the next change then
        saved it although the user had been told it failed (tested). Should ``on_error``
        fail too, the first error is raised, and the next transaction re-reads everything.
        """
        self._ensure_dir()
        with self.lock:
            reloaded = self.stale()
            self.reload(reloaded)
            storages = self.storages()
            for storage in storages:
                storage.hold = True
            try:
                yield reloaded
                if self.journal_storage.dirty and not self.state_storage.path.exists():
                    self.state_storage.dirty = True  # the marker older releases refuse
                for storage in storages:
                    if storage.dirty:
                        storage.flush()
            except BaseException as error:
                for storage in storages:
                    if storage.dirty:
                        storage.forget()
                if on_error is not None and isinstance(error, Exception):
                    try:
                        on_error()
                    except BaseException as later:
                        # Memory, which may still hold the failed change, is read again from
                        # disk before anything else. The first error is the one to tell,
                        # unless the reader interrupted meanwhile.
                        for storage in storages:
                            storage.forget()
                        if not isinstance(later, Exception):
                            raise
                raise
            finally:
                for storage in storages:
                    storage.hold = False

    def _ensure_dir(self) -> None:
        try:
            (self.data_dir / JOURNALS_DIR).mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StorageError(f"{self.data_dir}: is a file, expected the library folder") from None
        except OSError as error:
            raise StorageError(
                f"{self.data_dir}: cannot create the library folder ({error.strerror or error})"
            ) from None
        write_ignore_files(self.data_dir)

    def clean_temp_files(self) -> list[Path] | None:
        """Remove temp files of writers that died mid-write, unless a writer holds the lock.

        Never waits: opening a library to read must not stall behind another writer.
        """
        return remove_temp_files(self.data_dir, self.lock)


def load_merged(data_dir: Path, key: Any) -> Any:
    """The merge saved for ``key`` (this device and the identity of every journal file it
    was made from), or None. A copy from another device, a damaged file or one made from
    other files never matches: it is only ever a shortcut, never an answer. Checksummed
    (CRC-32, ~1 ms): it says what a change may add to this device's journal's bytes."""
    try:
        raw = read_regular(data_dir / MERGED_FILE)
        start = len(_MERGED_MAGIC) + 4
        if raw.startswith(_MERGED_MAGIC) and raw[len(_MERGED_MAGIC) : start] == _crc(raw[start:]):
            saved, payload = marshal.loads(raw[start:])
            return payload if saved == key else None
    except (OSError, EOFError, ValueError, TypeError):
        pass
    return None


def _crc(body: bytes) -> bytes:
    return zlib.crc32(body).to_bytes(4, "little")


def save_merged(data_dir: Path, key: Any, payload: Any) -> None:
    """Best effort: without it the next open merges the journals again."""
    with contextlib.suppress(StorageError, ValueError):
        body = marshal.dumps((key, payload))
        payload = _MERGED_MAGIC + _crc(body) + body
        atomic_write(data_dir / MERGED_FILE, payload, backup=False, sync=False)


def journal_path(data_dir: Path, device: str) -> Path:
    return data_dir / JOURNALS_DIR / f"{device}.json"


def write_ignore_files(data_dir: Path) -> None:
    """``.stignore`` and ``.gitignore`` listing :data:`IGNORED`, where there are none yet
    (a reader's own file is never changed)."""
    for name, comment in ((".stignore", "//"), (".gitignore", "#")):
        path = data_dir / name
        if path.exists():
            continue
        lines = [f"{comment} readinglist: derived and per-device files, not worth syncing"]
        with contextlib.suppress(StorageError):
            atomic_write(path, ("\n".join([*lines, *IGNORED]) + "\n").encode(), backup=False)
