"""The writers' lock: who holds it, who waits for it, and who never has to.

A real child process holds the lock (it takes it and then waits for a line on stdin), so
"another readinglist is saving" is the real thing: a separate process with an flock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from readinglist import lock as lock_module
from readinglist.cli import main
from readinglist.errors import LibraryLocked
from readinglist.library import Library
from readinglist.lock import Holder, Lock, set_command
from readinglist.storage import LOCK_FILE
from tests.libhelpers import make_library

#: The child: take the lock as COMMAND, optionally leave a temp file of "its save", wait.
HOLDER = """
import os, sys
from pathlib import Path
from readinglist.lock import Lock, set_command
data_dir, command, temp = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
set_command(command)
with Lock(data_dir / "lock"):
    if temp:
        (data_dir / f".{temp}.{os.getpid()}.tmp").write_bytes(b'{"half": ')
    print("held", flush=True)
    sys.stdin.readline()
"""


def hold(data_dir: Path, command: str, temp: str = "") -> subprocess.Popen[str]:
    """A child process holding the library's lock until :func:`release`."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), command, temp],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None and child.stdout is not None
    if not child.stdin.closed:
        child.stdin.close()  # its readline returns: it leaves the lock and exits
    child.wait(timeout=30)
    child.stdout.close()


@contextlib.contextmanager
def held(data_dir: Path, command: str, temp: str = "") -> Iterator[subprocess.Popen[str]]:
    child = hold(data_dir, command, temp)
    try:
        yield child
    finally:
        release(child)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Path:
    return make_library(tmp_path_factory.mktemp("template") / "lib", digest_paths[:2]).data_dir


@pytest.fixture
def lib_dir(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "lib"))


@pytest.fixture(autouse=True)
def no_process_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that name this process must not leak the name into other tests."""
    monkeypatch.setattr(lock_module, "_command", None)


def cli(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ who holds it


def test_the_lock_file_names_pid_command_and_since(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    set_command("mark")
    start = datetime.now(UTC).replace(microsecond=0)
    with Lock(path):
        holder = Lock(path).holder()
        assert holder is not None
        assert (holder.pid, holder.command) == (os.getpid(), "mark")
        assert holder.since is not None and start <= holder.since <= datetime.now(UTC)
        assert holder.describe() == (
            f"pid {os.getpid()} (mark, since {holder.since.astimezone():%H:%M:%S})"
        )
    assert path.read_bytes() == b"" and Lock(path).holder() is None


def test_a_lock_file_of_an_earlier_release_names_the_pid_only(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    path.write_text("4242\n")
    assert Lock(path).holder() == Holder(4242)
    assert Holder(4242).describe() == "pid 4242"
    path.write_text("4242 2024-03-13T09:30:00+00:00 import\n")
    assert Lock(path).holder() == Holder(4242, "import", datetime(2024, 3, 13, 9, 30, tzinfo=UTC))
    path.write_text("4242 2024-03-13T09:30:00 hand edited\n")  # no time zone: ours are UTC
    holder = Lock(path).holder()
    assert holder is not None and holder.since == datetime(2024, 3, 13, 9, 30, tzinfo=UTC)
    assert holder.describe().startswith("pid 4242 (hand edited, since 2024-03-13 ")


def test_a_hostile_command_name_is_shown_inert(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    path.write_text("4242 2024-03-13T09:30:00+00:00 evil\x1b]52;c;aGk=\x07\n")
    holder = Lock(path).holder()
    assert holder is not None and "\x1b" not in holder.describe()
    assert holder.describe().startswith("pid 4242 (evil␛]52;c;aGk=␇, since ")


# ------------------------------------------------------------------ readers never wait


def test_reading_never_waits_for_a_writer(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """Opening the library and every read-only command work while another process saves."""
    pid = Library(lib_dir).ordered()[0]
    reads = (["list"], ["show", pid], ["stats"], ["export", "--all"], ["list", "--json"])
    expected = [cli(capsys, lib_dir, *command) for command in reads]
    assert all(code == 0 and out for code, out, _ in expected)

    with held(lib_dir, "mark", temp="state.json") as child:
        its_temp = lib_dir / f".state.json.{child.pid}.tmp"
        library = Library(lib_dir)
        assert library.state(pid).read
        assert its_temp.exists(), "a live writer's temp file was removed"
        assert [cli(capsys, lib_dir, *command) for command in reads] == expected
        assert its_temp.exists()
    # The writer is gone without cleaning up: its temp file is a leftover now.
    Library(lib_dir)
    assert not its_temp.exists()


def test_a_catalog_save_is_a_save_like_any_other(lib_dir: Path) -> None:
    """catalog.bin is written under the lock like the library files (there is no index
    saved without it any more): a live writer's temp file of it is left alone, a dead
    writer's is removed by the next open."""
    with held(lib_dir, "import", temp="catalog.bin") as child:
        its_temp = lib_dir / f".catalog.bin.{child.pid}.tmp"
        Library(lib_dir)
        assert its_temp.exists(), "a live writer's temp file was removed"
    Library(lib_dir)
    assert not its_temp.exists()


