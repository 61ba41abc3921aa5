"""What the app tests share: waiting until the app is usable, and reading its status line."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Static

from readinglist.tui.app import ReadingListApp

SIZE = (120, 36)


async def ready(pilot: Pilot[int]) -> ReadingListApp:
    """Wait until the library is loaded and searchable (the worker has reported back)."""
    app = pilot.app
    assert isinstance(app, ReadingListApp)
    for _ in range(200):
        if app.searchable and app.library is not None:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    assert app.searchable
    return app


def status(app: ReadingListApp) -> str:
    return str(app.query_one("#status", Static).render())
