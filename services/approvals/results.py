"""Whalet's final word on a payout or pay (payoutResultNotify / payResultNotify) applied to its request.

Called by the notifications package inside ITS transaction (the inbox row and this state change
commit together), so this module never opens one. The notification may arrive before our own
confirm call returns, or while the request is CONFIRM_UNKNOWN: either way it settles the
request, and the confirm call that returns later loses its compare-and-set harmlessly. Whalet's
word beats the bot's: a request the bot had as expired or rejected follows it (with an alert).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlite_utils import Database

from services.approvals import batch_lines
from services.approvals import repo
from core.i18n import Translator, translator
from services.approvals.card_status import STATE_NAMES
from services.approvals.lease import alerts_language, card_language
from services.approvals.request import ApprovalRequest
from whalet.money import Money
from services.approvals.states import SETTLED, State, allowed
from services.slack.blocks import esc

if TYPE_CHECKING:
    from services.container import Services

SUCCESS_STATUSES = ("SUCCESS",)
FAIL_STATUSES = ("FAIL", "FAILED")


@dataclass(frozen=True)
class Reported:
    """What a result notification says about the order, to compare with the request."""

    user_id: str
    money: Money


def contradiction(
    request: ApprovalRequest, business_id: str | None, reported: Reported, t: Translator | None = None
) -> str | None:
    """Why this result cannot be about this request (the right order number with another amount,
    currency, Whalet user or Whalet order id), in words with both versions (in ``t``'s language:
    the card's, which shows it); None when it fits."""
    t = t or translator("en")
    asked, said = request.money, reported.money
    if said.currency != asked.currency or said.amount != asked.amount:
        return t.gettext(
            "Whalet reported %(said)s for order %(order)s; the request was for %(asked)s.",
            said=t.amount(said),
            order=request.mer_order_no,
            asked=t.amount(asked),
        )
    if reported.user_id != request.user_id:
        return t.gettext(
            "Whalet reported the order under Whalet user %(reported)s; the request was made for %(user)s.",
            reported=reported.user_id,
            user=request.user_id,
        )
    if business_id and request.whalet_id and business_id != request.whalet_id:
        return t.gettext(
            "Whalet reported its order %(reported)s; the request's order at Whalet is %(order)s.",
            reported=business_id,
            order=request.whalet_id,
        )
    return None


def apply_result(
    services: Services,
    db: Database,
    kind: str,
    business_id: str | None,
    mer_order_no: str,
    status: str,
    fail_reason: str | None,
    reported: Reported | None = None,
) -> str | None:
    """Settle the request behind ``mer_order_no``; returns its id (thread it under ("approval", id))
    or None when the order was not made through the bot. Queues the card update in ``db``'s transaction.

    A result that contradicts the request (``contradiction``) settles nothing: the request keeps
    its state, shows "needs attention" with both versions, and the alerts channel hears of it."""
    request = repo.load_by_order(db, mer_order_no, lock=True)
    if request is None or request.kind != kind:
        return None
    card = card_language(services)  # the card shows the contradiction
    problem = contradiction(request, business_id, reported, card) if reported is not None else None
    if problem is not None:
        return _needs_attention(services, db, request, problem, status)
    status = (status or "").upper()
    target = State.SUCCEEDED if status in SUCCESS_STATUSES else State.FAILED if status in FAIL_STATUSES else None
    changes: dict[str, object] = {"result_status": status}
    if target is State.FAILED:
        changes["fail_reason"] = fail_reason or card_language(services).gettext("Whalet gave no reason")  # on the card
    if request.state in SETTLED:
        changes = {}  # Whalet's final word was already stored; a repeat changes nothing
    was = request.state
    try:
        if target is not None and allowed(request.state, target):
            request = repo.conclude(
                services, db, request, target, note=None, lease_owner=None, lease_until=None, **changes
            )
        else:
            request = repo.bump(db, request, **changes)
    except repo.StaleRequest:
        return request.id
    repo.audit(services, db, request, "whalet", f"result.{status.lower() or 'unknown'}", fail_reason=fail_reason)
    repo.update_card(services, db, request)
    if request.batch_id is not None:  # a batch line: the batch's progress, its results once all settle
        batch_lines.settle_in(services, db, request.batch_id)
    if (
        target is not None
        and was in (State.PENDING, State.APPROVED, State.REJECTED, State.EXPIRED, State.ABANDONED)
        and services.alerts is not None
    ):
        t = alerts_language(services)
        text = t.gettext(
            ":rotating_light: Whalet reports order `%(order)s` (%(id)s) %(status)s, but the bot "
            "had it as %(was)s (never confirmed). The card now shows Whalet's word; please check.",
            order=esc(mer_order_no),
            id=request.id,
            status=esc(status),
            was=_state(t, was),
        )
        services.alerts.raise_alert(f"approval:{request.id}:settled_unsent", text, quiet_seconds=0)
    return request.batch_id or request.id  # a batch line's result goes to its batch's thread


def _state(t: Translator, state: State) -> str:
    """A state's name as the card writes it, in ``t``'s language."""
    return t.gettext(STATE_NAMES[state]) if state in STATE_NAMES else state.value.lower().replace("_", " ")


def _needs_attention(services: Services, db: Database, request: ApprovalRequest, problem: str, status: str) -> str:
    """Keep what Whalet said beside the request, unapplied, and tell a person."""
    if request.attention != problem:
        request = repo.bump(db, request, attention=problem)
        repo.audit(services, db, request, "whalet", "result.contradicts", reported=problem, status=status)
        repo.update_card(services, db, request)
        if services.alerts is not None:
            t = alerts_language(services)
            text = t.gettext(
                ":rotating_light: A result from Whalet for `%(order)s` (%(id)s) does not match the request: "
                "%(problem)s It was not taken as the result; the request stays %(state)s. Please check the "
                "order in Whalet's portal.",
                order=esc(request.mer_order_no),
                id=request.id,
                problem=esc(problem),
                state=_state(t, request.state),
            )
            services.alerts.raise_alert(f"approval:{request.id}:contradicts", text, quiet_seconds=0)
    return request.id
