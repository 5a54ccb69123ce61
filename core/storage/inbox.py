"""The inbox table: every verified Whalet notification, stored before Whalet gets its ack.

Whalet retries a notification it thinks we missed with the SAME ``requestNo``, and may send the
same event again under a new one; both are recognised here, by two UNIQUE columns (``request_no``
and ``content_hash``) and ``INSERT OR IGNORE``, so a duplicate is acknowledged but never relayed
twice. "The same event" means the same content: the SHA-256 of the apiCode and the business body
with sorted keys. Anything else Whalet says about a known object (a second documents request for
the same ``replenishId`` asking for other materials, a status that changes and changes back with
a new time or remark) is new content and is relayed; the business id only links it to what came
before (``previous_body``), so the relay can show it as an update.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from core.clock import iso
from core.storage.dialect import row_lock
from whalet.envelope import dumps_compact, loads_exact

log = logging.getLogger("whalet_bot.inbox")


def content_hash(api_code: str, body: Any) -> str:
    """SHA-256 of the apiCode and the canonical body: keys sorted at every level, no spaces,
    numbers as their exact digits (a Decimal and the same digits as a string count as one)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{api_code}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    new: bool  # False: a duplicate (same requestNo or same content); acked, not relayed again
    correlation_id: str


def store(db: Database, head: Mapping[str, str], body: Any, business_id: str | None, now: datetime) -> Stored:
    """Insert inside the caller's transaction; the caller acks only after it commits. ``business_id``
    names the object the notification is about (its kind says where: ``notifications.kinds``)."""
    api_code = head["apiCode"]
    status = body.get("status") if isinstance(body, Mapping) else None
    correlation_id = uuid.uuid4().hex[:16]
    digest = content_hash(api_code, body)
    cursor = db.execute(
        """INSERT OR IGNORE INTO inbox (request_no, api_code, partner_id, business_id, status, content_hash, body,
               received_at, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            head["requestNo"],
            api_code,
            head.get("partnerId"),
            business_id,
            None if status is None else str(status),
            digest,
            dumps_compact(body),
            iso(now),
            correlation_id,
        ],
    )
    if cursor.rowcount == 1:
        return Stored(True, correlation_id)
    earlier = db.execute("SELECT content_hash FROM inbox WHERE request_no = ?", [head["requestNo"]]).fetchone()
    if earlier is not None and earlier[0] not in (None, digest):  # a retry must be the same message
        log.warning(
            "requestNo %s was seen before with other content; acked, the first one stands",
            head["requestNo"][:30],
            extra={"event": "webhook_request_no_conflict", "api_code": api_code},
        )
    return Stored(False, correlation_id)


@dataclass(frozen=True)
class InboxRow:
    id: int
    request_no: str
    api_code: str
    body: Any
    received_at: str
    correlation_id: str
    attempts: int


def pending_ids(db: Database, limit: int, max_attempts: int) -> list[int]:
    rows = db.execute(
        "SELECT id FROM inbox WHERE processed_at IS NULL AND attempts < ? ORDER BY id LIMIT ?", [max_attempts, limit]
    ).fetchall()
    return [row[0] for row in rows]


def claim(db: Database, row_id: int) -> InboxRow | None:
    """The row if it is still unprocessed, read inside the transaction that will process it and
    locked by it (Postgres: ``FOR UPDATE SKIP LOCKED``): a replica relaying the same row at the
    same moment gets None, and once this commits the row is processed for everyone.

    Also None while an earlier notification about the same business object waits to be relayed:
    word about one object is relayed in arrival order, even when replicas relay side by side (a
    later status must not reach a card before, and then be overwritten by, an earlier one)."""
    row = db.execute(
        f"""SELECT id, request_no, api_code, body, received_at, correlation_id, attempts FROM inbox
                         WHERE id = ? AND processed_at IS NULL AND NOT EXISTS (
                             SELECT 1 FROM inbox AS earlier WHERE earlier.business_id = inbox.business_id
                             AND earlier.id < inbox.id AND earlier.processed_at IS NULL){row_lock(db)}""",
        [row_id],
    ).fetchone()
    if row is None:
        return None
    try:
        body = loads_exact(row[3])
    except (ValueError, TypeError) as exc:
        raise UnreadableRow(f"inbox row {row[0]} ({row[2]}): its stored body cannot be read ({exc})") from exc
    return InboxRow(row[0], row[1], row[2], body, row[4], row[5], row[6])


class UnreadableRow(ValueError):
    """A stored notification that no retry can read (stored by an older version without today's
    bounds, or damaged): it is parked on its own, never retried, never relayed."""


def previous_body(db: Database, row: InboxRow) -> Any | None:
    """The body of the latest earlier notification (same apiCode) about the same business object,
    or None when this is the first word about it (or it has no known business id)."""
    found = db.execute(
        """SELECT earlier.body FROM inbox AS this JOIN inbox AS earlier
               ON earlier.api_code = this.api_code AND earlier.business_id = this.business_id AND earlier.id < this.id
           WHERE this.id = ? ORDER BY earlier.id DESC LIMIT 1""",
        [row.id],
    ).fetchone()
    return loads_exact(found[0]) if found else None


def changed_fields(before: Any, after: Any) -> list[str]:
    """Top-level fields whose value differs (added, removed or changed), in the new body's order."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return []
    names = [*after, *(name for name in before if name not in after)]
    return [str(name) for name in names if before.get(name) != after.get(name)]


def mark_processed(db: Database, row_id: int, outcome: str, now: datetime, error: str | None = None) -> None:
    db.execute(
        "UPDATE inbox SET processed_at = ?, outcome = ?, last_error = COALESCE(?, last_error) WHERE id = ?",
        [iso(now), outcome, error, row_id],
    )


def record_failure(db: Database, row_id: int, error: str) -> int:
    """Count a failed attempt (in its own transaction, after the failed one rolled back)."""
    db.execute("UPDATE inbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", [error[:500], row_id])
    row = db.execute("SELECT attempts FROM inbox WHERE id = ?", [row_id]).fetchone()
    return int(row[0]) if row else 0


def received_since(db: Database, api_codes: list[str], since: datetime) -> list[tuple[str, Any]]:
    """(apiCode, body) of notifications received since ``since``, oldest first (for digests)."""
    if not api_codes:
        return []
    marks = ", ".join("?" for _ in api_codes)
    rows = db.execute(
        f"SELECT api_code, body FROM inbox WHERE api_code IN ({marks}) AND received_at >= ? ORDER BY id",
        [*api_codes, iso(since)],
    ).fetchall()
    return [(code, loads_exact(body)) for code, body in rows]


def counts(db: Database) -> dict[str, int]:
    """``backlog`` not yet relayed, ``failed`` relayed only generically after errors, ``parked``
    unreadable and not shown at all, ``total``."""
    row = db.execute("""SELECT
            SUM(CASE WHEN processed_at IS NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END),
            SUM(CASE WHEN outcome = 'parked' THEN 1 ELSE 0 END),
            COUNT(*) FROM inbox""").fetchone()
    return {
        "backlog": int(row[0] or 0),
        "failed": int(row[1] or 0),
        "parked": int(row[2] or 0),
        "total": int(row[3] or 0),
    }


def backlog(db: Database) -> int:
    """Notifications stored but not yet relayed."""
    return int(db.execute("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0])
