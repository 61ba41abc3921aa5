"""The filter's input: Textual's ``Input`` without a layout pass per key typed."""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input

from readinglist.tui.widgets.ordered_keys import OrderedKeys


class FilterInput(OrderedKeys, Input):
    """An ``Input`` of fixed size (``width: 100%; height: 3``) whose text length, its
    virtual size, changes with every key: Textual's ``Input`` lays the whole screen out
    again for it (``Widget.virtual_size`` is a layout reactive), ~110 layout passes and
    full repaints per 110 filter keys at 100k papers (profiled). A fixed-size widget
    without children needs only its own repaint; it scrolls its text by itself."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)
