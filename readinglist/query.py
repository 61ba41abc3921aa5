"""Query language and search index (placeholder: case-insensitive title substring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from readinglist.library import Library


class SearchEngine:
    """Answers queries over one library; built once, reused for every keystroke."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._titles = {pid: p.title.casefold() for pid, p in library.papers.items()}

    def search(self, text: str) -> list[str]:
        needle = text.strip().casefold()
        return [pid for pid in self.library.ordered() if needle in self._titles[pid]]
