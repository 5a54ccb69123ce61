"""Approve and Reject clicks, and expiry: the moves people (and time) make on a PENDING request.

Every click is ONE transaction: authorise, check freeze / fingerprint / state / expiry, record
the approval (UNIQUE per approver), and, when the distinct givers who hold the approver role NOW
reach the tier, move PENDING -> APPROVED. Sending is not done here: the caller then asks
``reconcile.advance``, which reaches Whalet only through ``confirm.send_confirm`` and its guards.
Clicks that change nothing return a sentence for the clicker; the card is left alone. Every
sentence for the clicker is in their language (``services.locales.cached``: the click asked Slack
for it before its transaction, in ``counting.approvers_now``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from core.storage import approvals as approval_rows
from core.clock import iso
from core.i18n import N_, Later, later, translator

from services.approvals import batch_pause, copies, counting, policy, repo
from services.approvals.card_status import STATE_NAMES
from services.approvals.cards import layer_people
from services.approvals.confirm import is_frozen
from services.approvals.fingerprint import verify
from services.approvals.kinds import KINDS
from services.approvals.request import ApprovalRequest, Terms
from services.approvals.states import State
from services.approvals.roles import Role

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger("whalet_bot.approvals")

MISSING = N_("This approval request does not exist (any more).")


SENDING = (State.APPROVED, State.CONFIRMING, State.CONFIRM_UNKNOWN)
SENT = (State.CONFIRMED, State.SUCCEEDED)


def why_not_pending(r: ApprovalRequest, now: datetime, *, verb: str = "approved") -> Later | None:
    """Why a request can no longer be ``verb`` (approved, or rejected), in words that say what
    did happen to it; None while it is still pending. Translated where it is shown."""
    state = r.state
    rejecting = verb == "rejected"
    if state is State.PENDING:
        if r.expired(now):
            return _expired(rejecting)
        return None
    if state in SENDING + SENT:
        if not rejecting:
            return later("This request is already approved; nothing more is needed.")
        if state in SENT:
            return later("This request was approved and sent; it can no longer be rejected.")
        return later("This request was approved and is being sent to Whalet; it can no longer be rejected.")
    if state is State.REJECTED:
        by = f"<@{r.decided_by}>"
        return later("This request was already rejected by %(who)s.", who=by)
    if state is State.EXPIRED:
        return _expired(rejecting)
    if rejecting:
        return later("This request is %(state)s; it can no longer be rejected.", state=_state(state))
    return later("This request is %(state)s; it can no longer be approved.", state=_state(state))


def _expired(rejecting: bool) -> Later:
    if rejecting:
        return later("This request has expired, so it can no longer be rejected. Ask for a new one.")
    return later("This request has expired, so it can no longer be approved. Ask for a new one.")


def _state(state: State) -> Later | str:
    """The state's name as the card writes it (``card_status``), in the reader's language."""
    name = STATE_NAMES.get(state)
    return Later(name, {}) if name else state.value.lower().replace("_", " ")


def _refused_click(mismatch: str) -> Later:
    return later("This click was refused: %(why)s. Nothing was changed.", why=mismatch)


def check_click(
    services: Services, r: ApprovalRequest | None, *, clicker: str, role: Role, carried_fingerprint: str | None
) -> Later | None:
    """Everything a click must pass before it may change anything; the sentence if not."""
    if r is None:
        return Later(MISSING, {})
    refusal = policy.approver_refusal(role, requester=r.requester, clicker=clicker, kind=KINDS[r.kind].noun)
    refusal = refusal or policy.over_approver_limit(services.config, clicker, r.money, requester=r.requester)
    if refusal:
        return refusal.later
    mismatch = verify(r, carried_fingerprint)
    if mismatch:
        log.warning("refused click on %s by %s: %s", r.id, clicker, mismatch)
        return _refused_click(mismatch)
    if is_frozen(services):
        return later("Payouts are frozen by an admin; approvals are paused until someone runs `/whalet unfreeze`.")
    return why_not_pending(r, services.clock.now())


@dataclass(frozen=True)
class ClickResult:
    message: str  # for the clicker, ephemeral
    request: ApprovalRequest | None = None
    approved: bool = False  # this click completed the quorum: the caller advances the request


def record_approval(
    services: Services,
    request_id: str,
    *,
    clicker: str,
    role: Role,
    carried_fingerprint: str | None,
    current: counting.RolesNow,
) -> ClickResult:
    """One transaction: checks, the approval row, and PENDING -> APPROVED when the quorum of
    ``current`` approvers (read just before, see ``counting.approvers_now``) is met."""
    now = services.clock.now()
    t = translator(services.locales.cached(clicker))
    with services.store.transaction() as db:
        # Locked: a second approver's click on another replica waits here for this decision and
        # then counts both approvals, instead of losing its own to a stale compare-and-set.
        r = repo.load(db, request_id, lock=True)
        refusal = check_click(services, r, clicker=clicker, role=role, carried_fingerprint=carried_fingerprint)
        if refusal or r is None:
            if r is not None:
                repo.audit(services, db, r, clicker, "approve.refused", reason=str(refusal))
            return ClickResult(t.text(refusal) if refusal else "")
        counting.ensure_checked(db, r, current)
        layer = counting.next_layer(db, r, current) if r.layers else None
        if r.layers and clicker not in current.checked:
            refused = layer_refusal(r, layer, current.layers_of.get(clicker, frozenset()))
            if refused:
                repo.audit(services, db, r, clicker, "approve.refused", reason=str(refused))
                return ClickResult(t.text(refused))
        inserted = approval_rows.add_approval(db, request_id, clicker, iso(now), layer, Terms.of(r).to_json())
        now_approvers = current.with_clicker(clicker)
        counting.mark(services, db, r, now_approvers)
        count = len(counting.counting(db, r, now_approvers))
        needed = r.required_approvals
        if not inserted and count < needed:
            return ClickResult(
                t.gettext("You already approved this; it still needs %(more)s more approver(s).", more=needed - count)
            )
        if count >= needed:
            r = repo.conclude(services, db, r, State.APPROVED, decided_at=now, decided_by=clicker, note=None)
            if r.is_batch:  # approved again after a pause: its waiting lines take these approvals
                batch_pause.resume_lines(services, db, r)
            repo.audit(services, db, r, clicker, "approve", approvals=count, needed=needed, final=True)
            result = ClickResult(t.gettext("Approved. Sending it to Whalet now."), r, approved=True)
        else:
            r = repo.bump(db, r)
            repo.audit(services, db, r, clicker, "approve", approvals=count, needed=needed, final=False)
            result = ClickResult(
                t.gettext(
                    "Approved. %(count)s of %(needed)s approvals so far; waiting for %(more)s more.",
                    count=count,
                    needed=needed,
                    more=needed - count,
                ),
                r,
            )
        repo.update_card(services, db, r)
    services.wake_outbox()
    return result


def layer_refusal(r: ApprovalRequest, layer: int | None, clicker_in: frozenset[int]) -> Later | None:
    """Why this click cannot satisfy the next layer of a layered request, or None."""
    if layer is None or layer in clicker_in:
        return None
    values = {"layer": layer + 1, "total": len(r.layers), "people": layer_people(r.layers[layer])}
    after = sorted(index + 1 for index in clicker_in if index > layer)
    if after:
        return later(
            "This request is approved layer by layer and now needs layer %(layer)s of %(total)s (%(people)s); "
            "you are in layer %(yours)s, so approve after that.",
            yours=after[0],
            **values,
        )
    return later(
        "This request is approved layer by layer and now needs layer %(layer)s of %(total)s (%(people)s); "
        "you are not in that layer.",
        **values,
    )


def reject_refusal(
    r: ApprovalRequest | None,
    *,
    clicker: str,
    role: Role,
    carried_fingerprint: str | None,
    now: datetime,
    locale: str | None = None,
) -> str | None:
    """Why this person may not reject (or withdraw) this request now, or None; in ``locale``
    (the clicker's language), English without it."""
    found = _reject_refusal(r, clicker=clicker, role=role, carried_fingerprint=carried_fingerprint, now=now)
    return None if found is None else translator(locale).text(found)


def _reject_refusal(
    r: ApprovalRequest | None, *, clicker: str, role: Role, carried_fingerprint: str | None, now: datetime
) -> Later | None:
    if r is None:
        return Later(MISSING, {})
    if r.requester != clicker and role < Role.APPROVER:
        return later(
            "Only approvers (or the requester) can reject this; your role is %(role)s.", role=policy.role_noun(role)
        )
    mismatch = verify(r, carried_fingerprint)
    if mismatch:
        return _refused_click(mismatch)
    if r.state is not State.PENDING:
        return why_not_pending(r, now, verb="rejected") or later("Already decided.")
    return None


def reject(
    services: Services, request_id: str, *, clicker: str, role: Role, carried_fingerprint: str | None, reason: str
) -> str:
    """PENDING -> REJECTED. The requester may withdraw their own request; approvers may reject any."""
    now = services.clock.now()
    t = translator(services.locales.cached(clicker))
    with services.store.transaction() as db:
        r = repo.load(db, request_id, lock=True)
        refusal = _reject_refusal(r, clicker=clicker, role=role, carried_fingerprint=carried_fingerprint, now=now)
        if refusal or r is None:
            return t.text(refusal or Later(MISSING, {}))
        own = r.requester == clicker
        r = repo.conclude(services, db, r, State.REJECTED, decided_at=now, decided_by=clicker, reason=reason or None)
        repo.audit(services, db, r, clicker, "reject", reason=reason, withdrawn=own)
        repo.update_card(services, db, r)
    services.wake_outbox()
    if own:
        return t.gettext("Withdrawn. Nothing will be sent to Whalet.")
    return t.gettext("Rejected. Nothing will be sent to Whalet.")


def expire_due(services: Services) -> list[str]:
    """PENDING (and APPROVED, never sent) requests past their expiry -> EXPIRED. Returns ids."""
    now = services.clock.now()
    expired: list[str] = []
    with services.store.transaction() as db:
        for r in repo.in_states(db, (State.PENDING, State.APPROVED)):
            if not r.expired(now):
                continue
            if r.confirm_attempts and not (r.is_batch and r.state is State.PENDING):
                # a request that was ever sent is settled by lookup, not by our clock; a released
                # batch by its lines (batch_release), unless it waits for approval again
                continue
            try:
                r = repo.conclude(services, db, r, State.EXPIRED, decided_at=now)
            except repo.StaleRequest:
                continue  # another replica moved it since this sweep read it: its move stands
            repo.audit(services, db, r, "system", "expire")
            repo.update_card(services, db, r)
            expired.append(r.id)
    if expired:
        services.wake_outbox()
    return expired


def remind_due(services: Services) -> list[str]:
    """PENDING requests half-way to their expiry: one reminder each, ever (``copies.remind``
    claims it in the same transaction that queues it, so replicas sweeping together send one)."""
    now = services.clock.now()
    reminded: list[str] = []
    with services.store.transaction() as db:
        for r in repo.in_states(db, (State.PENDING,)):
            if copies.reminder_due(r, now) and copies.remind(services, db, r, [a for a, _ in repo.approvers(db, r.id)]):
                repo.audit(services, db, r, "system", "remind")
                reminded.append(r.id)
    if reminded:
        services.wake_outbox()
    return reminded
