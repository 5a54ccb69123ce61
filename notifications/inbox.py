"""The inbox: every verified Whalet notification, stored before Whalet gets its ack.

Whalet retries a notification it thinks we missed with the SAME ``requestNo``, and may send the
same event again under a new one; both are recognised here, by two UNIQUE columns and
``INSERT OR IGNORE``, so a duplicate is acknowledged but never relayed twice. The business id
that names "the same event" depends on the notification; unknown apiCodes are de-duplicated by
``requestNo`` only, because guessing their identity could swallow a genuine second event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from core.clock import iso
from core.storage.dialect import row_lock
from whalet.envelope import dumps_compact, loads_exact

# The field(s) naming the business object of each notification (first present wins).
BUSINESS_ID_FIELDS: Mapping[str, tuple[str, ...]] = {
    "collectionReceivedNotify": ("collectionId",),
    "payoutResultNotify": ("payoutId", "merOrderNo"),
    "payResultNotify": ("payId", "merOrderNo"),
    "beneficiaryResultNotify": ("beneficiaryId", "merBeneficiaryNo"),
    "eddReplenishNotify": ("replenishId",),
    "eddReplenishResultNotify": ("replenishId",),
    "tradeReplenishNotify": ("replenishId",),
    "tradeReplenishResultNotify": ("replenishId",),
    "userOnboardingResultNotify": ("onboardingId", "applyId"),
    "userHolderResultNotify": ("holderId", "applyId"),
    "virtualAccountNotify": ("virtualAccountNo", "accountId"),
    "cardCancelResultNotify": ("cardId", "cardNo"),
    "shopBindResultNotify": ("shopId", "bindId"),
    "tradeOrderBindNotify": ("tradeOrderNo", "tradeId", "orderId"),
    "connectivityNotify": ("requestNo",),
}


def business_id(operation: str | None, body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    for name in BUSINESS_ID_FIELDS.get(operation or "", ()):
        value = body.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def dedupe_key(api_code: str, business: str | None, status: Any) -> str | None:
    """apiCode:businessId:status, or None when the business id is not known."""
    return None if business is None else f"{api_code}:{business}:{'' if status is None else status}"


@dataclass(frozen=True)
class Stored:
    new: bool  # False: a duplicate (by requestNo or by business key); acked, not relayed again
    correlation_id: str


def store(db: Database, head: Mapping[str, str], body: Any, operation: str | None, now: datetime) -> Stored:
    """Insert inside the caller's transaction; the caller acks only after it commits."""
    api_code = head["apiCode"]
    status = body.get("status") if isinstance(body, Mapping) else None
    business = business_id(operation, body)
    correlation_id = uuid.uuid4().hex[:16]
    cursor = db.execute(
        """INSERT OR IGNORE INTO inbox (request_no, api_code, partner_id, business_id, status, dedupe_key, body,
               received_at, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [head["requestNo"], api_code, head.get("partnerId"), business, None if status is None else str(status),
         dedupe_key(api_code, business, status), dumps_compact(body), iso(now), correlation_id])
    return Stored(cursor.rowcount == 1, correlation_id)


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
    rows = db.execute("SELECT id FROM inbox WHERE processed_at IS NULL AND attempts < ? ORDER BY id LIMIT ?",
                      [max_attempts, limit]).fetchall()
    return [row[0] for row in rows]


def claim(db: Database, row_id: int) -> InboxRow | None:
    """The row if it is still unprocessed, read inside the transaction that will process it and
    locked by it (Postgres: ``FOR UPDATE SKIP LOCKED``): a replica relaying the same row at the
    same moment gets None, and once this commits the row is processed for everyone."""
    row = db.execute(f"""SELECT id, request_no, api_code, body, received_at, correlation_id, attempts FROM inbox
                         WHERE id = ? AND processed_at IS NULL{row_lock(db)}""", [row_id]).fetchone()
    if row is None:
        return None
    return InboxRow(row[0], row[1], row[2], loads_exact(row[3]), row[4], row[5], row[6])


def mark_processed(db: Database, row_id: int, outcome: str, now: datetime, error: str | None = None) -> None:
    db.execute("UPDATE inbox SET processed_at = ?, outcome = ?, last_error = COALESCE(?, last_error) WHERE id = ?",
               [iso(now), outcome, error, row_id])


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
    rows = db.execute(f"SELECT api_code, body FROM inbox WHERE api_code IN ({marks}) AND received_at >= ? "
                      "ORDER BY id", [*api_codes, iso(since)]).fetchall()
    return [(code, loads_exact(body)) for code, body in rows]
