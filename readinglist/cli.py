"""The scriptable command line; ``readinglist`` with no command opens the TUI.

Exit status: 0 success, 1 bad input (a rejected file, an unknown id, a damaged library),
2 usage errors (argparse's own convention).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from readinglist.catalog import gc_paused
from readinglist.cliargs import default_data_dir, parse_args
from readinglist.config import Config, load_config
from readinglist.device import copied_note, this_device
from readinglist.errors import FetchError, ReadinglistError
from readinglist.library import Library, expand_paths
from readinglist.lock import set_command
from readinglist.model import paper_facts, plural
from readinglist.safetext import indented_json, json_array, printable, printable_line

if TYPE_CHECKING:
    from readinglist.dailypapers import DayDigest
    from readinglist.library import Source
    from readinglist.reports import FileReport


def main(argv: Sequence[str] | None = None) -> int:
    return _main(parse_args(argv))


#: The library the command opened, kept for ``os._exit`` (see :func:`entry`); None when
#: :func:`main` is called by a test, which frees it as usual.
_kept: list[Library] | None = None


def entry() -> None:
    """The ``readinglist`` command: :func:`main`, then out without tearing down the heap a
    command loaded, object by object (the library opened at 100k papers: ~10 ms of a
    ``mark``). Everything a command saves is fsynced before it returns; the app, whose
    terminal Textual restores on its way out, leaves the ordinary way."""
    global _kept
    args = parse_args()
    if args.command is not None and not gc.isenabled():  # off since readinglist.__main__
        gc.freeze()  # what the imports made lives as long as the process
        gc.enable()
    _kept = []
    code = _main(args)
    if args.command is None:
        sys.exit(code)
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


def _main(args: argparse.Namespace) -> int:
    try:
        _identify(args)
        with _data_dir(args) as data_dir:
            code = run(args, data_dir)
        sys.stdout.flush()  # output that fails at the end is told as output that fails midway
        return code
    except ReadinglistError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `readinglist list | head`: the reader left; that is not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except OSError as error:
        # What the commands read and save fails as a ReadinglistError naming the file; an
        # OSError left over is writing the output (a full disk, a terminal gone).
        _error(f"could not write the output ({error.strerror or error})")
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (nothing more to write)
        return 1


def _identify(args: argparse.Namespace) -> None:
    """Say so, once, when this machine found its config folder copied from another one and
    got its own device id (before a demo library is made, which would find it first). The
    app says it itself, in a notification; a config folder that cannot give an identity is
    met again by the command, which says so its own way (doctor as a finding)."""
    if args.command is None and not args.demo:
        return
    try:
        device = this_device()
    except ReadinglistError:
        return
    if device.replaced:
        _error(copied_note(device))


@contextlib.contextmanager
def _data_dir(args: argparse.Namespace) -> Iterator[Path]:
    if not args.demo:
        yield args.data_dir or default_data_dir()
        return
    with tempfile.TemporaryDirectory(prefix="readinglist-demo-") as tmp:
        from readinglist.samples import sample_paths

        Library(Path(tmp)).import_files(sample_paths())
        yield Path(tmp)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    set_command(args.command or "app")  # named in the lock file, so others can say who writes
    if args.command is None:
        from readinglist.tui.app import run_app

        return run_app(data_dir, demo=args.demo)
    if args.command == "doctor":
        return cmd_doctor(args, data_dir)  # before Library(): it must work on a damaged library
    # A command runs once: what the open loads is never scanned by the cycle collector
    # (mark at 100k: ~50 ms of collections). Reference counting still frees it, which is
    # all a catalog needs (tests/test_reload_memory.py). Frozen before the collector is
    # back on, or its first collection would scan all of it once.
    with gc_paused():
        library = Library(data_dir)
        gc.freeze()
    if _kept is not None:
        _kept.append(library)
    for warning in library.warnings:
        _error(f"warning: {warning}")
    handler = {
        "import": cmd_import,
        "fetch": cmd_fetch,
        "list": cmd_list,
        "show": cmd_show,
        "mark": cmd_decide,
        "later": cmd_decide,
        "skip": cmd_decide,
        "snooze": cmd_decide,
        "tag": cmd_tag,
        "tags": cmd_tags,
        "note": cmd_note,
        "export": cmd_export,
        "stats": cmd_stats,
        "undo": cmd_undo,
        "redo": cmd_undo,
        "devices": cmd_devices,
        "conflicts": cmd_conflicts,
    }[args.command]
    code = handler(library, args)
    if code == 0:
        library.fold()
    return code


def cmd_import(library: Library, args: argparse.Namespace) -> int:
    from readinglist.digest import read_stdin  # the commands that import, import these

    sources: list[Source] = []
    for path in args.paths:
        if path == "-":
            sources.append(("<stdin>", read_stdin(sys.stdin.buffer)))
        elif not (found := expand_paths([Path(path)])):
            _error(f"{path}: folder holds no *.txt digests")
            return 1
        else:
            sources += found
    line = _Progress()

    def progress(done: int, total: int, source: str) -> None:
        if total > 1 and done < total:  # a bulk import takes seconds: say how far it got
            line.show(f"importing {done + 1:,}/{total:,}: {printable_line(source)}")

    try:
        report = library.import_files(sources, progress)
    finally:
        line.clear()
    for file in report.files:
        for warning in file.warnings:
            _error(f"warning: {warning}")
        if file.status == "rejected":
            _error(file.describe())
        else:
            print(printable_line(file.describe()))
    imported = sum(f.status == "imported" for f in report.files)
    print(
        f"{imported} of {plural(len(report.files), 'file')} imported, "
        f"{plural(report.new, 'new paper')}; "
        f"the library holds {plural(len(library.papers), 'paper')}."
    )
    return 0 if report.ok else 1


def cmd_fetch(library: Library, args: argparse.Namespace) -> int:
    """Fetch each day, then import the fetched ones in one go: a day that fails is one line
    and is not imported; the others are."""
    from readinglist import dailypapers
    from readinglist.fetch import fetch_day  # only here: huggingface_hub is slow to import
    from readinglist.reports import ImportReport

    try:
        if args.date:
            days = sorted({d for text in args.date for d in dailypapers.days_for(day=text)})
        elif args.since or args.week or args.month:
            days = dailypapers.days_for(since=args.since, week=args.week, month=args.month)
        else:
            days = library.days_to_fetch()
    except ValueError as error:
        args.usage_error(str(error))  # exits with status 2
    progress = _Progress()
    found: list[DayDigest] = []
    failed = empty = 0
    interrupted = False
    try:
        for number, day in enumerate(days):
            step = f" ({number + 1}/{len(days)})" if len(days) > 1 else ""
            progress.show(f"fetching {day.isoformat()}{step}")
            try:
                fetched_day = fetch_day(day)
            except FetchError as error:
                progress.clear()
                _error(str(error))
                failed += 1
                if isinstance(error, dailypapers.Unreachable) and number + 1 < len(days):
                    rest = days[number + 1 :]
                    _error(
                        f"{plural(len(rest), 'later day')} not fetched "
                        f"({_span(rest)}): they would fail alike; run the command again"
                    )
                    break
                continue
            progress.clear()
            for warning in fetched_day.warnings:
                _error(f"warning: {warning}")
            if fetched_day.papers:
                found.append(dailypapers.to_digest(fetched_day))
            else:
                empty += 1
                print(f"{day.isoformat()}: no papers")
    except KeyboardInterrupt:
        progress.clear()
        interrupted = True  # what was fetched is still imported
    progress.show(f"importing {plural(len(found), 'day')}")
    report = library.import_files(found) if found else ImportReport(())
    progress.clear()
    for day_digest, file in zip(found, report.files, strict=True):
        print(printable_line(_fetched_line(day_digest, file)))
    print(
        f"fetched {len(found) + empty} of {plural(len(days), 'day')}: "
        f"{plural(report.new, 'new paper')}; "
        f"the library holds {plural(len(library.papers), 'paper')}."
    )
    if interrupted:
        return 130
    return 1 if failed or not report.ok else 0


def _span(days: Sequence[date]) -> str:
    first, last = days[0].isoformat(), days[-1].isoformat()
    return first if first == last else f"{first} to {last}"


def _fetched_line(day: DayDigest, report: FileReport) -> str:
    if report.status == "rejected":
        return report.describe()
    if report.status == "unchanged":
        return f"{day.name}: already fetched, no new papers; upvotes, stars and comments refreshed"
    count = plural(report.new + report.again, "paper")
    back = f", {report.resurfaced:,} skipped back in the inbox" if report.resurfaced else ""
    return f"{day.name}: {count}: {report.new:,} new, {report.again:,} seen before{back}"


class _Progress:
    """One line on stderr, rewritten in place: only on a terminal (never in a pipe or log)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def show(self, text: str) -> None:
        if self.tty:
            sys.stderr.write(f"\r\x1b[K{text}…")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def cmd_list(library: Library, args: argparse.Namespace) -> int:
    query = args.query
    if args.view:
        views = _config().views
        if args.view not in views:
            known = ", ".join(views) or "none; add them under [views] in config.toml"
            raise ReadinglistError(f"no view named {args.view!r} (views: {known})")
        query = f"{views[args.view]} {query}"
    ids = library.query(query)[: args.limit]
    if args.json:
        for part in json_array(library.each_paper_json(ids)):
            sys.stdout.write(part)
        sys.stdout.write("\n")
    elif args.ids:
        sys.stdout.write("".join(f"{pid}\n" for pid in ids))
    else:
        sys.stdout.write("".join(_row(library, pid) + "\n" for pid in ids))
    return 0


