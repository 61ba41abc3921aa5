"""Upgrading a library folder of the single-file layout (everything in ``papers.json``) to
digest files, ``imports.json`` and the derived catalog.

Runs when a library is opened, before anything else reads it, under the library's lock.
``state.json`` is checked first (a library refused for it is left as it was), then saved at
the new schema, the original kept as ``state.json.schemaN.bak``: from then on an older
readinglist refuses the folder rather than seeing it empty, even when the upgrade is cut
short. The digest files come next (a digest file nothing lists is harmless), then
imports.json, which is the commit. The old index is dropped and ``papers.json`` renamed
``papers.json.schema1.bak``, kept until the user removes it.

A ``papers.json`` found beside an ``imports.json`` (an upgrade cut short, or an old copy
restored by hand) is upgraded again into it: digests it holds that imports.json does not
list are added, nothing already listed is changed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from readinglist import contents, journal
from readinglist.device import Device
from readinglist.errors import LibraryCorrupt, StorageError
from readinglist.history import EMPTY_DOC, diff
from readinglist.journal import (
    HISTORY,
    IMPORT,
    MIGRATED,
    RETURNED,
    SNAPSHOT,
    UNDO,
    Entry,
    Op,
    Stamp,
)
from readinglist.lock import Lock
from readinglist.model import META_FIELDS, PaperState, day_id, now
from readinglist.storage import (
    DIGESTS_DIR,
    IMPORTS_FILE,
    INDEX_FILE,
    JOURNALS_DIR,
    LOCK_FILE,
    PAPERS_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    AtomicJSONStorage,
    Journals,
    atomic_write,
    empty_data,
    file_signature,
    fsync_path,
    journal_path,
    load_file,
    read_journal,
    schema_doc,
)

#: What ``papers.json`` becomes once upgraded.
RETIRED_PAPERS = f"{PAPERS_FILE}.schema{SCHEMA_VERSION['papers']}.bak"
#: What ``imports.json`` becomes once its imports are in this device's journal.
RETIRED_IMPORTS = f"{IMPORTS_FILE}.schema{SCHEMA_VERSION['imports']}.bak"


def needs_upgrade(data_dir: Path) -> bool:
    return (data_dir / PAPERS_FILE).exists()


def upgrade(data_dir: Path) -> None:
    """Upgrade ``data_dir`` if it is of the old layout (or finish an upgrade cut short).

    A damaged ``papers.json`` or ``state.json`` raises
    :class:`~readinglist.errors.LibraryCorrupt` and the folder is left as it is.
    """
    if not needs_upgrade(data_dir):
        return
    state = AtomicJSONStorage(str(data_dir / STATE_FILE), "state")
    imports_path, papers_path = data_dir / IMPORTS_FILE, data_dir / PAPERS_FILE
    # Refuse damage before taking the lock, and before changing anything.
    state.read()
    signature = file_signature(papers_path)
    data = _old_papers(data_dir, beside_imports=imports_path.exists())
    with Lock(data_dir / LOCK_FILE):
        if not needs_upgrade(data_dir):
            return  # another process did it while we waited
        # Read again only what changed while we waited (papers.json: 161 MB at 100k).
        if state.changed_on_disk():
            state.reload()
        if file_signature(papers_path) != signature:
            data = _old_papers(data_dir, beside_imports=imports_path.exists())
        if state.upgraded_from is not None or not state.path.exists():
            state.flush()  # at the new schema: older releases refuse the folder from now on
        listed = load_file(imports_path, "imports").get("imports", {})
        added = _write_digest_files(data_dir, data, listed)
        if added or not imports_path.exists():
            payload = {"meta": {"schema": schema_doc("imports")}, "imports": listed | added}
            atomic_write(imports_path, orjson.dumps(payload), backup=False)
        _retire(data_dir)


def _old_papers(data_dir: Path, *, beside_imports: bool) -> dict[str, dict[str, Any]]:
    """papers.json, checked. Beside an imports.json, which already holds the library, a
    damaged one is only set aside (kept, unread): it must not lock the user out."""
    try:
        return load_file(data_dir / PAPERS_FILE, "papers")
    except LibraryCorrupt:
        if beside_imports:
            return {}
        raise


def _write_digest_files(
    data_dir: Path, data: dict[str, dict[str, Any]], listed: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Write one digest file per digest of ``data`` (an old papers.json) that ``listed`` (the
    imports already in imports.json) lacks; the import records of those written.

    Each digest file lists its papers with their ids (the old library had decided them,
    with rules a replay could not always repeat: an arXiv id met after the title), their
    title, abstract and links, and their metadata. A paper's abstract is read from the
    first digest it was seen in, as before.
    """
    papers, digests = data.get("papers", {}), data.get("digests", {})
    known = {record["digest"] for record in listed.values()}
    todo = {did: record for did, record in digests.items() if did not in known}
    members: dict[str, list[dict[str, Any]]] = {did: [] for did in todo}
    for pid, doc in papers.items():
        entry = {
            "id": pid,
            "title": doc["title"],
            "abstract": doc["abstract"],
            "links": doc.get("links", []),
            **{key: doc[key] for key in META_FIELDS if doc.get(key) not in (None, [])},
        }
        for did in doc["digests"]:
            if did in members:
                members[did].append(entry)
    records: dict[str, dict[str, Any]] = {}
    written = []
    first_seq = max((record["seq"] for record in listed.values()), default=0) + 1
    ordered = sorted(todo.items(), key=lambda item: item[1]["seq"])
    for seq, (did, record) in enumerate(ordered, start=first_seq):
        fetched = did == day_id(record["name"])
        name, payload = contents.encode(did, record.get("date"), "upgraded", fetched, members[did])
        contents.write(data_dir, name, payload, sync=False)
        written.append(name)
        records[name] = {
            "digest": did,
            "name": record["name"],
            "date": record.get("date"),
            # The old seqs when upgrading a whole papers.json (the first seq is 1 then).
            "seq": record["seq"] if not listed else seq,
            "imported_at": record["imported_at"],
        }
    contents.sync_folder(data_dir, written)
    return records


