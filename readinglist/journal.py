"""Reading state as one journal per device, merged the same way on every device.

A library folder shared through Syncthing, Dropbox or git is changed offline on several
devices. Each device writes only its own journal (``journals/<device id>.json``), so a sync
engine never has two versions of one file to choose between; the state everyone sees is
:class:`Merger`'s merge of every journal present, which does not depend on the order the
files arrived in:

* every entry has a hybrid logical clock :data:`Stamp` (wall ms, counter, device): a device
  stamps each change after everything it has seen, so a clock running late cannot make its
  changes lose forever, and ties are broken by device id;
* per paper and field, the change with the highest stamp wins: the status (with its read,
  decision, snooze and resurface fields, which go together) and each tag (present or not);
* a note keeps every version nobody has built on (the *heads*: an edit names the versions
  it replaced, ``base``): two edits made without seeing each other are both kept, shown
  together as a conflict until the reader saves an edit of that text;
* an import is the digest file it names (content-addressed: the same on every device),
  ordered by stamp; the earliest import of one file counts.

Undo is a new change that puts back the fields of this device's newest change which still
hold what that change wrote *and were written by this device*: it never deletes history and
never reverts another device's change behind its back. A journal compacts itself (only its
own device does): changes older than the newest :data:`KEEP_ON_COMPACT` fold into one
snapshot that keeps, per field, the newest value with its stamp, which is all the merge
ever uses of them.
"""

from __future__ import annotations

import marshal
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from readinglist.errors import StorageError
from readinglist.model import EMPTY_STATE, ID_LENGTH, STATUSES, PaperState, normalise_tag

#: (wall clock ms, counter, device id): totally ordered, unique per change.
Stamp = tuple[int, int, str]

#: The fields of a paper's state that change together, as one value (``status``).
STATUS_FIELDS = ("status", "read_at", "decided_at", "snoozed_until", "resurfaced")
EMPTY_STATUS: dict[str, str | None] = {name: getattr(EMPTY_STATE, name) for name in STATUS_FIELDS}
TAG_PREFIX = "tag:"
NOTE = "note"
#: Entry kinds. ``history`` is an undo step carried over from the single-device layout: it
#: can be undone, but its values are already in the migrated snapshot.
CHANGE, UNDO, REDO, IMPORT, SNAPSHOT, HISTORY = (
    "change", "undo", "redo", "import", "snapshot", "history"
)  # fmt: skip
KINDS = frozenset({CHANGE, UNDO, REDO, IMPORT, SNAPSHOT, HISTORY})
#: The label of the snapshot made from a single-device library's state.json.
MIGRATED = "state before sync (migrated)"
#: The label of a snapshot of what single-device files written after the move held that the
#: journals lacked (a machine still on the earlier release, synced in).
RETURNED = "state from an earlier release after the move (merged)"
#: A journal compacts when it holds more entries than this …
COMPACT_AT = 20_000
#: … keeping this many newest entries whole (undo reaches back this far).
KEEP_ON_COMPACT = 2_000
#: Limits on what a journal (possibly another device's, possibly damaged) may hold.
MAX_TEXT = 1_000_000
MAX_LABEL = 1_000
MAX_TAG = 100

#: The last wall time a stamp may hold (the end of the year 9999, in ms): a later one is
#: damage, refused alike on every device, so that no journal can push every device's clock
#: to where the next stamp would not fit in a key.
MAX_WALL = 253_402_300_799_999
#: Counters stay below this (a key has at most 9 counter digits).
COUNTER_LIMIT = 10**9

_KEY_RE = re.compile(r"(0|[1-9][0-9]{0,14})\.(0|[1-9][0-9]{0,8})")
_PID_RE = re.compile(f"[0-9a-f]{{{ID_LENGTH}}}")
_DEVICE_RE = re.compile("[0-9a-f]{16}")
_HASH_RE = re.compile("[0-9a-f]{32}")


class JournalError(ValueError):
    """What is wrong in a journal, naming the entry and field."""


