"""The detail pane: everything about the highlighted paper, note rendered as Markdown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.style import Style
from textual.widgets import Markdown, Static

from readinglist.library import Library
from readinglist.model import plural
from readinglist.safetext import printable, printable_line
from readinglist.tui.text import literal, literal_line


class DetailPane(VerticalScroll, can_focus=False):
    """Shows one paper; updated by the app when the list's cursor moves."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="detail-meta")
        yield Static(id="detail-abstract")
        yield Markdown(id="detail-note")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: What each part shows now: re-rendering a long abstract or a Markdown note costs
        #: more than the whole list, so only parts whose content changed are updated.
        self._shown: dict[str, object] = {}

    def _update(self, part: str, key: object, content: object) -> None:
        if self._shown.get(part, self) != key:
            self._shown[part] = key
            widget = self.query_one(f"#detail-{part}")
            widget.update(content)  # type: ignore[attr-defined]

    def show(self, library: Library | None, pid: str | None) -> None:
        """Display ``pid``; parts whose content is unchanged are left alone."""
        if library is None or pid is None or pid not in library.papers:
            self._update("title", None, "")
            self._update("meta", None, "")
            self._update(
                "abstract",
                None,
                Content.styled("No paper here. Clear the filter with Escape.", "italic"),
            )
            self._update("note", None, "")
            return
        paper, state = library.papers[pid], library.state(pid)
        if self._shown.get("title") != pid:
            self.scroll_home(animate=False)
        self._update("title", pid, literal_line(paper.title, "bold"))
        self._update("abstract", pid, literal(paper.abstract))
        self._update("meta", (pid, state, paper.seen), self._meta(library, pid))
        note = f"---\n\n**Note**\n\n{printable(state.note)}" if state.note else ""
        self._update("note", note, note)

    def _meta(self, library: Library, pid: str) -> Content:
        paper, state = library.papers[pid], library.state(pid)
        digests = library.digest_list(pid)
        seen = plural(paper.seen, "digest")
        parts: list[Content | tuple[str, str | Style] | str] = [
            (f"Seen in {seen}: ", "bold"),
            literal_line(", ".join(d.label for d in digests)),
            ("\nStatus: ", "bold"),
            state.summary,
            (f" · id {pid}", "dim"),
        ]
        if state.tags:
            parts += [("\nTags: ", "bold"), literal_line(" ".join(f"#{t}" for t in state.tags))]
        for link in paper.links:
            parts += ["\n", (printable_line(link), Style(underline=True, link=link))]
        return Content.assemble(*parts)