def single_device_data(data_dir: Path) -> bool:
    """Whether the folder holds reading state or imports of the single-device layout (an
    ``imports.json``, or a ``state.json`` with documents), which the next open moves into
    this device's journal."""
    if (data_dir / IMPORTS_FILE).exists():
        return True
    state = data_dir / STATE_FILE
    if not state.exists():
        return False
    data = load_file(state, "state")
    return bool(data.get("state") or data.get("history"))


def to_journals(data_dir: Path, device: Device) -> None:
    """Move a single-device library's imports and reading state into ``device``'s journal.

    Under the lock, each step safe to repeat after a kill: state.json is saved at the new
    schema first (documents kept; the original aside as ``state.json.schemaN.bak``), so
    older releases refuse the folder from then on; then the journal is written whole (its
    snapshot entry, :data:`~readinglist.journal.MIGRATED`, says the move is done); then
    imports.json is renamed aside and state.json emptied to the marker.

    In a folder already moved (a journal holds entries) the documents are files an earlier
    release wrote since, on a machine not upgraded yet, that the sync engine brought back:
    what they hold that the journals lack joins this device's journal
    (:func:`returned_entries`), in the same steps, each returning file kept aside under a
    name no earlier copy has; imports.json stays while an import of it waits for its digest
    file. Nothing is left to add when they are run again.
    """
    if not single_device_data(data_dir):
        return
    state = AtomicJSONStorage(str(data_dir / STATE_FILE), "state")
    state.read()  # refuses damage before anything changes
    imports_path = data_dir / IMPORTS_FILE
    with Lock(data_dir / LOCK_FILE):
        if not single_device_data(data_dir):
            return  # another process did it while we waited
        state.reload()
        # Every file is checked before anything changes: a damaged one is refused as it is.
        imports = load_file(imports_path, "imports").get("imports", {})
        own = journal_path(data_dir, device.id)
        entries = read_journal(own)[2] if own.exists() else []
        # Other devices' journals (and copies of any) are only read: a damaged one is
        # skipped here as by every command.
        others = Journals(data_dir / JOURNALS_DIR, own.name)
        others.reload()
        known = entries + [entry for file in others.readable() for entry in file.entries]
        if state.upgraded_from is not None:
            state.flush()
        waiting: list[str] = []
        if known:
            absent = {n for n in imports if not (data_dir / DIGESTS_DIR / f"{n}.json").exists()}
            added, waiting = returned_entries(state.read(), imports, known, device.id, absent)
        else:
            added = migrated_entries(state.read(), imports, device.id)
        if added:
            entries += added
            payload = {
                "meta": {"schema": schema_doc("journal")},
                "device": {"device": {"id": device.id, "name": device.name}},
                "changes": {e.key: journal.encode_entry(e) for e in entries},
            }
            own.parent.mkdir(exist_ok=True)
            atomic_write(own, orjson.dumps(payload))
        if imports_path.exists() and not waiting:
            _rename_aside(imports_path, data_dir / RETIRED_IMPORTS)
        data = state.read()
        if data.get("state") or data.get("history") or not state.path.exists():
            # (Not rewritten while imports.json waits: each open would change it again.)
            atomic_write(state.path, orjson.dumps(empty_data("state")), backup=False)


