"""Note text still being edited, kept on disk so that a killed editor loses nothing.

A draft is not the note: ``Library.set_note`` commits the text (with undo); the draft is
then discarded. One small file per paper, written atomically, in the library folder.
"""

from __future__ import annotations

from pathlib import Path

from readinglist.storage import atomic_write

#: Folder (in the data dir) of the drafts.
DRAFTS_DIR = "drafts"


class Drafts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, pid: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / f"{pid}.md", text.encode(), backup=False)

    def get(self, pid: str) -> str | None:
        """Text of an edit that was never saved as the note (the editor was killed)."""
        try:
            return (self.folder / f"{pid}.md").read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def discard(self, pid: str) -> None:
        (self.folder / f"{pid}.md").unlink(missing_ok=True)
