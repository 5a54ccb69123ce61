"""Reading and writing approval requests; the compare-and-set every state change goes through.

All writers call these inside ``store.transaction()``. ``transition`` is the only way a request
changes state: ``UPDATE … WHERE id = ? AND state = ? AND version = ?``, checked against the
state machine (``states.TRANSITIONS``), bumping the version, so two writers that read the same
row cannot both win. The card update is queued in the same transaction (outbox), so the card can
never show a state the database does not have.
"""

from __future__ import annotations

from core.i18n import translator

import logging
from datetime import datetime
from decimal import Decimal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from core.clock import iso
from services.approvals import copies, outcomes
from services.approvals.cards import card_blocks, card_text
from services.approvals.states import COUNTED, OPEN, State, allowed  # noqa: F401  (allowed re-used by results)
from core.storage import approvals as rows
from services.slack.queue import enqueue_post, enqueue_update
from services.approvals.request import Approval, ApprovalRequest, Terms, column
from services.approvals.states import WINDOWED

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")

REF_KIND = "approval"


class StaleRequest(Exception):
    """The compare-and-set lost: someone else changed the request first."""


def load(db: Database, request_id: str, *, lock: bool = False) -> ApprovalRequest | None:
    """The request as stored; ``lock`` holds its row until the transaction ends (see rows.request)."""
    row = rows.request(db, request_id, lock=lock)
    return None if row is None else ApprovalRequest.from_row(row)


def load_by_order(db: Database, mer_order_no: str, *, lock: bool = False) -> ApprovalRequest | None:
    row = rows.request_by_order(db, mer_order_no, lock=lock)
    return None if row is None else ApprovalRequest.from_row(row)


def in_states(db: Database, states: tuple[State, ...]) -> list[ApprovalRequest]:
    return [ApprovalRequest.from_row(r) for r in rows.requests_in(db, [s.value for s in states])]


def of_batch(db: Database, batch_id: str) -> list[ApprovalRequest]:
    """Every payout request the batch's lines were released as (abandoned attempts included)."""
    return [ApprovalRequest.from_row(r) for r in rows.requests_of_batch(db, batch_id)]


def approvals(db: Database, request_id: str) -> list[Approval]:
    return [
        Approval(approver, at, revoked is None, layer, Terms.from_json(terms))
        for approver, at, revoked, layer, terms in rows.approvals_of(db, request_id)
    ]


def approvers(db: Database, request_id: str) -> list[tuple[str, str]]:
    """(approver, at) of the approvals that count."""
    return [(a.approver, a.at) for a in approvals(db, request_id) if a.counts]


def set_counts(db: Database, request_id: str, approver: str, counts: bool, now: datetime) -> bool:
    """Mark an approval as counting or not; True when that changed anything."""
    return rows.set_revoked(db, request_id, approver, None if counts else iso(now))


def insert(db: Database, request: ApprovalRequest) -> None:
    rows.insert_request(db, request.to_row())


def transition(db: Database, request: ApprovalRequest, new_state: State, **changes: Any) -> ApprovalRequest:
    """CAS ``request`` (as read) to ``new_state`` with ``changes``; returns the new one or raises StaleRequest."""
    if not allowed(request.state, new_state):
        raise StaleRequest(f"{request.state} -> {new_state} is not a legal move")
    return bump(db, request, state=new_state, **changes)


def conclude(
    services: Services, db: Database, request: ApprovalRequest, new_state: State, **changes: Any
) -> ApprovalRequest:
    """``transition``, and the requester told when that is an outcome (same transaction)."""
    moved = transition(db, request, new_state, **changes)
    if moved.batch_id is None:  # a batch line's payout is told in the batch's thread, with the batch's outcome
        outcomes.tell_requester(services, db, moved, request.state)
    return moved


def bump(db: Database, request: ApprovalRequest, **changes: Any) -> ApprovalRequest:
    """A new version (same state unless ``changes`` names one: an approval recorded, a note
    added), compare-and-set against the state and version the caller read."""
    updated = request.with_(version=request.version + 1, **changes)
    sets = {name: column(getattr(updated, name)) for name in ("version", *changes)}
    if not rows.compare_and_set(db, request.id, request.state.value, request.version, sets):
        raise StaleRequest(f"request {request.id} changed since it was read")
    return updated


def spent_today(db: Database, requester: str, currency: str, day_start: datetime) -> Decimal:
    """What ``requester`` asked for in ``currency`` since ``day_start``, in live requests."""
    counted = rows.amounts(
        db, requester=requester, currency=currency, since=iso(day_start), states=[s.value for s in COUNTED]
    )
    return sum((Decimal(amount) for amount, _ in counted), Decimal(0))


