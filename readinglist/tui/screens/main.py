"""The triage screen: filter, paper list, detail pane, status line, and every triage key.

It reads and changes the library only through :class:`~readinglist.library.Library`; the
app owns the library's lifecycle (opening, reloading, importing in workers) and tells this
screen when something arrived.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Input, Static

from readinglist.errors import QueryError, ReadinglistError
from readinglist.library import Library
from readinglist.model import paper_links, paper_page, plural, today
from readinglist.query import parse_query
from readinglist.reading import Found, ReadModel
from readinglist.reports import Change, ImportReport
from readinglist.samples import sample_paths
from readinglist.tui.inbox import Inbox
from readinglist.tui.keys import APP_BINDINGS, key_help
from readinglist.tui.messages import FetchFinished
from readinglist.tui.screens.writes import WritingScreen
from readinglist.tui.text import literal, literal_line
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.filter_input import FilterInput
from readinglist.tui.widgets.footer import KeysFooter
from readinglist.tui.widgets.paper_list import PaperList
from readinglist.tui.widgets.title_bar import TitleBar

# The modal screens and the export are imported where used: with the Markdown widget
# (``DetailPane``) they were ~0.1 s of every start, before the first rows, at 100k papers.
if TYPE_CHECKING:
    from textual.widgets import ProgressBar

    from readinglist.tui.app import ReadingListApp

W = TypeVar("W", bound=Widget)

#: Seconds the cursor must rest on a paper before the detail pane follows it.
DETAIL_DELAY = 0.04
#: Seconds typing in the filter must rest before the detail pane follows the list's new top
#: paper: redrawing it (an abstract with the words marked, re-laid out) took 20-40 ms of
#: each filter key at 100k papers, more than the query and the list together.
TYPING_REST = 0.25
#: Seconds opening the library may take before the list shows it is loading. Most opens are
#: quicker (0.2 s at 100k papers): an indicator shown meanwhile only flickered, and its
#: animation and removal (~18 ms) held the thread that draws the first rows.
LOADING_SHOWN_AFTER = 0.5

WELCOME = """\
[b]Your library is empty.[/b]

Import a Hugging Face Daily Papers digest saved as text:

    [b]readinglist import ~/Downloads/daily-papers.txt[/b]

(files, folders of *.txt, or - for stdin), then run [b]readinglist[/b] again.

