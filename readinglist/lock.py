"""The lock that makes writers of one library take turns, across processes.

An exclusive ``flock`` on the library's ``lock`` file, held only while a change is read,
applied and saved; the holder's pid is written into the file (and cleared on release) so
that a pid left behind names a writer that died mid-save.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from readinglist.errors import LibraryLocked, StorageError

#: Seconds a writer waits for another process's lock before giving up with a message.
LOCK_TIMEOUT = 10.0


class Lock:
    """Exclusive, re-entrant ``flock`` on the library's lock file, held only while writing."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> Lock:
        if self._depth == 0:
            self._acquire()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            # Clear our pid: a pid left in the file means a writer died while saving.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StorageError(
                f"{self.path.parent}: cannot write to the library folder "
                f"({error.strerror or error})"
            ) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = self.holder()
                    os.close(fd)
                    raise LibraryLocked(
                        f"{self.path}: another readinglist process (pid {holder or '?'}) "
                        f"has been writing the library for {self.timeout:.0f} s; "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.005)
        self._fd = fd
        # The pid is only for messages and `doctor`: a full disk must not stop us here (the
        # save itself then reports it) nor leave the lock held.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def holder(self) -> int | None:
        """The pid written by the last process that took the lock, if any."""
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stale_holder(self) -> int | None:
        """The pid of a writer that died while saving: still in the file, lock not held."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            # A shared lock is enough to know no writer holds it, and needs no write access.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        else:
            return self.holder()
        finally:
            os.close(fd)  # also releases the shared lock
