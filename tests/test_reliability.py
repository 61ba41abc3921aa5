"""What a laptop does to a library: full disks, two instances, damaged files, odd folders.

Faults are injected into the ``os`` functions readinglist.storage (and, for catalog.bin,
readinglist.catalogfile) calls, never into the storage itself; everything else is real files and
a real TinyDB in a temp dir. A library is ``digests/*.json`` (written once), this device's
journal ``journals/<device id>.json`` (small, rewritten by every change), ``state.json`` (the
layout marker), and ``catalog.bin`` (derived: damage is no error).
"""

from __future__ import annotations

import errno
import marshal
import os
import re
import shutil
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist import catalogfile, storage
from readinglist.cli import main
from readinglist.contents import content_hash
from readinglist.errors import StorageError
from readinglist.library import Library
from readinglist.storage import (
    CATALOG_FILE,
    IMPORTS_FILE,
    JOURNALS_DIR,
    MERGED_FILE,
    STATE_FILE,
    backup_path,
    leftover_temp_files,
)
from tests.libhelpers import (
    CATALOG_DAMAGE,
    JOURNAL,
    LIBRARY_NAMES,
    NOTE,
    SEGMENT,
    FaultyOS,
    copy_library,
    current_device,
    damaged_catalogs,
    damaged_versions,
    digest_files,
    identities,
    imported_digest_files,
    journal_file,
    library_file,
    make_library,
    sealed,
    segments,
    snapshot,
    user_files,
)

WORKER = Path(__file__).with_name("crashworker.py")


