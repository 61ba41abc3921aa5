"""The triage app: a thin Textual layer over :class:`readinglist.library.Library`.

The library is opened (and its search index built) in a thread worker that reports back
with typed messages, so the first screen appears at once whatever the library's size.
Every change goes through the library, which saves it before returning.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from urllib.parse import quote_plus

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Header, Input, ProgressBar, Static

from readinglist.errors import QueryError, ReadinglistError
from readinglist.export import to_markdown
from readinglist.library import Library
from readinglist.model import count_papers
from readinglist.reports import Change
from readinglist.samples import sample_paths
from readinglist.tui.keys import APP_BINDINGS, key_help
from readinglist.tui.messages import (
    ImportFinished,
    ImportProgress,
    LibraryFailed,
    LibraryLoaded,
    SearchReady,
)
from readinglist.tui.screens.help import HelpScreen
from readinglist.tui.screens.note import NoteScreen
from readinglist.tui.screens.tags import TagScreen
from readinglist.tui.settings import Settings
from readinglist.tui.widgets.detail import DetailPane
from readinglist.tui.widgets.paper_list import PaperList

#: Seconds between checks for changes saved by another process (e.g. the CLI).
POLL_SECONDS = 2.0
#: Seconds the cursor must rest on a paper before the detail pane follows it.
DETAIL_DELAY = 0.04
#: Seconds without input after which a deferred full garbage collection may run.
GC_IDLE_SECONDS = 1.0

WELCOME = """\
[b]Your library is empty.[/b]

Import a Hugging Face Daily Papers digest saved as text:

    [b]readinglist import ~/Downloads/daily-papers.txt[/b]

(files, folders of *.txt, or - for stdin), then run [b]readinglist[/b] again.

