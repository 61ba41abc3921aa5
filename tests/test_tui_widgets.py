"""The reading widgets on their own: detail pane, paper list, tag and link prompts.

Each is mounted in a small app of its own (styled by the real ``app.tcss``) over a real
library built from the real digests, and checked by what reaches the screen.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, OptionList, Static

import readinglist.tui
from readinglist.library import Library
from readinglist.model import Digest
from readinglist.query import parse_query
from readinglist.tui.screens.links import LinkScreen
from readinglist.tui.screens.tags import TagChoices, TagScreen
from readinglist.tui.widgets.detail import HIGHLIGHT, DetailPane, highlight_spans, provenance
from readinglist.tui.widgets.paper_list import PaperList
from tests.conftest import by_title
from tests.tuihelpers import screen_lines

SIZE = (120, 36)
TCSS = Path(readinglist.tui.__file__).parent / "app.tcss"
COMPACT = "002_f78d371d068d1b95"  # a real digest in the compact layout: it has no date
NOTE = "Key idea: diagonal **S4D** init\n\n- compare with DSS"
TWO_LINKS = "Improved Representation of Asymmetrical Distances with Interval Quasimetric Embeddings"


class Harness(App[None]):
    """The main screen's frame (header, filter, list | detail, status, footer)."""

    CSS_PATH = TCSS

    def __init__(self, library: Library, detail_only: bool = False) -> None:
        super().__init__()
        self.library = library
        self.detail_only = detail_only
        self.opened: list[str] = []

    def compose(self) -> ComposeResult:
        if self.detail_only:
            yield DetailPane(id="detail")
            return
        yield Header()
        yield Input(id="filter")
        with Horizontal(id="main"):
            yield PaperList(id="papers")
            yield DetailPane(id="detail")
        yield Static("status", id="statusbar")
        yield Footer()

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        self.opened.append(url)


class ListHarness(App[None]):
    """The list beside a stand-in for the detail pane, sized as on the main screen."""

    CSS_PATH = TCSS

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield PaperList(id="papers")
            yield Static(id="detail")

    def on_mount(self) -> None:
        papers = self.query_one(PaperList)
        papers.view = self.library
        papers.show(self.library.ordered())


def plain(widget: Static) -> str:
    return widget.visual.plain  # type: ignore[attr-defined, no-any-return]


def day(digest: Digest) -> str:
    when = datetime.fromisoformat(digest.imported_at).astimezone()
    return f"{when:%b} {when.day}"


async def shown(
    pilot: Pilot[None], library: Library, pid: str, words: tuple[str, ...] = ()
) -> DetailPane:
    detail = pilot.app.query_one(DetailPane)
    detail.enable_markdown()
    detail.show(library, pid, words)
    await pilot.pause()
    await pilot.pause()  # the note's Markdown is laid out in a second pass
    return detail


# ---------------------------------------------------------------------------- detail pane


async def test_note_is_above_the_abstract_and_visible_without_scrolling(library: Library) -> None:
    pid = max(library.papers, key=lambda p: len(library.abstract(p)))
    library.tag([pid], add=["ssm", "init"])
    library.set_note(pid, NOTE)
    async with Harness(library).run_test(size=SIZE) as pilot:
        detail = await shown(pilot, library, pid)
        assert detail.max_scroll_y > 0 and detail.scroll_y == 0  # the abstract overflows
        note = detail.query_one("#detail-note")
        abstract = detail.query_one("#detail-abstract")
        assert note.region.bottom <= abstract.region.y
        assert note.region.bottom <= detail.region.bottom
        screen = "\n".join(screen_lines(pilot.app))
        assert "Key idea: diagonal S4D init" in screen and "• compare with DSS" in screen
        assert screen.index("Key idea") < screen.index(library.abstract(pid)[:20])
        meta = plain(detail.query_one("#detail-meta", Static))
        assert "Status: new · id " + pid in meta and "Tags: #ssm #init" in meta