@dataclass(frozen=True, slots=True)
class Op:
    """One field of one paper: ``old`` → ``new`` (``old`` is what undo puts back)."""

    pid: str
    field: str
    old: Any
    new: Any
    #: A note edit: the versions it replaces (the heads its device saw).
    base: tuple[Stamp, ...] = ()
    #: In a snapshot, each op keeps the stamp and time of the change it comes from.
    stamp: Stamp | None = None
    at: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    stamp: Stamp
    at: str
    kind: str
    label: str = ""
    ops: tuple[Op, ...] = ()
    #: The change an undo or redo is of.
    of: Stamp | None = None
    #: An import: hash (the digest file), digest, name, date.
    record: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        return key_of(self.stamp)


@dataclass(frozen=True, slots=True)
class NoteVersion:
    stamp: Stamp
    text: str
    base: tuple[Stamp, ...]
    at: str


@dataclass(frozen=True, slots=True)
class Imported:
    """An import as merged: the first import of one digest file, in stamp order."""

    stamp: Stamp
    hash: str
    digest: str
    name: str
    date: str | None
    at: str


def key_of(stamp: Stamp) -> str:
    """An entry's key in its journal (the device is the journal's)."""
    return f"{stamp[0]}.{stamp[1]}"


def key_order(key: str) -> tuple[int, int]:
    """(wall, counter) of a key :func:`key_of` made, to order keys; (-1, -1) for another."""
    match = _KEY_RE.fullmatch(key)
    return (int(match[1]), int(match[2])) if match else (-1, -1)


def newest_key(keys: Iterable[str]) -> str | None:
    """The newest of a journal's keys (by :func:`key_order`), None if there is none."""
    return max(keys, key=key_order, default=None)


def wall_ms(at: str | None) -> int:
    """The wall clock of an ISO time (0 when unknown)."""
    if not at:
        return 0
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(moment.timestamp() * 1000))


def clock_ms() -> int:
    """This device's wall clock (a function, so a test can skew it)."""
    return time.time_ns() // 1_000_000


def tick(latest: Stamp | None, device: str, now_ms: int) -> Stamp:
    """The next stamp of ``device``: after everything seen (``latest``), even if its clock is
    behind; from its own clock when that is ahead."""
    if latest is None or now_ms > latest[0]:
        stamp = (now_ms, 0, device)
    elif latest[1] + 1 < COUNTER_LIMIT:
        stamp = (latest[0], latest[1] + 1, device)
    else:  # the counter is full: the next millisecond
        stamp = (latest[0] + 1, 0, device)
    if stamp[0] > MAX_WALL:
        raise StorageError(f"this device's clock is past the year 9999 ({now_ms} ms): not saved")
    return stamp


# ----------------------------------------------------------------------------- the file


def encode_entry(entry: Entry) -> dict[str, Any]:
    doc: dict[str, Any] = {"at": entry.at, "kind": entry.kind}
    if entry.label:
        doc["label"] = entry.label
    if entry.ops:
        doc["ops"] = [_encode_op(op) for op in entry.ops]
    if entry.of is not None:
        doc["of"] = list(entry.of[:2])  # always this journal's device
    if entry.record is not None:
        doc["import"] = dict(entry.record)
    return doc


def _encode_op(op: Op) -> dict[str, Any]:
    doc: dict[str, Any] = {"p": op.pid, "f": op.field, "o": op.old, "n": op.new}
    if op.base:
        doc["b"] = [list(stamp) for stamp in op.base]
    if op.stamp is not None:
        doc["s"] = list(op.stamp[:2])  # always this journal's device
        doc["a"] = op.at
    return doc


