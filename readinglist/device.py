"""This device's identity: who wrote each journal in a library folder shared by devices.

It lives in the config dir (``$READINGLIST_CONFIG_DIR``), never in the library folder: two
machines sharing a folder through Syncthing, Dropbox or git must never share an identity,
or each would take the other's journal for its own.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import orjson

from readinglist.config import config_dir
from readinglist.errors import StorageError
from readinglist.safetext import printable_line

DEVICE_FILE = "device.json"
#: A device id: what :func:`this_device` makes (it names the device's journal file).
DEVICE_ID_RE = re.compile("[0-9a-f]{16}")
#: Longest device name kept (a hostname is at most 253 characters).
MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    name: str


def this_device(directory: Path | None = None) -> Device:
    """The device of this config dir, created on first use (two processes starting at once
    agree: the file is created exclusively, and the loser reads the winner's)."""
    path = (directory or config_dir()) / DEVICE_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    import secrets  # only the first time: with socket, ~5 ms of every start
    import socket

    device = Device(secrets.token_hex(8), clean_name(socket.gethostname()) or "this device")
    payload = orjson.dumps({"id": device.id, "name": device.name}, option=orjson.OPT_INDENT_2)
    tmp = path.with_name(f".{DEVICE_FILE}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(payload)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if another process made one meanwhile: use that one
    except FileExistsError:
        return _read(path)
    except OSError as error:
        raise StorageError(
            f"{path}: cannot create this device's identity ({error.strerror or error}); "
            "check the config folder's permissions or set READINGLIST_CONFIG_DIR"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return device


def clean_name(name: str) -> str:
    """A device name as shown and stored: one printable line, bounded."""
    return printable_line(name).strip()[:MAX_NAME]


def _read(path: Path) -> Device:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise StorageError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        data = orjson.loads(raw[:65536])
        device_id, name = data["id"], data["name"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        device_id = name = None
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
        raise StorageError(
            f'{path}: not a device identity (expected {{"id": <16 hex>, "name": …}}); '
            "move it aside and this device gets a new one (its journal in each library "
            "keeps the old id, and is still merged)"
        )
    return Device(device_id, clean_name(name) if isinstance(name, str) else "")
