"""Snooze prompt: how many days until the papers are back in the inbox."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from readinglist.tui.text import literal_line
from readinglist.tui.widgets.ordered_keys import TextInput

#: The longest snooze: a year is already "never", and a typo must not hide a paper for ages.
MAX_SNOOZE_DAYS = 365


class SnoozeScreen(ModalScreen[int | None]):
    """Dismisses with a number of days (1–365), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, default: int) -> None:
        super().__init__()
        self.prompt = prompt
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="snooze-dialog"):
            yield Label(literal_line(self.prompt))
            yield TextInput(value=str(self.default), type="integer", max_length=3, id="snooze-days")
            yield Label(f"days (1–{MAX_SNOOZE_DAYS}); Enter snoozes, Esc cancels", id="snooze-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        days = int(event.value) if event.value.strip().isdigit() else 0
        if 1 <= days <= MAX_SNOOZE_DAYS:
            self.dismiss(days)
        else:
            self.query_one("#snooze-hint", Label).update(
                f"a whole number of days from 1 to {MAX_SNOOZE_DAYS}, please"
            )

    def action_cancel(self) -> None:
        self.dismiss(None)
