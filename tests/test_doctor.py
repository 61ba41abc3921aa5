"""`readinglist doctor`: checks that work on a damaged library, and repairs that lose nothing.

Every test works on a real library folder in a temp dir (made by importing the real
digests, or copied from ``tests/fixtures``) and damages real files: this device's journal
(``journals/<device id>.json``), the layout marker ``state.json``, digest files, other
devices' journals and the copies sync engines make of journals, and the files of the
single-device layout (``imports.json``, a ``state.json`` with documents) that the next open
moves into this device's journal.
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

from readinglist import contents, layout
from readinglist.catalog import ImportRecord
from readinglist.cli import main
from readinglist.device import Device
from readinglist.errors import LibraryCorrupt
from readinglist.library import Library
from readinglist.lock import Lock, current_command
from readinglist.storage import (
    CATALOG_FILE,
    IMPORTS_FILE,
    JOURNALS_DIR,
    LOCK_FILE,
    STATE_FILE,
    backup_path,
    read_journal,
)
from tests.libhelpers import (
    JOURNAL,
    NOTE,
    copy_library,
    current_device,
    damaged_versions,
    edit_journals,
    journal_file,
    library_file,
    make_library,
    merged,
    rename_to_hash,
    single_device_layout,
    snapshot,
    user_files,
)

Run = tuple[int, list[str], str]
#: Libraries written by earlier releases (see tests/fixtures/README.md).
FIXTURES = Path(__file__).parent / "fixtures"
RESTORE_A_COPY = f"to recover, {contents.RESTORE}"
#: Another device sharing the library folder (through a sync engine).
DESKTOP = Device("2" * 16, "desktop")
#: A digest none of the real ones holds, for imports made during a test.
EXTRA = ("extra.txt", b"A Paper Only The Desktop Imported\nIts abstract.\n")


def doctor(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> Run:
    code = main(["--data-dir", str(data_dir), "doctor", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def command(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str]:
    """Exit status and stderr of one other command."""
    code = main(["--data-dir", str(data_dir), *args])
    return code, capsys.readouterr().err


def shown(path: Path) -> str:
    """How doctor names a library file: from the library folder."""
    return f"{path.parent.name}/{path.name}" if path.parent.name == JOURNALS_DIR else path.name


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
    """Write ``data`` as a digest file under the name of its bytes' hash, and make the
    journal's import name it instead of ``old``: a file that is what it says, yet damaged."""
    return rename_to_hash(contents.path_of(data_dir, old), orjson.dumps(data))


def readable_state(data_dir: Path) -> dict[str, Any]:
    """The merged reading state of every journal, read without a Library."""
    return {pid: state.to_doc() for pid, state in merged(data_dir).states().items()}


@pytest.fixture
def lib_dir(tmp_path: Path, digest_paths: list[Path]) -> Path:
    return make_library(tmp_path / "lib", digest_paths).data_dir


def test_healthy_library(capsys: pytest.CaptureFixture[str], lib_dir: Path) -> None:
    code, lines, err = doctor(capsys, lib_dir)
    assert (code, err) == (0, "")
    own = journal_file(lib_dir)
    assert lines[0] == f"checking {lib_dir}"
    assert (
        "ok: state.json: marks the layout; the reading state lives in journals/ (schema 5)"
    ) in lines
    device = current_device()
    assert f"ok: {shown(own)}: this device's journal ({device.name}), 7 changes (schema 1)" in lines
    assert any(
        re.fullmatch(
            rf"ok: {re.escape(shown(own))}\.bak: valid backup saved \d{{4}}-\d\d-\d\d \d\d:\d\d", x
        )
        for x in lines
    ), lines
    assert not any("state.json.bak" in line for line in lines)  # the marker is written once
    assert (
        "ok: digests: the 5 digest files the journals list are each intact "
        "(content matching the name), 751 papers"
    ) in lines
    assert "ok: every state and undo step refers to a known paper" in lines
    assert "ok: catalog.bin: up to date, derived from the digest files" in lines
    assert not problems(lines) and not any("papers.json" in line for line in lines)
    assert not any(IMPORTS_FILE in line or "wait for" in line for line in lines)
    assert lines[-1] == f"healthy: {lib_dir}"


# ------------------------------------------------------------------ earlier layouts