def _row(library: Library, pid: str) -> str:
    paper, state = library.papers[pid], library.state(pid)
    tags = "".join(f" #{t}" for t in state.tags)
    marks = ("✎" if state.note else " ") + ("⌥" if paper.links else " ")
    line = f"{pid}  ×{paper.seen}  {state.mark} {marks} {paper.title}{tags}"
    return printable_line(line)


def cmd_show(library: Library, args: argparse.Namespace) -> int:
    pid = library.resolve(args.id)
    if args.json:
        print(indented_json(library.papers_json([pid])[0]))
        return 0
    paper, state = library.papers[pid], library.state(pid)
    abstract = library.abstract(pid)  # first: a damaged digest file fails before any output
    digests = ", ".join(d.label for d in library.digest_list(pid))
    lines = [
        paper.title,
        *([f"by {', '.join(paper.authors)}"] if paper.authors else []),
        f"id {pid} · seen in {paper.seen}: {digests}",
        *([facts] if (facts := " · ".join(paper_facts(paper))) else []),
        state.summary + (f" · tags: {', '.join(state.tags)}" if state.tags else ""),
        *paper.links,
    ]
    print("\n".join(map(printable_line, lines)))
    print()
    print(printable(abstract))
    if state.note:
        print("\nNote:\n" + printable(state.note))
    return 0