def cli(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Path:
    """One imported library; tests get a copy, so the import runs once per module."""
    return make_library(tmp_path_factory.mktemp("template") / "lib", digest_paths).data_dir


@pytest.fixture
def lib_dir(template: Path, tmp_path: Path) -> Path:
    return copy_library(template, tmp_path / "lib")


def unchanged(before: dict[str, bytes], after: dict[str, bytes]) -> bool:
    """Every file of a library (digest files, catalog.bin, the lock file) is as before, but
    a backup may have become a copy of its unchanged file (a save that failed after
    updating the journal's ``.bak``)."""
    return after.keys() == before.keys() and all(
        after[name] == data
        or (name.endswith(".bak") and after[name] == after[name.removesuffix(".bak")])
        for name, data in before.items()
    )


#: Queries over titles, abstracts (phrases), filters and typos: a catalog rebuilt or read
#: from catalog.bin must give the same answers.
QUERIES = [
    "",
    "mamba tiem seires",
    "permut",
    "reinforcment lerning",
    "revisited",
    "seen:>=2",
    "is:read",
    "has:code diffusion",
    '"linear mode"',
    "-model",
]


def everything(library: Library) -> dict[str, object]:
    """All a reader can see of a library: order, answers, papers with abstracts, stats."""
    return {
        "order": library.ordered(),
        "answers": {query: library.query(query) for query in QUERIES},
        "papers": library.papers_json(library.ordered()),
        "stats": library.stats(),
    }


def same_state(library: Library, data_dir: Path) -> bool:
    """The in-memory library holds exactly what a fresh open reads from disk."""
    fresh = Library(data_dir)
    return set(library.papers) == set(fresh.papers) and all(
        library.state(pid) == fresh.state(pid) for pid in fresh.papers
    )


# ------------------------------------------------------------------ disk full, I/O errors


def heal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``os`` again, for storage and the catalog. Not ``monkeypatch.undo()``: that
    would undo the test's own config dir too (conftest), and this device's identity would
    then be made in the real home."""
    monkeypatch.setattr(storage, "os", os)
    monkeypatch.setattr(catalogfile, "os", os)


#: A full disk fails every write, the lock file's pid included.
DISK_FULL = ("write", "pwrite")
FAULTS = {
    "disk full": (DISK_FULL, errno.ENOSPC, 1),
    "I/O error on fsync": (("fsync",), errno.EIO, 1),
    "I/O error updating the backup": (("link",), errno.EIO, 1),
    "disk full renaming the backup": (("replace",), errno.ENOSPC, 1),
    "disk full renaming the file": (("replace",), errno.ENOSPC, 2),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_failed_save_via_cli_changes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lib_dir: Path, fault: str
) -> None:
    names, code, nth = FAULTS[fault]
    pid = Library(lib_dir).ordered()[5]
    before = snapshot(lib_dir)
    monkeypatch.setattr(storage, "os", FaultyOS(names, code, nth))
    for command in (["mark", pid], ["note", pid, "--set", "lost?"], ["undo"]):
        status, out, err = cli(capsys, lib_dir, *command)
        assert (status, out) == (1, ""), command
        assert err == (
            f"readinglist: {journal_file(lib_dir)}: could not save ({os.strerror(code)}); "
            "the library is unchanged\n"
        )
        assert unchanged(before, snapshot(lib_dir)), command
        assert not leftover_temp_files(lib_dir)
    heal(monkeypatch)
    assert cli(capsys, lib_dir, "mark", pid)[:2] == (0, "mark 1 paper read.\n")


class OutOfMemoryOS:
    """``os`` for readinglist.storage whose writes raise ``MemoryError``: an error that is
    not the disk's, so storage does not turn it into a :class:`StorageError`."""

    def __getattr__(self, name: str) -> Any:
        if name in DISK_FULL:

            def failing(*args: Any, **kwargs: Any) -> Any:
                raise MemoryError

            return failing
        return getattr(os, name)


def test_change_that_fails_with_any_error_is_not_kept_in_memory(
    monkeypatch: pytest.MonkeyPatch, lib_dir: Path
) -> None:
    """The failed change is gone from the Library that tried it, not merely unsaved: the
    next change (here, marking another paper) must not save it along."""
    library = Library(lib_dir)
    failed, next_one = library.ordered()[3:5]
    monkeypatch.setattr(storage, "os", OutOfMemoryOS())
    with pytest.raises(MemoryError):
        library.mark([failed])
    heal(monkeypatch)
    assert not library.state(failed).read
    library.mark([next_one])
    for seen_by in (library, Library(lib_dir)):
        assert (seen_by.state(failed).read, seen_by.state(next_one).read) == (False, True)


def test_a_failed_change_whose_resync_fails_too_reports_the_first_error_and_saves_nothing(
    monkeypatch: pytest.MonkeyPatch, lib_dir: Path
) -> None:
    """Re-reading the disk after the failed save fails as well (memory is short): the
    reader hears of the first error, and the next change re-reads the disk before it saves,
    so the failed change is not saved along with it."""
    library = Library(lib_dir)
    failed, next_one = library.ordered()[3:5]
    monkeypatch.setattr(storage, "os", OutOfMemoryOS())

    def rebuild_fails(*args: object) -> None:
        raise RuntimeError("no memory to rebuild either")

    rebuild = Library._rebuild
    monkeypatch.setattr(Library, "_rebuild", rebuild_fails)
    with pytest.raises(MemoryError):
        library.mark([failed])
    heal(monkeypatch)
    monkeypatch.setattr(Library, "_rebuild", rebuild)
    library.mark([next_one])
    for seen_by in (library, Library(lib_dir)):
        assert (seen_by.state(failed).read, seen_by.state(next_one).read) == (False, True)


def test_failed_import_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digest_paths: list[Path],
) -> None:
    """A full disk from the first digest file on: not one file of the library changes."""
    data_dir = tmp_path / "lib"
    assert cli(capsys, data_dir, "import", *map(str, digest_paths[:2]))[0] == 0
    before = snapshot(data_dir)
    monkeypatch.setattr(storage, "os", FaultyOS(DISK_FULL, errno.ENOSPC))
    status, _, err = cli(capsys, data_dir, "import", *map(str, digest_paths[2:]))
    assert (
        status == 1 and err.count("\n") == 1 and "could not save (No space left on device)" in err
    )
    assert snapshot(data_dir) == before


def renames_onto(name: str) -> Callable[..., bool]:
    """``os.replace`` calls that put a file (or its backup) in place of ``name``."""
    return lambda src, dst, **kw: Path(dst).name in (name, f"{name}.bak")