Or press [b]l[/b] to load the five bundled sample digests now.
"""


class MainScreen(WritingScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS]

    def __init__(self) -> None:
        super().__init__()
        self.hide_read = False
        self.filter_text = ""
        self.filter_error: str | None = None
        self._note_drafts: dict[str, str] = {}
        self._detail_timer: Timer | None = None
        #: When the filter last changed (the detail pane waits for typing to rest).
        self._typed_at = 0.0
        #: Which view is shown (the inbox or all) and the progress through it.
        self.inbox = Inbox()

    @property
    def rl(self) -> ReadingListApp:
        return cast("ReadingListApp", self.app)

    def adopt(self, view: ReadModel) -> None:
        self.rl.adopt(view)

    @property
    def library(self) -> Library | None:
        """The write path: every change goes through it (see ``WritingScreen._apply``)."""
        return self.rl.library

    @property
    def view(self) -> ReadModel | None:
        """What the screen shows: the snapshot the app adopted last (never changes under
        it, whatever a worker imports meanwhile)."""
        return self.rl.view

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield FilterInput(placeholder="Loading…", id="filter", disabled=True)
        with ContentSwitcher(initial="main", id="body"), Horizontal(id="main"):
            yield PaperList(id="papers")
            yield DetailPane(id="detail")
        with Horizontal(id="statusbar"):
            yield Static("Opening the library…", id="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._opening = self.set_timer(LOADING_SHOWN_AFTER, self._show_loading)
        # Now, not after the first screen: the load fills the thread's waits between its
        # first frames (first rows at 10k papers 364 -> 349 ms, interleaved medians; at 100k
        # the same, 465 ms).
        self.rl.open_library()

    def _show_loading(self) -> None:
        self.query_one(PaperList).loading = True
        self._progress_bar().display = True  # pulsing: no total

    # ------------------------------------------------------------------ told by the app

    def library_loaded(self) -> None:
        assert self.library is not None and self.view is not None
        self.library.on_lock_wait = self._lock_wait
        papers = self.query_one(PaperList)
        papers.view = self.view
        self._opened()
        papers.focus()
        self.inbox.start(self.view)
        # The detail pane follows the cursor once the rows are drawn (``Highlighted``):
        # reading the first abstract (a digest file) was ~25 ms before the first rows.
        self.refresh_view(reopen=True, top=True, detail=False)
        self.refresh_bindings()  # the footer shows what is now possible

    def library_failed(self, error: str) -> None:
        self._opened()
        self._switch_to(
            "failure",
            Content.assemble(
                ("The library could not be opened.", "bold red"),
                "\n\n",
                literal(error),
                "\n\nNothing was changed. Press q to quit.",
            ),
        )
        self.query_one("#status", Static).update("library not opened")

    def search_ready(self) -> None:
        self.hide_progress()
        filter_input = self.query_one("#filter", Input)
        filter_input.disabled = False
        filter_input.placeholder = (
            '/ filter: words (typos ok), "phrase", tag:x, is:later, seen:>=2, digest:latest'
        )
        # The whole inbox, as before the index, now as a query's answer, which counts its
        # progress from slot sets: counted over the pre-index list, every decision's status
        # line took ~2 × 20 ms at 100k papers (the same papers: the base is unchanged).
        whole_inbox = self.inbox.mode == "inbox" and not self.filter_text and not self.hide_read
        self.refresh_view(reopen=whole_inbox)
        self.refresh_bindings()

    def at_rest(self) -> None:
        """The reader paused, with the library searchable (called by the app's timer)."""
        self.query_one(DetailPane).enable_markdown()

    def busy(self, message: str, total: int | None = None) -> None:
        """Show ``message`` and a progress bar (pulsing when ``total`` is None)."""
        progress = self._progress_bar()
        progress.update(total=total, progress=0)
        progress.display = True
        self.query_one("#status", Static).update(literal_line(message))
        self.refresh_bindings()

    def _opened(self) -> None:
        """Opening is over: no loading indicator any more, or ever if it was quick."""
        self._opening.stop()
        self.query_one(PaperList).loading = False
        self.hide_progress()

    def _switch_to(self, page: str, text: str | Content) -> None:
        """Show ``page`` in the body: the list ("main"), or a page of ``text`` made the first
        time it is shown ("welcome", "failure": composed with the screen, ~3 ms of every
        start)."""
        body = self.query_one("#body", ContentSwitcher)
        if page != "main":
            # A second failure says what failed this time.
            self._made("#body", page, Static).update(text)
        if body.current != page:  # assigning even the same value re-lays out the screen
            body.current = page

    def _progress_bar(self) -> ProgressBar:
        """The status line's bar, mounted the first time it is needed: most starts never
        show it, and composing it took ~10 ms of the first rows at 10k papers."""
        from textual.widgets import ProgressBar  # with its modules, ~2 ms of every start

        made = partial(ProgressBar, show_eta=False, show_percentage=True)
        return self._made("#statusbar", "progress", ProgressBar, made)

    def _made(
        self, parent: str, widget_id: str, kind: type[W], make: Callable[..., W] | None = None
    ) -> W:
        """The ``kind`` widget ``#widget_id``, made (``make(id=…)``, by default ``kind``'s)
        and mounted in ``parent`` the first time it is asked for."""
        widget = next(self.query(f"#{widget_id}").results(kind), None)
        if widget is None:
            widget = (make or kind)(id=widget_id)
            self.query_one(parent).mount(widget)
        return widget

    def hide_progress(self) -> None:
        for bar in self.query("#progress"):
            bar.display = False

    def progress(self, done: int, total: int) -> None:
        self._progress_bar().update(total=total, progress=done)

    def import_finished(self, report: ImportReport | None, error: str | None) -> None:
        self.hide_progress()
        if error or report is None:
            self.notify(error or "import failed", title="Import failed", severity="error")
        else:
            self.notify(f"Imported {plural(report.new, 'paper')} from the samples.", timeout=4)
        self.papers_arrived()

    def fetch_progress(self, done: int, total: int, day: str) -> None:
        what = f"Fetching Daily Papers of {day}…" if day else "Importing the fetched papers…"
        self.busy(what, total=total)
        self.progress(done, total)

    def fetch_finished(self, result: FetchFinished) -> None:
        """Say what a fetch brought; a failure is one line, and nothing changed."""
        self.hide_progress()
        report = result.report
        if report is None:
            self.notify(result.error or "fetch failed", title="Fetch failed", severity="error")
            self.refresh_bindings()
            self._update_status()
            return
        days = plural(result.days - len(result.problems), "day")
        again = sum(f.again for f in report.files)
        if report.new or again:
            message = f"Fetched {days}: {plural(report.new, 'new paper')}, {again} seen before."
        else:
            message = f"Fetched {days}: nothing new."
        if result.empty:
            message += f" {plural(result.empty, 'day')} without papers."
        self.notify(message, title="Daily Papers", timeout=6)
        for problem in result.problems:
            self.notify(problem, title="Day left out", severity="warning", timeout=10)
        self.papers_arrived()

    def papers_arrived(self) -> None:
        """Digests were imported (here or elsewhere): their new papers join the inbox."""
        assert self.view is not None
        self.inbox.arrived(self.view)
        self.refresh_view(reopen=True)

    # ------------------------------------------------------------------ view

    def refresh_view(
        self,
        keep: str | None = None,
        *,
        reopen: bool = False,
        top: bool = False,
        detail: bool = True,
    ) -> None:
        """Re-run the filter and redraw everything that depends on the library.

        ``reopen``: the view changed (filter, inbox, all), so the progress counter starts
        afresh; ``top``: the highlight goes to the best match, the first row; ``detail``:
        redraw the detail pane now, not once the cursor (or typing) rests.
        """
        self.rl.last_input = time.monotonic()
        library = self.view
        if library is None:
            return
        papers = self.query_one(PaperList)
        papers.view = library
        keep = None if top else keep or papers.highlighted
        ids: Found
        try:
            if not self.rl.searchable:  # the index is being (re)built: no filtering yet
                ids = self._kept(papers.ids if self.filter_text else library.ordered())
            else:
                # The inbox narrows the query inside the engine: no pass over 100k ids.
                ids = library.find(self.filter_text, self.inbox.among)
            self.filter_error = None
        except QueryError as error:
            ids, self.filter_error = self._kept(papers.ids), str(error)
        if self.hide_read:
            ids = ids.without(library.read_ids)
        if reopen:
            self.inbox.rebase(library, ids)
        if papers.selected:
            papers.selected &= library.papers.keys()
        papers.show(ids, keep)
        if top:
            papers.cursor = 0
        self._switch_to("main" if library.papers else "welcome", WELCOME)
        if detail:
            self._show_detail(papers.highlighted)
        self._update_status()
        # Into the screen update this key brings, not the next one: each widget tells the
        # screen it needs repainting when its own queue next idles, so the filter input's
        # repaint (from the key) reached the screen first, was drawn alone, and the new rows
        # waited for the following frame (filter keys at 100k papers, median 23 → 9 ms).
        papers._check_refresh()
        self.query_one("#status", Static)._check_refresh()
        self.rl.spare_young()

    def _kept(self, ids: Sequence[str]) -> Found:
        """What is shown, kept when the filter cannot run, narrowed to the view."""
        shown = self.inbox.shown(ids)
        library = self.view
        if library is not None and ids is library.ordered():
            # Every paper: what is shown is the view's, and no set of up to 100k shown ids
            # is needed to tell (11 ms of the first rows at 100k papers).
            catalog, among = library.catalog, self.inbox.among
            if among is None:
                return Found(shown, catalog.__contains__)
            return Found(shown, lambda pid: pid in catalog and pid in among)
        return Found(shown, set(shown).__contains__)

    def _show_detail(self, pid: str | None) -> None:
        words = () if self.filter_error else parse_query(self.filter_text).words
        self.query_one(DetailPane).show(self.view, pid, words)

    def _update_status(self) -> None:
        library = self.view
        if library is None:
            return
        papers = self.query_one(PaperList)
        done = self.inbox.progress(library)
        parts: list[Content] = []
        if done.zero:
            parts.append(Content.styled(f"Inbox zero: {done.summary}", "bold $success"))
            if not self.inbox.zero_told:
                self.inbox.zero_told = True
                self.notify(f"Inbox zero: {done.summary}. Press a for the whole library.")
        elif done.mode == "inbox":
            parts.append(Content.styled(f"Inbox {done.decided:,}/{done.base:,}", "bold"))
        else:
            counted = f" · {done.decided:,}/{done.base:,} decided" if done.base else ""
            parts.append(Content(f"All{counted}{' · inbox zero' if done.inbox_empty else ''}"))
        parts.append(Content(f"{plural(len(library.papers), 'paper')}"))
        if self.filter_error:
            parts.append(literal_line(self.filter_error, "red"))
        elif self.filter_text:
            parts.append(Content("filter: ") + literal_line(self.filter_text))
        if self.hide_read:
            parts.append(Content("read hidden"))
        view = f"{len(papers.ids):,} shown"
        if papers.selected:
            view += f" · {len(papers.selected):,} selected"
        if not self.rl.searchable:
            view += " · indexing…"
        line = Content(" · ").join(parts) + Content("  │  " + view)
        # One line of fixed size: no layout pass (a reflow of the screen per filter key).
        self.query_one("#status", Static).update(line, layout=False)

    def on_paper_list_highlighted(self, message: PaperList.Highlighted) -> None:
        self.rl.last_input = time.monotonic()
        # Wait for the cursor to settle (key repeat), or typing to rest, so the list itself
        # never waits.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        delay = max(DETAIL_DELAY, self._typed_at + TYPING_REST - time.monotonic())
        self._detail_timer = self.set_timer(delay, partial(self._show_detail, message.pid))

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value != event.input.value:
            # Typed ahead (keys pasted or typed in a burst while a query ran): the input
            # has changed since and its own Changed follows, so this query's rows would
            # never be seen. "mamba tiem" typed at once ran ten queries (~0.1 s at 100k).
            return
        self.filter_text = event.value
        self._typed_at = time.monotonic()
        self.refresh_view(reopen=True, top=True, detail=False)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(PaperList).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"help", "app.quit"}:
            return True
        if action == "focus_filter" and isinstance(self.focused, Input):
            return False  # its key (a priority binding) is then typed into the input
        if self.library is None or self.view is None or self.rl.reloading:
            return False
        if action == "load_samples":
            return not self.view.papers
        return True

    def _targets(self) -> list[str]:
        papers = self.query_one(PaperList)
        if papers.selected:
            return [pid for pid in papers.ids if pid in papers.selected] or sorted(papers.selected)
        return [papers.highlighted] if papers.highlighted else []

    def action_focus_filter(self) -> None:
        # At once, not by ``focus()`` (a callback queued behind keys already typed): keys
        # typed ahead of it would reach the list, where letters decide papers.
        self.set_focus(self.query_one("#filter", Input))

    def on_key(self, event: events.Key) -> None:
        filter_input = self.query_one("#filter", Input)
        if event.key == "escape" and self.focused is filter_input:
            filter_input.value = ""
            self.query_one(PaperList).focus()
            event.stop()

    # ------------------------------------------------------------------ decisions

    def action_decide(self, status: str, tags: tuple[str, ...] = ()) -> None:
        """Decide the highlighted paper (or the selection) and move on to the next new one.

        Pressing a decision's key on papers that all have it already takes it back: they
        are new again, and the cursor stays.
        """
        library, view, targets = self.library, self.view, self._targets()
        if library is None or view is None or not targets:
            return
        again = not tags and all(view.state(p).current() == status for p in targets)
        if again:
            change = partial(library.decide, targets, "new")
        elif status == "snoozed":
            change = partial(library.snooze, targets, self.rl.config.snooze_days)
        else:
            change = partial(library.decide, targets, status, None, tags)
        self._apply(change, keep=targets[0], then=partial(self._advance, targets, again))

    def _advance(self, targets: list[str], stay: bool, change: Change | None) -> None:
        if change is None:
            return
        # No notification: at one key per paper they would pile up over the list; the
        # row's mark and the progress counter say what happened, and u takes it back.
        papers, library = self.query_one(PaperList), self.view
        assert library is not None
        if papers.selected:
            papers.selected = set()
            papers.refresh()
        if stay:
            return
        rows = [papers.ids.index(p) for p in targets if p in papers.ids]
        start = max(rows) + 1 if rows else papers.cursor
        state, day = library.state, today()
        following = papers.ids[start:]
        upcoming = next((p for p in following if state(p).current(day) == "new"), None)
        if upcoming is not None:
            papers.move_to(upcoming)
        elif start < len(papers.ids):
            papers.cursor = start
        self._update_status()

    def action_snooze(self) -> None:
        self.action_decide("snoozed")

    def action_snooze_ask(self) -> None:
        library, targets = self.library, self._targets()
        if library is None or not targets:
            return
        prompt = f"Snooze {plural(len(targets), 'paper')} for how many days?"
        from readinglist.tui.screens.snooze import SnoozeScreen

        def snooze(days: int | None) -> None:
            if days is not None:
                change = partial(library.snooze, targets, days)
                self._apply(change, keep=targets[0], then=partial(self._advance, targets, False))

        self.app.push_screen(SnoozeScreen(prompt, self.rl.config.snooze_days), snooze)

    def action_preset(self, number: int) -> None:
        tag = self.rl.config.presets.get(str(number))
        if tag is None:
            self.notify(
                f'No preset {number}: add {number} = "tag" under [presets] in config.toml.',
                severity="warning",
                timeout=6,
            )
            return
        self.action_decide("later", (tag,))

    def action_show_inbox(self) -> None:
        assert self.view is not None
        self.inbox.choose("inbox", self.view)
        self.refresh_view(reopen=True, top=True)
        if not self.inbox.papers:
            self.notify("The inbox is empty: every paper is decided. a shows them all.")

    def show_view(self, query: str) -> None:
        """A saved view ([views] in config.toml): its query becomes the filter."""
        self.query_one("#filter", Input).value = query
        self.query_one(PaperList).focus()

    def action_show_all(self) -> None:
        assert self.view is not None
        self.inbox.choose("all", self.view)
        self.refresh_view(reopen=True)

    def action_pager(self) -> None:
        """Like a pager: scroll the paper; at its end, go to the next paper undecided."""
        if not self.query_one(DetailPane).scroll_page():
            self.query_one(PaperList).action_move(1)

    def action_scroll_detail(self, lines: int) -> None:
        self.query_one(DetailPane).scroll_lines(lines)

    def action_toggle_select(self) -> None:
        papers = self.query_one(PaperList)
        if pid := papers.highlighted:
            papers.selected ^= {pid}
            papers.action_move(1)
            self._update_status()

    def action_select_all(self) -> None:
        papers = self.query_one(PaperList)
        visible = set(papers.ids)
        papers.selected = set() if visible <= papers.selected else visible
        papers.refresh()
        self._update_status()

    def action_clear_selection(self) -> None:
        papers = self.query_one(PaperList)
        if papers.selected:
            papers.selected = set()
            papers.refresh()
            self._update_status()

    def action_edit_note(self) -> None:
        library, view, pid = self.library, self.view, self.query_one(PaperList).highlighted
        if library is None or view is None or pid is None:
            return
        note = view.state(pid).note
        text = self._note_drafts.pop(pid, None) or library.drafts.get(pid) or note
        if text != note:
            self.notify("Recovered text from an edit that was not saved.", timeout=5)
        from readinglist.tui.screens.note import NoteScreen

        screen = NoteScreen(view.papers[pid].title, text, partial(self._autosave_note, pid))
        self.app.push_screen(screen, partial(self._save_note, pid))

    def _autosave_note(self, pid: str, text: str) -> None:
        assert self.library is not None
        try:
            self.library.drafts.save(pid, text)
        except ReadinglistError as error:
            self.notify(f"Draft not saved: {error}", severity="warning", timeout=5)

    def _save_note(self, pid: str, text: str | None) -> None:
        library = self.library
        if library is None or text is None:
            return
        self._note_drafts[pid] = text  # until saved: the disk may be full

        def saved(change: Change | None) -> None:
            self._note_drafts.pop(pid, None)
            library.drafts.discard(pid)
            if change:
                self.notify("Note saved.", timeout=2)

        self._apply(
            partial(library.set_note, pid, text),
            keep=pid,
            then=saved,
            failed="Your text is kept: press n to try again.",
        )

    def action_add_tag(self) -> None:
        """The tag prompt; the papers' AI keywords (from the API) are offered, not applied."""
        from readinglist.tui.screens.tags import TagScreen

        if targets := self._targets():
            assert self.view is not None
            papers = self.view.papers
            keywords = tuple(dict.fromkeys(k for pid in targets for k in papers[pid].ai_keywords))
            prompt = f"Add tags to {plural(len(targets), 'paper')}"
            self.app.push_screen(
                TagScreen(prompt, self.view.tag_counts(), keywords),
                partial(self._tag, targets, True),
            )

    def action_remove_tag(self) -> None:
        from readinglist.tui.screens.tags import TagScreen

        if targets := self._targets():
            assert self.view is not None
            present = Counter(t for pid in targets for t in self.view.state(pid).tags)
            if not present:
                self.notify("No tags to remove here.", timeout=3)
                return
            self.app.push_screen(
                TagScreen(
                    f"Remove tags from {plural(len(targets), 'paper')}",
                    dict(present),
                    unknown="not on these papers",
                ),
                partial(self._tag, targets, False),
            )

    def _tag(self, targets: list[str], add: bool, tags: list[str] | None) -> None:
        if not tags or self.library is None:
            return
        library = self.library
        self._apply(
            partial(library.tag, targets, tags if add else (), () if add else tags),
            then=self._tagged,
        )

    def _tagged(self, change: Change | None) -> None:
        if change:
            self.notify(change.label, timeout=2)

    def action_undo(self) -> None:
        assert self.library is not None
        self._apply(self.library.undo, then=partial(self._undone, "Nothing to undo."))

    def action_redo(self) -> None:
        assert self.library is not None
        self._apply(self.library.redo, then=partial(self._undone, "Nothing to redo."))

    def _undone(self, nothing: str, change: Change | None) -> None:
        """Say what was undone (or redone) and go back to the paper it was about."""
        self.notify(change.label if change else nothing, timeout=3)
        if change and change.ids:
            self.query_one(PaperList).move_to(change.ids[0])

    def action_toggle_hide_read(self) -> None:
        self.hide_read = not self.hide_read
        self.refresh_view()
        self.notify("Read papers hidden." if self.hide_read else "Read papers shown.", timeout=2)

    def action_open_paper(self) -> None:
        view, pid = self.view, self.query_one(PaperList).highlighted
        if view and pid:
            self.app.open_url(paper_page(view.papers[pid]))

    def action_open_link(self) -> None:
        """Choose one of the paper's links (numbered as in the detail pane) to open."""
        from readinglist.tui.screens.links import LinkScreen

        view, pid = self.view, self.query_one(PaperList).highlighted
        if view is None or pid is None:
            return
        paper = view.papers[pid]
        links = [*paper_links(paper), ("Hugging Face", paper_page(paper))]

        def open_chosen(url: str | None) -> None:
            if url:
                self.app.open_url(url)

        self.app.push_screen(LinkScreen(paper.title, links), open_chosen)

    def action_export(self) -> None:
        from readinglist.export import to_markdown, write_export

        library, view = self.library, self.view
        assert library is not None and view is not None
        ids = [pid for pid in self.query_one(PaperList).ids if view.state(pid).note]
        if not ids:
            self.notify("No paper in this view has a note: nothing to export.", severity="warning")
            return
        path = self.rl.export_dir / f"readinglist-notes-{datetime.now():%Y%m%d-%H%M%S}.md"
        try:
            write_export(path, to_markdown(view, ids), library.data_dir)
        except ReadinglistError as error:
            self.notify(str(error), title="Export failed", severity="error")
            return
        self.notify(
            f"Exported {plural(len(ids), 'paper')} with notes to {path}",
            title="Exported",
            timeout=8,
        )

    def action_load_samples(self) -> None:
        self.busy("Importing the sample digests…", total=len(sample_paths()))
        self.rl.import_samples()

    def action_fetch(self) -> None:
        if self.rl.fetching:
            self.notify("Already fetching: the list updates when it lands.", timeout=3)
            return
        self.busy("Fetching Daily Papers…")
        self.rl.fetch_papers()

    def action_help(self) -> None:
        from readinglist.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(key_help(self.rl.config.keys)))
