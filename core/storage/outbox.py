"""The durable outbox's tables: every message the bot posts or updates in a channel is a row here.

A state change and the Slack message that announces it are written in one transaction, so a crash
can lose neither and never leaves one without the other. The worker (``services.slack.outbox``)
delivers rows later, paced per channel, and records the Slack ``ts`` in the same transaction that
marks the row done, so a row is never posted twice (see the worker for the in-flight case).
Every statement on ``outbox``, ``message_refs`` and ``channel_health`` is in this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from core.clock import SYSTEM_CLOCK
from core.storage.dialect import row_lock

Ref = tuple[str, str]  # (ref kind, ref id), e.g. ("approval", "A1B2")


PENDING, SENDING, DONE, PARKED, SUPERSEDED, FOLDED = "pending", "sending", "done", "parked", "superseded", "folded"
OPEN_STATES = (PENDING, SENDING)
LANE_BUSY_RETRY_SECONDS = 0.2  # another replica is delivering in this channel right now


def _ref_key(ref: Ref | None) -> str | None:
    if ref is None:
        return None
    kind, ident = ref
    return f"{kind}:{ident}"


def _now_text() -> str:
    return SYSTEM_CLOCK.now().isoformat(timespec="milliseconds")


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
    now: datetime | None = None,
) -> int:
    """Queue a new channel message inside the caller's transaction; returns the outbox id.

    ``now`` stamps the row (due at once); the delivery clock when not given.
    """
    now_text = _now_text() if now is None else _iso(now)
    cursor = db.execute(
        """INSERT INTO outbox (op, channel, text, blocks, thread_ref, ref, kind, fold_line,
               correlation_id, state, next_attempt_at, created_at)
           VALUES ('post', ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)""",
        [
            channel,
            text,
            _blocks_json(blocks),
            _ref_key(thread_ref),
            _ref_key(ref),
            kind,
            fold_line,
            correlation_id,
            now_text,
            now_text,
        ],
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
    # ``state = 'pending'`` again in the UPDATE: a replica may have claimed the post since the
    # SELECT (Postgres, READ COMMITTED); then it is being sent with the old text and an update follows.
    if (
        unsent is not None
        and db.execute(
            "UPDATE outbox SET text = ?, blocks = ? WHERE id = ? AND state = 'pending'", [text, blocks_text, unsent[0]]
        ).rowcount
        == 1
    ):
        return int(unsent[0])
    db.execute("UPDATE outbox SET state = 'superseded' WHERE op = 'update' AND ref = ? AND state = 'pending'", [key])
    now = _now_text()
    cursor = db.execute(
        """INSERT INTO outbox (op, text, blocks, ref, kind, correlation_id, state, next_attempt_at, created_at)
           VALUES ('update', ?, ?, ?, 'update', ?, 'pending', ?, ?)""",
        [text, blocks_text, key, correlation_id, now, now],
    )
    return int(cursor.lastrowid or 0)


def message_ref(db: Database, ref_kind: str, ref_id: str) -> tuple[str, str] | None:
    """The (channel, ts) of a message posted under this ref, once it has been posted."""
    return posted(db, f"{ref_kind}:{ref_id}")


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


# --- the worker's side -------------------------------------------------------------------------


def hand_back_inflight(db: Database, *, owner: str | None = None, expired_before: str | None = None) -> int:
    """Rows left ``sending`` go back to pending, marked to check Slack first (they may have been
    posted): every such row (``owner`` and ``expired_before`` None: the only process on the file,
    at start-up), this owner's (at its shutdown), or those whose lease ran out (another replica
    died holding them). Their channels' lanes are freed the same way."""
    where, params = "state = 'sending'", []
    if owner is not None:
        where, params = where + " AND claimed_by = ?", [owner]
    if expired_before is not None:
        where, params = where + " AND (lease_until IS NULL OR lease_until < ?)", [*params, expired_before]
    handed = int(
        db.execute(
            f"UPDATE outbox SET state = 'pending', check_first = 1, claimed_by = NULL, "
            f"lease_until = NULL WHERE {where}",
            params,
        ).rowcount
    )
    lanes, lane_params = "holder IS NOT NULL", []
    if owner is not None:
        lanes, lane_params = lanes + " AND holder = ?", [owner]
    if expired_before is not None:
        lanes, lane_params = lanes + " AND (lease_until IS NULL OR lease_until < ?)", [*lane_params, expired_before]
    db.execute(f"UPDATE outbox_lanes SET holder = NULL, lease_until = NULL WHERE {lanes}", lane_params)
    return handed


def due_heads(db: Database, now: str, limit: int = 500) -> list[dict[str, Any]]:
    """The oldest due row of each channel (updates: of each message), so a long queue in one
    channel never hides another channel's messages behind it."""
    return list(
        db.query(
            """SELECT * FROM outbox WHERE id IN (
               SELECT MIN(id) FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?
               GROUP BY CASE WHEN op = 'post' THEN 'c:' || channel ELSE 'r:' || ref END)
           ORDER BY id LIMIT ?""",
            [now, limit],
        )
    )


