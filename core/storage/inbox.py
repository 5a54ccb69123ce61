"""Queries on ``inbox``: the Whalet notifications stored before their ack."""

from __future__ import annotations

from sqlite_utils import Database


def backlog(db: Database) -> int:
    """Notifications stored but not yet relayed."""
    return int(db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0])
