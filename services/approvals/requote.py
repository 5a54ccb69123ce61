"""A request outlives Whalet's quote: at release, an expired quote is replaced, never confirmed.

Approvers in meetings or other time zones take hours; Whalet's quote (the order made by the
apply) lasts minutes. So the request has its own deadline (``ttl_minutes``, up to 7 days), and
when its quorum is met after the quote ran out, ``renew`` applies again under a NEW order number
before the confirm. The old order is recorded as superseded and is never confirmed: the confirm
only ever names the request's current order, and an order applied but never confirmed moves no
money (Whalet releases it at its expiry).

The new terms are confirmed without new approvals only if the rate, the fee and the amount
received each stay within ``[approvals] max_rate_drift_bps`` of what was approved; otherwise the
request goes back to PENDING, its approvals are voided (the audit log keeps them) and the card
shows the old terms beside the new ones. Only a request that was never sent is renewed
(``confirm_attempts == 0``): after a confirm, the old order may be live at Whalet, and only a
lookup may settle it.

The renewal holds the confirm's lease, so no confirm can go out meanwhile; if the process dies
mid-call, the lease runs out and the next sweep renews again under yet another order number.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from core.faultpoints import fault_point
from core.i18n import N_, Later, Translator, later, translator
from core.storage import approvals as approval_rows
from services.approvals import repo
from services.approvals.fingerprint import fingerprint
from services.approvals.kinds import KINDS, ApplyAnswer, mismatch_of, with_quote
from services.approvals.lease import call_deadline, card_language, count_call, is_frozen, lease_end, owner
from services.approvals.request import ApprovalRequest, Terms
from services.approvals.states import State
from services.slack.blocks import esc
from services.whalet_words import sentence_of
from whalet.errors import WhaletError
from whalet.ids import new_order_no
from whalet.money import Money

if TYPE_CHECKING:
    from services.container import Services

# Renew a little before the quote's end, so the confirm does not race Whalet's expiry.
MARGIN = timedelta(seconds=60)
MAX_RENEWALS = 5  # per request; then it waits for its deadline, with a note
RETRY_AFTER = timedelta(seconds=30)


def due(r: ApprovalRequest, now: datetime) -> bool:
    """Approved, never sent, its quote over (or nearly), the request itself still valid."""
    return (
        r.state is State.APPROVED
        and r.confirm_attempts == 0
        and r.quote_expires_at is not None
        and now >= r.quote_expires_at - MARGIN
        and not r.expired(now)
        and not r.lease_held(now)
    )


def refused_for_its_quote(sent: ApprovalRequest, now: datetime) -> bool:
    """Whalet refused a request's FIRST confirm near or after its quote's end: take it for the
    quote running out (Whalet's clock ahead of ours), not for a failed payout. Whalet refuses a
    confirm it did not apply, so the order stays unconfirmed, and it is past its quote for good."""
    return (
        sent.confirm_attempts == 1
        and sent.quote_expires_at is not None
        and now >= sent.quote_expires_at - 2 * MARGIN
        and sent.requotes < MAX_RENEWALS
    )


async def renew(services: Services, request_id: str) -> Later | None:
    """A new quote for an approved request whose quote ran out. None: go on to the confirm (the
    new terms are within the tolerance, or nothing was due); else a sentence: the request waits
    (for new approvals, or for Whalet)."""
    now = services.clock.now()
    with services.store.transaction() as db:
        r = repo.load(db, request_id, lock=True)
        if r is None or not due(r, now) or is_frozen(services):
            return None
        if r.requotes >= MAX_RENEWALS:
            said = later(
                "Whalet's quote ran out %(times)s times before release; ask again if it is still needed.",
                times=r.requotes,
            )
            note = card_language(services).text(said)  # shown on the card
            if r.note != note:
                r = repo.bump(db, r, note=note)
                repo.update_card(services, db, r)
            return said
        old = r.mer_order_no
        r = repo.bump(
            db,
            r,
            mer_order_no=new_order_no(KINDS[r.kind].order_prefix),
            superseded_orders=(*r.superseded_orders, old),
            requotes=r.requotes + 1,
            whalet_calls=r.whalet_calls + 1,
            lease_owner=owner(services),
            lease_until=lease_end(now, services),
        )
        repo.audit(services, db, r, "system", "requote.apply", superseded=old, order=r.mer_order_no)
    fault_point("approval.requoting")  # the new order number is stored, nothing asked yet
    count_call(services, "apply")
    try:
        answer = await asyncio.wait_for(KINDS[r.kind].apply(services.whalet, r), call_deadline(services))
    except (WhaletError, TimeoutError) as exc:
        why: Later | str = sentence_of(exc) if isinstance(exc, WhaletError) else later("no answer in time")
        return _wait_for_whalet(services, r, why)
    mismatch = mismatch_of(r, answer)
    if mismatch:
        return _wait_for_whalet(
            services, r, later("its answer did not match the request (%(mismatch)s)", mismatch=mismatch)
        )
    return _store(services, r, answer)


def _store(services: Services, sent: ApprovalRequest, answer: ApplyAnswer) -> Later | None:
    tolerance = services.config.approvals.max_rate_drift_bps if services.config.approvals else 50
    with services.store.transaction() as db:
        r = repo.load(db, sent.id, lock=True)
        if r is None or r.lease_owner != sent.lease_owner or r.mer_order_no != sent.mer_order_no:
            if r is not None:
                repo.audit(services, db, r, "whalet", "requote.late", order=sent.mer_order_no)
            return later("The request moved on while a new quote was asked for.")
        new = with_quote(r, answer)
        terms = {
            "whalet_id": new.whalet_id,
            "fee": new.fee,
            "fee_currency": new.fee_currency,
            "to_amount": new.to_amount,
            "to_currency": new.to_currency,
            "rate": new.rate,
            "quote_expires_at": new.quote_expires_at,
            "fingerprint": fingerprint(new),
            "lease_owner": None,
            "lease_until": None,
        }
        # against the terms each approval was given on (a second renewal must not drift twice)
        given = repo.approvals(db, r.id)
        bases = {a.terms or Terms.of(r) for a in given} or {Terms.of(r)}
        moved = sorted({change for base in bases for change in drift(base, Terms.of(new), tolerance)})
        compared = compare(new)
        if not moved:
            card = card_language(services)  # the note is shown on the card
            note = card.gettext(
                "Whalet's first quote ran out; the new one (%(terms)s) is within the %(tolerance)s bp tolerance.",
                terms=compared if card.locale == "en" else compare(new, card),
                tolerance=tolerance,
            )
            r = repo.bump(db, r, note=note, **terms)
            repo.audit(services, db, r, "system", "requote.within", terms=compared)
            repo.update_card(services, db, r)
            services.wake_outbox()
            return None
        voided = approval_rows.delete_approvals(db, r.id)
        note = beyond(translator("en"), tolerance, moved, compare(r), compared)
        t = thread_language(services)  # the card, its note and its thread speak its channel's language
        if t.locale != "en":
            changes = sorted({change for base in bases for change in drift(base, Terms.of(new), tolerance, t)})
            note = beyond(t, tolerance, changes, compare(r, t), compare(new, t))
        told = note
        r = repo.transition(db, r, State.PENDING, note=note, **terms)
        repo.audit(services, db, r, "system", "requote.beyond", moved=moved, voided=voided, terms=compared)
        repo.update_card(services, db, r)
        repo.tell_thread(services, db, r, f":warning: {esc(told)}")
    services.wake_outbox()
    return later(
        "Whalet's new quote differs from what was approved by more than the tolerance; it needs its approvals again."
    )


def _wait_for_whalet(services: Services, sent: ApprovalRequest, why: Later | str) -> Later:
    """No usable new quote: release the lease, note why, try again at a later sweep."""
    now = services.clock.now()
    said = later(
        "Whalet's quote ran out and a new one could not be had (%(why)s); the bot asks again shortly.", why=why
    )
    note = card_language(services).text(said)  # shown on the card
    with services.store.transaction() as db:
        r = repo.load(db, sent.id, lock=True)
        if r is not None and r.lease_owner == sent.lease_owner and r.mer_order_no == sent.mer_order_no:
            r = repo.bump(db, r, lease_owner=None, lease_until=None, next_attempt_at=now + RETRY_AFTER, note=note)
            repo.audit(services, db, r, "whalet", "requote.failed", reason=str(why))
            repo.update_card(services, db, r)
    services.wake_outbox()
    return said


def thread_language(services: Services) -> Translator:
    """The language of the approvals channel, where every card and its thread are."""
    approvals = services.config.approvals
    return translator(services.locales.channel(approvals.channel if approvals else None))


def beyond(t: Translator, tolerance: int, moved: list[str], approved: str, now: str) -> str:
    """The note (English) and the thread's message when a new quote moved beyond the tolerance."""
    return t.gettext(
        "Whalet's quote ran out before release and the new one differs by more than %(tolerance)s bp "
        "(%(moved)s): approved %(approved)s, now %(now)s. The approvals given on the "
        "old terms no longer count; please approve again.",
        tolerance=tolerance,
        moved=("；" if t.locale == "zh-Hans" else "; ").join(moved),
        approved=approved,
        now=now,
    )


def drift(old: Terms, new: Terms, tolerance_bps: int, t: Translator | None = None) -> list[str]:
    """What moved by more than ``tolerance_bps`` between approved terms and new ones (English
    for the audit, or in ``t``'s language)."""
    t = t or translator("en")
    moved = []
    for label, before, after in (
        (N_("rate"), old.rate, new.rate),
        (N_("fee"), old.fee, new.fee),
        (N_("amount received"), old.to_amount, new.to_amount),
    ):
        change = bps_between(before, after)
        if change is None:
            moved.append(t.gettext("%(what)s changed", what=t.gettext(label)))
        elif change > tolerance_bps:
            moved.append(t.gettext("%(what)s moved %(bp)s bp", what=t.gettext(label), bp=f"{change:.0f}"))
    if old.fee_currency != new.fee_currency or old.to_currency != new.to_currency:
        moved.append(t.gettext("currency changed"))
    return moved


def bps_between(before: Decimal | None, after: Decimal | None) -> Decimal | None:
    if before == after:
        return Decimal(0)
    if before is None or after is None or before == 0:
        return None
    return abs(after - before) / abs(before) * 10_000


def compare(r: ApprovalRequest, t: Translator | None = None) -> str:
    """The terms an approver weighs, in one line (English, or in ``t``'s language)."""
    if t is None:  # the note and the audit: English as it always read
        parts = []
        if r.rate is not None and r.to_currency not in (None, r.currency):
            parts.append(f"rate {r.rate}")
        if r.fee is not None:
            parts.append(f"fee {Money(r.fee, r.fee_currency or r.currency).format()}")
        if r.to_amount is not None and r.to_currency:
            parts.append(f"received {Money(r.to_amount, r.to_currency).format()}")
        return ", ".join(parts) or "the same amount"
    shown = []
    if r.rate is not None and r.to_currency not in (None, r.currency):
        shown.append(t.gettext("rate %(rate)s", rate=r.rate))
    if r.fee is not None:
        shown.append(t.gettext("fee %(fee)s", fee=t.amount(Money(r.fee, r.fee_currency or r.currency))))
    if r.to_amount is not None and r.to_currency:
        shown.append(t.gettext("received %(amount)s", amount=t.amount(Money(r.to_amount, r.to_currency))))
    return ("，" if t.locale == "zh-Hans" else ", ").join(shown) if shown else t.gettext("the same amount")
