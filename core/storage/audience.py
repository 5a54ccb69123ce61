"""Queries on ``approval_audience`` and ``approval_reminders``: who was asked to approve a
request, who holds a DM copy of its card, and which requests had their half-way reminder."""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database


def add(db: Database, request_id: str, users: Iterable[str], *, dm: bool) -> list[str]:
    """Record the people who may approve ``request_id``; returns those newly recorded."""
    added = []
    for user in users:
        cursor = db.execute(
            "INSERT OR IGNORE INTO approval_audience (request_id, user_id, dm) VALUES (?, ?, ?)",
            [request_id, user, 1 if dm else 0],
        )
        if int(cursor.rowcount) == 1:
            added.append(user)
    return added


def members(db: Database, request_id: str) -> list[str]:
    """Everyone recorded for the request, in a stable order."""
    return [
        str(row[0])
        for row in db.execute(
            "SELECT user_id FROM approval_audience WHERE request_id = ? ORDER BY user_id", [request_id]
        )
    ]


def dm_holders(db: Database, request_id: str) -> list[str]:
    """The people holding a DM copy of the request's card."""
    return [
        str(row[0])
        for row in db.execute(
            "SELECT user_id FROM approval_audience WHERE request_id = ? AND dm = 1 ORDER BY user_id", [request_id]
        )
    ]


def claim_reminder(db: Database, request_id: str, now: str) -> bool:
    """True for exactly one caller per request, ever: the one whose INSERT created the row
    (on Postgres a concurrent second INSERT waits for the first and then does nothing)."""
    return (
        int(
            db.execute(
                "INSERT OR IGNORE INTO approval_reminders (request_id, sent_at) VALUES (?, ?)", [request_id, now]
            ).rowcount
        )
        == 1
    )


def reminded(db: Database, request_id: str) -> bool:
    return db.execute("SELECT 1 FROM approval_reminders WHERE request_id = ?", [request_id]).fetchone() is not None
