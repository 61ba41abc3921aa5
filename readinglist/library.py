"""The one facade over a library: import, query, mark, tag, note, undo.

The CLI and the TUI both talk to :class:`Library` only. Every change is computed inside a
storage transaction *after* re-reading whatever another process saved, so a change is
always applied to the newest state and saved before the method returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from readinglist.dailypapers import (
    DayDigest,
    FetchedPaper,
    day_id,
    days_after,
    is_response,
    parse_response,
    to_digest,
)
from readinglist.digest import (
    ParsedDigest,
    parse_digest,
    read_bytes,
)
from readinglist.drafts import DRAFTS_DIR, Drafts
from readinglist.errors import (
    DigestError,
    LibraryCorrupt,
    ReadinglistError,
    StorageError,
    UnknownPaper,
)
from readinglist.history import History, diff
from readinglist.lock import Holder as Holder  # re-exported: the app names lock holders
from readinglist.lock import WaitCallback
from readinglist.model import (
    EMPTY_STATE,
    STATUSES,
    Digest,
    Paper,
    PaperState,
    merged_meta,
    normalise_tag,
    now,
    paper_id,
    plural,
    title_key,
    today,
)
from readinglist.reports import Change, FileReport, ImportReport, Stats
from readinglist.storage import Store, document, ids

if TYPE_CHECKING:  # search imports library at run time; only types go the other way
    from readinglist.search import SearchEngine

#: Shortest id prefix accepted on the command line.
MIN_PREFIX = 4

#: A digest to import: a file (a text digest or a saved API response, told apart by content),
#: a name and its bytes (stdin), or a day fetched from the Daily Papers API.
Source = Path | tuple[str, bytes] | DayDigest
Progress = Callable[[int, int, str], None]


@contextlib.contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic GC while building 100k papers' worth of objects, then freeze them.

    Without it the collector runs full passes over the growing heap during a load (a third
    of its time) and later, at random, over everything loaded (~0.9 s freezes at 100k).
    The data holds no reference cycles, so nothing frozen is ever garbage.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def parse_source(source: Source) -> tuple[str, ParsedDigest, dict[str, FetchedPaper] | None]:
    """(digest name, parsed digest, API metadata by paper id or None) of one source.

    A saved API response becomes exactly what fetching its day gives (named by the day).
    """
    if isinstance(source, DayDigest):
        return source.name, source.digest, source.papers
    if isinstance(source, tuple):
        name, data = source
        stem = Path(name).stem or name
    else:
        name, data, stem = str(source), read_bytes(source), source.stem
    if is_response(data, name):
        day = to_digest(parse_response(data, name))
        return day.name, day.digest, day.papers
    return stem, parse_digest(data, name), None


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories become their ``*.txt`` files, sorted."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded += sorted(p for p in path.glob("*.txt") if p.is_file())
        else:
            expanded.append(path)
    return expanded


class Library:
    """An open library. Cheap to query; every mutating method is durable on return."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.drafts = Drafts(data_dir / DRAFTS_DIR)
        with bulk_allocation():
            self.store = Store(data_dir)
        self.history = History(self.store.state_db)
        self.papers: dict[str, Paper] = {}
        self.digests: dict[str, Digest] = {}
        self._states: dict[str, PaperState] = {}
        self._read: set[str] = set()
        self._recurring: int | None = None
        self._order: list[str] | None = None
        self._search: SearchEngine | None = None
        #: arXiv id → paper id, built on the first import that needs it.
        self._arxiv: dict[str, str] | None = None
        #: Bumped on every change, so views can tell when to re-query.
        self.version = 0
        with bulk_allocation():
            self._rebuild({"papers", "state"})
        self.store.clean_temp_files()

    # ----------------------------------------------------------------- reading

    def state(self, pid: str) -> PaperState:
        return self._states.get(pid, EMPTY_STATE)

    def stateful(self) -> Iterable[tuple[str, PaperState]]:
        """Papers with any reading state (read, tags, note); every other one is EMPTY_STATE."""
        return self._states.items()

    def unread_only(self, ids: Iterable[str]) -> list[str]:
        read = self._read
        return [pid for pid in ids if pid not in read]

    def count_read(self, ids: Collection[str]) -> int:
        """How many of ``ids`` (distinct paper ids, as queries return) are read."""
        if len(ids) >= len(self.papers):
            return len(self._read)  # every paper: no need to look at 100k ids
        return len(self._read.intersection(ids))

    @property
    def recurring(self) -> int:
        """Papers seen in two or more digests."""
        if self._recurring is None:
            self._recurring = sum(1 for p in self.papers.values() if p.seen >= 2)
        return self._recurring

    def ordered(self) -> list[str]:
        """All ids in the default order: seen desc, newest digest first, then title."""
        if self._order is None:
            ranked = sorted(
                self.papers.values(),
                key=lambda p: (-len(p.digests), -p.latest, p.title.casefold()),
            )
            self._order = [p.id for p in ranked]
        return self._order

    def query(self, text: str = "") -> list[str]:
        """Ids matching ``text`` (see :mod:`readinglist.query`), best first."""
        if not text.strip():
            return list(self.ordered())  # a copy: the cached order must not be changed
        return self.search_engine().search(text)

    def search_engine(self) -> SearchEngine:
        """The search index: restored from ``index.cache`` or built, then kept up to date."""
        if self._search is None:
            from readinglist.search import SearchEngine

            self._search = SearchEngine.open(self)
            assert self._search is not None  # open() builds when nothing is saved
        return self._search

    def resolve(self, ref: str) -> str:
        """A paper id from an id or a unique prefix of one."""
        ref = ref.strip().lower()
        if ref in self.papers:
            return ref
        if len(ref) < MIN_PREFIX:
            raise UnknownPaper(
                f"{ref!r}: no paper has this id (prefixes need {MIN_PREFIX}+ characters)"
            )
        matches = [pid for pid in self.papers if pid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownPaper(f"{ref!r}: no paper has this id (see `readinglist list`)")
        raise UnknownPaper(
            f"{ref!r}: ambiguous id prefix, matches {', '.join(sorted(matches)[:5])}"
        )

    def digest_list(self, pid: str) -> list[Digest]:
        """The digests a paper appeared in, newest import first."""
        return sorted((self.digests[d] for d in self.papers[pid].digests), key=lambda d: -d.seq)

    def all_tags(self) -> list[str]:
        return sorted(self.tag_counts())

    def tag_counts(self) -> dict[str, int]:
        """Tags in use and how many papers carry each, most used first."""
        counts = Counter(tag for state in self._states.values() for tag in state.tags)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def counts(self, ids: Iterable[str]) -> Counter[str]:
        """How many of ``ids`` have each status today."""
        day = today()
        states = self._states
        return Counter(states[pid].current(day) if pid in states else "new" for pid in ids)

    def to_json(self, pid: str) -> dict[str, Any]:
        paper, state = self.papers[pid], self.state(pid)
        status = state.current()
        return {
            "id": pid,
            "title": paper.title,
            "abstract": paper.abstract,
            "seen": paper.seen,
            "digests": [{"name": d.name, "date": d.date} for d in self.digest_list(pid)],
            "status": status,
            "resurfaced": bool(state.resurfaced) and status == "new",
            **({"snoozed_until": state.snoozed_until} if status == "snoozed" else {}),
            "read": state.read,
            "read_at": state.read_at,
            "decided_at": state.decided_at,
            "tags": list(state.tags),
            "note": state.note,
            "links": list(paper.links),
            "updated": state.updated,
            **{key: value for key, value in _known(paper) if value not in (None, [])},
        }

    @property
    def read_total(self) -> int:
        return len(self._read)

    def stats(self) -> Stats:
        read = self.read_total
        counts = self.counts(self.papers)
        per_digest: dict[str, list[int]] = {d: [0, 0] for d in self.digests}
        for pid, paper in self.papers.items():
            is_read = self.state(pid).read
            for d in paper.digests:
                per_digest[d][0] += 1
                per_digest[d][1] += is_read
        digests = tuple(
            {
                "name": d.name,
                "date": d.date,
                "papers": per_digest[d.id][0],
                "read": per_digest[d.id][1],
            }
            for d in sorted(self.digests.values(), key=lambda d: d.seq)
        )
        return Stats(
            papers=len(self.papers),
            unread=len(self.papers) - read,
            read=read,
            noted=sum(1 for pid in self.papers if self.state(pid).note),
            tagged=sum(1 for pid in self.papers if self.state(pid).tags),
            recurring=self.recurring,
            digests=digests,
            statuses={status: counts[status] for status in STATUSES},
        )

    def stale(self) -> set[str]:
        """Which files ("papers", "state") another process saved since we read them."""
        return self.store.stale()

    def refresh(self) -> bool:
        """Pick up what another process saved; True when anything changed.

        Skipped (False) while any writer holds the lock: a change being made by another
        thread of this process must never have its files reloaded under it, and what
        another process is writing is better read once it is saved. The caller polls again.
        """
        with self.store.lock.attempt() as free:
            stale = self.stale() if free else set()
            if stale:
                self.store.reload(stale)
                self._rebuild(stale)
        return bool(stale)

    # ----------------------------------------------------------------- importing

    @bulk_allocation()
    def import_files(
        self, sources: Sequence[Source], progress: Progress | None = None
    ) -> ImportReport:
        """Import digests; each file is taken whole or rejected whole.

        Parsing happens first, outside the lock; then all good files are applied in one
        transaction, so the big papers file is written once per call.
        """
        reports: list[FileReport | None] = []
        parsed: list[tuple[int, str, ParsedDigest, dict[str, FetchedPaper] | None]] = []
        total = len(sources)
        for number, source in enumerate(sources):
            if isinstance(source, DayDigest):
                name = source.digest.source
            else:
                name = source[0] if isinstance(source, tuple) else str(source)
            if progress:
                progress(number, total, name)
            try:
                stem, digest, fetched = parse_source(source)
            except DigestError as error:
                reports.append(FileReport(name, "rejected", error=str(error)))
                continue
            reports.append(None)
            parsed.append((len(reports) - 1, stem, digest, fetched))
        if parsed:
            if self._search is None:
                from readinglist.search import SearchEngine

                # Cheap from a saved index, which the import then extends and re-saves.
                self._search = SearchEngine.open(self, build=False)
            with self._transaction():
                added: list[Digest] = []
                touched: dict[str, None] = {}
                back: dict[str, dict[str, Any]] = {}
                for slot, stem, digest, fetched in parsed:
                    reports[slot] = self._apply_digest(stem, digest, added, touched, back, fetched)
                self._store_import(added, touched)
                if back:
                    self._put_states(back)
            self._changed(papers=True)
            if self._search is not None:
                self._search.save()
        if progress:
            progress(total, total, "")
        return ImportReport(tuple(r for r in reports if r is not None))

    def _apply_digest(
        self,
        stem: str,
        digest: ParsedDigest,
        added: list[Digest],
        touched: dict[str, None],
        back: dict[str, dict[str, Any]],
        fetched: dict[str, FetchedPaper] | None = None,
    ) -> FileReport:
        """Apply one digest in memory, noting what ``_store_import`` must write.

        A skipped paper that recurs is back in the inbox (``back``: its new state), marked
        resurfaced by this digest: recurrence is the strongest signal a reader has. Papers
        kept for later or read keep their status; they show the new sighting.

        A fetched day (``fetched``: its papers' API metadata) is one digest however often
        it is fetched: fetched again, it gains the papers listed since, as sightings, and
        its known papers only get fresher figures (see ``model.merged_meta``).
        """
        did = digest.content_id
        record = self.digests.get(did)
        if record is not None and fetched is None:
            return FileReport(
                digest.source, "unchanged", warnings=digest.warnings, layout=digest.layout
            )
        seq = record.seq if record else max((d.seq for d in self.digests.values()), default=0) + 1
        new: dict[str, Paper] = {}
        again: dict[str, None] = {}
        enriched: dict[str, None] = {}  # known papers whose metadata or links changed
        for entry in digest.entries:
            pid = paper_id(title_key(entry.title))
            info = fetched.get(pid) if fetched else None
            if info is not None:
                pid = self._identify(pid, info, new)
            if pid in new or pid in again:
                continue  # listed twice in one digest: still one sighting
            paper = self.papers.get(pid)
            if paper is None:
                meta = info.meta() if info else None
                new[pid] = Paper(
                    pid, entry.title, entry.abstract, entry.links, [did], seq, meta or None
                )
                self._index_arxiv(new[pid])
                continue
            if info is not None and self._enrich(paper, info):
                enriched[pid] = None
            if did not in paper.digests:
                again[pid] = None
        sightings = len(new) + len(again)
        if record is None and sightings:
            record = Digest(did, stem, digest.date, seq, now(), sightings)
        elif record is not None and sightings:
            record = dataclasses.replace(record, papers=record.papers + sightings)
        if record is not None and sightings:
            added.append(record)
            self.digests[did] = record
        touched.update(dict.fromkeys(new))
        touched.update(again)
        touched.update(enriched)
        self.papers.update(new)
        for pid in again:
            paper = self.papers[pid]
            paper.digests.append(did)
            paper.latest = max(paper.latest, seq)
            state = self.state(pid)
            if state.status == "skipped" and pid not in back:  # counted by the first digest
                stamp = now()
                back[pid] = dataclasses.replace(
                    state, status="new", resurfaced=did, decided_at=stamp, updated=stamp
                ).to_doc()
        if self._search is not None:
            self._search.add(did, new, list(again), list(enriched))
        if fetched is not None and record is not None and not sightings:
            status: Literal["imported", "unchanged"] = "unchanged"  # fetched again, no change
        else:
            status = "imported"
        return FileReport(
            digest.source,
            status,
            new=len(new),
            again=len(again),
            resurfaced=sum(back.get(pid, {}).get("resurfaced") == did for pid in again),
            warnings=digest.warnings,
            layout=digest.layout,
        )

    def _identify(self, pid: str, info: FetchedPaper, new: dict[str, Paper]) -> str:
        """Which paper a fetched one is: the one with its arXiv id, else the one with its
        title (``pid``), unless that one has another arXiv id: then a paper of its own."""
        if info.arxiv_id is None:
            return pid
        found = self._arxiv_index().get(info.arxiv_id)
        if found is not None:
            return found
        same_title = self.papers.get(pid) or new.get(pid)
        if same_title is not None and same_title.arxiv_id not in (None, info.arxiv_id):
            return paper_id(f"{title_key(info.title)}\narXiv {info.arxiv_id}")
        return pid

    def _enrich(self, paper: Paper, info: FetchedPaper) -> bool:
        """Merge a fetch's metadata into a known paper; whether anything changed.

        Its title, abstract and id stay; the repository and project page join its links.
        """
        meta = merged_meta(paper.meta, info.meta())
        pages = (meta.get("github_repo"), meta.get("project_page"))
        links = tuple(dict.fromkeys([*paper.links, *(url for url in pages if url)]))
        if meta == (paper.meta or {}) and links == paper.links:
            return False
        paper.meta, paper.links = meta or None, links
        self._index_arxiv(paper)
        return True

    def _arxiv_index(self) -> dict[str, str]:
        if self._arxiv is None:
            self._arxiv = {p.arxiv_id: pid for pid, p in self.papers.items() if p.arxiv_id}
        return self._arxiv

    def _index_arxiv(self, paper: Paper) -> None:
        if paper.arxiv_id:
            self._arxiv_index().setdefault(paper.arxiv_id, paper.id)

    def fetched_days(self) -> list[str]:
        """The days (``YYYY-MM-DD``) fetched from the Daily Papers API, or imported from a
        saved response, oldest first: the digests whose id is their day's."""
        return sorted(d.name for d in self.digests.values() if d.id == day_id(d.name))

    def days_to_fetch(self) -> list[date]:
        """What a plain ``fetch`` (or the app's ``f``) covers: the last day fetched, which
        may have grown since, through today; the first time, today."""
        fetched = self.fetched_days()
        return days_after(fetched[-1] if fetched else None)

    def _store_import(self, added: list[Digest], touched: dict[str, None]) -> None:
        """Write an import's papers and digests with a constant number of table passes.

        TinyDB copies a whole table on every operation, so writing per digest would make
        importing a year of digests quadratic (20 s at 100k papers instead of a few).
        """
        if not added and not touched:
            return
        data = self.store.papers_storage.read()
        papers = self.store.papers_db.table("papers")
        stored = data.get("papers", {})
        papers.remove(doc_ids=ids(pid for pid in touched if pid in stored))
        papers.insert_multiple(document(self.papers[pid].to_doc(), pid) for pid in touched)
        digests = self.store.papers_db.table("digests")
        records = {d.id: d for d in added}  # a fetched day extended twice: written once
        extended = [did for did in records if did in data.get("digests", {})]
        if extended:
            digests.remove(doc_ids=ids(extended))
        digests.insert_multiple(document(d.to_doc(), d.id) for d in records.values())

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
        plus = [t for t in map(normalise_tag, tags) if t]
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
        plus = [t for t in map(normalise_tag, add) if t]
        minus = {t for t in map(normalise_tag, remove) if t}

        def retag(state: PaperState) -> PaperState:
            return _retagged(state, plus, minus)

        words = [f"+{t}" for t in plus] + [f"-{t}" for t in sorted(minus)]
        return self._update(f"tag {plural(len(ids), 'paper')} {' '.join(words)}", ids, retag)

    def rename_tag(self, old: str, new: str) -> Change | None:
        """Rename ``old`` to ``new`` on every paper (a merge when ``new`` is in use)."""
        source, target = normalise_tag(old), normalise_tag(new)
        if not source or not target:
            raise ReadinglistError(f"not a tag name: {old if not source else new!r}")
        ids = [pid for pid, state in self._states.items() if source in state.tags]

        def rename(state: PaperState) -> PaperState:
            tags = [target if tag == source else tag for tag in state.tags]
            return dataclasses.replace(state, tags=tuple(dict.fromkeys(tags)))

        label = f"rename tag {source} to {target} on {plural(len(ids), 'paper')}"
        return self._update(label, ids, rename) if ids and source != target else None

    def set_note(self, pid: str, text: str) -> Change | None:
        note = text.rstrip()
        return self._update("edit note", [pid], lambda s: dataclasses.replace(s, note=note))

    def undo(self) -> Change | None:
        """Revert the newest change not yet undone (by this or any other process).

        Only the fields that change touched are put back, over the papers' current state.
        """
        with self._transaction():
            entry = self.history.last_done()
            if entry is None:
                return None
            seq, doc = entry
            docs = self.history.docs(doc, undo=True, current=self._state_doc)
            self._put_states(docs)
            self.history.set_undone(seq, True)
        self._changed()
        return Change(f"undo {doc['label']}", tuple(docs))

    def redo(self) -> Change | None:
        """Re-apply the oldest undone change, again only the fields it touched."""
        with self._transaction():
            entry = self.history.first_undone()
            if entry is None:
                return None
            seq, doc = entry
            docs = self.history.docs(doc, undo=False, current=self._state_doc)
            self._put_states(docs)
            self.history.set_undone(seq, False)
        self._changed()
        return Change(f"redo {doc['label']}", tuple(docs))

    def _update(
        self, label: str, ids: Sequence[str], change: Callable[[PaperState], PaperState]
    ) -> Change | None:
        """Apply ``change`` to each paper's *current* state, save it, and record it for undo."""
        with self._transaction():
            # Checked after the re-read, so a paper another process just imported is known.
            for pid in ids:
                if pid not in self.papers:
                    raise UnknownPaper(f"{pid!r}: no paper has this id")
            stamp = now()
            after: dict[str, Any] = {}
            changes: dict[str, dict[str, list[Any]]] = {}
            for pid in dict.fromkeys(ids):
                old = self.state(pid)
                new = change(old)
                if new == old:
                    continue
                after[pid] = dataclasses.replace(new, updated=stamp).to_doc()
                # Only what changed goes into the journal: never a long note left as it was.
                changes[pid] = diff(old.to_doc(), after[pid])
            if not after:
                return None
            self._put_states(after)
            self.history.record(label, changes, stamp)
        self._changed()
        return Change(label, tuple(after))

    def _state_doc(self, pid: str) -> dict[str, Any]:
        return self.state(pid).to_doc()

    def _put_states(self, docs: Mapping[str, dict[str, Any] | None]) -> None:
        """Store state documents (None removes one) and update the model to match.

        The model's dict and set are replaced rather than changed in place, so a thread
        reading them (the app's screen while its worker saves) never sees one change size.
        """
        table = self.store.state_db.table("state")
        table.remove(doc_ids=ids(pid for pid in docs if pid in self._states))
        table.insert_multiple(document(doc, pid) for pid, doc in docs.items() if doc is not None)
        states, read = dict(self._states), set(self._read)
        for pid, doc in docs.items():
            if doc is None:
                states.pop(pid, None)
            else:
                states[pid] = PaperState.from_doc(doc)
            if doc and doc.get("status") == "read" and pid in self.papers:
                read.add(pid)
            else:
                read.discard(pid)
        self._states, self._read = states, read

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
        with self.store.transaction(on_error=self._resync) as reloaded:
            if reloaded:
                self._rebuild(reloaded)
            yield

    def _resync(self) -> None:
        """After a failed save (nothing was saved): make memory match the disk again.

        Run still holding the lock, so another thread sharing this Library never sees the
        model half rebuilt.
        """
        with contextlib.suppress(StorageError):
            self.store.reload({"papers", "state"})
            self._rebuild({"papers", "state"})

    def _rebuild(self, kinds: set[str]) -> None:
        """Derive the in-memory model from the stored documents.

        A document of the wrong shape (a hand edit, another program) is reported as damage
        of its file, like invalid JSON, rather than surfacing as a traceback.
        """
        try:
            self._derive(kinds)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            storage = self.store.papers_storage if "papers" in kinds else self.store.state_storage
            raise LibraryCorrupt(
                storage.path, f"a document is malformed ({type(error).__name__}: {error})"
            ) from None

    def _derive(self, kinds: set[str]) -> None:
        if "papers" in kinds:
            data = self.store.papers_storage.read()
            self.digests = {
                did: Digest.from_doc(did, doc) for did, doc in data.get("digests", {}).items()
            }
            seqs = {did: d.seq for did, d in self.digests.items()}
            papers = {}
            for pid, doc in data.get("papers", {}).items():
                paper = Paper.from_doc(pid, doc)
                paper.latest = max(map(seqs.__getitem__, paper.digests), default=0)
                papers[pid] = paper
            self.papers = papers
            self._arxiv = None
        if "state" in kinds:
            data = self.store.state_storage.read()
            self._states = {
                pid: PaperState.from_doc(doc) for pid, doc in data.get("state", {}).items()
            }
        # Only papers we have count (state may outlive a paper restored from a backup).
        self._read = {p for p, s in self._states.items() if s.read and p in self.papers}
        self._changed(papers="papers" in kinds)

    def _changed(self, papers: bool = False) -> None:
        self.version += 1
        if papers:
            self._order = None
            self._recurring = None
            if self._search is not None and self._search.papers is not self.papers:
                self._search = None  # reloaded from disk: rebuild (imports update it in place)


def _known(paper: Paper) -> Iterable[tuple[str, Any]]:
    """The metadata ``to_json`` adds (only what is known)."""
    return (
        ("arxiv_id", paper.arxiv_id),
        ("authors", list(paper.authors)),
        ("upvotes", paper.upvotes),
        ("published", paper.published),
    )


def _retagged(state: PaperState, plus: Sequence[str], minus: Collection[str] = ()) -> PaperState:
    """``state`` without the tags ``minus`` and with ``plus`` added after its own, in order."""
    if not plus and not minus:
        return state
    tags = [t for t in state.tags if t not in minus]
    tags += [t for t in plus if t not in tags]
    return dataclasses.replace(state, tags=tuple(tags))
