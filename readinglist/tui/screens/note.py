"""The note editor: a modal TextArea that always saves, whichever way it is closed."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from readinglist.tui.text import literal_line
from readinglist.tui.widgets.ordered_keys import OrderedKeys


class NoteArea(OrderedKeys, TextArea):
    """The note editor's text (here, not with the other fields: importing Textual's
    ``TextArea`` took ~8 ms of every start)."""


#: Seconds between draft saves while typing.
AUTOSAVE_SECONDS = 2.0


class NoteScreen(ModalScreen[str]):
    """Dismisses with the note's text on ``ctrl+s`` *and* on ``escape``: nothing typed is lost.

    While open, changed text is handed to ``autosave`` every few seconds, so even a killed
    terminal leaves a draft to recover.
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save and close", priority=True),
        Binding("escape", "save", "Save and close", priority=True),
    ]

    def __init__(self, title: str, text: str, autosave: Callable[[str], None]) -> None:
        super().__init__()
        self.paper_title = title
        self.text = text
        self.autosave = autosave

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog"):
            yield Label(literal_line(self.paper_title), id="note-title")
            yield NoteArea(self.text, id="note-text", soft_wrap=True, show_line_numbers=False)
            yield Label("Markdown. ctrl+s or Esc saves and closes.", id="note-hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        self.set_interval(AUTOSAVE_SECONDS, self._autosave)

    def _autosave(self) -> None:
        text = self.query_one(TextArea).text
        if text != self.text:
            self.text = text
            self.autosave(text)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)