def test_import_that_fails_at_its_commit_changes_no_library_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digest_paths: list[Path],
) -> None:
    """The digest files are written, then the journal (the commit) cannot be: the library
    is as before (the new digest files are unlisted and harmless), and importing again
    works, using the digest files already there."""
    data_dir = tmp_path / "lib"
    assert cli(capsys, data_dir, "import", *map(str, digest_paths[:2]))[0] == 0
    old_digests = digest_files(data_dir)
    before = snapshot(data_dir)
    seen_before = everything(Library(data_dir))
    commit = journal_file(data_dir)
    fault = FaultyOS(("replace",), errno.ENOSPC, only=renames_onto(commit.name))
    monkeypatch.setattr(storage, "os", fault)
    status, out, err = cli(capsys, data_dir, "import", *map(str, digest_paths[2:]))
    assert (status, out) == (1, "")
    assert err == (
        f"readinglist: {commit}: could not save (No space left on device); "
        "the library is unchanged\n"
    )
    heal(monkeypatch)
    after = snapshot(data_dir)
    new_digests = [p for p in digest_files(data_dir) if p not in old_digests]
    assert len(new_digests) == 3  # written before the commit, each whole (named by its hash)
    assert all(content_hash(p.read_bytes()) == p.stem for p in new_digests)
    assert all(after[name] == data for name, data in before.items())  # only new files
    assert not leftover_temp_files(data_dir)
    assert everything(Library(data_dir)) == seen_before

    written = identities(new_digests)
    status, out, _ = cli(capsys, data_dir, "import", *map(str, digest_paths[2:]))
    assert status == 0 and "3 of 3 files imported" in out, out
    assert identities(new_digests) == written  # used as they were, not written again
    reference = tmp_path / "reference"
    assert cli(capsys, reference, "import", *map(str, digest_paths[:2]))[0] == 0
    assert cli(capsys, reference, "import", *map(str, digest_paths[2:]))[0] == 0
    assert everything(Library(data_dir)) == everything(Library(reference))


class TornWrite:
    """``os`` for readinglist.catalogfile: the first write stores half its bytes, the next one
    finds the disk full (an append cut short, leaving a torn segment on disk)."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, fd: int, data: bytes | memoryview) -> int:
        self.calls += 1
        if self.calls > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, bytes(data[: len(data) // 2]))

    def __getattr__(self, attr: str) -> Any:
        return getattr(os, attr)


@pytest.mark.parametrize("fault", ["append fails", "append torn", "new base fails"])
def test_a_catalog_that_cannot_be_saved_is_no_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digest_paths: list[Path],
    fault: str,
) -> None:
    """catalog.bin is derived: an import whose append (or new base) fails is still done,
    and the next open has every paper, rebuilding what catalog.bin lacks."""
    data_dir = tmp_path / "lib"
    assert cli(capsys, data_dir, "import", *map(str, digest_paths[:2]))[0] == 0
    good_catalog = (data_dir / CATALOG_FILE).read_bytes()
    if fault == "append fails":
        monkeypatch.setattr(catalogfile, "os", FaultyOS(("write",), errno.ENOSPC))
    elif fault == "append torn":
        monkeypatch.setattr(catalogfile, "os", TornWrite())
    else:
        (data_dir / CATALOG_FILE).unlink()
        only = renames_onto(CATALOG_FILE)
        monkeypatch.setattr(storage, "os", FaultyOS(("replace",), errno.ENOSPC, only=only))
    status, out, err = cli(capsys, data_dir, "import", *map(str, digest_paths[2:]))
    assert (status, err) == (0, "") and "3 of 3 files imported" in out, (out, err)
    if fault == "new base fails":
        assert not (data_dir / CATALOG_FILE).exists()
    else:
        assert (data_dir / CATALOG_FILE).read_bytes().startswith(good_catalog)
    assert not leftover_temp_files(data_dir)
    heal(monkeypatch)

    reference = tmp_path / "reference"
    assert cli(capsys, reference, "import", *map(str, digest_paths[:2]))[0] == 0
    assert cli(capsys, reference, "import", *map(str, digest_paths[2:]))[0] == 0
    assert everything(Library(data_dir)) == everything(Library(reference))
    saved = catalogfile.load(data_dir / CATALOG_FILE, data_dir)  # the open saved what it rebuilt
    assert saved is not None and len(saved.catalog.imports) == 5


@pytest.mark.parametrize("fault", [DISK_FULL, ("replace",)])
def test_long_lived_library_matches_disk_after_a_failed_save(
    monkeypatch: pytest.MonkeyPatch, lib_dir: Path, fault: tuple[str, ...]
) -> None:
    """What the TUI does: keep one Library open across a failure, then carry on."""
    library = Library(lib_dir)
    noted = library.ordered()[1]
    others = library.ordered()[10:13]
    monkeypatch.setattr(storage, "os", FaultyOS(fault, errno.ENOSPC))
    with pytest.raises(StorageError, match="could not save"):
        library.set_note(noted, "overwritten?")
    with pytest.raises(StorageError, match="could not save"):
        library.tag(others, add=["x"])
    assert library.state(noted).note == NOTE and not library.state(others[0]).tags
    assert same_state(library, lib_dir)
    heal(monkeypatch)
    library.tag(others, add=["x"])
    assert Library(lib_dir).state(others[2]).tags == ("x",)
    assert Library(lib_dir).state(noted).note == NOTE


def test_failed_folder_sync_after_the_rename_says_saved(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lib_dir: Path
) -> None:
    """The second fsync is the folder's, after the rename: the change is there, say so."""
    library = Library(lib_dir)
    pid = library.ordered()[7]
    monkeypatch.setattr(storage, "os", FaultyOS(("fsync",), errno.EIO, nth=2))
    saved = re.escape(f"{journal_file(lib_dir)}: saved, but the folder could not be synced")
    with pytest.raises(StorageError, match=saved):
        library.mark([pid])
    assert library.state(pid).read and same_state(library, lib_dir)
    assert not leftover_temp_files(lib_dir)


