"""The life of a payout or pay request, from `/whalet payout` to the last click (product spec §2).

Every state change is ONE ``store.transaction()`` holding the compare-and-set (repo.transition),
its audit row and the card update in the outbox. Whalet is called only between transactions:

1. ``create``: policy checks and an APPLYING row (its own transaction, so a crash after
   payoutApply leaves something to reconcile), then payoutApply, then PENDING + card.
2. ``approve``: authorise, check freeze / fingerprint / state / expiry, record the approval
   (UNIQUE per approver); the click that completes the tier moves PENDING -> CONFIRMING, and
   only that click calls payoutConfirm (``confirm.send_confirm``).
3. ``reject`` and ``expire_due`` end a request; nothing is confirmed after that.

Clicks that change nothing return a sentence for the clicker; the card is left alone.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import iso, parse_iso
from commands.approvals import policy, repo
from commands.approvals.fingerprint import fingerprint, verify
from commands.approvals.states import State
from commands.book import BookEntry, is_new
from commands.registry import Role
from whalet.client import new_order_no
from whalet.errors import OutcomeUnknown, WhaletError, explain
from whalet.money import Money

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("whalet_bot.approvals")

FREEZE_FLAG = "payouts_frozen"


def is_frozen(services: Services) -> bool:
    return services.store.get_flag(FREEZE_FLAG) is not None


def new_request_id(kind: str) -> str:
    """Short enough to say aloud: 'PO-7K3QX9AB' for a payout, 'PY-…' for a pay."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return ("PO-" if kind == "payout" else "PY-") + "".join(secrets.choice(letters) for _ in range(8))


@dataclass(frozen=True)
class NewRequest:
    kind: str  # "payout" | "pay"
    requester: str
    amount: Money
    purpose: str
    reference: str = ""
    beneficiary: BookEntry | None = None  # payout
    to_currency: str | None = None  # payout; defaults to the beneficiary's currency
    payee_user_id: str | None = None  # pay
    origin_channel: str | None = None
    response_url: str | None = None


class Refused(Exception):
    """Nothing was sent (or nothing changed); ``str(exc)`` is the sentence for the person."""


async def create(services: Services, new: NewRequest) -> repo.Row:
    """Apply at Whalet and put the card up; raises Refused with the reason otherwise."""
    now = services.clock.now()
    whalet_user = services.config.whalet.user_id
    if whalet_user is None:
        raise Refused("No Whalet user id is configured ([whalet] default_user_id), so nothing can be paid.")
    request_id = new_request_id(new.kind)
    row: repo.Row = {
        "id": request_id, "kind": new.kind, "state": State.APPLYING.value, "version": 1,
        "requester": new.requester, "user_id": whalet_user,
        "fund_source": services.config.whalet.default_fund_source,
        "amount": str(new.amount.amount), "currency": new.amount.currency,
        "to_currency": (new.to_currency or (new.beneficiary.currency if new.beneficiary else None)),
        "beneficiary_id": new.beneficiary.id if new.beneficiary else None,
        "beneficiary_name": new.beneficiary.name if new.beneficiary else None,
        "account_tail": new.beneficiary.account_tail if new.beneficiary else None,
        "payee_user_id": new.payee_user_id, "purpose": new.purpose, "reference": new.reference,
        "mer_order_no": new_order_no("WBO" if new.kind == "payout" else "WBP"),
        "origin_channel": new.origin_channel, "response_url": new.response_url, "created_at": iso(now),
    }
    with services.store.transaction() as db:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        spent = repo.spent_today(db, new.requester, new.amount.currency, day_start)
        try:
            row["required_approvals"] = policy.required_approvals(
                services.config, new.amount, frozen=is_frozen(services), spent_today=spent)
        except policy.PolicyRefused as exc:
            raise Refused(str(exc)) from None
        new_beneficiary = new.beneficiary is not None and is_new(db, new.beneficiary, now)
        row["flags"] = json.dumps(policy.flags(services.config, new.amount, new_beneficiary=new_beneficiary))
        repo.insert(db, row)
        repo.audit(services, db, row, new.requester, "request.apply", amount=new.amount.format())
    try:
        fields = await _apply(services, row)
    except WhaletError as exc:
        with services.store.transaction() as db:
            current = repo.load(db, request_id)
            assert current is not None
            current = repo.transition(db, current, State.ABANDONED, note=explain(exc), decided_at=iso(now))
            repo.audit(services, db, current, "whalet", "request.apply_failed", error=type(exc).__name__,
                       answer=str(exc))
        raise Refused(_apply_failed(exc)) from exc
    with services.store.transaction() as db:
        current = repo.load(db, request_id)
        assert current is not None
        fields["fingerprint"] = fingerprint({**current, **fields})
        current = repo.transition(db, current, State.PENDING, **fields)
        repo.audit(services, db, current, new.requester, "request", whalet_id=fields["whalet_id"],
                   expires_at=fields["expires_at"])
        repo.post_card(services, db, current)
    services.wake_outbox()
    return current


