"""The lock that makes writers of one library take turns, across processes and threads.

An exclusive ``flock`` on the library's ``lock`` file, held only while a change is read,
applied and saved. ``flock`` does not exclude the threads of one process sharing a
:class:`Lock`, so a thread lock is taken first; the lock is re-entrant for the owning
thread only. The holder writes who it is into the file (pid, since when, which command)
and clears it on release, so readers can name a writer they wait for, and a holder left
in a file whose lock nobody holds names a writer that died mid-save.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from readinglist.errors import LibraryLocked, StorageError
from readinglist.model import now
from readinglist.safetext import printable_line

#: Seconds a writer waits for another writer's lock before giving up with a message.
LOCK_TIMEOUT = 10.0
#: Seconds between attempts while another process holds the lock.
POLL_INTERVAL = 0.005
#: Longest command name written into the lock file.
MAX_COMMAND = 40
#: A holder's start time younger than this is shown as a time of day, older ones with a date.
RECENT = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who took the lock, as its lock file says (an earlier release's file names the pid only)."""

    pid: int
    #: What that process was doing: ``mark``, ``import``, ``app``…; "" when not recorded.
    command: str = ""
    since: datetime | None = None

    def describe(self) -> str:
        """``pid 4242 (mark, since 14:03:05)``: for messages, safe to print."""
        details = [printable_line(self.command)] if self.command else []
        if self.since is not None:
            local = self.since.astimezone()
            recent = datetime.now(UTC) - self.since < RECENT
            details.append(f"since {local:%H:%M:%S}" if recent else f"since {local:%Y-%m-%d %H:%M}")
        return f"pid {self.pid}" + (f" ({', '.join(details)})" if details else "")


#: Called in the waiting thread, once per acquisition, when taking the lock must wait.
WaitCallback = Callable[[Holder | None], None]

_command: str | None = None


def set_command(name: str) -> None:
    """Name what this process does (``mark``, ``import``, ``app``), for every lock it takes.

    A property of the process rather than of one :class:`Lock`, so the library's writes and
    ``doctor``'s repairs alike tell a waiting reader what they are.
    """
    global _command
    _command = " ".join(name.split())[:MAX_COMMAND] or None


def current_command() -> str:
    """The name set by :func:`set_command`, else the program's name (``readinglist``)."""
    if _command:
        return _command
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] not in ("", "-c") else Path()
    program = script.parent.name if script.stem == "__main__" else script.stem  # python -m
    return " ".join(program.split())[:MAX_COMMAND] or "python"


class Lock:
    """Exclusive ``flock`` on the library's lock file, re-entrant for its owning thread."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        #: Told once per acquisition that would block, before waiting (see :data:`WaitCallback`).
        self.on_wait: WaitCallback | None = None
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> Lock:
        self._take(wait=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    @contextlib.contextmanager
    def attempt(self) -> Iterator[bool]:
        """Hold the lock if it is free right now; yield False (holding nothing) if it is not.

        For work that may be skipped, such as cleaning leftovers: nobody waits for it.
        """
        taken = self._take(wait=False)
        try:
            yield taken
        finally:
            if taken:
                self._release()

    @property
    def owned(self) -> bool:
        """True in the thread that holds this lock."""
        return self._owner == threading.get_ident()

    def _take(self, wait: bool) -> bool:
        if self.owned:
            self._depth += 1
            return True
        deadline = time.monotonic() + self.timeout
        told = False
        if not self._mutex.acquire(blocking=False):
            if not wait:
                return False
            self._tell_waiting()
            told = True
            if not self._mutex.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise self._timed_out()
        try:
            fd = self._flock(wait, deadline, told)
        except BaseException:
            self._mutex.release()
            raise
        if fd is None:
            self._mutex.release()
            return False
        self._fd, self._owner, self._depth = fd, threading.get_ident(), 1
        # Who we are is only for messages and `doctor`: a full disk must not stop us here
        # (the save itself then reports it) nor leave the lock held.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {now()} {current_command()}\n".encode(), 0)
        return True

    def _flock(self, wait: bool, deadline: float, told: bool) -> int | None:
        """The lock file's descriptor with our flock on it; None if busy and not waiting."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StorageError(
                f"{self.path.parent}: cannot write to the library folder "
                f"({error.strerror or error})"
            ) from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    if not wait:
                        os.close(fd)
                        return None
                    if not told:
                        self._tell_waiting()
                        told = True
                    if time.monotonic() > deadline:
                        raise self._timed_out() from None
                    time.sleep(POLL_INTERVAL)
        except BaseException:
            os.close(fd)
            raise

    def _release(self) -> None:
        if not self.owned:
            raise RuntimeError(f"{self.path}: released by a thread that does not hold it")
        self._depth -= 1
        if self._depth:
            return
        fd, self._fd, self._owner = self._fd, None, None
        try:
            if fd is not None:
                # Clear who we are: a holder left in the file means a writer died while saving.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            self._mutex.release()

    def _tell_waiting(self) -> None:
        if self.on_wait is not None:
            self.on_wait(self.holder())

    def _timed_out(self) -> LibraryLocked:
        holder = self.holder()
        who = f", {holder.describe()}," if holder else ""
        writer = "another task of this" if holder and holder.pid == os.getpid() else "another"
        return LibraryLocked(
            f"{self.path}: {writer} readinglist process{who} has been writing the library for "
            f"{self.timeout:g} s; try again when it has finished"
        )

    def holder(self) -> Holder | None:
        """Who the lock file names: the current holder, or a writer that died holding it."""
        try:
            fields = self.path.read_text(errors="replace").split(maxsplit=2)
            pid = int(fields[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            since = datetime.fromisoformat(fields[1]) if len(fields) > 1 else None
        except ValueError:
            return Holder(pid)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # we write UTC; a hand-edited time may lack it
        return Holder(pid, fields[2].strip() if len(fields) > 2 else "", since)

    def inspect(self) -> tuple[bool, Holder | None]:
        """Whether a writer holds the lock right now, and who the lock file names."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False, None
        try:
            # A shared lock is enough to know no writer holds it, and needs no write access.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held = True
        else:
            held = False
        try:
            return held, self.holder()
        finally:
            os.close(fd)  # also releases the shared lock

    def stale_holder(self) -> Holder | None:
        """A writer that died while saving: named in the file, but nobody holds the lock."""
        held, holder = self.inspect()
        return None if held else holder