@pytest.mark.parametrize("version", [1, 2])
def test_a_library_of_an_earlier_release(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, version: int
) -> None:
    """Healthy as it is (doctor reads, the next open upgrades it and moves it into this
    device's journal), and after; the originals kept aside (papers.json.schema1.bak,
    state.json.schemaN.bak, imports.json.schema1.bak) are no leftovers for ``--fix``."""
    data_dir = Path(shutil.copytree(FIXTURES / f"v{version}", tmp_path / "lib"))
    before = snapshot(data_dir)
    code, lines, err = doctor(capsys, data_dir, "--fix")
    assert (code, err, problems(lines)) == (0, "", [])
    assert (
        "ok: papers.json: 20 papers from 1 digest (schema 1); the library's layout before "
        "digest files: the next open upgrades it (and keeps this file as papers.json.schema1.bak)"
    ) in lines
    assert (
        "ok: state.json: reading state for 4 papers, 5 undo steps (the single-device layout: "
        f"the next open moves them into this device's journal) (schema {version})"
    ) in lines
    own = journal_file(data_dir)
    assert f"ok: {shown(own)}: not created yet (nothing saved so far)" in lines
    assert "ok: every state and undo step refers to a known paper" in lines
    assert not any(line.startswith(("ok: digests", "ok: catalog.bin")) for line in lines)
    assert snapshot(data_dir) == before

    states = Library(data_dir).stateful()
    upgraded = snapshot(data_dir)
    assert {
        "papers.json.schema1.bak",
        f"state.json.schema{version}.bak",
        "imports.json.schema1.bak",
    } <= upgraded.keys()
    assert not {"papers.json", IMPORTS_FILE} & upgraded.keys()
    code, lines, err = doctor(capsys, data_dir, "--fix")
    assert (code, err, problems(lines)) == (0, "", [])
    assert (
        "ok: state.json: marks the layout; the reading state lives in journals/ (schema 5)"
    ) in lines
    assert any(line.startswith(f"ok: {shown(own)}: this device's journal (") for line in lines)
    assert (
        "ok: digests: the 1 digest file the journals list is intact "
        "(content matching the name), 20 papers"
    ) in lines
    assert "ok: every state and undo step refers to a known paper" in lines
    assert "ok: catalog.bin: up to date, derived from the digest files" in lines
    assert not any("papers.json" in line or IMPORTS_FILE in line for line in lines)
    assert lines[-1] == f"healthy: {data_dir}"
    assert snapshot(data_dir) == upgraded
    assert len(states) == 4 and Library(data_dir).stateful() == states


def test_an_upgrade_cut_short_is_no_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """imports.json written (the upgrade's commit), papers.json not yet renamed, nothing
    moved into a journal yet: the next open adds nothing imports.json already lists, sets
    papers.json aside and moves the library into this device's journal, so doctor only
    says so."""
    data_dir = Path(shutil.copytree(FIXTURES / "v2", tmp_path / "lib"))
    layout.upgrade(data_dir)  # the upgrade to digest files, not yet the move to journals
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
    assert (
        "ok: imports.json: 1 import (the single-device layout: the next open moves them into "
        "this device's journal) (schema 1)"
    ) in lines
    assert snapshot(data_dir) == before
    assert len(Library(data_dir).papers) == 20
    assert not (data_dir / "papers.json").exists() and not (data_dir / IMPORTS_FILE).exists()
    assert (data_dir / "papers.json.schema1.bak").read_bytes() == before["papers.json"]
    assert doctor(capsys, data_dir)[0] == 0


