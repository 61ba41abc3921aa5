"""The triage app: a thin Textual layer over :class:`readinglist.library.Library`.

The app owns the library's lifecycle: it opens it (and builds its search index) in a thread
worker that reports back with typed messages, so the first screen appears at once whatever
the library's size; it notices what other processes saved; it imports the samples. The
triage screen (:mod:`readinglist.tui.screens.main`) shows the library and changes it.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import events, work
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from readinglist.config import DEFAULT_KEYS, load_config
from readinglist.device import copied_note
from readinglist.errors import FetchError, ReadinglistError
from readinglist.library import Library
from readinglist.reading import Letters, ReadModel, release_freed_memory
from readinglist.reports import ImportReport
from readinglist.safetext import printable, printable_line
from readinglist.samples import sample_paths
from readinglist.tui import crash
from readinglist.tui.keys import APP_BINDINGS
from readinglist.tui.messages import (
    FetchFinished,
    FetchProgress,
    FirstKeysReady,
    ImportFinished,
    ImportProgress,
    LibraryFailed,
    LibraryLoaded,
    SearchReady,
)
from readinglist.tui.screens.main import MainScreen
from readinglist.tui.settings import Settings

#: Seconds between checks for changes saved by another process (e.g. the CLI).
POLL_SECONDS = 2.0
#: Seconds without input after which the work put off for a pause runs (``_when_idle``).
IDLE_SECONDS = 1.0
#: The reader counts as typing until this long after their last key (``last_key``): the
#: first letters' lookups wait (``_look_up_next_letter``).
TYPING_SECONDS = 0.5
#: Seconds between two of those lookups (each ~13 ms at 100k papers), so that other
#: events get their turn.
LETTER_SECONDS = 0.02


class ReadingListApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "readinglist"

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
        self.config, self._config_problem = load_config(config_dir)
        self.export_dir = export_dir or Path.cwd()
        self.library: Library | None = None
        #: The read model the screens draw: adopted on the UI thread from workers' messages
        #: and after each change, never changed in place (see ``adopt``).
        self.view: ReadModel | None = None
        #: The search index is built: filtering works.
        self.searchable = False
        #: Re-reading what another process imported: changes wait.
        self.reloading = False
        #: A fetch from the Daily Papers API is under way.
        self.fetching = False
        #: When the user last typed or moved (some work waits for a pause: ``_when_idle``).
        self.last_input = 0.0
        #: When the reader last pressed a key (the first letters' lookups wait for a rest).
        self.last_key = 0.0
        #: The index whose filters were made ready once the reader paused.
        self._prefixed: object = None
        #: The view whose commonest first letters are being looked up and the lookups left
        #: (``_look_up_next_letter``); None once done.
        self._letters: tuple[ReadModel, Iterator[Letters]] | None = None
        #: The library read whole, to save folded at the reader's next pause (``_fold``).
        self._unfolded: Library | None = None
        #: What the collector is kept from scanning until the next pause (``spare_young``).
        self._spared = False
        #: The command started with the collector off (``readinglist.__main__``): on again
        #: once the first rows are drawn (``_started``). Read here, before any worker runs
        #: (a worker may pause it for a while: ``catalog.gc_paused``).
        self._collector_off = not gc.isenabled()
        self.main = MainScreen()
        theme = self.settings.load().get("theme")
        if theme in self.available_themes:  # a theme from another Textual version may be gone
            self.theme = theme
        self.sub_title = "demo library (throw-away)" if demo else printable_line(str(data_dir))
        #: Where the traceback of a crash was written (see ``_fatal_error``).
        self.crash_line: str | None = None

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def on_mount(self) -> None:
        # Full (generation 2) collections scan every object the UI has made; with 100k
        # papers loaded they took 30-75 ms, a stutter mid-typing. They wait for a pause.
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(self._gc_threshold[0], self._gc_threshold[1], 1_000_000)
        self.set_interval(IDLE_SECONDS, self._when_idle)
        self._letter_timer = self.set_interval(
            LETTER_SECONDS, self._look_up_next_letter, pause=True
        )
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.set_interval(POLL_SECONDS, self._poll)
        changed = {k: v for k, v in self.config.keys.items() if v != DEFAULT_KEYS[k]}
        if changed:
            self.set_keymap(changed)
        if self._config_problem:
            self.notify(self._config_problem, title="config.toml", severity="warning", timeout=15)

    def on_unmount(self) -> None:
        gc.unfreeze()
        gc.set_threshold(*self._gc_threshold)
        if self.library is not None:
            self.library.save_merge()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.last_key = time.monotonic()
        await super().on_event(event)

    def _when_idle(self) -> None:
        """Work put off until the reader pauses: full collections, and once the library
        is searchable, what the first screens could do without (``MainScreen.at_rest``),
        saving the catalog folded and making ready what the filters read of every paper (in
        workers)."""
        if time.monotonic() - self.last_input <= IDLE_SECONDS:
            return
        if self.library is not None:
            self.library.save_merge()  # held back while deciding (``merge_saved_later``)
        if self.searchable:
            self.main.at_rest()
            if self._unfolded is not None:
                self._fold(self._unfolded)
                self._unfolded = None
            engine = self.view.engine if self.view is not None else None
            if engine is not None and engine is not self._prefixed:
                self._prefixed = engine
                self._look_up_first_keys(weakref.ref(self.view))
        if self._spared or gc.get_count()[2]:
            gc.unfreeze()
            self._spared = False
            gc.collect()

    def spare_young(self) -> None:
        """Keep what exists now from the young collections until the reader pauses.

        A one-letter query's answer is lists and sets of ~50k entries at 100k papers, and the
        collections that the allocations of its frame set off scanned them twice (9-10 ms of
        the key). ``gc.freeze()`` takes every object out of their reach at no cost; the
        next pause puts them back and collects everything (``_when_idle``), so nothing
        stays out past it, a replaced catalog included.
        """
        gc.freeze()
        self._spared = True

    # ------------------------------------------------------------------ errors

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications are literal text: they carry titles, paths and error messages.

        ``Screen.notify`` passes ``markup=True`` by default; it is ignored here on purpose,
        so no caller can render data as markup by forgetting the flag.
        """
        super().notify(
            printable(message),
            title=printable_line(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def _handle_exception(self, error: Exception) -> None:
        log = crash.write_log(error, "the app crashed")
        self.crash_line = crash.one_line(error, log, "the app crashed")
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        # Textual's hook for an unhandled exception prints a full-screen traceback; the user
        # gets one line pointing at the log instead (Textual has no public hook for this).
        self.bell()
        self._exit_renderables.append(Text(self.crash_line or "readinglist: the app crashed"))
        self._close_messages_no_wait()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A background job that failed unexpectedly is reported, and the app keeps going."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        log = crash.write_log(error, f"background job {event.worker.name!r} failed")
        message = crash.one_line(error, log, f"a background job ({event.worker.name}) failed")
        if event.worker.group == "library":  # a reload that failed: changes need not wait
            self.reloading = False
        if event.worker.group == "fetch":  # nothing was imported: say so, drop the bar
            self.main.fetch_finished(FetchFinished(None, error=message))
        elif self.library is None:
            self._not_opened(message)
        else:
            self.notify(message, title="Something went wrong", severity="error", timeout=15)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group="library", exit_on_error=False)
    def open_library(self) -> None:
        """Open the library and post it, then its search index (the main screen asks once
        it is composed, so that what the library brings finds its widgets)."""
        try:
            library = Library(self.data_dir)
            view = library.view(indexed=False)
            # Built here rather than on the UI thread (~40 ms of first rows at 100k papers).
            view.catalog.slots, view.ordered()
        except ReadinglistError as error:
            self.post_message(LibraryFailed(str(error)))
            return
        # The rows first; then the index, built from the immutable catalog alone, since the
        # library belongs to the UI thread once posted (0.1 s sooner to rows at 100k).
        self.post_message(LibraryLoaded(library, view))
        self.post_message(SearchReady(view.indexed()))

    def _look_up_next_letter(self) -> None:
        """One of the commonest one-letter lookups (~13 ms at 100k papers), on this thread
        between keys, from the time the index is built: a query's first key typed before
        the first pause found them cold (~20 ms of the key). In a worker they held the GIL
        against the first frames of the searchable list (searchable ~0.1 s later at 100k);
        here a key waits for one letter at most, and none is looked up while the reader
        types (``TYPING_SECONDS``)."""
        if self._letters is None or time.monotonic() - self.last_key < TYPING_SECONDS:
            return
        view, letters = self._letters
        step = next(letters, None)
        if step is None:
            self._letters = None
            self._letter_timer.pause()
            return
        view.keep_first_letters(step)

    @work(thread=True, group="prefixes", exit_on_error=False)
    def _look_up_first_keys(self, view: weakref.ref[ReadModel]) -> None:
        # Held weakly: a finished worker outlives its run (a context Textual keeps refers to
        # it), and must not keep a replaced catalog and its index alive (tested).
        current = view()
        if current is not None:
            self.post_message(FirstKeysReady(current, current.first_keys()))

    def on_first_keys_ready(self, message: FirstKeysReady) -> None:
        message.view.keep_first_keys(message.ready)  # the index is queried on this thread

    def adopt(self, view: ReadModel) -> None:
        """Draw from ``view`` from now on, unless a newer one was adopted already."""
        if self.view is None or view.version >= self.view.version:
            replaced = self.view is not None and self.view.catalog is not view.catalog
            self.view = view
            if replaced:
                self._prefixed = None  # the old index, gone with its catalog
                self._letters = None  # an old index's lookups
                release_freed_memory()

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        self.library = message.library
        self.library.merge_saved_later = True
        self.adopt(message.view)
        self.main.library_loaded()
        self.call_after_refresh(self._started)
        if self.library.device.replaced:  # only the process that gave the new id: once
            note = copied_note(self.library.device)
            self.notify(note, title="This machine", severity="warning", timeout=20)
        for warning in self.library.warnings:
            self.notify(warning, title="Library", severity="warning", timeout=30)

    def on_library_failed(self, message: LibraryFailed) -> None:
        self._not_opened(message.error)

    def _not_opened(self, error: str) -> None:
        self.main.library_failed(error)
        self._started()

    def _started(self) -> None:
        """The collector back on, if the command started with it off, once the first rows
        are drawn; what the start made waits for the first pause."""
        if self._collector_off:
            self._collector_off = False
            self.spare_young()
            gc.enable()

    def on_search_ready(self, message: SearchReady) -> None:
        if self.library is not None:
            self.library.keep_index(message.view)
            self._unfolded = self.library
        self.adopt(message.view)
        self.searchable = True
        self._letters = message.view, message.view.first_letters()
        self.call_after_refresh(self._letter_timer.resume)  # once the list is searchable
        reloaded, self.reloading = self.reloading, False
        self.main.search_ready()
        if reloaded:
            self.main.papers_arrived()

    def _poll(self) -> None:
        """Show what another process (a script, another window) saved meanwhile."""
        if self.library is None or self.reloading:
            return
        try:
            stale = self.library.stale()
            if "journals" in stale:
                # Another process, or another device through a sync engine, changed the
                # journals: they may hold imports, and re-reading and re-indexing 100k papers
                # takes a second or two, so it happens in a worker, as at start.
                self.reloading = True
                self.searchable = False
                self.main.busy("Reloading: the library changed elsewhere…")
                self._reload_library()
            elif stale and self.library.refresh():
                self.adopt(self.library.view())
                self.main.refresh_view()
        except ReadinglistError as error:
            self.notify(str(error), title="Library problem", severity="error", timeout=10)

    @work(thread=True, group="writes", exit_on_error=False)
    def _fold(self, library: Library) -> None:
        """Save the catalog folded (``Library.fold``), off the UI thread once the reader
        pauses: at 100k papers after an import ~0.15 s of CPU (writing 18 MB), which slowed
        the keys typed right after the index was ready."""
        library.fold()

    @work(thread=True, exclusive=True, group="library", exit_on_error=False)
    def _reload_library(self) -> None:
        assert self.library is not None
        try:
            self.library.refresh()
            view = self.library.view()
        except ReadinglistError as error:
            self.post_message(LibraryFailed(str(error)))
            return
        self.post_message(SearchReady(view))

    @work(thread=True, exclusive=True, group="library", exit_on_error=False)
    def import_samples(self) -> None:
        assert self.library is not None
        try:
            report = self.library.import_files(
                sample_paths(),
                progress=self._import_progress,
            )
        except ReadinglistError as error:
            self.post_message(ImportFinished(None, str(error)))
            return
        self.post_message(ImportFinished(report, view=self.library.view()))

    def fetch_papers(self) -> None:
        """Fetch the days since the last fetch, in the background; once only at a time."""
        if self.fetching or self.library is None:
            return
        self.fetching = True
        self._fetch_worker(self.library)

    @work(thread=True, exclusive=True, group="fetch", exit_on_error=False)
    def _fetch_worker(self, library: Library) -> None:
        """Fetch, then import the days in one go. When the API cannot be reached (offline,
        an HTTP error) nothing is imported, so the library is unchanged and ``f`` can try
        again; a day whose answer is unusable is left out and named, like the CLI does."""
        # Only when fetching: ~10 ms of every start (the digest parser, fetch's HTTP).
        from readinglist import dailypapers
        from readinglist.fetch import fetch_day

        problems: list[str] = []
        try:
            days = library.days_to_fetch()
            found: list[dailypapers.DayDigest] = []
            for number, day in enumerate(days):
                self.post_message(FetchProgress(number, len(days), day.isoformat()))
                try:
                    fetched_day = fetch_day(day)
                except dailypapers.Unreachable:
                    raise
                except FetchError as error:
                    problems.append(str(error))
                    continue
                if fetched_day.papers:
                    found.append(dailypapers.to_digest(fetched_day))
            self.post_message(FetchProgress(len(days), len(days), ""))
            report = library.import_files(found) if found else ImportReport(())
            view = library.view()
        except ReadinglistError as error:  # a FetchError names the day
            self.post_message(FetchFinished(None, error=str(error)))
            return
        finally:
            self.fetching = False
        empty = len(days) - len(found) - len(problems)
        self.post_message(
            FetchFinished(report, len(days), empty, problems=tuple(problems), view=view)
        )

    def on_fetch_progress(self, message: FetchProgress) -> None:
        self.main.fetch_progress(message.done, message.total, message.day)

    def on_fetch_finished(self, message: FetchFinished) -> None:
        if message.view is not None:
            self.adopt(message.view)
        self.main.fetch_finished(message)

    def _import_progress(self, done: int, total: int, _: str) -> None:
        self.post_message(ImportProgress(done, total))

    def on_import_progress(self, message: ImportProgress) -> None:
        self.main.progress(message.done, message.total)

    def on_import_finished(self, message: ImportFinished) -> None:
        if message.view is not None:
            self.adopt(message.view)
        self.main.import_finished(message.report, message.error)

    # ------------------------------------------------------------------ palette, settings

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        keys = self.config.keys
        for binding in APP_BINDINGS:
            if binding.tooltip and binding.action not in {"app.quit", "help"}:
                key = keys.get(binding.id or "", binding.key_display or binding.key)
                yield SystemCommand(
                    binding.description,
                    f"{binding.tooltip} (key {key})",
                    partial(self.main.run_action, binding.action),
                )
        for name, query in self.config.views.items():
            yield SystemCommand(
                f"View: {name}", f"filter: {query}", partial(self.main.show_view, query)
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
    """Run the app; 1 when it crashed (the one-line pointer to the log is already printed)."""
    app = create_app(data_dir, demo=demo)
    app.run()
    return app.return_code or 0
