"""This device's identity: who wrote each journal in a library folder shared by devices.

It lives in the config dir (``$READINGLIST_CONFIG_DIR``), never in the library folder: two
machines sharing a folder through Syncthing, Dropbox or git must never share an identity,
or each would take the other's journal for its own, and a sync engine would keep one
machine's version of it. A config dir is copied too, though (a dotfiles repo, a cloned
VM, a restored home folder), so ``device.json`` records which machine its id belongs to
(:func:`machine_fingerprint`) and, for a config dir seen on several machines, each one's
id: a machine it does not know gets a new id, and the ids of the others stay theirs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from readinglist.config import config_dir
from readinglist.errors import StorageError
from readinglist.safetext import printable_line

DEVICE_FILE = "device.json"
#: Taken while ``device.json`` is rewritten, so processes starting at once agree on one id.
LOCK_FILE = ".device.lock"
#: A device id: what :func:`this_device` makes (it names the device's journal file).
DEVICE_ID_RE = re.compile("[0-9a-f]{16}")
#: Longest device name kept (a hostname is at most 253 characters).
MAX_NAME = 100
#: Where a machine keeps an id that is its own (systemd, dbus; FreeBSD's hostid). A cloned
#: VM or a copied home folder keeps the config dir, not these.
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostid")
#: Other machines' ids ``device.json`` remembers (a file of a few kilobytes at most).
MAX_MACHINES = 32


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    name: str
    #: The id this config dir held until this process found it copied from another machine
    #: (that id, and its journal in each library, are the other machine's): the caller
    #: tells the user, once. None otherwise.
    replaced: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class _Record:
    """What ``device.json`` holds: the id of the machine that wrote it last, and the ids of
    the other machines it has been on (by fingerprint)."""

    device: Device
    #: The fingerprint of ``device``'s machine; None in a file of an earlier release.
    machine: str | None
    others: dict[str, Device]

    def lookup(self, here: str) -> Device | None:
        """This machine's device; None when it has none yet."""
        if not here or self.machine == here:
            return self.device
        return self.others.get(here)


def this_device(directory: Path | None = None) -> Device:
    """The device of this config dir on this machine, created on first use (two processes
    starting at once agree: the file is created exclusively, and the loser reads the
    winner's). A ``device.json`` of an earlier release is this machine's; one made on
    another machine gets a new id here (:func:`_settle`)."""
    path = (directory or config_dir()) / DEVICE_FILE
    here = machine_fingerprint()
    try:
        record = _read(path)
    except FileNotFoundError:
        return _create(path, here)
    return record.lookup(here) or _settle(path, here)


def machine_fingerprint() -> str:
    """What tells this machine from another, and stays the same across reboots: its machine
    id, else its hostname (macOS); hashed, since a machine id is not for publishing and a
    config dir may be (a dotfiles repo). "" when neither is known: a copy cannot be told.

    Not the MAC address (``uuid.getnode``): it changes with the network adapter in use, and
    may be random per process or cost a subprocess. Called by every command: one small read.
    """
    value = b""
    for name in MACHINE_ID_FILES:
        with contextlib.suppress(OSError), open(name, "rb") as handle:
            value = handle.read(256).strip()
        if value and value != b"uninitialized":  # systemd's, until the first boot completes
            break
        value = b""
    if not value:
        value = os.uname().nodename.strip().encode()
    if not value:
        return ""
    return hashlib.sha256(b"readinglist machine\0" + value).hexdigest()[:16]


def copied_note(device: Device) -> str:
    """What the CLI and the app say, once, when :attr:`Device.replaced` is set."""
    return (
        f"this config folder was copied from another machine: this machine is now device "
        f"{device.id} ({device.name}); device {device.replaced} and its journals are the "
        "other machine's, and are left alone"
    )


def clean_name(name: str) -> str:
    """A device name as shown and stored: one printable line, bounded."""
    return printable_line(name).strip()[:MAX_NAME]


def _new_device(name: str = "") -> Device:
    import secrets  # only for a new id: with socket, ~5 ms of every start
    import socket

    return Device(secrets.token_hex(8), clean_name(socket.gethostname()) or name or "this device")


