"""The footer of keys: one widget drawing one line, redrawn only when its keys change."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.binding import Binding
    from textual.screen import Screen

#: Between the keys and the command palette's key, docked right (as Textual's footer).
SEPARATOR = "▏"  # one cell


class FooterKey(NamedTuple):
    key: str
    display: str
    description: str
    enabled: bool
    tooltip: str


class KeysFooter(Widget, can_focus=False):
    """The keys the focused widget's bindings offer, drawn as Textual's
    :class:`~textual.widgets.Footer` draws them: a click runs the key, a hover shows its
    tooltip, a disabled key is dim, the command palette's key sits at the right.

    Textual's footer mounts and styles a widget per key and recomposes them all on each
    update of the bindings: 30-34 ms of the first rows at 10k papers (interleaved starts,
    median 435-455 → 413-421 ms without it). This is one widget, and a line of text.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "keys-footer--key",
        "keys-footer--description",
        "keys-footer--hover",
        "keys-footer--separator",
    }
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeysFooter > .keys-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeysFooter > .keys-footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeysFooter > .keys-footer--hover { background: $block-hover-background; }
    KeysFooter > .keys-footer--separator { color: $foreground 20%; }
    """

    def __init__(self) -> None:
        super().__init__()
        #: The keys shown, and the command palette's key (None: not shown).
        self._shown: tuple[tuple[FooterKey, ...], FooterKey | None] = ((), None)
        #: Each key's cells on the line as drawn, cut to what is visible: (first, past the
        #: last, key).
        self._spans: list[tuple[int, int, FooterKey]] = []
        #: Where each key starts in the whole line of keys, and how many cells of it are
        #: scrolled out of sight on the left (the wheel scrolls keys that do not fit).
        self._starts: list[int] = []
        self._scrolled = 0
        self._hovered: FooterKey | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        # As Textual's footer: a terminal that lost the focus (its focused widget blurred)
        # keeps the keys it showed.
        if not self.app.app_focus or screen is not self.screen:
            return
        shown = self._showing()
        if shown != self._shown:
            self._shown = shown
            self.refresh()

    def _showing(self) -> tuple[tuple[FooterKey, ...], FooterKey | None]:
        """The first binding of each action shown (as Textual's footer), and the palette's."""
        app, active = self.app, self.screen.active_bindings

        def shown(binding: Binding, enabled: bool, tooltip: str) -> FooterKey:
            display = app.get_key_display(binding)
            return FooterKey(binding.key, display, binding.description, enabled, tooltip)

        keys: dict[str, FooterKey] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in keys:
                keys[binding.action] = shown(binding, enabled, tooltip)
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        command = None
        if palette is not None and app.ENABLE_COMMAND_PALETTE:
            _, binding, enabled, tooltip = palette
            command = shown(binding, enabled, tooltip or binding.tooltip or binding.description)
        return tuple(keys.values()), command

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        keys, command = self._shown
        self._spans = []
        if y or not (keys or command):
            return Strip.blank(width, base)
        style = self.get_component_rich_style
        key_style, description_style = style("keys-footer--key"), style("keys-footer--description")
        hover = style("keys-footer--hover", partial=True)

        def drawn(key: FooterKey, *parts: tuple[str, Style]) -> list[Segment]:
            extra = (hover if key == self._hovered else Style()) + Style(dim=not key.enabled)
            return [Segment(text, base + part + extra) for text, part in parts]

        line: list[Segment] = []
        self._starts = []
        for key in keys:
            self._starts.append(Segment.get_line_length(line))
            key_text = f" {key.display} "
            description = f"{key.description} " if key.description else ""
            line += drawn(key, (key_text, key_style), (description, description_style))
        # The palette's key is docked right, as Textual's compact key: "▏^p palette ".
        palette: list[Segment] = []
        if command is not None:
            description = f" {command.description}" if command.description else ""
            palette = drawn(
                command,
                (SEPARATOR, style("keys-footer--separator")),
                (command.display, key_style),
                (description, description_style),
                (" ", Style()),
            )
        room = max(width - Segment.get_line_length(palette), 0)
        length = Segment.get_line_length(line)
        self._scrolled = max(0, min(self._scrolled, length - room))
        ends = [*self._starts[1:], length] if keys else []
        for key, start, end in zip(keys, self._starts, ends, strict=True):
            first, last = max(start - self._scrolled, 0), min(end - self._scrolled, room)
            if first < last:  # a key cut at an edge still runs when clicked
                self._spans.append((first, last, key))
        if command is not None:
            self._spans.append((room, room + Segment.get_line_length(palette), command))
        shown = (
            Strip(line).crop(self._scrolled, self._scrolled + room).extend_cell_length(room, base)
        )
        return Strip([*shown, *palette]).crop_extend(0, width, base)

    def _key_at(self, x: int) -> FooterKey | None:
        return next((key for start, end, key in self._spans if start <= x < end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        key = self._key_at(event.x)
        if key != self._hovered:
            self._hovered = key
            self.tooltip = key.tooltip or None if key is not None else None
            self.styles.pointer = "default" if key is None else "pointer"
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.tooltip = None
            self.styles.pointer = "default"
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        key = self._key_at(event.x)
        if key is None:
            return
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Keys that do not fit scroll by the wheel, a key at a time (as Textual's do)."""
        later = [start for start in self._starts if start > self._scrolled]
        if later:
            event.stop()
            self._scrolled = later[0]
            self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        earlier = [start for start in self._starts if start < self._scrolled]
        if earlier:
            event.stop()
            self._scrolled = earlier[-1]
            self.refresh()
