"""The command line's grammar: every command, option and argument, and their checks.

What the commands do is :mod:`readinglist.cli`; this module only describes them, so the
whole interface reads in one place (and ``--help`` is generated from it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NoReturn

import platformdirs

from readinglist import __version__
from readinglist.model import EXPORT_FORMATS

ENV_DATA_DIR = "READINGLIST_DATA_DIR"


def default_data_dir() -> Path:
    override = os.environ.get(ENV_DATA_DIR)
    return Path(override) if override else Path(platformdirs.user_data_dir("readinglist"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` (the process's by default) parsed. With no command (the app) only the options
    are parsed: building every command's parser was ~6 ms of the app's start. Anything else
    (a command, ``--help``, ``--version``, a mistake) is parsed by the whole grammar."""
    options = _OptionsOnly(prog="readinglist", add_help=False)
    _add_common(options, default=None)
    try:
        args, rest = options.parse_known_args(argv)
    except argparse.ArgumentError:
        rest = ["(the whole grammar says what is wrong)"]
    if rest:
        return build_parser().parse_args(argv)
    args.command = None
    return args


class _OptionsOnly(argparse.ArgumentParser):
    """The options alone, which leave any mistake (``--d x`` is ambiguous: ``--data-dir``
    or ``--demo``?) to the whole grammar to report, with its usage."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readinglist",
        description=(
            "Triage research-paper digests. With no command, opens the terminal app on your "
            "library; papers seen in the most digests come first."
        ),
        epilog=(
            f"The library lives in {default_data_dir()} "
            f"unless --data-dir or ${ENV_DATA_DIR} says otherwise."
        ),
    )
    parser.add_argument("--version", action="version", version=f"readinglist {__version__}")
    _add_common(parser, default=None)
    # The same options after the command; SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_parser = partial(commands.add_parser, parents=[common])

    p = add_parser(
        "import",
        help="import digest files",
        description="Import digest text files, or saved Daily Papers API responses (JSON).",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a digest file, a saved API response, a folder of *.txt digests, or - for stdin",
    )

    p = add_parser(
        "fetch",
        help="fetch Hugging Face Daily Papers",
        description="Fetch days of Hugging Face Daily Papers from its API (HF_ENDPOINT, "
        "HF_TOKEN); each day becomes one digest. With no option: the days since the last "
        "fetch (the first time: today).",
    )
    days = p.add_mutually_exclusive_group()
    days.add_argument(
        "--date",
        action="append",
        type=_day,
        metavar="YYYY-MM-DD",
        help="this day (repeatable)",
    )
    days.add_argument(
        "--since",
        type=_day,
        metavar="YYYY-MM-DD",
        help="this day through today",
    )
    days.add_argument(
        "--week",
        type=_week,
        metavar="YYYY-Www",
        help="the days of an ISO week, e.g. 2024-W11",
    )
    days.add_argument(
        "--month",
        type=_month,
        metavar="YYYY-MM",
        help="the days of a month, e.g. 2024-03",
    )
    p.set_defaults(usage_error=p.error)

    p = add_parser("list", help="list papers, most recurring first", description="List papers.")
    p.add_argument(
        "query",
        nargs="?",
        default="",
        help="search query (see README: tag:, is:unread, seen:>=2 …)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array of papers")
    p.add_argument("--ids", action="store_true", help="print ids only, one a line (for xargs)")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N papers")
    p.add_argument(
        "--view", metavar="NAME", help="a saved query from [views] in config.toml (and QUERY)"
    )

    p = add_parser("show", help="show one paper in full", description="Show one paper.")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="print it as JSON")

    p = add_parser(
        "mark",
        help="mark papers read (or back to new)",
        description="Mark papers read; with --unread, back to new (the inbox).",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="paper id or unique prefix")
    p.add_argument("--unread", action="store_true", help="back to new (the inbox) instead")
    for name, what in (("later", "keep papers to read later"), ("skip", "skip papers")):
        p = add_parser(name, help=what, description=f"{what.capitalize()}; one undo step.")
        p.add_argument("ids", nargs="+", metavar="ID", help="paper id or unique prefix")
    p = add_parser(
        "snooze",
        help="hide papers until a later day",
        description="Snooze papers: they are back in the inbox after N days.",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="paper id or unique prefix")
    p.add_argument("--days", type=_positive, metavar="N", help="how many days (default: config, 7)")

    p = add_parser(
        "tag",
        help="add or remove tags; rename a tag",
        description="Add or remove tags on papers, or rename (merge) a tag everywhere.",
    )
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument(
        "--rename",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="rename tag OLD to NEW on every paper (merges into NEW if it exists)",
    )
    p.add_argument(
        "--add", action="append", default=[], metavar="TAG", help="tag to add (repeatable)"
    )
    p.add_argument(
        "--remove", action="append", default=[], metavar="TAG", help="tag to remove (repeatable)"
    )
    p.set_defaults(usage_error=p.error)

    p = add_parser(
        "note", help="show, set or edit a paper's note", description="A paper's note (Markdown)."
    )
    p.add_argument("id", metavar="ID")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--set", metavar="TEXT", dest="text", help="replace the note ('' clears it)")
    group.add_argument("--edit", action="store_true", help="edit the note in $EDITOR")

    p = add_parser(
        "export",
        help="export notes to Markdown, JSON or BibTeX",
        description="Export papers with notes (with --all, every matching paper).",
    )
    p.add_argument("query", nargs="?", default="", help="only papers matching this query")
    p.add_argument(
        "--all", action="store_true", help="every matching paper, not only those with notes"
    )
    p.add_argument("--format", choices=EXPORT_FORMATS, default="markdown")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout")

    add_parser("tags", help="tags in use, with counts", description="Tags in use, most used first.")

    p = add_parser(
        "stats", help="counts of papers, read, notes, per digest", description="Library counts."
    )
    p.add_argument("--json", action="store_true")

    add_parser("undo", help="undo the last change", description="Undo the last change.")
    add_parser(
        "redo", help="redo the last undone change", description="Redo the last undone change."
    )

    for name, what, description in (
        (
            "devices",
            "devices whose journal is in this library, and their last change",
            "Devices sharing this library folder (through Syncthing, Dropbox, git …): each "
            "writes its own journal; their changes merge.",
        ),
        (
            "conflicts",
            "notes edited on two devices without either seeing the other's edit",
            "Notes edited on two devices at once: the note shows both versions until you "
            "save an edit of it (`readinglist note ID`, or n in the app).",
        ),
    ):
        p = add_parser(name, help=what, description=description)
        p.add_argument("--json", action="store_true")

    p = add_parser(
        "doctor",
        help="check the library files; --fix repairs what is safe",
        description="Check the library files, even damaged ones. With --fix, repair what can be "
        "repaired without losing data (a damaged file is kept as <name>.corrupt-<time>).",
    )
    p.add_argument(
        "--fix", action="store_true", help="remove leftovers, offer to restore damaged files"
    )
    p.add_argument("--yes", action="store_true", help="with --fix: restore without asking")
    return parser


def _add_common(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--data-dir", type=_folder, metavar="DIR", default=default, help="library folder to use"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=False if default is None else default,
        help="use a throw-away library built from the bundled samples (yours is not touched)",
    )


def _folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder (an empty path would mean here)")
    return Path(text)


def _day(text: str) -> str:
    from readinglist.dailypapers import parse_day  # only here: ~20 ms of every command

    return _when(parse_day, text)


def _week(text: str) -> str:
    from readinglist.dailypapers import parse_week

    return _when(parse_week, text)


def _month(text: str) -> str:
    from readinglist.dailypapers import parse_month

    return _when(parse_month, text)


def _when(parse: Callable[[str], object], text: str) -> str:
    """An option's day, week or month, checked at once (a bad one is a usage error)."""
    try:
        parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
