"""Link chooser: a paper's links numbered as in the detail pane, one key to open one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from readinglist.tui.text import literal_line

#: Entries that get a digit key (1–9); the rest are chosen with the cursor and Enter.
DIGITS = 9


class LinkScreen(ModalScreen[str | None]):
    """Lists ``links`` as ``(label, url)`` numbered ``[1]``… like the detail pane; a digit
    or Enter on a row dismisses with that URL, Escape with None. A label that is empty or
    the URL itself is not repeated."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        *(Binding(str(n), f"pick({n})", show=False) for n in range(1, DIGITS + 1)),
    ]

    def __init__(self, title: str, links: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.links = links

    def compose(self) -> ComposeResult:
        with Vertical(id="link-dialog"):
            yield Label(literal_line(self.title_text, "bold"), id="link-title")
            yield OptionList(
                *(
                    Option(self._row(number, label, url), id=str(number))
                    for number, (label, url) in enumerate(self.links, 1)
                ),
                id="link-options",
            )
            count = min(len(self.links), DIGITS)
            keys = "1" if count == 1 else f"1–{count}"
            hint = f"{keys} or Enter opens · Esc closes" if self.links else "No links · Esc closes"
            yield Label(Content(hint), id="link-hint")

    @staticmethod
    def _row(number: int, label: str, url: str) -> Content:
        parts: list[Content | tuple[str, str] | str] = [(f"[{number}] ", "bold")]
        if label and label != url:
            parts += [literal_line(label), "  "]
        parts.append(literal_line(url, "dim" if label and label != url else ""))
        return Content.assemble(*parts)

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.links):
            self.dismiss(self.links[number - 1][1])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.links[event.option_index][1])

    def action_cancel(self) -> None:
        self.dismiss(None)
