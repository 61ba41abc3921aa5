"""Help: every key the app answers to, generated from the live bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from readinglist.query import FILTERS

QUERY_HELP = "Filter: words match titles and tags (typos and accents forgiven) · " + " · ".join(
    ['"exact phrase"', "-negates", *FILTERS.values()]
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, description in self.keys:
            table.add_row(Text(key), Text(description))  # literal: "[presets]" is no markup
        with VerticalScroll(id="help-dialog"):
            yield Static(
                Content.assemble(("readinglist keys", "bold"), " · Esc, q or ? closes"),
                id="help-title",
            )
            yield Static(table)
            yield Static(Content(QUERY_HELP), id="help-query")
