"""The footer of keys: one widget drawing one line, redrawn only when its keys change."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
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
        #: Each key's cells on the line, in the order drawn: (first, past the last, key).
        self._spans: list[tuple[int, int, FooterKey]] = []
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
        keys: dict[str, FooterKey] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in keys:
                display = app.get_key_display(binding)
                keys[binding.action] = FooterKey(
                    binding.key, display, binding.description, enabled, tooltip
                )
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        command = None
        if palette is not None and app.ENABLE_COMMAND_PALETTE:
            _, binding, enabled, tooltip = palette
            display = app.get_key_display(binding)
            command = FooterKey(
                binding.key,
                display,
                binding.description,
                enabled,
                tooltip or binding.tooltip or binding.description,
            )
        return tuple(keys.values()), command

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        keys, command = self._shown
        if y or not (keys or command):
            return Strip.blank(width, base)
        style = self.get_component_rich_style
        key_style, description_style = style("keys-footer--key"), style("keys-footer--description")
        hover, dim = style("keys-footer--hover"), Style(dim=True)
        self._spans = []

        def drawn(x: int, key: FooterKey, key_text: str, description: str) -> list[Segment]:
            extra = (hover if key == self._hovered else Style()) + (Style() if key.enabled else dim)
            self._spans.append((x, x + cell_len(key_text) + cell_len(description), key))
            return [
                Segment(key_text, base + key_style + extra),
                Segment(description, base + description_style + extra),
            ]

        line: list[Segment] = []
        for key in keys:
            x = Segment.get_line_length(line)
            line += drawn(
                x, key, f" {key.display} ", f"{key.description} " if key.description else ""
            )
        if command is None:
            return Strip(line).crop_extend(0, width, base)
        # Docked right, as Textual's compact key: "▏^p palette ". Keys that do not fit left
        # of it are cut (Textual's footer scrolls them).
        description = f" {command.description}" if command.description else ""
        left = max(width - 1 - cell_len(command.display) - cell_len(description) - 1, 0)
        self._spans = [span for span in self._spans if span[1] <= left]
        palette = [
            Segment(SEPARATOR, base + style("keys-footer--separator")),
            *drawn(left + 1, command, command.display, description),
        ]
        return Strip([*Strip(line).crop_extend(0, left, base), *palette]).crop_extend(
            0, width, base
        )

    def _key_at(self, x: int) -> FooterKey | None:
        return next((key for start, end, key in self._spans if start <= x < end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        key = self._key_at(event.x)
        if key != self._hovered:
            self._hovered = key
            self.tooltip = key.tooltip or None if key is not None else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        key = self._key_at(event.x)
        if key is None:
            return
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()