def device_of(data: Mapping[str, Any]) -> tuple[str, str]:
    """(id, name) of the device a journal file belongs to (``JournalError`` if unknown);
    ("", "") for a journal not written yet."""
    if "device" not in data and not data.get("changes"):
        return "", ""
    info = data.get("device", {}).get("device") if type(data.get("device")) is dict else None
    if type(info) is not dict:
        raise JournalError("table 'device' must hold one document, 'device'")
    device, name = info.get("id"), info.get("name")
    if type(device) is not str or not _DEVICE_RE.fullmatch(device):
        raise JournalError("device/device: field 'id' is not a device id (16 hex characters)")
    if type(name) is not str or len(name) > 200:
        raise JournalError("device/device: field 'name' is not a device name (text)")
    return device, name


def decode(data: Mapping[str, Any]) -> tuple[str, str, list[Entry]]:
    """(device id, device name, entries) of a whole journal file; ``JournalError`` names the
    first thing a readinglist would not have written."""
    device, name = device_of(data)
    changes = data.get("changes", {})
    if type(changes) is not dict:
        raise JournalError("table 'changes' is not an object of entries")
    entries = []
    for key, doc in changes.items():
        where = f"changes/{key[:40]!r}"
        match = _KEY_RE.fullmatch(key) if type(key) is str else None
        if match is None or int(match[1]) > MAX_WALL:
            raise JournalError(f"{where}: key is not a stamp (wall.counter)")
        try:
            entries.append(_decode_entry((int(match[1]), int(match[2]), device), doc))
        except JournalError as error:
            raise JournalError(f"{where}: {error}") from None
    return device, name, entries


def problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a journal file, or None."""
    try:
        decode(data)
    except JournalError as error:
        return str(error)
    return None


def _decode_entry(stamp: Stamp, doc: Any) -> Entry:
    if type(doc) is not dict:
        raise JournalError("is not an object")
    kind, at = doc.get("kind"), doc.get("at")
    if kind not in KINDS:
        raise JournalError(f"field 'kind' is not one of {', '.join(sorted(KINDS))}")
    if type(at) is not str or len(at) > 40:
        raise JournalError("field 'at' is not a time")
    label = doc.get("label", "")
    if type(label) is not str or len(label) > MAX_LABEL:
        raise JournalError("field 'label' is not a short text")
    ops = doc.get("ops", [])
    if type(ops) is not list:
        raise JournalError("field 'ops' is not a list")
    of = doc.get("of")
    record = doc.get("import")
    if (of is None) == (kind in (UNDO, REDO)):
        raise JournalError("field 'of' belongs to an undo or redo, and only there")
    if (record is None) == (kind == IMPORT):
        raise JournalError("field 'import' belongs to an import, and only there")
    return Entry(
        stamp,
        at,
        kind,
        label,
        tuple([_decode_op(op, n, stamp[2], kind) for n, op in enumerate(ops)]),
        None if of is None else _stamp(of, stamp[2], "of"),
        None if record is None else _record(record),
    )


def _decode_op(doc: Any, number: int, device: str, kind: str) -> Op:
    # Run for every op of every journal at each open (10k changes: ~0.1 s): the checks are
    # written out, and the message is worded only when one fails.
    if type(doc) is not dict:
        raise JournalError(f"ops[{number}] is not an object")
    pid, name, base = doc.get("p"), doc.get("f"), doc.get("b", ())
    if type(pid) is not str or not _PID_RE.fullmatch(pid):
        raise JournalError(f"ops[{number}]: field 'p' is not a paper id")
    if name == "status":
        partial = kind == HISTORY
        good = _status_ok(doc.get("o"), partial) and _status_ok(doc.get("n"), partial)
    elif name == NOTE:
        old, new = doc.get("o"), doc.get("n")
        good = type(old) is str and type(new) is str and max(len(old), len(new)) <= MAX_TEXT
    elif type(name) is str and name.startswith(TAG_PREFIX) and 4 < len(name) <= 4 + MAX_TAG:
        good = type(doc.get("o")) is bool and type(doc.get("n")) is bool
        # Another program's tag reads as readinglist writes tags (one lower-case word), so
        # `tag:x` finds it and `tag --remove` removes it, on every device alike; one with
        # no word in it at all stays as it is (shown as text, never as markup).
        raw = name[len(TAG_PREFIX) :]
        name = TAG_PREFIX + (normalise_tag(raw) or raw)
    else:
        raise JournalError(f"ops[{number}]: field 'f' is not status, note or tag:<name>")
    if not good:
        raise JournalError(f"ops[{number}]: field 'o' or 'n' is not a {name.split(':')[0]} value")
    if base:
        if type(base) is not list or len(base) > 1000:
            raise JournalError(f"ops[{number}]: field 'b' is not a list of stamps")
        base = tuple(_stamp(s, None, f"ops[{number}].b") for s in base)
    stamp = at = None
    if kind == SNAPSHOT:
        stamp, at = _stamp(doc.get("s"), device, f"ops[{number}].s"), doc.get("a")
        if type(at) is not str or len(at) > 40:
            raise JournalError(f"ops[{number}]: field 'a' is not a time")
    return Op(pid, name, doc["o"], doc["n"], base, stamp, at)


_STATUS_KEYS = frozenset(STATUS_FIELDS)
_KNOWN_STATUSES = frozenset(STATUSES)


def _status_ok(value: Any, partial: bool) -> bool:
    """A status value (``partial``: an undo step carried over from state.json holds only
    the fields it changed)."""
    if type(value) is not dict:
        return False
    keys = value.keys()
    if not (keys <= _STATUS_KEYS if partial else keys == _STATUS_KEYS):
        return False
    if value.get("status", "new") not in _KNOWN_STATUSES:
        return False
    for key in keys:
        if key != "status":
            text = value[key]
            if text is not None and (type(text) is not str or len(text) > 100):
                return False
    return True


def _stamp(value: Any, device: str | None, where: str) -> Stamp:
    """A stamp as stored: [wall, counter] (the journal's device) or [wall, counter, device]."""
    if type(value) is list and len(value) == (2 if device else 3):
        wall, counter = value[0], value[1]
        owner = device if device else value[2]
        if (
            type(wall) is int
            and type(counter) is int
            and 0 <= wall <= MAX_WALL
            and 0 <= counter < COUNTER_LIMIT
            and type(owner) is str
            and _DEVICE_RE.fullmatch(owner)
        ):
            return (wall, counter, owner)
    raise JournalError(f"field {where!r} is not a stamp")


def _record(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise JournalError("field 'import' is not an object")
    if type(value.get("hash")) is not str or not _HASH_RE.fullmatch(value["hash"]):
        raise JournalError("field 'import.hash' is not a digest file's name")
    for name in ("digest", "name"):
        if type(value.get(name)) is not str or not 0 < len(value[name]) <= 500:
            raise JournalError(f"field 'import.{name}' is not a short text")
    if type(value.get("date")) not in (str, type(None)):
        raise JournalError("field 'import.date' is not a date or null")
    return {k: value[k] for k in ("hash", "digest", "name", "date")}


# ----------------------------------------------------------------------------- the merge


@dataclass(slots=True)
class _Paper:
    """What the merge knows of one paper: the winning value per field, its note versions."""

    #: field → (stamp, position of the op in its entry, value)
    fields: dict[str, tuple[Stamp, int, Any]] = field(default_factory=dict)
    notes: dict[Stamp, NoteVersion] = field(default_factory=dict)
    based: set[Stamp] = field(default_factory=set)
    latest: tuple[Stamp, str] | None = None


def _exported(paper: _Paper) -> bytes:
    """A paper as :meth:`Merger.export` gives it (:func:`_restored` reads it back)."""
    notes = {s: (v.text, v.base, v.at) for s, v in paper.notes.items()}
    return marshal.dumps((paper.fields, notes, tuple(paper.based), paper.latest))


def _restored(saved: bytes) -> _Paper:
    """A paper as :meth:`Merger.export` gave it."""
    fields, notes, based, newest = marshal.loads(saved)
    return _Paper(
        fields, {s: NoteVersion(s, *version) for s, version in notes.items()}, set(based), newest
    )


def _state_fields(state: PaperState) -> tuple[Any, ...]:
    """A state as :meth:`Merger.export` saves it (``PaperState(*fields)`` again)."""
    return (
        state.status, state.tags, state.note, state.read_at, state.decided_at,
        state.snoozed_until, state.resurfaced, state.updated,
    )  # fmt: skip


class Merger:
    """The merge of every journal entry it was given (in any order, any number of times).

    Owned by one :class:`~readinglist.library.Library`; what it hands out (states,
    imports) are new objects, never views of its own.
    """

    def __init__(self, device: str, load: Callable[[], Iterable[Entry]] | None = None) -> None:
        """``load``: where the entries merged so far come from, when the merge was restored
        from :meth:`export` without them (they are read only if undo or compaction need
        them)."""
        self.device = device
        self._entries: dict[Stamp, Entry] | None = {} if load is None else None
        self._load = load
        self.names: dict[str, str] = {}
        self._papers: dict[str, _Paper] = {}
        #: Papers as :meth:`export` gave them, made :class:`_Paper` when first used (or
        #: replaced by ``_papers``): a command that changes a paper restores one, not all
        #: (5,000 papers with a state: ~25 ms restored and exported again, per command).
        #: Each is its own marshalled bytes, so reading the saved merge makes no object of
        #: a paper nobody asks for (5,178 papers: 17 → ~1 ms of every open).
        self._saved: dict[str, bytes] = {}
        #: Papers of ``_papers`` as :meth:`export` gives them, until they change: after a
        #: merge (5,049 papers) each change re-exported every one (~25 ms of each ``r``).
        self._dumped: dict[str, bytes] = {}
        #: Every paper's state (those that have one) once known: saved with the merge and
        #: kept up to date by :meth:`add` (5,000 states derived anew: ~60 ms of a ``list``).
        self._states: dict[str, PaperState] | None = None
        #: … or as :meth:`export` gave them (a command that lists none makes none).
        self._saved_states: dict[str, tuple[Any, ...]] | None = None
        self._imports: dict[str, Imported] = {}
        self.latest: Stamp | None = None

    def add(self, entries: Iterable[Entry]) -> set[str]:
        """Merge ``entries``; the papers whose state may have changed."""
        touched: set[str] = set()
        known = self._entries
        for entry in entries:
            if known is not None:  # else not loaded: merging an entry again changes nothing
                if entry.stamp in known:
                    continue
                known[entry.stamp] = entry
            if self.latest is None or entry.stamp > self.latest:
                self.latest = entry.stamp
            if entry.record is not None:
                self._import(entry)
            if entry.kind == HISTORY:
                continue
            for position, op in enumerate(entry.ops):
                self._apply(op, op.stamp or entry.stamp, op.at or entry.at, position)
                touched.add(op.pid)
        if self._states is not None or self._saved_states is not None:
            for pid in touched:
                state = self.state(pid)
                if self._states is not None:
                    self._states[pid] = state
                    if state == EMPTY_STATE:
                        del self._states[pid]
                elif self._saved_states is not None:
                    self._saved_states[pid] = _state_fields(state)
                    if state == EMPTY_STATE:
                        del self._saved_states[pid]
        return touched

    def _import(self, entry: Entry) -> None:
        record = entry.record
        assert record is not None
        known = self._imports.get(record["hash"])
        if known is None or entry.stamp < known.stamp:
            self._imports[record["hash"]] = Imported(
                entry.stamp, record["hash"], record["digest"], record["name"], record["date"],
                entry.at,
            )  # fmt: skip

    def _paper(self, pid: str) -> _Paper | None:
        paper = self._papers.get(pid)
        if paper is None and pid in self._saved:
            saved = self._dumped[pid] = self._saved[pid]
            paper = self._papers[pid] = _restored(saved)
        return paper

    def _all(self) -> dict[str, _Paper]:
        """Every paper, restored, in the order they were first merged."""
        if self._saved:
            known = self._papers
            fresh = {pid: saved for pid, saved in self._saved.items() if pid not in known}
            restored = {pid: known.get(pid) or _restored(fresh[pid]) for pid in self._saved}
            self._papers, self._saved = restored | known, {}
            self._dumped.update(fresh)
        return self._papers

    def _apply(self, op: Op, stamp: Stamp, at: str, position: int) -> None:
        paper = self._paper(op.pid)
        self._dumped.pop(op.pid, None)  # after restoring it: it changes now
        if paper is None:
            paper = self._papers[op.pid] = _Paper()
        if self.latest is None or stamp > self.latest:
            self.latest = stamp
        if paper.latest is None or stamp > paper.latest[0]:
            paper.latest = (stamp, at)
        if op.field == NOTE:
            if stamp not in paper.notes:
                paper.notes[stamp] = NoteVersion(stamp, op.new, op.base, at)
                paper.based.update(op.base)
            return
        known = paper.fields.get(op.field)
        if known is None or stamp > known[0]:
            paper.fields[op.field] = (stamp, position, op.new)

    @property
    def entries(self) -> dict[Stamp, Entry]:
        """Every entry merged, by stamp."""
        if self._entries is None:
            self._entries = {}
            for entry in self._load() if self._load else ():
                self._entries.setdefault(entry.stamp, entry)
        return self._entries

    @entries.setter
    def entries(self, entries: dict[Stamp, Entry]) -> None:
        self._entries = entries

    def export(self) -> tuple[Any, ...]:
        """The merge as plain data (see :meth:`restore`), without the entries."""
        dumped = self._dumped
        for pid, paper in self._papers.items():
            if pid not in dumped:
                dumped[pid] = _exported(paper)
        papers = self._saved | {pid: dumped[pid] for pid in self._papers}
        imports = {
            h: (i.stamp, i.hash, i.digest, i.name, i.date, i.at) for h, i in self._imports.items()
        }
        states = self._saved_states
        if states is None or self._states is not None:
            states = {pid: _state_fields(state) for pid, state in self.states().items()}
        return (papers, imports, self.latest, self.names, states)

    @classmethod
    def restore(
        cls, device: str, data: tuple[Any, ...], load: Callable[[], Iterable[Entry]]
    ) -> Merger:
        """The merge :meth:`export` gave (``load``: where its entries are, if needed)."""
        papers, imports, latest, names, states = data
        merger = cls(device, load)
        merger._saved = papers
        merger._saved_states = states
        merger._imports = {h: Imported(*fields) for h, fields in imports.items()}
        merger.latest, merger.names = latest, names
        return merger

    # ----------------------------------------------------------------- reading

    def imports(self) -> list[Imported]:
        """Every digest file imported anywhere, first import first."""
        return sorted(self._imports.values(), key=lambda imported: imported.stamp)

    def papers(self) -> Iterable[str]:
        return self._all().keys()

    def heads(self, pid: str) -> list[NoteVersion]:
        """The note versions nobody has replaced, oldest first (one unless in conflict)."""
        paper = self._paper(pid)
        if paper is None:
            return []
        return sorted(
            (v for s, v in paper.notes.items() if s not in paper.based), key=lambda v: v.stamp
        )

    def conflicted(self, pid: str) -> bool:
        return len({v.text for v in self.heads(pid)}) > 1

    def state(self, pid: str) -> PaperState:
        paper = self._paper(pid)
        if paper is None:
            return EMPTY_STATE
        status = paper.fields.get("status")
        values = status[2] if status else EMPTY_STATUS
        fields = paper.fields
        tags = (
            sorted(
                (stamp, position, name[len(TAG_PREFIX) :])
                for name, (stamp, position, present) in fields.items()
                if present and name != "status"  # the one field that is not a tag
            )
            if len(fields) > ("status" in fields)
            else ()
        )
        note = self.note(pid) if paper.notes else ""
        if not tags and not note and values == EMPTY_STATUS:
            return EMPTY_STATE
        return PaperState(
            status=values["status"] or "new",
            tags=tuple([tag for _, _, tag in tags]),
            note=note,
            read_at=values["read_at"],
            decided_at=values["decided_at"],
            snoozed_until=values["snoozed_until"],
            resurfaced=values["resurfaced"],
            updated=paper.latest[1] if paper.latest else None,
        )

    def note(self, pid: str) -> str:
        heads = self.heads(pid)
        texts = list(dict.fromkeys(v.text for v in heads))
        if len(texts) <= 1:
            return texts[0] if texts else ""
        return conflict_text([v for v in heads if v.text in texts], self.names)

    def states(self, pids: Iterable[str] | None = None) -> dict[str, PaperState]:
        """The papers (``pids``, default all) that have any state, and their state."""
        if pids is None and self._states is None and self._saved_states is not None:
            self._states = {pid: PaperState(*fields) for pid, fields in self._saved_states.items()}
            self._saved_states = None
        if pids is None and self._states is not None:
            return dict(self._states)
        found = {}
        for pid in self._all() if pids is None else pids:
            state = self.state(pid)
            if state != EMPTY_STATE:
                found[pid] = state
        if pids is None:
            self._states = dict(found)
        return found

    def value(self, pid: str, name: str) -> tuple[Stamp | None, Any]:
        """The winning (stamp, value) of one field (a note: its one head, if one)."""
        paper = self._paper(pid)
        if name == NOTE:
            heads = self.heads(pid)
            if len(heads) == 1:
                return heads[0].stamp, heads[0].text
            return None, self.note(pid)
        known = paper.fields.get(name) if paper else None
        if known is None:
            return None, EMPTY_STATUS if name == "status" else False
        return known[0], known[2]

    # ----------------------------------------------------------------- undo

    def undo_stacks(self) -> tuple[list[Entry], list[Entry]]:
        """This device's changes that undo can take back (newest last) and that redo can
        re-apply (the next one last)."""
        done: list[Entry] = []
        undone: list[Entry] = []
        for stamp in sorted(s for s in self.entries if s[2] == self.device):
            entry = self.entries[stamp]
            if entry.kind in (CHANGE, HISTORY):
                done.append(entry)
                undone.clear()
            elif entry.kind in (UNDO, REDO):
                source, target = (done, undone) if entry.kind == UNDO else (undone, done)
                found = next((e for e in source if e.stamp == entry.of), None)
                if found is not None:
                    source.remove(found)
                    target.append(found)
        return done, undone

    def reverting(self, entry: Entry, *, undo: bool) -> tuple[list[Op], int]:
        """The ops that undo (or redo) ``entry``: each field goes back, over whatever this
        device wrote since (as undo always did), unless another device wrote it last; and
        how many fields were left for that reason."""
        ops = []
        left = 0
        for op in entry.ops:
            back = op.old if undo else op.new
            stamp, value = self.value(op.pid, op.field)
            if stamp is not None and stamp[2] != self.device:
                left += 1  # another device wrote it last (None: nobody, it is at its default)
                continue
            if op.field == NOTE and len(self.heads(op.pid)) > 1:
                left += 1  # in conflict with another device's edit: the reader settles it
                continue
            if op.field == "status":  # a carried-over undo step names only what it changed
                back = {**value, **back}
            if value == back:
                continue
            base = tuple(v.stamp for v in self.heads(op.pid)) if op.field == NOTE else ()
            ops.append(Op(op.pid, op.field, value, back, base))
        return ops, left

    # ----------------------------------------------------------------- compaction

    def compacted(
        self, own: list[Entry], stamp: Stamp, at: str, keep: int | None = None
    ) -> list[Entry]:
        """``own`` (this device's entries) with all but the newest ``keep`` (default
        :data:`KEEP_ON_COMPACT`) folded into one snapshot (stamped ``stamp``): per field, the
        newest value with its stamp, unless a kept entry writes that field again. Imports
        stay, without their ops.
        """
        keep = KEEP_ON_COMPACT if keep is None else keep
        ordered = sorted(own, key=lambda e: e.stamp)
        split = len(ordered) - keep if keep else len(ordered)
        old, kept = ordered[:split], ordered[split:]
        later = {(op.pid, op.field) for e in kept if e.kind != HISTORY for op in e.ops}
        newest: dict[tuple[str, str], Op] = {}
        for entry in old:
            if entry.kind == HISTORY:
                continue
            for op in entry.ops:
                slot = (op.pid, op.field)
                if slot not in later:
                    newest[slot] = Op(
                        op.pid, op.field, op.old, op.new, op.base,
                        op.stamp or entry.stamp, op.at or entry.at,
                    )  # fmt: skip
        imports = [
            Entry(e.stamp, e.at, IMPORT, e.label, (), None, e.record) for e in old if e.record
        ]
        snapshot = Entry(stamp, at, SNAPSHOT, "compacted", tuple(newest.values()))
        return [*imports, snapshot, *kept]


class Held:
    """What one journal holds, to tell whether a copy a sync engine made of it adds
    anything to the merge. An entry is held when the journal has it; or, since compaction
    folds entries into a snapshot, when every field it writes is written later by the
    journal (last writer wins), its import is there, and each note version it adds is in
    the journal or replaced by one that is (a version only a copy holds is a conflict
    head, never dropped). The very rule the merge follows, so dropping a copy whose every
    entry is held changes nothing, whenever it arrived."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.stamps: set[Stamp] = set()
        self.fields: dict[tuple[str, str], Stamp] = {}
        self.notes: set[Stamp] = set()
        self.imports: set[str] = set()
        for entry in entries:
            self.stamps.add(entry.stamp)
            if entry.record is not None:
                self.imports.add(entry.record["hash"])
            if entry.kind != HISTORY:
                for op in entry.ops:
                    self._add(op, op.stamp or entry.stamp)

    def _add(self, op: Op, stamp: Stamp) -> None:
        if op.field == NOTE:
            self.notes.add(stamp)
            self.notes.update(op.base)
        else:
            known = self.fields.get((op.pid, op.field))
            if known is None or stamp > known:
                self.fields[(op.pid, op.field)] = stamp

    def lacking(self, copy: Iterable[Entry]) -> list[Entry]:
        """The entries of ``copy`` (a journal's copy) that the merge would miss without it."""
        entries = sorted(copy, key=lambda e: e.stamp, reverse=True)
        # A note version the journal replaced may itself have replaced older ones in the
        # copy: newest first, each held version's bases are held too.
        notes = set(self.notes)
        for entry in entries:
            for op in entry.ops:
                if op.field == NOTE and (op.stamp or entry.stamp) in notes:
                    notes.update(op.base)
        return [e for e in entries[::-1] if not self._holds(e, notes)]

    def _holds(self, entry: Entry, notes: set[Stamp]) -> bool:
        if entry.stamp in self.stamps or entry.kind == HISTORY:  # history: undo steps only
            return True
        if entry.record is not None and entry.record["hash"] not in self.imports:
            return False
        for op in entry.ops:
            stamp = op.stamp or entry.stamp
            if op.field == NOTE:
                if stamp not in notes:
                    return False
            elif self.fields.get((op.pid, op.field), (-1, -1, "")) < stamp:
                return False
        return True


def conflict_text(heads: list[NoteVersion], names: Mapping[str, str]) -> str:
    """A note edited on two devices without either seeing the other's edit: both texts,
    each under a line naming its device and time, until the reader saves an edit."""
    parts = [
        "CONFLICT: this note was edited on two devices. Keep what you want, delete the rest "
        "and save (`readinglist conflicts` lists these notes)."
    ]
    for version in heads:
        device = names.get(version.stamp[2]) or version.stamp[2]
        parts.append(f"--- {device}, {version.at[:16].replace('T', ' ')} ---\n{version.text}")
    return "\n\n".join(parts)
