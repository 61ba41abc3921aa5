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

from readinglist import contents
from readinglist.dailypapers import day_id
from readinglist.errors import LibraryCorrupt, StorageError
from readinglist.lock import Lock
from readinglist.model import META_FIELDS
from readinglist.storage import (
    IMPORTS_FILE,
    INDEX_FILE,
    LOCK_FILE,
    PAPERS_FILE,
    SCHEMA_VERSION,
    STATE_FILE,
    AtomicJSONStorage,
    atomic_write,
    file_signature,
    fsync_dir,
    load_file,
    schema_doc,
)

#: What ``papers.json`` becomes once upgraded.
RETIRED_PAPERS = f"{PAPERS_FILE}.schema{SCHEMA_VERSION['papers']}.bak"


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


def _retire(data_dir: Path) -> None:
    """Drop the old index, then rename papers.json aside (never over an earlier copy): a
    kill in between leaves papers.json, and the next open finishes the job."""
    papers = data_dir / PAPERS_FILE
    target = data_dir / RETIRED_PAPERS
    number = 1
    while target.exists():
        number += 1
        target = data_dir / f"{RETIRED_PAPERS}.{number}"
    try:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / INDEX_FILE).unlink()
        os.replace(papers, target)
        fsync_dir(data_dir)
    except OSError as error:
        raise StorageError(
            f"{papers}: cannot rename it aside ({error.strerror or error})"
        ) from None
