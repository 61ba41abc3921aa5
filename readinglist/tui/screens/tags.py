"""Tag prompt: one line, completing from tags already in use."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from readinglist.tui.text import literal_line


class TagScreen(ModalScreen[list[str]]):
    """Dismisses with the tags typed (space or comma separated); an empty list cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, choices: list[str]) -> None:
        super().__init__()
        self.prompt = prompt
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="tag-dialog"):
            yield Label(literal_line(self.prompt))
            yield Input(
                placeholder="tag (→ completes; several: space separated)",
                suggester=SuggestFromList(self.choices, case_sensitive=False),
                id="tag-input",
            )
            hint = "in use: " + " ".join(self.choices[:12]) if self.choices else "no tags yet"
            yield Label(literal_line(hint), id="tag-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss([t for t in event.value.replace(",", " ").split() if t])

    def action_cancel(self) -> None:
        self.dismiss([])
