"""Every user-felt latency at 1k, 10k and 100k papers (run by hand, not in the test suite).

    python benchmarks/bench_app.py --sizes 1000 10000 100000 --runs 5

For each size a seeded synthetic corpus (``benchmarks/corpus.py``) is written as real digest
files in both layouts, then measured, each figure as median / worst of ``--runs`` runs:

1. ``readinglist import`` of the whole corpus in a fresh process: wall time, peak RSS;
2. the real app in a pseudo-terminal (120×36): process start to first screen (the header is
   drawn) and to "whole library searchable" (the filter's placeholder changes);
3. filter keystroke → repainted list, over a scripted 50+ key sequence with typos and
   backspaces, driven with the Pilot; "repainted" is the first screen update (``App._display``)
   after the list's last refresh for that key;
4. ``r`` (toggle read) from key to saved on disk, and ``Library.tag`` / ``Library.set_note``;
5. ``j`` and PageDown at the top of the unfiltered list;
6. ``readinglist list --json`` and ``readinglist export --all`` in a fresh process;
7. the daily work, each a fresh process: importing one new 300-paper digest into the
   library (on a copy, every run), ``list QUERY --limit 20`` and ``mark ID``;
8. memory across reloads: RSS of one process after 1 and after 10 re-reads of the library
   (what the app does when another process imports), to show nothing is leaked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import gc
import os
import platform
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate, write_digests

from readinglist import storage
from readinglist.library import Library
from readinglist.tui.app import ReadingListApp, create_app
from readinglist.tui.widgets.paper_list import PaperList

CLI = [sys.executable, "-m", "readinglist.cli"]
SIZE = (120, 36)
#: Typing, typos, backspaces and filters, as a reader would: 50+ keys.
KEYS = [
    *"mamba",
    *" tiem",
    *" seires",
    *["backspace"] * 17,
    *"reinforcment",
    *" lerning",
    *["backspace"] * 20,
    *"permut",
    *["backspace"] * 6,
    *"tag:x is:unread seen:>=2",
]


#: Runs a command and reports its wall time and peak RSS. A child forked straight from this
#: (large) benchmark process inherits its high-water mark through exec, which inflated
#: every figure (a 300-paper import "took" 1.4 GB); forked from this small launcher, it
#: does not.
LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{time.perf_counter() - start} {peak}", file=sys.stderr)
sys.exit(code)
"""


