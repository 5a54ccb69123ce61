"""Slash commands Slack (or someone replaying its signed requests) sent more than once.

A signed slash command stays valid for Slack's 5-minute signature window, so a copy replayed
within it passes every check. Each command that creates a request claims its ``trigger_id``
(unique per invocation) first; a copy finds the claim and is answered with the request the first
one made. Claims are kept for ten minutes, twice the window, then pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

KEEP = timedelta(minutes=10)


def claim(db: Database, trigger_id: str, now: datetime) -> tuple[bool, str | None]:
    """(True, None) for the first sight of ``trigger_id``; (False, the request it made, if any
    yet) for a copy."""
    db.execute("DELETE FROM command_replays WHERE received_at < ?", [(now - KEEP).isoformat()])
    inserted = db.execute(
        "INSERT OR IGNORE INTO command_replays (trigger_id, received_at) VALUES (?, ?)", [trigger_id, now.isoformat()]
    ).rowcount
    if inserted:
        return True, None
    row = db.execute("SELECT request_id FROM command_replays WHERE trigger_id = ?", [trigger_id]).fetchone()
    return False, row[0] if row else None


def link(db: Database, trigger_id: str, request_id: str) -> None:
    db.execute("UPDATE command_replays SET request_id = ? WHERE trigger_id = ?", [request_id, trigger_id])
