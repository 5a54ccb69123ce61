"""The durable outbox: every message the bot posts or updates in a channel goes through here.

A state change and the Slack message that announces it are written in one transaction, so a crash
can lose neither and never leaves one without the other. The worker in `outbox_worker` delivers
rows later, paced per channel, and records the Slack ``ts`` in the same transaction that marks the
row done, so a row is never posted twice (see the worker for the in-flight case).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

Ref = tuple[str, str]  # (ref kind, ref id), e.g. ("approval", "A1B2")

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0300_outbox",
        [
            """CREATE TABLE IF NOT EXISTS outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                op TEXT NOT NULL CHECK (op IN ('post', 'update')),
                channel TEXT,
                text TEXT NOT NULL,
                blocks TEXT,
                thread_ref TEXT,
                ref TEXT,
                kind TEXT NOT NULL DEFAULT 'message',
                fold_line TEXT,
                correlation_id TEXT,
                state TEXT NOT NULL DEFAULT 'pending',
                check_first INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                rate_limited INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_error TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT,
                ts TEXT,
                folded_into INTEGER
            )""",
            "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at)",
            "CREATE INDEX IF NOT EXISTS outbox_ref ON outbox(ref, state)",
            """CREATE TABLE IF NOT EXISTS message_refs (
                ref TEXT PRIMARY KEY, channel TEXT NOT NULL, ts TEXT NOT NULL, outbox_id INTEGER
            )""",
            """CREATE TABLE IF NOT EXISTS channel_health (
                channel TEXT PRIMARY KEY, last_error TEXT, last_error_at TEXT, last_ok_at TEXT
            )""",
        ],
    )
]

PENDING, SENDING, DONE, PARKED, SUPERSEDED, FOLDED = "pending", "sending", "done", "parked", "superseded", "folded"
OPEN_STATES = (PENDING, SENDING)


def _ref_key(ref: Ref | None) -> str | None:
    if ref is None:
        return None
    kind, ident = ref
    return f"{kind}:{ident}"


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _blocks_json(blocks: Iterable[Any] | None) -> str | None:
    if blocks is None:
        return None
    return json.dumps([b.to_dict() if hasattr(b, "to_dict") else b for b in blocks], ensure_ascii=False)


def enqueue_post(
    db: Database,
    *,
    channel: str,
    text: str,
    blocks: Iterable[Any] | None = None,
    thread_ref: Ref | None = None,
    ref: Ref | None = None,
    kind: str = "message",
    fold_line: str | None = None,
    correlation_id: str | None = None,
) -> int:
    """Queue a new channel message inside the caller's transaction; returns the outbox id."""
    now = _now_text()
    cursor = db.execute(
        """INSERT INTO outbox (op, channel, text, blocks, thread_ref, ref, kind, fold_line,
               correlation_id, state, next_attempt_at, created_at)
           VALUES ('post', ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)""",
        [channel, text, _blocks_json(blocks), _ref_key(thread_ref), _ref_key(ref), kind, fold_line,
         correlation_id, now, now],
    )
    return int(cursor.lastrowid or 0)


def enqueue_update(
    db: Database, *, ref: Ref, text: str, blocks: Iterable[Any] | None = None, correlation_id: str | None = None
) -> int:
    """Queue a ``chat.update`` of the message recorded under ``ref``; the latest content wins.

    If that message has not been posted yet, its queued post takes the new content instead, so
    Slack never shows a stale version even briefly.
    """
    key = _ref_key(ref)
    blocks_text = _blocks_json(blocks)
    unsent = db.execute(
        "SELECT id FROM outbox WHERE op = 'post' AND ref = ? AND state = 'pending' ORDER BY id DESC LIMIT 1", [key]
    ).fetchone()
    if unsent is not None:
        db.execute("UPDATE outbox SET text = ?, blocks = ? WHERE id = ?", [text, blocks_text, unsent[0]])
        return int(unsent[0])
    db.execute(
        "UPDATE outbox SET state = 'superseded' WHERE op = 'update' AND ref = ? AND state = 'pending'", [key]
    )
    now = _now_text()
    cursor = db.execute(
        """INSERT INTO outbox (op, text, blocks, ref, kind, correlation_id, state, next_attempt_at, created_at)
           VALUES ('update', ?, ?, ?, 'update', ?, 'pending', ?, ?)""",
        [text, blocks_text, key, correlation_id, now, now],
    )
    return int(cursor.lastrowid or 0)


def message_ref(db: Database, ref_kind: str, ref_id: str) -> tuple[str, str] | None:
    """The (channel, ts) of a message posted under this ref, once it has been posted."""
    row = db.execute("SELECT channel, ts FROM message_refs WHERE ref = ?", [f"{ref_kind}:{ref_id}"]).fetchone()
    return (row[0], row[1]) if row else None


def backlog(db: Database) -> dict[str, int]:
    """Counts for /whalet status and metrics."""
    rows = db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
    counts = {state: count for state, count in rows}
    return {
        "pending": counts.get(PENDING, 0) + counts.get(SENDING, 0),
        "parked": counts.get(PARKED, 0),
        "done": counts.get(DONE, 0),
    }


def unreachable_channels(db: Database) -> dict[str, str]:
    """Channels whose most recent post failed for a reason that needs a person (e.g. bot not invited)."""
    rows = db.execute(
        """SELECT channel, last_error FROM channel_health
           WHERE last_error IS NOT NULL AND (last_ok_at IS NULL OR last_ok_at < last_error_at)"""
    ).fetchall()
    return {channel: error for channel, error in rows}


from notifications.outbox_worker import OutboxWorker  # noqa: E402  (re-export; worker imports the API above)

__all__ = ["OutboxWorker", "enqueue_post", "enqueue_update", "message_ref", "backlog", "unreachable_channels",
           "MIGRATIONS"]
