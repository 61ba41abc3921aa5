"""kill -9 at random moments: the library always opens, valid, with every acknowledged change.

A worker process (tests/crashworker.py) changes a real library in a loop and reports each
change before and after the library call; we SIGKILL it a few ms after a chosen number of
finished changes, replay its reported changes on our own model, and compare with what a
fresh Library reads, and with what a Library reads once its catalog.bin (derived) is
rebuilt from the digest files alone. The one change that was under way may be saved or
not, but nothing else may differ.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from readinglist import contents
from readinglist.library import Library
from readinglist.lock import Lock
from readinglist.model import normalise_tag, paper_id, title_key
from readinglist.storage import (
    CATALOG_FILE,
    DIGESTS_DIR,
    IMPORTS_FILE,
    JOURNALS_DIR,
    LOCK_FILE,
    STATE_FILE,
    backup_path,
    leftover_temp_files,
    load_file,
    read_journal,
)
from tests.libhelpers import imported_digest_files, journal_file

WORKER = Path(__file__).with_name("crashworker.py")


@dataclass(frozen=True)
class State:
    read: bool = False
    tags: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Model:
    """What the library must hold: the papers and each paper's reading state."""

    papers: frozenset[str]
    states: dict[str, State] = field(default_factory=dict)

    def after(self, op: dict[str, Any]) -> Model:
        """The model once ``op`` is applied, by the library's documented semantics."""
        kind, states = op["op"], dict(self.states)
        ids = op.get("ids", [])
        current = [states.get(pid, State()) for pid in ids]
        if kind == "import":
            new = {paper_id(title_key(title)) for title in op["titles"]}
            return Model(self.papers | new, states)
        if kind == "toggle":
            kind, op = "mark", op | {"read": not all(s.read for s in current)}
        for pid, state in zip(ids, current, strict=True):
            if kind == "mark":
                states[pid] = replace(state, read=op["read"])
            elif kind == "tag":
                minus = {normalise_tag(t) for t in op["remove"]}
                tags = [t for t in state.tags if t not in minus]
                tags += [t for t in map(normalise_tag, op["add"]) if t not in tags]
                states[pid] = replace(state, tags=tuple(tags))
            elif kind == "note":
                states[pid] = replace(state, note=op["text"].rstrip())
        return Model(self.papers, states)

    def matches(self, library: Library) -> bool:
        """True when ``library`` holds exactly these papers with exactly these states."""
        expected = {pid: self.states.get(pid, State()) for pid in self.papers}
        actual = {
            pid: State(s.read, s.tags, s.note)
            for pid in library.papers
            for s in [library.state(pid)]
        }
        return actual == expected


