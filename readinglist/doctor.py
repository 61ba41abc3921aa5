"""``readinglist doctor``: check a library folder and repair what can be repaired safely.

It reads the raw files with :func:`readinglist.storage.load_file` and
:func:`readinglist.contents.read` instead of opening a :class:`~readinglist.library.Library`,
because it is most needed exactly when the library refuses to open. What it checks is what
the commands refuse: ``imports.json`` and ``state.json``, every digest file ``imports.json``
lists, and a ``papers.json`` of the layout before digest files that the next open would
upgrade. ``catalog.bin`` is only described: it is derived from the digest files and rebuilt
whenever it is missing or damaged, so it is never a problem.

Repairs never delete the reader's data: a damaged file is kept beside the restored one as
``<name>.corrupt-<timestamp>``; a damaged digest file is only reported (nothing but a copy
of it can replace it), and state for papers the digest files lack is only reported (it
may belong to papers in a backup).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from readinglist import catalogfile, contents, journal
from readinglist.catalog import Builder, ImportRecord
from readinglist.device import Device, remember_written, this_device
from readinglist.errors import LibraryCorrupt, StorageError
from readinglist.journal import Merger
from readinglist.layout import RETIRED_PAPERS
from readinglist.library import import_records, rolled_back
from readinglist.lock import Lock
from readinglist.safetext import printable_line
from readinglist.storage import (
    CATALOG_FILE,
    DIGESTS_DIR,
    IMPORTS_FILE,
    JOURNALS_DIR,
    LOCK_FILE,
    PAPERS_FILE,
    STATE_FILE,
    Data,
    Journals,
    NewerSchema,
    atomic_write,
    backup_path,
    check_data_dir,
    journal_path,
    leftover_temp_files,
    load_file,
    load_versioned,
    remove_temp_files,
)

#: How many ids a finding lists before saying "and N more".
SHOWN_IDS = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report; ``repair`` (when set) fixes it and says what it did."""

    ok: bool
    text: str
    repair: Callable[[], str] | None = None
    #: Asked before repairing, when the repair replaces a file the reader may want to see.
    question: str | None = None

    def line(self) -> str:
        # Names in it come from data (digest names, paths): shown inert, on one line.
        return printable_line(f"{'ok' if self.ok else 'problem'}: {self.text}")


