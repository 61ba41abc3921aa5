"""The detail pane: everything about the highlighted paper, note rendered as Markdown."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from readinglist.library import Library


class DetailPane(VerticalScroll, can_focus=False):
    """Shows one paper; updated by the app when the list's cursor moves."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="detail-meta")
        yield Static(id="detail-abstract")
        yield Markdown(id="detail-note")

    _shown: tuple[str | None, int] | None = None

    def show(self, library: Library | None, pid: str | None) -> None:
        """Display ``pid``; a no-op when it and the library are unchanged (most keystrokes)."""
        key = (pid, library.version if library else -1)
        if key == self._shown:
            return
        self._shown = key
        title = self.query_one("#detail-title", Static)
        meta = self.query_one("#detail-meta", Static)
        abstract = self.query_one("#detail-abstract", Static)
        note = self.query_one("#detail-note", Markdown)
        if library is None or pid is None or pid not in library.papers:
            title.update("")
            meta.update("")
            abstract.update(Text("No paper here. Clear the filter with Escape.", style="italic"))
            note.update("")
            return
        paper, state = library.papers[pid], library.state(pid)
        title.update(Text(paper.title, style="bold"))
        digests = library.digest_list(pid)
        seen = "1 digest" if paper.seen == 1 else f"{paper.seen} digests"
        lines = Text()
        lines.append(f"Seen in {seen}: ", style="bold")
        lines.append(", ".join(d.label for d in digests))
        lines.append("\nStatus: ", style="bold")
        lines.append(
            f"read {state.read_at[:10]}"
            if state.read and state.read_at
            else "read"
            if state.read
            else "unread"
        )
        lines.append(f" · id {pid}", style="dim")
        if state.tags:
            lines.append("\nTags: ", style="bold")
            lines.append(" ".join(f"#{t}" for t in state.tags))
        for link in paper.links:
            lines.append("\n")
            lines.append(link, style=f"underline link {link}")
        meta.update(lines)
        abstract.update(paper.abstract)
        note.update(f"---\n\n**Note**\n\n{state.note}" if state.note else "")
        self.scroll_home(animate=False)
