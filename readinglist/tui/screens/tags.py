"""Tag prompt: one line of tags, each word completed from the tags in use.

The word being typed is completed inline (→ accepts, as in any Textual input; Tab completes
the word under the cursor wherever it is), the hint line lists the tags it could become with
how many papers carry each, and warns about a tag that does not exist yet, since a typo
would otherwise quietly create one.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label
from textual.widgets.input import Selection

from readinglist.model import normalise_tag
from readinglist.tui.text import literal_line
from readinglist.tui.widgets.ordered_keys import TextInput

#: What separates tags on the line.
_SEPARATORS = " ,"
_WORD_RE = re.compile(r"[^\s,]+")
#: Tags listed in the hint line at most.
HINT_TAGS = 8


def split_tags(text: str) -> list[str]:
    """The distinct tags of ``text``, normalised (``SSM, lmc`` → ``['ssm', 'lmc']``)."""
    tags = (normalise_tag(word) for word in _WORD_RE.findall(text))
    return list(dict.fromkeys(tag for tag in tags if tag))


def word_at(text: str, cursor: int) -> tuple[int, int]:
    """(start, end) of the word the cursor is in or just after; empty at a separator."""
    start = cursor
    while start > 0 and text[start - 1] not in _SEPARATORS:
        start -= 1
    end = cursor
    while end < len(text) and text[end] not in _SEPARATORS:
        end += 1
    return start, end


class TagChoices:
    """The tags on offer, most used first, then the suggested ones not yet in use."""

    def __init__(self, counts: dict[str, int], suggested: tuple[str, ...] = ()) -> None:
        self.counts = counts
        extra = (normalise_tag(t) for t in suggested)
        self.order = list(dict.fromkeys([*counts, *(t for t in extra if t)]))

    def completions(self, prefix: str, typed: Collection[str] = ()) -> list[str]:
        """Tags starting with ``prefix`` (case-insensitive), except those in ``typed``; the
        tag ``prefix`` already is comes first, so Tab leaves a finished word alone."""
        folded = prefix.casefold()
        found = [t for t in self.order if t.startswith(folded) and t not in typed]
        if folded in found[1:]:
            found.remove(folded)
            found.insert(0, folded)
        return found

    def label(self, tag: str) -> str:
        """``ssm (12)``, or the bare tag for one only suggested."""
        return f"{tag} ({self.counts[tag]})" if tag in self.counts else tag


class TagSuggester(Suggester):
    """Completes the last word of the line (not just the first) from :class:`TagChoices`."""

    def __init__(self, choices: TagChoices) -> None:
        super().__init__(use_cache=True, case_sensitive=True)
        self.choices = choices

    async def get_suggestion(self, value: str) -> str | None:
        start, _ = word_at(value, len(value))
        word = value[start:]
        if not word:
            return None
        found = self.choices.completions(word, split_tags(value[:start]))
        typed = len(word.casefold())  # what the completion starts with
        return value + found[0][typed:] if found and len(found[0]) > typed else None


class TagInput(TextInput):
    """The tags typed. Tab is the field's own key, so it completes in order with the keys
    typed around it (bound on the dialog, it ran after them: ``t r Tab ␣ x`` typed in one
    burst gave ``tr x``)."""

    BINDINGS = [Binding("tab", "screen.complete", "Complete", show=False)]


class TagScreen(ModalScreen[list[str]]):
    """Dismisses with the tags typed (space or comma separated, normalised); an empty list
    cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        prompt: str,
        counts: dict[str, int],
        suggested: tuple[str, ...] = (),
        *,
        unknown: str = "new tag",
    ) -> None:
        """``counts``: the tags on offer and how many papers carry each, most used first
        (``Library.tag_counts()``); ``suggested``: more to offer (not yet in use);
        ``unknown``: what the hint calls a typed tag not in ``counts``."""
        super().__init__()
        self.prompt = prompt
        self.choices = TagChoices(counts, suggested)
        self.unknown = unknown

    def compose(self) -> ComposeResult:
        with Vertical(id="tag-dialog"):
            yield Label(literal_line(self.prompt))
            yield TagInput(
                placeholder="tags, space separated (→ or Tab completes)",
                suggester=TagSuggester(self.choices),
                id="tag-input",
            )
            yield Label(literal_line(self.hint("", 0)), id="tag-hint")

    def on_mount(self) -> None:
        self.watch(self.query_one(Input), "selection", self._cursor_moved, init=False)

    def hint(self, value: str, cursor: int) -> str:
        """What the word under the cursor could become, and which typed tags are new.

        The word being typed is not called new while it is only the start of a tag on offer.
        """
        if not value.strip():
            counts = self.choices.counts
            offered = [t for t in self.choices.order if t not in counts][:HINT_TAGS]
            used = [t for t in self.choices.order if t in counts][: HINT_TAGS - len(offered)]
            shown = [f"suggested: {' '.join(offered)}"] if offered else []
            shown += [f"in use: {' '.join(map(self.choices.label, used))}"] if used else []
            return " · ".join(shown) or "no tags yet"
        start, end = word_at(value, cursor)
        word = value[start:end]
        found = self.choices.completions(word, split_tags(value[:start] + " " + value[end:]))
        parts: list[str] = []
        if word and found:
            more = f" +{len(found) - HINT_TAGS}" if len(found) > HINT_TAGS else ""
            parts.append(" ".join(map(self.choices.label, found[:HINT_TAGS])) + more)
        typing = normalise_tag(word)
        unfinished = found and typing not in found  # only the start of a tag on offer
        new = [
            t
            for t in split_tags(value)
            if t not in self.choices.counts and not (unfinished and t == typing)
        ]
        if new:
            parts.append(f"{self.unknown}: " + ", ".join(new))
        return " · ".join(parts)

    def _show_hint(self) -> None:
        field = self.query_one(Input)
        self.query_one("#tag-hint", Label).update(
            literal_line(self.hint(field.value, field.cursor_position))
        )

    def _cursor_moved(self, _: Selection) -> None:
        self._show_hint()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_hint()

    def action_complete(self) -> None:
        """Complete the word under the cursor with the first tag it could be."""
        field = self.query_one(Input)
        value, cursor = field.value, field.cursor_position
        start, end = word_at(value, cursor)
        word = value[start:end]
        found = self.choices.completions(word, split_tags(value[:start] + " " + value[end:]))
        if not word or not found:
            return
        field.value = value[:start] + found[0] + value[end:]
        field.cursor_position = start + len(found[0])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(split_tags(event.value))

    def action_cancel(self) -> None:
        self.dismiss([])
