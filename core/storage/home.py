"""Queries on ``home_dirty`` and ``home_balances``: whose App Home must be published again, and
the balance snapshot the Home shows (so opening the Home never calls Whalet)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database


def mark(db: Database, users: Iterable[str], since: str) -> None:
    """Ask for a fresh Home for these people; a person already waiting keeps one row (coalesced)."""
    for user in dict.fromkeys(users):
        db.execute("INSERT OR IGNORE INTO home_dirty (user_id, since) VALUES (?, ?)", [user, since])


def waiting(db: Database, limit: int) -> list[tuple[str, str]]:
    """(user, since) of the people waiting for a fresh Home, longest waiting first."""
    return [
        (str(row[0]), str(row[1]))
        for row in db.execute("SELECT user_id, since FROM home_dirty ORDER BY since, user_id LIMIT ?", [limit])
    ]


def take(db: Database, user: str, since: str) -> bool:
    """Compare-and-delete: True for the one process that takes this request to publish (a newer
    mark made meanwhile has another ``since`` and stays)."""
    return int(db.execute("DELETE FROM home_dirty WHERE user_id = ? AND since = ?", [user, since]).rowcount) == 1


def set_notice(db: Database, user_id: str, text: str, until: str) -> None:
    """The sentence shown at the top of this person's Home until ``until`` (the latest one wins)."""
    db.execute(
        """INSERT INTO home_notices (user_id, text, until) VALUES (?, ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET text = excluded.text, until = excluded.until""",
        [user_id, text, until],
    )


def notice(db: Database, user_id: str, now: str) -> str | None:
    found = db.execute("SELECT text FROM home_notices WHERE user_id = ? AND until > ?", [user_id, now]).fetchone()
    return None if found is None else str(found[0])


def replace_balances(
    db: Database, user_id: str, fund_source: str, rows: Iterable[dict[str, Any]], taken_at: str
) -> None:
    """The snapshot of one Whalet user and fund source, replacing the previous one."""
    db.execute("DELETE FROM home_balances WHERE user_id = ? AND fund_source = ?", [user_id, fund_source])
    for row in rows:
        db.execute(
            """INSERT INTO home_balances (user_id, fund_source, currency, available, pending, frozen, taken_at)
                      VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                user_id,
                fund_source,
                row["currency"],
                row.get("available"),
                row.get("pending"),
                row.get("frozen"),
                taken_at,
            ],
        )


def balances(db: Database, user_id: str, fund_source: str) -> list[dict[str, Any]]:
    """The stored snapshot, by currency."""
    return list(
        db.query(
            """SELECT currency, available, pending, frozen, taken_at FROM home_balances
                            WHERE user_id = ? AND fund_source = ? ORDER BY currency""",
            [user_id, fund_source],
        )
    )