async def test_a_note_is_plain_text_until_markdown_is_enabled(library: Library) -> None:
    pid = library.ordered()[0]
    library.set_note(pid, NOTE)
    async with Harness(library).run_test(size=SIZE) as pilot:
        detail = pilot.app.query_one(DetailPane)
        detail.show(library, pid)
        await pilot.pause()
        note = detail.query_one("#detail-note", Static)
        assert plain(note) == "Note\n\n" + NOTE  # as written, ready to read
        assert "textual.widgets._markdown" not in repr(type(note))
        detail.enable_markdown()  # the note on screen is rendered again, in place
        await pilot.pause()
        await pilot.pause()
        screen = "\n".join(screen_lines(pilot.app))
        assert "• compare with DSS" in screen and "- compare with DSS" not in screen
        assert len(detail.query("#detail-note")) == 1
        abstract = detail.query_one("#detail-abstract")
        assert detail.query_one("#detail-note").region.bottom <= abstract.region.y


async def test_provenance_is_dates_never_a_file_name(library: Library) -> None:
    pid = by_title(
        library, "On the Parameterization and Initialization of Diagonal State Space Models"
    )
    newest, compact, dated = library.digest_list(pid)
    assert compact.name == COMPACT and compact.date is None and dated.date == "Mar 13"
    async with Harness(library).run_test(size=SIZE) as pilot:
        detail = await shown(pilot, library, pid)
        meta = plain(detail.query_one("#detail-meta", Static))
        imported = (
            f"{day(newest)} ×2" if day(newest) == day(compact) else f"{day(newest)}, {day(compact)}"
        )
        expected = f"Seen in 3 digests: {imported}, Mar 13 · first Mar 13"
        assert meta.splitlines()[0] == expected
        assert not any(d.name in meta for d in library.digests.values())


def test_provenance_orders_by_date_newest_first_across_a_year() -> None:
    def digest(seq: int, label: str | None, imported: str) -> Digest:
        return Digest(f"d{seq}", f"{seq:03}_0123456789abcdef", label, seq, imported, 1)

    digests = [  # newest import first, as Library.digest_list gives them
        digest(4, None, "2025-04-09T10:00:00+00:00"),
        digest(3, "Dec 30", "2025-01-02T10:00:00+00:00"),  # last year's December
        digest(2, "Jan 1", "2025-01-02T10:00:00+00:00"),
        digest(1, "Mar 12", "2025-03-13T10:00:00+00:00"),  # imported late, dated earlier
    ]
    april = day(digests[0])
    assert provenance(digests) == f"{april}, Mar 12, Jan 1, Dec 30 · first Dec 30"
    assert provenance(digests[1:2]) == "Dec 30"
    twice = [digest(6, None, "2025-04-09T11:00:00+00:00"), *digests]  # two imports that day
    assert provenance(twice) == f"{april} ×2, Mar 12, Jan 1, Dec 30 · first Dec 30"


async def test_links_are_numbered_whole_lines_and_clickable(library: Library) -> None:
    pid = by_title(library, TWO_LINKS)
    links = library.papers[pid].links
    assert len(links) == 2 and all(len(link) > 40 for link in links)
    app = Harness(library, detail_only=True)
    async with app.run_test(size=(40, 30)) as pilot:
        await shown(pilot, library, pid)
        lines = [line.strip() for line in screen_lines(app)]
        rows = [n for n, line in enumerate(lines) if line.startswith("[1] ")]
        assert len(rows) == 1
        first = rows[0]
        for number, link in enumerate(links, 1):
            line = lines[first + number - 1]
            assert line.startswith(f"[{number}] ")
            text = line.removeprefix(f"[{number}] ")
            assert text == link or (text.endswith("…") and link.startswith(text[:-1]))
        # Nothing of a URL wrapped onto a line of its own: one line per link, then a gap.
        assert pilot.app.query_one("#detail-links").region.height == 2
        assert lines[first + 2] == ""
        await pilot.click("#detail-links", offset=(6, 1))
        assert app.opened == [links[1]]