def _create(path: Path, here: str) -> Device:
    device = _new_device()
    payload = _payload(_Record(device, here or None, {}))
    tmp = path.with_name(f".{DEVICE_FILE}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(payload)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if another process made one meanwhile: use that one
    except FileExistsError:
        return this_device(path.parent)
    except OSError as error:
        raise StorageError(
            f"{path}: cannot create this device's identity ({error.strerror or error}); "
            "check the config folder's permissions or set READINGLIST_CONFIG_DIR"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return device


def _settle(path: Path, here: str) -> Device:
    """This machine's device, when ``device.json`` names none: under the lock (the file as
    read then is the one rewritten; a process that waited finds the winner's id), a file of
    an earlier release is adopted (its id stays: upgrading never changes an id), and one
    made on another machine gets a new id for this one, the other's kept for it (a dotfiles
    repo synced both ways, a home folder shared by machines: each finds its own again)."""
    try:
        with _locked(path.with_name(LOCK_FILE)):
            record = _read(path)
            found = record.lookup(here)
            if found is not None:
                return found
            if record.machine is None:
                _write(path, _Record(record.device, here, record.others))
                return record.device
            device = _new_device(record.device.name)
            others = {k: v for k, v in record.others.items() if k not in (here, record.machine)}
            others[record.machine] = record.device  # newest last: the first to go
            _write(path, _Record(device, here, dict(list(others.items())[-MAX_MACHINES:])))
            return Device(device.id, device.name, replaced=record.device.id)
    except FileNotFoundError:  # moved aside meanwhile: a new one, as on first use
        return _create(path, here)
    except OSError as error:
        record = _read(path)
        if record.machine is None:  # adopting can wait: the id is this machine's anyway
            return record.device
        raise StorageError(
            f"{path}: made on another machine (a copied config folder), and this machine "
            f"cannot get its own identity ({error.strerror or error}); check the config "
            "folder's permissions or set READINGLIST_CONFIG_DIR"
        ) from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for one small write
        yield
    finally:
        os.close(fd)


def _write(path: Path, record: _Record) -> None:
    """Replace ``device.json`` whole (a crash leaves the old one or the new one)."""
    tmp = path.with_name(f".{DEVICE_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(_payload(record))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _payload(record: _Record) -> bytes:
    data: dict[str, object] = {"id": record.device.id, "name": record.device.name}
    if record.machine:
        data["machine"] = record.machine
    if record.others:
        data["other_machines"] = {
            machine: {"id": device.id, "name": device.name}
            for machine, device in record.others.items()
        }
    return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def _read(path: Path) -> _Record:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise StorageError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        data = orjson.loads(raw[:65536])
    except orjson.JSONDecodeError:
        data = None
    device = _device(data) if isinstance(data, dict) else None
    if device is None or not isinstance(data, dict):
        raise StorageError(
            f'{path}: not a device identity (expected {{"id": <16 hex>, "name": …}}); '
            "move it aside and this device gets a new one (its journal in each library "
            "keeps the old id, and is still merged)"
        )
    machine = data.get("machine")
    others = data.get("other_machines")
    return _Record(
        device,
        machine if isinstance(machine, str) and machine else None,
        {
            key: other
            for key, value in (others.items() if isinstance(others, dict) else ())
            if isinstance(value, dict) and (other := _device(value)) is not None
        },
    )


def _device(data: dict[str, object]) -> Device | None:
    device_id, name = data.get("id"), data.get("name")
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
        return None
    return Device(device_id, clean_name(name) if isinstance(name, str) else "")


#: In the config dir: the newest change this device saved in each library folder.
WRITTEN_FILE = "written.json"
#: Library folders remembered there (the most recently changed).
MAX_LIBRARIES = 100


def last_written(data_dir: Path, device: str) -> str | None:
    """The key of the newest change ``device`` saved in ``data_dir`` (None if unknown).
    A journal on disk whose keys all come before it was replaced by an older copy of
    itself (a restored backup, a sync engine copying the other way)."""
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        known = orjson.loads((config_dir() / WRITTEN_FILE).read_bytes())
        key = known.get(_folder(data_dir, device)) if isinstance(known, dict) else None
        return key if isinstance(key, str) else None
    return None


def remember_written(data_dir: Path, device: str, key: str) -> None:
    """Best effort: a hint for :func:`last_written`, never needed to open a library. Two
    processes racing may keep an older key, which only makes the check miss, never warn
    wrongly."""
    path = config_dir() / WRITTEN_FILE
    with contextlib.suppress(OSError, ValueError, TypeError):
        try:
            known = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            known = {}
        if not isinstance(known, dict):
            known = {}
        folder = _folder(data_dir, device)
        known.pop(folder, None)
        known[folder] = key
        kept = dict(list(known.items())[-MAX_LIBRARIES:])
        tmp = path.with_name(f".{WRITTEN_FILE}.{os.getpid()}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(orjson.dumps(kept))
        os.replace(tmp, path)


def _folder(data_dir: Path, device: str) -> str:
    return f"{device} {data_dir.resolve()}"