def diagnose(data_dir: Path, device: Device | None = None) -> list[Finding]:
    """Every check on the library folder, in reading order (``device``: whose journal is
    this device's, default the config dir's)."""
    try:
        exists = check_data_dir(data_dir)  # what every command checks first, worded the same
        device = device or this_device()
    except StorageError as error:
        return [Finding(False, str(error))]
    if not exists:
        return [Finding(True, f"{data_dir}: no library yet (it is created on the first import)")]
    findings: list[Finding] = []
    loaded: dict[str, Data] = {}
    # papers.json is upgraded by the next open; beside an imports.json (an upgrade cut short)
    # only the digests it alone holds are added, and a damaged one is set aside unread.
    upgrading = (data_dir / PAPERS_FILE).exists() and not (data_dir / IMPORTS_FILE).exists()
    own = journal_path(data_dir, device.id)
    files = [(PAPERS_FILE, "papers")] if upgrading else []
    files.append((STATE_FILE, "state"))
    if (data_dir / IMPORTS_FILE).exists():
        files.append((IMPORTS_FILE, "imports"))
    files.append((str(own.relative_to(data_dir)), "journal"))
    for name, kind in files:
        path = data_dir / name
        backup, saved = _check_backup(path, kind)
        finding, data = _check_file(path, kind, saved, upgrading=upgrading)
        findings += [finding] if backup is None else [finding, backup]
        if data is not None:
            loaded[kind] = data
    if "journal" in loaded:
        last = journal.newest_key(loaded["journal"].get("changes", {}))
        problem = rolled_back(data_dir, device.id, own, last)
        findings += [Finding(False, problem)] if problem else []
    if (data_dir / PAPERS_FILE).exists() and not upgrading:
        findings.append(
            Finding(
                True,
                f"{PAPERS_FILE}: beside {IMPORTS_FILE}, which lists the library's digests (an "
                "upgrade cut short, or a copy an earlier release put back); the next open "
                "adds the digests only it holds (none if it is damaged) and sets it aside, "
                f"as {RETIRED_PAPERS} (numbered if that name is taken)",
            )
        )
    others = Journals(data_dir / JOURNALS_DIR, own.name)
    others.reload()
    others.readable()  # decodes (checks) each one: a damaged one is a finding
    findings += _check_journals(data_dir, others, loaded.get("journal"), device)
    single = "imports" in loaded or bool(
        loaded.get("state", {}).get("state") or loaded.get("state", {}).get("history")
    )
    # Journals here: single-device files are an earlier release's, written after the move.
    moved = bool(loaded.get("journal", {}).get("changes")) or bool(others.readable())
    known: set[str] | None = None
    records: tuple[ImportRecord, ...] | None = None
    if upgrading:
        known = set(loaded["papers"].get("papers", {})) if "papers" in loaded else None
        if known is not None and "state" in loaded:
            findings += _check_references(known, *_state_refs(loaded["state"]), PAPERS_FILE)
    elif single and not moved:
        if "imports" in loaded:
            records = _records(loaded["imports"])
            digest_findings, known = _check_digest_files(data_dir, records, IMPORTS_FILE)
            findings += digest_findings
        if known is not None and "state" in loaded:
            findings += _check_references(known, *_state_refs(loaded["state"]), "no digest file")
    elif "journal" in loaded:
        merger = Merger(device.id)
        merger.add(journal.decode(loaded["journal"])[2])
        for other in others.readable():
            merger.add(other.entries)
        if single:
            findings.append(_returned(data_dir, loaded.get("imports", {}), merger))
        records = import_records(merger, data_dir)
        digest_findings, known = _check_digest_files(data_dir, records, "the journals")
        findings += digest_findings
        waiting = len(merger.imports()) - len(records)
        if waiting:
            findings.append(
                Finding(
                    True,
                    f"{DIGESTS_DIR}: {_count(waiting, 'import')} of other devices wait for "
                    "their digest files (the sync engine has not brought them yet); they "
                    "count once they arrive",
                )
            )
        if known is not None:
            orphans = [pid for pid in merger.states() if pid not in known]
            done, undone = merger.undo_stacks()
            steps = {op.pid for e in (*done, *undone) for op in e.ops if op.pid not in known}
            if waiting and (orphans or steps):
                # Most likely papers of those imports: a moment of syncing, no problem.
                findings.append(
                    Finding(
                        True,
                        f"reading state for {_ids(sorted({*orphans, *steps}))} that no "
                        "digest file holds yet; they are probably in the imports still "
                        "waiting for their digest files",
                    )
                )
            else:
                findings += _check_references(known, orphans, steps, "no digest file")
    if records is not None:
        findings.append(_describe_catalog(data_dir, records))
    findings += _check_leftovers(data_dir)
    return findings


def _returned(data_dir: Path, imports: Data, merger: Merger) -> Finding:
    """state.json with reading state, or an imports.json, in a folder already in journals:
    a machine still on the release before sync wrote them since (see
    :func:`readinglist.layout.returned_entries`)."""
    held = {i.hash for i in merger.imports()}
    waiting = [
        name
        for name in imports.get("imports", {})
        if name not in held and not (data_dir / DIGESTS_DIR / f"{name}.json").exists()
    ]
    text = (
        f"{STATE_FILE} or {IMPORTS_FILE} was written by the release before sync after the "
        "move into journals (a machine not upgraded yet, synced in): the next open adds what "
        "they hold that the journals lack to this device's journal and keeps them aside"
    )
    if waiting:
        text += (
            f"; {_count(len(waiting), 'import')} of {IMPORTS_FILE} wait for their digest "
            f"files (kept in {IMPORTS_FILE} until the sync engine brings them)"
        )
    return Finding(True, text)


def _state_refs(state: Data) -> tuple[list[str], set[str]]:
    """The papers a single-device state.json has state for, and those its undo steps name."""
    # load_file checked the shapes: a step holds "changes", or "before" and "after".
    in_history = {
        pid
        for step in state.get("history", {}).values()
        for side in (("changes",) if "changes" in step else ("before", "after"))
        for pid in step[side]
    }
    return list(state.get("state", {})), in_history


