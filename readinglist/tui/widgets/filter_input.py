"""The filter's input: Textual's ``Input`` without a layout pass per key typed."""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class FilterInput(Input):
    """An ``Input`` of fixed size (``width: 100%; height: 3``) whose text length, its
    virtual size, changes with every key: Textual's ``Input`` lays the whole screen out
    again for it (``Widget.virtual_size`` is a layout reactive), ~110 layout passes and
    full repaints per 110 filter keys at 100k papers (profiled). A fixed-size widget
    without children needs only its own repaint; it scrolls its text by itself."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    async def _on_key(self, event: events.Key) -> None:
        """Its own bound keys (backspace, arrows, home…) run here, in the order typed.

        Textual runs them only once the key has bubbled up to the app, after any character
        that arrived with it was inserted: ``x⌫m`` typed in one burst (a fast typist, a
        paste, a UI thread busy with a 100k-paper query) left ``x`` (Textual issue #6605,
        fixed this way upstream in its open pull request #6631). The bindings are the
        screen's for this widget: the reader's keymap applied, as the app would.
        """
        namespace, bindings = self.screen._modal_binding_chain[0]
        if namespace is self:
            for binding in bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)
