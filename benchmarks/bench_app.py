"""Every user-felt latency at 1k, 10k and 100k papers (run by hand, not in the test suite).

    python benchmarks/bench_app.py --sizes 1000 10000 100000 --runs 5

For each size a seeded synthetic corpus (``benchmarks/corpus.py``) is written as real digest
files in both layouts, then measured, each figure as median / worst of ``--runs`` runs (RSS:
median / largest):

1. ``readinglist import`` of the whole corpus in a fresh process: wall time, peak RSS;
2. the real app in a pseudo-terminal (120×36): process start to first screen (the header is
   drawn), to the first rows (the status line counts them), to "whole library searchable"
   (the filter's placeholder changes) and to a typed query answered (``/`` typed as soon as
   the filter works, ``QUERY`` as soon as the filter has the focus; answered when the status
   line names the filter), and the app's peak RSS then; beside each start, interleaved, a
   bare Textual app's first screen (one word), the floor of any Textual app's start;
3. filter keystroke → repainted list, over a scripted 50+ key sequence with typos and
   backspaces, driven with the Pilot; "repainted" is the first screen update (``App._display``)
   after the list's last refresh for that key;
4. ``r`` (toggle read) from key to saved on disk, and ``Library.tag`` / ``Library.set_note``;
5. ``j`` and PageDown at the top of the unfiltered list;
6. ``readinglist list --json`` and ``readinglist export --all`` in a fresh process;
7. the daily work, each a fresh process with its peak RSS: importing one new 300-paper digest
   into the library (on a copy, every run), ``list QUERY --limit 20`` and ``mark ID``;
8. memory across reloads: RSS of one process holding the library open, as the app does,
   after 1 and after 10 reloads (another process imports a small digest, then
   ``Library.refresh()`` and a new ``Library.view()``, the old view dropped), to show that
   a replaced catalog and index are freed.

``--only`` measures some of these (say ``--only reload`` at 100k) instead of all;
``--library DIR`` measures an existing library (a copy: the app's keys change it) instead of
generating and importing one (its size is then the library's, whatever ``--sizes`` says).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import gc
import os
import platform
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate, write_api_days, write_digests

from readinglist import storage
from readinglist.library import Library
from readinglist.tui.app import ReadingListApp, create_app
from readinglist.tui.widgets.paper_list import PaperList

CLI = [sys.executable, "-m", "readinglist"]
SIZE = (120, 36)
#: A two-word query with a typo, as typed in the daily work.
QUERY = "mamba tiem"
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


def compiled() -> None:
    """Measure readinglist as installed, its bytecode compiled (pip compiles it; a checkout
    run with PYTHONDONTWRITEBYTECODE would compile every changed module in every process)."""
    import compileall

    import readinglist

    compileall.compile_dir(Path(readinglist.__file__).parent, quiet=1)


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


#: Control sequences (CSI, OSC, two-byte escapes) stripped from the app's output so that
#: text drawn in several styled pieces is found whole.
ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)


#: Drawn again when ``/`` has moved the focus to the filter (its cursor appears on the
#: placeholder). Only then is the query typed: keys typed before it reach the list, not the
#: filter (Textual moves the focus after the keys already queued), as they would for a
#: reader typing ahead while the app is busy.
FOCUSED = b"filter: words"


@dataclass
class Start:
    """One start of the app in a pty: seconds from spawn to each milestone, and peak RSS."""

    first_screen: float
    first_rows: float
    searchable: float
    answered: float
    peak_mb: int


class Screen:
    """What the app in a pty has drawn so far, as text without control sequences."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.raw = b""
        self.text = b""

    def read(self, timeout: float = 0.05) -> None:
        if select.select([self.master], [], [], timeout)[0]:
            with contextlib.suppress(OSError):
                self.raw += os.read(self.master, 1 << 16)
                self.text = ESCAPES.sub(b"", self.raw)


def spawn_in_pty(argv: list[str], env: dict[str, str]) -> tuple[Screen, subprocess.Popen[bytes]]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = os.environ | {"TERM": "xterm-256color"} | env
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return Screen(master), process