def cmd_decide(library: Library, args: argparse.Namespace) -> int:
    ids = [library.resolve(ref) for ref in args.ids]
    if args.command == "snooze":
        change = library.snooze(ids, args.days or _config().snooze_days)
    else:
        status = {"later": "later", "skip": "skipped"}.get(args.command, "read")
        change = library.decide(ids, "new" if getattr(args, "unread", False) else status)
    print(f"{change.label}." if change else "nothing to change.")
    return 0


def cmd_tag(library: Library, args: argparse.Namespace) -> int:
    if args.rename:
        if args.ids or args.add or args.remove:
            args.usage_error("--rename takes no ids, --add or --remove")
        change = library.rename_tag(*args.rename)
        print(f"{change.label}." if change else f"no paper has the tag {args.rename[0]!r}.")
        return 0
    if not args.ids:
        args.usage_error("give the ids of the papers to tag")
    if not args.add and not args.remove:
        args.usage_error("give --add TAG or --remove TAG (or both)")  # exits with status 2
    ids = [library.resolve(ref) for ref in args.ids]
    change = library.tag(ids, add=args.add, remove=args.remove)
    print(f"{change.label}." if change else "nothing to change.")
    return 0


def cmd_tags(library: Library, args: argparse.Namespace) -> int:
    counts = library.tag_counts()
    if not counts:
        print("no tags yet; add some with `readinglist tag ID --add TAG`.")
    for tag, count in counts.items():
        print(f"{count:>6}  {printable_line(tag)}")
    return 0


def _config() -> Config:
    """config.toml; a bad one is one warning line and the defaults (never a stop)."""
    config, problem = load_config()
    if problem:
        _error(f"warning: {problem}")
    return config


def cmd_note(library: Library, args: argparse.Namespace) -> int:
    pid = library.resolve(args.id)
    if args.text is None and not args.edit:
        note = library.state(pid).note
        print(printable(note) if note else f"(no note on {pid})")
        return 0
    text = _edit(library.state(pid).note) if args.edit else args.text
    change = library.set_note(pid, text)
    print(f"saved the note on {pid}." if change else "note unchanged.")
    return 0


