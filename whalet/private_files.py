"""Files only this user may open: the database, its WAL and lock, private keys.

The SQLite file and its ``-wal`` hold full account numbers and payer names, a private key signs
payouts, and a lock file that another local user can open is a lock they can hold to keep the
bot from starting. Each is created with mode 0600 from the first byte (``os.open`` with the mode,
never a ``chmod`` after writing, which leaves a moment where the file is readable), and the
process runs under umask 077 (``restrict_umask``) so a file created anywhere else, by a library
or by code written later, is private too.

It sits in the bottom layer (beside ``whalet/clock.py``) because the sandbox writes key pairs as
well, and it must not import the bot's own packages.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_MODE = 0o600
_CLASSES = (("group", 0o070, 3), ("others", 0o007, 0))


def restrict_umask() -> int:
    """Every file and folder this process creates from now on is its user's alone; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; an existing file is left as it is
    (``whalet-bot check`` reports it if others can read it). SQLite gives its ``-wal`` and ``-shm``
    the mode of the database file, so creating the database this way makes them 0600 too."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_MODE))


def write_new_private(path: Path, data: bytes) -> None:
    """Write a new file (``FileExistsError`` if ``path`` exists, even as a symlink) that is 0600 from
    its creation; a failed write removes the half-written file rather than leave a broken key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def replace_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole (replacing any file there) through a 0600 file beside it: readers see
    the old content or the new, and nobody else ever sees either."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # left by a process of this pid that died mid-write
    try:
        write_new_private(temporary, data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def exposure_of(status: os.stat_result) -> str | None:
    """Who besides this user can use the file, in words ("mode 0644: group and others can read it");
    None when nobody can."""
    problems = []
    if status.st_uid != os.geteuid():
        problems.append(f"owned by another user (uid {status.st_uid})")
    access: dict[str, list[str]] = {}
    for name, bits, shift in _CLASSES:
        granted = (status.st_mode & bits) >> shift
        verbs = [verb for verb, bit in (("read", 4), ("write", 2)) if granted & bit]
        if verbs:
            access.setdefault(" and ".join(verbs), []).append(name)
    if access:
        who = "; ".join(f"{' and '.join(names)} can {verbs} it" for verbs, names in access.items())
        problems.append(f"mode {status.st_mode & 0o777:04o}: {who}")
    return ", ".join(problems) or None


def exposure(path: Path) -> str | None:
    """``exposure_of`` for a path; None when it does not exist."""
    try:
        return exposure_of(os.stat(path))
    except FileNotFoundError:
        return None
