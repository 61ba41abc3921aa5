"""The TUI driven like a person with the Pilot, on a real library in a temp dir.

Every change is checked again by re-opening the library from disk.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import gc
import os
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual import events
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Static

from readinglist import catalogfile, model
from readinglist.library import Library
from readinglist.storage import CATALOG_FILE, MERGED_FILE
from readinglist.tui.app import ReadingListApp, create_app
from readinglist.tui.keys import key_help
from readinglist.tui.screens.help import HelpScreen
from readinglist.tui.screens.main import LOADING_SHOWN_AFTER
from readinglist.tui.screens.note import NoteScreen
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.footer import KeysFooter
from readinglist.tui.widgets.paper_list import PaperList
from readinglist.tui.widgets.title_bar import TitleBar
from tests.test_lock import hold, release
from tests.tuihelpers import SIZE, ready, screen_lines, status

TOP = "Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching"


@pytest.fixture
def app(library: Library, tmp_path: Path) -> ReadingListApp:
    return create_app(library.data_dir, config_dir=tmp_path / "config", export_dir=tmp_path)


def papers_of(app: ReadingListApp) -> PaperList:
    return app.query_one(PaperList)


def progress_shown(app: ReadingListApp) -> bool:
    return any(bar.display for bar in app.query("#progress"))


def on_disk(app: ReadingListApp) -> Library:
    return Library(app.data_dir)


async def test_first_row_is_the_most_recurring_paper(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        assert app.library is not None
        first = app.library.papers[papers.ids[0]]
        assert (first.title, first.seen) == (TOP, 4)
        assert len(papers.ids) == 751
        assert app.main.inbox.mode == "inbox"  # it opens on the inbox: every paper is new
        assert status(app).startswith("Inbox 0/751 · 751 papers")


async def test_the_list_shows_it_is_loading_only_when_opening_takes_a_while(
    app: ReadingListApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quick open draws the rows without an indicator flickering first (nor over them once
    they are drawn); a slow one shows one, and the status line says what is going on."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause(LOADING_SHOWN_AFTER + 0.2)
        assert not papers_of(app).loading and not progress_shown(app)

    slow = create_app(app.data_dir, config_dir=app.settings.path.parent, export_dir=app.export_dir)
    opening = ReadingListApp.open_library
    monkeypatch.setattr(ReadingListApp, "open_library", lambda self: None)  # not yet
    async with slow.run_test(size=SIZE) as pilot:
        await pilot.pause(LOADING_SHOWN_AFTER / 2)
        assert not papers_of(slow).loading and status(slow) == "Opening the library…"
        await pilot.pause(LOADING_SHOWN_AFTER)
        assert papers_of(slow).loading and progress_shown(slow)
        opening(slow)
        await ready(pilot)
        assert not papers_of(slow).loading and not progress_shown(slow)
        assert len(papers_of(slow).ids) == 751


async def test_decisions_save_the_merge_at_the_pause_and_at_quit(app: ReadingListApp) -> None:
    """journals.cache is saved when the reader pauses (and at quit), not on every key:
    what was decided is in the journal at once either way."""
    path = app.data_dir / MERGED_FILE
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = path.read_bytes()
        first = papers_of(app).ids[0]
        await pilot.press("r")
        assert path.read_bytes() == before  # the merge waits
        assert on_disk(app).state(first).read  # in the journal (this open saves a merge)
        before = path.read_bytes()
        app.last_input = 0.0
        app._when_idle()
        paused = path.read_bytes()
        assert paused != before
        second = papers_of(app).highlighted
        await pilot.press("r")
        assert path.read_bytes() == paused
    assert path.read_bytes() != paused  # saved at quit
    restored = on_disk(app)
    assert second and restored.state(second).read and restored.state(first).read


def footer_line(app: ReadingListApp) -> str:
    return screen_lines(app)[-1]


async def test_the_footer_shows_the_keys_that_apply_and_runs_a_clicked_one(
    app: ReadingListApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        footer = app.query_one(KeysFooter)
        line = footer_line(app)
        assert line.startswith(" x Skip  s Later  r Read ") and line.endswith("▏^p palette ")
        shown = footer._shown
        app.screen.refresh_bindings()
        await pilot.pause()
        assert footer._shown is shown  # nothing changed: not redrawn

        def later_key() -> Style:
            part = next(s for s in footer.render_line(0) if s.text == " s ")
            assert part.style is not None
            return part.style

        before = later_key()
        await pilot.hover(KeysFooter, offset=(line.index("Later"), 0))
        await pilot.pause()
        assert footer.tooltip == "keep for later" and footer.styles.pointer == "pointer"
        hovered = later_key()  # the key's colour on the hover background
        assert hovered.color == before.color and hovered.bgcolor != before.bgcolor
        first = papers_of(app).highlighted
        assert first is not None
        await pilot.click(KeysFooter, offset=(line.index("Read"), 0))
        await pilot.pause()
        assert on_disk(app).state(first).read
        await pilot.press("slash")  # the filter has the focus: the list's keys are gone
        await pilot.pause()
        assert "Later" not in footer_line(app)
        assert footer_line(app).endswith("▏^p palette ")


async def test_keys_that_do_not_fit_the_footer_scroll_and_a_cut_key_still_runs(
    app: ReadingListApp,
) -> None:
    async with app.run_test(size=(45, 16)) as pilot:
        await ready(pilot)
        footer = app.query_one(KeysFooter)
        line, first = footer_line(app), papers_of(app).highlighted
        assert line == " x Skip  s Later  r Read  z Snooz▏^p palette " and first is not None
        await pilot.click(KeysFooter, offset=(line.index("Snooz"), 0))  # cut, yet it runs
        await pilot.pause()
        assert "Inbox 1/751" in status(app) and on_disk(app).state(first).status == "snoozed"

        async def scroll(event: type[events.MouseScrollDown | events.MouseScrollUp]) -> None:
            footer.post_message(event(footer, 2, 0, 0, 0, 0, False, False, False))
            await pilot.pause()

        for _ in range(3):  # a key at a time
            await scroll(events.MouseScrollDown)
        assert footer_line(app).startswith(" z Snooze  i Inbox  a All")
        for _ in range(20):  # no further than the last key
            await scroll(events.MouseScrollDown)
        assert footer_line(app).endswith("? Help  q Quit ▏^p palette ")
        for _ in range(10):  # back, a key at a time
            await scroll(events.MouseScrollUp)
            if footer_line(app).startswith(" a All  / Filter"):
                break
        assert footer_line(app).startswith(" a All  / Filter")
        await pilot.click(KeysFooter, offset=(2, 0))  # the key now first: All
        await pilot.pause()
        assert app.main.inbox.mode == "all"


async def test_notes_become_markdown_once_the_reader_pauses(
    library: Library, app: ReadingListApp
) -> None:
    """Markdown (~60 ms to import) waits for a pause, so it delays no first screen."""
    library.set_note(library.ordered()[0], "**Idea**\n\n- compare with DSS")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause(0.1)
        detail = app.query_one(DetailPane)
        assert not detail.markdown  # the first note reads as written meanwhile
        assert "- compare with DSS" in "\n".join(screen_lines(app))
        app.last_input = time.monotonic()  # typing: nothing is done
        app._when_idle()
        assert not detail.markdown
        app.last_input = 0.0
        app._when_idle()
        await pilot.pause()
        await pilot.pause()
        assert detail.markdown and "• compare with DSS" in "\n".join(screen_lines(app))


async def test_first_letters_are_looked_up_at_once_and_filters_at_the_pause(
    app: ReadingListApp,
) -> None:
    """The commonest one-letter lookups are made as soon as the index is built, waiting
    while the reader types; what the filters read of every paper, once the reader pauses."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.view is not None
        engine = app.view.search_engine()
        for _ in range(100):
            if {"m", "s", "t"} <= engine._titles._kept.keys():
                break
            await pilot.pause(0.02)
        assert {"m", "s", "t"} <= engine._titles._kept.keys()
        assert engine._seen is None and engine._digests is None  # not before the pause
        app.last_input = 0.0
        app._when_idle()
        for _ in range(100):
            if engine._seen is not None:
                break
            await pilot.pause(0.02)
        assert engine._seen is not None and engine._digests is not None  # seen:, digest:
        await pilot.press("slash", "m")
        assert "filter: m" in status(app)
        expected = Library(app.data_dir).query("m")
        assert list(papers_of(app).ids) == [pid for pid in expected if pid in app.main.inbox.papers]
        await pilot.press(*" seen:2 digest:mar")
        expected = Library(app.data_dir).query("m seen:2 digest:mar")
        assert expected and list(papers_of(app).ids) == expected  # every paper is in the inbox


