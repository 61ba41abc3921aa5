"""The note editor: a modal TextArea that always saves, whichever way it is closed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea


class NoteScreen(ModalScreen[str]):
    """Dismisses with the note's text on ``ctrl+s`` *and* on ``escape``: nothing typed is lost."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save and close", priority=True),
        Binding("escape", "save", "Save and close", priority=True),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.paper_title = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog"):
            yield Label(self.paper_title, id="note-title")
            yield TextArea(self.text, id="note-text", soft_wrap=True, show_line_numbers=False)
            yield Label("Markdown. ctrl+s or Esc saves and closes.", id="note-hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)