async def test_filter_words_are_highlighted_in_title_and_abstract(library: Library) -> None:
    pid = by_title(
        library, "Functional Bayesian Tucker Decomposition for Continuous-indexed Tensor Data"
    )
    words = parse_query("bayes TUCK -tensor tag:x").words
    assert words == ("bayes", "tuck")
    async with Harness(library).run_test(size=SIZE) as pilot:
        detail = await shown(pilot, library, pid, words)
        title = detail.query_one("#detail-title", Static).visual
        marked = [title.plain[s.start : s.end] for s in title.spans if s.style == HIGHLIGHT]
        assert marked == ["Bayes", "Tuck"]
        abstract = detail.query_one("#detail-abstract", Static).visual
        spans = [(s.start, s.end) for s in abstract.spans if s.style == HIGHLIGHT]
        text = library.abstract(pid)
        expected = [m.span() for m in re.finditer(r"(?<![^\W_])(?:bayes|tuck)", text, re.I)]
        assert spans == expected and len(spans) >= 3
        assert abstract.plain == text  # marking never changes the text
        detail.show(library, pid)  # no filter: nothing marked
        assert not [
            s
            for s in detail.query_one("#detail-title", Static).visual.spans
            if s.style == HIGHLIGHT
        ]


def test_highlight_folds_case_and_diacritics_and_keeps_positions() -> None:
    def marked(text: str, words: tuple[str, ...]) -> list[str]:
        return [text[s:e] for s, e in highlight_spans(text, words)]

    text = "Résumé of ÉCOLE Straße presumed re\u0301sume\u0301"
    assert marked(text, ("resume", "ecole", "strasse")) == [
        "Résumé",
        "ÉCOLE",
        "Straße",
        "re\u0301sume\u0301",  # the combining accents go with their letters
    ]
    assert marked(text, ("sum",)) == []  # only at the start of a word
    assert marked("state-space state", ("state", "sta")) == ["state", "state"]
    assert marked("x_tucker", ("tuck",)) == ["tuck"]  # _ separates words, as in queries


async def test_scroll_page_is_false_at_the_end(library: Library) -> None:
    ids = sorted(library.papers, key=lambda p: len(library.abstract(p)))
    async with Harness(library).run_test(size=SIZE) as pilot:
        detail = await shown(pilot, library, ids[-1])
        pages = 0
        while detail.scroll_page():
            pages += 1
            await pilot.pause()
            assert pages < 20
        assert pages >= 1 and detail.scroll_y == detail.max_scroll_y
        assert not detail.scroll_page()
        detail.scroll_lines(-3)
        await pilot.pause()
        assert detail.scroll_y == detail.max_scroll_y - 3
        await shown(pilot, library, ids[0])  # another paper starts at its top
        assert detail.scroll_y == 0 and not detail.scroll_page()


# ---------------------------------------------------------------------------- paper list