# ------------------------------------------------------------------ writers wait, and say so


def test_a_waiting_writer_is_told_who_it_waits_for(lib_dir: Path) -> None:
    library = Library(lib_dir)
    pid = library.ordered()[5]
    seen: list[Holder | None] = []
    child = hold(lib_dir, "import")
    try:

        def waiting(holder: Holder | None) -> None:
            seen.append(holder)
            release(child)  # the other writer finishes; our change then goes ahead

        library.on_lock_wait = waiting
        assert library.mark([pid]) is not None
    finally:
        release(child)
    assert len(seen) == 1 and seen[0] is not None
    assert (seen[0].pid, seen[0].command) == (child.pid, "import")
    assert Library(lib_dir).state(pid).read
    # Nobody holds the lock now: no waiting, no call.
    library.mark([pid], read=False)
    assert len(seen) == 1


def test_a_writer_gives_up_naming_the_holder(lib_dir: Path) -> None:
    library = Library(lib_dir)
    pid = library.ordered()[5]
    before = (lib_dir / "state.json").read_bytes()
    calls: list[Holder | None] = []
    library.on_lock_wait = calls.append
    library.store.lock.timeout = 0.2
    with held(lib_dir, "import") as child:
        with pytest.raises(LibraryLocked) as raised:
            library.mark([pid])
        holder = Lock(lib_dir / LOCK_FILE).holder()
    assert holder is not None and holder.since is not None
    assert str(raised.value) == (
        f"{lib_dir / LOCK_FILE}: another readinglist process, pid {child.pid} (import, since "
        f"{holder.since.astimezone():%H:%M:%S}), has been writing the library for 0.2 s; "
        "try again when it has finished"
    )
    assert len(calls) == 1 and calls[0] == holder
    assert not library.state(pid).read and (lib_dir / "state.json").read_bytes() == before


# ------------------------------------------------------------------ threads of one process


def test_the_lock_is_reentrant_for_its_thread_only(tmp_path: Path) -> None:
    lock = Lock(tmp_path / LOCK_FILE)
    inside, leave = threading.Event(), threading.Event()

    def other_thread() -> None:
        with lock, lock:  # re-entrant for the thread that holds it
            inside.set()
            leave.wait(30)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert inside.wait(30)
        with lock.attempt() as free:
            assert not free and not lock.owned
        waits: list[Holder | None] = []

        def waiting(holder: Holder | None) -> None:
            waits.append(holder)
            leave.set()

        lock.on_wait = waiting
        with lock:
            assert lock.owned and not thread.is_alive()
        assert len(waits) == 1 and waits[0] is not None and waits[0].pid == os.getpid()
    finally:
        leave.set()
        thread.join(30)


