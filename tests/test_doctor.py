"""`readinglist doctor`: checks that work on a damaged library, and repairs that lose nothing."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist.cli import main
from readinglist.library import Library
from readinglist.lock import Lock, current_command
from readinglist.storage import LOCK_FILE, backup_path
from tests.libhelpers import NOTE, damaged_versions, make_library, snapshot

Run = tuple[int, list[str], str]
#: Libraries written by earlier releases (see tests/fixtures/README.md).
FIXTURES = Path(__file__).parent / "fixtures"


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
    assert "ok: state.json: reading state for 2 papers, 2 undo steps (schema 3)" in lines
    assert any(
        re.fullmatch(r"ok: state\.json\.bak: valid backup saved \d{4}-\d\d-\d\d \d\d:\d\d", x)
        for x in lines
    )
    assert not problems(lines)
    assert lines[-1] == f"healthy: {lib_dir}"


@pytest.mark.parametrize("version", [1, 2])
def test_a_library_of_an_earlier_release(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, version: int
) -> None:
    """Healthy as it is (doctor reads, the next open upgrades), and after the upgrade; the
    original kept aside (state.json.schemaN.bak) is no leftover for ``--fix``."""
    data_dir = Path(shutil.copytree(FIXTURES / f"v{version}", tmp_path / "lib"))
    before = snapshot(data_dir)
    code, lines, err = doctor(capsys, data_dir, "--fix")
    assert (code, err, problems(lines)) == (0, "", [])
    assert f"ok: state.json: reading state for 4 papers, 5 undo steps (schema {version})" in lines
    assert snapshot(data_dir) == before

    Library(data_dir)
    upgraded = snapshot(data_dir)
    assert f"state.json.schema{version}.bak" in upgraded
    code, lines, err = doctor(capsys, data_dir, "--fix")
    assert (code, err, problems(lines)) == (0, "", [])
    assert "ok: state.json: reading state for 4 papers, 5 undo steps (schema 3)" in lines
    assert lines[-1] == f"healthy: {data_dir}"
    assert snapshot(data_dir) == upgraded


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
        holder = Lock(lib_dir / LOCK_FILE).holder()
        assert holder is not None
        assert (holder.pid, holder.command) == (os.getpid(), current_command())
        code, lines, _ = doctor(capsys, lib_dir)
    assert code == 0 and not problems(lines)
    assert any(line.startswith(f"ok: lock: held by pid {os.getpid()} (") for line in lines)
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


# ------------------------------------------------------------------ damaged documents

Mutation = Callable[[dict[str, Any], str, str], Any]


def _rename(table: dict[str, Any], old: str, new: str) -> None:
    table[new] = table.pop(old)


def _old_step_without_after(state: dict[str, Any], pid: str) -> None:
    state["history"]["1"] = {"label": "x", "at": "y", "undone": False, "before": {pid: None}}


def _schema_2_read(state: dict[str, Any], pid: str, read: Any) -> None:
    """The paper's state as an earlier release wrote it (schema 2: ``read``, no ``status``)."""
    state["meta"]["schema"]["version"] = 2
    for name in ("status", "decided_at", "snoozed_until", "resurfaced"):
        state["state"][pid].pop(name)
    state["state"][pid]["read"] = read


