"""Regenerate the README screenshots at 120×36, from the sample digests on a frozen clock.

Run: python screenshots/generate.py   (writes screenshots/*.svg; convert with rsvg-convert to look)

The frozen clock, the per-day import and the fixed data-dir label are shared with the
snapshot tests (tests/test_snapshots.py), so the README shows states that the tests pin.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import TextArea

# Imported before the clock is frozen, so ``frozen_clock`` finds every module that took
# ``now``/``today`` from readinglist.model (search is otherwise imported lazily).
import readinglist.search  # noqa: F401
from readinglist import model
from readinglist.library import Library
from readinglist.samples import sample_paths
from readinglist.tui.app import ReadingListApp, create_app
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.paper_list import PaperList

OUT = Path(__file__).parent
SIZE = (120, 36)
#: What the header says the library is: the real one is a fresh temporary directory.
SHOWN_DATA_DIR = "~/.local/share/readinglist"
#: The morning the first sample digest is imported; later digests arrive on later days.
FIRST_IMPORT = datetime(2024, 3, 13, 8, 30, tzinfo=UTC)
#: Days after FIRST_IMPORT on which each of the five sample digests is imported. The first
#: two are dated (Mar 13, Mar 12); the three compact ones are known by their import day.
IMPORT_DAYS = (0, 0, 1, 2, 5)
CONFIG = """\
[presets]
1 = "merging"
2 = "ssm"
"""


class Clock:
    """Stands in for ``readinglist.model.now``/``today``; move it by setting ``at``."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> str:
        return self.at.isoformat(timespec="seconds")

    def today(self) -> str:
        return self.at.date().isoformat()


@contextmanager
def frozen_clock(at: datetime = FIRST_IMPORT) -> Iterator[Clock]:
    """Every ``now()``/``today()`` of readinglist reads ``Clock.at``, and local time is UTC.

    Every loaded readinglist module that imported the two functions by name is patched,
    so a module added later is covered too. UTC because the detail pane shows a compact
    digest by its local import day.
    """
    clock = Clock(at)
    real = {"now": model.now, "today": model.today}
    patched = [
        (module, name)
        for module_name, module in list(sys.modules.items())
        if module_name == "readinglist" or module_name.startswith("readinglist.")
        for name, function in real.items()
        if getattr(module, name, None) is function
    ]
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    for module, name in patched:
        setattr(module, name, getattr(clock, name))
    try:
        yield clock
    finally:
        for module, name in patched:
            setattr(module, name, real[name])
        if old_tz is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


def import_by_day(library: Library, clock: Clock, paths: Sequence[Path]) -> None:
    """Import ``paths`` (at most five) one by one, the i-th on day ``IMPORT_DAYS[i]``, as a
    reader would; the clock is left at the last import."""
    for path, day in zip(paths, IMPORT_DAYS[: len(paths)], strict=True):
        clock.at = FIRST_IMPORT + timedelta(days=day)
        report = library.import_files([path])
        assert report.ok, report


def app_for(data_dir: Path, config_dir: Path, export_dir: Path) -> ReadingListApp:
    """The app as the CLI makes it, with the header's data dir fixed."""
    app = create_app(data_dir, config_dir=config_dir, export_dir=export_dir)
    app.sub_title = SHOWN_DATA_DIR
    return app


async def ready(pilot: Pilot) -> None:
    """Wait until the library is loaded and searchable and the screen has settled (as the
    reader sees it after a pause)."""
    app = pilot.app
    assert isinstance(app, ReadingListApp)
    for _ in range(500):
        if app.searchable and app.library is not None:
            break
        await pilot.pause(0.02)
    assert app.searchable, "the library did not load"
    app.main.at_rest()  # as after a pause: notes are rendered Markdown
    await pilot.pause(0.1)


async def settled(pilot: Pilot) -> None:
    """Wait until the detail pane shows the paper under the cursor (it follows after a
    delay, longer while the reader types)."""
    app = pilot.app
    assert isinstance(app, ReadingListApp)
    for _ in range(100):
        if app.main.query_one(DetailPane)._pid == app.main.query_one(PaperList).highlighted:
            break
        await pilot.pause(0.02)
    await pilot.pause()


async def shoot(pilot: Pilot, name: str) -> None:
    await settled(pilot)
    await pilot.wait_for_scheduled_animations()
    pilot.app.clear_notifications()  # the toasts of the keys pressed would cover the list
    await pilot.pause()
    pilot.app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
    print(f"wrote {OUT / name}.svg")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, frozen_clock() as clock:
        data_dir, config_dir = Path(tmp) / "lib", Path(tmp) / "config"
        config_dir.mkdir()
        (config_dir / "config.toml").write_text(CONFIG, encoding="utf-8")
        library = Library(data_dir)
        import_by_day(library, clock, sample_paths())
        top = library.ordered()[0]
        library.set_note(
            top,
            "**Key claim:** weight matching does *not* shrink the L2 distance;\n"
            "it aligns singular vectors.\n\n- Compare with PLeaS\n- Try on our ViT checkpoints",
        )
        clock.at += timedelta(hours=1)
        app = app_for(data_dir, config_dir, Path(tmp))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            # A morning's triage: presets 1 and 2 keep for later with a tag, x skips, r
            # reads, z snoozes; each moves on to the next new paper.
            await pilot.press("1", "x", "2", "1", "x", "r", "z", "x")
            await shoot(pilot, "main")
            await pilot.press("slash", *"mamba tiem seires", "enter")
            await shoot(pilot, "filter")
            await pilot.press("slash", "escape", "g", "n")
            await pilot.pause(0.1)
            for area in app.screen.query(TextArea):
                area.cursor_blink = False  # the same picture on every run
            await shoot(pilot, "note")
            await pilot.press("escape", "question_mark")
            await shoot(pilot, "help")


if __name__ == "__main__":
    asyncio.run(main())