async def test_first_letters_wait_while_the_reader_types(app: ReadingListApp) -> None:
    """Typing as the index is built: the lookups made so far are handed over, the rest
    wait until the reader stops typing."""
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            if app.searchable:
                break
            app.last_key = time.monotonic()  # typing all along
            await pilot.pause(0.01)
        assert app.view is not None
        engine = app.view.search_engine()
        for _ in range(20):
            app.last_key = time.monotonic()
            await pilot.pause(0.02)
        typed = len(engine._titles._kept)
        assert typed < 5  # one letter (or a few, before the typing was seen), not all
        for _ in range(100):
            if len(engine._titles._kept) > 10:
                break
            await pilot.pause(0.05)
        assert {"m", "s", "t"} <= engine._titles._kept.keys()


@pytest.mark.parametrize("ticks", range(4))
async def test_quitting_as_a_note_is_being_shown_is_no_crash(
    library: Library, app: ReadingListApp, ticks: int
) -> None:
    """The note's widget is mounted by a callback: quitting before it runs once raised
    MountError, and the app said it had crashed."""
    ids = library.ordered()
    library.set_note(ids[1], "**Idea**\n\n- compare")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        detail = app.query_one(DetailPane)
        detail.enable_markdown()
        detail.show(app.view, ids[1])
        for _ in range(ticks):
            await asyncio.sleep(0)
        app.exit()
    assert app.return_code in (None, 0) and app.crash_line is None


