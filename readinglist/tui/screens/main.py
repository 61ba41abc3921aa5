"""The triage screen: filter, paper list, detail pane, status line, and every triage key.

It reads and changes the library only through :class:`~readinglist.library.Library`; the
app owns the library's lifecycle (opening, reloading, importing in workers) and tells this
screen when something arrived.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, cast
from urllib.parse import quote_plus

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Header, Input, ProgressBar, Static

from readinglist.errors import QueryError, ReadinglistError
from readinglist.export import to_markdown, write_export
from readinglist.library import Library
from readinglist.model import plural
from readinglist.reports import Change, ImportReport
from readinglist.samples import sample_paths
from readinglist.tui.keys import APP_BINDINGS, key_help
from readinglist.tui.messages import LockWait, WriteDone
from readinglist.tui.screens.help import HelpScreen
from readinglist.tui.screens.note import NoteScreen
from readinglist.tui.screens.tags import TagScreen
from readinglist.tui.text import literal, literal_line
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.paper_list import PaperList

if TYPE_CHECKING:
    from readinglist.tui.app import ReadingListApp

_Pending = tuple[
    Callable[[], "Change | None"], str | None, Callable[["Change | None"], None] | None, str | None
]
#: Seconds the cursor must rest on a paper before the detail pane follows it.
DETAIL_DELAY = 0.04

WELCOME = """\
[b]Your library is empty.[/b]

Import a Hugging Face Daily Papers digest saved as text:

    [b]readinglist import ~/Downloads/daily-papers.txt[/b]

(files, folders of *.txt, or - for stdin), then run [b]readinglist[/b] again.