def quit_tui(screen: Screen, process: subprocess.Popen[bytes]) -> None:
    os.write(screen.master, b"\x11")  # ctrl+q: quits even from the filter
    deadline = time.monotonic() + 10
    pid = 0
    while pid == 0:
        screen.read()
        if time.monotonic() > deadline:
            process.kill()
        pid, _ = os.waitpid(process.pid, os.WNOHANG)
    process.returncode = 0  # reaped above; keep Popen from waiting again
    os.close(screen.master)


#: A Textual app showing one word: its first screen is what starting any Textual app costs
#: on this machine (Python, importing Textual, its first frames), measured beside ours.
BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("readinglist")
Bare().run()
"""


def bare_textual_start(timeout: float = 30.0) -> float:
    start = time.perf_counter()
    screen, process = spawn_in_pty([sys.executable, "-c", BARE_APP], {})
    while b"readinglist" not in screen.text and time.perf_counter() - start < timeout:
        screen.read()
    seen = time.perf_counter() - start
    quit_tui(screen, process)
    return seen


def launch_tui(data_dir: Path, timeout: float = 120.0) -> Start:
    """Start the app in a pty, wait for its list and index, type ``/QUERY`` and wait for the
    answer (the status line names the filter once the list shows its results)."""
    start = time.perf_counter()
    screen, process = spawn_in_pty(
        [*CLI, "--data-dir", str(data_dir)], {"READINGLIST_CONFIG_DIR": str(data_dir / "cfg")}
    )
    master = screen.master
    seen: dict[str, float] = {}
    milestones = {
        "first_screen": re.compile(b"readinglist"),  # the header
        # The status line counts the rows the list shows (drawn with them).
        "first_rows": re.compile("│  [0-9,]+ shown".encode()),
        # The filter's placeholder once the index is ready.
        "searchable": re.compile(b"/ filter: words"),
    }
    answer = f"filter: {QUERY}".encode()
    peak = 0
    focus_from: int | None = None
    while "answered" not in seen and time.perf_counter() - start < timeout:
        screen.read()
        now = time.perf_counter() - start
        for name, text in milestones.items():
            if name not in seen and text.search(screen.text):
                seen[name] = now
                if name == "searchable":  # type the query as soon as the filter works
                    os.write(master, b"/")
                    focus_from = len(screen.text)
        if focus_from is not None and FOCUSED in screen.text[focus_from:]:
            os.write(master, QUERY.encode())
            focus_from = None
        if "searchable" in seen and answer in screen.text:
            seen["answered"] = now
            peak = _peak_rss(process.pid)
    quit_tui(screen, process)
    missing = [name for name in (*milestones, "answered") if name not in seen]
    if missing:
        tail = screen.text[-2000:].decode(errors="replace")
        raise SystemExit(f"the app never showed {missing} within {timeout} s; last:\n{tail}")
    return Start(**seen, peak_mb=peak)


class Repaints:
    """Times of the screen updates that drew what the list had to redraw, to pair key and
    repaint.

    An update counts only if the list drew the rows it had to (or had none to draw): the
    list's refresh can come after an update that drew only the filter input (its rows then
    waited a frame), and counting that update once hid ~16 ms of most filter keys."""

    def __init__(self, app: ReadingListApp) -> None:
        self.displays: list[float] = []
        self.last_refresh = 0.0
        self._drawn = self._pending = False
        display = app._display
        papers = app.query_one(PaperList)
        refresh, render_line = papers.refresh, papers.render_line

        def spy_display(screen, renderable):  # type: ignore[no-untyped-def]
            if self._drawn or not self._pending:
                self.displays.append(time.perf_counter())
            self._drawn = self._pending = False
            return display(screen, renderable)

        def spy_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.last_refresh = time.perf_counter()
            self._drawn, self._pending = False, True
            return refresh(*args, **kwargs)

        def spy_render_line(y):  # type: ignore[no-untyped-def]
            self._drawn = True
            return render_line(y)

        app._display = spy_display  # type: ignore[method-assign]
        papers.refresh = spy_refresh  # type: ignore[method-assign]
        papers.render_line = spy_render_line  # type: ignore[method-assign]

    async def after(self, start: float, timeout: float = 5.0) -> float:
        """Seconds from ``start`` to the first screen update that drew the list after its
        last refresh."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            mark = max(self.last_refresh, start)
            shown = [t for t in self.displays if t >= mark]
            if shown:
                return shown[0] - start
            await asyncio.sleep(0.0002)
        raise TimeoutError("no repaint")