def _apply_failed(exc: WhaletError) -> str:
    """What the requester is told when the apply step fails."""
    if isinstance(exc, OutcomeUnknown):
        # Nothing can be paid either way: an applied order only moves money once confirmed, and
        # this request will never be confirmed; Whalet releases an unconfirmed order at its expiry.
        return ("Whalet did not give a trustworthy answer to the request, so it was not put up for "
                "approval and nothing will be paid. Please try again in a minute.")
    return explain(exc)


async def _apply(services: Services, row: repo.Row) -> dict[str, object]:
    amount = Money.of(row["amount"], row["currency"])
    purpose = row["purpose"]
    remark = row["reference"] or None
    ttl = timedelta(minutes=services.config.approvals.ttl_minutes if services.config.approvals else 30)
    if row["kind"] == "payout":
        payout = await services.whalet.payout_apply(
            row["user_id"], row["mer_order_no"], row["fund_source"], amount, row["to_currency"],
            row["beneficiary_id"], purpose, remark=remark)
        fields: dict[str, object] = {
            "whalet_id": payout.payout_id, "fee": str(payout.fee.quantized().amount),
            "to_amount": str(payout.to_amount.quantized().amount), "to_currency": payout.to_amount.currency,
            "rate": str(payout.rate) if payout.rate is not None else None}
        whalet_expiry = payout.expire_time
    else:
        pay = await services.whalet.pay_apply(row["user_id"], row["mer_order_no"], row["payee_user_id"],
                                              amount, purpose, remark=remark)
        fields = {"whalet_id": pay.pay_id, "fee": str(pay.fee.quantized().amount)}
        whalet_expiry = pay.expire_time
    expires = services.clock.now() + ttl  # no or an unreadable expireTime: our TTL alone decides
    if whalet_expiry is not None:
        expires = min(whalet_expiry, expires)
    fields["expires_at"] = iso(expires)
    return fields


# --- clicks ----------------------------------------------------------------------------------------


def _why_not_pending(row: repo.Row, now: datetime) -> str | None:
    state = State(row["state"])
    if state is State.PENDING:
        if row.get("expires_at") and parse_iso(row["expires_at"]) <= now:
            return "This request has expired, so it can no longer be approved. Ask for a new one."
        return None
    if state in (State.CONFIRMING, State.CONFIRMED, State.SUCCEEDED, State.CONFIRM_UNKNOWN):
        return "This request is already approved and was sent to Whalet; nothing more is needed."
    if state is State.REJECTED:
        return f"This request was already rejected by <@{row['decided_by']}>."
    if state is State.EXPIRED:
        return "This request has expired, so it can no longer be approved. Ask for a new one."
    return f"This request is {state.value.lower().replace('_', ' ')}; it can no longer be approved."


def check_click(services: Services, row: repo.Row | None, *, clicker: str, role: Role,
                carried_fingerprint: str | None) -> str | None:
    """Everything a click must pass before it may change anything; the sentence if not."""
    if row is None:
        return "This approval request does not exist (any more)."
    kind = "payout" if row["kind"] == "payout" else "payment"
    refusal = policy.approver_refusal(role, requester=row["requester"], clicker=clicker, kind=kind)
    if refusal:
        return refusal.reason
    mismatch = verify(row, carried_fingerprint)
    if mismatch:
        log.warning("refused click on %s by %s: %s", row["id"], clicker, mismatch)
        return f"This click was refused: {mismatch}. Nothing was changed."
    if is_frozen(services):
        return "Payouts are frozen by an admin; approvals are paused until someone runs `/whalet unfreeze`."
    return _why_not_pending(row, services.clock.now())