# ------------------------------------------------------------------ two instances


def start_worker(mode: str, data_dir: Path, tag: str, ids: list[str]) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(data_dir), tag, *ids],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline() == "ready\n"
    return worker


def finish_worker(worker: subprocess.Popen[str]) -> tuple[float, float]:
    """Wait for a worker; return when its run started and ended (monotonic, system-wide)."""
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    start, end = out.splitlines()[-1].removeprefix("times ").split()
    return float(start), float(end)


def race_two_processes(lib_dir: Path) -> None:
    """Two processes mark and tag 200 papers each at once; all 400 changes must be kept."""
    ids = Library(lib_dir).ordered()[2:402]  # the first two carry the template's own state
    mine, theirs = ids[::2], ids[1::2]
    workers = [
        start_worker("race", lib_dir, tag, part) for tag, part in (("one", mine), ("two", theirs))
    ]
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    (start_a, end_a), (start_b, end_b) = map(finish_worker, workers)
    assert start_a < end_b and start_b < end_a, "the two runs did not overlap"

    fresh = Library(lib_dir)
    for tag, part in (("one", mine), ("two", theirs)):
        assert [fresh.state(pid).read for pid in part[::2]] == [True] * 100
        assert [fresh.state(pid).tags for pid in part[1::2]] == [(tag,)] * 100
    assert fresh.stats().read == 201 and fresh.state(fresh.ordered()[1]).note == NOTE


def test_two_processes_keep_all_400_changes(lib_dir: Path) -> None:
    race_two_processes(lib_dir)


@pytest.mark.soak
def test_two_processes_soak(template: Path, tmp_path: Path) -> None:
    for round_ in range(25):
        race_two_processes(Path(shutil.copytree(template, tmp_path / f"lib{round_}")))
    print("\ntwo-process soak: 25 rounds x 400 changes, all kept")


def test_cli_racing_a_long_lived_library(lib_dir: Path) -> None:
    """A shell loop of CLI commands while the TUI's Library adds notes to the same papers."""
    library = Library(lib_dir)
    ids = library.ordered()[2:82]
    worker = start_worker("cli", lib_dir, "cli", ids)
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()
    start = time.monotonic()
    for number, pid in enumerate(ids):
        library.set_note(pid, f"note {number}")
        if number % 10 == 0:
            library.refresh()
    end = time.monotonic()
    worker_start, worker_end = finish_worker(worker)
    assert start < worker_end and worker_start < end, "the two runs did not overlap"

    library.refresh()
    for view in (library, Library(lib_dir)):
        for number, pid in enumerate(ids):
            state = view.state(pid)
            cli_change = state.read if number % 2 == 0 else state.tags == ("cli",)
            assert cli_change and state.note == f"note {number}", (number, state)