async def test_rows_show_each_status_mark_styled(tmp_path: Path, digest_paths: list[Path]) -> None:
    library = Library(tmp_path / "lib")
    assert library.import_files(digest_paths[:4]).ok
    titles = {
        "resurfaced": "Feature Learning in Infinite-Width Neural Networks",  # also in the 5th
        "new": "Is Mamba Effective for Time Series Forecasting?",
        "later": "Knowledge Graph Embedding by Normalizing Flows",
        "read": "Oracle Efficient Algorithms for Groupwise Regret",
        "skipped": "One-connection rule for structural equation models",
        "snoozed": "Merging Models with Fisher-Weighted Averaging",
    }
    pids = {status: by_title(library, title) for status, title in titles.items()}
    library.decide([pids["resurfaced"], pids["skipped"]], "skipped")
    library.decide([pids["later"]], "later")
    library.mark([pids["read"]])
    library.snooze([pids["snoozed"]], 3)
    assert library.import_files(digest_paths[4:]).ok
    marks = {
        "new": "●",
        "resurfaced": "↻",
        "later": "◆",
        "read": "✓",
        "skipped": "·",
        "snoozed": "z",
    }
    app = ListHarness(library)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        papers = app.query_one(PaperList)
        papers.show(list(pids.values()))
        papers.cursor = len(pids)  # off every row: no cursor colours
        await pilot.pause()
        colours = {}
        for row, status in enumerate(pids):
            segments = list(papers.render_line(row))
            text = "".join(s.text for s in segments)
            assert text[6] == marks[status] and titles[status] in text, (status, text)
            (mark,) = [s for s in segments if s.text == marks[status] + " "]
            title = next(s for s in segments if s.text.startswith(titles[status]))
            colours[status] = (mark.style.color, title.style.color)
        accent = papers.get_component_rich_style("paper-list--new").color
        dimmed = papers.get_component_rich_style("paper-list--dimmed").color
        assert colours["new"][0] == colours["resurfaced"][0] == accent
        assert colours["read"][1] == colours["skipped"][1] == dimmed
        assert colours["new"][1] != dimmed and colours["later"][1] != dimmed
        assert len({mark for mark, _ in colours.values()}) >= 4  # later, snoozed: their own


async def test_rows_follow_a_theme_change(library: Library) -> None:
    """Rows keep the widget's base style between frames: a new theme must still reach them."""
    app = ListHarness(library)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        papers = app.query_one(PaperList)
        papers.cursor = 5
        before = papers.render_line(0)
        app.theme = "solarized-light"
        await pilot.pause()
        after = papers.render_line(0)
        assert after.text == before.text
        title, old = list(after)[3], list(before)[3]  # bar, badge, mark, title
        assert title.text == old.text and title.text.startswith("Analysis of Linear")
        assert title.style.bgcolor == papers.rich_style.bgcolor != old.style.bgcolor


async def test_at_80_columns_tags_give_way_to_the_title(library: Library) -> None:
    titles = [
        "Universal Neural Functionals",
        "Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching",
        "Rethinking Positional Encoding",
    ]
    fits, too_long, roomy = (by_title(library, title) for title in titles)
    many = ["time-series", "state-space-models", "forecasting", "mamba", "benchmarks"]
    library.tag([fits, too_long], add=many)
    library.tag([roomy], add=["pe"])
    app = ListHarness(library)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        papers = app.query_one(PaperList)
        papers.show([fits, too_long, roomy])
        papers.cursor = 3
        await pilot.pause()
        width = papers.scrollable_content_region.width
        assert 45 <= width <= 60  # the list's share of 80 columns
        rows = [papers.render_line(row).text for row in range(3)]
        assert all(cell_len(row) == width for row in rows)
        # The whole title, then as much of the tags as fits, cropped with an ellipsis.
        assert re.search(r"Universal Neural Functionals #time-s?e?r?i?e?s?…  +</> $", rows[0])
        # A title too long for the row: the tags are dropped before it is cut.
        assert "#" not in rows[1] and re.search(r"Analysis of Linear Mode \w.*…", rows[1])
        # Room enough for both: nothing is cropped.
        assert re.search(r"Rethinking Positional Encoding +#pe +</> $", rows[2])


class Prompted(App[None]):
    """An empty app the prompts are pushed on; keeps what each dismisses with."""

    CSS_PATH = TCSS

    def __init__(self) -> None:
        super().__init__()
        self.results: list[object] = []

    async def ask(self, pilot: Pilot[None], screen: Screen[object]) -> None:
        self.push_screen(screen, self.results.append)
        await pilot.pause()


COUNTS = {"ssm": 12, "state-space": 3, "lmc": 2}


def hint(app: App[None]) -> str:
    return plain(app.screen.query_one("#tag-hint", Label))


