"""Finding out what happened, as a bounded loop: lookups by merOrderNo and guarded re-confirms.

``advance(request)`` takes at most ``MAX_STEPS`` steps, each decided afresh from the stored
request by ``next_step`` (no recursion between sending and looking up):

- CONFIRM_UNKNOWN, or APPROVED after an attempt, with no lookup since the last confirm -> lookup;
- a lookup found WAIT_CONFIRM (our confirm did not land) -> ``confirm.send_confirm`` again, after
  an exponential backoff, at most ``approvals.max_confirm_attempts`` confirms in all, and only if
  the send-time guards hold (frozen: it waits, says so on the card, and continues after unfreeze);
- CONFIRMED -> an occasional lookup until Whalet's result is known (the notification usually
  settles it first).

Lookup answers: PROCESSING -> CONFIRMED; SUCCESS / FAIL -> settled; EXPIRED -> EXPIRED;
WAIT_CONFIRM after our expiry -> EXPIRED (we will never confirm it); a status the bot does not
know, no record, or a failed lookup -> stays as it is ("outcome unknown"), counts in the daily
total, and alerts once. Lookups per request are capped (``MAX_LOOKUPS``), so Whalet calls per
request are bounded: 1 apply + max_confirm_attempts + MAX_LOOKUPS, counted in /metrics.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.clock import iso
from services.approvals import repo
from sqlite_utils import Database

from services.approvals import counting
from services.approvals import nudges
from services.approvals.clicks import expire_due, remind_due
from services.approvals import batch_lines, batch_release
from services.approvals.confirm import count_call, is_frozen, send_confirm
from services.approvals.guards import backoff
from services.approvals.lease import alerts_language, card_language
from services.approvals.kinds import KINDS
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.slack.blocks import esc
from services.approvals.states import allowed
from services.whalet_words import sentence_of
from whalet.errors import WhaletError
from whalet.models import Record

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")

STUCK_APPLYING = timedelta(minutes=10)
MAX_STEPS = 3
MAX_LOOKUPS = 12
KNOWN = ("WAIT_CONFIRM", "PROCESSING", "SUCCESS", "FAIL", "FAILED", "EXPIRED")


def next_step(r: ApprovalRequest, now: datetime) -> str | None:
    """ "lookup", "confirm" or None (nothing due now) for a stored request."""
    if r.next_attempt_at is not None and r.next_attempt_at > now:
        return None
    unchecked = r.checked_attempt < r.confirm_attempts
    if r.state is State.CONFIRM_UNKNOWN:
        if unchecked:
            return "lookup" if r.lookups < MAX_LOOKUPS else None
        return "confirm"
    if r.state is State.APPROVED:
        if r.confirm_attempts and unchecked:
            return "lookup" if r.lookups < MAX_LOOKUPS else None
        return "confirm"
    if r.state is State.CONFIRMED and r.lookups < MAX_LOOKUPS:
        return "lookup"
    return None


async def advance(services: Services, request_id: str) -> str | None:
    """Take the due steps for one request (bounded); the last sentence for a person, if any."""
    said = None
    with services.store.read() as db:
        first = repo.load(db, request_id)
    if first is not None and first.is_batch:
        return await batch_release.release(services, request_id)
    for _ in range(MAX_STEPS):
        with services.store.read() as db:
            request = repo.load(db, request_id)
        step = next_step(request, services.clock.now()) if request is not None else None
        if step is None or request is None:
            break
        if step == "confirm":
            said = await send_confirm(services, request_id)
            with services.store.read() as db:
                after = repo.load(db, request_id)
            moved = after is not None and (
                after.confirm_attempts != request.confirm_attempts  # a confirm went out
                or after.quote_expires_at != request.quote_expires_at  # a quote was renewed, or ran out
            )
            if not moved:
                break  # held by a guard: nothing was sent, nothing more to do now
        else:
            await lookup_once(services, request)
    return said


async def lookup(services: Services, request: ApprovalRequest) -> Record | None:
    """The order's record at Whalet, found by merOrderNo; None when Whalet has none."""
    start, end = request.created_at - timedelta(days=1), services.clock.now() + timedelta(days=1)
    count_call(services, "lookup")
    page = await KINDS[request.kind].lookup(services.whalet, request.user_id, start, end, request.mer_order_no)
    return next((r for r in page.records if r.mer_order_no == request.mer_order_no), None)