def _check_journals(
    data_dir: Path, others: Journals, own: Data | None, device: Device
) -> list[Finding]:
    """Other devices' journals, copies sync engines made of any journal, and what else is
    in the journals folder."""
    findings = []
    mains: dict[str, journal.Held] = {}
    if own is not None:
        mains[device.id] = journal.Held(journal.decode(own)[2])
    for name, file in others.files.items():
        if file.device and name == f"{file.device}.json":
            mains[file.device] = journal.Held(file.entries)
    for name, file in sorted(others.files.items()):
        where = f"{JOURNALS_DIR}/{name}"
        if file.device is None:
            findings.append(
                Finding(
                    False,
                    f"{where}: {file.problem}; skipped by every command (a copy the sync "
                    "engine has not finished, or damaged; the device that owns it rewrites "
                    "it whole with its next change)",
                )
            )
            continue
        who = "this device" if file.device == device.id else f"device {file.name} ({file.device})"
        if name == f"{file.device}.json":
            findings.append(
                Finding(
                    True, f"{where}: the journal of {who}, {_count(len(file.entries), 'change')}"
                )
            )
            continue
        main = mains.get(file.device)
        missing = list(file.entries) if main is None else main.lacking(file.entries)
        if missing:
            findings.append(
                Finding(
                    True,
                    f"{where}: a copy a sync engine made of the journal of {who}, with "
                    f"{_count(len(missing), 'change')} the journal lacks; merged like the "
                    "journal itself, and folded into it by that device's next change",
                )
            )
        else:
            path = data_dir / JOURNALS_DIR / name
            findings.append(
                Finding(
                    False,
                    f"{where}: a copy a sync engine made of the journal of {who}; everything in "
                    "it is in the journal itself, so it is redundant",
                    repair=functools.partial(_remove_copy, path),
                )
            )
    try:
        strays = sorted(
            p.name for p in (data_dir / JOURNALS_DIR).iterdir() if not p.name.endswith(".json")
        )
    except OSError:
        strays = []
    strays = [n for n in strays if not n.endswith(".bak")]
    if strays:
        findings.append(
            Finding(
                True,
                f"{JOURNALS_DIR}: {', '.join(strays[:SHOWN_IDS])} "
                f"{'and more ' if len(strays) > SHOWN_IDS else ''}(not journals: a sync "
                "engine's temp files or a temp file of a save; never read)",
            )
        )
    return findings


def _remove_copy(path: Path) -> str:
    with _lock(path.parent.parent):
        path.unlink(missing_ok=True)
    return f"removed {JOURNALS_DIR}/{path.name} (a redundant copy)"


def run(data_dir: Path, *, fix: bool, confirm: Callable[[str], bool]) -> int:
    """Print the report, repair when asked, and return the exit status (0 healthy, 1 not)."""
    print(f"checking {data_dir}")
    findings = diagnose(data_dir)
    for finding in findings:
        print(finding.line())
    repairable = [(f, f.repair) for f in findings if f.repair is not None]
    if fix and repairable:
        for finding, repair in repairable:
            if finding.question and not confirm(finding.question):
                print(f"skipped (not confirmed): {finding.question}")
                continue
            print(f"fixed: {repair()}")
        findings = diagnose(data_dir)
        for finding in findings:
            if not finding.ok:
                print(f"still a {finding.line()}")
    problems = [f for f in findings if not f.ok]
    if not problems:
        print(f"healthy: {data_dir}")
        return 0
    fixable = sum(f.repair is not None for f in problems)
    hint = f"; {fixable} can be repaired with `readinglist doctor --fix`" if fixable else ""
    print(f"{_count(len(problems), 'problem')} in {data_dir}{hint}")
    return 1


