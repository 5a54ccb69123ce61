"""Reading and writing approval requests; the compare-and-set every state change goes through.

All writers call these inside ``store.transaction()``. ``transition`` is the only way a request
changes state: ``UPDATE … WHERE id = ? AND state = ? AND version = ?``, checked against the
allowed moves, bumping the version, so two clicks that read the same row cannot both win. The
card update is queued in the same transaction (outbox), so the card can never show a state the
database does not have.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from core.clock import iso
from commands.approvals.cards import card_blocks, card_text
from commands.approvals.states import COUNTED, OPEN, State, allowed  # noqa: F401  (allowed re-used by results)
from core.storage.outbox import enqueue_post, enqueue_update

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")

Row = dict[str, Any]
REF_KIND = "approval"


class StaleRequest(Exception):
    """The compare-and-set lost: someone else changed the request first."""


def load(db: Database, request_id: str) -> Row | None:
    rows = list(db.query("SELECT * FROM approval_requests WHERE id = ?", [request_id]))
    return rows[0] if rows else None


def load_by_order(db: Database, mer_order_no: str) -> Row | None:
    rows = list(db.query("SELECT * FROM approval_requests WHERE mer_order_no = ?", [mer_order_no]))
    return rows[0] if rows else None


def approvers(db: Database, request_id: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in db.execute(
        "SELECT approver, at FROM approvals WHERE request_id = ? ORDER BY at, approver", [request_id])]


def insert(db: Database, row: Row) -> None:
    columns = ", ".join(row)
    db.execute(f"INSERT INTO approval_requests ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def transition(db: Database, row: Row, new_state: State, **changes: Any) -> Row:
    """CAS ``row`` (as read) to ``new_state`` with ``changes``; returns the new row or raises StaleRequest."""
    if not allowed(row["state"], new_state):
        raise StaleRequest(f"{row['state']} -> {new_state} is not a legal move")
    return bump(db, row, state=new_state.value, **changes)


def bump(db: Database, row: Row, **changes: Any) -> Row:
    """A new version (same state unless ``changes`` names one: an approval recorded, a note
    added), compare-and-set against the state and version the caller read."""
    sets = {"version": int(row["version"]) + 1, **changes}
    assignments = ", ".join(f"{k} = ?" for k in sets)
    cursor = db.execute(
        f"UPDATE approval_requests SET {assignments} WHERE id = ? AND state = ? AND version = ?",
        [*sets.values(), row["id"], row["state"], row["version"]],
    )
    if cursor.rowcount != 1:
        raise StaleRequest(f"request {row['id']} changed since it was read")
    return {**row, **sets}


def spent_today(db: Database, requester: str, currency: str, day_start: datetime) -> Decimal:
    """What ``requester`` asked for in ``currency`` since ``day_start`` (UTC), in live requests."""
    states = [s.value for s in COUNTED]
    rows = db.execute(
        f"SELECT amount FROM approval_requests WHERE requester = ? AND currency = ? AND created_at >= ? "
        f"AND state IN ({','.join('?' * len(states))})",
        [requester, currency, iso(day_start), *states],
    )
    return sum((Decimal(r[0]) for r in rows), Decimal(0))


def open_requests(db: Database) -> list[Row]:
    states = [s.value for s in OPEN]
    return list(db.query(f"SELECT * FROM approval_requests WHERE state IN ({','.join('?' * len(states))}) "
                         "ORDER BY created_at", states))


def post_card(services: Services, db: Database, row: Row) -> None:
    assert services.config.approvals is not None
    enqueue_post(db, channel=services.config.approvals.channel, text=card_text(row),
                 blocks=card_blocks(row, approvers(db, row["id"]), services.clock.now()),
                 ref=(REF_KIND, row["id"]), correlation_id=row["id"])


def update_card(services: Services, db: Database, row: Row) -> None:
    enqueue_update(db, ref=(REF_KIND, row["id"]), text=card_text(row),
                   blocks=card_blocks(row, approvers(db, row["id"]), services.clock.now()),
                   correlation_id=row["id"])


def tell_thread(services: Services, db: Database, row: Row, text: str) -> None:
    """A reply in the card's thread (e.g. to tell the requester the outcome)."""
    assert services.config.approvals is not None
    enqueue_post(db, channel=services.config.approvals.channel, text=text, thread_ref=(REF_KIND, row["id"]),
                 correlation_id=row["id"])


def audit(services: Services, db: Database, row: Row, actor: str, action: str, **detail: Any) -> None:
    """The audit row, and one log event per step: the request id is the correlation id that
    follows a payout from request to approval, confirm and result (details stay in the audit)."""
    log.info("approval %s %s by %s (%s)", row["id"], action, actor, row["state"], extra={
        "event": f"approval_{action.replace('.', '_')}", "correlation_id": row["id"], "request_id": row["id"],
        "user": actor, "status": row["state"]})
    services.store.audit(db, actor, action, f"approval:{row['id']}", row.get("fingerprint") or "",
                         {"state": row["state"], "version": row["version"], "mer_order_no": row["mer_order_no"],
                          **detail})


def flags_of(row: Row) -> list[str]:
    return list(json.loads(row.get("flags") or "[]"))
