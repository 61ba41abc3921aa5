"""``config.toml``: the reader's presets, snooze length, key map and saved views.

It lives in the config dir (``$READINGLIST_CONFIG_DIR``, default
``platformdirs.user_config_dir("readinglist")``), apart from the library: it belongs to the
person, not to one library. A bad file never stops anything: :func:`load_config` returns
the defaults and one line naming ``file:line`` and what is wrong.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from readinglist.model import normalise_tag
from readinglist.safetext import printable_line

ENV_CONFIG_DIR = "READINGLIST_CONFIG_DIR"
CONFIG_FILE = "config.toml"
#: A config file is a few lines; anything bigger is not one.
MAX_CONFIG_BYTES = 1024 * 1024
DEFAULT_SNOOZE_DAYS = 7
#: Actions whose keys ``[keys]`` may change, each with its default key(s) (Textual names).
DEFAULT_KEYS: dict[str, str] = {
    "skip": "x",
    "later": "s",
    "read": "r",
    "snooze": "z",
    "snooze_ask": "Z",
    "inbox": "i",
    "all": "a",
    "pager": "space",
    "scroll_down": "J",
    "scroll_up": "K",
    "filter": "slash",
    "note": "n",
    "tag": "t",
    "untag": "T",
    "select": "v",
    "select_all": "asterisk",
    "clear_selection": "escape",
    "open": "o",
    "open_link": "O",
    "undo": "u",
    "redo": "U",
    "hide_read": "h",
    "export": "e",
    "fetch": "f",
    "help": "question_mark",
    "quit": "q",
}
_KEY_RE = re.compile(r"^[A-Za-z0-9_+\-]+(,[A-Za-z0-9_+\-]+)*$")
_VIEW_NAME_RE = re.compile(r"^[\w.-]{1,40}$")


def config_dir() -> Path:
    override = os.environ.get(ENV_CONFIG_DIR)
    return Path(override) if override else Path(platformdirs.user_config_dir("readinglist"))


@dataclass(frozen=True, slots=True)
class Config:
    snooze_days: int = DEFAULT_SNOOZE_DAYS
    #: Digit key ("1"…"9") → tag applied by that preset.
    presets: dict[str, str] = field(default_factory=dict)
    #: Action → key(s), defaults overlaid with ``[keys]``.
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    #: Name → query.
    views: dict[str, str] = field(default_factory=dict)


class ConfigError(ValueError):
    """One line: ``file:line: what is wrong``."""


def load_config(folder: Path | None = None) -> tuple[Config, str | None]:
    """The config, or the defaults and the one-line reason the file was not used."""
    path = (folder or config_dir()) / CONFIG_FILE
    try:
        return parse_config(_read(path), str(path)), None
    except FileNotFoundError:
        return Config(), None
    except ConfigError as error:
        return Config(), f"{error}; using the defaults"


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes; not a config file")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None


def parse_config(text: str, source: str) -> Config:
    import tomllib  # only a config file pays for it (4 ms of every command)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)", str(error))
        where = f"{source}:{match[1]}" if match else source
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(f"{where}: {reason}") from None
    checker = _Checker(text, source)
    unknown = sorted(set(data) - {"snooze_days", "presets", "keys", "views"})
    if unknown:
        raise checker.error(
            unknown[0], "unknown setting (known: snooze_days, [presets], [keys], [views])"
        )
    snooze = data.get("snooze_days", DEFAULT_SNOOZE_DAYS)
    if not isinstance(snooze, int) or isinstance(snooze, bool) or not 1 <= snooze <= 3650:
        raise checker.error(
            "snooze_days", f"must be a whole number of days, 1–3650, not {snooze!r}"
        )
    presets: dict[str, str] = {}
    for key, tag in checker.table(data, "presets").items():
        if key not in "123456789" or len(key) != 1:
            raise checker.error(key, "presets are the keys 1 to 9")
        if not isinstance(tag, str) or not normalise_tag(tag):
            raise checker.error(key, f"a preset is a tag name, not {tag!r}")
        presets[key] = normalise_tag(tag)
    keys = dict(DEFAULT_KEYS)
    for action, key in checker.table(data, "keys").items():
        if action not in DEFAULT_KEYS:
            raise checker.error(action, f"unknown action; known: {', '.join(DEFAULT_KEYS)}")
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise checker.error(action, f'a key is a name like "x", "ctrl+k" or "f5", not {key!r}')
        keys[action] = key
    views: dict[str, str] = {}
    for name, query in checker.table(data, "views").items():
        if not _VIEW_NAME_RE.match(name):
            raise checker.error(name, "a view name is one word (letters, digits, . _ -)")
        if not isinstance(query, str):
            raise checker.error(name, f"a view is a query in quotes, not {query!r}")
        views[name] = query
    return Config(snooze_days=snooze, presets=presets, keys=keys, views=views)


class _Checker:
    """Turns a bad value into ``file:line: key: problem``; tomllib keeps no positions, so the
    line is the first that assigns the key."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def error(self, key: str, problem: str) -> ConfigError:
        pattern = re.compile(rf"^\s*(\[\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
        line = next((n for n, text in enumerate(self.lines, 1) if pattern.match(text)), None)
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(printable_line(f"{where}: {key}: {problem}"))

    def table(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(name, f"must be a table ([{name}])")
        return value