def _check_file(
    path: Path, kind: str, backup_saved: str | None, *, upgrading: bool
) -> tuple[Finding, Data | None]:
    """The file itself; ``backup_saved`` is when its valid backup was saved, if it has one;
    ``upgrading``: the library is of the layout before digest files (papers.json)."""
    try:
        data, version = load_versioned(path, kind)
    except NewerSchema as error:
        return Finding(False, f"{_shown(path)}: {error.problem}"), None
    except LibraryCorrupt as error:
        if backup_saved is None:
            advice = "no valid backup; move it aside to start afresh, or repair it by hand"
            return Finding(False, f"{_shown(path)}: {error.problem}; {advice}"), None
        return _restorable(path, kind, error.problem, backup_saved), None
    except StorageError as error:
        return Finding(False, str(error)), None
    if not path.exists():
        if backup_saved is not None:
            return _restorable(path, kind, "is missing but its backup is there", backup_saved), None
        made = (
            f"the next open makes it from {PAPERS_FILE}"
            if upgrading and kind == "imports"
            else "nothing saved so far"
        )
        return Finding(True, f"{_shown(path)}: not created yet ({made})"), data
    text = f"{_shown(path)}: {_describe(data, kind)} (schema {version})"
    if kind == "papers":
        text += (
            "; the library's layout before digest files: the next open upgrades it "
            f"(and keeps this file as {RETIRED_PAPERS})"
        )
    return Finding(True, text), data


def _describe(data: Data, kind: str) -> str:
    if kind == "papers":
        papers, digests = len(data.get("papers", {})), len(data.get("digests", {}))
        return f"{_count(papers, 'paper')} from {_count(digests, 'digest')}"
    if kind == "imports":
        return (
            f"{_count(len(data.get('imports', {})), 'import')} (the single-device layout: the "
            "next open moves them into this device's journal)"
        )
    if kind == "journal":
        _, name, entries = journal.decode(data)
        changes = _count(len(entries), "change")
        return f"this device's journal ({name or 'nothing saved yet'}), {changes}"
    if not data.get("state") and not data.get("history"):
        return f"marks the layout; the reading state lives in {JOURNALS_DIR}/"
    return (
        f"reading state for {_count(len(data.get('state', {})), 'paper')}, "
        f"{_count(len(data.get('history', {})), 'undo step')} (the single-device layout: the "
        "next open moves them into this device's journal)"
    )


def _check_backup(path: Path, kind: str) -> tuple[Finding | None, str | None]:
    """The finding on ``path``'s backup (None if there is none) and when a valid one was saved."""
    backup = backup_path(path)
    if not backup.exists():
        return None, None
    try:
        load_file(backup, kind)
    except StorageError as error:
        problem = error.problem if isinstance(error, LibraryCorrupt) else str(error)
        finding = Finding(
            False,
            f"{_shown(backup)}: damaged backup ({problem}); the next save replaces it",
            repair=lambda: _set_aside(backup),
        )
        return finding, None
    saved = _saved_at(backup)
    return Finding(True, f"{_shown(backup)}: valid backup saved {saved}"), saved


def _restorable(path: Path, kind: str, problem: str, saved: str) -> Finding:
    backup = backup_path(path)
    return Finding(
        False,
        f"{_shown(path)}: {problem}; {_shown(backup)} (saved {saved}) is valid and can replace it",
        repair=lambda: _restore(path, kind),
        question=f"Restore {_shown(path)} from {_shown(backup)} (saved {saved})?",
    )


def _restore(path: Path, kind: str) -> str:
    """Put the backup in place, keeping the damaged file (if any) beside it."""
    backup = backup_path(path)
    with _lock(path.parent):
        load_file(backup, kind)  # again, under the lock: a writer may have replaced it since
        payload = backup.read_bytes()
        kept = f"; the damaged file is kept as {_shown(_keep_aside(path))}" if path.exists() else ""
        atomic_write(path, payload, backup=False)
        if kind == "journal":  # what it holds is this device's newest now, knowingly
            keys = orjson.loads(payload).get("changes", {})
            newest = journal.newest_key(keys)
            if newest is not None:
                remember_written(path.parent.parent, path.stem, newest)
    return f"restored {_shown(path)} from {_shown(backup)} (which lacks the last save){kept}"


def _set_aside(backup: Path) -> str:
    """Move a damaged backup out of the way (under the lock: a save may be replacing it)."""
    with _lock(backup.parent):
        aside = _keep_aside(backup, remove=True)
    return f"moved {_shown(backup)} aside to {_shown(aside)}"


