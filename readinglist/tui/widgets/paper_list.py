"""The paper list: a line-API ScrollView that renders only the rows on screen.

Filtering swaps the list of ids (``show``) instead of rebuilding widgets, so a keystroke
costs one query plus ~30 rendered lines whatever the library's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from readinglist.model import STATUS_MARKS, today
from readinglist.reading import Reading
from readinglist.safetext import printable_line

NOTE_MARK = "✎"
#: Cells for title and tags from which a long title lends tags a quarter of its room (the
#: list is 77 cells wide in a 120-column terminal, 51 in an 80-column one).
WIDE_ROW = 60
CODE_MARK = "</>"
#: The status each row mark stands for, which names its component class.
MARK_STATUSES = {mark: status for status, mark in STATUS_MARKS.items()} | {"↻": "resurfaced"}
#: Statuses whose rows are dimmed: decided and out of the way.
DIMMED = frozenset({"read", "skipped"})
#: Narrowest cropped tag list worth showing (`` #a…``); below it the tags are dropped.
MIN_TAG_CELLS = 4
#: Rows kept drawn at most (a few screens' worth of typing, a few hundred KB).
MAX_STRIPS = 2000


class PaperList(ScrollView, can_focus=True):
    """Rows of ``×seen  ● title  #tags ✎ </>`` for a list of paper ids; the mark is the
    paper's status (``model.PaperState.mark``), styled by the class named after it."""

    BINDINGS = [
        Binding("j,down", "move(1)", "Down", show=False),
        Binding("k,up", "move(-1)", "Up", show=False),
        Binding("g,home", "first", "First", show=False),
        Binding("G,end", "last", "Last", show=False),
        Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False),
        Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False),
    ]

    COMPONENT_CLASSES = {
        "paper-list--cursor",
        "paper-list--badge",
        "paper-list--recurring",
        "paper-list--dimmed",
        "paper-list--tags",
        "paper-list--marks",
        "paper-list--selected",
        *(f"paper-list--{status}" for status in MARK_STATUSES.values()),
    }

    DEFAULT_CSS = """
    PaperList { background: $surface; overflow-x: hidden; }
    PaperList > .paper-list--cursor { background: $block-cursor-blurred-background; }
    PaperList:focus > .paper-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    PaperList > .paper-list--badge { color: $text-muted; }
    PaperList > .paper-list--recurring { color: $warning; text-style: bold; }
    PaperList > .paper-list--dimmed { color: $text-disabled; }
    PaperList > .paper-list--tags { color: $secondary; }
    PaperList > .paper-list--marks { color: $success; }
    PaperList > .paper-list--selected { color: $warning; text-style: bold; }
    PaperList > .paper-list--new { color: $accent; }
    PaperList > .paper-list--resurfaced { color: $accent; text-style: bold; }
    PaperList > .paper-list--later { color: $primary; }
    PaperList > .paper-list--read { color: $text-disabled; }
    PaperList > .paper-list--skipped { color: $text-disabled; }
    PaperList > .paper-list--snoozed { color: $text-muted; }
    """

    #: No repaint of every row when it moves: ``watch_cursor`` repaints the two that change.
    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    class Highlighted(Message):
        """The cursor moved to another paper (``None`` when the list is empty)."""

        def __init__(self, pid: str | None) -> None:
            self.pid = pid
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: What rows are drawn from (the screen sets the snapshot it adopted).
        self.view: Reading | None = None
        self.ids: Sequence[str] = []
        self.selected: set[str] = set()
        self._base_style: Style | None = None
        #: Rows drawn, by what they show (see ``render_line``), for the snapshot ``view``.
        self._strips: dict[tuple[str, int, bool, bool, str], Strip] = {}
        self._strips_for: Reading | None = None
        #: The day every row was last drawn for (see ``show``).
        self._day = ""

    @property
    def highlighted(self) -> str | None:
        return self.ids[self.cursor] if 0 <= self.cursor < len(self.ids) else None

    def show(self, ids: Sequence[str], keep: str | None = None) -> None:
        """Display ``ids``; keep the cursor on ``keep`` if it is still there, else its row."""
        old, top = self.ids, self.scroll_offset.y
        self.ids = ids
        size = Size(0, len(ids))  # rows are cropped to the width: never scroll sideways
        if size != self.virtual_size:
            self._resize(size)
        position = self.cursor
        if keep is not None:
            with contextlib.suppress(ValueError):
                position = ids.index(keep)
        self.cursor = self._clamp(position)
        day = today()  # a snooze runs out at midnight: every row may show another mark
        if self.scroll_offset.y != top or self.view is not self._strips_for or day != self._day:
            self._day = day
            self.refresh()
            return
        # Only the rows that show another paper: a key that narrows a query often keeps
        # the first screen's rows, and each row redrawn costs ~0.3 ms of the key.
        for row in range(top, top + self.scrollable_content_region.height):
            if (old[row] if row < len(old) else None) != (ids[row] if row < len(ids) else None):
                self.refresh_line(row)

    def _resize(self, size: Size) -> None:
        """A new number of rows. Setting ``virtual_size`` lays the whole screen out again,
        which only a scrollbar that appears or goes needs: one that shows before and after
        only moves its thumb, and rows that fit before and after need none. That layout
        (and the repaint of every widget it brings) was most of a filter key that changed
        the result count at 100k papers (~60 % of the keys, profiled); then, for results
        that fit the screen, a quarter of the keys (~3 ms each)."""
        rows = self.scrollable_content_region.height
        scrolls = size.height > rows
        scrollbar = self.vertical_scrollbar if self.show_vertical_scrollbar else None
        if (self.virtual_size.height > rows) != scrolls or (scrolls and scrollbar is None):
            self.virtual_size = size  # the scrollbar appears or goes: a layout pass
            return
        self.set_reactive(PaperList.virtual_size, size)
        if scrollbar is not None:
            scrollbar.window_virtual_size = size.height
            scrollbar.refresh()
        self.scroll_y = self.validate_scroll_y(self.scroll_y)

    def _clamp(self, row: int) -> int:
        return max(0, min(row, len(self.ids) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        # Repaint just the two rows that changed; scrolling repaints the rest by itself.
        self.refresh_line(old)
        self.refresh_line(new)
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if self.ids and new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif self.ids and new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.post_message(self.Highlighted(self.highlighted))

    def action_move(self, delta: int) -> None:
        self.cursor = self._clamp(self.cursor + delta)

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = self._clamp(len(self.ids) - 1)

    def action_page(self, direction: int) -> None:
        self.cursor = self._clamp(
            self.cursor + direction * max(1, self.scrollable_content_region.height - 1)
        )

    def move_to(self, pid: str) -> None:
        with contextlib.suppress(ValueError):
            self.cursor = self.ids.index(pid)

    def on_click(self, event: events.Click) -> None:
        row = event.y + self.scroll_offset.y
        if 0 <= row < len(self.ids):
            self.cursor = row

    def notify_style_update(self) -> None:
        self._base_style = None
        self._strips.clear()
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        # ``rich_style`` walks every ancestor's styles: half the cost of a row, so it is
        # kept until the CSS changes (theme, focus), which is what it depends on.
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style
        if self.view is None or row >= len(self.ids):
            return Strip.blank(width, base)
        pid = self.ids[row]
        # A row is drawn from the snapshot (a new one clears them), the CSS (cleared with
        # the base style) and what the key holds; typing and backspacing redraw the same
        # rows again and again (~30 rows, ~3 ms of each filter key at 100k papers).
        if self.view is not self._strips_for or len(self._strips) > MAX_STRIPS:
            self._strips.clear()
            self._strips_for = self.view
        key = (pid, width, pid in self.selected, row == self.cursor, today())
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._row_strip(pid, width, base, row == self.cursor)
        return strip

    def _row_strip(self, pid: str, width: int, base: Style, cursor_row: bool) -> Strip:
        segments = self._row_segments(pid, width, base)
        if cursor_row:
            cursor = self.get_component_rich_style("paper-list--cursor")
            segments = [Segment(text, (style or Style()) + cursor) for text, style, _ in segments]
            base += cursor
        return Strip(segments).crop_extend(0, width, base)

    def _row_segments(self, pid: str, width: int, base: Style) -> list[Segment]:
        """``▌ ×4 ● title  #tags ✎ </>``: the title keeps its room and tags shrink first;
        only a wide row (``WIDE_ROW``) lends its tags part of a long title's room."""
        assert self.view is not None
        paper, state = self.view.papers[pid], self.view.state(pid)
        style = self.get_component_rich_style
        mark = state.mark
        status = MARK_STATUSES[mark]
        text_style = base + style("paper-list--dimmed") if status in DIMMED else base
        badge_style = (
            style("paper-list--recurring") if paper.seen > 1 else style("paper-list--badge")
        )
        chosen = pid in self.selected
        left = [
            Segment("▌" if chosen else " ", style("paper-list--selected")),
            Segment(f"×{paper.seen}".rjust(4) + " ", base + badge_style),
            Segment(mark + " ", base + style(f"paper-list--{status}")),
        ]
        marks = (NOTE_MARK if state.note else " ") + " " + (CODE_MARK if paper.links else "   ")
        right = Segment(" " + marks + " ", style("paper-list--marks"))
        room = width - sum(cell_len(s.text) for s in left) - cell_len(right.text)
        title = printable_line(paper.title)
        title_cells = cell_len(title)
        tags = printable_line(" " + " ".join(f"#{t}" for t in state.tags)) if state.tags else ""
        tag_room = room - title_cells
        if room >= WIDE_ROW:  # a wide row lends the tags up to a quarter of the title's room
            tag_room = max(tag_room, min(cell_len(tags), room // 4))
        if cell_len(tags) > tag_room:  # the title first: crop the tags, or drop them
            tags = set_cell_size(tags, tag_room - 1) + "…" if tag_room >= MIN_TAG_CELLS else ""
        room -= cell_len(tags)
        if title_cells > room:
            title = set_cell_size(title, room - 1) + "…" if room > 1 else ""
        else:
            title = set_cell_size(title, room)
        title_style = text_style + style("paper-list--selected") if chosen else text_style
        segments = [*left, Segment(title, title_style)]
        if tags:
            segments.append(Segment(tags, style("paper-list--tags")))
        segments.append(right)
        return segments
