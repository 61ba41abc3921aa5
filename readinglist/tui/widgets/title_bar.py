"""The title bar: one widget drawing what Textual's header shows."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.widget import Widget

#: The command palette's icon, in the left cells, and the cells kept free on the right (as
#: Textual's header, whose clock would be there).
ICON, ICON_WIDTH, RIGHT_WIDTH = "⭘", 8, 10


class TitleBar(Widget):
    """The app's title and subtitle, centred, with an icon that opens the command palette;
    a click elsewhere makes it taller. As Textual's :class:`~textual.widgets.Header`, drawn
    by one widget: its three were ~10 ms of the first rows at 10k papers."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"title-bar--icon-hover"}
    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
        content-align-vertical: middle;
    }
    TitleBar.-tall { height: 3; }
    TitleBar > .title-bar--icon-hover { background: $foreground 10%; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._on_icon = False

    def on_mount(self) -> None:
        for name in ("title", "sub_title"):
            self.watch(self.app, name, self._retitle, init=False)

    def _retitle(self) -> None:
        self.refresh()

    def render(self) -> Content:
        icon = Content(f" {ICON}").pad_right(ICON_WIDTH - 2)
        if self._on_icon:
            icon = icon.stylize(self.get_visual_style("title-bar--icon-hover", partial=True))
        title = self.app.format_title(self.app.title, self.app.sub_title)
        middle = max(self.size.width - ICON_WIDTH - RIGHT_WIDTH, 0)
        return Content.assemble(icon, title.center(middle, ellipsis=True))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        on_icon = event.x < ICON_WIDTH
        if on_icon != self._on_icon:
            self._on_icon = on_icon
            self.tooltip = "Open the command palette" if on_icon else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._on_icon:
            self._on_icon = False
            self.tooltip = None
            self.refresh()

    async def on_click(self, event: events.Click) -> None:
        if event.x < ICON_WIDTH:
            await self.run_action("app.command_palette")
        else:
            self.toggle_class("-tall")
