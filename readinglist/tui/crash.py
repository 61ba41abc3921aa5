"""What happens when the app meets a bug: the traceback goes to a log file, the user gets
one line pointing to it, and the process exits with status 1 (not 0, not a wall of text)."""

from __future__ import annotations

import os
import traceback
from datetime import datetime
from pathlib import Path

import platformdirs

ENV_STATE_DIR = "READINGLIST_STATE_DIR"


def log_dir() -> Path:
    override = os.environ.get(ENV_STATE_DIR)
    return Path(override) if override else Path(platformdirs.user_state_dir("readinglist"))


def write_log(error: BaseException, what: str) -> Path | None:
    """Append ``error``'s traceback to ``crash.log``; None when even that is impossible."""
    path = log_dir() / "crash.log"
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    entry = f"--- {datetime.now().isoformat(timespec='seconds')} {what}\n{''.join(lines)}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(entry)
    except OSError:
        return None
    return path


def one_line(error: BaseException, log: Path | None, what: str) -> str:
    where = f"the details are in {log}" if log else "the details could not be logged"
    return f"readinglist: {what}: {type(error).__name__}: {error}; {where}"
