"""Reading and writing approval requests; the compare-and-set every state change goes through.

All writers call these inside ``store.transaction()``. ``transition`` is the only way a request
changes state: ``UPDATE … WHERE id = ? AND state = ? AND version = ?``, checked against the
state machine (``states.TRANSITIONS``), bumping the version, so two writers that read the same
row cannot both win. The card update is queued in the same transaction (outbox), so the card can
never show a state the database does not have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from bot.clock import iso
from commands.approvals.cards import card_blocks, card_text
from commands.approvals.request import ApprovalRequest, column
from commands.approvals.states import COUNTED, LIVE, OPEN, State, allowed
from notifications.outbox import enqueue_post, enqueue_update

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("whalet_bot.approvals")

REF_KIND = "approval"


class StaleRequest(Exception):
    """The compare-and-set lost: someone else changed the request first."""


@dataclass(frozen=True)
class Approval:
    approver: str
    at: str
    counts: bool = True  # False once the giver no longer holds the approver role


def _one(db: Database, sql: str, params: list[Any]) -> ApprovalRequest | None:
    rows = list(db.query(sql, params))
    return ApprovalRequest.from_row(rows[0]) if rows else None


def load(db: Database, request_id: str) -> ApprovalRequest | None:
    return _one(db, "SELECT * FROM approval_requests WHERE id = ?", [request_id])


def load_by_order(db: Database, mer_order_no: str) -> ApprovalRequest | None:
    return _one(db, "SELECT * FROM approval_requests WHERE mer_order_no = ?", [mer_order_no])


def in_states(db: Database, states: tuple[State, ...]) -> list[ApprovalRequest]:
    marks = ",".join("?" * len(states))
    return [ApprovalRequest.from_row(r) for r in db.query(
        f"SELECT * FROM approval_requests WHERE state IN ({marks}) ORDER BY created_at", [s.value for s in states])]


def approvals(db: Database, request_id: str) -> list[Approval]:
    return [Approval(r[0], r[1], r[2] is None) for r in db.execute(
        "SELECT approver, at, revoked_at FROM approvals WHERE request_id = ? ORDER BY at, rowid", [request_id])]


def approvers(db: Database, request_id: str) -> list[tuple[str, str]]:
    """(approver, at) of the approvals that count."""
    return [(a.approver, a.at) for a in approvals(db, request_id) if a.counts]


def set_counts(db: Database, request_id: str, approver: str, counts: bool, now: datetime) -> bool:
    """Mark an approval as counting or not; True when that changed anything."""
    if counts:
        sql = "UPDATE approvals SET revoked_at = NULL WHERE request_id = ? AND approver = ? AND revoked_at IS NOT NULL"
        return db.execute(sql, [request_id, approver]).rowcount == 1
    sql = "UPDATE approvals SET revoked_at = ? WHERE request_id = ? AND approver = ? AND revoked_at IS NULL"
    return db.execute(sql, [iso(now), request_id, approver]).rowcount == 1


def insert(db: Database, request: ApprovalRequest) -> None:
    row = request.to_row()
    db.execute(f"INSERT INTO approval_requests ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
               list(row.values()))


def transition(db: Database, request: ApprovalRequest, new_state: State, **changes: Any) -> ApprovalRequest:
    """CAS ``request`` (as read) to ``new_state`` with ``changes``; returns the new one or raises StaleRequest."""
    if not allowed(request.state, new_state):
        raise StaleRequest(f"{request.state} -> {new_state} is not a legal move")
    return bump(db, request, state=new_state, **changes)


def bump(db: Database, request: ApprovalRequest, **changes: Any) -> ApprovalRequest:
    """A new version (same state unless ``changes`` names one: an approval recorded, a note
    added), compare-and-set against the state and version the caller read."""
    updated = request.with_(version=request.version + 1, **changes)
    sets = {name: column(getattr(updated, name)) for name in ("version", *changes)}
    cursor = db.execute(
        f"UPDATE approval_requests SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ? AND state = ? AND version = ?",
        [*sets.values(), request.id, request.state.value, request.version],
    )
    if cursor.rowcount != 1:
        raise StaleRequest(f"request {request.id} changed since it was read")
    return updated


def _sum(db: Database, where: str, params: list[Any], states: tuple[State, ...]) -> Decimal:
    marks = ",".join("?" * len(states))
    rows = db.execute(f"SELECT amount FROM approval_requests WHERE {where} AND state IN ({marks})",
                      [*params, *(s.value for s in states)])
    return sum((Decimal(r[0]) for r in rows), Decimal(0))


def spent_today(db: Database, requester: str, currency: str, day_start: datetime) -> Decimal:
    """What ``requester`` asked for in ``currency`` since ``day_start`` (UTC), in live requests."""
    return _sum(db, "requester = ? AND currency = ? AND created_at >= ?", [requester, currency, iso(day_start)], COUNTED)


def window_total(db: Database, requester: str, currency: str, party: str | None, since: datetime) -> Decimal:
    """The same requester's open and sent requests to the same beneficiary or payee since ``since``."""
    return _sum(db, "requester = ? AND currency = ? AND created_at >= ? AND COALESCE(beneficiary_id, payee_user_id) = ?",
                [requester, currency, iso(since), party or ""], LIVE)


def open_requests(db: Database) -> list[ApprovalRequest]:
    return in_states(db, OPEN)


def post_card(services: Services, db: Database, request: ApprovalRequest) -> None:
    assert services.config.approvals is not None
    enqueue_post(db, channel=services.config.approvals.channel, text=card_text(request),
                 blocks=card_blocks(request, approvals(db, request.id), services.clock.now()),
                 ref=(REF_KIND, request.id), correlation_id=request.id)


def update_card(services: Services, db: Database, request: ApprovalRequest) -> None:
    enqueue_update(db, ref=(REF_KIND, request.id), text=card_text(request),
                   blocks=card_blocks(request, approvals(db, request.id), services.clock.now()),
                   correlation_id=request.id)


def tell_thread(services: Services, db: Database, request: ApprovalRequest, text: str) -> None:
    """A reply in the card's thread (e.g. to tell the requester the outcome). ``text`` is mrkdwn
    the caller built: anything a person typed in it must already be escaped."""
    assert services.config.approvals is not None
    enqueue_post(db, channel=services.config.approvals.channel, text=text, thread_ref=(REF_KIND, request.id),
                 correlation_id=request.id)


def audit(services: Services, db: Database, request: ApprovalRequest, actor: str, action: str, **detail: Any) -> None:
    """The audit row, and one log event per step: the request id is the correlation id that
    follows a payout from request to approval, confirm and result (details stay in the audit)."""
    log.info("approval %s %s by %s (%s)", request.id, action, actor, request.state, extra={
        "event": f"approval_{action.replace('.', '_')}", "correlation_id": request.id, "request_id": request.id,
        "user": actor, "status": request.state.value})
    services.store.audit(db, actor, action, f"approval:{request.id}", request.fingerprint or "",
                         {"state": request.state.value, "version": request.version,
                          "mer_order_no": request.mer_order_no, **detail})