# ------------------------------------------------------------------ damaged library files

COMMANDS = {
    "list": ["list"],
    "mark": ["mark", "{pid}"],
    "tag": ["tag", "{pid}", "--add", "x"],
    "note": ["note", "{pid}", "--set", "text"],
    "import": ["import", "{digest}"],
    "export": ["export", "--all"],
    "stats": ["stats"],
    "undo": ["undo"],
}


@pytest.mark.parametrize("name", LIBRARY_NAMES)
@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "null",
        "0 bytes",
        "invalid utf-8",
        "wrong top-level type",
        "unknown schema version",
        "newer schema version",
    ],
)
def test_every_command_refuses_a_damaged_file(
    capsys: pytest.CaptureFixture[str],
    lib_dir: Path,
    digest_paths: list[Path],
    name: str,
    damage: str,
) -> None:
    path = library_file(lib_dir, name)
    # The journal was saved many times; state.json, the layout marker, once (no backup).
    assert backup_path(path).exists() == (name == JOURNAL)
    pid = Library(lib_dir).ordered()[3]
    path.write_bytes(damaged_versions(path.read_bytes())[damage])
    before = snapshot(lib_dir)
    for command, argv in COMMANDS.items():
        args = [arg.format(pid=pid, digest=digest_paths[0]) for arg in argv]
        status, out, err = cli(capsys, lib_dir, *args)
        assert (status, out) == (1, ""), command
        assert err.startswith(f"readinglist: {path}: ") and err.count("\n") == 1, command
        assert "the file was left untouched" in err, command
        if damage == "newer schema version":  # restoring the older .bak would lose data
            assert "; upgrade readinglist to open it; the file was left untouched" in err
            assert f"do not restore {path.name}.bak over it" in err
        elif name == JOURNAL:
            assert f"cp '{path}.bak' '{path}'" in err and "readinglist doctor" in err, command
        else:
            assert f"no backup exists; move '{path}' aside" in err, command
            assert "readinglist doctor" in err, command
        assert snapshot(lib_dir) == before, command


def test_damaged_file_without_backup_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    data_dir = tmp_path / "lib"
    assert cli(capsys, data_dir, "import", str(digest_paths[0]))[0] == 0  # one save: no .bak
    path = journal_file(data_dir)
    assert not backup_path(path).exists()
    path.write_bytes(b"")
    status, _, err = cli(capsys, data_dir, "stats")
    assert status == 1
    assert err == (
        f"readinglist: {path}: file is empty (0 bytes), probably truncated; the file was left "
        f"untouched. To recover, no backup exists; move '{path}' aside to start afresh or run "
        "`readinglist doctor`\n"
    )


def damaged_digests(good: bytes) -> dict[str, bytes | None]:
    """Ways a digest file gets damaged (None: deleted), from a real good one."""
    middle = len(good) // 2
    return {
        "missing": None,
        "0 bytes": b"",
        "truncated": good[:middle],
        "garbage": b"garbage",
        "flipped byte": good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :],
        "valid JSON, edited": good.replace(b'"abstract":"', b'"abstract":"Edited. ', 1),
        "re-encoded (same data, other bytes)": orjson.dumps(
            orjson.loads(good), option=orjson.OPT_INDENT_2
        ),
    }


DIGEST_DAMAGE = sorted(damaged_digests(b'{"papers":{"1":{"abstract":"x"}}}'))


def damage_digest(path: Path, damage: str) -> None:
    payload = damaged_digests(path.read_bytes())[damage]
    assert payload != path.read_bytes()
    if payload is None:
        path.unlink()
    else:
        path.write_bytes(payload)


def refuses(err: str, path: Path, damage: str) -> bool:
    """``err`` is the one line that refuses the damaged digest file ``path``; a missing one
    is said to be missing, and the message names no file the library does not have."""
    said = "is missing, but " if damage == "missing" else "left untouched"
    return (
        err.startswith(f"readinglist: {path}: ")
        and err.count("\n") == 1
        and said in err
        and IMPORTS_FILE not in err
    )


