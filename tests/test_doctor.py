"""`readinglist doctor`: checks that work on a damaged library, and repairs that lose nothing.

Every test works on a real library folder in a temp dir (made by importing the real
digests, or copied from ``tests/fixtures``) and damages real files.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist import contents
from readinglist.catalog import ImportRecord
from readinglist.cli import main
from readinglist.library import Library
from readinglist.lock import Lock, current_command
from readinglist.storage import CATALOG_FILE, LOCK_FILE, backup_path
from tests.libhelpers import NOTE, damaged_versions, make_library, snapshot

Run = tuple[int, list[str], str]
#: Libraries written by earlier releases (see tests/fixtures/README.md).
FIXTURES = Path(__file__).parent / "fixtures"
RESTORE_A_COPY = f"to recover, {contents.RESTORE}"


def doctor(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> Run:
    code = main(["--data-dir", str(data_dir), "doctor", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def command(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str]:
    """Exit status and stderr of one other command."""
    code = main(["--data-dir", str(data_dir), *args])
    return code, capsys.readouterr().err


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("problem: ")]


def home(library: Library, pid: str) -> tuple[ImportRecord, int]:
    """The import whose digest file holds a paper's abstract, and the paper's entry in it."""
    catalog = library.catalog
    slot = catalog.slots[pid]
    return catalog.imports[catalog.homes[0][slot]], catalog.homes[1][slot]


def listed_for(record: ImportRecord) -> str:
    return f"listed for the import of {record.name} on {record.imported_at[:10]}"


def replace_digest_file(data_dir: Path, old: str, data: dict[str, Any]) -> Path:
    """Write ``data`` as a digest file under the name of its bytes' hash, and make
    imports.json list it instead of ``old``: a file that is what it says, yet damaged."""
    payload = orjson.dumps(data)
    path = contents.path_of(data_dir, contents.content_hash(payload))
    path.write_bytes(payload)
    contents.path_of(data_dir, old).unlink()
    imports_path = data_dir / "imports.json"
    imports = orjson.loads(imports_path.read_bytes())
    imports["imports"][path.stem] = imports["imports"].pop(old)
    imports_path.write_bytes(orjson.dumps(imports))
    return path


@pytest.fixture
def lib_dir(tmp_path: Path, digest_paths: list[Path]) -> Path:
    return make_library(tmp_path / "lib", digest_paths).data_dir


def test_healthy_library(capsys: pytest.CaptureFixture[str], lib_dir: Path) -> None:
    code, lines, err = doctor(capsys, lib_dir)
    assert (code, err) == (0, "")
    assert lines[0] == f"checking {lib_dir}"
    assert "ok: imports.json: 5 imports (schema 1)" in lines
    assert "ok: state.json: reading state for 2 papers, 2 undo steps (schema 4)" in lines
    for name in ("imports.json.bak", "state.json.bak"):
        assert any(
            re.fullmatch(
                rf"ok: {re.escape(name)}: valid backup saved \d{{4}}-\d\d-\d\d \d\d:\d\d", x
            )
            for x in lines
        ), name
    assert (
        "ok: digests: the 5 digest files imports.json lists are each intact "
        "(content matching the name), 751 papers"
    ) in lines
    assert "ok: every state and undo step refers to a known paper" in lines
    assert "ok: catalog.bin: up to date, derived from the digest files" in lines
    assert not problems(lines) and not any("papers.json" in line for line in lines)
    assert lines[-1] == f"healthy: {lib_dir}"


# ------------------------------------------------------------------ the layout before digest files


@pytest.mark.parametrize("version", [1, 2])
def test_a_library_of_an_earlier_release(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, version: int
) -> None:
    """Healthy as it is (doctor reads, the next open upgrades), and after the upgrade; the
    originals kept aside (papers.json.schema1.bak, state.json.schemaN.bak) are no leftovers
    for ``--fix``."""
    data_dir = Path(shutil.copytree(FIXTURES / f"v{version}", tmp_path / "lib"))
    before = snapshot(data_dir)
    code, lines, err = doctor(capsys, data_dir, "--fix")
    assert (code, err, problems(lines)) == (0, "", [])
    assert (
        "ok: papers.json: 20 papers from 1 digest (schema 1); the library's layout before "
        "digest files: the next open upgrades it (and keeps this file as papers.json.schema1.bak)"
    ) in lines
    assert "ok: imports.json: not created yet (the next open makes it from papers.json)" in lines
    assert f"ok: state.json: reading state for 4 papers, 5 undo steps (schema {version})" in lines
    assert "ok: every state and undo step refers to a known paper" in lines
    assert not any(line.startswith(("ok: digests", "ok: catalog.bin")) for line in lines)
    assert snapshot(data_dir) == before

    Library(data_dir)
    upgraded = snapshot(data_dir)
    assert {"papers.json.schema1.bak", f"state.json.schema{version}.bak"} <= upgraded.keys()
    assert "papers.json" not in upgraded
    code, lines, err = doctor(capsys, data_dir, "--fix")
    assert (code, err, problems(lines)) == (0, "", [])
    assert "ok: imports.json: 1 import (schema 1)" in lines
    assert "ok: state.json: reading state for 4 papers, 5 undo steps (schema 4)" in lines
    assert (
        "ok: digests: the 1 digest file imports.json lists is intact "
        "(content matching the name), 20 papers"
    ) in lines
    assert "ok: catalog.bin: up to date, derived from the digest files" in lines
    assert not any("papers.json" in line for line in lines)
    assert lines[-1] == f"healthy: {data_dir}"
    assert snapshot(data_dir) == upgraded


def test_an_upgrade_cut_short_is_no_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """imports.json written (the upgrade's commit), papers.json not yet renamed: the next
    open adds nothing it already lists and sets it aside, so doctor only says so."""
    data_dir = Path(shutil.copytree(FIXTURES / "v2", tmp_path / "lib"))
    Library(data_dir)
    os.replace(data_dir / "papers.json.schema1.bak", data_dir / "papers.json")
    before = snapshot(data_dir)
    code, lines, _ = doctor(capsys, data_dir, "--fix", "--yes")
    assert (code, problems(lines)) == (0, [])
    assert (
        "ok: papers.json: beside imports.json, which lists the library's digests (an upgrade "
        "cut short, or a copy an earlier release put back); the next open adds the digests "
        "only it holds (none if it is damaged) and sets it aside, as papers.json.schema1.bak "
        "(numbered if that name is taken)"
    ) in lines
    assert snapshot(data_dir) == before
    assert len(Library(data_dir).papers) == 20
    assert not (data_dir / "papers.json").exists()
    assert (data_dir / "papers.json.schema1.bak").read_bytes() == before["papers.json"]

    # Even a damaged one: the next open does not read it (an earlier release's doctor may
    # have put a papers.json.bak back), so neither does doctor call it a problem.
    (data_dir / "papers.json").write_bytes(b"{")
    code, lines, _ = doctor(capsys, data_dir)
    assert (code, problems(lines)) == (0, [])
    assert len(Library(data_dir).papers) == 20
    assert (data_dir / "papers.json.schema1.bak.2").read_bytes() == b"{"


@pytest.mark.parametrize("with_backup", [True, False], ids=["backup", "no backup"])
def test_a_damaged_papers_json_is_refused_and_restored_from_its_backup(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, with_backup: bool
) -> None:
    """The upgrade refuses a damaged papers.json and leaves it; doctor says so, in the
    commands' words, and restores papers.json.bak (the next open then upgrades it)."""
    data_dir = Path(shutil.copytree(FIXTURES / "v2", tmp_path / "lib"))
    papers = data_dir / "papers.json"
    good = papers.read_bytes()
    if with_backup:
        backup_path(papers).write_bytes(good)
    bad = damaged_versions(good)["truncated"]
    papers.write_bytes(bad)
    before = snapshot(data_dir)

    code, err = command(capsys, data_dir, "list")
    refused = re.fullmatch(
        rf"readinglist: {re.escape(str(papers))}: (.*); the file was left .*\n", err
    )
    assert code == 1 and refused, err
    assert snapshot(data_dir) == before
    code, lines, _ = doctor(capsys, data_dir)
    (problem,) = problems(lines)
    assert code == 1 and problem.startswith(f"problem: papers.json: {refused[1]}; ")
    if not with_backup:
        assert problem.endswith(
            "; no valid backup; move it aside to start afresh, or repair it by hand"
        )
        code, lines, _ = doctor(capsys, data_dir, "--fix", "--yes")
        assert code == 1 and snapshot(data_dir) == before
        return
    assert re.search(
        r"; papers\.json\.bak \(saved [-\d :]+\) is valid and can replace it$", problem
    )
    code, lines, _ = doctor(capsys, data_dir, "--fix", "--yes")
    assert code == 0 and lines[-1] == f"healthy: {data_dir}"
    assert papers.read_bytes() == good
    (aside,) = data_dir.glob("papers.json.corrupt-*")
    assert aside.read_bytes() == bad
    assert len(Library(data_dir).papers) == 20 and not papers.exists()
    assert doctor(capsys, data_dir)[0] == 0


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


# ------------------------------------------------------------------ imports.json and state.json


@pytest.mark.parametrize("name", ["imports.json", "state.json"])
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
    if name == "imports.json":  # which digest files it lists is unknown: not judged
        assert not any(line.startswith(("ok: digests", "ok: catalog.bin")) for line in lines)

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


def test_a_restored_imports_json_lacks_the_last_import(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, digest_paths: list[Path]
) -> None:
    """imports.json.bak is from before the last import: its digest file, no longer listed,
    is described (harmless), and importing the digest again lists it again."""
    path = lib_dir / "imports.json"
    path.write_bytes(b"")
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 0
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 0 and "ok: imports.json: 4 imports (schema 1)" in lines
    assert (
        "ok: digests: 1 digest file that imports.json does not list (an import cut short, or "
        "one a restored imports.json lacks: importing that digest again lists it); harmless"
    ) in lines
    assert (
        "ok: catalog.bin: does not match imports.json; derived from the digest files, "
        "rebuilt by the next open"
    ) in lines
    library = Library(lib_dir)
    assert len(library.digests) == 4
    assert library.import_files(digest_paths[4:]).ok
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 0 and "ok: imports.json: 5 imports (schema 1)" in lines
    assert not any("does not list" in line for line in lines)


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
    library.import_files(digest_paths[:1])  # one save: no imports.json.bak yet
    path = library.store.imports_storage.path
    assert not backup_path(path).exists()
    path.write_bytes(b"null")
    before = snapshot(library.data_dir)
    code, lines, _ = doctor(capsys, library.data_dir, "--fix", "--yes")
    assert code == 1
    assert problems(lines) == [
        "problem: imports.json: top level is null, expected a JSON object; no valid backup; "
        "move it aside to start afresh, or repair it by hand"
    ]
    assert snapshot(library.data_dir) == before


@pytest.mark.parametrize("name", ["imports.json", "state.json"])
def test_newer_schema_is_not_restored_over(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, name: str
) -> None:
    """A file a newer readinglist wrote is not damaged: the fix is upgrading, not the old backup."""
    path = lib_dir / name
    path.write_bytes(damaged_versions(path.read_bytes())["newer schema version"])
    before = snapshot(lib_dir)
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    (problem,) = problems(lines)
    assert code == 1 and problem == (
        f"problem: {name}: schema version 99 is newer than this readinglist understands "
        f"({1 if name == 'imports.json' else 4}); upgrade readinglist"
    )
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
    backup = lib_dir / "imports.json.bak"
    backup.write_bytes(b"{")
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and problems(lines)[0].startswith(
        "problem: imports.json.bak: damaged backup (not valid JSON"
    )
    code, lines, _ = doctor(capsys, lib_dir, "--fix")  # nothing is lost: no question asked
    assert code == 0 and not backup.exists()
    (aside,) = lib_dir.glob("imports.json.bak.corrupt-*")
    assert aside.read_bytes() == b"{"


def test_orphan_state_is_reported_and_kept(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, digest_paths: list[Path]
) -> None:
    """imports.json rolled back to before the last import: state for its papers is kept."""
    library = Library(lib_dir)
    newest = max(library.digests.values(), key=lambda d: d.seq).id
    only_new = [pid for pid in library.ordered() if library.papers[pid].digests == (newest,)][:5]
    assert len(only_new) == 5
    library.mark(only_new)
    (lib_dir / "imports.json").write_bytes((lib_dir / "imports.json.bak").read_bytes())
    state_before = (lib_dir / "state.json").read_bytes()

    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    orphans, history = problems(lines)
    assert code == 1
    shown = re.fullmatch(
        r"problem: state\.json: reading state for 5 papers \((.*) and 2 more\) that no digest "
        r"file holds; kept \(re-importing the digests that listed them brings them back\)",
        orphans,
    )
    assert shown and set(shown[1].split(", ")) < set(only_new)
    assert history.startswith("problem: state.json: undo history refers to 5 papers (")
    assert history.endswith(
        ") that no digest file holds; undoing those steps restores state for them"
    )
    assert (lib_dir / "state.json").read_bytes() == state_before
    # Re-importing the digest brings the papers back with their state (ids come from titles).
    Library(lib_dir).import_files(digest_paths[4:])
    assert doctor(capsys, lib_dir)[0] == 0
    assert all(Library(lib_dir).state(pid).read for pid in only_new)


# ------------------------------------------------------------------ digest files


def test_a_changed_digest_file_is_reported_and_never_replaced(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    library = Library(lib_dir)
    pid = library.ordered()[0]
    record, _ = home(library, pid)
    path = contents.path_of(lib_dir, record.hash)
    good = path.read_bytes()
    path.write_bytes(good.replace(b'"abstract":"', b'"abstract":"Edited. ', 1))
    before = snapshot(lib_dir)
    problem = (
        f"problem: digests/{path.name}: its content does not match its name (the file was "
        f"changed); {listed_for(record)}; {RESTORE_A_COPY}"
    )
    refusal = f"readinglist: {path}: its content does not match its name (the file was changed)"

    # catalog.bin holds the catalog: listing works, what reads the abstract refuses.
    assert command(capsys, lib_dir, "list") == (0, "")
    code, err = command(capsys, lib_dir, "show", pid)
    assert code == 1 and err.startswith(f"{refusal}; the file was left untouched.")
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert (code, problems(lines)) == (1, [problem])
    assert lines[-1] == f"1 problem in {lib_dir}"  # nothing doctor can repair
    assert snapshot(lib_dir) == before

    # Without catalog.bin, opening replays the digest files: every command refuses.
    (lib_dir / CATALOG_FILE).unlink()
    code, err = command(capsys, lib_dir, "list")
    assert code == 1 and err.startswith(f"{refusal}; the file was left untouched.")
    code, lines, _ = doctor(capsys, lib_dir)
    assert (code, problems(lines)) == (1, [problem])
    assert (
        "ok: catalog.bin: not saved yet; derived from the digest files, built by the next open"
        in lines
    )

    # A good copy of the file heals the library.
    path.write_bytes(good)
    assert doctor(capsys, lib_dir)[0] == 0
    assert command(capsys, lib_dir, "show", pid) == (0, "")


def test_a_missing_digest_file_is_reported(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    library = Library(lib_dir)
    record = library.catalog.imports[2]
    path = contents.path_of(lib_dir, record.hash)
    path.unlink()
    (lib_dir / CATALOG_FILE).unlink()
    before = snapshot(lib_dir)
    code, err = command(capsys, lib_dir, "list")
    assert (code, err) == (
        1,
        f"readinglist: {path}: is missing, but imports.json lists it; the file was left "
        f"untouched. To recover, {contents.RESTORE}\n",
    )
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 1 and problems(lines) == [
        f"problem: digests/{path.name}: is missing, but imports.json lists it; "
        f"{listed_for(record)}; {RESTORE_A_COPY}"
    ]
    # Which papers the library holds is unknown: no verdict on the state's references.
    assert not any("refers to" in line or "ok: digests" in line for line in lines)
    assert snapshot(lib_dir) == before


def test_a_digest_file_of_a_newer_release_is_not_called_damaged(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    library = Library(lib_dir)
    record = library.catalog.imports[0]
    data = orjson.loads(contents.path_of(lib_dir, record.hash).read_bytes())
    data["meta"]["schema"]["version"] = 2
    path = replace_digest_file(lib_dir, record.hash, data)
    before = snapshot(lib_dir)
    code, err = command(capsys, lib_dir, "list")
    assert code == 1 and "upgrade readinglist" in err
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 1 and problems(lines) == [
        f"problem: digests/{path.name}: schema version 2 is newer than this readinglist "
        f"understands (1); upgrade readinglist; {listed_for(record)}"
    ]
    assert snapshot(lib_dir) == before


# ------------------------------------------------------------------ catalog.bin


def test_catalog_bin_is_information_never_a_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path]
) -> None:
    """Whatever catalog.bin holds, doctor only describes it, never touches it, and the next
    open brings it up to date."""
    data_dir = tmp_path / "lib"
    assert Library(data_dir).import_files(digest_paths[:4]).ok
    path = data_dir / CATALOG_FILE
    four_imports = path.read_bytes()
    assert Library(data_dir).import_files(digest_paths[4:]).ok
    other = Library(tmp_path / "other")
    assert other.import_files(digest_paths[4:]).ok
    another_library = (tmp_path / "other" / CATALOG_FILE).read_bytes()
    derived = "derived from the digest files"
    cases: dict[str, bytes | None] = {
        f"lacks the last 1 import; {derived}, the next open adds them": four_imports,
        f"does not match imports.json; {derived}, rebuilt by the next open": another_library,
        f"damaged or of another readinglist's format; {derived}, rebuilt by the next open "
        "(nothing is lost)": b"not a catalog",
        f"not saved yet; {derived}, built by the next open": None,
    }
    for expected, payload in cases.items():
        if payload is None:
            path.unlink()
        else:
            path.write_bytes(payload)
        before = snapshot(data_dir)
        code, lines, _ = doctor(capsys, data_dir, "--fix", "--yes")
        assert (code, problems(lines)) == (0, []), expected
        assert f"ok: catalog.bin: {expected}" in lines
        assert snapshot(data_dir) == before
        assert len(Library(data_dir).papers) == 751
        assert f"ok: catalog.bin: up to date, {derived}" in doctor(capsys, data_dir)[1]


# ------------------------------------------------------------------ the lock and temp files


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
    bak_temp = lib_dir / f".imports.json.bak.{pid}.tmp"
    os.link(lib_dir / "imports.json", bak_temp)
    catalog_temp = lib_dir / f".catalog.bin.{pid}.tmp"
    catalog_temp.write_bytes(b"half a catalog")
    digest_file = next((lib_dir / "digests").iterdir())

    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and problems(lines) == [
        f"problem: temp files of an interrupted save: {bak_temp.name}, {temp.name}, "
        f"{catalog_temp.name} (harmless; removed on next open)",
        f"problem: lock: names pid {pid}, which stopped while saving (killed or crashed); harmless",
    ]
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 0
    assert not temp.exists() and not bak_temp.exists() and not catalog_temp.exists()
    assert (lib_dir / LOCK_FILE).read_bytes() == b""
    assert digest_file.exists()


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
    (lib_dir / "imports.json").write_bytes(b"")
    run = [sys.executable, "-m", "readinglist.cli", "--data-dir", str(lib_dir)]
    refused = subprocess.run([*run, "list"], capture_output=True, text=True)
    assert refused.returncode == 1 and "run `readinglist doctor`" in refused.stderr
    fixed = subprocess.run([*run, "doctor", "--fix", "--yes"], capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    listed = subprocess.run([*run, "list", "--json"], capture_output=True, text=True)
    assert listed.returncode == 0 and NOTE.splitlines()[0] in listed.stdout


def test_names_from_data_are_shown_inert(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A digest's name (its file name) is data: a damaged digest file's line shows it inert."""
    data_dir = tmp_path / "lib"
    library = Library(data_dir)
    assert library.import_files([("evil\x1b]52;c;aGk=\x07.txt", b"A Title\nAn abstract.\n")]).ok
    (record,) = library.catalog.imports
    contents.path_of(data_dir, record.hash).write_bytes(b"{}")
    code, lines, _ = doctor(capsys, data_dir)
    (problem,) = problems(lines)
    assert code == 1 and "\x1b" not in problem and "\x07" not in problem
    assert "the import of evil␛]52;c;aGk=␇ on " in problem


# ------------------------------------------------------------------ damaged documents


@dataclass(frozen=True)
class Target:
    """What a damage is done to: a paper (read, in both undo steps' changes), the import
    whose digest file holds it, and its entry number in that file."""

    pid: str
    hash: str
    entry: str


Mutation = Callable[[dict[str, Any], Target], Any]


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


def _same_seq(imports: dict[str, Any]) -> None:
    for doc in imports["imports"].values():
        doc["seq"] = 1


#: name → (file: "imports.json", "state.json" or "digest" (the target's digest file, saved
#: under its new hash), how to damage it, the problem the commands and doctor name).
#: ``{pid}``/``{PID}``/``{pid_g}``/``{hash}``/``{HASH}``/``{entry}`` are filled in.
DAMAGED_DOCUMENTS: dict[str, tuple[str, Mutation, str]] = {
    "seq is text": (
        "imports.json",
        lambda d, t: d["imports"][t.hash].update(seq="3"),
        "imports/{hash}: field 'seq' is \"3\" (text), expected a whole number",
    ),
    "seq is true": (
        "imports.json",
        lambda d, t: d["imports"][t.hash].update(seq=True),
        "imports/{hash}: field 'seq' is true, expected a whole number",
    ),
    "digest id missing": (
        "imports.json",
        lambda d, t: d["imports"][t.hash].pop("digest"),
        "imports/{hash}: field 'digest' is missing, expected a digest id",
    ),
    "import date is a number": (
        "imports.json",
        lambda d, t: d["imports"][t.hash].update(date=13),
        "imports/{hash}: field 'date' is 13 (a number), expected text or null",
    ),
    "import key not a file name": (
        "imports.json",
        lambda d, t: _rename(d["imports"], t.hash, t.hash.upper()),
        "imports/{HASH}: not a digest file's name (32 lowercase hex characters)",
    ),
    "two imports with one seq": (
        "imports.json",
        lambda d, t: _same_seq(d),
        "imports: two imports have the same 'seq'",
    ),
    "imports table is a list": (
        "imports.json",
        lambda d, t: d.update(imports=list(d["imports"].values())),
        "table 'imports' is a list of 5 items, expected an object of documents",
    ),
    "title is a number": (
        "digest",
        lambda d, t: d["papers"][t.entry].update(title=123),
        "papers/{entry}: field 'title' is 123 (a number), expected text",
    ),
    "abstract missing": (
        "digest",
        lambda d, t: d["papers"][t.entry].pop("abstract"),
        "papers/{entry}: field 'abstract' is missing, expected text",
    ),
    "links is text": (
        "digest",
        lambda d, t: d["papers"][t.entry].update(links="https://x.org"),
        "papers/{entry}: field 'links' is \"https://x.org\" (text), expected a list of text",
    ),
    "fetched is text": (
        "digest",
        lambda d, t: d["digest"]["info"].update(fetched="no"),
        "digest/info: field 'fetched' is \"no\" (text), expected true or false",
    ),
    "no digest info": (
        "digest",
        lambda d, t: d.update(digest={}),
        "table 'digest' must hold one document, 'info'",
    ),
    "digest file of another kind": (
        "digest",
        lambda d, t: d["meta"]["schema"].update(kind="state"),
        "holds 'state' data, expected 'digest'",
    ),
    "tags are numbers": (
        "state.json",
        lambda d, t: d["state"][t.pid].update(tags=["ok", 2]),
        "state/{pid}: field 'tags[1]' is 2 (a number), expected text",
    ),
    "tags is text": (
        "state.json",
        lambda d, t: d["state"][t.pid].update(tags="ml"),
        "state/{pid}: field 'tags' is \"ml\" (text), expected a list of text",
    ),
    "note is null": (
        "state.json",
        lambda d, t: d["state"][t.pid].update(note=None),
        "state/{pid}: field 'note' is null, expected text",
    ),
    "status is a number": (
        "state.json",
        lambda d, t: d["state"][t.pid].update(status=1),
        "state/{pid}: field 'status' is 1 (a number), "
        "expected new, later, read, skipped or snoozed",
    ),
    "status unknown": (
        "state.json",
        lambda d, t: d["state"][t.pid].update(status="done"),
        "state/{pid}: field 'status' is \"done\" (text), "
        "expected new, later, read, skipped or snoozed",
    ),
    "read is text in an earlier schema": (
        "state.json",
        lambda d, t: _schema_2_read(d, t.pid, "yes"),
        "state/{pid}: field 'read' is \"yes\" (text), expected true or false",
    ),
    "state is text": (
        "state.json",
        lambda d, t: d["state"].update({t.pid: "read"}),
        'state/{pid}: the document is "read" (text), expected an object',
    ),
    "state id not hex": (
        "state.json",
        lambda d, t: _rename(d["state"], t.pid, t.pid[:-1] + "g"),
        "state/{pid_g}: the id is not a paper id (12 lowercase hex characters)",
    ),
    "history key": (
        "state.json",
        lambda d, t: _rename(d["history"], "1", "one"),
        "history/one: key is not a whole number (an undo step's number)",
    ),
    "undo step without after": (
        "state.json",
        lambda d, t: _old_step_without_after(d, t.pid),
        "history/1: field 'after' is missing, expected an object of paper states",
    ),
    "change of an unknown field": (
        "state.json",
        lambda d, t: d["history"]["1"].update(changes={t.pid: {"colour": ["red", "blue"]}}),
        "history/1: field 'changes.{pid}.colour' is not a reading-state field "
        "(status, tags, note, read_at, decided_at, snoozed_until, resurfaced, updated)",
    ),
    "change of the wrong type": (
        "state.json",
        lambda d, t: d["history"]["1"].update(changes={t.pid: {"status": ["new", 1]}}),
        "history/1: field 'changes.{pid}.status[1]' is 1 (a number), "
        "expected new, later, read, skipped or snoozed",
    ),
    "history table is a list": (
        "state.json",
        lambda d, t: d.update(history=[]),
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
    record, entry = home(library, pid)
    target = Target(pid, record.hash, str(entry + 1))
    if damage is None:  # the same files, rewritten: healthy, and every command works
        name, mutate, expected = "state.json", lambda d, t: None, ""
    else:
        name, mutate, expected = DAMAGED_DOCUMENTS[damage]
    expected = expected.format(
        pid=pid, PID=pid.upper(), pid_g=pid[:-1] + "g", hash=record.hash,
        HASH=record.hash.upper(), entry=target.entry,
    )  # fmt: skip
    if name == "digest":
        data = orjson.loads(contents.path_of(data_dir, record.hash).read_bytes())
        mutate(data, target)
        path = replace_digest_file(data_dir, record.hash, data)
        shown = f"digests/{path.name}"
    else:
        path = data_dir / name
        data = orjson.loads(path.read_bytes())
        mutate(data, target)
        path.write_bytes(orjson.dumps(data))
        shown = name
    before = snapshot(data_dir)

    for args in (["list"], ["show", pid], ["mark", pid, "--unread"], ["export"]):
        code = main(["--data-dir", str(data_dir), *args])
        out, err = capsys.readouterr()
        if damage is None:
            assert (code, err) == (0, ""), args
            continue
        assert (code, out) == (1, ""), args
        assert err.startswith(f"readinglist: {path}: {expected}; the file was left untouched. ")
        assert err.count("\n") == 1, args
        if name != "digest":
            assert f"cp '{path}.bak' '{path}'" in err, args
        assert snapshot(data_dir) == before, args

    code, lines, err = doctor(capsys, data_dir)
    if damage is None:
        assert (code, err, problems(lines)) == (0, "", [])
        assert lines[-1] == f"healthy: {data_dir}"
        return
    assert code == 1 and snapshot(data_dir) == before
    (problem,) = problems(lines)
    if name == "digest":
        assert problem == f"problem: {shown}: {expected}; {listed_for(record)}; {RESTORE_A_COPY}"
    else:
        assert problem.startswith(f"problem: {shown}: {expected}; {shown}.bak (saved ")
        assert problem.endswith(" is valid and can replace it")


# ------------------------------------------------------------------ core bugs


def test_the_refusal_of_a_digest_file_gives_a_recovery_that_works(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    record = Library(lib_dir).catalog.imports[0]
    path = contents.path_of(lib_dir, record.hash)
    path.write_bytes(path.read_bytes() + b" ")
    (lib_dir / CATALOG_FILE).unlink()
    code, err = command(capsys, lib_dir, "list")
    assert code == 1
    assert "aside to start afresh" not in err
    assert err.endswith(f"To recover, {contents.RESTORE}\n"), err


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
