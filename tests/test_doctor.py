"""`readinglist doctor`: checks that work on a damaged library, and repairs that lose nothing."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from readinglist.cli import main
from readinglist.library import Library
from readinglist.lock import Lock
from readinglist.storage import LOCK_FILE, backup_path
from tests.libhelpers import NOTE, damaged_versions, make_library, snapshot

Run = tuple[int, list[str], str]


def doctor(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> Run:
    code = main(["--data-dir", str(data_dir), "doctor", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("problem: ")]


@pytest.fixture
def lib_dir(tmp_path: Path, digest_paths: list[Path]) -> Path:
    return make_library(tmp_path / "lib", digest_paths).data_dir


def test_healthy_library(capsys: pytest.CaptureFixture[str], lib_dir: Path) -> None:
    code, lines, err = doctor(capsys, lib_dir)
    assert (code, err) == (0, "")
    assert lines[0] == f"checking {lib_dir}"
    assert "ok: papers.json: 751 papers from 5 digests (schema 1)" in lines
    assert "ok: state.json: reading state for 2 papers, 2 undo steps (schema 1)" in lines
    assert any(
        re.fullmatch(r"ok: state\.json\.bak: valid backup saved \d{4}-\d\d-\d\d \d\d:\d\d", x)
        for x in lines
    )
    assert not problems(lines)
    assert lines[-1] == f"healthy: {lib_dir}"


def test_missing_and_file_data_dirs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, lines, _ = doctor(capsys, tmp_path / "nothing")
    assert code == 0 and "no library yet" in lines[1]
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "afile").write_text("x")
    code, lines, _ = doctor(capsys, tmp_path / "afile", "--fix", "--yes")
    assert code == 1 and problems(lines) == [
        f"problem: {tmp_path / 'afile'}: is a file, expected the library folder"
    ]
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("name", ["papers.json", "state.json"])
@pytest.mark.parametrize("damage", ["truncated", "null", "invalid utf-8", "unknown schema version"])
def test_damaged_file_is_restored_from_backup_and_kept_aside(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, name: str, damage: str
) -> None:
    path = lib_dir / name
    good_backup = backup_path(path).read_bytes()
    bad = damaged_versions(path.read_bytes())[damage]
    path.write_bytes(bad)
    before = snapshot(lib_dir)

    code, lines, _ = doctor(capsys, lib_dir)
    (problem,) = problems(lines)
    assert code == 1 and problem.startswith(f"problem: {name}: ")
    assert f"{name}.bak (saved " in problem and "can replace it" in problem
    assert lines[-1].endswith("1 can be repaired with `readinglist doctor --fix`")

    # Not a terminal and no --yes: nothing is restored.
    code, lines, err = doctor(capsys, lib_dir, "--fix")
    assert code == 1 and "not asked (stdin is not a terminal; add --yes to agree)" in err
    assert snapshot(lib_dir) == before

    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 0 and lines[-1] == f"healthy: {lib_dir}"
    assert path.read_bytes() == good_backup
    (aside,) = lib_dir.glob(f"{name}.corrupt-*")
    assert aside.read_bytes() == bad
    assert any(line.startswith(f"fixed: restored {name} from {name}.bak") for line in lines)
    Library(lib_dir)  # opens again


def test_restore_asks_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lib_dir: Path
) -> None:
    path = lib_dir / "state.json"
    path.write_bytes(path.read_bytes()[:100])

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 1 and len(path.read_bytes()) == 100
    assert re.search(
        r"^Restore state\.json from state\.json\.bak \(saved \d{4}-\d\d-\d\d \d\d:\d\d\)\? "
        r"\[y/N\] skipped",
        "\n".join(lines),
        re.MULTILINE,
    )
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 0 and path.read_bytes() == backup_path(path).read_bytes()


def test_damaged_file_without_backup_is_left_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    library = Library(tmp_path / "lib")
    library.import_files(digest_paths[:1])  # one save: no papers.json.bak yet
    path = library.store.papers_storage.path
    path.write_bytes(b"null")
    before = snapshot(library.data_dir)
    code, lines, _ = doctor(capsys, library.data_dir, "--fix", "--yes")
    assert code == 1
    assert problems(lines) == [
        "problem: papers.json: top level is null, expected a JSON object; no valid backup; "
        "move it aside to start afresh, or repair it by hand"
    ]
    assert snapshot(library.data_dir) == before


def test_newer_schema_is_not_restored_over(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """A file a newer readinglist wrote is not damaged: the fix is upgrading, not the old backup."""
    path = lib_dir / "state.json"
    path.write_bytes(damaged_versions(path.read_bytes())["newer schema version"])
    before = snapshot(lib_dir)
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 1 and "upgrade readinglist" in problems(lines)[0]
    assert snapshot(lib_dir) == before


def test_missing_file_with_backup_is_restorable(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    (lib_dir / "state.json").unlink()
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and "state.json: is missing but its backup is there" in problems(lines)[0]
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 0
    assert Library(lib_dir).stats().read == 1


def test_damaged_backup_is_moved_aside(capsys: pytest.CaptureFixture[str], lib_dir: Path) -> None:
    backup = lib_dir / "papers.json.bak"
    backup.write_bytes(b"{")
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and problems(lines)[0].startswith(
        "problem: papers.json.bak: damaged backup (not valid JSON"
    )
    code, lines, _ = doctor(capsys, lib_dir, "--fix")  # nothing is lost: no question asked
    assert code == 0 and not backup.exists()
    (aside,) = lib_dir.glob("papers.json.bak.corrupt-*")
    assert aside.read_bytes() == b"{"


def test_orphan_state_is_reported_and_kept(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, digest_paths: list[Path]
) -> None:
    """papers.json rolled back to before the last import: state for its papers is kept."""
    library = Library(lib_dir)
    newest = max(library.digests.values(), key=lambda d: d.seq).id
    only_new = [pid for pid in library.ordered() if library.papers[pid].digests == [newest]][:5]
    library.mark(only_new)
    (lib_dir / "papers.json").write_bytes((lib_dir / "papers.json.bak").read_bytes())
    state_before = (lib_dir / "state.json").read_bytes()

    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    orphans, history = problems(lines)
    assert code == 1
    shown = re.fullmatch(
        r"problem: state\.json: reading state for 5 papers \((.*) and 2 more\) that papers\.json "
        r"does not hold; kept \(.*\)",
        orphans,
    )
    assert shown and set(shown[1].split(", ")) < set(only_new)
    assert history.startswith("problem: state.json: undo history refers to 5 papers (")
    assert (lib_dir / "state.json").read_bytes() == state_before
    # Re-importing the digest brings the papers back with their state (ids come from titles).
    Library(lib_dir).import_files(digest_paths[4:])
    assert doctor(capsys, lib_dir)[0] == 0
    assert all(Library(lib_dir).state(pid).read for pid in only_new)


def test_leftovers_of_a_killed_writer_are_cleaned(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    (lib_dir / LOCK_FILE).write_text(f"{pid}\n")
    temp = lib_dir / f".state.json.{pid}.tmp"
    temp.write_bytes(b'{"meta": {"sch')
    bak_temp = lib_dir / f".papers.json.bak.{pid}.tmp"
    os.link(lib_dir / "papers.json", bak_temp)

    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and len(problems(lines)) == 2
    assert f".papers.json.bak.{pid}.tmp, .state.json.{pid}.tmp" in lines[-3]
    assert lines[-2] == (
        f"problem: lock: names pid {pid}, which stopped while saving (killed or crashed); harmless"
    )
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 0
    assert not temp.exists() and not bak_temp.exists()
    assert (lib_dir / LOCK_FILE).read_bytes() == b""


def test_a_live_writer_is_not_a_stale_lock(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    with Lock(lib_dir / LOCK_FILE):
        assert (lib_dir / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        code, lines, _ = doctor(capsys, lib_dir)
    assert code == 0 and not problems(lines)
    assert (lib_dir / LOCK_FILE).read_bytes() == b""  # released: no pid left behind


def test_doctor_runs_where_every_other_command_refuses(lib_dir: Path) -> None:
    (lib_dir / "papers.json").write_bytes(b"")
    run = [sys.executable, "-m", "readinglist.cli", "--data-dir", str(lib_dir)]
    refused = subprocess.run([*run, "list"], capture_output=True, text=True)
    assert refused.returncode == 1 and "run `readinglist doctor`" in refused.stderr
    fixed = subprocess.run([*run, "doctor", "--fix", "--yes"], capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    listed = subprocess.run([*run, "list", "--json"], capture_output=True, text=True)
    assert listed.returncode == 0 and NOTE.splitlines()[0] in listed.stdout