def returned_entries(
    state: dict[str, Any],
    imports: dict[str, Any],
    known: list[Entry],
    device: str,
    absent: set[str],
) -> tuple[list[Entry], list[str]]:
    """What single-device files written after the move hold that the journals (``known``:
    every entry of every journal) lack: import entries for the digest files no journal
    imports, and one :data:`~readinglist.journal.RETURNED` snapshot of the fields changed.

    Such files come from a machine still on the earlier release, which went on from the
    state.json the journals were made from: the values the snapshots of migrated files hold
    (their *base*) are its starting point. A field equal to its base was not changed there
    and is left out, whatever its document's time: that paper's ``updated`` may be newer
    only because another of its fields changed, and must not undo a change made on an
    upgraded device since. A field that differs was changed there, when the paper was last
    changed (its ``updated``; for a paper the file no longer holds, its newest undo step).
    Each op is stamped with that time, not now: per field the later change wins, as between
    devices, so a change made after the move is kept, and one older than a change the
    journals hold since loses to it (now would make a stale copy win over everything). A
    time not after the base's is an older copy's value, not a change. A note is an edit of
    its base versions, so an edit made here meanwhile is kept beside it as a conflict.

    An import is stamped with its own time, so the digests keep the order they were
    imported in. One of a digest the journals hold is left out, as an import here leaves
    it out (a text digest again), unless it is a day fetched again later than any fetch of
    it here (newer figures, papers added). One whose digest file (``absent``) has not
    arrived yet is left for a later open, and named in the list returned with the entries:
    imports.json stays until then (this device's import must find its file). Stamps are
    made unique against every stamp known; the snapshot itself is stamped after all of them.

    Their undo steps stay behind (in the copy kept aside): undo here takes back this
    device's changes only. Run again on the same files, it finds nothing to add (what it
    added is their base then): a move cut short and finished later adds nothing twice.
    """
    merger = journal.Merger(device)
    merger.add(known)
    taken = {entry.stamp for entry in known}
    taken.update(op.stamp for entry in known for op in entry.ops if op.stamp is not None)
    base: dict[tuple[str, str], tuple[Stamp, Any]] = {}
    base_tags: dict[str, set[str]] = {}
    base_notes: dict[str, dict[Stamp, str]] = {}
    for entry in known:
        if entry.kind != SNAPSHOT or entry.label not in (MIGRATED, RETURNED):
            continue
        for op in entry.ops:
            stamp = op.stamp or entry.stamp
            if op.field == journal.NOTE:
                base_notes.setdefault(op.pid, {})[stamp] = op.new
            elif (op.pid, op.field) not in base or stamp > base[op.pid, op.field][0]:
                base[op.pid, op.field] = (stamp, op.new)
                if op.field != "status":
                    base_tags.setdefault(op.pid, set()).add(op.field)

    def unique(wall: int) -> Stamp:
        counter = 0
        while (wall, counter, device) in taken:
            counter += 1
        taken.add((wall, counter, device))
        return (wall, counter, device)

    docs: dict[str, Any] = state.get("state", {})
    stepped: dict[str, str] = {}  # paper → its newest undo step's time
    for step in state.get("history", {}).values():
        for pid in step["changes"] if "changes" in step else step["before"]:
            if journal.wall_ms(step["at"]) > journal.wall_ms(stepped.get(pid)):
                stepped[pid] = step["at"]
    pids = {*docs, *(pid for pid, _ in base), *base_notes}
    snapshot: list[Op] = []
    stamps: dict[str, Stamp] = {}
    for pid in sorted(pids):
        paper = PaperState.from_doc(docs.get(pid))
        at = paper.updated or stepped.get(pid)
        if at is None:
            continue  # never changed there since it had a time: nothing to tell
        wall = journal.wall_ms(at)
        values: dict[str, Any] = {
            "status": {name: getattr(paper, name) for name in journal.STATUS_FIELDS}
        }
        tagged = base_tags.get(pid, set()) | {journal.TAG_PREFIX + tag for tag in paper.tags}
        values.update({name: name[len(journal.TAG_PREFIX) :] in paper.tags for name in tagged})
        for name, value in values.items():
            default = journal.EMPTY_STATUS if name == "status" else False
            first, old = base.get((pid, name), (None, default))
            now_stamp, now_value = merger.value(pid, name)
            if value in (old, now_value):
                continue  # not changed there, or already so here
            if (first and first[0] >= wall) or (now_stamp and now_stamp[0] >= wall):
                continue  # an older copy's value, or changed here since: that change stays
            stamp = stamps.get(at) or stamps.setdefault(at, unique(wall))
            snapshot.append(Op(pid, name, old, value, stamp=stamp, at=at))
        versions = base_notes.get(pid, {})
        heads = {version.text for version in merger.heads(pid)} or {""}
        if paper.note in (set(versions.values()) or {""}) or paper.note in heads:
            continue
        if versions and max(versions)[0] >= wall:
            continue
        stamp = stamps.get(at) or stamps.setdefault(at, unique(wall))
        old_text = versions[max(versions)] if versions else ""
        snapshot.append(
            Op(pid, journal.NOTE, old_text, paper.note, tuple(sorted(versions)), stamp, at)
        )
    files = {record.hash for record in merger.imports()}
    newest: dict[str, int] = {}  # digest → when the journals last imported it
    for record in merger.imports():
        newest[record.digest] = max(newest.get(record.digest, 0), journal.wall_ms(record.at))
    entries, waiting = [], []
    for name, record in sorted(imports.items(), key=lambda item: item[1]["seq"]):
        wall, did = journal.wall_ms(record["imported_at"]), record["digest"]
        if name in files or (
            did in newest and (did != day_id(record["name"]) or wall <= newest[did])
        ):
            continue  # imported; a text digest again; a day's fetch no newer than one here
        if name in absent:
            waiting.append(name)
            continue
        fields = {k: record[k] for k in ("digest", "name", "date")}
        entries.append(
            Entry(unique(wall), record["imported_at"], IMPORT, f"import {record['name']}",
                  record={"hash": name, **fields})
        )  # fmt: skip
    if snapshot:
        stamp = journal.tick(max(taken), device, journal.clock_ms())
        entries.append(Entry(stamp, now(), SNAPSHOT, RETURNED, tuple(snapshot)))
    return entries, waiting