def _edit(text: str) -> str:
    import subprocess  # only here: ~8 ms of each start

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    if not shutil.which(editor.split()[0]):
        raise ReadinglistError(f"editor {editor!r} not found; set $EDITOR")
    with tempfile.NamedTemporaryFile(
        "w+", suffix=".md", prefix="readinglist-note-", delete=False
    ) as f:
        f.write(text)
    path = Path(f.name)
    try:
        if subprocess.call([*editor.split(), str(path)]) != 0:
            raise ReadinglistError(f"editor {editor!r} failed; the note was not changed")
        return path.read_text()
    finally:
        path.unlink(missing_ok=True)


def cmd_export(library: Library, args: argparse.Namespace) -> int:
    from readinglist.export import export, write_export  # only here: ~15 ms of each start

    ids = library.query(args.query)
    if not args.all:
        ids = [pid for pid in ids if library.state(pid).note]
    text = export(library, ids, args.format)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    write_export(args.output, text, library.data_dir)
    _error(f"wrote {plural(len(ids), 'paper')} to {args.output}")
    return 0


def cmd_devices(library: Library, args: argparse.Namespace) -> int:
    rows = library.devices()
    if args.json:
        keys = ("id", "name", "changes", "last_change")
        here = library.device.id
        print(indented_json([dict(zip(keys, row, strict=True)) | {"this": row[0] == here}
                             for row in rows]))  # fmt: skip
        return 0
    for device, name, changes, last in rows:
        this = " (this device)" if device == library.device.id else ""
        when = f"last change {last[:16].replace('T', ' ')}" if last else "no changes yet"
        print(printable_line(f"{device}  {name}{this}: {plural(changes, 'change')}, {when}"))
    pending = library.pending()
    if pending:
        print(f"{plural(len(pending), 'import')} of other devices wait for their digest files.")
    return 0


def cmd_conflicts(library: Library, args: argparse.Namespace) -> int:
    found = library.conflicts()
    names = library.merger.names
    if args.json:
        print(indented_json([
            {"id": pid, "title": library.papers[pid].title if pid in library.papers else None,
             "versions": [{"device": names.get(v.stamp[2], v.stamp[2]), "at": v.at,
                           "text": v.text} for v in versions]}
            for pid, versions in found
        ]))  # fmt: skip
        return 0
    if not found:
        print("no conflicting notes.")
    for pid, versions in found:
        title = library.papers[pid].title if pid in library.papers else "(not in the library)"
        where = ", ".join(
            f"{names.get(v.stamp[2], v.stamp[2])} {v.at[:16].replace('T', ' ')}" for v in versions
        )
        print(printable_line(f"{pid}  {title}  [{where}]"))
    if found:
        print("Edit each note (`readinglist note ID`, or n in the app) to keep what you want.")
    return 0


def cmd_stats(library: Library, args: argparse.Namespace) -> int:
    stats = library.stats()
    if args.json:
        print(indented_json(stats.to_json()))
        return 0
    print(
        f"{plural(stats.papers, 'paper')} · {stats.recurring:,} recurring (seen ≥ 2) · "
        f"{stats.unread:,} unread · {stats.read:,} read · {stats.noted:,} with notes · "
        f"{stats.tagged:,} tagged"
    )
    print("  " + " · ".join(f"{n:,} {status}" for status, n in stats.statuses.items()))
    for d in stats.digests:
        line = f"  {d['date'] or '—':>7}  {d['name']}: {plural(d['papers'], 'paper')}, "
        print(printable_line(line + f"{d['read']:,} read"))
    return 0


def cmd_undo(library: Library, args: argparse.Namespace) -> int:
    change = library.undo() if args.command == "undo" else library.redo()
    print(f"{change.label}." if change else f"nothing to {args.command}.")
    return 0


def cmd_doctor(args: argparse.Namespace, data_dir: Path) -> int:
    def confirm(question: str) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            _error(f"not asked (stdin is not a terminal; add --yes to agree): {question}")
            return False
        try:
            return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}
        except EOFError:
            return False

    from readinglist import doctor  # only here

    return doctor.run(data_dir, fix=args.fix, confirm=confirm)


def _error(message: str) -> None:
    """One line on stderr; paths and titles in it are data, so controls are neutralised."""
    prefix = "" if message.startswith("readinglist: ") else "readinglist: "
    print(printable_line(prefix + message), file=sys.stderr)


if __name__ == "__main__":
    entry()
