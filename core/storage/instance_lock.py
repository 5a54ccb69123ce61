"""One process per SQLite file: a second ``whalet-bot run`` on the same file refuses to start.

Two processes on one SQLite file each believe they own the work in it (outbox rows in flight,
digest runs, confirm leases), and each hands the other's half-done rows back at start-up; tried,
that lost acknowledged notifications. So ``run`` takes an exclusive lock on a sidecar file
(``<database>.lock``) for as long as it lives and writes who it is into it.

The lock is an ``fcntl`` lock, held by the kernel for the open file: a process killed with
``kill -9`` (or a crashed host) releases it at once, so a restart never finds a stale lock the
way it could find a stale row or pid file. Several replicas need Postgres
(``WHALET_BOT_DATABASE_URL``), where work is claimed row by row instead.

A lock file that another local user can open is a lock they can take (a shared lock needs only
read access) to keep the bot from starting. So the file is created 0600, and one that is owned by
someone else or open to group or others is refused with what is wrong with it, never taken, and
never blamed on a whalet-bot that is not running.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from typing import IO

from core.clock import SYSTEM_CLOCK
from whalet.private_files import PRIVATE_MODE, exposure_of


# Open lock files, kept here as well as on their InstanceLock: an fcntl lock ends when its file is
# closed, and a lock object dropped by mistake must not close it behind the process's back.
_HELD: dict[Path, IO[str]] = {}


class DatabaseInUse(RuntimeError):
    """Another live process holds the SQLite file; the message names it."""


class LockFileNotPrivate(DatabaseInUse):
    """The lock file could be opened by another user; the message says how, and what to do."""


class InstanceLock:
    """Held from ``acquire`` until ``release`` or the end of the process."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> InstanceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._open_private()  # held for the process's life, not a with-block
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read()
            handle.close()
            raise DatabaseInUse(_refusal(self.database, holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started_at": SYSTEM_CLOCK.now().isoformat(timespec="seconds"),
                }
            )
        )
        handle.flush()
        self._file = _HELD[self.path] = handle
        return self

    def _open_private(self) -> IO[str]:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_MODE)
        except PermissionError:
            raise LockFileNotPrivate(_not_private(self.path, "not this user's to open")) from None
        problem = exposure_of(os.fstat(fd))
        if problem is not None:
            os.close(fd)
            raise LockFileNotPrivate(_not_private(self.path, problem))
        return open(fd, "r+", encoding="utf-8")

    def release(self) -> None:
        if self._file is not None:
            _HELD.pop(self.path, None)
            self._file.close()  # closing the file drops the lock
            self._file = None


def _refusal(database: Path, holder_text: str) -> str:
    try:
        holder = json.loads(holder_text)
        who = f"pid {holder['pid']} on host {holder['host']}, started {holder['started_at']}"
    except (ValueError, KeyError, TypeError):
        who = "a process that has not written its name yet"
    return (
        f"Another whalet-bot ({who}) is already running on the database {database}. One SQLite file serves "
        "one process: stop that one first, or set WHALET_BOT_DATABASE_URL to a Postgres database to run "
        "several replicas."
    )


def _not_private(path: Path, problem: str) -> str:
    return (
        f"The lock file {path} is {problem}, so another local user could hold it and keep whalet-bot "
        "from starting. Remove it while no whalet-bot runs on this database (whalet-bot creates a new "
        "one that only its own user can open), then start again."
    )