Or press [b]l[/b] to load the five bundled sample digests now.
"""


class MainScreen(Screen[None]):
    BINDINGS = APP_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.hide_read = False
        self.filter_text = ""
        self.filter_error: str | None = None
        self._note_drafts: dict[str, str] = {}
        self._detail_timer: Timer | None = None
        #: Changes waiting for another writer, in order (the arguments of ``_apply``).
        self._pending: deque[_Pending] = deque()

    @property
    def rl(self) -> ReadingListApp:
        return cast("ReadingListApp", self.app)

    @property
    def library(self) -> Library | None:
        return self.rl.library

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Loading…", id="filter", disabled=True)
        with ContentSwitcher(initial="main", id="body"):
            with Horizontal(id="main"):
                yield PaperList(id="papers")
                yield DetailPane(id="detail")
            yield Static(WELCOME, id="welcome")
            yield Static("", id="failure")
        with Horizontal(id="statusbar"):
            yield Static("Opening the library…", id="status")
            yield ProgressBar(id="progress", show_eta=False, show_percentage=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PaperList).loading = True

    # ------------------------------------------------------------------ told by the app

    def library_loaded(self) -> None:
        assert self.library is not None
        self.library.on_lock_wait = lambda holder: self.post_message(LockWait(holder))
        papers = self.query_one(PaperList)
        papers.library = self.library
        papers.loading = False
        papers.focus()
        self.query_one("#progress", ProgressBar).display = False
        self.refresh_view()
        self.refresh_bindings()  # the footer shows what is now possible

    def library_failed(self, error: str) -> None:
        self.query_one("#progress", ProgressBar).display = False
        self.query_one("#failure", Static).update(
            Content.assemble(
                ("The library could not be opened.", "bold red"),
                "\n\n",
                literal(error),
                "\n\nNothing was changed. Press q to quit.",
            )
        )
        self.query_one("#body", ContentSwitcher).current = "failure"
        self.query_one("#status", Static).update("library not opened")

    def search_ready(self) -> None:
        self.query_one("#progress", ProgressBar).display = False
        filter_input = self.query_one("#filter", Input)
        filter_input.disabled = False
        filter_input.placeholder = (
            '/ filter: words (typos ok), "phrase", tag:x, is:unread, seen:>=2, has:code'
        )
        self.refresh_view()
        self.refresh_bindings()

    def busy(self, message: str, total: int | None = None) -> None:
        """Show ``message`` and a progress bar (pulsing when ``total`` is None)."""
        progress = self.query_one("#progress", ProgressBar)
        progress.update(total=total, progress=0)
        progress.display = True
        self.query_one("#status", Static).update(literal_line(message))
        self.refresh_bindings()

    def progress(self, done: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=total, progress=done)

    def import_finished(self, report: ImportReport | None, error: str | None) -> None:
        self.query_one("#progress", ProgressBar).display = False
        if error or report is None:
            self.notify(error or "import failed", title="Import failed", severity="error")
        else:
            self.notify(f"Imported {report.new} papers from the sample digests.", timeout=4)
        self.refresh_view()

    # ------------------------------------------------------------------ view

    def refresh_view(self, keep: str | None = None) -> None:
        """Re-run the filter and redraw everything that depends on the library."""
        self.rl.last_input = time.monotonic()
        library = self.library
        if library is None:
            return
        papers = self.query_one(PaperList)
        keep = keep or papers.highlighted
        try:
            if self.filter_text and not self.rl.searchable:
                ids = papers.ids  # the index is being (re)built: keep what is shown
            else:
                ids = library.query(self.filter_text)
            self.filter_error = None
        except QueryError as error:
            ids, self.filter_error = papers.ids, str(error)
        if self.hide_read:
            ids = library.unread_only(ids)
        if papers.selected:
            papers.selected &= library.papers.keys()
        papers.show(ids, keep)
        body = self.query_one("#body", ContentSwitcher)
        wanted = "main" if library.papers else "welcome"
        if body.current != wanted:
            body.current = wanted  # assigning even the same value re-lays out the screen
        self.query_one(DetailPane).show(library, papers.highlighted)
        self._update_status()

    def _update_status(self) -> None:
        library = self.library
        if library is None:
            return
        papers = self.query_one(PaperList)
        total = len(library.papers)
        read = library.read_total
        parts: list[Content] = [
            Content(f"{total:,} papers"),
            Content(f"{library.recurring:,} recurring"),
            Content(f"{total - read:,} unread"),
        ]
        if self.filter_error:
            parts.append(literal_line(self.filter_error, "red"))
        elif self.filter_text:
            parts.append(Content("filter: ") + literal_line(self.filter_text))
        if self.hide_read:
            parts.append(Content("read hidden"))
        view = f"{library.count_read(papers.ids):,}/{len(papers.ids):,} read"
        if papers.selected:
            view += f" · {len(papers.selected)} selected"
        if not self.rl.searchable:
            view += " · indexing…"
        line = Content(" · ").join(parts) + Content("  │  " + view)
        self.query_one("#status", Static).update(line)

    def on_paper_list_highlighted(self, message: PaperList.Highlighted) -> None:
        self.rl.last_input = time.monotonic()
        # Wait for the cursor to settle (key repeat) so the list itself never waits.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(
            DETAIL_DELAY, partial(self.query_one(DetailPane).show, self.library, message.pid)
        )

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_view()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(PaperList).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"help", "app.quit"}:
            return True
        if self.library is None or self.rl.reloading:
            return False
        if action == "load_samples":
            return not self.library.papers
        return True

    def _targets(self) -> list[str]:
        papers = self.query_one(PaperList)
        if papers.selected:
            return [pid for pid in papers.ids if pid in papers.selected] or sorted(papers.selected)
        return [papers.highlighted] if papers.highlighted else []

    def _apply(
        self,
        change: Callable[[], Change | None],
        keep: str | None = None,
        then: Callable[[Change | None], None] | None = None,
        failed: str | None = None,
    ) -> None:
        """Run one library change, then ``then`` with what it saved (None if nothing).

        On failure the error is shown (with ``failed`` added) and ``then`` is not called.

        Done at once when nobody else is writing (a couple of ms). When another process
        holds the lock, changes queue up in order and run in a worker, so the UI never
        freezes behind a stalled writer; the status line says whom they wait for.
        """
        library = self.library
        assert library is not None
        if not self._pending:
            with library.store.lock.attempt() as free:
                if free:
                    self._finish(*_attempt(change), keep, then, failed)
                    return
        self._pending.append((change, keep, then, failed))
        if len(self._pending) == 1:
            self._write_in_background(change)

    @work(thread=True, group="writes", exit_on_error=False)
    def _write_in_background(self, change: Callable[[], Change | None]) -> None:
        self.post_message(WriteDone(*_attempt(change)))

    def on_write_done(self, message: WriteDone) -> None:
        _, keep, then, failed = self._pending.popleft()
        if self._pending:
            self._write_in_background(self._pending[0][0])
        else:
            self.query_one("#progress", ProgressBar).display = False
        self._finish(message.change, message.error, keep, then, failed)

    def on_lock_wait(self, message: LockWait) -> None:
        who = message.holder.describe() if message.holder else "another process"
        self.busy(f"Waiting for readinglist, {who}, to finish writing…")

    def _finish(
        self,
        change: Change | None,
        error: str | None,
        keep: str | None,
        then: Callable[[Change | None], None] | None,
        failed: str | None,
    ) -> None:
        if error is not None:
            hint = f"\n{failed}" if failed else ""
            self.notify(error + hint, title="Not saved", severity="error", timeout=10)
        self.refresh_view(keep)
        if then is not None and error is None:
            then(change)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def on_key(self, event: events.Key) -> None:
        filter_input = self.query_one("#filter", Input)
        if event.key == "escape" and self.focused is filter_input:
            filter_input.value = ""
            self.query_one(PaperList).focus()
            event.stop()

    def action_toggle_read(self) -> None:
        if targets := self._targets():
            library = self.library
            assert library is not None
            self._apply(partial(library.toggle_read, targets))

    def action_triage(self) -> None:
        """Mark the highlighted paper read and jump to the next unread one below it."""
        papers, library = self.query_one(PaperList), self.library
        pid = papers.highlighted
        if library is None or pid is None:
            return
        start = papers.cursor

        def advance(_: Change | None) -> None:
            following = (
                papers.ids[papers.cursor + 1 :] if papers.highlighted == pid else papers.ids[start:]
            )
            upcoming = next((p for p in following if not library.state(p).read), None)
            if upcoming is None:
                self.notify("No unread papers below this one: all caught up.", timeout=3)
            else:
                papers.move_to(upcoming)

        self._apply(partial(library.mark, [pid], True), keep=pid, then=advance)

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
        library, pid = self.library, self.query_one(PaperList).highlighted
        if library is None or pid is None:
            return
        note = library.state(pid).note
        text = self._note_drafts.pop(pid, None) or library.drafts.get(pid) or note
        if text != note:
            self.notify("Recovered text from an edit that was not saved.", timeout=5)
        screen = NoteScreen(library.papers[pid].title, text, partial(self._autosave_note, pid))
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
        if targets := self._targets():
            assert self.library is not None
            prompt = f"Add tags to {plural(len(targets), 'paper')}"
            self.app.push_screen(
                TagScreen(prompt, self.library.all_tags()), partial(self._tag, targets, True)
            )

    def action_remove_tag(self) -> None:
        if targets := self._targets():
            assert self.library is not None
            present = sorted({t for pid in targets for t in self.library.state(pid).tags})
            if not present:
                self.notify("No tags to remove here.", timeout=3)
                return
            self.app.push_screen(
                TagScreen(f"Remove tags from {plural(len(targets), 'paper')}", present),
                partial(self._tag, targets, False),
            )

    def _tag(self, targets: list[str], add: bool, tags: list[str] | None) -> None:
        if not tags or self.library is None:
            return
        library = self.library
        self._apply(
            partial(library.tag, targets, tags if add else (), () if add else tags),
            then=lambda change: change and self.notify(change.label, timeout=2),
        )

    def action_undo(self) -> None:
        assert self.library is not None
        self._apply(
            self.library.undo,
            then=lambda change: self.notify(change.label if change else "Nothing to undo."),
        )

    def action_redo(self) -> None:
        assert self.library is not None
        self._apply(
            self.library.redo,
            then=lambda change: self.notify(change.label if change else "Nothing to redo."),
        )

    def action_toggle_hide_read(self) -> None:
        self.hide_read = not self.hide_read
        self.refresh_view()
        self.notify("Read papers hidden." if self.hide_read else "Read papers shown.", timeout=2)

    def action_open_paper(self) -> None:
        library, pid = self.library, self.query_one(PaperList).highlighted
        if library and pid:
            self.app.open_url(
                f"https://huggingface.co/papers?q={quote_plus(library.papers[pid].title)}"
            )

    def action_open_code(self) -> None:
        library, pid = self.library, self.query_one(PaperList).highlighted
        if library and pid:
            links = library.papers[pid].links
            if links:
                self.app.open_url(links[0])
            else:
                self.notify("This paper's abstract has no links.", timeout=3)

    def action_export(self) -> None:
        library = self.library
        assert library is not None
        ids = [pid for pid in self.query_one(PaperList).ids if library.state(pid).note]
        if not ids:
            self.notify("No paper in this view has a note: nothing to export.", severity="warning")
            return
        path = self.rl.export_dir / f"readinglist-notes-{datetime.now():%Y%m%d-%H%M%S}.md"
        try:
            write_export(path, to_markdown(library, ids), library.data_dir)
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

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(key_help()))


def _attempt(change: Callable[[], Change | None]) -> tuple[Change | None, str | None]:
    """Run ``change``; what it saved, or the one-line reason it saved nothing."""
    try:
        return change(), None
    except ReadinglistError as error:
        return None, str(error)
