"""The key contract: every binding of the app, and the help rows generated from them."""

from __future__ import annotations

from textual.binding import Binding

APP_BINDINGS: list[Binding] = [
    Binding("slash", "focus_filter", "Filter", key_display="/", tooltip="filter as you type"),
    Binding("space", "triage", "Read+next", tooltip="mark read, jump to the next unread"),
    Binding("r", "toggle_read", "Read", tooltip="toggle read (highlighted paper or selection)"),
    Binding("n", "edit_note", "Note", tooltip="edit the note (Markdown)"),
    Binding("t", "add_tag", "Tag", tooltip="add tags (highlighted paper or selection)"),
    Binding("T", "remove_tag", "Untag", show=False, tooltip="remove tags (paper or selection)"),
    Binding("v", "toggle_select", "Select", show=False, tooltip="toggle selection, move down"),
    Binding(
        "asterisk",
        "select_all",
        "Select all",
        show=False,
        key_display="*",
        tooltip="select all visible papers (again: none)",
    ),
    Binding(
        "escape",
        "clear_selection",
        "Clear selection",
        show=False,
        key_display="Esc",
        tooltip="clear the selection",
    ),
    Binding(
        "o",
        "open_paper",
        "Open",
        show=False,
        tooltip="open the paper on Hugging Face (browser)",
    ),
    Binding(
        "O",
        "open_code",
        "Open code",
        show=False,
        tooltip="open the abstract's first link (code)",
    ),
    Binding("u", "undo", "Undo", tooltip="undo the last change (several levels)"),
    Binding("U", "redo", "Redo", show=False, tooltip="redo what was undone"),
    Binding("h", "toggle_hide_read", "Hide read", tooltip="hide / show read papers"),
    Binding("x", "export", "Export", show=False, tooltip="export notes of this view to Markdown"),
    Binding(
        "l",
        "load_samples",
        "Load samples",
        show=False,
        tooltip="load the sample digests (empty library)",
    ),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
    Binding("q", "app.quit", "Quit", tooltip="quit (everything is already saved)"),
]

#: Keys of the paper list itself (its own bindings), as the help shows them.
LIST_KEYS = [
    ("j k ↓ ↑", "move down / up"),
    ("g G Home End", "first / last paper"),
    ("PgDn PgUp ctrl+d ctrl+u", "page down / up"),
]
#: Keys handled outside bindings.
OTHER_KEYS = [
    ("Enter / Esc (in filter)", "back to the list keeping / clearing the filter"),
    ("ctrl+p", "command palette: every action, and the theme"),
]


def key_help() -> list[tuple[str, str]]:
    """Every key the app answers to, as (keys, what it does)."""
    rows = [(b.key_display or b.key, b.tooltip or b.description) for b in APP_BINDINGS]
    return LIST_KEYS + rows + OTHER_KEYS
