"""Text widgets whose editing keys take effect in the order they were typed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.widgets import Input

if TYPE_CHECKING:
    from textual.widget import Widget as _Mixin
else:
    # Not a widget class at run time: Textual takes a widget's CSS, type name and
    # component classes along the first widget class among its bases, which must be the
    # text widget's (``Input``), not this one's.
    _Mixin = object


class OrderedKeys(_Mixin):
    """Runs the widget's own bound keys (backspace, arrows, home, delete…) as they arrive.

    Textual runs them only once the key has bubbled up to the app, after any character
    that arrived with it was inserted: ``x⌫m`` typed in one burst (a fast typist, a paste
    of keys, a UI thread busy with a 100k-paper query) left ``x``, and a note could be
    edited in the wrong place (Textual issue #6605; its open pull request #6631 fixes it
    the same way). The bindings are the screen's for this widget (the reader's keymap
    applied), the non-priority ones: priority bindings ran before the key reached it.
    Its ancestors' bindings still run after the bubbling, after their handlers, as Textual
    orders them: a key that must keep its place is the field's own (the tag field's Tab).
    """

    async def _on_key(self, event: events.Key) -> None:
        # Textual calls each class's ``_on_key`` in turn: the text widget's runs next unless
        # a binding took the key here.
        namespace, bindings = self.screen._modal_binding_chain[0]
        if namespace is not self:
            return
        for binding in bindings.key_to_bindings.get(event.key, ()):
            if binding.priority:
                continue
            await self._before_binding()
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return

    async def _before_binding(self) -> None:
        """What a binding run here must find ready that Textual makes later."""


class TextInput(OrderedKeys, Input):
    """A one-line text field (tags, snooze days)."""

    async def _before_binding(self) -> None:
        """The suggestion for what was typed in the same burst: Textual makes it in a
        worker, so → (which takes it) found none yet (tested)."""
        suggester = self.suggester
        if suggester is not None and self.value and not self._suggestion:
            value = self.value if suggester.case_sensitive else self.value.casefold()
            self._suggestion = await suggester.get_suggestion(value) or ""