#: name → (file, how to damage it given (data, pid, digest id), the problem load_file names).
#: ``{pid}``/``{PID}``/``{did}`` are the damaged paper (upper-cased) and digest.
DAMAGED_DOCUMENTS: dict[str, tuple[str, Mutation, str]] = {
    "title is a number": (
        "papers.json",
        lambda d, p, g: d["papers"][p].update(title=123),
        "papers/{pid}: field 'title' is 123 (a number), expected text",
    ),
    "abstract missing": (
        "papers.json",
        lambda d, p, g: d["papers"][p].pop("abstract"),
        "papers/{pid}: field 'abstract' is missing, expected text",
    ),
    "links is text": (
        "papers.json",
        lambda d, p, g: d["papers"][p].update(links="https://x.org"),
        "papers/{pid}: field 'links' is \"https://x.org\" (text), expected a list of text",
    ),
    "unknown digest": (
        "papers.json",
        lambda d, p, g: d["papers"][p].update(digests=[g, "0" * 16]),
        "papers/{pid}: field 'digests[1]' is \"0000000000000000\" (text), which the digests "
        "table does not hold",
    ),
    "no digest": (
        "papers.json",
        lambda d, p, g: d["papers"][p].update(digests=[]),
        "papers/{pid}: field 'digests' is an empty list, expected a non-empty list of digest ids",
    ),
    "seq is text": (
        "papers.json",
        lambda d, p, g: d["digests"][g].update(seq="3"),
        "digests/{did}: field 'seq' is \"3\" (text), expected a whole number",
    ),
    "seq is true": (
        "papers.json",
        lambda d, p, g: d["digests"][g].update(seq=True),
        "digests/{did}: field 'seq' is true, expected a whole number",
    ),
    "papers table is a list": (
        "papers.json",
        lambda d, p, g: d.update(papers=list(d["papers"].values())),
        "table 'papers' is a list of 751 items, expected an object of documents",
    ),
    "paper id not hex": (
        "papers.json",
        lambda d, p, g: _rename(d["papers"], p, p.upper()),
        "papers/{PID}: the id is not a paper id (12 lowercase hex characters)",
    ),
    "tags are numbers": (
        "state.json",
        lambda d, p, g: d["state"][p].update(tags=["ok", 2]),
        "state/{pid}: field 'tags[1]' is 2 (a number), expected text",
    ),
    "tags is text": (
        "state.json",
        lambda d, p, g: d["state"][p].update(tags="ml"),
        "state/{pid}: field 'tags' is \"ml\" (text), expected a list of text",
    ),
    "note is null": (
        "state.json",
        lambda d, p, g: d["state"][p].update(note=None),
        "state/{pid}: field 'note' is null, expected text",
    ),
    "status is a number": (
        "state.json",
        lambda d, p, g: d["state"][p].update(status=1),
        "state/{pid}: field 'status' is 1 (a number), "
        "expected new, later, read, skipped or snoozed",
    ),
    "status unknown": (
        "state.json",
        lambda d, p, g: d["state"][p].update(status="done"),
        "state/{pid}: field 'status' is \"done\" (text), "
        "expected new, later, read, skipped or snoozed",
    ),
    "read is text in an earlier schema": (
        "state.json",
        lambda d, p, g: _schema_2_read(d, p, "yes"),
        "state/{pid}: field 'read' is \"yes\" (text), expected true or false",
    ),
    "state is text": (
        "state.json",
        lambda d, p, g: d["state"].update({p: "read"}),
        'state/{pid}: the document is "read" (text), expected an object',
    ),
    "state id not hex": (
        "state.json",
        lambda d, p, g: _rename(d["state"], p, p[:-1] + "g"),
        "state/{pid_g}: the id is not a paper id (12 lowercase hex characters)",
    ),
    "history key": (
        "state.json",
        lambda d, p, g: _rename(d["history"], "1", "one"),
        "history/one: key is not a whole number (an undo step's number)",
    ),
    "undo step without after": (
        "state.json",
        lambda d, p, g: _old_step_without_after(d, p),
        "history/1: field 'after' is missing, expected an object of paper states",
    ),
    "change of an unknown field": (
        "state.json",
        lambda d, p, g: d["history"]["1"].update(changes={p: {"colour": ["red", "blue"]}}),
        "history/1: field 'changes.{pid}.colour' is not a reading-state field "
        "(status, tags, note, read_at, decided_at, snoozed_until, resurfaced, updated)",
    ),
    "change of the wrong type": (
        "state.json",
        lambda d, p, g: d["history"]["1"].update(changes={p: {"status": ["new", 1]}}),
        "history/1: field 'changes.{pid}.status[1]' is 1 (a number), "
        "expected new, later, read, skipped or snoozed",
    ),
    "history table is a list": (
        "state.json",
        lambda d, p, g: d.update(history=[]),
        "table 'history' is an empty list, expected an object of documents",
    ),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Path:
    return make_library(tmp_path_factory.mktemp("doctor") / "lib", digest_paths).data_dir


@pytest.mark.parametrize("damage", [pytest.param(None, id="undamaged"), *DAMAGED_DOCUMENTS])
def test_commands_refuse_what_doctor_reports(
    capsys: pytest.CaptureFixture[str], template: Path, tmp_path: Path, damage: str | None
) -> None:
    """A damaged document: every command refuses with the line doctor reports, nothing changes."""
    data_dir = Path(shutil.copytree(template, tmp_path / "lib"))
    library = Library(data_dir)
    pid = library.ordered()[0]  # read, in both undo steps' changes
    did = library.papers[pid].digests[0]
    if damage is None:  # the same files, rewritten: healthy, and every command works
        name, mutate, expected = "state.json", lambda d, p, g: None, ""
    else:
        name, mutate, expected = DAMAGED_DOCUMENTS[damage]
    path = data_dir / name
    data = orjson.loads(path.read_bytes())
    mutate(data, pid, did)
    path.write_bytes(orjson.dumps(data))
    expected = expected.format(pid=pid, PID=pid.upper(), did=did, pid_g=pid[:-1] + "g")
    before = snapshot(data_dir)

    for args in (["list"], ["show", pid], ["mark", pid, "--unread"], ["export"]):
        code = main(["--data-dir", str(data_dir), *args])
        out, err = capsys.readouterr()
        if damage is None:
            assert (code, err) == (0, ""), args
            continue
        assert (code, out) == (1, ""), args
        assert err.startswith(f"readinglist: {path}: {expected}; the file was left untouched. ")
        assert err.count("\n") == 1 and f"cp '{path}.bak' '{path}'" in err, args
        assert snapshot(data_dir) == before, args

    code, lines, err = doctor(capsys, data_dir)
    if damage is None:
        assert (code, err, problems(lines)) == (0, "", [])
        assert lines[-1] == f"healthy: {data_dir}"
        return
    assert code == 1 and snapshot(data_dir) == before
    (problem,) = problems(lines)
    assert problem.startswith(f"problem: {name}: {expected}; {name}.bak (saved ")
    assert problem.endswith(" is valid and can replace it")


# ------------------------------------------------------------------ unreachable folders

COMMANDS = [
    ["list"],
    ["show", "abcd"],
    ["mark", "abcd"],
    ["tag", "abcd", "--add", "x"],
    ["note", "abcd", "--set", "x"],
    ["export"],
    ["stats"],
    ["undo"],
    ["redo"],
]


def refusals(
    capsys: pytest.CaptureFixture[str], data_dir: Path, digest: Path
) -> list[tuple[int, str, str]]:
    """What each command (import too) and doctor say about ``data_dir``."""
    runs = []
    for args in [*COMMANDS, ["import", str(digest)], ["doctor"], ["doctor", "--fix", "--yes"]]:
        code = main(["--data-dir", str(data_dir), *args])
        runs.append((code, *capsys.readouterr()))
    return runs


def test_a_folder_below_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    (tmp_path / "file").write_text("x")
    data_dir = tmp_path / "file" / "sub" / "lib"
    line = (
        f"{data_dir}: cannot be the library folder, {tmp_path / 'file'} is a file; "
        "use another folder (--data-dir) or move that file"
    )
    *commands, (code, out, _), (fixed, fix_out, _) = refusals(capsys, data_dir, digest_paths[0])
    assert all(run == (1, "", f"readinglist: {line}\n") for run in commands), commands
    assert code == fixed == 1
    assert problems(out.splitlines()) == problems(fix_out.splitlines()) == [f"problem: {line}"]
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
@pytest.mark.parametrize("mode", [0o000, 0o300, 0o600])
def test_a_folder_that_cannot_be_read(
    capsys: pytest.CaptureFixture[str], template: Path, tmp_path: Path, mode: int
) -> None:
    data_dir = Path(shutil.copytree(template, tmp_path / "lib"))
    digest = tmp_path / "digest.txt"
    digest.write_text("A Paper Title\nIts abstract.\n")
    before = snapshot(data_dir)
    data_dir.chmod(mode)
    try:
        *commands, (code, out, _), (fixed, fix_out, _) = refusals(capsys, data_dir, digest)
    finally:
        data_dir.chmod(0o700)
    line = (
        f"{data_dir}: cannot read the library folder (Permission denied); check its "
        "permissions or use another folder (--data-dir)"
    )
    assert all(run == (1, "", f"readinglist: {line}\n") for run in commands), commands
    assert code == fixed == 1
    assert problems(out.splitlines()) == problems(fix_out.splitlines()) == [f"problem: {line}"]
    assert snapshot(data_dir) == before
