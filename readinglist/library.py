"""The write path of a library: import, mark, tag, note, undo; and its current read model.

The CLI and the TUI both change a library through :class:`Library` only. Every change is
computed inside a storage transaction *after* re-reading whatever another process saved, so
a change is always applied to the newest state and saved before the method returns.

What the library holds is read through its :class:`~readinglist.catalog.Catalog` (never
changed once built: an import builds the next one) and its reading state (a dict replaced,
never changed in place, on every change), so a thread reading either never sees one half
changed. One thread owns a ``Library``: the app's writing worker, or the CLI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from readinglist import catalog as catalogs
from readinglist import catalogfile, contents, journal, layout, storage
from readinglist.catalog import Builder, Catalog, ImportRecord
from readinglist.device import Device, last_written, remember_written, this_device
from readinglist.drafts import DRAFTS_DIR, Drafts
from readinglist.errors import (
    ReadinglistError,
    StorageError,
    UnknownPaper,
)
from readinglist.journal import CHANGE, IMPORT, NOTE, REDO, TAG_PREFIX, UNDO, Entry, Merger, Op
from readinglist.lock import Holder as Holder  # re-exported: the app names lock holders
from readinglist.lock import WaitCallback
from readinglist.model import (
    EMPTY_STATE,
    STATUSES,
    PaperState,
    normalise_tag,
    now,
    plural,
    today,
)
from readinglist.reading import MIN_PREFIX as MIN_PREFIX
from readinglist.reading import Reading, ReadModel
from readinglist.reports import Change, FileReport, ImportReport
from readinglist.storage import (
    CATALOG_FILE,
    DIGESTS_DIR,
    JOURNALS_DIR,
    JournalSummary,
    Signature,
    Store,
    file_signature,
    load_merged,
    save_merged,
)

if TYPE_CHECKING:
    from readinglist.prepare import Prepared
    from readinglist.prepare import Source as Source  # re-exported: the CLI names sources
    from readinglist.search import SearchEngine

Progress = Callable[[int, int, str], None]


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories become their ``*.txt`` files, sorted."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded += sorted(p for p in path.glob("*.txt") if p.is_file())
        else:
            expanded.append(path)
    return expanded


@dataclasses.dataclass(slots=True)
class _CatalogFile:
    """What we know ``catalog.bin`` holds: the catalog's imports, where its bytes end, and
    the file's identity then (another process may have rewritten it since)."""

    imports: int
    end: int
    deltas: int
    delta_bytes: int
    base_bytes: int
    signature: Signature