async def lookup_once(services: Services, request: ApprovalRequest) -> None:
    """One lookup and what it proves, stored in one transaction."""
    now = services.clock.now()
    card = card_language(services)  # the request's note is shown on its card
    record: Record | None = None
    problem = None
    try:
        record = await lookup(services, request)
    except WhaletError as exc:
        problem = card.gettext(
            "We could not check with Whalet yet (%(why)s); we will try again shortly.", why=sentence_of(exc)
        )
    status = ((record.status if record else None) or "").upper()
    with services.store.transaction() as db:
        current = repo.load(db, request.id, lock=True)
        if current is None or current.version != request.version:
            return  # moved on meanwhile (a notification, another step): the next step re-reads
        base = {"lookups": current.lookups + 1, "whalet_calls": current.whalet_calls + 1}
        if record is None or status not in KNOWN:
            if problem is None:
                problem = (
                    card.gettext("Whalet shows no record of this order yet; we will check again shortly.")
                    if record is None
                    else card.gettext(
                        "Whalet reports a status the bot does not know (%(status)s); the outcome stays "
                        "unknown until Whalet reports it settled.",
                        status=esc(status),
                    )
                )
            current = repo.bump(db, current, note=problem, next_attempt_at=now + backoff(current.lookups + 1), **base)
            _alert_unknown(services, current, status, exhausted=current.lookups >= MAX_LOOKUPS)
        else:
            current = _apply(services, db, current, status, record, now, base)
        repo.audit(services, db, current, "system", "reconcile.lookup", found=status or None)
        repo.update_card(services, db, current)
        if current.batch_id is not None:  # a batch line: its batch's progress follows in this transaction
            batch_lines.settle_in(services, db, current.batch_id)
    services.wake_outbox()


def _apply(
    services: Services,
    db: Database,
    r: ApprovalRequest,
    status: str,
    record: Record,
    now: datetime,
    base: dict[str, int],
) -> ApprovalRequest:
    card = card_language(services)  # the request's note is shown on its card
    fields: dict[str, object] = {**base, "result_status": status}
    if status == "WAIT_CONFIRM":
        if r.state is State.CONFIRMED:  # cannot happen with Whalet's rules: keep asking, do not resend
            return repo.bump(db, r, next_attempt_at=now + backoff(r.lookups + 1), **fields)
        if r.expired(now):
            return repo.conclude(
                services,
                db,
                r,
                State.EXPIRED,
                note=card.gettext(
                    "Whalet never received the confirmation before the request expired; nothing was paid."
                ),
                **fields,
            )
        wait = backoff(r.confirm_attempts - 1) if r.confirm_attempts > 1 else timedelta(0)  # 0, 5 s, 10 s, …
        note = (
            None
            if not is_frozen(services)
            else card.gettext(
                "Payouts are frozen by an admin: the confirmation waits until "
                "`/whalet unfreeze` and is then sent if the request is still valid."
            )
        )
        return repo.bump(db, r, checked_attempt=r.confirm_attempts, next_attempt_at=now + wait, note=note, **fields)
    if status == "PROCESSING":
        target = State.CONFIRMED
        fields.update(
            next_attempt_at=now + backoff(r.lookups + 2),
            note=card.gettext("Whalet has the order; nothing was sent twice."),
        )
    elif status == "SUCCESS":
        target, fields["note"] = State.SUCCEEDED, None
    elif status == "EXPIRED":
        target, fields["note"] = (
            State.EXPIRED,
            card.gettext("Whalet reports the order expired unconfirmed; nothing was paid."),
        )
    else:
        target = State.FAILED
        fields["fail_reason"] = (record.model_extra or {}).get("failReason") or card.gettext(
            "Whalet reports the payout failed"
        )
    if r.state is target:
        return repo.bump(db, r, **fields)
    if r.state is State.CONFIRMING:
        return repo.bump(db, r, **fields)  # a confirm is in flight: its owner stores the outcome
    if not allowed(r.state, target):  # Whalet says something its own rules exclude: a person looks
        _alert_unknown(services, r, status, exhausted=False)
        return repo.bump(
            db,
            r,
            **{
                **fields,
                "note": card.gettext(
                    "Whalet reports %(status)s, which does not fit this request's history; please check it in "
                    "Whalet's portal.",
                    status=esc(status),
                ),
            },
        )
    return repo.conclude(services, db, r, target, **fields)