def migrated_entries(state: dict[str, Any], imports: dict[str, Any], device: str) -> list[Entry]:
    """A single-device library as journal entries: its imports in their order, its undo
    steps (still undoable), and a snapshot of every paper's state, each field stamped with
    the paper's last change so that two devices migrating copies of one library merge by
    what changed last. The stamps are fixed, not the clock's: migrating again gives the
    same entries."""
    entries = [
        Entry(
            (0, number, device),
            record["imported_at"],
            IMPORT,
            f"import {record['name']}",
            record={"hash": name, **{k: record[k] for k in ("digest", "name", "date")}},
        )
        for number, (name, record) in enumerate(
            sorted(imports.items(), key=lambda item: item[1]["seq"]), start=1
        )
    ]
    steps = sorted((int(seq), doc) for seq, doc in state.get("history", {}).items())
    undone = []
    for number, (_, step) in enumerate(steps, start=1):
        stamp: Stamp = (1, number, device)
        changes = step.get("changes") or {
            # Whole documents of an earlier schema may lack fields added since.
            pid: diff(EMPTY_DOC | (before or {}), EMPTY_DOC | (step["after"][pid] or {}))
            for pid, before in step["before"].items()
        }
        ops = tuple(op for pid, fields in changes.items() for op in _history_ops(pid, fields))
        entries.append(Entry(stamp, step["at"], HISTORY, step["label"], ops))
        if step.get("undone"):
            undone.append(stamp)
    last = len(steps)
    for number, stamp in enumerate(reversed(undone), start=last + 1):
        entries.append(Entry((1, number, device), entries[-1].at, UNDO, "undo", of=stamp))
    snapshot: list[Op] = []
    for pid, doc in state.get("state", {}).items():
        paper = PaperState.from_doc(doc)
        at = paper.updated or "1970-01-01T00:00:00+00:00"
        stamp = (journal.wall_ms(paper.updated), 0, device)
        status = {name: getattr(paper, name) for name in journal.STATUS_FIELDS}
        if status != journal.EMPTY_STATUS:
            snapshot.append(Op(pid, "status", journal.EMPTY_STATUS, status, stamp=stamp, at=at))
        for tag in paper.tags:
            snapshot.append(Op(pid, journal.TAG_PREFIX + tag, False, True, stamp=stamp, at=at))
        if paper.note:
            snapshot.append(Op(pid, journal.NOTE, "", paper.note, stamp=stamp, at=at))
    entries.append(Entry((2, 0, device), entries[-1].at if entries else "", SNAPSHOT, MIGRATED,
                         tuple(snapshot)))  # fmt: skip
    return entries