def window_totals(db: Database, requester: str, party: str | None, since: datetime) -> dict[str, Decimal]:
    """Per currency, the same requester's requests to the same beneficiary or payee since
    ``since`` that may still move money (``WINDOWED``)."""
    totals: dict[str, Decimal] = {}
    for amount, currency in rows.amounts(
        db, requester=requester, since=iso(since), states=[s.value for s in WINDOWED], party=party or ""
    ):
        totals[currency] = totals.get(currency, Decimal(0)) + Decimal(amount)
    return totals


def open_requests(db: Database) -> list[ApprovalRequest]:
    """What people wait for or act on: a batch is listed once, not each of its lines' payouts."""
    return [r for r in in_states(db, OPEN) if r.batch_id is None]


def requests_of(db: Database, requester: str, limit: int = 10) -> list[ApprovalRequest]:
    """``requester``'s latest requests, newest first (the App Home's "Your requests")."""
    return [ApprovalRequest.from_row(r) for r in rows.requests_of(db, requester, limit)]


def renderer(services: Services, request: ApprovalRequest, given: Sequence[Approval]) -> copies.Render:
    """The card in a language (each drawn once): the channel's for the card, each approver's for
    their DM copy. Every copy carries the same block_id, so they are one request, one fingerprint."""
    drawn: dict[str, tuple[str, list[Any]]] = {}

    def render(locale: str) -> tuple[str, list[Any]]:
        if locale not in drawn:
            drawn[locale] = (card_text(request, locale), card_blocks(request, given, locale))
        return drawn[locale]

    return render


def post_card(services: Services, db: Database, request: ApprovalRequest, audience: Sequence[str] = ()) -> None:
    """The channel card and, for ``audience`` (who may approve, see ``copies``), its DM copies."""
    assert services.config.approvals is not None
    render = renderer(services, request, approvals(db, request.id))
    locale = services.locales.channel(services.config.approvals.channel)
    text, blocks = render(locale)
    shown_text, shown = copies.with_mention(services, request, text, blocks, locale)
    enqueue_post(
        db,
        channel=services.config.approvals.channel,
        text=shown_text,
        blocks=shown,
        ref=(REF_KIND, request.id),
        correlation_id=request.id,
    )
    copies.post_copies(services, db, request, audience, render)


def update_card(services: Services, db: Database, request: ApprovalRequest) -> None:
    """Every copy of the card (channel and DMs) follows the request, in the caller's transaction.
    A batch line's payout has no card of its own: the batch's card shows the lines' progress."""
    if request.batch_id is not None:
        return
    assert services.config.approvals is not None
    given = approvals(db, request.id)
    render = renderer(services, request, given)
    locale = services.locales.channel(services.config.approvals.channel)
    text, blocks = render(locale)
    shown_text, shown = copies.with_mention(services, request, text, blocks, locale)
    enqueue_update(db, ref=(REF_KIND, request.id), text=shown_text, blocks=shown, correlation_id=request.id)
    copies.update_copies(services, db, request, render, [a.approver for a in given])


def tell_thread(services: Services, db: Database, request: ApprovalRequest, text: str) -> None:
    """A reply in the card's thread (e.g. to tell the requester the outcome). ``text`` is mrkdwn
    the caller built: anything a person typed in it must already be escaped."""
    assert services.config.approvals is not None
    card = request.batch_id or request.id  # a batch line's payout speaks in its batch's thread
    if request.batch_id is not None:
        t = translator(services.locales.channel(services.config.approvals.channel))
        text = t.gettext("Line %(line)s: %(text)s", line=request.line_no, text=text)
    enqueue_post(
        db,
        channel=services.config.approvals.channel,
        text=text,
        thread_ref=(REF_KIND, card),
        correlation_id=request.id,
    )


def audit(services: Services, db: Database, request: ApprovalRequest, actor: str, action: str, **detail: Any) -> None:
    """The audit row, and one log event per step: the request id is the correlation id that
    follows a payout from request to approval, confirm and result (details stay in the audit)."""
    log.info(
        "approval %s %s by %s (%s)",
        request.id,
        action,
        actor,
        request.state,
        extra={
            "event": f"approval_{action.replace('.', '_')}",
            "correlation_id": request.id,
            "request_id": request.id,
            "user": actor,
            "status": request.state.value,
        },
    )
    services.store.audit(
        db,
        actor,
        action,
        f"approval:{request.id}",
        request.fingerprint or "",
        {"state": request.state.value, "version": request.version, "mer_order_no": request.mer_order_no, **detail},
    )