def posted(db: Database, ref_key: str) -> tuple[str, str] | None:
    """(channel, ts) recorded for a ref key (``kind:id``), once its message was posted."""
    row = db.execute("SELECT channel, ts FROM message_refs WHERE ref = ?", [ref_key]).fetchone()
    return (row[0], row[1]) if row else None


def post_still_coming(db: Database, ref_key: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM outbox WHERE op = 'post' AND ref = ? AND state IN ('pending', 'sending')", [ref_key]
        ).fetchone()
        is not None
    )


def drop_orphan_update(db: Database, outbox_id: int) -> None:
    """An update whose message will never exist."""
    db.execute(
        "UPDATE outbox SET state = 'superseded', last_error = 'no message to update' "
        "WHERE id = ? AND state = 'pending'",
        [outbox_id],
    )


@dataclass(frozen=True)
class Claim:
    """The row is ours to deliver (``claimed``), or not now: gone, or its channel is busy with
    another delivery or paced (``wait`` seconds before asking again)."""

    claimed: bool
    wait: float = 0.0
    row: dict[str, Any] | None = None  # the row as claimed: its latest text, not the one read before


@dataclass(frozen=True)
class Pace:
    interval: float  # seconds between messages in one channel, on average
    burst: int  # messages a quiet channel may take at once


def claim(
    db: Database, outbox_id: int, *, channel: str, owner: str, now: datetime, lease_until: str, pace: Pace
) -> Claim:
    """pending -> sending, holding the channel's lane, in the caller's transaction.

    Exclusive across replicas (Postgres): the row is locked ``FOR UPDATE SKIP LOCKED`` (another
    replica's claim of it is simply not seen), and the channel's lane row is locked while it is
    checked and taken, so one message per channel is in flight at any time, whatever the number
    of replicas, and the lane's pace (a shared token bucket kept as a theoretical arrival time,
    plus a Retry-After block) holds for all of them together. A lane or row left by a dead
    replica is taken over after its lease (``hand_back_inflight``)."""
    rows = list(db.query(f"SELECT * FROM outbox WHERE id = ? AND state = 'pending'{row_lock(db)}", [outbox_id]))
    if not rows:
        return Claim(False)
    if rows[0]["op"] == "update" and _newer_update(db, rows[0]):
        db.execute("UPDATE outbox SET state = 'superseded' WHERE id = ?", [outbox_id])
        return Claim(False)
    db.execute("INSERT OR IGNORE INTO outbox_lanes (channel) VALUES (?)", [channel])
    holder, held_until, paced_at, blocked_until = db.execute(
        f"SELECT holder, lease_until, pace_at, blocked_until FROM outbox_lanes WHERE channel = ?"
        f"{row_lock(db, skip_locked=False)}",
        [channel],
    ).fetchone()
    now_text = _iso(now)
    if holder is not None and (held_until or "") >= now_text:  # even our own: one delivery per channel
        return Claim(False, LANE_BUSY_RETRY_SECONDS)
    arrival = max(_moment(paced_at) or now, now)
    ready_at = max(arrival - timedelta(seconds=pace.interval * (pace.burst - 1)), _moment(blocked_until) or now)
    if ready_at > now:
        return Claim(False, (ready_at - now).total_seconds())
    db.execute(
        "UPDATE outbox_lanes SET holder = ?, lease_until = ?, pace_at = ? WHERE channel = ?",
        [owner, lease_until, _iso(arrival + timedelta(seconds=pace.interval)), channel],
    )
    db.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?, lease_until = ? WHERE id = ?",
        [owner, lease_until, outbox_id],
    )
    return Claim(True, row=rows[0])


def _newer_update(db: Database, row: dict[str, Any]) -> bool:
    """An update queued after this one for the same message exists (waiting, going out or sent):
    this one (a retry that fell behind, say) would put an older state back on the card. Updates
    are queued in the transaction that moves the request, after its compare-and-set, so a later
    id is always a later state."""
    return (
        db.execute(
            """SELECT 1 FROM outbox WHERE op = 'update' AND ref = ? AND id > ?
               AND state IN ('pending', 'sending', 'done') LIMIT 1""",
            [row["ref"], row["id"]],
        ).fetchone()
        is not None
    )


def release_lane(db: Database, channel: str, owner: str, blocked_until: str | None = None) -> None:
    """The delivery is over: the next message of the channel may go (after ``blocked_until``,
    Slack's Retry-After, for every replica)."""
    if blocked_until is None:
        db.execute(
            "UPDATE outbox_lanes SET holder = NULL, lease_until = NULL WHERE channel = ? AND holder = ?",
            [channel, owner],
        )
    else:
        db.execute(
            "UPDATE outbox_lanes SET holder = NULL, lease_until = NULL, blocked_until = ? "
            "WHERE channel = ? AND holder = ?",
            [blocked_until, channel, owner],
        )


