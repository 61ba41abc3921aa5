"""The footer of keys, recomposed only when the keys it shows change."""

from __future__ import annotations

from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's :class:`~textual.widgets.Footer` recomposes (every key mounted and styled
    anew, ~10 ms) on each update of the bindings, even one that leaves them as they were.
    At start that was five times, three of them changing nothing, while a worker opening the
    library waited for the thread (with the loading indicator's delay: first rows at 100k
    papers 0.61 → 0.57 s)."""

    _shown: tuple[object, ...] | None = None

    def _showing(self) -> tuple[object, ...]:
        """Everything :meth:`Footer.compose` draws from."""
        app, active = self.app, self.screen.active_bindings
        keys = tuple(
            (b.key, app.get_key_display(b), b.description, b.action, b.group, enabled, tip)
            for _, b, enabled, tip in active.values()
            if b.show
        )
        palette = active.get(app.COMMAND_PALETTE_BINDING)  # drawn though not ``show``
        shown = palette[1:] if palette and app.ENABLE_COMMAND_PALETTE else None
        return (self._bindings_ready, self.show_command_palette, keys, shown)

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        showing = self._showing()
        if showing != self._shown:
            self._shown = showing
            await super().recompose()
