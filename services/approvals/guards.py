"""The send-time guards: what must hold at the moment a confirm is sent, on every path.

``why_not_send`` is pure: the caller reads the request, its approvals and the roles of their
givers NOW, and checks inside the same transaction that takes the lease, so nothing can change
between the check and the lease. A click, the sweep, restart recovery and a retry all reach
Whalet's confirm only through ``confirm.send_confirm``, which calls this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.i18n import Later, later
from services.approvals.card_status import STATE_NAMES
from services.approvals.fingerprint import intact
from services.approvals.request import ApprovalRequest
from services.approvals.states import State


class Block(StrEnum):
    STATE = "state"  # not approved / not waiting for a re-confirm
    UNCHECKED = "unchecked"  # a confirm was sent since the last lookup that found WAIT_CONFIRM
    ATTEMPTS = "attempts"  # max_confirm_attempts used up
    FROZEN = "frozen"
    EXPIRED = "expired"
    QUORUM = "quorum"  # too few distinct current approvers other than the requester
    FINGERPRINT = "fingerprint"  # the stored request was changed behind its card
    LEASE = "lease"  # someone holds the lease: a confirm may be in flight
    ATTENTION = "attention"  # Whalet reported a result that contradicts the request: a person looks first


@dataclass(frozen=True)
class Refusal:
    """Why a confirm is not sent: ``later`` translated where it is shown; ``sentence`` is the
    English (the request's note, the audit and the alerts keep it)."""

    block: Block
    later: Later

    @property
    def sentence(self) -> str:
        return str(self.later)


def quorum(request: ApprovalRequest, current_approvers: Iterable[str]) -> int:
    """Distinct givers who hold the approver role now, the requester never counted."""
    return len(set(current_approvers) - {request.requester})


def why_not_send(
    request: ApprovalRequest, *, now: datetime, frozen: bool, current_approvers: Iterable[str], max_attempts: int
) -> Refusal | None:
    r = request
    if r.is_batch:
        return Refusal(
            Block.STATE, later("A batch is released line by line; each line's payout is confirmed on its own.")
        )
    if r.state not in (State.APPROVED, State.CONFIRM_UNKNOWN):
        name = STATE_NAMES.get(r.state)
        state = Later(name, {}) if name else r.state.value.lower().replace("_", " ")
        return Refusal(Block.STATE, later("This request is %(state)s, so it is not sent.", state=state))
    if r.lease_held(now):
        return Refusal(Block.LEASE, later("A confirmation for this request is already in flight."))
    if r.attention:
        return Refusal(
            Block.ATTENTION,
            later(
                "Whalet reported a result that does not match this request, so nothing more is sent "
                "until a person has checked the order in Whalet's portal."
            ),
        )
    if r.confirm_attempts > 0 and r.checked_attempt < r.confirm_attempts:
        return Refusal(Block.UNCHECKED, later("We first check with Whalet whether the last confirmation arrived."))
    if r.confirm_attempts >= max_attempts:
        return Refusal(
            Block.ATTEMPTS,
            later(
                "Whalet did not take the confirmation after %(attempts)s attempts; "
                "nothing more is sent, and the request will expire unless Whalet reports it.",
                attempts=r.confirm_attempts,
            ),
        )
    if frozen:
        return Refusal(
            Block.FROZEN,
            later(
                "Payouts are frozen by an admin: the confirmation waits until `/whalet unfreeze` "
                "and is then sent if the request is still valid."
            ),
        )
    if r.expired(now):
        return Refusal(Block.EXPIRED, later("The request expired before it could be sent; nothing was sent."))
    if not intact(r):
        return Refusal(Block.FINGERPRINT, later("The stored request no longer matches its card, so it is not sent."))
    have = quorum(r, current_approvers)
    if have < r.required_approvals:
        return Refusal(
            Block.QUORUM,
            later(
                "Only %(have)s of the %(needed)s approvals still count, so it waits for more approvals.",
                have=have,
                needed=r.required_approvals,
            ),
        )
    return None


BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(minutes=15)


def backoff(step: int) -> timedelta:
    """5 s, 10 s, 20 s, … capped at 15 min: the wait before the next attempt after ``step`` tries."""
    if step <= 0:
        return timedelta(0)
    return min(BACKOFF_BASE * (2 ** (step - 1)), BACKOFF_CAP)