@dataclass(frozen=True)
class ClickResult:
    message: str  # for the clicker, ephemeral
    row: repo.Row | None = None
    confirm: bool = False  # this click won the right to call confirm


def record_approval(services: Services, request_id: str, *, clicker: str, role: Role,
                    carried_fingerprint: str | None) -> ClickResult:
    """One transaction: checks, the approval row, and PENDING -> CONFIRMING if the tier is met."""
    now = services.clock.now()
    with services.store.transaction() as db:
        row = repo.load(db, request_id)
        refusal = check_click(services, row, clicker=clicker, role=role, carried_fingerprint=carried_fingerprint)
        if refusal or row is None:
            if row is not None:
                repo.audit(services, db, row, clicker, "approve.refused", reason=refusal)
            return ClickResult(refusal or "")
        inserted = db.execute("INSERT OR IGNORE INTO approvals (request_id, approver, at) VALUES (?, ?, ?)",
                              [request_id, clicker, iso(now)]).rowcount == 1
        count = len(repo.approvers(db, request_id))
        needed = int(row["required_approvals"])
        if not inserted and count < needed:
            return ClickResult(f"You already approved this; it still needs {needed - count} more approver(s).")
        if count >= needed:
            row = repo.transition(db, row, State.CONFIRMING, decided_at=iso(now), decided_by=clicker, note=None)
            repo.audit(services, db, row, clicker, "approve", approvals=count, needed=needed, final=True)
            result = ClickResult("Approved. Sending it to Whalet now.", row, confirm=True)
        else:
            row = repo.bump(db, row)
            repo.audit(services, db, row, clicker, "approve", approvals=count, needed=needed, final=False)
            result = ClickResult(f"Approved. {count} of {needed} approvals so far; waiting for "
                                 f"{needed - count} more.", row)
        repo.update_card(services, db, row)
    services.wake_outbox()
    return result


def reject(services: Services, request_id: str, *, clicker: str, role: Role, carried_fingerprint: str | None,
           reason: str) -> str:
    """PENDING -> REJECTED. The requester may withdraw their own request; approvers may reject any."""
    now = services.clock.now()
    with services.store.transaction() as db:
        row = repo.load(db, request_id)
        if row is None:
            return "This approval request does not exist (any more)."
        own = row["requester"] == clicker
        if not own and role < Role.APPROVER:
            return f"Only approvers (or the requester) can reject this; your role is {role.label}."
        mismatch = verify(row, carried_fingerprint)
        if mismatch:
            return f"This click was refused: {mismatch}. Nothing was changed."
        if State(row["state"]) is not State.PENDING:
            return (_why_not_pending(row, now) or "").replace("approved", "rejected", 1) or "Already decided."
        row = repo.transition(db, row, State.REJECTED, decided_at=iso(now), decided_by=clicker,
                              reason=reason or None)
        repo.audit(services, db, row, clicker, "reject", reason=reason, withdrawn=own)
        repo.update_card(services, db, row)
        if not own:
            repo.tell_thread(services, db, row, f"<@{row['requester']}> your request was rejected by <@{clicker}>"
                             + (f": {reason}" if reason else "."))
    services.wake_outbox()
    return "Rejected. Nothing will be sent to Whalet." if not own else "Withdrawn. Nothing will be sent to Whalet."


def expire_due(services: Services) -> list[str]:
    """PENDING requests past their expiry -> EXPIRED (card: "Expired — not sent"). Returns ids."""
    now = services.clock.now()
    expired: list[str] = []
    with services.store.transaction() as db:
        due = list(db.query("SELECT * FROM approval_requests WHERE state = ? AND expires_at <= ?",
                            [State.PENDING.value, iso(now)]))
        for row in due:
            row = repo.transition(db, row, State.EXPIRED, decided_at=iso(now))
            repo.audit(services, db, row, "system", "expire")
            repo.update_card(services, db, row)
            repo.tell_thread(services, db, row, f"<@{row['requester']}> your request expired before it was "
                             "approved; nothing was sent. Ask again if it is still needed.")
            expired.append(row["id"])
    if expired:
        services.wake_outbox()
    return expired
