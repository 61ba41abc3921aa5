"""The key contract: every binding of the app, and the help rows generated from them.

Each remappable binding's ``id`` is its action name in ``config.toml``'s ``[keys]`` (see
:data:`readinglist.config.DEFAULT_KEYS`, the one definition of the default keys), so the
app applies the reader's map with Textual's ``set_keymap`` and the help shows what is live.
"""

from __future__ import annotations

from textual.binding import Binding

from readinglist.config import DEFAULT_KEYS

#: id (config action) → (Textual action, footer label, shown in footer, what it does).
_ACTIONS: dict[str, tuple[str, str, bool, str]] = {
    "skip": ("decide('skipped')", "Skip", True, "skip; the paper comes back if it recurs"),
    "later": ("decide('later')", "Later", True, "keep for later"),
    "read": ("decide('read')", "Read", True, "mark read"),
    "snooze": ("snooze", "Snooze", True, "snooze for the configured days (default 7)"),
    "snooze_ask": ("snooze_ask", "Snooze…", False, "snooze, asking for how many days"),
    "inbox": ("show_inbox", "Inbox", True, "the inbox: new papers, most recurring first"),
    "all": ("show_all", "All", True, "the whole library"),
    "pager": ("pager", "Page", False, "scroll the paper a page; at its end, the next paper"),
    "scroll_down": ("scroll_detail(1)", "Line down", False, "scroll the paper a line down"),
    "scroll_up": ("scroll_detail(-1)", "Line up", False, "scroll the paper a line up"),
    "filter": ("focus_filter", "Filter", True, "filter as you type"),
    "note": ("edit_note", "Note", True, "edit the note (Markdown)"),
    "tag": ("add_tag", "Tag", True, "add tags (highlighted paper or selection)"),
    "untag": ("remove_tag", "Untag", False, "remove tags (paper or selection)"),
    "select": ("toggle_select", "Select", False, "toggle selection, move down"),
    "select_all": ("select_all", "Select all", False, "select all visible papers (again: none)"),
    "clear_selection": ("clear_selection", "Clear selection", False, "clear the selection"),
    "open": ("open_paper", "Open", False, "open the paper on Hugging Face (browser)"),
    "open_link": (
        "open_link",
        "Links",
        False,
        "choose a link to open: arXiv abstract or PDF, code, project page…",
    ),
    "undo": ("undo", "Undo", True, "undo the last change (several levels)"),
    "redo": ("redo", "Redo", False, "redo what was undone"),
    "hide_read": ("toggle_hide_read", "Hide read", False, "hide / show read papers"),
    "export": ("export", "Export", False, "export notes of this view to Markdown"),
    "fetch": (
        "fetch",
        "Fetch",
        False,
        "fetch Hugging Face Daily Papers: the days since the last fetch",
    ),
    "help": ("help", "Help", True, "this help"),
    "quit": ("app.quit", "Quit", True, "quit (everything is already saved)"),
}
assert set(_ACTIONS) == set(DEFAULT_KEYS), "every configurable action has a binding"

_DISPLAY = {"slash": "/", "asterisk": "*", "question_mark": "?", "escape": "Esc"}

APP_BINDINGS: list[Binding] = (
    [
        Binding(
            DEFAULT_KEYS[name],
            action,
            label,
            show=show,
            key_display=_DISPLAY.get(DEFAULT_KEYS[name]),
            tooltip=tooltip,
            id=name,
            # The app runs priority bindings as keys arrive: the filter takes the focus
            # before the keys typed after it reach the list, where letters decide papers.
            priority=name == "filter",
        )
        for name, (action, label, show, tooltip) in _ACTIONS.items()
    ]
    + [Binding(str(n), f"preset({n})", f"Preset {n}", show=False, tooltip="") for n in range(1, 10)]
    + [
        Binding("l", "load_samples", "Load samples", show=False, tooltip="load the sample digests"),
    ]
)

#: Keys of the paper list itself (its own bindings), as the help shows them.
LIST_KEYS = [
    ("j k ↓ ↑", "move down / up"),
    ("g G Home End", "first / last paper"),
    ("PgDn PgUp ^d ^u", "page down / up"),
]
#: Keys handled outside bindings.
OTHER_KEYS = [
    ("1 … 9", "apply that tag preset ([presets] in config.toml) and keep for later"),
    ("Enter / Esc (in filter)", "back to the list keeping / clearing the filter"),
    ("ctrl+p", "command palette: every action, saved views, and the theme"),
]


def key_help(keymap: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Every key the app answers to, as (keys, what it does), with the reader's map."""
    keys = DEFAULT_KEYS | (keymap or {})
    rows = [
        (_DISPLAY.get(keys[name], keys[name]), tooltip)
        for name, (_, _, _, tooltip) in _ACTIONS.items()
    ]
    return LIST_KEYS + rows + OTHER_KEYS
