"""Where a bulk import's time goes, phase by phase (run by hand, not in the test suite).

    python benchmarks/profile_import.py --papers 100000 [--digests DIR] [--keep DIR] [--pool]

Imports a seeded corpus (``benchmarks/corpus.py``) into a fresh library in this process, as
``readinglist import FOLDER`` does but without its worker processes (``--pool``: with them;
then the per-file phases run in the workers, and what is shown is the parent's part and the
CPU time of both), with ``time.perf_counter`` wrapped around each phase:
no cProfile, whose per-call overhead inflates the many-small-calls phases (catalog replay,
the parser's per-line work) against the C-level ones (hashing, writing, fsync). A phase
nested in another (hashing inside encoding) is counted in both; "rest" is what no top-level
phase covers (the loop itself, TinyDB's ``imports.json`` write, the lock).
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate, write_digests

from readinglist import catalog, catalogfile, contents, digest, library, prepare

TOTALS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed(owner: Any, name: str, label: str) -> None:
    """Wrap ``owner.name`` so that its calls add to ``TOTALS[label]``."""
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TOTALS[label] += time.perf_counter() - start
            CALLS[label] += 1

    setattr(owner, name, wrapper)


#: (owner, attribute, label, top level?): top-level phases add up to (nearly) the whole.
PHASES = [
    (prepare, "read_bytes", "read digest files", True),
    (prepare, "parse_digest", "parse (digest.parse_digest)", True),
    (digest, "_decode", "  parse: decode", False),
    (digest, "_pair", "  parse: pair titles/abstracts + find_links", False),
    (digest, "_content_id", "  parse: content id (sha256)", False),
    (prepare, "encode_digest", "encode digest files (prepare.encode_digest)", True),
    (contents, "content_hash", "  hash (blake2b; inside encode + write)", False),
    (contents, "write", "write digest files (no fsync)", True),
    (prepare, "identify", "title keys and ids (catalog.identify)", True),
    (contents, "sync_folder", "fsync digest files + folder", True),
    (catalog.Builder, "apply_identified", "catalog Builder.apply_identified (merge)", True),
    (catalog.Builder, "freeze", "catalog Builder.freeze (postings, order)", True),
    (catalogfile, "save", "catalogfile.save (marshal, CRC, write, fsync)", True),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--digests", type=Path, help="use (or write) the corpus here")
    parser.add_argument("--keep", type=Path, help="import into this (new) folder, kept")
    parser.add_argument("--pool", action="store_true", help="with the worker processes")
    args = parser.parse_args()
    if not args.pool:
        prepare.POOL_MIN_FILES = sys.maxsize
    with tempfile.TemporaryDirectory(prefix="readinglist-profile-") as tmp:
        folder = args.digests or Path(tmp) / "digests"
        if not folder.exists() or not any(folder.glob("*.txt")):
            write_digests(generate(args.papers, seed=1), folder)
        paths = library.expand_paths([folder])
        for owner, name, label, _ in PHASES:
            timed(owner, name, label)
        start = time.perf_counter()
        lib = library.Library(args.keep or Path(tmp) / "lib")
        opened = time.perf_counter() - start
        report = lib.import_files(paths)
        total = time.perf_counter() - start
    print(f"{len(paths)} files, {len(lib.catalog):,} papers, {len(report.files)} reported")
    print(f"| phase | s | calls |\n|---|---:|---:|\n| open the empty library | {opened:.2f} | 1 |")
    covered = opened
    for _, _, label, top in PHASES:
        print(f"| {label} | {TOTALS[label]:.2f} | {CALLS[label]} |")
        covered += TOTALS[label] if top else 0
    print(f"| rest | {total - covered:.2f} | |\n| **total (in process)** | **{total:.2f}** | |")
    own, workers = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    print(
        f"CPU: this process {own.ru_utime + own.ru_stime:.2f} s, "
        f"workers {workers.ru_utime + workers.ru_stime:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
