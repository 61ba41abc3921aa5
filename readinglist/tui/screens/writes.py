"""Changes to the library in order, never freezing the app behind another writer.

A change runs at once when nobody else holds the library's lock (a couple of ms). When
another process does (a script, a stalled writer), changes queue up in order and run one
by one in a worker, the status line says whom they wait for, and each reports back with a
:class:`WriteDone` message. The queue is owned by the UI thread; the worker only runs the
change it is handed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from textual import work
from textual.screen import Screen

from readinglist.errors import ReadinglistError
from readinglist.library import Holder, Library
from readinglist.reading import ReadModel
from readinglist.reports import Change
from readinglist.tui.messages import LockWait, WriteDone

_Pending = tuple[
    Callable[[], "Change | None"], str | None, Callable[["Change | None"], None] | None, str | None
]


class WritingScreen(Screen[None]):
    """A screen that changes the library: :meth:`_apply` is its one way to do it."""

    def __init__(self) -> None:
        super().__init__()
        #: Changes waiting for another writer, in order (the arguments of ``_apply``).
        self._pending: deque[_Pending] = deque()

    @property
    def library(self) -> Library | None:
        raise NotImplementedError

    def adopt(self, view: ReadModel) -> None:
        """Draw from ``view`` from now on (the app holds it; the screen reaches it)."""
        raise NotImplementedError

    def refresh_view(
        self, keep: str | None = None, *, reopen: bool = False, top: bool = False
    ) -> None:
        """Show what the library holds now (the screen defines it)."""
        raise NotImplementedError

    def busy(self, message: str, total: int | None = None) -> None:
        """Show ``message`` with a progress bar (the screen defines it)."""
        raise NotImplementedError

    def hide_progress(self) -> None:
        raise NotImplementedError

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
                    self._finish(*_attempt(change, library), keep, then, failed)
                    return
        self._pending.append((change, keep, then, failed))
        if len(self._pending) == 1:
            self._write_in_background(change, library)

    @work(thread=True, group="writes", exit_on_error=False)
    def _write_in_background(self, change: Callable[[], Change | None], library: Library) -> None:
        self.post_message(WriteDone(*_attempt(change, library)))

    def on_write_done(self, message: WriteDone) -> None:
        _, keep, then, failed = self._pending.popleft()
        if self._pending:
            assert self.library is not None
            self._write_in_background(self._pending[0][0], self.library)
        else:
            self.hide_progress()
        self._finish(message.change, message.error, message.view, keep, then, failed)

    def on_lock_wait(self, message: LockWait) -> None:
        who = message.holder.describe() if message.holder else "another process"
        self.busy(f"Waiting for readinglist, {who}, to finish writing…")

    def _finish(
        self,
        change: Change | None,
        error: str | None,
        view: ReadModel,
        keep: str | None,
        then: Callable[[Change | None], None] | None,
        failed: str | None,
    ) -> None:
        if error is not None:
            hint = f"\n{failed}" if failed else ""
            self.notify(error + hint, title="Not saved", severity="error", timeout=10)
        self.adopt(view)
        self.refresh_view(keep)
        if then is not None and error is None:
            then(change)

    def _lock_wait(self, holder: Holder | None) -> None:
        """Called in whichever thread waits for the lock: say so through a message."""
        self.post_message(LockWait(holder))


def _attempt(
    change: Callable[[], Change | None], library: Library
) -> tuple[Change | None, str | None, ReadModel]:
    """Run ``change``; what it saved, or the one-line reason it saved nothing, and the
    library right after it (taken in the thread that changed it)."""
    try:
        return change(), None, library.view()
    except ReadinglistError as error:
        return None, str(error), library.view()