def test_a_damaged_papers_json_beside_imports_json_is_no_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The next open does not read a papers.json beside imports.json (an earlier release's
    doctor may have put a papers.json.bak back), so neither does doctor call it a problem."""
    data_dir = Path(shutil.copytree(FIXTURES / "v2", tmp_path / "lib"))
    layout.upgrade(data_dir)
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


# ------------------------------------------------------------------ the journal and state.json


@pytest.mark.parametrize("damage", ["truncated", "null", "invalid utf-8", "unknown schema version"])
def test_a_damaged_journal_is_restored_from_backup_and_kept_aside(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, damage: str
) -> None:
    path = journal_file(lib_dir)
    name = shown(path)
    good_backup = backup_path(path).read_bytes()
    bad = damaged_versions(path.read_bytes())[damage]
    path.write_bytes(bad)
    before = snapshot(lib_dir)

    code, lines, _ = doctor(capsys, lib_dir)
    (problem,) = problems(lines)
    assert code == 1 and problem.startswith(f"problem: {name}: ")
    assert f"{name}.bak (saved " in problem and "can replace it" in problem
    assert lines[-1].endswith("1 can be repaired with `readinglist doctor --fix`")
    # Which digest files the journal lists is unknown: not judged.
    assert not any(line.startswith(("ok: digests", "ok: catalog.bin")) for line in lines)

    # Not a terminal and no --yes: nothing is restored.
    code, lines, err = doctor(capsys, lib_dir, "--fix")
    assert code == 1 and "not asked (stdin is not a terminal; add --yes to agree)" in err
    assert snapshot(lib_dir) == before

    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 0 and lines[-1] == f"healthy: {lib_dir}"
    assert path.read_bytes() == good_backup
    (aside,) = path.parent.glob(f"{path.name}.corrupt-*")
    assert aside.read_bytes() == bad
    assert any(line.startswith(f"fixed: restored {name} from {name}.bak") for line in lines)
    library = Library(lib_dir)  # opens again, without the last save (the note)
    assert library.stats().read == 1 and NOTE not in {s.note for s in library.stateful().values()}


def test_a_restored_journal_lacks_the_last_import(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """The journal's .bak is from before the last import: its digest file, no longer listed,
    is described (harmless), and importing the digest again lists it."""
    library = Library(lib_dir)
    assert library.import_files([EXTRA]).ok
    path = journal_file(lib_dir)
    path.write_bytes(b"")
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 0
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 0
    assert any(
        line.startswith(f"ok: {shown(path)}: this device's journal (") and "7 changes" in line
        for line in lines
    ), lines
    assert (
        "ok: digests: 1 digest file that the journals do not list (an import cut short, or "
        "one a restored file lacks: importing that digest again lists it); harmless"
    ) in lines
    assert (
        "ok: catalog.bin: does not match the imports; derived from the digest files, "
        "rebuilt by the next open"
    ) in lines
    library = Library(lib_dir)
    assert len(library.digests) == 5
    assert library.import_files([EXTRA]).ok
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 0 and "ok: digests: the 6 digest files the journals list" in "\n".join(lines)
    assert not any("do not list" in line for line in lines)


def test_restore_asks_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lib_dir: Path
) -> None:
    path = journal_file(lib_dir)
    path.write_bytes(path.read_bytes()[:100])
    name = re.escape(shown(path))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 1 and len(path.read_bytes()) == 100
    assert re.search(
        rf"^Restore {name} from {name}\.bak \(saved \d{{4}}-\d\d-\d\d \d\d:\d\d\)\? "
        r"\[y/N\] skipped",
        "\n".join(lines),
        re.MULTILINE,
    )
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 0 and path.read_bytes() == backup_path(path).read_bytes()


@pytest.mark.parametrize("name", [JOURNAL, STATE_FILE])
def test_damaged_file_without_backup_is_left_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, digest_paths: list[Path], name: str
) -> None:
    """One save: the journal has no .bak yet; state.json, the marker, is written once."""
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    path = library_file(library.data_dir, name)
    assert path.exists() and not backup_path(path).exists()
    path.write_bytes(b"null")
    before = snapshot(library.data_dir)
    code, err = command(capsys, library.data_dir, "list")
    assert code == 1 and err.startswith(
        f"readinglist: {path}: top level is null, expected a JSON object; the file was left "
        f"untouched. To recover, no backup exists; move '{path}' aside"
    )
    code, lines, _ = doctor(capsys, library.data_dir, "--fix", "--yes")
    assert code == 1
    assert problems(lines) == [
        f"problem: {shown(path)}: top level is null, expected a JSON object; no valid backup; "
        "move it aside to start afresh, or repair it by hand"
    ]
    assert snapshot(library.data_dir) == before


@pytest.mark.parametrize(("name", "supported"), [(JOURNAL, 1), (STATE_FILE, 5), (IMPORTS_FILE, 1)])
def test_newer_schema_is_not_restored_over(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, name: str, supported: int
) -> None:
    """A file a newer readinglist wrote is not damaged: the fix is upgrading, not the old
    backup (imports.json: of the single-device layout)."""
    if name == IMPORTS_FILE:
        single_device_layout(lib_dir)
    path = library_file(lib_dir, name)
    path.write_bytes(damaged_versions(path.read_bytes())["newer schema version"])
    before = snapshot(lib_dir)
    code, err = command(capsys, lib_dir, "list")
    assert code == 1 and "upgrade readinglist" in err
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    (problem,) = problems(lines)
    assert code == 1 and problem == (
        f"problem: {shown(path)}: schema version 99 is newer than this readinglist understands "
        f"({supported}); upgrade readinglist"
    )
    assert snapshot(lib_dir) == before


def test_missing_journal_with_backup_is_restorable(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    path = journal_file(lib_dir)
    path.unlink()
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and f"{shown(path)}: is missing but its backup is there" in problems(lines)[0]
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 0
    assert Library(lib_dir).stats().read == 1


def test_damaged_backup_is_moved_aside(capsys: pytest.CaptureFixture[str], lib_dir: Path) -> None:
    backup = backup_path(journal_file(lib_dir))
    backup.write_bytes(b"{")
    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and problems(lines)[0].startswith(
        f"problem: {shown(backup)}: damaged backup (not valid JSON"
    )
    code, lines, _ = doctor(capsys, lib_dir, "--fix")  # nothing is lost: no question asked
    assert code == 0 and not backup.exists()
    (aside,) = backup.parent.glob(f"{backup.name}.corrupt-*")
    assert aside.read_bytes() == b"{"


def test_orphan_state_is_reported_and_kept(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, digest_paths: list[Path]
) -> None:
    """The journal's last import removed by another program: state for its papers is kept."""
    library = Library(lib_dir)
    newest = library.catalog.imports[-1]
    only_new = [
        pid for pid in library.ordered() if library.papers[pid].digests == (newest.digest,)
    ][:5]
    assert len(only_new) == 5
    library.mark(only_new)

    def drop_import(data: dict[str, Any]) -> bool:
        changes = data["changes"]
        (key,) = [k for k, e in changes.items() if e.get("import", {}).get("hash") == newest.hash]
        del changes[key]
        return True

    edit_journals(lib_dir, drop_import)
    journal_before = journal_file(lib_dir).read_bytes()

    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    orphans, history = problems(lines)
    assert code == 1
    shown = re.fullmatch(
        r"problem: reading state for 5 papers \((.*) and 2 more\) that no digest "
        r"file holds; kept \(re-importing the digests that listed them brings them back\)",
        orphans,
    )
    assert shown and set(shown[1].split(", ")) < set(only_new)
    assert history.startswith("problem: undo history refers to 5 papers (")
    assert history.endswith(
        ") that no digest file holds; undoing those steps restores state for them"
    )
    assert journal_file(lib_dir).read_bytes() == journal_before
    # Re-importing the digest brings the papers back with their state (ids come from titles).
    Library(lib_dir).import_files(digest_paths[4:])
    assert doctor(capsys, lib_dir)[0] == 0
    assert all(Library(lib_dir).state(pid).read for pid in only_new)


# ------------------------------------------------------------------ other devices' journals


def desktop_journal(data_dir: Path) -> Path:
    return journal_file(data_dir, DESKTOP)