class _Batch:
    """The imports of one :meth:`Library.import_files` so far: kept as they grow, not
    recomputed per file (that was quadratic: 0.2 s of a 521-file import)."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.records: list[ImportRecord] = []
        self.entries: list[Entry] = []
        #: Digest files imported (before or in this batch): a file again is unchanged.
        self.known = {r.hash for r in builder.imports}
        #: The last import's number.
        self.seq = max((r.seq for r in builder.imports), default=0)
        #: Papers an entry of this batch brought back to the inbox.
        self.back: set[str] = set()


class Library(Reading):
    """An open library. Every mutating method is durable on return; it reads (see
    :class:`Reading`) its newest state. :meth:`view` is a snapshot of it for another thread."""

    def __init__(self, data_dir: Path, device: Device | None = None) -> None:
        self.data_dir = data_dir
        self.device = device or this_device()
        self.drafts = Drafts(data_dir / DRAFTS_DIR)
        layout.upgrade(data_dir)
        layout.to_journals(data_dir, self.device)
        self.store = Store(data_dir, self.device)
        self.merger = Merger(self.device.id)
        #: The last stamp this Library gave out (entries of one change follow each other).
        self._issued: journal.Stamp | None = None
        self.catalog: Catalog = catalogs.empty(data_dir)
        self._file: _CatalogFile | None = None
        #: Every paper's state and the read ids, derived from the merge when first asked
        #: for (see :meth:`_reading`).
        self._derived: tuple[dict[str, PaperState], set[str]] | None = None
        self._search: SearchEngine | None = None
        #: Bumped on every change, so views can tell when to re-query.
        self.version = 0
        #: Save the merge (``journals.cache``) only when :meth:`save_merge` is called, not
        #: after every change: the app does at the reader's pauses (at 100k papers with
        #: 5,000 states a save took ~10 ms of each decision). A merge saved late only makes
        #: the next open merge the journals again: they hold every change.
        self.merge_saved_later = False
        #: The journal files as the last change left them, when its merge is not saved yet.
        self._merge_unsaved: tuple[Any, ...] | None = None
        self._rebuild({"journals"})
        self.store.clean_temp_files()
        #: What the reader should know about this library now (shown once per command, or
        #: by the app): say, this device's journal replaced by an older copy of itself.
        journal_file = self.store.journal_storage
        last = journal_file.summary().last
        problem = rolled_back(self.data_dir, self.device.id, journal_file.path, last)
        self.warnings: list[str] = [] if problem is None else [problem]

    # ----------------------------------------------------------------- reading

    def view(self, *, indexed: bool = True) -> ReadModel:
        """What the library holds now, as a snapshot that later changes leave alone; without
        its search index when not ``indexed`` (see :meth:`ReadModel.indexed`)."""
        engine = self.search_engine() if indexed else None
        catalog = self.catalog.complete()
        return ReadModel(catalog, self._states, frozenset(self._read), self.version, engine)

    @property
    def _states(self) -> dict[str, PaperState]:  # type: ignore[override]
        return self._reading()[0]

    @property
    def _read(self) -> set[str]:  # type: ignore[override]
        return self._reading()[1]

    def _reading(self) -> tuple[dict[str, PaperState], set[str]]:
        """Every paper's state and the read ids. Derived on first use: a command that
        changes a few papers never needs them (``mark`` at 100k with a 10,000-change
        journal: 5,000 states, ~0.1 s)."""
        derived = self._derived
        if derived is None:
            states = self.merger.states()
            # Only papers we have count (state may outlive a paper restored from a backup).
            catalog = self.catalog
            read = {p for p, s in states.items() if s.read and p in catalog}
            derived = self._derived = (states, read)
        return derived

    def state(self, pid: str) -> PaperState:
        if self._derived is None:
            return self.merger.state(pid)
        return super().state(pid)

    def keep_index(self, view: ReadModel) -> None:
        """Keep the index a worker built for ``view`` if it is still this catalog's, so the
        next :meth:`view` need not build it again."""
        if view.engine is not None and view.catalog is self.catalog:
            self._search = view.engine

    def search_engine(self) -> SearchEngine:
        """The search index of the current catalog (built from it in a few ms)."""
        engine = self._search
        if engine is None or engine.catalog is not self.catalog:
            # Imported here: rapidfuzz and the index, ~25 ms of a start that never searches.
            from readinglist.search import SearchEngine

            engine = self._search = SearchEngine(self.catalog)
        return engine

    def stale(self) -> set[str]:
        """What another process, or another device through a sync engine, saved since we
        read it ("journals", "state"); "journals" too when a digest file another device's
        import waited for has arrived."""
        found = self.store.stale()
        digests = self.data_dir / DIGESTS_DIR
        if "journals" not in found and any(
            (digests / f"{i.hash}.json").exists() for i in self.pending()
        ):
            found.add("journals")
        return found

    def refresh(self) -> bool:
        """Pick up what another process saved; True when anything changed.

        Skipped (False) while any writer holds the lock: what another process is writing is
        better read once it is saved. The caller polls again.
        """
        with self.store.lock.attempt() as free:
            stale = self.stale() if free else set()
            if stale:
                self._merge_unsaved = None  # merged anew (and saved) by the rebuild, or damaged
                self.store.reload(stale)
                self._rebuild(stale)
        return bool(stale)

    # ----------------------------------------------------------------- importing

    def import_files(
        self, sources: Sequence[Source], progress: Progress | None = None
    ) -> ImportReport:
        """Import digests; each file is taken whole or rejected whole.

        Each file is parsed and its digest file written (``prepare``: in worker processes
        for many files), then merged into the next catalog in order; all good files are
        recorded in one transaction, the digest files made durable first (a digest file
        nothing lists yet is harmless: its name says what it holds). The lock is taken
        with the first good file, so a run of only bad files changes nothing at all.
        """
        # Imported here: parsing digests, ~20 ms of a command that imports nothing.
        from readinglist.prepare import Prepared, prepared

        reports: list[FileReport] = []
        total = len(sources)
        with prepared(sources, self.data_dir, pool=not self.store.lock.owned) as results:
            first: Prepared | None = None
            for result in results:
                if progress:
                    progress(len(reports), total, result.source)
                if isinstance(result, Prepared):
                    first = result
                    break
                reports.append(result)
            if first is not None:
                with self.store.lock:
                    self._import(first, results, reports, progress, total)
        if progress:
            progress(total, total, "")
        return ImportReport(tuple(reports))

    def _import(
        self,
        first: Prepared,
        rest: Iterator[Prepared | FileReport],
        reports: list[FileReport],
        progress: Progress | None,
        total: int,
    ) -> None:
        """Merge ``first`` and the rest as they come, then save it all (under the lock)."""
        written = [first.hash]
        try:
            with catalogs.gc_paused(), self._transaction():
                batch = _Batch(Builder(self.data_dir, self.catalog))
                reports.append(self._apply(batch, first))
                for result in rest:
                    if progress:
                        progress(len(reports), total, result.source)
                    if not isinstance(result, FileReport):  # prepared: to merge
                        written.append(result.hash)
                        result = self._apply(batch, result)
                    reports.append(result)
                contents.sync_folder(self.data_dir, written)
                if batch.entries:
                    self._write(batch.entries)
        except BaseException:
            contents.forget_syncs(self.data_dir)
            raise
        if batch.records:
            with catalogs.gc_paused():
                self._adopt(batch.builder.freeze(), batch.builder.ops)

    def _apply(self, batch: _Batch, digest: Prepared) -> FileReport:
        """Apply one digest to the batch's builder, noting its import record, and its
        journal entry (with the papers it brings back to the inbox).

        A skipped paper that recurs is back in the inbox, marked resurfaced by this digest:
        recurrence is the strongest signal a reader has. Papers kept for later or read keep
        their status; they show the new sighting.
        """
        builder = batch.builder
        unchanged = FileReport(
            digest.source, "unchanged", warnings=digest.warnings, layout=digest.layout
        )
        if digest.hash in batch.known or (
            not digest.fetched and builder.knows_digest(digest.digest)
        ):
            return unchanged
        at = now()
        stem = digest.stem
        record = ImportRecord(digest.hash, digest.digest, stem, digest.date, batch.seq + 1, at)
        if digest.content is not None:
            applied = builder.apply(record, digest.content)
        else:
            assert digest.papers is not None
            applied = builder.apply_identified(record, digest.papers)
        if not applied.changed:
            return unchanged
        batch.records.append(record)
        batch.known.add(record.hash)
        batch.seq += 1
        did = digest.digest
        ops = []
        for pid in applied.again:
            state = self.state(pid)
            if state.status == "skipped" and pid not in batch.back:  # counted by the first
                new = dataclasses.replace(state, status="new", resurfaced=did, decided_at=at)
                ops += _ops(pid, state, new, ())
        batch.back.update(op.pid for op in ops)
        doc = {"hash": digest.hash, "digest": did, "name": stem, "date": digest.date}
        batch.entries.append(self._entry(IMPORT, f"import {stem}", ops, at=at, record=doc))
        if digest.fetched and not (applied.new or applied.again):
            # Fetched again: only fresher figures (still recorded, the catalog changed).
            return unchanged
        return FileReport(
            digest.source,
            "imported",
            new=len(applied.new),
            again=len(applied.again),
            resurfaced=len(ops),
            warnings=digest.warnings,
            layout=digest.layout,
        )

    # ----------------------------------------------------------------- the catalog

    def _adopt(self, catalog: Catalog, ops: list[catalogs.Op]) -> None:
        """Make ``catalog`` (the current one plus ``ops``) current and save it, by appending
        its delta to catalog.bin or, once deltas outgrow the base, as a new base.

        Best effort under the lock the caller holds: catalog.bin is derived, and whatever
        it lacks is rebuilt from the digest files on the next open.
        """
        path = self.data_dir / CATALOG_FILE
        known = self._known_file()
        try:
            if (
                known is not None
                and known.deltas < catalogfile.MAX_DELTAS
                and known.delta_bytes < known.base_bytes // 4
            ):
                end = catalogfile.append(path, ops, known.end)
                size = end - known.end
                self._file = _CatalogFile(
                    len(catalog.imports),
                    end,
                    known.deltas + 1,
                    known.delta_bytes + size,
                    known.base_bytes,
                    file_signature(path),
                )
            else:
                self._save_base(catalog)
        except StorageError:
            self._file = None
        self.catalog = catalog
        self._changed()

    def _known_file(self) -> _CatalogFile | None:
        """What we know catalog.bin holds, if it is still that file and holds the current
        catalog's imports (else another process rewrote it, or it lags)."""
        known = self._file
        if known is None or known.imports != len(self.catalog.imports):
            return None
        return known if known.signature == file_signature(self.data_dir / CATALOG_FILE) else None

    def _save_base(self, catalog: Catalog) -> None:
        """Save ``catalog`` as catalog.bin's new base, no deltas after it."""
        path = self.data_dir / CATALOG_FILE
        size = catalogfile.save(path, catalog)
        self._file = _CatalogFile(len(catalog.imports), size, 0, 0, size, file_signature(path))

    def fold(self) -> None:
        """Save the catalog, if it was read whole with imports replayed onto its saved base,
        as the new base (if the lock is free now): each later open that reads it whole need
        not replay them (at 100k papers one import's delta costs every such open ~80 ms;
        this, once, ~0.1 s). Called once a command has done its work (one that fails
        changes nothing), and by the app in a worker at the reader's first pause."""
        if self._file is None or not self._file.deltas or not self.catalog.whole:
            return
        with contextlib.suppress(StorageError), self.store.lock.attempt() as free:
            if free and self._known_file() is not None:
                self._save_base(self.catalog)

    def _open_catalog(self) -> None:
        """The catalog of what the journals list: catalog.bin, extended by the imports it
        lacks (replayed from their digest files), or rebuilt from them all."""
        records = self._records()
        current = self.catalog.imports
        if records == current:
            return
        if current and records[: len(current)] == current:
            # Imports made elsewhere since we read it: replay just those (a reload at 100k:
            # 225 → ~90 ms, and no second copy of every column alive meanwhile). The file
            # another process saved is not what we know: the next save here writes a base.
            builder = catalogs.replayed(self.data_dir, self.catalog, records[len(current) :])
            self.catalog, self._file = builder.freeze(), None
            return
        path = self.data_dir / CATALOG_FILE
        signature = file_signature(path)
        saved = catalogfile.load(path, self.data_dir)
        base: Catalog | None = None
        self._file = None
        if saved is not None and saved.catalog.imports == records[: len(saved.catalog.imports)]:
            base = saved.catalog
            self._file = _CatalogFile(
                len(base.imports),
                saved.end,
                saved.deltas,
                saved.delta_bytes,
                saved.base_bytes,
                signature,
            )
        missing = records[len(base.imports) if base else 0 :]
        if not missing:
            assert base is not None
            self.catalog = base
            return
        builder = catalogs.replayed(self.data_dir, base, missing)
        if base is not None:
            self.catalog = base  # what the saved file holds, which the delta extends
        with self.store.lock.attempt() as free:
            if free:
                self._adopt(builder.freeze(), builder.ops)
                return
        self.catalog = builder.freeze()

    def _records(self) -> tuple[ImportRecord, ...]:
        return import_records(self.merger, self.data_dir)

    def pending(self) -> list[journal.Imported]:
        """Other devices' imports whose digest file has not arrived yet."""
        present = {r.hash for r in self.catalog.imports}
        return [i for i in self.merger.imports() if i.hash not in present]

    # ----------------------------------------------------------------- changing

    def mark(self, ids: Sequence[str], read: bool = True) -> Change | None:
        """Read, or back to ``new`` (the inbox) with ``read=False``."""
        return self.decide(ids, "read" if read else "new")

    def decide(
        self,
        ids: Sequence[str],
        status: str,
        until: str | None = None,
        tags: Sequence[str] = (),
    ) -> Change | None:
        """Give papers a status (``until``: the date a snooze ends) and optionally add
        ``tags`` (a tag preset): one undo step."""
        if status not in STATUSES or (status == "snoozed") != (until is not None):
            raise ValueError(f"bad decision {status!r} until {until!r}")
        plus = _tags(tags)
        papers = plural(len(ids), "paper")
        label = {
            "new": f"mark {papers} new",
            "later": f"keep {papers} for later",
            "read": f"mark {papers} read",
            "skipped": f"skip {papers}",
            "snoozed": f"snooze {papers} until {until}",
        }[status] + "".join(f" +{t}" for t in plus)
        stamp = now()

        def decide(state: PaperState) -> PaperState:
            return _retagged(state.decided(status, stamp, until), plus)

        return self._update(label, ids, decide)

    def snooze(self, ids: Sequence[str], days: int) -> Change | None:
        until = (date.fromisoformat(today()) + timedelta(days=days)).isoformat()
        return self.decide(ids, "snoozed", until)

    def toggle_read(self, ids: Sequence[str]) -> Change | None:
        """Read unless all already are; then unread (what a toggle over a selection means)."""
        read = not all(self.state(pid).read for pid in ids)
        return self.mark(ids, read)

    def tag(
        self, ids: Sequence[str], add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Change | None:
        plus = _tags(add)
        minus = set(_tags(remove))

        def retag(state: PaperState) -> PaperState:
            return _retagged(state, plus, minus)

        words = [f"+{t}" for t in plus] + [f"-{t}" for t in sorted(minus)]
        return self._update(f"tag {plural(len(ids), 'paper')} {' '.join(words)}", ids, retag)

    def rename_tag(self, old: str, new: str) -> Change | None:
        """Rename ``old`` to ``new`` on every paper (a merge when ``new`` is in use)."""
        source, target = normalise_tag(old), normalise_tag(new)
        if not source or not target:
            raise ReadinglistError(f"not a tag name: {old if not source else new!r}")
        _tags([target])
        ids = [pid for pid, state in self._states.items() if source in state.tags]

        def rename(state: PaperState) -> PaperState:
            tags = [target if tag == source else tag for tag in state.tags]
            return dataclasses.replace(state, tags=tuple(dict.fromkeys(tags)))

        label = f"rename tag {source} to {target} on {plural(len(ids), 'paper')}"
        return self._update(label, ids, rename) if ids and source != target else None

    def set_note(self, pid: str, text: str) -> Change | None:
        note = text.rstrip()
        _check_utf8("the note", note)
        if len(note) > journal.MAX_TEXT:
            raise ReadinglistError(
                f"the note is {len(note):,} characters; a note holds at most "
                f"{journal.MAX_TEXT:,} (nothing was saved)"
            )
        return self._update("edit note", [pid], lambda s: dataclasses.replace(s, note=note))

    def undo(self) -> Change | None:
        """Take back this device's newest change not yet undone, by a new change.

        Only the fields that still hold what it wrote, written by this device, go back:
        whatever another device changed since stays.
        """
        return self._revert(undo=True)

    def redo(self) -> Change | None:
        """Re-apply the change undone last, again only the fields nobody changed since."""
        return self._revert(undo=False)

    def _revert(self, *, undo: bool) -> Change | None:
        with self._transaction():
            done, undone = self.merger.undo_stacks()
            stack = done if undo else undone
            if not stack:
                return None
            target = stack[-1]
            ops, left = self.merger.reverting(target, undo=undo)
            word = "undo" if undo else "redo"
            self._write([self._entry(UNDO if undo else REDO, word, ops, of=target.stamp)])
        label = f"{word} {target.label}"
        if left:  # fields another device changed since stay as they are
            how = "nothing put back" if not ops else "partly"
            label += f" ({how}: changed on another device since)"
        return Change(label, tuple(dict.fromkeys(op.pid for op in ops)))

    def _update(
        self, label: str, ids: Sequence[str], change: Callable[[PaperState], PaperState]
    ) -> Change | None:
        """Apply ``change`` to each paper's *current* state, save it, and record it for undo."""
        with self._transaction():
            # Checked after the re-read, so a paper another process just imported is known.
            for pid in ids:
                if pid not in self.catalog:
                    raise UnknownPaper(f"{pid!r}: no paper has this id")
            ops: list[Op] = []
            changed = []
            for pid in dict.fromkeys(ids):
                old = self.state(pid)
                new = change(old)
                if new != old:
                    heads = tuple(v.stamp for v in self.merger.heads(pid))
                    ops += _ops(pid, old, new, heads)
                    changed.append(pid)
            if not ops:
                return None
            self._write([self._entry(CHANGE, label, ops)])
        return Change(label, tuple(changed))

    def conflicts(self) -> list[tuple[str, list[journal.NoteVersion]]]:
        """Papers whose note was edited on two devices without either seeing the other's
        edit, with the versions, oldest first."""
        return [
            (pid, self.merger.heads(pid))
            for pid in sorted(self._states)
            if self.merger.conflicted(pid)
        ]

    def devices(self) -> list[tuple[str, str, int, str | None]]:
        """(id, name, changes, time of the last change) of each device whose journal is
        here, this one first."""
        seen: dict[str, list[journal.Entry]] = {}
        for entry in self.merger.entries.values():
            seen.setdefault(entry.stamp[2], []).append(entry)
        seen.setdefault(self.device.id, [])
        names = self.merger.names | {self.device.id: self.device.name}
        rows = [
            (
                device,
                names.get(device, ""),
                len(entries),
                max((e.at for e in entries), default=None),
            )
            for device, entries in seen.items()
        ]
        return sorted(rows, key=lambda row: (row[0] != self.device.id, row[1], row[0]))

    def _entry(
        self,
        kind: str,
        label: str,
        ops: Sequence[Op],
        *,
        at: str | None = None,
        of: journal.Stamp | None = None,
        record: dict[str, Any] | None = None,
    ) -> Entry:
        """A new entry of this device, stamped after everything it has seen."""
        latest = max(filter(None, (self.merger.latest, self._issued)), default=None)
        stamp = journal.tick(latest, self.device.id, journal.clock_ms())
        self._issued = stamp
        return Entry(stamp, at or now(), kind, label[: journal.MAX_LABEL], tuple(ops), of, record)

    def _write(self, entries: list[Entry]) -> None:
        """Add ``entries`` to this device's journal (saved when the transaction ends) and to
        the merged state. The state dict and read set are replaced, not changed in place,
        so a thread reading them never sees one change size (nor derived when nothing has
        asked for them yet)."""
        # Copies a sync engine made of this device's journal may hold entries it lacks (a
        # restored backup): they join it, so that doctor --fix can remove the copies.
        count = self.store.journal_storage.summary().count
        copies = [f for f in self.store.others.files.values() if f.device == self.device.id]
        if copies:
            held = journal.Held(self.store.own_entries())
            lacking = {e.stamp: e for f in copies for e in held.lacking(f.entries)}
            entries = [*sorted(lacking.values(), key=lambda e: e.stamp), *entries]
        size = (file_signature(self.store.journal_storage.path) or (0, 0, 0))[2]
        # By size too (past half the limit): long notes edited many times fill a journal
        # long before 20,000 entries, and one over the limit could no longer be saved.
        compact = count + len(entries) > journal.COMPACT_AT or (
            size > storage.MAX_JOURNAL_BYTES // 2
        )
        if compact:
            # A merge restored from journals.cache has not read the entries yet: read them
            # now, from the journals as saved, so that the new ones join them (else the
            # snapshot would be made without the very change that set it off).
            self.merger.entries  # noqa: B018
        touched = self.merger.add(entries)
        if compact:
            stamp = journal.tick(entries[-1].stamp, self.device.id, journal.clock_ms())
            own = [e for e in self.merger.entries.values() if e.stamp[2] == self.device.id]
            compacted = self.merger.compacted(own, stamp, now(), _keep(own))
            # The snapshot's stamp is seen: no later change (after a reopen) may reuse it.
            self.merger.latest = max(filter(None, (self.merger.latest, stamp)))
            self._issued = stamp
            self.store.append(compacted, replace=True)
            self.merger.entries = {
                s: e for s, e in self.merger.entries.items() if s[2] != self.device.id
            } | {e.stamp: e for e in compacted}
        else:
            self.store.append(entries)
        if self._derived is not None:
            states, read = dict(self._derived[0]), set(self._derived[1])
            for pid in touched:
                state = self.merger.state(pid)
                if state == EMPTY_STATE:
                    states.pop(pid, None)
                else:
                    states[pid] = state
                if state.read and pid in self.catalog:
                    read.add(pid)
                else:
                    read.discard(pid)
            self._derived = states, read
        self._changed()

    # ----------------------------------------------------------------- plumbing

    @property
    def on_lock_wait(self) -> WaitCallback | None:
        """Called (in the waiting thread) when a change must wait for another writer.

        Once per change, with who holds the lock (None if unknown), before waiting up to
        ``LOCK_TIMEOUT`` s; so the app can say what it waits for instead of freezing.
        """
        return self.store.lock.on_wait

    @on_lock_wait.setter
    def on_lock_wait(self, callback: WaitCallback | None) -> None:
        self.store.lock.on_wait = callback

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        issued = self._issued
        try:
            with self.store.transaction(on_error=self._resync) as reloaded:
                if reloaded:
                    self._rebuild(reloaded)
                yield
        except BaseException:
            # What is merged may not be what was saved: never saved as a merge of them.
            self._merge_unsaved = None
            raise
        # What this change saved is merged already: the next open need not merge again.
        if self.merge_saved_later:
            self._merge_unsaved = self.store.merge_key()
        else:
            self._save_merged(self.merger)
        if self._issued is not None and self._issued != issued:
            remember_written(self.data_dir, self.device.id, journal.key_of(self._issued))
            self.warnings = []  # the journal holds this device's newest change again

    def save_merge(self) -> None:
        """Save the merge now if changes were made since it was (see
        :attr:`merge_saved_later`), and only if it is still the merge of the journal files
        as the last of them left them: after a reload, or a failed change or reload, the
        next open merges the journals again instead (tested: a reload that found damage
        must not be saved over as a clean merge)."""
        key = self._merge_unsaved
        if key is None:
            return
        changed = self.store.merge_key() != key or self.stale()
        if changed or self._save_merged(self.merger):
            self._merge_unsaved = None

    def _save_merged(self, merger: Merger) -> bool:
        """Save the merge for the next open, if the lock is free now (never waits); not in
        a library folder nothing has created yet (an open only reads). Whether it did."""
        if not (self.data_dir / JOURNALS_DIR).is_dir():
            return True  # nothing to save it for
        with contextlib.suppress(StorageError), self.store.lock.attempt() as free:
            if free:
                own = dataclasses.astuple(self.store.journal_storage.summary())
                payload = (merger.export(), self.store.others.headers(), own)
                save_merged(self.data_dir, self.store.merge_key(), payload)
                return True
        return False

    def _entries(self) -> list[Entry]:
        """Every journal's entries (what a merge restored from its saved copy lacks)."""
        return [
            *self.store.own_entries(),
            *(e for f in self.store.others.readable() for e in f.entries),
        ]

    def _resync(self) -> None:
        """After a failed save (nothing was saved): make memory match the disk again.

        Run still holding the lock, so another thread sharing this Library never sees the
        model half rebuilt.
        """
        with contextlib.suppress(StorageError):
            self.store.reload({"journals", "state"})
            self._rebuild({"journals"})

    def _rebuild(self, kinds: set[str]) -> None:
        """Derive the in-memory model from the stored documents.

        A document of the wrong shape (a hand edit, another program) is reported as damage
        of its file, like invalid JSON, rather than surfacing as a traceback.
        """
        if "journals" not in kinds:
            return  # state.json only marks the layout: nothing is derived from it
        key = self.store.merge_key()
        saved = load_merged(self.data_dir, key)
        merger = None
        if saved is not None:
            with contextlib.suppress(TypeError, ValueError, KeyError, IndexError):
                # The loader holds the store, not this Library: no cycle to keep it alive.
                loader = partial(all_entries, self.store)
                if self.store.journal_storage.use(JournalSummary(*saved[2])):
                    merger = Merger.restore(self.device.id, saved[0], loader)
                    self.store.others.prime(saved[1])
        if merger is None:
            merger = merged(self.data_dir, self.store)
            self._save_merged(merger)
        self.merger = merger
        self._open_catalog()
        self._derived = None
        self._changed()

    def _changed(self) -> None:
        self.version += 1


def rolled_back(data_dir: Path, device: str, path: Path, last: str | None) -> str | None:
    """What is wrong when this device's journal (whose newest key is ``last``) lacks the
    newest change this device saved in this folder (the config dir remembers it): an older
    copy replaced it (a restored backup, a sync engine copying the other way, ``rsync``
    without ``--update``), and the changes after it are gone from it; None when nothing
    says so."""
    key = last_written(data_dir, device)
    if key is None or not path.exists():
        return None
    if last is not None and journal.key_order(key) <= journal.key_order(last):
        return None
    return (
        f"{path}: this device's journal lacks the newest change this device saved here "
        "(an older copy of it replaced it: a restored backup, or a sync engine copying the "
        "other way); look for a newer copy (your sync engine's versions, "
        f"{path.name}.bak) before changing anything here, as the next change is saved "
        "over this one"
    )


def import_records(merger: Merger, data_dir: Path) -> tuple[ImportRecord, ...]:
    """Every import the journals hold, in stamp order, numbered. Another device's import
    whose digest file the sync engine has not brought yet waits (it is counted once it is
    here: the numbering is then the same on every device)."""
    imports, device = merger.imports(), merger.device
    here = _digest_files(data_dir) if any(i.stamp[2] != device for i in imports) else set()
    found = [i for i in imports if i.stamp[2] == device or f"{i.hash}.json" in here]
    return tuple(
        ImportRecord(i.hash, i.digest, i.name, i.date, seq, i.at)
        for seq, i in enumerate(found, start=1)
    )


def _digest_files(data_dir: Path) -> set[str]:
    """The names of the digest files here: one read of the folder, where a check per import
    took ~6.6 ms (now 2) of every open of a library another device imported 521 digests into."""
    try:
        with os.scandir(data_dir / DIGESTS_DIR) as entries:
            return {entry.name for entry in entries if entry.is_file()}
    except OSError:  # no folder yet, or not readable: no file counts as here
        return set()


def all_entries(store: Store) -> list[Entry]:
    """Every readable journal's entries (what a merge restored from its saved copy lacks)."""
    return [*store.own_entries(), *(e for f in store.others.readable() for e in f.entries)]


def merged(data_dir: Path, store: Store) -> Merger:
    """The merge of every readable journal in ``store`` (this device's and the others')."""
    merger = Merger(store.device.id)
    merger.add(store.own_entries())
    for other in store.others.readable():
        assert other.device is not None
        merger.names.setdefault(other.device, other.name)
        merger.add(other.entries)
    merger.names[store.device.id] = store.device.name
    return merger


def _keep(own: list[Entry]) -> int:
    """How many of the newest entries a compaction keeps whole (undo reaches back that
    far): :data:`journal.KEEP_ON_COMPACT`, fewer when they alone would take over a quarter
    of what a journal may hold (long notes)."""
    budget, kept = storage.MAX_JOURNAL_BYTES // 4, 0
    for entry in sorted(own, key=lambda e: e.stamp, reverse=True)[: journal.KEEP_ON_COMPACT]:
        budget -= len(orjson.dumps(journal.encode_entry(entry)))
        if budget < 0:
            break
        kept += 1
    return kept


def _tags(names: Iterable[str]) -> list[str]:
    """Tags as stored (normalised, empty ones dropped); a tag too long for a journal is an
    error, not a journal the next open would refuse."""
    tags = [t for t in map(normalise_tag, names) if t]
    for tag in tags:
        _check_utf8(f"tag {tag[:40]!r}", tag)
        if len(tag) > journal.MAX_TAG:
            raise ReadinglistError(
                f"tag {tag[:40]!r}…: longer than {journal.MAX_TAG} characters; use a shorter one"
            )
    return tags


def _check_utf8(what: str, text: str) -> None:
    """Text a journal (UTF-8 JSON) can hold: bytes that are not UTF-8, which a shell passes
    on as lone surrogates (``note --set $'\\xff'``), are an error, not a traceback."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ReadinglistError(
            f"{what} holds bytes that are not UTF-8 text (character {error.start + 1}); "
            "nothing was saved"
        ) from None


def _ops(pid: str, old: PaperState, new: PaperState, heads: tuple[journal.Stamp, ...]) -> list[Op]:
    """The journal ops that take paper ``pid`` from state ``old`` to ``new`` (a note edit
    replaces the versions ``heads``, which a conflict shows side by side)."""
    ops = []
    before = {name: getattr(old, name) for name in journal.STATUS_FIELDS}
    after = {name: getattr(new, name) for name in journal.STATUS_FIELDS}
    if before != after:
        ops.append(Op(pid, "status", before, after))
    ops += [Op(pid, TAG_PREFIX + t, False, True) for t in new.tags if t not in old.tags]
    ops += [Op(pid, TAG_PREFIX + t, True, False) for t in old.tags if t not in new.tags]
    if old.note != new.note:
        ops.append(Op(pid, NOTE, old.note, new.note, heads))
    return ops


def _retagged(state: PaperState, plus: Sequence[str], minus: Collection[str] = ()) -> PaperState:
    """``state`` without the tags ``minus`` and with ``plus`` added after its own, in order."""
    if not plus and not minus:
        return state
    tags = [t for t in state.tags if t not in minus]
    return dataclasses.replace(state, tags=tuple(dict.fromkeys([*tags, *plus])))