def run_measured(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one child process."""
    process = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args], capture_output=True, text=True, check=False
    )
    *errors, measured = process.stderr.strip().splitlines() or [""]
    if process.returncode != 0:
        raise SystemExit(f"{args} failed: {chr(10).join(errors)}")
    elapsed, peak = measured.split()
    return float(elapsed), int(peak) // 1024


def _peak_rss(pid: int) -> int:
    """VmHWM of a running process, in MB (its peak so far, unlike fork-skewed rusage)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def launch_tui(data_dir: Path, timeout: float = 60.0) -> tuple[float, float, int]:
    """Start the app in a pty; seconds to first screen and to searchable, and peak RSS (MB)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = os.environ | {"TERM": "xterm-256color", "READINGLIST_CONFIG_DIR": str(data_dir / "cfg")}
    start = time.perf_counter()
    process = subprocess.Popen(
        [*CLI, "--data-dir", str(data_dir)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    first = searchable = None
    peak = 0
    while searchable is None and time.perf_counter() - start < timeout:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            with contextlib.suppress(OSError):
                output += os.read(master, 1 << 16)
        now = time.perf_counter() - start
        if first is None and b"readinglist" in output:
            first = now
        if b"/ filter: words" in output:
            searchable = now
            peak = _peak_rss(process.pid)
    os.write(master, b"q")
    deadline = time.monotonic() + 10
    pid = 0
    while pid == 0:
        if select.select([master], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):
                os.read(master, 1 << 16)
        if time.monotonic() > deadline:
            process.kill()
        pid, _ = os.waitpid(process.pid, os.WNOHANG)
    process.returncode = 0  # reaped above; keep Popen from waiting again
    os.close(master)
    if first is None or searchable is None:
        raise SystemExit(f"the app did not become searchable within {timeout} s")
    return first, searchable, peak


class Repaints:
    """Times of screen updates and of the paper list's refreshes, to pair key and repaint."""

    def __init__(self, app: ReadingListApp) -> None:
        self.displays: list[float] = []
        self.last_refresh = 0.0
        display = app._display
        papers = app.query_one(PaperList)
        refresh = papers.refresh

        def spy_display(screen, renderable):  # type: ignore[no-untyped-def]
            self.displays.append(time.perf_counter())
            return display(screen, renderable)

        def spy_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.last_refresh = time.perf_counter()
            return refresh(*args, **kwargs)

        app._display = spy_display  # type: ignore[method-assign]
        papers.refresh = spy_refresh  # type: ignore[method-assign]

    async def after(self, start: float, timeout: float = 5.0) -> float:
        """Seconds from ``start`` to the first screen update after the list's refresh."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            mark = max(self.last_refresh, start)
            shown = [t for t in self.displays if t >= mark]
            if shown:
                return shown[0] - start
            await asyncio.sleep(0.0002)
        raise TimeoutError("no repaint")


async def drive_tui(data_dir: Path) -> dict[str, list[float]]:
    """Keystroke, cursor and mark-read latencies in one app session (seconds)."""
    app = create_app(data_dir, config_dir=data_dir / "cfg", export_dir=data_dir)
    results: dict[str, list[float]] = {"key": [], "j": [], "pagedown": [], "r": [], "saved": []}
    saves: list[float] = []
    real_write = storage.atomic_write

    def timed_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_write(*args, **kwargs)
        saves.append(time.perf_counter())

    storage.atomic_write = timed_write  # every save of the library goes through it
    async with app.run_test(size=SIZE) as pilot:
        while not app.searchable:
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        repaints = Repaints(app)

        async def timed(key: str) -> float:
            start = time.perf_counter()
            await pilot.press(key)
            return await repaints.after(start)

        for _ in range(3):
            results["j"].append(await timed("j"))
            results["pagedown"].append(await timed("pagedown"))
        await pilot.press("g")
        for _ in range(5):
            start = time.perf_counter()
            results["r"].append(await timed("r"))
            results["saved"].append(next(t for t in saves if t >= start) - start)
            await pilot.press("r")
        await pilot.press("slash")
        for key in KEYS:
            results["key"].append(await timed(key))
        await pilot.press("escape")
    storage.atomic_write = real_write
    return results


def core_changes(data_dir: Path) -> dict[str, float]:
    library = Library(data_dir)
    pid = library.ordered()[0]
    timings: dict[str, float] = {}
    for name, change in (
        ("tag", lambda: library.tag([pid], add=["bench"])),
        ("untag", lambda: library.tag([pid], remove=["bench"])),
        ("note", lambda: library.set_note(pid, f"note {time.time()}")),
    ):
        start = time.perf_counter()
        change()
        timings[name] = time.perf_counter() - start
    return timings


#: A child that re-reads the library as the app does on an import elsewhere; prints RSS (MB)
#: after the first and the tenth reload.
RELOADS = """
import sys
from pathlib import Path
from readinglist.library import Library

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024

library = Library(Path(sys.argv[1]))
library.search_engine()
after = []
for _ in range(10):
    library.store.reload({"papers", "state"})
    library._rebuild({"papers", "state"})
    library.search_engine()
    after.append(rss())
print(after[0], after[-1])
"""


def daily_digest(out: Path, papers: int = 300) -> Path:
    """One new digest of ``papers`` papers none of the library has (spaced layout)."""
    corpus = generate(papers, seed=4242)
    body = "\n\n".join(f"{p.title} (daily)\n\n{p.abstract}" for p in corpus.papers)
    path = out / "daily.txt"
    path.write_text(f"Apr 2\n\n{body}\n")
    return path


def daily_work(data_dir: Path, work: Path, runs: int) -> dict[str, str]:
    daily = daily_digest(work)
    imports, import_rss = [], []
    for run in range(runs):
        copy = work / f"daily-{run}"
        shutil.copytree(data_dir, copy)
        elapsed, peak = run_measured([*CLI, "--data-dir", str(copy), "import", str(daily)])
        imports.append(elapsed)
        import_rss.append(peak)
        shutil.rmtree(copy)
    pid = Library(data_dir).ordered()[0]
    lists = [
        run_measured([*CLI, "--data-dir", str(data_dir), "list", "model", "--limit", "20"])
        for _ in range(runs)
    ]
    marks = [
        run_measured([*CLI, "--data-dir", str(data_dir), "mark", *(["--unread"] * (n % 2)), pid])
        for n in range(runs)
    ]
    reloads = subprocess.run(
        [sys.executable, "-c", RELOADS, str(data_dir)], capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        "import one 300-paper digest (s)": summary(imports, 1.0),
        "import one digest, peak RSS (MB)": rss_summary(import_rss),
        "list QUERY --limit 20 (s)": summary([t for t, _ in lists], 1.0),
        "list QUERY, peak RSS (MB)": rss_summary([m for _, m in lists]),
        "mark ID (s)": summary([t for t, _ in marks], 1.0),
        "RSS after 1 / 10 reloads (MB)": " / ".join(reloads),
    }


def rss_summary(megabytes: list[int]) -> str:
    return f"{statistics.median(megabytes):.0f} / {max(megabytes)}"


def summary(values: list[float], scale: float = 1000.0) -> str:
    return f"{statistics.median(values) * scale:.1f} / {max(values) * scale:.1f}"


def bench(size: int, runs: int, work: Path) -> dict[str, str]:
    digests = work / f"digests-{size}"
    write_digests(generate(size, seed=1), digests)
    # Children are forked from this process: keep it small, or their peak RSS is ours.
    gc.collect()
    rows: dict[str, str] = {}
    imports, rss = [], []
    for run in range(runs):
        data_dir = work / f"lib-{size}-{run}"
        elapsed, peak = run_measured([*CLI, "--data-dir", str(data_dir), "import", str(digests)])
        imports.append(elapsed)
        rss.append(peak)
    data_dir = work / f"lib-{size}-0"
    papers = len(Library(data_dir).papers)
    rows["papers"] = f"{papers:,}"
    rows["import (s)"] = summary(imports, 1.0)
    rows["import peak RSS (MB)"] = rss_summary(rss)
    firsts, searchables, tui_rss = [], [], []
    for _ in range(runs):
        first, searchable, peak = launch_tui(data_dir)
        firsts.append(first)
        searchables.append(searchable)
        tui_rss.append(peak)
    rows["start → first screen (ms)"] = summary(firsts)
    rows["start → searchable (ms)"] = summary(searchables)
    rows["app peak RSS at searchable (MB)"] = rss_summary(tui_rss)
    latencies: dict[str, list[float]] = {}
    for _ in range(runs):
        for key, values in asyncio.run(drive_tui(data_dir)).items():
            latencies.setdefault(key, []).extend(values)
    rows[f"filter key → repaint (ms, {len(KEYS)} keys)"] = summary(latencies["key"])
    rows["r → saved on disk (ms)"] = summary(latencies["saved"])
    rows["r → repainted (ms)"] = summary(latencies["r"])
    rows["j → repaint (ms)"] = summary(latencies["j"])
    rows["PageDown → repaint (ms)"] = summary(latencies["pagedown"])
    changes: dict[str, list[float]] = {}
    for _ in range(runs):
        for key, value in core_changes(data_dir).items():
            changes.setdefault(key, []).append(value)
    rows["tag saved (ms)"] = summary(changes["tag"])
    rows["note saved (ms)"] = summary(changes["note"])
    lists = [
        run_measured([*CLI, "--data-dir", str(data_dir), "list", "--json"])[0] for _ in range(runs)
    ]
    exports = [
        run_measured([*CLI, "--data-dir", str(data_dir), "export", "--all"])[0] for _ in range(runs)
    ]
    rows["list --json (s)"] = summary(lists, 1.0)
    rows["export --all (s)"] = summary(exports, 1.0)
    rows |= daily_work(data_dir, work, runs)
    return rows


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; median / worst of {args.runs} runs", flush=True)
    table: dict[int, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="readinglist-bench-") as tmp:
        for size in args.sizes:
            table[size] = bench(size, args.runs, Path(tmp))
            print(f"{size:,} papers done", file=sys.stderr, flush=True)
    names: list[str] = list(next(iter(table.values())))
    print("| what | " + " | ".join(f"{s:,}" for s in table) + " |")
    print("|---|" + "---|" * len(table))
    for name in names:
        print(f"| {name} | " + " | ".join(table[s][name] for s in table) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