async def drive_tui(data_dir: Path, pause: float = 0.2) -> dict[str, list[float]]:
    """Keystroke, cursor and mark-read latencies in one app session (seconds), starting
    ``pause`` seconds after the library is searchable (a reader looks at the list first:
    the app looks up the commonest first letters from then on while no key is typed, and
    makes the filters ready at the first pause of a second)."""
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
        await pilot.pause(pause)
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


def daily_digest(out: Path, papers: int = 300, label: str = "daily") -> Path:
    """One new digest of ``papers`` papers none of the library has (spaced layout); titles
    end in ``(label)``, so digests of different labels share no paper."""
    corpus = generate(papers, seed=4242)
    body = "\n\n".join(f"{p.title} ({label})\n\n{p.abstract}" for p in corpus.papers)
    path = out / f"{re.sub(r'[^a-z0-9]+', '-', label.lower())}.txt"
    path.write_text(f"Apr 2\n\n{body}\n")
    return path


#: A child that keeps a library open as the app does: on each line read from stdin (after
#: another process changed the library) it reloads it in a new thread, as the app's reload
#: worker does (``refresh`` then a new ``view``), then adopts the new view in the main
#: thread, dropping the old one, answers a query from it and prints its RSS (MB) and how
#: long the worker took (s). No explicit gc.collect(): a replaced catalog and index must
#: go by reference counting. Full collections wait as the app makes them wait (its gen-2
#: threshold): with Python's default, each reload at 100k took ~20 ms more in collections.
RELOADS = """
import gc, sys, threading, time
gc.set_threshold(gc.get_threshold()[0], gc.get_threshold()[1], 1_000_000)
from pathlib import Path
from readinglist.library import Library
from readinglist.reading import release_freed_memory

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024

def reload(library, found):
    start = time.perf_counter()
    found.append(library.refresh())
    found.append(library.view())
    found.append(time.perf_counter() - start)

library = Library(Path(sys.argv[1]))
view = library.view()
view.query(sys.argv[2])
print(rss(), flush=True)
for line in sys.stdin:
    found = []
    worker = threading.Thread(target=reload, args=(library, found))
    worker.start()
    worker.join()
    changed, view, took = found  # the old view, its catalog and its index, dropped here
    del found
    release_freed_memory()  # as the app does when it adopts a new catalog
    view.query(sys.argv[2])
    print(f"{rss()} {took}" if changed else "unchanged", flush=True)
"""