async def test_tag_prompt_completes_every_word_and_warns_of_new_tags() -> None:
    app = Prompted()
    async with app.run_test(size=SIZE) as pilot:
        await app.ask(pilot, TagScreen("Add tags", COUNTS, suggested=("diffusion",)))
        field = app.screen.query_one(Input)
        assert hint(app) == "suggested: diffusion · in use: ssm (12) state-space (3) lmc (2)"
        await pilot.press(*"lmc s")
        assert hint(app) == "ssm (12) state-space (3)"  # the second word's candidates
        assert field._suggestion == "lmc ssm"  # inline completion of the second word
        await pilot.press("right", "space", "f")
        assert field.value == "lmc ssm f" and hint(app) == "new tag: f"
        await pilot.press("space", "D", "i")
        await pilot.pause()  # the suggester runs in a worker
        assert field._suggestion == "lmc ssm f Diffusion"
        assert hint(app) == "diffusion · new tag: f"  # "di" is still being typed
        await pilot.press("enter")
    assert app.results == [["lmc", "ssm", "f", "di"]]


async def test_tag_prompt_tab_completes_the_word_under_the_cursor() -> None:
    app = Prompted()
    async with app.run_test(size=SIZE) as pilot:
        await app.ask(pilot, TagScreen("Add tags", COUNTS))
        field = app.screen.query_one(Input)
        field.value = "st SSM"
        await pilot.pause()
        assert hint(app) == "ssm (12) · new tag: st"  # SSM is ssm: not new
        await pilot.press("home", "right")
        assert hint(app) == "state-space (3)"  # the word under the cursor
        await pilot.press("tab")
        assert field.value == "state-space SSM" and field.cursor_position == len("state-space")
        await pilot.press("enter")
        await app.ask(pilot, TagScreen("Remove tags", {"lmc": 1}, unknown="not on these papers"))
        assert hint(app) == "in use: lmc (1)"
        app.screen.query_one(Input).value = "lmc x"
        await pilot.pause()
        assert hint(app) == "not on these papers: x"
        await pilot.press("escape")
    assert app.results == [["state-space", "ssm"], []]


def test_a_finished_tag_is_offered_before_longer_ones() -> None:
    choices = TagChoices({"ssm-survey": 20, "ssm": 3, "lmc": 1}, suggested=("SSM-Theory",))
    assert choices.completions("SSM") == ["ssm", "ssm-survey", "ssm-theory"]
    assert choices.completions("ss", typed=["ssm"]) == ["ssm-survey", "ssm-theory"]
    assert choices.label("ssm") == "ssm (3)" and choices.label("ssm-theory") == "ssm-theory"


LINKS = [
    ("", "https://github.com/quasimetric-learning/torch-quasimetric"),
    ("", "https://www.tongzhouwang.info/interval_quasimetric_embedding"),
    ("Hugging Face page [/INST] [@click=app.quit]", "https://huggingface.co/papers?q=x"),
]


async def test_link_prompt_returns_the_chosen_url() -> None:
    app = Prompted()
    async with app.run_test(size=SIZE) as pilot:
        await app.ask(pilot, LinkScreen("A paper [b]title[/b]", LINKS))
        options = app.screen.query_one(OptionList)
        rows = [str(options.get_option_at_index(n).prompt) for n in range(len(LINKS))]
        assert rows[0] == f"[1] {LINKS[0][1]}"
        assert rows[2] == f"[3] {LINKS[2][0]}  {LINKS[2][1]}"  # literally, markup and all
        assert plain(app.screen.query_one("#link-title", Label)) == "A paper [b]title[/b]"
        await pilot.press("9")  # no such link: nothing happens
        assert app.results == []
        await pilot.press("2")
        for keys in (("3",), ("down", "enter"), ("escape",)):
            await app.ask(pilot, LinkScreen("A paper", LINKS))
            await pilot.press(*keys)
    assert app.results == [LINKS[1][1], LINKS[2][1], LINKS[1][1], None]