def _history_ops(pid: str, fields: dict[str, list[Any]]) -> list[Op]:
    """One undo step's field changes ([old, new] per state field) as journal ops."""
    ops = []
    status = {n: pair for n, pair in fields.items() if n in journal.STATUS_FIELDS}
    if status:
        old = {n: pair[0] for n, pair in status.items()}
        ops.append(Op(pid, "status", old, {n: pair[1] for n, pair in status.items()}))
    if "tags" in fields:
        before, after = fields["tags"]
        ops += [Op(pid, journal.TAG_PREFIX + t, False, True) for t in after if t not in before]
        ops += [Op(pid, journal.TAG_PREFIX + t, True, False) for t in before if t not in after]
    if "note" in fields:
        ops.append(Op(pid, journal.NOTE, fields["note"][0], fields["note"][1]))
    return ops


def _rename_aside(path: Path, target: Path) -> None:
    """Rename ``path`` to ``target`` (numbered when taken: an earlier copy is never
    replaced)."""
    number, first = 1, target
    while target.exists():
        number += 1
        target = first.with_name(f"{first.name}.{number}")
    try:
        os.replace(path, target)
        fsync_path(path.parent)
    except OSError as error:
        raise StorageError(f"{path}: cannot rename it aside ({error.strerror or error})") from None


def _retire(data_dir: Path) -> None:
    """Drop the old index, then rename papers.json aside (never over an earlier copy): a
    kill in between leaves papers.json, and the next open finishes the job."""
    try:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / INDEX_FILE).unlink()
    except OSError as error:
        raise StorageError(
            f"{data_dir / INDEX_FILE}: cannot remove it ({error.strerror or error})"
        ) from None
    _rename_aside(data_dir / PAPERS_FILE, data_dir / RETIRED_PAPERS)