@pytest.mark.parametrize(("env", "fps"), [({}, "120"), ({"TEXTUAL_FPS": "30"}, "30")])
def test_the_app_repaints_at_120_fps_unless_the_reader_says(env: dict[str, str], fps: str) -> None:
    """A filter key waits for Textual's next frame: at 60 fps up to 16.7 ms of it."""
    code = "import readinglist.tui.app, textual.constants as c; print(c.MAX_FPS)"
    base = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=base | env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == fps


async def test_filter_narrows_live_and_keys_leave_it(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        assert app.focused is app.query_one("#filter", Input)
        await pilot.press(*"mamba")
        papers = papers_of(app)
        assert app.library is not None
        titles = [app.library.papers[pid].title for pid in papers.ids]
        assert 0 < len(titles) < 751
        assert all("mamba" in t.lower() for t in titles)
        assert "filter: mamba" in status(app)
        await pilot.press("enter")
        assert app.focused is papers and len(papers.ids) == len(titles)
        await pilot.press("slash", "escape")
        assert app.query_one("#filter", Input).value == ""
        assert len(papers.ids) == 751 and app.focused is papers


async def test_a_filter_key_is_drawn_in_one_screen_update(app: ReadingListApp) -> None:
    """The new rows are in the screen update that draws the typed letter, not one after
    (which drew the filter input alone, and left the old rows on screen for a frame)."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        await pilot.pause()
        papers = papers_of(app)
        updates: list[bool] = []  # per screen update: whether it drew rows of the list
        drawn = False
        display, render_line = app._display, papers.render_line

        def spy_display(screen: Any, renderable: Any) -> None:
            nonlocal drawn
            updates.append(drawn)
            drawn = False
            display(screen, renderable)

        def spy_render_line(y: int) -> Any:
            nonlocal drawn
            drawn = True
            return render_line(y)

        app._display = spy_display  # type: ignore[method-assign]
        papers.render_line = spy_render_line  # type: ignore[method-assign]
        before = list(papers.ids)
        await pilot.press("m")
        await pilot.pause()
        assert list(papers.ids) != before
        assert updates and updates[0], updates


async def test_rows_on_screen_follow_each_filter_key(app: ReadingListApp) -> None:
    """A key redraws only the rows that show another paper (and the cursor's): whatever
    was kept must be what the new answer has there, key after key, typed and erased."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        assert app.view is not None
        await pilot.press("slash")
        for key in [*"mamba t", *["backspace"] * 7, *"diff", *["backspace"] * 2, *"vi"]:
            await pilot.press(key)
            region = papers.region
            lines = [line[region.x : region.right] for line in screen_lines(app)]
            lines = lines[region.y : region.bottom]
            top = papers.scroll_offset.y
            shown = papers.ids[top : top + len(lines)]
            assert len(lines) >= len(shown)
            for line, pid in zip(lines, shown, strict=False):
                assert app.view.papers[pid].title[:20] in line, (key, line)
            assert all(not line.strip(" ▕") for line in lines[len(shown) :]), key


async def test_rows_follow_a_snooze_that_runs_out_at_midnight(
    app: ReadingListApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter key after midnight that keeps the first rows' papers still redraws them: a
    snooze that ran out shows the paper new again, as the status line counts it."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        await pilot.press("a", "slash", "m")  # the whole library, filtered
        snoozed = papers.ids[2]
        assert app.library is not None
        app.library.snooze([snoozed], 1)
        app.adopt(app.library.view())
        app.main.refresh_view(keep=papers.ids[0])
        await pilot.pause()
        row = papers.ids.index(snoozed) - papers.scroll_offset.y
        region = papers.region

        def mark() -> str:
            return screen_lines(app)[region.y + row][region.x : region.right].split()[1]

        assert mark() == "z"

        class Tomorrow(dt.date):
            @classmethod
            def today(cls) -> dt.date:
                return dt.date.today() + dt.timedelta(days=1)

        monkeypatch.setattr(model, "date", Tomorrow)
        await pilot.press("space")  # the same first rows: the query is still "m "
        assert papers.ids.index(snoozed) - papers.scroll_offset.y == row
        assert mark() == "●"


async def test_what_a_key_made_is_spared_from_collections_until_the_pause(
    app: ReadingListApp,
) -> None:
    """Frozen out of the collector's reach while typing, back in and collected at the
    pause, and never left frozen once the app is gone."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app._when_idle()  # whatever the start left, as after a first pause
        await pilot.press("slash", "m")
        assert gc.get_freeze_count() > 0
        app.last_input = 0.0
        app._when_idle()
        assert gc.get_freeze_count() == 0
        await pilot.press("a")
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_keys_typed_ahead_after_slash_go_to_the_filter(app: ReadingListApp) -> None:
    """Typed fast (all keys queued before the app handles ``/``), the query's letters must
    not reach the list, where ``r``, ``s`` and ``l`` decide papers."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        keys = [("slash", "/"), *((c, c) for c in "rsl")]
        for key, character in keys:
            app.post_message(events.Key(key, character))
        await pilot.pause()
        await pilot.pause()
        assert app.query_one("#filter", Input).value == "rsl"
        await pilot.press("slash")  # in the filter, the filter key is text
        assert app.query_one("#filter", Input).value == "rsl/"
        assert app.library is not None and app.library.stats().read == 0
        assert dict(on_disk(app).stateful()) == {}


async def test_a_burst_of_filter_keys_shows_the_last_query(app: ReadingListApp) -> None:
    """Keys queued together (a paste, fast typing): the queries the input has already
    moved past may be skipped, but the rows, the status and the detail are the last one's."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        for character in "mamba ti":
            app.post_message(events.Key(character if character != " " else "space", character))
        for _ in range(3):
            await pilot.pause()
        assert app.view is not None and app.query_one("#filter", Input).value == "mamba ti"
        papers = papers_of(app)
        assert len(papers.ids) > 0 and list(papers.ids) == list(app.view.find("mamba ti", None))
        assert "filter: mamba ti" in status(app) and f"{len(papers.ids)} shown" in status(app)
        await pilot.press("backspace")
        assert list(papers.ids) == list(app.view.find("mamba t", None))


async def post_burst(pilot: Pilot[int], keys: list[str]) -> None:
    """Keys that arrive together, none handled before the next is queued."""
    for key in keys:
        character = " " if key == "space" else key if len(key) == 1 else None
        pilot.app.post_message(events.Key(key, character))
    for _ in range(3):
        await pilot.pause()


#: ``mamx⌫ba``, then ←← Delete Home ``x``: ``xmama`` when each key acts in turn.
BURST = [*"mamx", "backspace", *"ba", "left", "left", "delete", "home", "x"]


async def test_editing_keys_in_a_burst_keep_their_order(app: ReadingListApp) -> None:
    """Keys that arrive together (a fast typist, a busy UI thread): Textual runs a text
    widget's bound keys only once they bubble up to the app, after the characters typed
    behind them (Textual issue #6605): the filter, the tag field and the note editor."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = papers_of(app).ids[0]
        await pilot.press("slash")
        await post_burst(pilot, BURST)
        assert app.query_one("#filter", Input).value == "xmama"
        await pilot.press("escape", "t")
        await post_burst(pilot, BURST)
        assert app.screen.query_one("#tag-input", Input).value == "xmama"
        await pilot.press("escape", "n")
        assert isinstance(app.screen, NoteScreen)
        await post_burst(pilot, BURST)
        await pilot.press("escape")
        assert on_disk(app).state(first).note == "xmama"
        # → takes the suggestion for what was typed just before it, in the same burst.
        await pilot.press("t", *"transformers", "enter", "j", "t")
        await post_burst(pilot, ["t", "r", "right"])
        assert app.screen.query_one("#tag-input", Input).value == "transformers"
        # So does Tab, the dialog's completion, with what follows it in the same burst.
        await pilot.press("escape", "t")
        await post_burst(pilot, ["t", "r", "tab", "space", "x"])
        assert app.screen.query_one("#tag-input", Input).value == "transformers x"


async def test_each_decision_is_one_key_and_moves_on(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        first, second, third, fourth, fifth, sixth = papers.ids[:6]
        app.library.decide([third], "read")  # type: ignore[union-attr]
        await pilot.press("r", "x", "s", "z")  # third is already decided: skipped over
        disk = on_disk(app)
        assert [disk.state(p).status for p in (first, second, fourth, fifth)] == [
            "read",
            "skipped",
            "later",
            "snoozed",
        ]
        assert disk.state(fifth).snoozed_until is not None
        assert papers.highlighted == sixth
        assert "Inbox 5/751" in status(app)  # third too: it was new when the inbox opened
        # u takes the last decision back and returns to its paper.
        await pilot.press("u")
        assert on_disk(app).state(fifth).status == "new" and papers.highlighted == fifth
        # The same key again on a decided paper puts it back in the inbox; the cursor stays.
        papers.move_to(second)
        await pilot.press("x")
        assert on_disk(app).state(second).status == "new" and papers.highlighted == second
        assert "Inbox 3/751" in status(app)


async def test_tag_note_select_and_undo(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        first, second = papers.ids[:2]

        await pilot.press("t", *"lmc", "enter")
        assert on_disk(app).state(first).tags == ("lmc",)

        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"Weight matching", "escape")  # Escape saves too
        assert on_disk(app).state(first).note == "Weight matching"
        await pilot.press("n", "enter", *"- more", "ctrl+s")
        assert on_disk(app).state(first).note == "Weight matching\n- more"

        await pilot.press("v", "v")  # select the first two rows (v moves down)
        assert papers.selected == {first, second}
        await pilot.press("r")
        disk = on_disk(app)
        assert disk.state(first).read and disk.state(second).read
        assert not papers.selected  # a decision on a selection clears it
        await pilot.press("u")
        disk = on_disk(app)
        assert disk.state(first).status == disk.state(second).status == "new"
        assert disk.state(first).note == "Weight matching\n- more"
        await pilot.press("u")
        assert on_disk(app).state(first).note == "Weight matching"
        await pilot.press("U")
        assert on_disk(app).state(first).note == "Weight matching\n- more"


async def test_select_all_visible_and_hide_read(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        await pilot.press("slash", *"seen:>=3", "enter")
        recurring = list(papers.ids)
        assert len(recurring) == 7
        await pilot.press("asterisk", "r", "escape")
        disk = on_disk(app)
        assert all(disk.state(pid).read for pid in recurring)
        await pilot.press("slash", "escape", "h")
        assert len(papers.ids) == 751 - 7 and not set(recurring) & set(papers.ids)
        assert "read hidden" in status(app)


async def test_quitting_loses_nothing(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = papers_of(app).ids[0]
        await pilot.press("n", *"draft", "escape", "r", "q")
    disk = on_disk(app)
    assert disk.state(first).note == "draft" and disk.state(first).read


async def test_write_failure_shows_an_error_and_matches_disk(
    app: ReadingListApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = papers_of(app).ids[0]

        def full(fd: int, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "write", full)
        await pilot.press("r")
        monkeypatch.undo()
        assert app.library is not None and not app.library.state(first).read
        assert not on_disk(app).state(first).read
        messages = [n.message for n in app._notifications]
        assert any("No space left on device" in m for m in messages)
        assert "Inbox 0/751" in status(app)


async def test_changes_from_another_process_show_up(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = papers_of(app).ids[0]
        Library(app.data_dir).tag([first], add=["from-cli"])
        app._poll()  # re-read in a worker, as another device's changes are
        await ready(pilot)
        assert app.library is not None and app.library.state(first).tags == ("from-cli",)
        assert app.view is not None and app.view.state(first).tags == ("from-cli",)
        # And our next change does not undo theirs.
        await pilot.press("r")
        disk = on_disk(app)
        assert disk.state(first).tags == ("from-cli",) and disk.state(first).read


def started_without_gc(app: ReadingListApp) -> ReadingListApp:
    """The app made as ``readinglist.__main__`` makes it: with the collector off."""
    gc.disable()
    return create_app(app.data_dir, config_dir=app.settings.path.parent, export_dir=app.export_dir)


async def test_an_app_started_with_the_collector_off_turns_it_on_once_its_rows_are_drawn(
    app: ReadingListApp,
) -> None:
    try:
        app = started_without_gc(app)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert papers_of(app).ids and gc.isenabled()
    finally:
        gc.enable()


async def test_the_title_bar_names_the_library_and_its_icon_opens_the_palette(
    app: ReadingListApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        top = screen_lines(app)[0]
        assert top.startswith(" ⭘ ") and f"readinglist — {app.data_dir}" in top
        await pilot.click(TitleBar, offset=(60, 0))  # elsewhere: taller, as Textual's header
        await pilot.pause()
        assert app.query_one(TitleBar).size.height == 3
        await pilot.click(TitleBar, offset=(2, 1))
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)


async def test_the_progress_bar_is_mounted_the_first_time_it_is_needed(
    app: ReadingListApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not app.query("#progress")  # a quick open never shows it
        app.main.busy("Importing…", total=5)
        app.main.progress(2, 5)
        await pilot.pause()
        bar = app.query_one("#progress", ProgressBar)
        assert bar.display and (bar.total, bar.progress) == (5, 2)
        assert "Importing…" in screen_lines(app)[-2] and "40%" in screen_lines(app)[-2]
        app.main.busy("Fetching…")  # the same bar, pulsing
        await pilot.pause()
        assert list(app.query("#progress")) == [bar] and bar.total is None
        app.main.hide_progress()
        await pilot.pause()
        assert not progress_shown(app)


async def test_empty_library_welcome_and_sample_loading(tmp_path: Path) -> None:
    app = create_app(tmp_path / "empty", config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.query_one("#body").current == "welcome"  # type: ignore[attr-defined]
        await pilot.press("l")
        for _ in range(200):
            if len(papers_of(app).ids) == 751:
                break
            await pilot.pause(0.02)
        assert len(papers_of(app).ids) == 751
        assert app.query_one("#body").current == "main"  # type: ignore[attr-defined]
    assert len(Library(tmp_path / "empty").papers) == 751


async def test_corrupt_library_is_reported_not_touched(tmp_path: Path) -> None:
    data_dir = tmp_path / "lib"
    data_dir.mkdir()
    (data_dir / "state.json").write_bytes(b"{broken")
    app = create_app(data_dir, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(100):
            if app.query_one("#body").current == "failure":  # type: ignore[attr-defined]
                break
            await pilot.pause(0.02)
        shown = str(app.query_one("#failure", Static).render())
        assert (
            "could not be opened" in shown and "state.json" in shown and "not valid JSON" in shown
        )
        await pilot.press("r")  # no library: actions are disabled, nothing happens
        app.main.library_failed("state.json: read again, and damaged another way")
        await pilot.pause()
        assert "damaged another way" in str(app.query_one("#failure", Static).render())
    assert (data_dir / "state.json").read_bytes() == b"{broken"


async def test_an_unexpected_error_opening_the_library_is_one_line_and_the_gc_comes_back(
    app: ReadingListApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in opening")

    monkeypatch.setattr(Library, "view", broken)
    try:
        app = started_without_gc(app)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(100):
                if app.query("#failure"):
                    break
                await pilot.pause(0.02)
            await pilot.pause()
            shown = str(app.query_one("#failure", Static).render())
            assert "a background job (open_library) failed" in shown and gc.isenabled()
    finally:
        gc.enable()


async def test_help_lists_every_key_and_theme_is_remembered(
    app: ReadingListApp, tmp_path: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = " ".join(key for key, _ in key_help())
        for key in (
            "/",
            "space",
            "x",
            "s",
            "r",
            "z",
            "Z",
            "i",
            "a",
            "J",
            "K",
            "n",
            "t",
            "T",
            "o",
            "O",
            "v",
            "*",
            "u",
            "U",
            "h",
            "e",
            "?",
            "q",
        ):
            assert key in keys.split() or key in keys
        await pilot.press("escape")
        app.theme = "nord"
        await pilot.pause()
    again = create_app(app.data_dir, config_dir=tmp_path / "config")
    assert again.theme == "nord"


async def test_export_writes_notes_of_the_view(app: ReadingListApp, tmp_path: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n", *"Export me", "escape", "e")
        (exported,) = tmp_path.glob("readinglist-notes-*.md")
        text = exported.read_text()
        assert f"## {TOP}" in text and "Export me" in text


async def test_note_being_typed_survives_a_crash(app: ReadingListApp) -> None:
    """The editor autosaves a draft; a killed app offers it again next time."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = papers_of(app).ids[0]
        await pilot.press("n", *"half a thought")
        assert isinstance(app.screen, NoteScreen)
        app.screen._autosave()  # what the 2-second timer does
    # The app was torn down without the editor being closed: no note, but a draft.
    assert on_disk(app).state(first).note == ""
    assert on_disk(app).drafts.get(first) == "half a thought"
    again = create_app(app.data_dir, config_dir=app.settings.path.parent)
    async with again.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n", "escape")
    assert on_disk(again).state(first).note == "half a thought"
    assert on_disk(again).drafts.get(first) is None


async def test_digests_imported_elsewhere_are_reloaded_in_the_background(
    app: ReadingListApp, tmp_path: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        digest = tmp_path / "new.txt"
        digest.write_text("A Brand New Paper on Mamba\nWe study new things at length here.\n")
        assert Library(app.data_dir).import_files([digest]).ok
        app._poll()
        assert not app.searchable  # reloading in a worker; actions wait for it
        await ready(pilot)
        assert len(papers_of(app).ids) == 752
        await pilot.press("slash", *"brand new", "enter")
        assert app.library is not None
        top = papers_of(app).ids[0]
        assert app.library.papers[top].title == "A Brand New Paper on Mamba"


async def test_a_reload_frees_the_old_index_with_its_looked_up_first_keys(
    app: ReadingListApp, tmp_path: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.view is not None
        old = weakref.ref(app.view.search_engine())
        app.last_input = 0.0
        app._when_idle()  # the first keys are looked up for this index
        await app.workers.wait_for_complete()
        await pilot.pause()
        (digest := tmp_path / "new.txt").write_text("A Brand New Paper\nIts abstract here.\n")
        assert Library(app.data_dir).import_files([digest]).ok
        app._poll()
        await ready(pilot)
        await app.workers.wait_for_complete()
        gc.collect()
        assert old() is None
        app.last_input = 0.0
        app._when_idle()  # and again for the new one
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.view is not None and app.view.search_engine()._titles._kept


async def test_unknown_filter_is_shown_not_swallowed(app: ReadingListApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash", *"mamba foo:")  # "foo:" alone is still a word
        shown = list(papers_of(app).ids)
        await pilot.press(*"bar")
        assert "unknown filter 'foo:'" in status(app)
        assert list(papers_of(app).ids) == shown  # the last good result stays


def test_an_unknown_remembered_theme_falls_back(tmp_path: Path, library: Library) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tui.json").write_text('{"theme": "no-such-theme"}')
    app = create_app(library.data_dir, config_dir=tmp_path / "config")
    assert app.theme == "textual-dark"


async def test_triage_keys_are_enabled_once_the_library_is_open(tmp_path: Path) -> None:
    app = create_app(tmp_path / "lib", config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        bindings = app.active_bindings
        assert bindings["l"].enabled  # empty library: loading the samples is offered
        assert bindings["q"].enabled and bindings["question_mark"].enabled
        await pilot.press("l")
        for _ in range(200):
            if app.library and app.library.papers and app.active_bindings["r"].enabled:
                break
            await pilot.pause(0.02)
        bindings = app.active_bindings
        assert bindings["r"].enabled
        assert "l" not in bindings or not bindings["l"].enabled  # hidden once there are papers


async def test_a_stalled_writer_never_freezes_the_app(app: ReadingListApp) -> None:
    """Another process holds the lock: keys still answer, the status line says whom the
    change waits for, and the change is saved, in order, once the lock is free."""
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = papers_of(app)
        first, second = papers.ids[:2]
        child = hold(app.data_dir, "mark")
        try:
            await pilot.press("r")  # queued behind the other writer
            await pilot.press("j")  # the UI still moves
            await pilot.press("r")
            await pilot.pause(0.3)
            assert f"Waiting for readinglist, pid {child.pid} (mark, since" in status(app)
            assert papers.highlighted == second
            assert not on_disk(app).state(first).read
        finally:
            release(child)
        for _ in range(200):
            if not app.main._pending:
                break
            await pilot.pause(0.02)
        assert not app.main._pending
    library = on_disk(app)
    assert library.state(first).read and library.state(second).read


async def test_the_app_saves_a_catalog_with_imports_since_its_base_folded(
    library: Library, tmp_path: Path
) -> None:
    """An import by a command appends its delta to catalog.bin; the app, once searchable
    and the reader pauses, saves the catalog it read whole as a new base, so later starts
    replay nothing."""
    (digest := tmp_path / "more.txt").write_text("A Paper Only Here\nIts abstract.\n")
    assert Library(library.data_dir).import_files([digest]).ok
    path = library.data_dir / CATALOG_FILE
    saved = catalogfile.load(path, library.data_dir)
    assert saved is not None and saved.deltas == 1
    app = create_app(library.data_dir, config_dir=tmp_path / "config", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.last_input = 0.0
        app._when_idle()
        await app.workers.wait_for_complete()
        folded = catalogfile.load(path, library.data_dir)
        assert folded is not None and folded.deltas == 0
        assert folded.catalog.imports == saved.catalog.imports
        assert len(papers_of(app).ids) == 752