@pytest.mark.parametrize("damage", DIGEST_DAMAGE)
def test_every_command_refuses_a_damaged_digest_file_it_must_read(
    capsys: pytest.CaptureFixture[str],
    lib_dir: Path,
    digest_paths: list[Path],
    damage: str,
) -> None:
    """Without catalog.bin, opening reads every digest file: a damaged one stops every
    command with one line naming it, and nothing is written (not even the catalog)."""
    pid = Library(lib_dir).ordered()[3]
    (lib_dir / CATALOG_FILE).unlink()
    path = imported_digest_files(lib_dir)[2]
    damage_digest(path, damage)
    before = snapshot(lib_dir)
    for command, argv in COMMANDS.items():
        args = [arg.format(pid=pid, digest=digest_paths[0]) for arg in argv]
        status, out, err = cli(capsys, lib_dir, *args)
        assert (status, out) == (1, ""), command
        assert refuses(err, path, damage), (command, err)
        assert snapshot(lib_dir) == before, command


@pytest.mark.parametrize("damage", DIGEST_DAMAGE)
def test_a_damaged_digest_file_is_refused_where_its_abstracts_are_read(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, damage: str
) -> None:
    """With catalog.bin good, a digest file is read when one of its papers' abstracts is
    needed: those commands refuse with one line naming it, and nothing is overwritten."""
    library = Library(lib_dir)
    path = imported_digest_files(lib_dir)[0]  # the first import: its papers' abstracts
    pid = library.ordered()[-1]
    first = orjson.loads(path.read_bytes())["digest"]["info"]["id"]
    assert library.papers[pid].digests[0] == first
    damage_digest(path, damage)
    before = snapshot(lib_dir)
    for command in (
        ["show", pid, "--json"],
        ["list", "--json"],
        ["list", "abstract:model"],
        ["export", "--all", "--format", "json"],
    ):
        status, out, err = cli(capsys, lib_dir, *command)
        assert (status, out) == (1, ""), command
        assert refuses(err, path, damage), (command, err)
        assert snapshot(lib_dir) == before, command


