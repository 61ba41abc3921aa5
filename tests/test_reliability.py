"""What a laptop does to a library: full disks, two instances, damaged files, odd folders.

Faults are injected into the ``os`` functions readinglist.storage calls (never into the
storage itself); everything else is real files and a real TinyDB in a temp dir.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from readinglist import storage
from readinglist.cli import main
from readinglist.errors import StorageError
from readinglist.library import Library
from readinglist.storage import LIBRARY_FILES, leftover_temp_files
from tests.libhelpers import LIBRARY_NAMES, NOTE, FaultyOS, damaged_versions, make_library, snapshot

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
    return Path(shutil.copytree(template, tmp_path / "lib"))


def library_files(data_dir: Path) -> dict[str, bytes]:
    return {name: (data_dir / name).read_bytes() for name in LIBRARY_NAMES}


def same_state(library: Library, data_dir: Path) -> bool:
    """The in-memory library holds exactly what a fresh open reads from disk."""
    fresh = Library(data_dir)
    return set(library.papers) == set(fresh.papers) and all(
        library.state(pid) == fresh.state(pid) for pid in fresh.papers
    )


# ------------------------------------------------------------------ disk full, I/O errors

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
    before = library_files(lib_dir)
    monkeypatch.setattr(storage, "os", FaultyOS(names, code, nth))
    for command in (["mark", pid], ["note", pid, "--set", "lost?"], ["undo"]):
        status, out, err = cli(capsys, lib_dir, *command)
        assert (status, out) == (1, ""), command
        assert err == (
            f"readinglist: {lib_dir / 'state.json'}: could not save ({os.strerror(code)}); "
            "the library is unchanged\n"
        )
        assert library_files(lib_dir) == before
        assert not leftover_temp_files(lib_dir)
    monkeypatch.undo()
    assert cli(capsys, lib_dir, "mark", pid)[:2] == (0, "mark 1 paper read.\n")


def test_failed_import_leaves_the_papers_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digest_paths: list[Path],
) -> None:
    data_dir = tmp_path / "lib"
    assert cli(capsys, data_dir, "import", *map(str, digest_paths[:2]))[0] == 0
    before = snapshot(data_dir)
    monkeypatch.setattr(storage, "os", FaultyOS(DISK_FULL, errno.ENOSPC))
    status, _, err = cli(capsys, data_dir, "import", *map(str, digest_paths[2:]))
    assert (
        status == 1 and err.count("\n") == 1 and "could not save (No space left on device)" in err
    )
    assert snapshot(data_dir) == before


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
    monkeypatch.undo()
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
    with pytest.raises(
        StorageError, match=r"state\.json: saved, but the folder could not be synced"
    ):
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
    path = lib_dir / name
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
            assert f"do not restore {name}.bak over it" in err
        else:
            assert f"cp '{path}.bak' '{path}'" in err and "readinglist doctor" in err, command
        assert snapshot(lib_dir) == before, command


def test_damaged_file_without_backup_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    data_dir = tmp_path / "lib"
    assert cli(capsys, data_dir, "import", str(digest_paths[0]))[0] == 0
    (data_dir / "papers.json").write_bytes(b"")
    status, _, err = cli(capsys, data_dir, "stats")
    assert status == 1
    path = data_dir / "papers.json"
    assert err == (
        f"readinglist: {path}: file is empty (0 bytes), probably truncated; the file was left "
        f"untouched. To recover, no backup exists; move '{path}' aside to start afresh or run "
        "`readinglist doctor`\n"
    )


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
    assert sorted(os.listdir(data_dir)) == ["lock", "papers.json", "state.json", "state.json.bak"]


def test_missing_data_dir_reads_as_empty_and_is_created_on_first_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    data_dir = tmp_path / "not" / "yet" / "lib"
    assert cli(capsys, data_dir, "list") == (0, "", "")
    assert cli(capsys, data_dir, "stats")[1].startswith("0 papers")
    assert not (tmp_path / "not").exists()
    status, out, _ = cli(capsys, data_dir, "import", str(digest_paths[0]))
    assert status == 0 and out.endswith("the library holds 74 papers.\n")
    assert {name for name, _ in LIBRARY_FILES} & set(os.listdir(data_dir)) == {"papers.json"}


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