Or press [b]l[/b] to load the five bundled sample digests now.
"""


class ReadingListApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "readinglist"

    BINDINGS = APP_BINDINGS

    def __init__(
        self,
        data_dir: Path,
        *,
        demo: bool = False,
        config_dir: Path | None = None,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.settings = Settings(config_dir)
        self.export_dir = export_dir or Path.cwd()
        self.library: Library | None = None
        self.searchable = False
        self._reloading = False
        self.hide_read = False
        self.filter_text = ""
        self.filter_error: str | None = None
        self._note_drafts: dict[str, str] = {}
        self._detail_timer: Timer | None = None
        self._last_input = 0.0
        theme = self.settings.load().get("theme")
        if theme in self.available_themes:  # a theme from another Textual version may be gone
            self.theme = theme
        self.sub_title = "demo library (throw-away)" if demo else str(data_dir)

    # ------------------------------------------------------------------ layout

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
        # Full (generation 2) collections scan every object the UI has made; with 100k
        # papers loaded they took 30-75 ms, a stutter mid-typing. They wait for a pause.
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(self._gc_threshold[0], self._gc_threshold[1], 1_000_000)
        self.set_interval(GC_IDLE_SECONDS, self._collect_when_idle)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.query_one(PaperList).loading = True
        # Paint the first screen before the load (which holds the GIL) starts.
        self.call_after_refresh(self._open_library)
        self.set_interval(POLL_SECONDS, self._poll)

    def on_unmount(self) -> None:
        gc.set_threshold(*self._gc_threshold)

    def _collect_when_idle(self) -> None:
        if time.monotonic() - self._last_input > GC_IDLE_SECONDS and gc.get_count()[2]:
            gc.collect()

    @work(thread=True, exclusive=True, group="library")
    def _open_library(self) -> None:
        try:
            library = Library(self.data_dir)
            library.ordered()  # sorted here, not on the UI thread
        except ReadinglistError as error:
            self.post_message(LibraryFailed(str(error)))
            return
        self.post_message(LibraryLoaded(library))
        library.search_engine()
        self.post_message(SearchReady())

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        self.library = message.library
        papers = self.query_one(PaperList)
        papers.library = message.library
        papers.loading = False
        papers.focus()
        self.query_one("#progress", ProgressBar).display = False
        self.refresh_view()

    def on_library_failed(self, message: LibraryFailed) -> None:
        self.query_one("#progress", ProgressBar).display = False
        self.query_one("#failure", Static).update(
            f"[b red]The library could not be opened.[/b red]\n\n{message.error}\n\n"
            "Nothing was changed. Press q to quit."
        )
        self.query_one("#body", ContentSwitcher).current = "failure"
        self.query_one("#status", Static).update("library not opened")

    def on_search_ready(self, _: SearchReady) -> None:
        self.searchable = True
        if self._reloading:
            self._reloading = False
            self.query_one("#progress", ProgressBar).display = False
            self.refresh_view()
        filter_input = self.query_one("#filter", Input)
        filter_input.disabled = False
        filter_input.placeholder = (
            '/ filter: words (typos ok), "phrase", tag:x, is:unread, seen:>=2, has:code'
        )
        self._update_status()

    # ------------------------------------------------------------------ view

    def refresh_view(self, keep: str | None = None) -> None:
        """Re-run the filter and redraw everything that depends on the library."""
        self._last_input = time.monotonic()
        library = self.library
        if library is None:
            return
        papers = self.query_one(PaperList)
        keep = keep or papers.highlighted
        try:
            if self.filter_text and not self.searchable:
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
        read = library.count_read(library.papers.keys())
        parts = [
            f"{total:,} papers",
            f"{library.recurring:,} recurring",
            f"{total - read:,} unread",
        ]
        if self.filter_error:
            parts.append(f"[red]{self.filter_error}[/red]")
        elif self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        if self.hide_read:
            parts.append("read hidden")
        view = f"{library.count_read(papers.ids):,}/{len(papers.ids):,} read"
        if papers.selected:
            view += f" · {len(papers.selected)} selected"
        if not self.searchable:
            view += " · indexing…"
        self.query_one("#status", Static).update(" · ".join(parts) + "  │  " + view)

    def on_paper_list_highlighted(self, message: PaperList.Highlighted) -> None:
        self._last_input = time.monotonic()
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

    def _poll(self) -> None:
        """Show what another process (a script, another window) saved meanwhile."""
        if self.library is None or self._reloading:
            return
        try:
            stale = self.library.stale()
            if "papers" in stale:
                # Another process imported digests: re-reading and re-indexing 100k papers
                # takes a second or two, so it happens in a worker, as at start.
                self._reloading = True
                self.searchable = False
                self.query_one("#progress", ProgressBar).update(total=None)
                self.query_one("#progress", ProgressBar).display = True
                self.query_one("#status", Static).update("Reloading: digests were imported…")
                self._reload_library()
            elif stale and self.library.refresh():
                self.refresh_view()
        except ReadinglistError as error:
            self.notify(str(error), title="Library problem", severity="error", timeout=10)

    @work(thread=True, exclusive=True, group="library")
    def _reload_library(self) -> None:
        assert self.library is not None
        try:
            self.library.refresh()
            self.library.search_engine()
        except ReadinglistError as error:
            self.post_message(LibraryFailed(str(error)))
            return
        self.post_message(SearchReady())

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"quit", "help", "command_palette", "change_theme"}:
            return True
        if self.library is None or self._reloading:
            return False
        if action == "load_samples":
            return not self.library.papers
        return True

    def _targets(self) -> list[str]:
        papers = self.query_one(PaperList)
        if papers.selected:
            return [pid for pid in papers.ids if pid in papers.selected] or sorted(papers.selected)
        return [papers.highlighted] if papers.highlighted else []

    def _apply(self, change: Callable[[], Change | None], keep: str | None = None) -> Change | None:
        """Run one library change; on failure say so and show what is on disk."""
        try:
            result = change()
        except ReadinglistError as error:
            self.notify(str(error), title="Not saved", severity="error", timeout=10)
            result = None
        self.refresh_view(keep)
        return result

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
        self._apply(partial(library.mark, [pid], True), keep=pid)
        following = (
            papers.ids[papers.cursor + 1 :] if papers.highlighted == pid else papers.ids[start:]
        )
        upcoming = next((p for p in following if not library.state(p).read), None)
        if upcoming is None:
            self.notify("No unread papers below this one: all caught up.", timeout=3)
        else:
            papers.move_to(upcoming)

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
        self.push_screen(screen, partial(self._save_note, pid))

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
        try:
            change = library.set_note(pid, text)
        except ReadinglistError as error:
            self._note_drafts[pid] = text  # the disk may be full: keep it in memory too
            self.notify(
                f"{error}\nYour text is kept: press n to try again.",
                title="Note not saved",
                severity="error",
                timeout=15,
            )
            self.refresh_view(pid)
            return
        library.drafts.discard(pid)
        if change:
            self.notify("Note saved.", timeout=2)
        self.refresh_view(pid)

    def action_add_tag(self) -> None:
        if targets := self._targets():
            assert self.library is not None
            prompt = f"Add tags to {count_papers(len(targets))}"
            self.push_screen(
                TagScreen(prompt, self.library.all_tags()), partial(self._tag, targets, True)
            )

    def action_remove_tag(self) -> None:
        if targets := self._targets():
            assert self.library is not None
            present = sorted({t for pid in targets for t in self.library.state(pid).tags})
            if not present:
                self.notify("No tags to remove here.", timeout=3)
                return
            self.push_screen(
                TagScreen(f"Remove tags from {count_papers(len(targets))}", present),
                partial(self._tag, targets, False),
            )

    def _tag(self, targets: list[str], add: bool, tags: list[str] | None) -> None:
        if not tags or self.library is None:
            return
        library = self.library
        change = self._apply(
            partial(library.tag, targets, tags if add else (), () if add else tags)
        )
        if change:
            self.notify(change.label, timeout=2)

    def action_undo(self) -> None:
        assert self.library is not None
        change = self._apply(self.library.undo)
        self.notify(change.label if change else "Nothing to undo.", timeout=3)

    def action_redo(self) -> None:
        assert self.library is not None
        change = self._apply(self.library.redo)
        self.notify(change.label if change else "Nothing to redo.", timeout=3)

    def action_toggle_hide_read(self) -> None:
        self.hide_read = not self.hide_read
        self.refresh_view()
        self.notify("Read papers hidden." if self.hide_read else "Read papers shown.", timeout=2)

    def action_open_paper(self) -> None:
        library, pid = self.library, self.query_one(PaperList).highlighted
        if library and pid:
            self.open_url(
                f"https://huggingface.co/papers?q={quote_plus(library.papers[pid].title)}"
            )

    def action_open_code(self) -> None:
        library, pid = self.library, self.query_one(PaperList).highlighted
        if library and pid:
            links = library.papers[pid].links
            if links:
                self.open_url(links[0])
            else:
                self.notify("This paper's abstract has no links.", timeout=3)

    def action_export(self) -> None:
        library = self.library
        assert library is not None
        ids = [pid for pid in self.query_one(PaperList).ids if library.state(pid).note]
        if not ids:
            self.notify("No paper in this view has a note: nothing to export.", severity="warning")
            return
        path = self.export_dir / f"readinglist-notes-{datetime.now():%Y%m%d-%H%M%S}.md"
        try:
            path.write_text(to_markdown(library, ids))
        except OSError as error:
            self.notify(
                f"{path}: {error.strerror or error}", title="Export failed", severity="error"
            )
            return
        self.notify(
            f"Exported {count_papers(len(ids))} with notes to {path}", title="Exported", timeout=8
        )

    def action_load_samples(self) -> None:
        progress = self.query_one("#progress", ProgressBar)
        progress.update(total=len(sample_paths()), progress=0)
        progress.display = True
        self._import_samples()

    @work(thread=True, exclusive=True, group="library")
    def _import_samples(self) -> None:
        assert self.library is not None
        try:
            report = self.library.import_files(
                sample_paths(),
                progress=lambda done, total, _: self.post_message(ImportProgress(done, total)),
            )
        except ReadinglistError as error:
            self.post_message(ImportFinished(None, str(error)))
            return
        self.library.search_engine()
        self.post_message(ImportFinished(report))

    def on_import_progress(self, message: ImportProgress) -> None:
        self.query_one("#progress", ProgressBar).update(total=message.total, progress=message.done)

    def on_import_finished(self, message: ImportFinished) -> None:
        self.query_one("#progress", ProgressBar).display = False
        if message.error or message.report is None:
            self.notify(message.error or "import failed", title="Import failed", severity="error")
        else:
            self.notify(f"Imported {message.report.new} papers from the sample digests.", timeout=4)
        self.refresh_view()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(key_help()))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in APP_BINDINGS:
            if binding.action not in {"quit", "help"}:
                yield SystemCommand(
                    binding.description,
                    f"{binding.tooltip} (key {binding.key_display or binding.key})",
                    partial(self.run_action, binding.action),
                )

    def _remember_theme(self, theme: object) -> None:
        try:
            self.settings.save(theme=self.theme)
        except OSError as error:
            self.notify(f"Could not remember the theme: {error}", severity="warning")


def create_app(data_dir: Path, **options: object) -> ReadingListApp:
    """The one app factory, shared by the CLI, the tests and the screenshot script."""
    return ReadingListApp(data_dir, **options)  # type: ignore[arg-type]


def run_app(data_dir: Path, *, demo: bool = False) -> int:
    return create_app(data_dir, demo=demo).run() or 0
