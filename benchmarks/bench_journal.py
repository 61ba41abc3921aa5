"""`mark` with a long journal, and two devices merging (run by hand).

    python benchmarks/bench_journal.py --library DIR [--changes 10000] [--runs 5]

``DIR`` is a library (e.g. 100k papers: ``corpus.py`` then ``readinglist import``). The
script gives this device ``--changes`` changes (mark, tag, later, cycling over the first
5,000 papers; written in one transaction, as entries a long-used library would hold), then
times whole ``readinglist mark ID`` processes, and the journal's size. A second device's
journal with as many changes is then added (a copy of this one under another device id:
the worst case for the merge, every field written twice) and ``mark`` is timed again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
from bench_app import compiled  # this folder's: run as python benchmarks/bench_journal.py

from readinglist.device import this_device
from readinglist.journal import CHANGE
from readinglist.library import Library, _ops
from readinglist.model import now
from readinglist.storage import JOURNALS_DIR


def add_changes(data_dir: Path, count: int) -> None:
    library = Library(data_dir)
    ids = library.ordered()[:5000]
    with library._transaction():
        entries = []
        for n in range(count):
            pid = ids[n % len(ids)]
            old = library.merger.state(pid)
            if n % 3 == 0:
                new = old.decided("read", now())
            elif n % 3 == 1:
                new = old.decided("later", now())
            else:
                tag = f"t{n % 5}"
                new = replace(old, tags=old.tags if tag in old.tags else (*old.tags, tag))
            entry = library._entry(CHANGE, "bench", _ops(pid, old, new, ()))
            entries.append(entry)
            library.merger.add([entry])
        library._write(entries)


def time_mark(data_dir: Path, runs: int) -> list[float]:
    pid = Library(data_dir).ordered()[-1]
    times = []
    for n in range(runs):
        verb = "mark" if n % 2 == 0 else "later"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "readinglist", "--data-dir", str(data_dir), verb, pid],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compiled()
    own = args.library / JOURNALS_DIR / f"{this_device().id}.json"
    before = time_mark(args.library, args.runs)
    add_changes(args.library, args.changes)
    after = time_mark(args.library, args.runs)
    size = own.stat().st_size
    other = orjson.loads(own.read_bytes())
    other["device"]["device"] = {"id": "f" * 16, "name": "bench-other"}
    (own.parent / f"{'f' * 16}.json").write_bytes(orjson.dumps(other))
    two = time_mark(args.library, args.runs)
    for label, times in (
        ("mark, journal as it was", before),
        (f"mark, +{args.changes:,} changes ({size / 1e6:.1f} MB)", after),
        ("mark, and another device's journal as long", two),
    ):
        print(f"{label}: median {statistics.median(times):.2f} s, worst {max(times):.2f} s")
    print(f"({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