def still_claimed(db: Database, outbox_id: int, owner: str) -> bool:
    """Does ``owner`` still hold the row? (False: its lease ran out and another replica took it.)
    The row stays locked to the end of the transaction (Postgres), so a take-over cannot slip in
    between this answer and the write that relies on it."""
    return (
        db.execute(
            f"SELECT 1 FROM outbox WHERE id = ? AND state = 'sending' AND claimed_by = ?"
            f"{row_lock(db, skip_locked=False)}",
            [outbox_id, owner],
        ).fetchone()
        is not None
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def mark_done(db: Database, row: dict[str, Any], channel: str, ts: str, now: str) -> None:
    """The row (and what was folded into it) is done; its ref now points at the posted message."""
    db.execute(
        "UPDATE outbox SET state = 'done', ts = ?, sent_at = ?, last_error = NULL, claimed_by = NULL, "
        "lease_until = NULL WHERE id = ?",
        [ts, now, row["id"]],
    )
    if row["op"] == "post":
        db.execute("UPDATE outbox SET state = 'done', ts = ?, sent_at = ? WHERE folded_into = ?", [ts, now, row["id"]])
        if row["ref"]:
            db.execute(
                "INSERT INTO message_refs (ref, channel, ts, outbox_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (ref) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, "
                "outbox_id = excluded.outbox_id",
                [row["ref"], channel, ts, row["id"]],
            )
    db.execute(
        "INSERT INTO channel_health (channel, last_ok_at) VALUES (?, ?) "
        "ON CONFLICT(channel) DO UPDATE SET last_ok_at = excluded.last_ok_at",
        [channel, now],
    )


def reschedule(
    db: Database,
    outbox_id: int,
    *,
    state: str,
    attempts: int,
    next_attempt_at: str,
    error: str,
    check_first: int,
    rate_limited: bool,
) -> None:
    db.execute(
        "UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
        "check_first = ?, rate_limited = rate_limited + ?, claimed_by = NULL, lease_until = NULL WHERE id = ?",
        [state, attempts, next_attempt_at, error, check_first, 1 if rate_limited else 0, outbox_id],
    )


def record_channel_error(db: Database, channel: str, error: str, at: str) -> None:
    db.execute(
        "INSERT INTO channel_health (channel, last_error, last_error_at) VALUES (?, ?, ?) "
        "ON CONFLICT(channel) DO UPDATE SET last_error = excluded.last_error, "
        "last_error_at = excluded.last_error_at",
        [channel, error, at],
    )


_FOLDABLE = (
    "state = 'pending' AND kind = 'collection' AND fold_line IS NOT NULL AND thread_ref IS NULL AND check_first = 0"
)


def channels_to_fold(db: Database, threshold: int) -> list[str]:
    """Channels with more than ``threshold`` foldable collection posts waiting."""
    return [
        row[0]
        for row in db.execute(
            f"SELECT channel FROM outbox WHERE {_FOLDABLE} GROUP BY channel HAVING COUNT(*) > ?", [threshold]
        )
    ]


def foldable(db: Database, channel: str) -> list[tuple[int, str]]:
    """The channel's foldable rows, claimed until the transaction ends: on Postgres a replica
    folding the same channel at the same moment skips them (``FOR UPDATE SKIP LOCKED``) and,
    once this commits, no longer sees them pending; so a row is folded into one summary only."""
    return [
        (row[0], row[1])
        for row in db.execute(
            f"SELECT id, fold_line FROM outbox WHERE {_FOLDABLE} AND channel = ? ORDER BY id{row_lock(db)}", [channel]
        )
    ]


def mark_folded(db: Database, summary_id: int, outbox_ids: list[int]) -> int:
    """Fold the rows (still pending) into the summary; returns how many were."""
    return int(
        db.execute(
            f"""UPDATE outbox SET state = 'folded', folded_into = ?
                WHERE state = 'pending' AND id IN ({",".join("?" * len(outbox_ids))})""",
            [summary_id, *outbox_ids],
        ).rowcount
    )


def retry_parked(db: Database, now: datetime, row_id: int | None = None) -> list[int]:
    """Put parked rows (or the one with ``row_id``) back in the queue, due now, with their
    attempts reset; a row parked because Slack's history could not be checked keeps
    ``check_first``, so it still looks before it posts. Returns the ids."""
    where, params = "state = 'parked'", []
    if row_id is not None:
        where, params = "state = 'parked' AND id = ?", [row_id]
    ids = [int(r[0]) for r in db.execute(f"SELECT id FROM outbox WHERE {where} ORDER BY id{row_lock(db)}", params)]
    if ids:
        marks = ",".join("?" * len(ids))
        db.execute(
            f"""UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?
                WHERE state = 'parked' AND id IN ({marks})""",
            [_iso(now), *ids],
        )
    return ids


def counts_by_state(db: Database) -> list[tuple[str, int]]:
    return [(row[0], int(row[1])) for row in db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")]


def rate_limited_total(db: Database) -> int:
    """Slack 429 answers the worker has seen, summed over every row."""
    return int(db.execute("SELECT COALESCE(SUM(rate_limited), 0) FROM outbox").fetchone()[0])
