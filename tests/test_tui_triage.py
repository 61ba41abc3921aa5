"""The daily inbox in the app, driven like a person: presets, snooze, views, inbox zero,
the pager, remapped keys. Every decision is checked again on disk."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from textual.widgets import Input

from readinglist.library import Library
from readinglist.tui.app import ReadingListApp, create_app
from readinglist.tui.inbox import Inbox
from readinglist.tui.screens.snooze import SnoozeScreen
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.paper_list import PaperList
from tests.tuihelpers import SIZE, ready, status


def app_with(library: Library, tmp_path: Path, config: str = "") -> ReadingListApp:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    (folder / "config.toml").write_text(config)
    return create_app(library.data_dir, config_dir=folder, export_dir=tmp_path)


def disk(app: ReadingListApp) -> Library:
    return Library(app.data_dir)


async def test_presets_tag_and_keep_for_later_in_one_undo_step(
    library: Library, tmp_path: Path
) -> None:
    app = app_with(library, tmp_path, '[presets]\n1 = "ssm"\n2 = "Diffusion Models"\n')
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first, second, third = app.query_one(PaperList).ids[:3]
        await pilot.press("1", "2", "3")
        state = disk(app).state
        assert (state(first).status, state(first).tags) == ("later", ("ssm",))
        assert (state(second).status, state(second).tags) == ("later", ("diffusion-models",))
        assert state(third).status == "new"  # no preset 3: a warning, nothing changed
        assert any("No preset 3" in n.message for n in app._notifications)
        await pilot.press("u")
        assert disk(app).state(second).status == "new" and disk(app).state(second).tags == ()


async def test_snooze_by_default_and_asking_for_days(library: Library, tmp_path: Path) -> None:
    app = app_with(library, tmp_path, "snooze_days = 3\n")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first, second = app.query_one(PaperList).ids[:2]
        await pilot.press("z")
        assert disk(app).state(first).snoozed_until == str(date.today() + timedelta(days=3))
        await pilot.press("Z")
        assert isinstance(app.screen, SnoozeScreen)
        app.screen.query_one(Input).value = ""
        await pilot.press(*"10", "enter")
        assert disk(app).state(second).snoozed_until == str(date.today() + timedelta(days=10))
        assert disk(app).state(second).current(str(date.today() + timedelta(days=10))) == "new"


async def test_inbox_and_all_views_and_inbox_zero(tmp_path: Path, digest_paths: list[Path]) -> None:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    ids = library.ordered()
    library.decide(ids[:-2], "skipped")
    app = app_with(library, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = app.query_one(PaperList)
        assert app.main.inbox.mode == "inbox" and list(papers.ids) == ids[-2:]
        assert "Inbox 0/2" in status(app)
        await pilot.press("s", "r")
        assert "Inbox zero: 1 later, 1 read" in status(app)
        assert any("Inbox zero" in n.message for n in app._notifications)
        assert list(papers.ids) == ids[-2:]  # decided papers stay listed until the inbox reopens
        await pilot.press("a")
        assert app.main.inbox.mode == "all" and len(papers.ids) == len(ids)
        await pilot.press("i")
        assert list(papers.ids) == []
    assert disk(app).counts(ids)["skipped"] == len(ids) - 2


async def test_a_resurfaced_paper_is_back_in_the_open_inbox(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    """A digest imported by another process while the app is open brings skipped papers
    back: the inbox gains them, marked ↻."""
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:4]).ok
    library.decide(library.ordered(), "skipped")
    app = app_with(library, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = app.query_one(PaperList)
        assert app.main.inbox.mode == "all"  # nothing new: the inbox is empty, so all is shown
        assert Library(app.data_dir).import_files(digest_paths[4:]).ok
        app._poll()
        for _ in range(200):
            if app.searchable and app.main.inbox.mode == "inbox":
                break
            await pilot.pause(0.02)
        assert app.main.inbox.mode == "inbox"
        back = [pid for pid in papers.ids if disk(app).state(pid).resurfaced]
        assert back and all(disk(app).state(pid).status == "new" for pid in back)
        row = papers.render_line(papers.ids.index(back[0]) - papers.scroll_offset.y).text
        assert "↻" in row
        # Asked for the whole library, the reader stays there when more papers arrive.
        await pilot.press("a")
        assert app.main.inbox.mode == "all"
        digest = tmp_path / "more.txt"
        digest.write_text("Apr 2\n\nA Paper Nobody Has Seen\n\nIt is new.\n")
        assert Library(app.data_dir).import_files([digest]).ok
        app._poll()
        for _ in range(200):
            if app.searchable and len(papers.ids) == 752:
                break
            await pilot.pause(0.02)
        assert app.main.inbox.mode == "all" and len(papers.ids) == 752


async def test_space_pages_the_paper_then_moves_on(library: Library, tmp_path: Path) -> None:
    app = app_with(library, tmp_path)
    async with app.run_test(size=(120, 14)) as pilot:  # short: every abstract needs paging
        await ready(pilot)
        papers, detail = app.query_one(PaperList), app.query_one(DetailPane)
        first = papers.highlighted
        await pilot.pause(0.1)
        assert detail.max_scroll_y > 0
        await pilot.press("J")
        assert detail.scroll_y == 1
        await pilot.press("K")
        assert detail.scroll_y == 0
        for _ in range(50):
            if papers.highlighted != first:
                break
            await pilot.press("space")
        assert papers.highlighted == papers.ids[1]
        assert disk(app).state(first).status == "new"  # paging never decides


async def test_keys_are_remapped_from_the_config_and_views_are_offered(
    library: Library, tmp_path: Path
) -> None:
    config = '[keys]\nskip = "d"\n\n[views]\nrecurring = "seen:>=3"\n'
    app = app_with(library, tmp_path, config)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = app.query_one(PaperList).highlighted
        await pilot.press("d")
        assert first is not None and disk(app).state(first).status == "skipped"
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "View: recurring" in commands
        app.main.show_view("seen:>=3")
        await pilot.pause()
        assert len(app.query_one(PaperList).ids) == 7


async def test_a_bad_config_is_one_line_and_the_defaults_apply(
    library: Library, tmp_path: Path
) -> None:
    app = app_with(library, tmp_path, "[keys]\nskip = 5\n")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        messages = [n.message for n in app._notifications]
        assert any("config.toml:2: skip: a key is a name" in m for m in messages), messages
        first = app.query_one(PaperList).highlighted
        await pilot.press("x")
        assert first is not None and disk(app).state(first).status == "skipped"


def test_progress_over_a_filtered_view_counts_as_over_a_set_of_its_ids(
    tmp_path: Path, digest_paths: list[Path]
) -> None:
    """The progress base is the query's result itself (no set of up to 100k ids per key);
    it counts what a set of the shown ids would: in the inbox every paper shown, in the
    whole library those of them new when the view opened."""
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:1]).ok
    ids = library.ordered()
    library.decide(ids[:5], "skipped")
    inbox = Inbox()
    inbox.start(library.view())
    for mode in ("inbox", "all"):
        for text in ("", "model", "-model", "is:new"):
            view = library.view()
            inbox.choose(mode, view)
            shown = view.find(text, inbox.among)
            inbox.rebase(view, shown)
            base = {p for p in shown if mode == "inbox" or view.state(p).current() == "new"}
            library.decide([p for p in shown if p in base][:2], "later")
            library.decide(ids[5:6], "read")  # shown or not, in the base or not
            done = inbox.progress(library.view())
            later = library.view()
            assert done.base == len(base)
            assert done.counts == later.counts(base)
            assert done.decided == sum(later.state(p).current() != "new" for p in base)
