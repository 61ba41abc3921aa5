"""What the app tests share: waiting until the app is usable, reading its screen and status
line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from readinglist.model import EMPTY_STATE, Digest, Paper, PaperState
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


def screen_lines(app: App[Any]) -> list[str]:
    """The text on the terminal now, one string per row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def status(app: ReadingListApp) -> str:
    return str(app.query_one("#status", Static).render())


@dataclass
class FakeView:
    """A small stand-in for the read model (``reading.ReadModel``): what the list and the
    detail pane draw from, with no library behind it, so any text can be tried directly."""

    papers: dict[str, Paper] = field(default_factory=dict)
    abstracts: dict[str, str] = field(default_factory=dict)
    states: dict[str, PaperState] = field(default_factory=dict)
    digests: list[Digest] = field(default_factory=list)

    def add(self, pid: str, title: str, abstract: str, state: PaperState = EMPTY_STATE) -> None:
        digest = self.digests[0].id if self.digests else "d" * 16
        self.papers[pid] = Paper(pid, title, (), (digest,), 1)
        self.abstracts[pid] = abstract
        self.states[pid] = state

    def state(self, pid: str) -> PaperState:
        return self.states.get(pid, EMPTY_STATE)

    def abstract(self, pid: str) -> str:
        return self.abstracts[pid]

    def digest_list(self, pid: str) -> list[Digest]:
        return [d for d in self.digests if d.id in self.papers[pid].digests]

    def ordered(self) -> list[str]:
        return list(self.papers)