def reload_memory(data_dir: Path, work: Path, reloads: int = 10) -> tuple[list[int], list[float]]:
    """RSS (MB) of a process holding the library open: once opened, then after each of
    ``reloads`` reloads, each after another process imported one small new digest; and the
    seconds each reload took."""
    process = subprocess.Popen(
        [sys.executable, "-c", RELOADS, str(data_dir), QUERY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    measured = [int(process.stdout.readline())]
    took: list[float] = []
    try:
        for number in range(reloads):
            digest = daily_digest(work, papers=20, label=f"reload {time.time_ns()} {number}")
            run_measured([*CLI, "--data-dir", str(data_dir), "import", str(digest)])
            process.stdin.write("reload\n")
            process.stdin.flush()
            answer = process.stdout.readline().split()
            if len(answer) != 2:
                raise SystemExit(f"reload {number + 1} saw no change ({answer!r})")
            measured.append(int(answer[0]))
            took.append(float(answer[1]))
    finally:
        process.stdin.close()
        process.wait()
    return measured, took


def daily_work(data_dir: Path, work: Path, runs: int) -> dict[str, str]:
    """The daily work, each command a fresh process: wall time and peak RSS."""
    daily = daily_digest(work)
    imports, firsts = [], []
    for run in range(runs):
        copy = work / f"daily-{run}"
        shutil.copytree(data_dir, copy)
        # Opened once, as the user's own library has been: a copy's files are other files,
        # whose merge (journals.cache) is not saved yet.
        Library(copy)
        imports.append(run_measured([*CLI, "--data-dir", str(copy), "import", str(daily)]))
        # The first query after it folds the import into the catalog and saves it.
        query = [*CLI, "--data-dir", str(copy), "list", QUERY, "--limit", "20"]
        firsts.append(run_measured(query))
        shutil.rmtree(copy)
    pid = Library(data_dir).ordered()[0]
    gc.collect()
    lists = [
        run_measured([*CLI, "--data-dir", str(data_dir), "list", QUERY, "--limit", "20"])
        for _ in range(runs)
    ]
    marks = [
        run_measured([*CLI, "--data-dir", str(data_dir), "mark", *(["--unread"] * (n % 2)), pid])
        for n in range(runs)
    ]
    return {
        "import one new 300-paper digest (s)": summary([t for t, _ in imports], 1.0),
        "import one digest, peak RSS (MB)": rss_summary([m for _, m in imports]),
        "the first `list` after that import (s)": summary([t for t, _ in firsts], 1.0),
        "its peak RSS (MB)": rss_summary([m for _, m in firsts]),
        f"`list {QUERY!r} --limit 20` (s)": summary([t for t, _ in lists], 1.0),
        "`list QUERY`, peak RSS (MB)": rss_summary([m for _, m in lists]),
        "`mark ID` (s)": summary([t for t, _ in marks], 1.0),
        "`mark ID`, peak RSS (MB)": rss_summary([m for _, m in marks]),
    }


def reload_rows(data_dir: Path, work: Path, runs: int) -> dict[str, str]:
    """RSS after opening, after 1 and after 10 reloads, each run on a fresh copy."""
    opened, ones, tens, took = [], [], [], []
    for run in range(runs):
        copy = work / f"reload-{run}"
        shutil.copytree(data_dir, copy)
        measured, seconds = reload_memory(copy, work)
        took += seconds
        shutil.rmtree(copy)
        print(f"RSS (MB) opened, then after each reload: {measured}", file=sys.stderr)
        opened.append(measured[0])
        ones.append(measured[1])
        tens.append(measured[10])
    ratios = [ten / one for one, ten in zip(ones, tens, strict=True)]
    return {
        "reload after an import elsewhere (ms, refresh + view)": summary(took),
        "RSS of the open library (MB)": rss_summary(opened),
        "RSS after 1 reload (MB)": rss_summary(ones),
        "RSS after 10 reloads (MB)": rss_summary(tens),
        "RSS after 10 / after 1 reload": f"{statistics.median(ratios):.3f} / {max(ratios):.3f}",
    }


def rss_summary(megabytes: list[int]) -> str:
    return f"{statistics.median(megabytes):.0f} / {max(megabytes)}"


def summary(values: list[float], scale: float = 1000.0) -> str:
    """Median / worst; seconds (``scale`` 1) with two decimals, milliseconds with one."""
    digits = 2 if scale == 1.0 else 1
    return f"{statistics.median(values) * scale:.{digits}f} / {max(values) * scale:.{digits}f}"


#: What ``--only`` can pick; the whole-corpus import always runs (the rest needs its library).
PARTS = ("import", "start", "keys", "changes", "export", "daily", "reload")


def bench(
    size: int,
    runs: int,
    work: Path,
    parts: set[str],
    library: Path | None = None,
    pause: float = 0.2,
    api: bool = False,
) -> dict[str, str]:
    rows: dict[str, str] = {}
    imports = []
    if library is None:
        digests = work / f"digests-{size}"
        written = (write_api_days if api else write_digests)(generate(size, seed=1), digests)
        # Children are forked from this process: keep it small, or their peak RSS is ours.
        gc.collect()
        files = [str(path) for path in written] if api else [str(digests)]
        for run in range(runs if "import" in parts else 1):
            lib = work / f"lib-{size}-{run}"
            imports.append(run_measured([*CLI, "--data-dir", str(lib), "import", *files]))
        data_dir = work / f"lib-{size}-0"
    else:
        data_dir = library
        parts = parts - {"import"}  # it needs the generated digests
    rows["papers"] = f"{len(Library(data_dir).papers):,}"
    gc.collect()
    if "import" in parts:
        rows["`readinglist import` of the whole corpus (s)"] = summary([t for t, _ in imports], 1)
        rows["import of the whole corpus, peak RSS (MB)"] = rss_summary([m for _, m in imports])
    if "start" in parts:
        starts, bare = [], []
        for _ in range(runs):  # interleaved: the machine's pace changes over minutes
            starts.append(launch_tui(data_dir))
            bare.append(bare_textual_start())
        rows["a bare Textual app → first screen (ms, reference)"] = summary(bare)
        rows["start → first screen (ms)"] = summary([s.first_screen for s in starts])
        rows["start → first rows (ms)"] = summary([s.first_rows for s in starts])
        rows["start → searchable (ms)"] = summary([s.searchable for s in starts])
        rows[f"start → typed `/{QUERY}` answered (ms)"] = summary([s.answered for s in starts])
        rows["app peak RSS then (MB, `VmHWM`)"] = rss_summary([s.peak_mb for s in starts])
    if "keys" in parts:
        latencies: dict[str, list[float]] = {}
        for _ in range(runs):
            for key, values in asyncio.run(drive_tui(data_dir, pause)).items():
                latencies.setdefault(key, []).extend(values)
        rows[f"filter keystroke → repaint (ms, {len(KEYS)} keys × {runs})"] = summary(
            latencies["key"]
        )
        rows["`r` → saved on disk (ms)"] = summary(latencies["saved"])
        rows["`r` → repainted (ms)"] = summary(latencies["r"])
        rows["`j` → repaint (ms)"] = summary(latencies["j"])
        rows["PageDown → repaint (ms)"] = summary(latencies["pagedown"])
    if "changes" in parts:
        changes: dict[str, list[float]] = {}
        for _ in range(runs):
            for key, value in core_changes(data_dir).items():
                changes.setdefault(key, []).append(value)
        rows["tag saved (ms, `Library.tag`)"] = summary(changes["tag"])
        rows["note saved (ms, `Library.set_note`)"] = summary(changes["note"])
    gc.collect()
    if "export" in parts:
        lists = [
            run_measured([*CLI, "--data-dir", str(data_dir), "list", "--json"])[0]
            for _ in range(runs)
        ]
        exports = [
            run_measured([*CLI, "--data-dir", str(data_dir), "export", "--all"])[0]
            for _ in range(runs)
        ]
        rows["`readinglist list --json` (s)"] = summary(lists, 1.0)
        rows["`readinglist export --all` (s)"] = summary(exports, 1.0)
    if "daily" in parts:
        rows |= daily_work(data_dir, work, runs)
    if "reload" in parts:
        rows |= reload_rows(data_dir, work, runs)
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
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="measure only these (default: all)",
    )
    parser.add_argument(
        "--library", type=Path, help="measure this library (a copy) instead of generating one"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.2,
        help="seconds from searchable to the first key of the keystroke figures (default 0.2)",
    )
    parser.add_argument(
        "--api",
        action="store_true",
        help="write the corpus as Daily Papers API responses (every paper with metadata)",
    )
    args = parser.parse_args()
    compiled()
    print(f"machine: {machine()}; median / worst of {args.runs} runs", flush=True)
    table: dict[int, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="readinglist-bench-") as tmp:
        # An existing library is measured once, whatever its size.
        for size in args.sizes if args.library is None else args.sizes[-1:]:
            table[size] = bench(
                size, args.runs, Path(tmp), set(args.only), args.library, args.pause, args.api
            )
            print(f"{size:,} papers done", file=sys.stderr, flush=True)
    names: list[str] = list(next(iter(table.values())))
    print("| what | " + " | ".join(f"{s:,}" for s in table) + " |")
    print("|---|" + "---|" * len(table))
    for name in names:
        print(f"| {name} | " + " | ".join(table[s][name] for s in table) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
