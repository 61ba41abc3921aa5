"""Upgrading a library folder of the single-file layout (everything in ``papers.json``) to
digest files, ``imports.json`` and the derived catalog.

Runs when a library is opened, before anything else reads it, under the library's lock. The
digest files are written first (a digest file nothing lists is harmless), then imports.json,
which is the commit: a crash before it leaves the old layout to upgrade again, after it the
new one. ``papers.json`` is then renamed ``papers.json.schema1.bak``, kept until the user
removes it; ``state.json`` is upgraded by the store, its original kept the same way.
An older readinglist refuses the upgraded library (state.json's schema is newer than it
knows) rather than seeing it empty.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from readinglist import contents
from readinglist.dailypapers import day_id
from readinglist.errors import StorageError
from readinglist.lock import Lock
from readinglist.model import META_FIELDS
from readinglist.storage import (
    IMPORTS_FILE,
    INDEX_FILE,
    LOCK_FILE,
    PAPERS_FILE,
    SCHEMA_VERSION,
    atomic_write,
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

    A damaged ``papers.json`` raises :class:`~readinglist.errors.LibraryCorrupt` and is
    left as it is, like any damaged library file.
    """
    if not needs_upgrade(data_dir):
        return
    imports = data_dir / IMPORTS_FILE
    if not imports.exists():
        load_file(data_dir / PAPERS_FILE, "papers")  # refuse damage before taking the lock
    with Lock(data_dir / LOCK_FILE):
        if not needs_upgrade(data_dir):
            return  # another process did it while we waited
        if not imports.exists():
            data = load_file(data_dir / PAPERS_FILE, "papers")
            atomic_write(imports, _write_digest_files(data_dir, data), backup=False)
        _retire(data_dir)


def _write_digest_files(data_dir: Path, data: dict[str, dict[str, Any]]) -> bytes:
    """Write one digest file per digest of ``data`` (an old papers.json); the bytes of the
    imports.json that lists them.

    Each digest file lists its papers with their ids (the old library had decided them,
    with rules a replay could not always repeat: an arXiv id met after the title), their
    title, abstract and links, and their metadata. A paper's abstract is read from the
    first digest it was seen in, as before.
    """
    papers, digests = data.get("papers", {}), data.get("digests", {})
    members: dict[str, list[dict[str, Any]]] = {did: [] for did in digests}
    for pid, doc in papers.items():
        entry = {
            "id": pid,
            "title": doc["title"],
            "abstract": doc["abstract"],
            "links": doc.get("links", []),
            **{key: doc[key] for key in META_FIELDS if doc.get(key) not in (None, [])},
        }
        for did in doc["digests"]:
            members[did].append(entry)
    records: dict[str, dict[str, Any]] = {}
    written = []
    for did, record in sorted(digests.items(), key=lambda item: item[1]["seq"]):
        fetched = did == day_id(record["name"])
        name, payload = contents.encode(did, record.get("date"), "upgraded", fetched, members[did])
        contents.write(data_dir, name, payload, sync=False)
        written.append(name)
        records[name] = {
            "digest": did,
            "name": record["name"],
            "date": record.get("date"),
            "seq": record["seq"],
            "imported_at": record["imported_at"],
        }
    contents.sync_folder(data_dir, written)
    return orjson.dumps({"meta": {"schema": schema_doc("imports")}, "imports": records})


def _retire(data_dir: Path) -> None:
    """Rename papers.json aside (never over an earlier copy) and drop the old index."""
    papers = data_dir / PAPERS_FILE
    target = data_dir / RETIRED_PAPERS
    number = 1
    while target.exists():
        number += 1
        target = data_dir / f"{RETIRED_PAPERS}.{number}"
    try:
        os.replace(papers, target)
        with contextlib.suppress(FileNotFoundError):
            (data_dir / INDEX_FILE).unlink()
        fsync_dir(data_dir)
    except OSError as error:
        raise StorageError(
            f"{papers}: cannot rename it aside ({error.strerror or error})"
        ) from None