def kill_once(
    data_dir: Path, seed: int, after: int, delay: float
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Let a worker finish ``after`` changes, then SIGKILL it within ``delay`` s; return its
    finished ops and the pending one. Counted, not timed: a busy machine still gets kills
    at every stage of a change, and the run always checks as many changes."""
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), "crash", str(data_dir), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert worker.stdout is not None and worker.stderr is not None
    assert worker.stdout.readline() == b"ready\n"
    lines: list[str] = []
    while lines.count("done") < after:
        line = worker.stdout.readline().decode()
        if not line:
            break  # it died by itself: the assertion below says why
        lines.append(line.rstrip("\n"))
    time.sleep(delay)
    worker.send_signal(signal.SIGKILL)
    lines += worker.stdout.read().decode().splitlines()
    errors = worker.stderr.read().decode()
    worker.wait()
    worker.stdout.close()
    worker.stderr.close()
    assert worker.returncode == -signal.SIGKILL, errors  # it did not die of its own error
    done: list[dict[str, Any]] = []
    pending: dict[str, Any] | None = None
    for line in lines:
        if line.startswith("begin "):
            pending = orjson.loads(line[len("begin ") :])
        else:
            assert line == "done" and pending is not None, line
            done.append(pending)
            pending = None
    return done, pending


def check_files(data_dir: Path) -> int:
    """Every library file and backup on disk (state.json, this device's journal, the only
    one) is a complete, valid file, and every digest file the journal's imports name is
    there, whole; return how many digest files it does not name (written by an import
    killed before its commit: harmless)."""
    assert not (data_dir / IMPORTS_FILE).exists()
    journal = journal_file(data_dir)
    assert sorted((data_dir / JOURNALS_DIR).glob("*.json")) == [journal]
    for path, kind in ((data_dir / STATE_FILE, "state"), (journal, "journal")):
        for version in (path, backup_path(path)):
            if version.exists() or version == journal:
                load_file(version, kind)
                if kind == "journal":
                    assert read_journal(version)[0] == journal.stem
    listed = [path.stem for path in imported_digest_files(data_dir)]
    for name in listed:
        contents.read(data_dir, name)
    on_disk = {p.stem for p in (data_dir / DIGESTS_DIR).glob("*.json")}
    assert set(listed) <= on_disk
    return len(on_disk - set(listed))


def rebuilt(data_dir: Path, scratch: Path) -> Library:
    """The library in ``data_dir`` opened from a copy without catalog.bin: what the digest
    files and the journal alone say."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(data_dir, scratch, ignore=shutil.ignore_patterns(CATALOG_FILE, LOCK_FILE))
    return Library(scratch)


def run_kills(data_dir: Path, digest_paths: list[Path], kills: int, seed: int) -> Counter[str]:
    """Kill a worker ``kills`` times, checking the library after each; return what was seen."""
    rng = random.Random(seed)
    library = Library(data_dir)
    assert library.import_files(digest_paths).ok
    model = Model(frozenset(library.papers))
    seen: Counter[str] = Counter()
    for number in range(kills):
        after, delay = rng.randint(5, 15), rng.uniform(0.0, 0.01)
        done, pending = kill_once(data_dir, seed * 100_000 + number, after, delay)
        for op in done:
            model = model.after(op)
        seen["changes acknowledged"] += len(done)
        seen["temp files left"] += len(leftover_temp_files(data_dir))
        seen["digest temp files left"] = len(list((data_dir / DIGESTS_DIR).glob(".*.tmp")))
        seen["killed while holding the lock"] += (
            Lock(data_dir / LOCK_FILE).stale_holder() is not None
        )
        seen["unlisted digest files"] = check_files(data_dir)

        library = Library(data_dir)
        assert not leftover_temp_files(data_dir)
        if model.matches(library):
            seen["pending change not saved"] += pending is not None
        else:
            assert pending is not None, f"kill {number}: an acknowledged change was lost"
            model = model.after(pending)
            assert model.matches(library), (
                f"kill {number}: library is neither before nor after {pending}"
            )
            seen["pending change saved"] += 1
        # catalog.bin, however the kill left it, tells what the digest files tell.
        fresh = rebuilt(data_dir, data_dir.with_name("rebuilt"))
        assert model.matches(fresh), f"kill {number}: catalog.bin differs from a rebuild"
        assert fresh.ordered() == library.ordered(), f"kill {number}: order differs"
        seen["imports"] = len(library.catalog.imports)
    seen["kills"] = kills
    return seen


def test_kill_9_at_random_moments(tmp_path: Path, digest_paths: list[Path]) -> None:
    seen = run_kills(tmp_path / "lib", digest_paths, kills=50, seed=1)
    print(f"\nkill -9: {dict(seen)}")
    # The run must really have killed mid-change, or it proved nothing.
    assert seen["changes acknowledged"] >= 50 * 5
    assert seen["pending change saved"] + seen["pending change not saved"] > 25


@pytest.mark.soak
def test_kill_9_soak(tmp_path: Path, digest_paths: list[Path]) -> None:
    seen = run_kills(tmp_path / "lib", digest_paths, kills=300, seed=2)
    print(f"\nkill -9 soak: {dict(seen)}")
    assert seen["temp files left"] > 0 and seen["killed while holding the lock"] > 0