def test_another_devices_journal_cut_short_is_reported_and_skipped(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """A copy the sync engine has not finished: a problem naming the file (no repair: the
    engine or the device that owns it completes it); every command works and ignores it."""
    desktop = Library(lib_dir, DESKTOP)
    pid = desktop.ordered()[10]
    desktop.tag([pid], add=["desktop"])
    path = desktop_journal(lib_dir)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LibraryCorrupt) as info:
        read_journal(path)
    before = user_files(lib_dir)  # catalog.bin: the first list saves it folded

    for args in (["list"], ["show", pid], ["export"], ["stats"]):
        assert command(capsys, lib_dir, *args) == (0, ""), args
    assert Library(lib_dir).state(pid).tags == ()  # its changes are not seen
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 1 and problems(lines) == [
        f"problem: {JOURNALS_DIR}/{path.name}: {info.value.problem}; skipped by every command "
        "(a copy the sync engine has not finished, or damaged; the device that owns it "
        "rewrites it whole with its next change)"
    ]
    assert lines[-1] == f"1 problem in {lib_dir}"
    assert user_files(lib_dir) == before

    # A command that changes the library still works, and leaves the copy alone.
    assert command(capsys, lib_dir, "mark", pid) == (0, "")
    assert path.read_bytes() == whole[: len(whole) // 2]
    # The copy completed: healthy, and its changes count.
    path.write_bytes(whole)
    code, lines, _ = doctor(capsys, lib_dir)
    assert (code, problems(lines)) == (0, [])
    assert f"ok: {JOURNALS_DIR}/{path.name}: the journal of device desktop ({DESKTOP.id}), " in (
        "\n".join(lines)
    )
    assert Library(lib_dir).state(pid).tags == ("desktop",)


@pytest.mark.parametrize(
    ("owner", "copy_name"),
    [
        ("desktop", "{id}.sync-conflict-20240301-101500-ABCDEFG.json"),
        ("this device", "{id} (conflicted copy 2024-03-01).json"),
    ],
)
def test_a_redundant_conflict_copy_is_removed_by_fix(
    capsys: pytest.CaptureFixture[str], lib_dir: Path, owner: str, copy_name: str
) -> None:
    """A sync engine's conflict copy of a journal, holding nothing the journal lacks: a
    problem with a repair (no question: nothing is lost), and the state stays the same."""
    desktop = Library(lib_dir, DESKTOP)
    desktop.tag([desktop.ordered()[10]], add=["desktop"])
    device = DESKTOP if owner == "desktop" else current_device()
    source = journal_file(lib_dir, device)
    copy = source.with_name(copy_name.format(id=device.id))
    shutil.copyfile(source, copy)
    state = readable_state(lib_dir)
    opened = Library(lib_dir).stateful()
    who = "device desktop (2222222222222222)" if owner == "desktop" else "this device"

    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and problems(lines) == [
        f"problem: {JOURNALS_DIR}/{copy.name}: a copy a sync engine made of the journal of "
        f"{who}; everything in it is in the journal itself, so it is redundant"
    ]
    assert lines[-1] == f"1 problem in {lib_dir}; 1 can be repaired with `readinglist doctor --fix`"
    code, lines, _ = doctor(capsys, lib_dir, "--fix")
    assert code == 0, lines
    assert f"fixed: removed {JOURNALS_DIR}/{copy.name} (a redundant copy)" in lines
    assert lines[-1] == f"healthy: {lib_dir}"
    assert not copy.exists() and source.exists()
    assert readable_state(lib_dir) == state
    assert Library(lib_dir).stateful() == opened


def test_a_conflict_copy_with_changes_the_journal_lacks_is_kept(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """A conflict copy holding a change its journal lacks: merged like the journal (the
    change counts), reported ok, and never removed."""
    desktop = Library(lib_dir, DESKTOP)
    pid = desktop.ordered()[10]
    desktop.tag([pid], add=["desktop"])
    path = desktop_journal(lib_dir)
    older = path.read_bytes()
    desktop.tag([pid], add=["later"])
    copy = path.with_name(f"{DESKTOP.id}.sync-conflict-20240301-101500-ABCDEFG.json")
    os.replace(path, copy)
    path.write_bytes(older)  # the journal as the other side of the conflict had it
    before = snapshot(lib_dir)

    assert Library(lib_dir).state(pid).tags == ("desktop", "later")
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert (code, problems(lines)) == (0, [])
    assert (
        f"ok: {JOURNALS_DIR}/{copy.name}: a copy a sync engine made of the journal of device "
        f"desktop ({DESKTOP.id}), with 1 change the journal lacks; merged like the journal "
        "itself, and folded into it by that device's next change"
    ) in lines
    assert snapshot(lib_dir) == before


def test_an_import_waiting_for_its_digest_file_is_no_problem(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """Another device's import whose digest file the sync engine has not brought yet:
    reported ok; it counts once the file arrives."""
    desktop = Library(lib_dir, DESKTOP)
    assert desktop.import_files([EXTRA]).ok
    (record,) = [r for r in desktop.catalog.imports if r.name == "extra"]
    digest = contents.path_of(lib_dir, record.hash)
    payload = digest.read_bytes()
    digest.unlink()
    (lib_dir / CATALOG_FILE).unlink()
    before = snapshot(lib_dir)

    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert (code, problems(lines)) == (0, [])
    assert (
        "ok: digests: 1 import of other devices wait for their digest files (the sync engine "
        "has not brought them yet); they count once they arrive"
    ) in lines
    assert (
        "ok: digests: the 5 digest files the journals list are each intact "
        "(content matching the name), 751 papers"
    ) in lines
    assert snapshot(lib_dir) == before
    assert command(capsys, lib_dir, "list") == (0, "")
    assert len(Library(lib_dir).papers) == 751

    digest.write_bytes(payload)  # the sync engine brings it
    code, lines, _ = doctor(capsys, lib_dir)
    assert (code, problems(lines)) == (0, [])
    assert not any("wait for" in line for line in lines)
    assert "the 6 digest files the journals list are each intact" in "\n".join(lines)
    assert len(Library(lib_dir).papers) == 752


def test_state_for_an_import_waiting_for_its_digest_file_is_no_problem(
    capsys: pytest.CaptureFixture[str], lib_dir: Path
) -> None:
    """The other device marked the paper it imported, and its journal arrived before the
    digest file: a normal moment of syncing, not damage."""
    desktop = Library(lib_dir, DESKTOP)
    assert desktop.import_files([EXTRA]).ok
    (record,) = [r for r in desktop.catalog.imports if r.name == "extra"]
    (pid,) = [p for p, paper in desktop.papers.items() if paper.digests == (record.digest,)]
    desktop.mark([pid])
    contents.path_of(lib_dir, record.hash).unlink()
    assert command(capsys, lib_dir, "list") == (0, "")
    code, lines, _ = doctor(capsys, lib_dir)
    assert any("wait for their digest files" in line for line in lines)
    assert (code, problems(lines)) == (0, [])


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
    before = user_files(lib_dir)  # catalog.bin: the first list saves it folded
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
    assert user_files(lib_dir) == before

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
        f"readinglist: {path}: is missing, but the library lists its import; the file was "
        f"left untouched. To recover, {contents.RESTORE}\n",
    )
    code, lines, _ = doctor(capsys, lib_dir, "--fix", "--yes")
    assert code == 1 and problems(lines) == [
        f"problem: digests/{path.name}: is missing, but the library lists its import; "
        f"{listed_for(record)}; {RESTORE_A_COPY}"
    ]
    # Which papers the library holds is unknown: no verdict on the state's references.
    assert not any("refers to" in line or "ok: digests" in line for line in lines)
    assert not any("wait for" in line for line in lines)  # this device's import: no waiting
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
        f"does not match the imports; {derived}, rebuilt by the next open": another_library,
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
    own = journal_file(lib_dir)
    bak_temp = own.with_name(f".{own.name}.bak.{pid}.tmp")
    os.link(own, bak_temp)
    catalog_temp = lib_dir / f".catalog.bin.{pid}.tmp"
    catalog_temp.write_bytes(b"half a catalog")
    digest_file = next((lib_dir / "digests").iterdir())

    code, lines, _ = doctor(capsys, lib_dir)
    assert code == 1 and problems(lines) == [
        f"problem: temp files of an interrupted save: {temp.name}, {catalog_temp.name}, "
        f"{bak_temp.name} (harmless; removed on next open)",
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
    # One more save, so that the journal's .bak (which doctor restores) holds the note.
    assert Library(lib_dir).tag([Library(lib_dir).ordered()[3]], add=["later"]) is not None
    journal_file(lib_dir).write_bytes(b"")
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
    """What a damage is done to: a paper (read, then tagged and the tag undone), the import
    whose digest file holds it, its entry number in that file, and the keys of this
    device's journal entries: the mark, the note, the tag, the undo, and that import."""

    pid: str
    hash: str
    entry: str
    mark: str
    note: str
    tag: str
    undo: str
    imported: str


Mutation = Callable[[dict[str, Any], Target], Any]


def _rename(table: dict[str, Any], old: str, new: str) -> None:
    table[new] = table.pop(old)


def _op(journal: dict[str, Any], key: str) -> dict[str, Any]:
    """The first op of one journal entry."""
    op: dict[str, Any] = journal["changes"][key]["ops"][0]
    return op


def _give_import(journal: dict[str, Any], target: Target) -> None:
    """The mark entry with the import record of an import entry, as if it were one."""
    record = journal["changes"][target.imported]["import"]
    journal["changes"][target.mark]["import"] = record


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


#: Where a damage is done: this device's journal, state.json (the marker of the journal
#: layout), imports.json and state.json of the single-device layout (made by
#: ``single_device_layout``, which the next open would move into the journal), or the
#: target's digest file (saved under its new hash).
MARKER = "marker"
SINGLE_IMPORTS = "single-device imports.json"
SINGLE_STATE = "single-device state.json"
DIGEST = "digest"
STATUS_VALUE = "changes/{mark!r}: ops[0]: field 'o' or 'n' is not a status value"

#: name → (where, how to damage it, the problem the commands and doctor name).
#: ``{pid}``/``{pid_g}``/``{hash}``/``{HASH}``/``{entry}``, and the journal keys
#: ``{mark!r}``/``{note!r}``/``{tag!r}``/``{undo!r}``/``{imported!r}`` are filled in.
DAMAGED_DOCUMENTS: dict[str, tuple[str, Mutation, str]] = {
    # this device's journal
    "status unknown": (
        JOURNAL,
        lambda d, t: _op(d, t.mark)["n"].update(status="done"),
        STATUS_VALUE,
    ),
    "status is a number": (JOURNAL, lambda d, t: _op(d, t.mark).update(n=1), STATUS_VALUE),
    "status lacks a field": (
        JOURNAL,
        lambda d, t: _op(d, t.mark)["n"].pop("read_at"),
        STATUS_VALUE,
    ),
    "tag value not a bool": (
        JOURNAL,
        lambda d, t: _op(d, t.tag).update(n="yes"),
        "changes/{tag!r}: ops[0]: field 'o' or 'n' is not a tag value",
    ),
    "note is null": (
        JOURNAL,
        lambda d, t: _op(d, t.note).update(n=None),
        "changes/{note!r}: ops[0]: field 'o' or 'n' is not a note value",
    ),
    "note base not stamps": (
        JOURNAL,
        lambda d, t: _op(d, t.note).update(b=[[1, 2]]),
        "changes/{note!r}: field 'ops[0].b' is not a stamp",
    ),
    "op of an unknown field": (
        JOURNAL,
        lambda d, t: _op(d, t.mark).update(f="colour"),
        "changes/{mark!r}: ops[0]: field 'f' is not status, note or tag:<name>",
    ),
    "op paper id not hex": (
        JOURNAL,
        lambda d, t: _op(d, t.mark).update(p=t.pid[:-1] + "g"),
        "changes/{mark!r}: ops[0]: field 'p' is not a paper id",
    ),
    "op is text": (
        JOURNAL,
        lambda d, t: d["changes"][t.mark].update(ops=["read"]),
        "changes/{mark!r}: ops[0] is not an object",
    ),
    "ops is an object": (
        JOURNAL,
        lambda d, t: d["changes"][t.mark].update(ops={}),
        "changes/{mark!r}: field 'ops' is not a list",
    ),
    "entry key not a stamp": (
        JOURNAL,
        lambda d, t: _rename(d["changes"], t.mark, "one"),
        "changes/'one': key is not a stamp (wall.counter)",
    ),
    "entry is text": (
        JOURNAL,
        lambda d, t: d["changes"].update({t.mark: "read"}),
        "changes/{mark!r}: is not an object",
    ),
    "entry kind unknown": (
        JOURNAL,
        lambda d, t: d["changes"][t.mark].update(kind="edit"),
        "changes/{mark!r}: field 'kind' is not one of change, history, import, redo, "
        "snapshot, undo",
    ),
    "entry time is a number": (
        JOURNAL,
        lambda d, t: d["changes"][t.mark].update(at=5),
        "changes/{mark!r}: field 'at' is not a time",
    ),
    "undo without of": (
        JOURNAL,
        lambda d, t: d["changes"][t.undo].pop("of"),
        "changes/{undo!r}: field 'of' belongs to an undo or redo, and only there",
    ),
    "undo of text": (
        JOURNAL,
        lambda d, t: d["changes"][t.undo].update(of="the tag"),
        "changes/{undo!r}: field 'of' is not a stamp",
    ),
    "a change with of": (
        JOURNAL,
        lambda d, t: d["changes"][t.mark].update(of=[1, 0]),
        "changes/{mark!r}: field 'of' belongs to an undo or redo, and only there",
    ),
    "import without hash": (
        JOURNAL,
        lambda d, t: d["changes"][t.imported]["import"].pop("hash"),
        "changes/{imported!r}: field 'import.hash' is not a digest file's name",
    ),
    "import name empty": (
        JOURNAL,
        lambda d, t: d["changes"][t.imported]["import"].update(name=""),
        "changes/{imported!r}: field 'import.name' is not a short text",
    ),
    "import date is a number": (
        JOURNAL,
        lambda d, t: d["changes"][t.imported]["import"].update(date=13),
        "changes/{imported!r}: field 'import.date' is not a date or null",
    ),
    "a change with an import": (
        JOURNAL,
        lambda d, t: _give_import(d, t),
        "changes/{mark!r}: field 'import' belongs to an import, and only there",
    ),
    "changes table is a list": (
        JOURNAL,
        lambda d, t: d.update(changes=list(d["changes"].values())),
        "table 'changes' is not an object of entries",
    ),
    "device id not hex": (
        JOURNAL,
        lambda d, t: d["device"]["device"].update(id="my phone"),
        "device/device: field 'id' is not a device id (16 hex characters)",
    ),
    "no device table": (
        JOURNAL,
        lambda d, t: d.pop("device"),
        "table 'device' must hold one document, 'device'",
    ),
    "journal of another kind": (
        JOURNAL,
        lambda d, t: d["meta"]["schema"].update(kind="state"),
        "holds 'state' data, expected 'journal'",
    ),
    # state.json, the marker of the journal layout
    "marker with a table that is a list": (
        MARKER,
        lambda d, t: d.update(history=[]),
        "table 'history' is an empty list, expected an object of documents",
    ),
    "marker with a state that is text": (
        MARKER,
        lambda d, t: d.update(state={t.pid: "read"}),
        'state/{pid}: the document is "read" (text), expected an object',
    ),
    "marker of another kind": (
        MARKER,
        lambda d, t: d["meta"]["schema"].update(kind="imports"),
        "holds 'imports' data, expected 'state'",
    ),
    # imports.json of the single-device layout
    "seq is text": (
        SINGLE_IMPORTS,
        lambda d, t: d["imports"][t.hash].update(seq="3"),
        "imports/{hash}: field 'seq' is \"3\" (text), expected a whole number",
    ),
    "seq is true": (
        SINGLE_IMPORTS,
        lambda d, t: d["imports"][t.hash].update(seq=True),
        "imports/{hash}: field 'seq' is true, expected a whole number",
    ),
    "digest id missing": (
        SINGLE_IMPORTS,
        lambda d, t: d["imports"][t.hash].pop("digest"),
        "imports/{hash}: field 'digest' is missing, expected a digest id",
    ),
    "single-device import date is a number": (
        SINGLE_IMPORTS,
        lambda d, t: d["imports"][t.hash].update(date=13),
        "imports/{hash}: field 'date' is 13 (a number), expected text or null",
    ),
    "import key not a file name": (
        SINGLE_IMPORTS,
        lambda d, t: _rename(d["imports"], t.hash, t.hash.upper()),
        "imports/{HASH}: not a digest file's name (32 lowercase hex characters)",
    ),
    "two imports with one seq": (
        SINGLE_IMPORTS,
        lambda d, t: _same_seq(d),
        "imports: two imports have the same 'seq'",
    ),
    "imports table is a list": (
        SINGLE_IMPORTS,
        lambda d, t: d.update(imports=list(d["imports"].values())),
        "table 'imports' is a list of 5 items, expected an object of documents",
    ),
    # state.json of the single-device layout
    "tags are numbers": (
        SINGLE_STATE,
        lambda d, t: d["state"][t.pid].update(tags=["ok", 2]),
        "state/{pid}: field 'tags[1]' is 2 (a number), expected text",
    ),
    "tags is text": (
        SINGLE_STATE,
        lambda d, t: d["state"][t.pid].update(tags="ml"),
        "state/{pid}: field 'tags' is \"ml\" (text), expected a list of text",
    ),
    "state note is null": (
        SINGLE_STATE,
        lambda d, t: d["state"][t.pid].update(note=None),
        "state/{pid}: field 'note' is null, expected text",
    ),
    "state status is a number": (
        SINGLE_STATE,
        lambda d, t: d["state"][t.pid].update(status=1),
        "state/{pid}: field 'status' is 1 (a number), "
        "expected new, later, read, skipped or snoozed",
    ),
    "state status unknown": (
        SINGLE_STATE,
        lambda d, t: d["state"][t.pid].update(status="done"),
        "state/{pid}: field 'status' is \"done\" (text), "
        "expected new, later, read, skipped or snoozed",
    ),
    "read is text in an earlier schema": (
        SINGLE_STATE,
        lambda d, t: _schema_2_read(d, t.pid, "yes"),
        "state/{pid}: field 'read' is \"yes\" (text), expected true or false",
    ),
    "state is text": (
        SINGLE_STATE,
        lambda d, t: d["state"].update({t.pid: "read"}),
        'state/{pid}: the document is "read" (text), expected an object',
    ),
    "state id not hex": (
        SINGLE_STATE,
        lambda d, t: _rename(d["state"], t.pid, t.pid[:-1] + "g"),
        "state/{pid_g}: the id is not a paper id (12 lowercase hex characters)",
    ),
    "history key": (
        SINGLE_STATE,
        lambda d, t: _rename(d["history"], "1", "one"),
        "history/one: key is not a whole number (an undo step's number)",
    ),
    "undo step without after": (
        SINGLE_STATE,
        lambda d, t: _old_step_without_after(d, t.pid),
        "history/1: field 'after' is missing, expected an object of paper states",
    ),
    "change of an unknown field": (
        SINGLE_STATE,
        lambda d, t: d["history"]["1"].update(changes={t.pid: {"colour": ["red", "blue"]}}),
        "history/1: field 'changes.{pid}.colour' is not a reading-state field "
        "(status, tags, note, read_at, decided_at, snoozed_until, resurfaced, updated)",
    ),
    "change of the wrong type": (
        SINGLE_STATE,
        lambda d, t: d["history"]["1"].update(changes={t.pid: {"status": ["new", 1]}}),
        "history/1: field 'changes.{pid}.status[1]' is 1 (a number), "
        "expected new, later, read, skipped or snoozed",
    ),
    "history table is a list": (
        SINGLE_STATE,
        lambda d, t: d.update(history=[]),
        "table 'history' is an empty list, expected an object of documents",
    ),
    # digest files
    "title is a number": (
        DIGEST,
        lambda d, t: d["papers"][t.entry].update(title=123),
        "papers/{entry}: field 'title' is 123 (a number), expected text",
    ),
    "abstract missing": (
        DIGEST,
        lambda d, t: d["papers"][t.entry].pop("abstract"),
        "papers/{entry}: field 'abstract' is missing, expected text",
    ),
    "links is text": (
        DIGEST,
        lambda d, t: d["papers"][t.entry].update(links="https://x.org"),
        "papers/{entry}: field 'links' is \"https://x.org\" (text), expected a list of text",
    ),
    "fetched is text": (
        DIGEST,
        lambda d, t: d["digest"]["info"].update(fetched="no"),
        "digest/info: field 'fetched' is \"no\" (text), expected true or false",
    ),
    "no digest info": (
        DIGEST,
        lambda d, t: d.update(digest={}),
        "table 'digest' must hold one document, 'info'",
    ),
    "digest file of another kind": (
        DIGEST,
        lambda d, t: d["meta"]["schema"].update(kind="state"),
        "holds 'state' data, expected 'digest'",
    ),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, digest_paths: list[Path]) -> Path:
    """make_library's library, with its first paper (read) tagged and the tag undone: its
    journal holds imports, a change of each field (status, note, tag) and an undo."""
    library = make_library(tmp_path_factory.mktemp("doctor") / "lib", digest_paths)
    assert library.tag([library.ordered()[0]], add=["ml"]) is not None
    assert library.undo() is not None
    return library.data_dir


def journal_keys(path: Path, digest_hash: str) -> dict[str, str]:
    """The keys of the template's journal entries a damage is done to (see :class:`Target`)."""
    changes: dict[str, dict[str, Any]] = orjson.loads(path.read_bytes())["changes"]

    def key(test: Callable[[dict[str, Any]], bool]) -> str:
        (found,) = [k for k, entry in changes.items() if test(entry)]
        return found

    return {
        "mark": key(lambda e: e["kind"] == "change" and e["label"].startswith("mark ")),
        "note": key(lambda e: e["kind"] == "change" and e["label"] == "edit note"),
        "tag": key(lambda e: e["kind"] == "change" and e["label"].startswith("tag ")),
        "undo": key(lambda e: e["kind"] == "undo"),
        "imported": key(lambda e: e.get("import", {}).get("hash") == digest_hash),
    }


def single_device_state(library: Library) -> dict[str, Any]:
    """The library's reading state as the single-device layout held it (state.json schema
    4): its papers' states, and two undo steps: marking the first paper read, the note."""
    stateful = library.stateful()
    first, second = library.ordered()[:2]
    read = stateful[first]
    return {
        "meta": {"schema": {"version": 4, "kind": "state"}},
        "state": {pid: state.to_doc() for pid, state in stateful.items()},
        "history": {
            "1": {
                "label": "mark 1 paper read",
                "at": read.decided_at,
                "undone": False,
                "changes": {
                    first: {
                        "status": ["new", "read"],
                        "read_at": [None, read.read_at],
                        "decided_at": [None, read.decided_at],
                    }
                },
            },
            "2": {
                "label": "edit note",
                "at": stateful[second].updated,
                "undone": False,
                "changes": {second: {"note": ["", NOTE]}},
            },
        },
    }


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(None, id="undamaged"),
        pytest.param(SINGLE_STATE, id="undamaged single-device layout"),
        *DAMAGED_DOCUMENTS,
    ],
)
def test_commands_refuse_what_doctor_reports(
    capsys: pytest.CaptureFixture[str], template: Path, tmp_path: Path, damage: str | None
) -> None:
    """A damaged document: every command refuses with the line doctor reports, nothing changes."""
    data_dir = copy_library(template, tmp_path / "lib")
    library = Library(data_dir)
    pid = library.ordered()[0]  # read, then tagged and the tag undone
    record, entry = home(library, pid)
    keys = journal_keys(journal_file(data_dir), record.hash)
    target = Target(pid, record.hash, str(entry + 1), **keys)
    if damage in (None, SINGLE_STATE):  # the same files, rewritten: healthy, every command works
        where, mutate, expected = damage or JOURNAL, lambda d, t: None, ""
    else:
        where, mutate, expected = DAMAGED_DOCUMENTS[damage]
    expected = expected.format(
        pid=pid, pid_g=pid[:-1] + "g", hash=record.hash, HASH=record.hash.upper(),
        entry=target.entry, **keys,
    )  # fmt: skip
    if where in (SINGLE_IMPORTS, SINGLE_STATE):
        single_device_layout(data_dir, single_device_state(library))
    if where == DIGEST:
        data = orjson.loads(contents.path_of(data_dir, record.hash).read_bytes())
        mutate(data, target)
        path = replace_digest_file(data_dir, record.hash, data)
        named = f"digests/{path.name}"
    else:
        path = {
            JOURNAL: journal_file(data_dir),
            MARKER: data_dir / STATE_FILE,
            SINGLE_IMPORTS: data_dir / IMPORTS_FILE,
            SINGLE_STATE: data_dir / STATE_FILE,
        }[where]
        data = orjson.loads(path.read_bytes())
        mutate(data, target)
        path.write_bytes(orjson.dumps(data))
        named = shown(path)
        # Only the journal is saved more than once; the others never had a .bak.
        assert backup_path(path).exists() == (where == JOURNAL)
    before = snapshot(data_dir)

    if damage in (None, SINGLE_STATE):
        code, lines, err = doctor(capsys, data_dir)
        assert (code, err, problems(lines)) == (0, "", [])
        assert snapshot(data_dir) == before
    for args in (["list"], ["show", pid], ["mark", pid, "--unread"], ["export"]):
        code = main(["--data-dir", str(data_dir), *args])
        out, err = capsys.readouterr()
        if damage in (None, SINGLE_STATE):
            assert (code, err) == (0, ""), args
            continue
        assert (code, out) == (1, ""), args
        assert err.startswith(f"readinglist: {path}: {expected}; the file was left untouched. ")
        assert err.count("\n") == 1, args
        if where == JOURNAL:
            assert f"cp '{path}.bak' '{path}'" in err, args
        elif where != DIGEST:
            assert f"no backup exists; move '{path}' aside" in err, args
        assert snapshot(data_dir) == before, args

    code, lines, err = doctor(capsys, data_dir)
    if damage in (None, SINGLE_STATE):
        assert (code, err, problems(lines)) == (0, "", [])
        assert lines[-1] == f"healthy: {data_dir}"
        assert not (data_dir / IMPORTS_FILE).exists()  # moved into the journal
        opened = Library(data_dir)
        assert opened.state(pid).status == "new"
        assert opened.stateful().keys() == library.stateful().keys()
        assert NOTE in {state.note for state in opened.stateful().values()}
        return
    assert code == 1 and snapshot(data_dir) == before
    (problem,) = problems(lines)
    if where == DIGEST:
        assert problem == f"problem: {named}: {expected}; {listed_for(record)}; {RESTORE_A_COPY}"
    elif where == JOURNAL:
        assert problem.startswith(f"problem: {named}: {expected}; {named}.bak (saved ")
        assert problem.endswith(" is valid and can replace it")
    else:
        assert problem == (
            f"problem: {named}: {expected}; no valid backup; move it aside to start afresh, "
            "or repair it by hand"
        )


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
    data_dir = copy_library(template, tmp_path / "lib")
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
