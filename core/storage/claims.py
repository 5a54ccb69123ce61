"""Who holds a piece of work (one name per process start, so a lease names its holder), and
quiet windows: "at most once per key per N minutes", decided by the database for every replica."""

from __future__ import annotations

import os
import secrets
import socket

from sqlite_utils import Database

from core.storage.dialect import POSTGRES, dialect_of


def new_holder(part: str) -> str:
    """``part@host:pid:random``: unique per process start (a restarted process is a new holder,
    so it never mistakes its predecessor's lease for its own) and readable in the database."""
    return f"{part}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def open_window(db: Database, key: str, now: str, until: str) -> bool:
    """True when ``key``'s quiet window had ended (or never existed) and now runs to ``until``;
    False while it is still quiet. One conditional upsert: of two replicas asking at once,
    exactly one gets True (Postgres serialises the two writes on the key's row)."""
    return (
        int(
            db.execute(
                """INSERT INTO quiet_windows (key, until) VALUES (?, ?)
                             ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE quiet_windows.until <= ?""",
                [key, until, now],
            ).rowcount
        )
        == 1
    )


def is_quiet(db: Database, key: str, now: str) -> bool:
    """A read, no claim: ``key``'s window still runs (``open_window`` would say False now)."""
    row = db.execute("SELECT until FROM quiet_windows WHERE key = ?", [key]).fetchone()
    return row is not None and str(row[0]) > now


def serialize_on(db: Database, *keys: str) -> None:
    """Hold a lock named by each key until the caller's transaction ends, so that decisions of
    the form "read a sum, then insert" about the same subject (a requester's daily total, their
    window to one beneficiary) run one after another on every replica.

    Postgres, at READ COMMITTED, would let two replicas both read the old sum and both insert:
    here a transaction-scoped advisory lock per key, taken in sorted order so that two
    transactions wanting overlapping keys never deadlock. SQLite: nothing to do, ``BEGIN
    IMMEDIATE`` already made this transaction the only writer of the file."""
    if dialect_of(db) != POSTGRES:
        return
    for key in sorted(set(keys)):
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [key])
