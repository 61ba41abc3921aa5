"""UI preferences (the theme), kept apart from the library: they belong to the user, not
to a library, and a damaged settings file must never stop the app."""

from __future__ import annotations

import json
from pathlib import Path

from readinglist.config import config_dir as default_config_dir


class Settings:
    def __init__(self, config_dir: Path | None = None) -> None:
        folder = config_dir or default_config_dir()
        self.path = folder / "tui.json"

    def load(self) -> dict[str, str]:
        """The saved settings; unreadable or damaged settings are simply defaults."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, **values: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.load() | values))
