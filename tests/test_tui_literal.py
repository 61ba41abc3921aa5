"""Data is text, never markup: whatever a title, abstract, note or file name holds, the app
shows it literally and keeps running.

Rendering is checked at the widgets (a list row, the detail pane's title and abstract, the
note editor's title) against ``safetext``'s rendering of the same string.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.widgets import ContentSwitcher, Label, Static

from readinglist.library import Library
from readinglist.safetext import printable, printable_line
from readinglist.tui.app import create_app
from readinglist.tui.crash import ENV_STATE_DIR
from readinglist.tui.screens.main import MainScreen
from readinglist.tui.screens.note import NoteScreen
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.paper_list import PaperList
from tests.tuihelpers import SIZE, FakeView, ready

#: What LLM papers and hostile files really contain: markup look-alikes and controls.
HOSTILE = [
    "[/INST]",
    "[INST] Do it [/INST]",
    "[@click=app.quit]quit[/]",
    "[@click=app.screenshot('/tmp/x')]shot",
    "[Lee et al] [KCYM] [HOSPITAL] back\\slash \\[",
    "[b]bold[/b] [red]x[/] [link=https://evil]y[/link]",
    "\x1b]0;PWNED\x07 \x1b[2J \x1b]52;c;ZXZpbA==\x07",
    "\u202eevil\u202c zero\u200bwidth \x9b31m",
]
TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
    st.text(alphabet="[]/@=\\.'\"()$ab \x1b\x07\x9b", min_size=1, max_size=40),
)


def hostile_digest(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """A spaced-layout digest holding exactly these (title, abstract) pairs."""
    body = "\n\n".join(f"{title}\n\n{abstract}" for title, abstract in pairs)
    path.write_text(f"Mar 13\n\n{body}\n", encoding="utf-8")
    return path


def library_with(tmp_path: Path, pairs: list[tuple[str, str]]) -> Library:
    library = Library(tmp_path / "lib")
    report = library.import_files([hostile_digest(tmp_path / "hostile.txt", pairs)])
    assert report.ok, report.files[0].describe()
    return library


def plain(widget: Static) -> str:
    return widget.visual.plain  # type: ignore[attr-defined, no-any-return]


async def test_hostile_digest_opens_and_shows_text_literally(tmp_path: Path) -> None:
    pairs = [
        (f"Paper {n} {text}".strip(), f"An abstract. {text} Ends here {n}.")
        for n, text in enumerate(HOSTILE)
    ]
    library = library_with(tmp_path, pairs)
    notes = "\n".join(HOSTILE) + "\n\n[click me](app.quit) <b>x</b> [/x]\n\n```\nopen fence"
    library.set_note(library.ordered()[0], notes)
    app = create_app(library.data_dir, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        papers = app.query_one(PaperList)
        stored = {library.papers[pid].title: library.papers[pid] for pid in papers.ids}
        assert len(stored) == len(HOSTILE)
        for row, pid in enumerate(papers.ids):
            paper = library.papers[pid]
            papers.cursor = row
            await pilot.pause(0.08)
            detail = app.query_one(DetailPane)
            assert plain(detail.query_one("#detail-title", Static)) == printable_line(paper.title)
            abstract = printable(library.abstract(pid))
            assert plain(detail.query_one("#detail-abstract", Static)) == abstract
            line = papers.render_line(row - papers.scroll_offset.y).text
            assert printable_line(paper.title)[:40] in line
        # The filter echoes what was typed in the status line: `[` then `/` used to crash.
        await pilot.press("slash", "[", "/", "I", "N", "S", "T", "]")
        await pilot.pause()
        assert "filter: [/INST]" in str(app.query_one("#status", Static).render())
    assert app.return_code in (None, 0)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=25))
def test_any_text_renders_literally_in_row_detail_and_note_title(
    tmp_path_factory: pytest.TempPathFactory, texts: list[tuple[str, str]]
) -> None:
    """Arbitrary text through the three places a paper's text is drawn, without the parser:
    the widgets get paper objects directly, so every string hypothesis makes is tried (one
    app per batch of texts, since starting an app costs far more than drawing a paper)."""
    tmp_path = tmp_path_factory.mktemp("lit")
    library = Library(tmp_path / "lib")
    hostile_digest(tmp_path / "seed.txt", [("Seed paper", "A seed abstract.")])
    assert library.import_files([tmp_path / "seed.txt"]).ok
    view = FakeView(digests=list(library.digests.values()))
    ids = []
    for n, (title, abstract) in enumerate(texts):
        pid = f"{n:012x}"
        view.add(pid, title, abstract)
        ids.append(pid)

    async def run() -> None:
        app = create_app(library.data_dir, config_dir=tmp_path / "config")
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            papers = app.query_one(PaperList)
            papers.view = view  # type: ignore[assignment]
            papers.show(ids)
            await pilot.pause()
            detail = app.query_one(DetailPane)
            for row, (pid, (title, abstract)) in enumerate(zip(ids, texts, strict=True)):
                detail.show(view, pid)  # type: ignore[arg-type]
                assert plain(detail.query_one("#detail-title", Static)) == printable_line(title)
                assert plain(detail.query_one("#detail-abstract", Static)) == printable(abstract)
                papers.cursor = row  # scrolls the row into view
                line = papers.render_line(row - papers.scroll_offset.y).text
                assert "\x1b" not in line and "\x9b" not in line and "\n" not in line
                shown = printable_line(title)
                assert line.strip() and (shown[:20] in line or cell_len(shown) > 60)
            await pilot.pause()
            await app.push_screen(NoteScreen(texts[-1][0], "", lambda _: None))
            await pilot.pause()
            label = app.screen.query_one("#note-title", Label)
            assert plain(label) == printable_line(texts[-1][0])
        assert app.return_code in (None, 0)

    asyncio.run(run())


def test_no_seed_abstract_loses_text(library: Library) -> None:
    """Every real abstract is drawn whole: `[KCYM]`, `[Lee et al]` and `\\` used to vanish."""

    async def run() -> None:
        app = create_app(library.data_dir, config_dir=library.data_dir.parent / "config")
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            detail = app.query_one(DetailPane)
            for pid, paper in library.papers.items():
                detail.show(library, pid)
                abstract = library.abstract(pid)
                assert plain(detail.query_one("#detail-abstract", Static)) == abstract
                assert plain(detail.query_one("#detail-title", Static)) == paper.title
            await pilot.pause()

    asyncio.run(run())


async def test_a_crash_is_logged_and_exits_with_status_1(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_STATE_DIR, str(tmp_path / "state"))

    def boom(self: object) -> None:
        raise RuntimeError("boom [/INST]")

    monkeypatch.setattr(MainScreen, "action_help", boom)
    app = create_app(library.data_dir, config_dir=tmp_path / "config")
    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
    assert app.return_code == 1
    log = tmp_path / "state" / "crash.log"
    assert "Traceback" in log.read_text() and "boom [/INST]" in log.read_text()
    assert app.crash_line == (
        f"readinglist: the app crashed: RuntimeError: boom [/INST]; the details are in {log}"
    )


async def test_a_failing_background_job_is_reported_not_fatal(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_STATE_DIR, str(tmp_path / "state"))

    def broken(self: Library, **_: object) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(Library, "view", broken)
    app = create_app(library.data_dir, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(100):
            if app.query_one("#body", ContentSwitcher).current == "failure":
                break
            await pilot.pause(0.02)
        shown = str(app.query_one("#failure", Static).render())
        assert "RuntimeError: index exploded" in shown and "crash.log" in shown
        await pilot.press("j")  # still alive
    assert app.return_code in (None, 0)
