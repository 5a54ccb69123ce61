"""The ONE function that sends payoutConfirm / payConfirm, and the lease that makes it exclusive.

``send_confirm`` is reached from a click, the sweep, restart recovery and every retry; it is the
only caller of ``Kind.confirm``. In ONE transaction it re-reads the request, re-checks every
send-time guard (``guards.why_not_send``: not frozen, not expired, quorum of distinct current
approvers other than the requester, fingerprint intact, no lease held, attempts left, a lookup
after the last attempt) and takes the lease: the move to CONFIRMING with ``lease_owner`` and
``lease_until``. Only then is Whalet called, under a hard deadline shorter than the lease, so no
second sender can take over while this call may still be running. The answer is stored by a
compare-and-set that also releases the lease.

Answers: a status -> CONFIRMED; a refusal -> FAILED; rate limited or not sent (nothing happened)
-> APPROVED, retried after a backoff; IDEMPOTENT_ERROR / REQUEST_NO_NOT_UNIQUE or no trustworthy
answer -> CONFIRM_UNKNOWN, and the next step is a lookup by merOrderNo, never a blind confirm.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlite_utils import Database

from core.faultpoints import fault_point
from core.i18n import Translator, translator
from services.approvals import counting, repo, requote
from services.approvals.guards import Block, Refusal, backoff, why_not_send
from services.approvals.kinds import KINDS
from services.approvals.lease import FREEZE_FLAG as FREEZE_FLAG
from services.approvals.lease import (
    alerts_language,
    card_language,
    call_deadline,
    count_call,
    is_frozen,
    lease_end,
    max_attempts,
    owner,
)
from services.approvals.lease import settle_seconds as settle_seconds
from services.approvals.request import ApprovalRequest
from services.approvals.states import State
from services.whalet_words import sentence_of
from whalet.errors import DuplicateRequest, OutcomeUnknown, RateLimited, RequestNotSent, WhaletRejected

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")

ROLE_READS = 3  # approvals that keep arriving while the roles are read: read again, this often


async def send_confirm(services: Services, request_id: str) -> str:
    """Guards, lease, one confirm call, its outcome stored; returns a sentence for a person.
    An approved request whose quote ran out first gets a new one (``requote.renew``)."""
    with services.store.read() as db:
        request = repo.load(db, request_id)
    t = reader(services, request)
    if request is not None and requote.due(request, services.clock.now()):
        waiting = await requote.renew(services, request_id)
        if waiting is not None:
            return t.text(waiting)
    for _ in range(ROLE_READS):
        try:
            return await _send_confirm(services, request_id, await counting.approvers_now(services, request_id), t)
        except counting.RolesMoved:
            continue  # nothing was written or sent: read the new giver's role too
    return t.gettext("New approvals keep arriving; the confirmation goes out at the next sweep.")


def reader(services: Services, request: ApprovalRequest | None) -> Translator:
    """Who hears what a send says: the approver whose click completed the quorum (the click
    asked Slack for their language), else the default language (the sweep's sentences go nowhere)."""
    return translator(services.locales.cached(request.decided_by or "" if request is not None else ""))


async def _send_confirm(services: Services, request_id: str, current: counting.RolesNow, t: Translator) -> str:
    now = services.clock.now()
    with services.store.transaction() as db:
        request = repo.load(db, request_id, lock=True)
        if request is None:
            return t.gettext("This approval request does not exist (any more).")
        counting.ensure_checked(db, request, current)
        if counting.mark(services, db, request, current):
            request = repo.bump(db, request)
            repo.update_card(services, db, request)
        refusal = why_not_send(
            request,
            now=now,
            frozen=is_frozen(services),
            max_attempts=max_attempts(services),
            current_approvers=counting.counting(db, request, current),
        )
        if refusal is not None:
            _refused(services, db, request, refusal)
            services.wake_outbox()
            return t.text(refusal.later)
        request = repo.conclude(
            services,
            db,
            request,
            State.CONFIRMING,
            lease_owner=owner(services),
            lease_until=lease_end(now, services),
            confirm_attempts=request.confirm_attempts + 1,
            whalet_calls=request.whalet_calls + 1,
            next_attempt_at=None,
            note=None,
        )
        repo.audit(
            services,
            db,
            request,
            "system",
            "confirm.send" if request.confirm_attempts == 1 else "reconcile.confirm_again",
            attempt=request.confirm_attempts,
        )
        repo.update_card(services, db, request)
    services.wake_outbox()
    fault_point("approval.confirming")  # the lease is committed, nothing sent yet
    count_call(services, "confirm")
    kind = KINDS[request.kind]
    card = card_language(services)  # the request's note is shown on its card
    try:
        status = await asyncio.wait_for(kind.confirm(services.whalet, request), call_deadline(services))
    except (RateLimited, RequestNotSent) as exc:
        _settle(
            services,
            request,
            State.APPROVED,
            "confirm.retry_later",
            exc,
            next_attempt_at=now + backoff(request.confirm_attempts),
            note=card.gettext(
                "Whalet did not take the confirmation yet (nothing happened there); it is tried again shortly."
            ),
        )
        return t.gettext("%(why)s Nothing happened at Whalet; the bot tries again shortly.", why=sentence_of(exc))
    except (DuplicateRequest, OutcomeUnknown, TimeoutError) as exc:
        running = _may_still_run(exc)
        # An answer came: the call is over at Whalet, look it up now. None came: it may still
        # be running there, so the lease is kept and the lookup waits for the lease's end.
        check_at = (request.lease_until or lease_end(now, services)) if running else now
        note = (
            card.gettext(
                "Whalet did not answer the confirmation, which may still be running there; we check by "
                "order number at %(time)s UTC before anything else.",
                time=check_at.strftime("%H:%M:%S"),
            )
            if running
            else card.gettext("Checking with Whalet now.")
        )
        _settle(
            services,
            request,
            State.CONFIRM_UNKNOWN,
            "confirm.unknown",
            exc,
            keep_lease=running,
            next_attempt_at=check_at,
            note=note,
        )
        if isinstance(exc, TimeoutError):
            return t.gettext("Whalet did not answer in time; we check by order number before anything else.")
        return t.text(sentence_of(exc))
    except WhaletRejected as exc:
        if requote.refused_for_its_quote(request, services.clock.now()):
            # Whalet refused the first confirm as its quote ran out (our clock and Whalet's differ
            # by more than the margin): the order was not confirmed and cannot be any more, so
            # the request gets a new quote at the next step instead of failing.
            _settle(
                services,
                request,
                State.APPROVED,
                "confirm.quote_expired",
                exc,
                confirm_attempts=0,
                quote_expires_at=services.clock.now(),
                note=card.gettext("Whalet's quote ran out as it was confirmed; a new one is asked for."),
            )
            return t.gettext("Whalet's quote ran out as it was confirmed; the bot asks for a new one.")
        _settle(services, request, State.FAILED, "confirm.rejected", exc, fail_reason=card.text(sentence_of(exc)))
        return t.text(sentence_of(exc))
    fault_point("approval.confirmed_unstored")  # Whalet has the confirm; CONFIRMED not yet stored
    _settle(
        services,
        request,
        State.CONFIRMED,
        "confirm",
        None,
        result_status=status,
        decided_at=services.clock.now(),
        next_attempt_at=services.clock.now() + backoff(4),
    )
    return t.gettext("Approved and sent to Whalet.")


def _may_still_run(exc: BaseException) -> bool:
    """No answer came (our deadline, a timeout, a cut connection, a 5xx from a gateway): Whalet
    may still be working on the confirm. An answer that came but could not be trusted (a bad
    signature, nonsense, a duplicate) means the call itself is over."""
    return isinstance(exc, TimeoutError) or (isinstance(exc, OutcomeUnknown) and exc.lost_in_transit)


def _refused(services: Services, db: Database, request: ApprovalRequest, refusal: Refusal) -> None:
    """What a refused send does to the request (inside the guard's transaction)."""
    now = services.clock.now()
    note = card_language(services).text(refusal.later)  # shown on the card
    if refusal.block is Block.EXPIRED and request.state is State.APPROVED:
        request = repo.conclude(services, db, request, State.EXPIRED, note=None)
    elif refusal.block is Block.QUORUM and request.state in (State.APPROVED, State.CONFIRM_UNKNOWN):
        request = repo.conclude(services, db, request, State.PENDING, note=note)
    elif refusal.block in (Block.FROZEN, Block.ATTEMPTS, Block.FINGERPRINT) and request.note != note:
        request = repo.bump(db, request, note=note)
        if refusal.block is not Block.FROZEN and services.alerts is not None:
            text = alerts_language(services).gettext(
                ":rotating_light: Approval request `%(id)s` (order `%(order)s`): %(why)s",
                id=request.id,
                order=request.mer_order_no,
                why=alerts_language(services).text(refusal.later),
            )
            services.alerts.raise_alert(f"approval:{request.id}:{refusal.block}", text, quiet_seconds=0)
    else:
        return
    repo.audit(services, db, request, "system", f"confirm.held.{refusal.block}", reason=refusal.sentence)
    repo.update_card(services, db, request)
    log.info("confirm of %s held at %s: %s", request.id, now.isoformat(), refusal.block)


def _settle(
    services: Services,
    sent: ApprovalRequest,
    state: State,
    action: str,
    exc: BaseException | None,
    *,
    keep_lease: bool = False,
    **fields: object,
) -> ApprovalRequest | None:
    """Store the confirm's outcome and release the lease (unless ``keep_lease``: the call may
    still be running at Whalet), if this sender still holds it."""
    with services.store.transaction() as db:
        request = repo.load(db, sent.id, lock=True)
        if request is None or request.state is not State.CONFIRMING or request.lease_owner != sent.lease_owner:
            log.info("request %s moved on while its confirm was in flight; the answer is audited only", sent.id)
            if request is not None:
                repo.audit(services, db, request, "whalet", f"{action}.late", error=type(exc).__name__ if exc else None)
            return None
        lease: dict[str, object] = {} if keep_lease else {"lease_owner": None, "lease_until": None}
        request = repo.conclude(services, db, request, state, **lease, **fields)
        detail = (
            {"answer": fields.get("result_status")}
            if exc is None
            else {"error": type(exc).__name__, "answer": str(exc)}
        )
        repo.audit(services, db, request, "whalet", action, **detail)
        repo.update_card(services, db, request)
    services.wake_outbox()
    return request