def test_a_thread_gives_up_like_a_process(tmp_path: Path) -> None:
    lock = Lock(tmp_path / LOCK_FILE, timeout=0.05)
    set_command("app")
    inside, leave = threading.Event(), threading.Event()

    def other_thread() -> None:
        with lock:
            inside.set()
            leave.wait(30)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert inside.wait(30)
        with (
            pytest.raises(LibraryLocked, match=r"another task of this readinglist process, pid"),
            lock,
        ):
            pass
    finally:
        leave.set()
        thread.join(30)
    with lock:
        assert lock.owned


def digest(number: int) -> tuple[str, bytes]:
    abstract = "Two threads share one library object and must still take turns saving."
    titles = [f"Thread Import {number} Paper {part}" for part in "ab"]
    return f"thread-{number}.txt", "".join(f"{t}\n{abstract}\n" for t in titles).encode()


def test_two_threads_sharing_a_library_take_turns(lib_dir: Path) -> None:
    """One thread imports while another marks and undoes, through the same Library."""
    library = Library(lib_dir)
    papers, digests = len(library.papers), len(library.digests)
    ids = library.ordered()[2:62]  # the first two carry the template's own state
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def importer() -> None:
        start.wait()
        for number in range(15):
            assert library.import_files([digest(number)]).ok

    def marker() -> None:
        start.wait()
        for number, pid in enumerate(ids):
            assert library.mark([pid]) is not None
            if number % 3 == 2:
                change = library.undo()
                assert change is not None and change.ids == (pid,)

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in (importer, marker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    expected_read = {pid for number, pid in enumerate(ids) if number % 3 != 2}
    for view in (library, Library(lib_dir)):
        assert len(view.papers) == papers + 30 and len(view.digests) == digests + 15
        assert {pid for pid in ids if view.state(pid).read} == expected_read
        assert view.read_total == 1 + len(expected_read)


# ------------------------------------------------------------------ doctor


def doctor(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> list[str]:
    return cli(capsys, data_dir, "doctor", *args)[1].splitlines()


@pytest.mark.parametrize("name", ["imports.json", "state.json", "catalog.bin"])
def test_doctor_names_a_live_writer_and_leaves_its_save_alone(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, name: str
) -> None:
    with held(lib_dir, "mark", temp=name) as child:
        its_temp = lib_dir / f".{name}.{child.pid}.tmp"
        holder = Lock(lib_dir / LOCK_FILE).holder()
        assert holder is not None and holder.since is not None
        for args in ((), ("--fix", "--yes")):
            lines = doctor(capsys, lib_dir, *args)
            assert (
                f"ok: lock: held by pid {child.pid} (mark, since "
                f"{holder.since.astimezone():%H:%M:%S}), which is saving now; "
                f"{its_temp.name} is that save in progress"
            ) in lines
            assert not [line for line in lines if "temp" in line or "problem: lock" in line]
            assert its_temp.exists()


def test_doctor_tells_a_dead_writer_by_its_leftovers(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    child = hold(lib_dir, "import", temp="imports.json")
    holder = Lock(lib_dir / LOCK_FILE).holder()
    child.kill()  # mid-save: the lock file still names it, its temp file stays
    release(child)
    assert holder is not None and holder.since is not None
    its_temp = lib_dir / f".imports.json.{child.pid}.tmp"
    lines = doctor(capsys, lib_dir)
    assert (
        f"problem: temp files of an interrupted save: {its_temp.name} "
        "(harmless; removed on next open)"
    ) in lines
    assert (
        f"problem: lock: names pid {child.pid} (import, since "
        f"{holder.since.astimezone():%H:%M:%S}), which stopped while saving (killed or "
        "crashed); harmless"
    ) in lines
    lines = doctor(capsys, lib_dir, "--fix")
    assert f"fixed: removed {its_temp.name}" in lines
    assert f"fixed: cleared pid {child.pid} from the lock file" in lines
    assert not its_temp.exists() and (lib_dir / LOCK_FILE).read_bytes() == b""