# One alert per request and unknown status (or exhaustion) a day: every later lookup that sees the
# same status would otherwise post the same alert again, and a channel that floods gets muted.
UNKNOWN_QUIET_S = 24 * 3600


def _alert_unknown(services: Services, r: ApprovalRequest, status: str, *, exhausted: bool) -> None:
    if services.alerts is None or not (status or exhausted):
        return
    t = alerts_language(services)
    why = (
        t.gettext("Whalet reports status %(status)s, which the bot does not know", status=esc(status))
        if status
        else t.gettext("%(n)s lookups did not settle it", n=r.lookups)
    )
    text = t.gettext(
        ":rotating_light: Approval request `%(id)s` (order `%(order)s`): %(why)s. Its outcome stays unknown "
        "and it still counts in the daily total; please check it in Whalet's portal.",
        id=r.id,
        order=r.mer_order_no,
        why=why,
    )
    services.alerts.raise_alert(f"approval:{r.id}:unknown:{status or 'exhausted'}", text, quiet_seconds=UNKNOWN_QUIET_S)


async def sweep(services: Services) -> None:
    """Periodic work: expire, remind, take over expired leases, re-check roles, advance every due request."""
    expire_due(services)
    remind_due(services)
    nudges.escalate_due(services)
    await nudges.summary_due(services)
    now = services.clock.now()
    with services.store.transaction() as db:
        for r in repo.in_states(db, (State.CONFIRMING, State.APPLYING)):
            try:
                _recover(services, db, r, now)
            except repo.StaleRequest:
                continue  # another replica's sweep moved it since this one read it: its move stands
        pending = [r.id for r in repo.in_states(db, (State.PENDING,))]
        due = [
            r.id
            # a batch (its lines' progress) after every single request, its lines' payouts included
            for r in sorted(
                repo.in_states(db, (State.APPROVED, State.CONFIRM_UNKNOWN, State.CONFIRMED)), key=lambda r: r.is_batch
            )
            if r.is_batch or next_step(r, now) is not None
        ]
    services.wake_outbox()
    for request_id in pending:
        await recheck_roles(services, request_id)
    for request_id in due:
        await advance(services, request_id)
    log.debug("sweep at %s: %d due", iso(now), len(due))


def _recover(services: Services, db: Database, r: ApprovalRequest, now: datetime) -> None:
    """A request left half-way by a process that died: a confirm whose lease ran out (its process
    died, or its call outlived every timeout) is looked up, never resent blindly; an apply that
    never finished is abandoned (Whalet releases an unconfirmed order at its expiry)."""
    if r.state is State.CONFIRMING and not r.lease_held(now):
        r = repo.conclude(
            services,
            db,
            r,
            State.CONFIRM_UNKNOWN,
            lease_owner=None,
            lease_until=None,
            confirm_attempts=max(1, r.confirm_attempts),
            next_attempt_at=now,
            note=card_language(services).gettext("Recovered after a restart; checking with Whalet."),
        )
        repo.audit(services, db, r, "system", "recover")
        repo.update_card(services, db, r)
    elif r.state is State.APPLYING and r.created_at <= now - STUCK_APPLYING:
        r = repo.conclude(
            services, db, r, State.ABANDONED, note=card_language(services).gettext("Recovered after a restart.")
        )
        repo.audit(services, db, r, "system", "recover")


async def recheck_roles(services: Services, request_id: str) -> None:
    """Role changes show on the card at the next sweep: approvals that stopped (or resumed) counting."""
    current = await counting.approvers_now(services, request_id)
    with services.store.transaction() as db:
        r = repo.load(db, request_id, lock=True)
        if r is None or r.state is not State.PENDING:
            return
        try:
            counting.ensure_checked(db, r, current)
        except counting.RolesMoved:
            return  # an approval just arrived: the next sweep reads its giver's role too
        if not counting.mark(services, db, r, current):
            return
        r = repo.bump(db, r)
        repo.audit(services, db, r, "system", "roles.recheck", counting=sorted(current.current))
        repo.update_card(services, db, r)
    services.wake_outbox()
