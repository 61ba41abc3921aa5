"""The detail pane: everything about the highlighted paper, the note above the abstract.

Order: title, meta (where it was seen, status, tags), links, the note (Markdown), the
abstract; so a reader sees their own note without scrolling past a long abstract.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from itertools import groupby
from typing import TYPE_CHECKING

from textual import events
from textual.containers import VerticalScroll
from textual.content import Content
from textual.style import Style
from textual.widgets import Static

from readinglist.model import Digest, day_label, paper_facts, paper_links, plural
from readinglist.query import fold, loose_date, word_matches, words_of
from readinglist.reading import Reading
from readinglist.safetext import printable
from readinglist.tui.text import literal, literal_line

if TYPE_CHECKING:
    from textual.widgets import Markdown

#: How the words of the filter are marked in the title and the abstract.
HIGHLIGHT = "reverse"
#: Authors named in the pane at most.
AUTHORS_SHOWN = 12
#: Shown when there is no paper to show.
NOTHING = "No paper here. Clear the filter with Escape."


def sighting(digest: Digest) -> tuple[date, str]:
    """When a digest saw its papers, and how to say it.

    A dated digest (``Mar 13``) keeps its own label; its year, usually unwritten, is taken
    as the last one in which that day is not after the import. A digest without a date (the
    compact layout) is shown by the day it was imported, never by its file name.
    """
    imported = digest.imported_day()
    parsed = loose_date(digest.date) if digest.date else None
    if digest.date is None or parsed is None or imported == date.min:
        return imported, digest.date or (day_label(imported) if imported > date.min else "?")
    year, month, day = parsed
    if year is None:
        year = imported.year - ((month, day or 1) > (imported.month, imported.day))
    try:
        return date(year, month, day or 1), digest.date
    except ValueError:  # "Feb 29" of a year without one
        return imported, digest.date


def provenance(digests: Sequence[Digest]) -> str:
    """``Apr 9, Mar 13 ×2, Mar 12 · first Mar 12``: sightings newest first (digests of the
    same label counted once, ``×2``), then the earliest.

    ``digests`` come newest import first (``Library.digest_list``), which breaks ties.
    """
    seen = sorted(((*sighting(d), -n) for n, d in enumerate(digests)), key=lambda s: (s[0], s[2]))
    runs = [(label, len(list(run))) for label, run in groupby(s[1] for s in reversed(seen))]
    labels = ", ".join(label if n == 1 else f"{label} ×{n}" for label, n in runs)
    return f"{labels} · first {seen[0][1]}" if len(seen) > 1 else labels


def authors_line(authors: Sequence[str]) -> str:
    """``A, B, C and 47 more``: a big collaboration's list would push the abstract away."""
    shown = ", ".join(authors[:AUTHORS_SHOWN])
    rest = len(authors) - AUTHORS_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown


def folded_positions(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` made char by char, and for each folded char the index it came from.

    Folding can change the length ("ß" → "ss", a combining accent → nothing), so matches
    found in the folded text are mapped back through this table rather than by offset.
    """
    if text.isascii():
        return text.casefold(), list(range(len(text) + 1))
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        part = fold(char)
        folded.append(part)
        origin += [index] * len(part)
    origin.append(len(text))
    return "".join(folded), origin


@lru_cache(maxsize=64)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of ``words`` at the start of a word (longest first, so ``state`` beats ``sta``)."""
    unique = sorted({fold(w) for w in words if w}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, unique)) + ")")


def highlight_spans(text: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) in ``text`` of each word one of ``words`` matches as the query matches
    titles (:func:`textindex.word_matches`: exactly, as a prefix or with a typo), compared
    case- and diacritic-insensitively."""
    queries = [fold(w) for w in words if w]
    typo_matched = {
        word
        for word in words_of(text)
        if not any(word.startswith(q) for q in queries)
        and any(word_matches(q, word) for q in queries)
    }
    pattern = _words_pattern((*words, *typo_matched))
    if pattern is None:
        return []
    folded, origin = folded_positions(text)
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(folded):
        # The end takes in what folded to nothing after the match (a combining accent).
        start = origin[match.start()]
        end = max(origin[match.end() - 1] + 1, origin[match.end()])
        if spans and start < spans[-1][1]:
            continue  # the same character matched twice through an expansion
        spans.append((start, end))
    return spans


def highlighted(content: Content, words: Sequence[str]) -> Content:
    """``content`` with ``words`` marked in it (its text unchanged)."""
    for start, end in highlight_spans(content.plain, words):
        content = content.stylize(HIGHLIGHT, start, end)
    return content


#: The parts of the pane, top to bottom; the note, when there is one, above the abstract.
PARTS = ("title", "meta", "links", "abstract")


class DetailPane(VerticalScroll, can_focus=False):
    """Shows one paper; updated by the app when the list's cursor moves."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: What each part shows now: re-rendering a long abstract or a Markdown note costs
        #: more than the whole list, so only parts whose content changed are updated.
        self._shown: dict[str, object] = {}
        #: The paper shown, so moving to another one starts at its top.
        self._pid: str | None = None
        #: The note's widget, made for the first note shown (see ``compose``).
        self._note_view: Markdown | Static | None = None
        #: Notes are rendered as Markdown once :meth:`enable_markdown` was called, and shown
        #: as their plain text before. Importing Textual's Markdown (markdown-it) costs
        #: ~60 ms, which the app spends once the reader pauses: a note on the first paper
        #: otherwise delayed the search index and the first query by as much at 100k.
        self.markdown = False

    def _parts(self) -> None:
        """Its parts, made when the first paper is shown: composed with the pane, they
        were ~12 ms of the first rows at 10k papers, which are drawn before any paper is
        shown. No note widget until a note is shown (see ``_show_note``)."""
        if not self.children:
            self.mount_all(Static(id=f"detail-{part}") for part in PARTS)

    def _update(self, part: str, key: object, content: object) -> None:
        if self._shown.get(part, self) != key:
            self._shown[part] = key
            if part == "note":  # in order with the notes before it, once mounted
                self.call_later(self._show_note, str(content))
                return
            widget = self.query_one(f"#detail-{part}")
            if content:  # an empty part is hidden: a first empty note costs a Markdown
                widget.update(content)  # type: ignore[attr-defined]  # parser (70 ms)
            widget.display = bool(content)

    def show(self, library: Reading | None, pid: str | None, words: Sequence[str] = ()) -> None:
        """Display ``pid``, marking ``words`` (the filter's free words, as
        ``parse_query(text).words`` gives them) in its title and abstract.

        Parts whose content is unchanged are left alone.
        """
        self._parts()
        if library is None or pid is None or pid not in library.papers:
            self._pid = None
            self._update("title", None, "")
            self._update("meta", None, "")
            self._update("links", None, "")
            self._update("note", None, "")
            self._update("abstract", None, Content.styled(NOTHING, "italic"))
            return
        paper, state = library.papers[pid], library.state(pid)
        if pid != self._pid:
            self._pid = pid
            self.scroll_home(animate=False)
        words = tuple(words)
        title = literal_line(paper.title, "bold")
        self._update("title", (pid, words), highlighted(title, words) if words else title)
        self._update("meta", (pid, state, paper.seen, paper.meta), self._meta(library, pid))
        links = paper_links(paper)
        self._update("links", (pid, links), self._links(links))
        self._update("note", state.note, state.note)
        abstract = literal(library.abstract(pid))
        self._update("abstract", (pid, words), highlighted(abstract, words) if words else abstract)

    def enable_markdown(self) -> None:
        """Render notes as Markdown from now on, the one shown too (see ``markdown``)."""
        if not self.markdown:
            self.markdown = True
            note = self._shown.get("note")
            if isinstance(note, str) and note:
                self.call_later(self._show_note, note)

    async def _show_note(self, note: str) -> None:
        """Show ``note``, or hide the note when empty. The widget is made for the first
        note shown (and again once Markdown is enabled), above the abstract, and mounted
        before it is updated. An empty note costs no widget: a Markdown parser is ~70 ms."""
        widget = self._note_view
        if widget is None or isinstance(widget, Static) == self.markdown:
            if not note:
                if widget is not None:
                    widget.display = False
                return
            if widget is not None:
                await widget.remove()
            if not self.is_attached:  # the app quit meanwhile: nothing to show it in
                return
            widget = self._note_view = self._note_widget()
            await self.mount(widget, before="#detail-abstract")
        if isinstance(widget, Static):
            widget.update(Content.assemble(("Note", "bold"), "\n\n", literal(note)))
        elif note:
            widget.update(f"**Note**\n\n{printable(note)}")
        widget.display = bool(note)

    def _note_widget(self) -> Markdown | Static:
        if not self.markdown:
            return Static(id="detail-note")
        from textual.widgets import Markdown

        return Markdown(id="detail-note", open_links=False)

    def _meta(self, library: Reading, pid: str) -> Content:
        paper, state = library.papers[pid], library.state(pid)
        parts: list[Content | tuple[str, str | Style] | str] = []
        if paper.authors:
            parts += [("By ", "bold"), literal_line(authors_line(paper.authors)), "\n"]
        parts += [
            (f"Seen in {plural(paper.seen, 'digest')}: ", "bold"),
            literal_line(provenance(library.digest_list(pid))),
            ("\nStatus: ", "bold"),
            state.summary,
            (f" · id {pid}", "dim"),
        ]
        if facts := paper_facts(paper):
            parts += ["\n", literal_line(" · ".join(facts))]
        if state.tags:
            parts += [("\nTags: ", "bold"), literal_line(" ".join(f"#{t}" for t in state.tags))]
        return Content.assemble(*parts)

    @staticmethod
    def _links(links: Sequence[tuple[str, str]]) -> Content:
        """One numbered line per link (``model.paper_links``: as ``O`` numbers them); the
        widget crops a long one rather than wrap it."""
        labelled: list[Content | str] = []
        return Content("\n").join(
            Content.assemble(
                (f"[{number}] ", "dim"),
                *(labelled if not label else [literal_line(label, "bold"), " "]),
                literal_line(link).stylize(Style(underline=True, link=link)),
            )
            for number, (label, link) in enumerate(links, 1)
        )

    def on_click(self, event: events.Click) -> None:
        if event.style.link:
            event.stop()
            self._open(event.style.link)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        self._open(event.href)

    def _open(self, url: str) -> None:
        """Open a clicked link: http(s) only, since a link in a paper or a note is data."""
        if url.startswith(("https://", "http://")):
            self.app.open_url(url)

    # ------------------------------------------------------------------ scrolling

    def scroll_page(self) -> bool:
        """Scroll one page down; False (nothing done) when already at the end, so the
        caller can move on to the next paper, like a pager."""
        if self.scroll_y >= self.max_scroll_y:
            return False
        self.scroll_page_down(animate=False)
        return True

    def scroll_lines(self, n: int) -> None:
        """Scroll ``n`` lines down (up when negative)."""
        self.scroll_relative(y=n, animate=False)
