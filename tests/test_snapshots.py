"""Snapshots of the app's main states at 120×36 (pytest-textual-snapshot).

Stable by construction: the clock is frozen (``screenshots.generate.frozen_clock``: every
``now()``/``today()`` of readinglist and local time are fixed), the digests are the real
samples imported one per day on fixed dates, and the header shows a fixed data dir.

After an intended change of the screen: ``pytest tests/test_snapshots.py --snapshot-update``,
then look at the SVGs in tests/__snapshots__/test_snapshots/ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from readinglist.library import Library
from readinglist.tui.app import ReadingListApp
from readinglist.tui.widgets.paper_list import PaperList
from screenshots.generate import (
    SIZE,
    Clock,
    app_for,
    frozen_clock,
    import_by_day,
    ready,
    settled,
)
from tests.conftest import by_title

SnapCompare = Callable[..., bool]
NOTE = (
    "**Why:** merges without retraining; compare with weight matching.\n\n"
    "- Check the *least squares* step on our ViT checkpoints\n"
    "- Cite in the related work"
)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    monkeypatch.delenv("NO_COLOR", raising=False)  # Textual would render without colours
    with frozen_clock() as clock:
        yield clock


def build(tmp_path: Path, clock: Clock, paths: list[Path]) -> Library:
    """A library of ``paths`` imported a day apart; the app opens an hour after the last."""
    library = Library(tmp_path / "lib")
    import_by_day(library, clock, paths)
    clock.at += timedelta(hours=1)
    return library


def app_of(library: Library, tmp_path: Path) -> ReadingListApp:
    return app_for(library.data_dir, tmp_path / "config", tmp_path)


def test_inbox(
    snap_compare: SnapCompare, tmp_path: Path, clock: Clock, digest_paths: list[Path]
) -> None:
    """Just opened on five digests: the inbox, most recurring first, nothing decided."""
    library = build(tmp_path, clock, digest_paths)
    assert snap_compare(app_of(library, tmp_path), terminal_size=SIZE, run_before=ready)


def test_detail_with_note(
    snap_compare: SnapCompare, tmp_path: Path, clock: Clock, digest_paths: list[Path]
) -> None:
    """The note sits above the abstract, below the provenance, status, tags and links."""
    library = build(tmp_path, clock, digest_paths)
    pid = by_title(library, "PLeaS -- Merging Models with Permutations and Least Squares")
    library.set_note(pid, NOTE)
    library.tag([pid], add=["merging", "to-cite"])

    async def on_the_paper(pilot: Pilot) -> None:
        await ready(pilot)
        pilot.app.query_one(PaperList).move_to(pid)
        await settled(pilot)

    app = app_of(library, tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=on_the_paper)


def test_filter_highlights(
    snap_compare: SnapCompare, tmp_path: Path, clock: Clock, digest_paths: list[Path]
) -> None:
    """A filter with a typo, back on the list (Enter): its words marked in the detail pane."""
    library = build(tmp_path, clock, digest_paths)

    async def typed(pilot: Pilot) -> None:
        await ready(pilot)
        await pilot.press("slash", *"mamba tiem", "enter")
        await settled(pilot)

    assert snap_compare(app_of(library, tmp_path), terminal_size=SIZE, run_before=typed)


def test_inbox_zero_on_open(
    snap_compare: SnapCompare, tmp_path: Path, clock: Clock, digest_paths: list[Path]
) -> None:
    """Every paper of a one-digest library decided (with the API), then the app opened."""
    library = build(tmp_path, clock, digest_paths[:1])
    ids = library.ordered()
    library.decide(ids[:3], "later")
    library.decide(ids[3:5], "read")
    library.snooze(ids[5:7], 7)
    library.decide(ids[7:], "skipped")
    assert snap_compare(app_of(library, tmp_path), terminal_size=SIZE, run_before=ready)


def test_inbox_zero_reached(
    snap_compare: SnapCompare, tmp_path: Path, clock: Clock, digest_paths: list[Path]
) -> None:
    """The last papers of the inbox decided with their keys: the "Inbox zero" summary."""
    library = build(tmp_path, clock, digest_paths[:1])
    library.decide(library.ordered()[4:], "skipped")

    async def triage(pilot: Pilot) -> None:
        await ready(pilot)
        await pilot.press(*"srzx")
        # The same summary is toasted for 5 s of wall time: gone on a slow enough run.
        pilot.app.clear_notifications()

    app = app_of(library, tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=triage)


def test_help(
    snap_compare: SnapCompare, tmp_path: Path, clock: Clock, digest_paths: list[Path]
) -> None:
    library = build(tmp_path, clock, digest_paths)
    app = app_of(library, tmp_path)
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE, run_before=ready)