def _keep_aside(path: Path, *, remove: bool = False) -> Path:
    """Link ``path`` to a new ``<name>.corrupt-<timestamp>``; with ``remove``, unlink ``path``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    try:
        os.link(path, aside)
        if remove:
            path.unlink()
    except OSError as error:
        raise StorageError(f"{path}: could not move aside ({error.strerror or error})") from None
    return aside


def _records(imports: Data) -> tuple[ImportRecord, ...]:
    """The imports ``imports.json`` lists, in the order they happened (as opening replays)."""
    found = (ImportRecord.from_doc(name, doc) for name, doc in imports.get("imports", {}).items())
    return tuple(sorted(found, key=lambda record: record.seq))


def _check_digest_files(
    data_dir: Path, records: tuple[ImportRecord, ...], source: str
) -> tuple[list[Finding], set[str] | None]:
    """Every digest file ``source`` (imports.json, or the journals) lists, read and checked
    as opening the library reads it, and the ids of the papers they hold (None when one
    cannot be read).

    The papers are identified by replaying the imports (:class:`~readinglist.catalog.Builder`,
    the one place paper identity is decided), exactly as a library without ``catalog.bin``
    does when it opens.
    """
    findings: list[Finding] = []
    builder: Builder | None = Builder(data_dir, None)
    for record in records:
        try:
            content = contents.read(data_dir, record.hash)
        except StorageError as error:
            findings.append(_damaged_digest_file(data_dir, record, error))
            builder = None
            continue
        if builder is not None:
            try:
                builder.apply(record, content, keep=True)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                # What the library says when a document it replays is malformed.
                problem = f"a document is malformed ({type(error).__name__}: {error})"
                findings.append(Finding(False, f"{source}: {problem}"))
                builder = None
    unlisted = _unlisted_digest_files(data_dir, records, source)
    if builder is None:
        return findings + unlisted, None
    catalog = builder.freeze()
    if records:
        files = _count(len(records), "digest file")
        verb = "is" if len(records) == 1 else "are each"
        findings.append(
            Finding(
                True,
                f"{DIGESTS_DIR}: the {files} {source} list{'s' * (source == IMPORTS_FILE)} "
                f"{verb} intact "
                f"(content matching the name), {_count(len(catalog), 'paper')}",
            )
        )
    return findings + unlisted, set(catalog.ids)


def _damaged_digest_file(data_dir: Path, record: ImportRecord, error: StorageError) -> Finding:
    """A listed digest file that cannot be read: missing, changed, invalid or newer.

    No repair: the file is immutable and named by what it holds, so only a copy of it (a
    backup, or the same library synced elsewhere) can replace it.
    """
    path = contents.path_of(data_dir, record.hash)
    which = f"listed for the import of {record.name} on {record.imported_at[:10]}"
    if not isinstance(error, LibraryCorrupt):
        return Finding(False, f"{error}; {which}")
    text = f"{path.relative_to(data_dir)}: {error.problem}; {which}"
    if not isinstance(error, NewerSchema):
        text += f"; to recover, {contents.RESTORE}"
    return Finding(False, text)


def _unlisted_digest_files(
    data_dir: Path, records: tuple[ImportRecord, ...], source: str
) -> list[Finding]:
    """Digest files ``source`` does not list: harmless, described only."""
    folder = data_dir / DIGESTS_DIR
    listed = {record.hash for record in records}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    unlisted = [
        name
        for name in names
        if name.endswith(".json")
        and len(name) == contents.HASH_CHARS + len(".json")
        and name.removesuffix(".json") not in listed
    ]
    if not unlisted:
        return []
    return [
        Finding(
            True,
            f"{DIGESTS_DIR}: {_count(len(unlisted), 'digest file')} that "
            f"{source} do{'es' * (source == IMPORTS_FILE)} not list (an import cut short, or "
            "one a restored file lacks: importing that digest again lists it); harmless",
        )
    ]


def _describe_catalog(data_dir: Path, records: tuple[ImportRecord, ...]) -> Finding:
    """What catalog.bin holds: information only, it is derived from the digest files."""
    path = data_dir / CATALOG_FILE
    derived = "derived from the digest files"
    if not path.exists():
        return Finding(True, f"{CATALOG_FILE}: not saved yet; {derived}, built by the next open")
    saved = catalogfile.load(path, data_dir)
    if saved is None:
        return Finding(
            True,
            f"{CATALOG_FILE}: damaged or of another readinglist's format; {derived}, rebuilt "
            "by the next open (nothing is lost)",
        )
    problem = catalogfile.check(saved.catalog)
    if problem is not None:
        return Finding(False, problem, repair=functools.partial(_remove_catalog, path))
    held = saved.catalog.imports
    if held == records:
        return Finding(True, f"{CATALOG_FILE}: up to date, {derived}")
    if held == records[: len(held)]:
        return Finding(
            True,
            f"{CATALOG_FILE}: lacks the last {_count(len(records) - len(held), 'import')}; "
            f"{derived}, the next open adds them",
        )
    return Finding(
        True,
        f"{CATALOG_FILE}: does not match the imports; {derived}, rebuilt by the next open",
    )


def _remove_catalog(path: Path) -> str:
    catalogfile.remove(path)
    return f"removed {CATALOG_FILE}: the next command rebuilds it from the digest files"


def _check_references(
    known: set[str], stateful: list[str], in_history: set[str], source: str
) -> list[Finding]:
    """State and undo steps must refer to papers the library has (``known``); ``source``
    is where the others are missing from."""
    orphans = [pid for pid in stateful if pid not in known]
    unknown_in_history = sorted(pid for pid in in_history if pid not in known)
    lacking = f"{source} hold{'s' * (source != 'the journals')}"
    findings = []
    if orphans:
        findings.append(
            Finding(
                False,
                f"reading state for {_ids(orphans)} that {lacking}; "
                "kept (re-importing the digests that listed them brings them back)",
            )
        )
    if unknown_in_history:
        findings.append(
            Finding(
                False,
                f"undo history refers to {_ids(unknown_in_history)} "
                f"that {lacking}; undoing those steps restores state for them",
            )
        )
    if not findings:
        findings.append(Finding(True, "every state and undo step refers to a known paper"))
    return findings


def _check_leftovers(data_dir: Path) -> list[Finding]:
    """Temp files and the lock: a running writer's are its own, a dead writer's leftovers."""
    held, holder = _lock(data_dir).inspect()
    temps = leftover_temp_files(data_dir)
    if held:
        # A save in progress: its temp files carry its pid and are not leftovers.
        own = [t for t in temps if holder and t.name.split(".")[-2] == str(holder.pid)]
        others = [t for t in temps if t not in own]
        who = holder.describe() if holder else "a writer that has not named itself yet"
        text = f"lock: held by {who}, which is saving now"
        if own:
            verb = "is" if len(own) == 1 else "are"
            text += f"; {', '.join(t.name for t in own)} {verb} that save in progress"
        findings = [Finding(True, text)]
        if others:
            findings.append(
                Finding(
                    False,
                    f"temp files of an interrupted save: {', '.join(t.name for t in others)} "
                    "(harmless; `readinglist doctor --fix` removes them once the running "
                    "writer has finished)",
                )
            )
        return findings
    findings = []
    if temps:
        names = ", ".join(t.name for t in temps)
        findings.append(
            Finding(
                False,
                f"temp files of an interrupted save: {names} (harmless; removed on next open)",
                repair=lambda: _remove_temp_files(data_dir),
            )
        )
    if holder is not None:
        dead = holder.pid
        findings.append(
            Finding(
                False,
                f"lock: names {holder.describe()}, which stopped while saving (killed or "
                "crashed); harmless",
                repair=lambda: _clear_lock(data_dir, dead),
            )
        )
    return findings


def _remove_temp_files(data_dir: Path) -> str:
    removed = remove_temp_files(data_dir, _lock(data_dir))
    if removed is None:
        return "left the temp files alone: a writer is saving now; run this again when it is done"
    return "removed " + (", ".join(t.name for t in removed) or "no temp files (already gone)")


def _clear_lock(data_dir: Path, pid: int) -> str:
    with _lock(data_dir).attempt() as free:
        # Taking and releasing the lock replaces the dead pid and then clears it.
        if not free:
            return f"left the lock alone: a running writer took it, replacing pid {pid}"
    return f"cleared pid {pid} from the lock file"


def _lock(data_dir: Path) -> Lock:
    return Lock(data_dir / LOCK_FILE)


def _shown(path: Path) -> str:
    """A library file as findings name it: from the library folder (``journals/…``)."""
    return f"{JOURNALS_DIR}/{path.name}" if path.parent.name == JOURNALS_DIR else path.name


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS]) + (
        f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    )
    return f"{_count(len(ids), 'paper')} ({shown})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _saved_at(path: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