def test_show_prints_nothing_when_the_abstract_cannot_be_read(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    pid = Library(lib_dir).ordered()[-1]
    damage_digest(imported_digest_files(lib_dir)[0], "truncated")
    status, out, err = cli(capsys, lib_dir, "show", pid)
    assert refuses(err, imported_digest_files(lib_dir)[0], "truncated")
    assert (status, out) == (1, "")


@pytest.fixture(scope="module")
def template_answers(template: Path) -> dict[str, object]:
    return everything(Library(template, device=current_device()))


@pytest.mark.parametrize("damage", CATALOG_DAMAGE)
def test_a_damaged_catalog_is_rebuilt_and_changes_no_answer(
    capsys: pytest.CaptureFixture[str],
    lib_dir: Path,
    template_answers: dict[str, object],
    damage: str,
) -> None:
    """catalog.bin is derived: missing, truncated, torn, flipped, of another format, it is
    never an error; the library opens with the same papers, order and answers, the user's
    files are untouched, and the catalog is saved again whole."""
    path = lib_dir / CATALOG_FILE
    payload = damaged_catalogs(path.read_bytes())[damage]
    before = user_files(lib_dir)

    def damage_it() -> None:
        if payload is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(payload)

    damage_it()
    assert everything(Library(lib_dir)) == template_answers
    saved = catalogfile.load(path, lib_dir)
    assert saved is not None and len(saved.catalog.imports) == 5  # rebuilt and saved
    assert everything(Library(lib_dir)) == template_answers  # as saved
    damage_it()
    status, out, err = cli(capsys, lib_dir, "list", "--ids")
    assert (status, err) == (0, "") and out.split() == template_answers["order"]
    assert user_files(lib_dir) == before
    assert not leftover_temp_files(lib_dir)


@pytest.mark.parametrize("column", ["titles", "links", "metadata", "sightings", "digests"])
def test_a_catalog_whose_packed_offsets_are_out_of_order_is_refused_then_repaired(
    capsys: pytest.CaptureFixture[str],
    lib_dir: Path,
    template_answers: dict[str, object],
    column: str,
) -> None:
    """Offsets out of order in a packed column, with the checksum made to match (another
    program's file: its checksum catches any damage in transit). Opening checks only where
    the offsets start and end (each of all of them cost ~20 ms of every open at 100k), so
    a command that reads such an item says what is wrong in one line, doctor finds it, and
    its repair removes the file, rebuilt by the next command with nothing changed."""
    folded = Library(lib_dir)
    folded.catalog.complete()
    folded.fold()  # no delta: a delta replayed onto the base may read the damage first
    path = lib_dir / CATALOG_FILE
    good = path.read_bytes()
    _, (rest_start, rest_end) = segments(good)
    rest = list(marshal.loads(good[rest_start + SEGMENT.size : rest_end]))
    where = {"titles": (2, 1), "links": (4, None), "metadata": (5, 1), "sightings": (7, None)}
    damage = "offsets out of order"
    if column == "digests":  # a paper seen in a digest the file does not list
        numbers = array("i", rest[6])
        numbers[numbers.index(max(numbers))] = 10_000
        rest[6], damage = numbers.tobytes(), "seen in"
    else:
        field, inner = where[column]
        offsets = array("q", rest[field] if inner is None else rest[field][inner])
        offsets[1], offsets[2] = offsets[2] + 1, offsets[1]  # an item ends before it starts
        packed = offsets.tobytes()
        rest[field] = packed if inner is None else (rest[field][0], packed)
    path.write_bytes(good[:rest_start] + sealed(tuple(rest)) + good[rest_end:])
    refused = 0
    for args in (("export", "--all", "--format", "json"), ("stats",)):
        status, _, err = cli(capsys, lib_dir, *args)
        if status:  # what reads the damaged column refuses, in one line
            assert (status, err.count("\n")) == (1, 1), err
            assert "catalog.bin: damaged (" in err and damage in err, err
            refused += 1
    assert refused  # every paper's export reads every column
    status, out, _ = cli(capsys, lib_dir, "doctor")
    assert status == 1 and "catalog.bin: damaged (" in out and damage in out
    assert cli(capsys, lib_dir, "doctor", "--fix", "--yes")[0] == 0
    assert not path.exists()
    assert everything(Library(lib_dir)) == template_answers


def test_a_delta_that_cannot_be_replayed_whole_is_not_used(
    lib_dir: Path, template_answers: dict[str, object]
) -> None:
    path = lib_dir / CATALOG_FILE
    good = path.read_bytes()
    last_start, last_end = segments(good)[-1]
    form, kind, ops = marshal.loads(good[last_start + SEGMENT.size : last_end])
    assert [op[0] for op in ops[:2]] == ["import", "digest"] and len(ops) > 10
    path.write_bytes(good[:last_start] + sealed((form, kind, [*ops[:3], ("?",), *ops[3:]])))
    assert everything(Library(lib_dir)) == template_answers


def test_a_catalog_that_cannot_be_written_is_no_error(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, template_answers: dict[str, object]
) -> None:
    path = lib_dir / CATALOG_FILE
    path.unlink()
    path.mkdir()  # a folder in its place: every save of the catalog fails
    assert everything(Library(lib_dir)) == template_answers
    pid = Library(lib_dir).ordered()[9]
    assert cli(capsys, lib_dir, "mark", pid) == (0, "mark 1 paper read.\n", "")
    assert Library(lib_dir).state(pid).read and path.is_dir()


def test_a_catalog_ahead_of_the_journal_is_not_used(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    """The journal restored from its .bak (as a refusal advises), from before the last
    import: catalog.bin still holds the import the backup lacks, and must not show its
    papers."""
    lib_dir = tmp_path / "lib"
    made = Library(lib_dir)
    assert made.import_files(digest_paths[:4]).ok and made.import_files(digest_paths[4:]).ok
    journal = journal_file(lib_dir)
    shutil.copyfile(backup_path(journal), journal)
    reference = Library(tmp_path / "reference")
    assert reference.import_files(digest_paths[:4]).ok
    library = Library(lib_dir)
    assert library.ordered() == reference.ordered()
    papers = [
        (p["id"], p["title"], p["abstract"], p["digests"])
        for p in library.papers_json(library.ordered())
    ]
    assert papers == [
        (p["id"], p["title"], p["abstract"], p["digests"])
        for p in (reference.papers_json(reference.ordered()))
    ]
    assert {q: library.query(q) for q in QUERIES if q != "is:read"} == {
        q: reference.query(q) for q in QUERIES if q != "is:read"
    }
    saved = catalogfile.load(lib_dir / CATALOG_FILE, lib_dir)
    assert saved is not None and len(saved.catalog.imports) == 4


# ------------------------------------------------------------------ where files go


def test_nothing_is_written_outside_the_data_dir(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digest_paths: list[Path],
) -> None:
    parent, cwd = tmp_path / "parent", tmp_path / "cwd"
    (parent / "neighbour").mkdir(parents=True)
    (parent / "neighbour" / "keep.txt").write_text("untouched")
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    data_dir = parent / "lib"
    outside = (snapshot(parent), snapshot(cwd))

    assert cli(capsys, data_dir, "import", *map(str, digest_paths))[0] == 0
    pid = cli(capsys, data_dir, "list", "--ids", "--limit", "1")[1].strip()
    for command in (
        ["mark", pid],
        ["tag", pid, "--add", "x"],
        ["note", pid, "--set", NOTE],
        ["undo"],
        ["redo"],
        ["export"],
        ["stats"],
        ["doctor", "--fix"],
    ):
        assert cli(capsys, data_dir, *command)[0] == 0, command

    after = snapshot(parent)
    assert {name for name in after if not name.startswith("lib/")} == set(outside[0])
    assert all(after[name] == data for name, data in outside[0].items())
    assert snapshot(cwd) == outside[1] == {}
    assert sorted(os.listdir(data_dir)) == [
        ".gitignore",
        ".stignore",
        CATALOG_FILE,
        "digests",
        JOURNALS_DIR,
        MERGED_FILE,
        "lock",
        STATE_FILE,
    ]
    journal = journal_file(data_dir)
    assert sorted(os.listdir(data_dir / JOURNALS_DIR)) == [journal.name, f"{journal.name}.bak"]
    assert len(digest_files(data_dir)) == len(digest_paths)
    assert sorted(os.listdir(data_dir / "digests")) == [p.name for p in digest_files(data_dir)]


def test_missing_data_dir_reads_as_empty_and_is_created_on_first_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    data_dir = tmp_path / "not" / "yet" / "lib"
    assert cli(capsys, data_dir, "list") == (0, "", "")
    assert cli(capsys, data_dir, "stats")[1].startswith("0 papers")
    assert not (tmp_path / "not").exists()
    status, out, _ = cli(capsys, data_dir, "import", str(digest_paths[0]))
    assert status == 0 and out.endswith("the library holds 74 papers.\n")
    assert {IMPORTS_FILE, STATE_FILE, JOURNALS_DIR} & set(os.listdir(data_dir)) == {
        STATE_FILE,
        JOURNALS_DIR,
    }
    assert os.listdir(data_dir / JOURNALS_DIR) == [journal_file(data_dir).name]
    assert len(digest_files(data_dir)) == 1 and (data_dir / CATALOG_FILE).is_file()


def test_data_dir_that_is_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    target = tmp_path / "lib"
    target.write_text("my shopping list")
    for command in (["list"], ["import", str(digest_paths[0])], ["stats"]):
        assert cli(capsys, target, *command) == (
            1,
            "",
            f"readinglist: {target}: is a file, expected the library folder\n",
        )
    assert target.read_text() == "my shopping list"


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root ignores directory permissions, so chmod 0o500 cannot stop writes",
)
def test_unwritable_data_dir(capsys: pytest.CaptureFixture[str], lib_dir: Path) -> None:
    pid = Library(lib_dir).ordered()[4]
    before = snapshot(lib_dir)
    lib_dir.chmod(0o500)
    try:
        assert cli(capsys, lib_dir, "list", "--limit", "1")[0] == 0  # reading still works
        status, out, err = cli(capsys, lib_dir, "mark", pid)
        assert (status, out) == (1, "") and err.count("\n") == 1
        assert err.startswith("readinglist: ") and "(Permission denied)" in err
    finally:
        lib_dir.chmod(0o700)
    assert snapshot(lib_dir) == before
