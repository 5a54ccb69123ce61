"""Queries on ``inbox``: the Whalet notifications stored before their ack."""

from __future__ import annotations

from sqlite_utils import Database


def counts(db: Database) -> dict[str, int]:
    """``backlog`` not yet relayed, ``failed`` relayed only generically after errors, ``total``."""
    row = db.execute("""SELECT
            SUM(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END),
            COUNT(*) FROM inbox""").fetchone()
    return {"backlog": int(row[0] or 0), "failed": int(row[1] or 0), "total": int(row[2] or 0)}


def backlog(db: Database) -> int:
    """Notifications stored but not yet relayed."""
    return int(db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0])
