"""The approval request state machine: every state, every allowed move, who makes it, its guard.

    APPLYING ─apply answer matches─▶ PENDING ─quorum─▶ APPROVED ─lease + guards─▶ CONFIRMING ─answer─▶ CONFIRMED
        └─apply failed / mismatch─▶ ABANDONED   │ │         ▲ │                      │  │            │
                         reject ◀───────────────┘ │         │ └─past expiry▶EXPIRED │  │  result ─▶ SUCCEEDED / FAILED
                         expiry ◀─────────────────┘         └─rate limited/not sent─┘  └─no answer / lease lost─▶ CONFIRM_UNKNOWN
    CONFIRM_UNKNOWN ─lookup─▶ CONFIRMED / SUCCEEDED / FAILED / EXPIRED, or (WAIT_CONFIRM + guards) CONFIRMING

Why a table and not ``if`` chains: every writer goes through ``repo.transition``, which refuses a
move that is not listed here, so a new code path cannot invent a way to confirm. ``TRANSITIONS``
is also the documentation: the README's approval section points here.

Who may trigger: "approver" (a Slack click by someone who holds the approver role now),
"requester", "confirm" (the one sender, ``confirm.send_confirm``, holding the lease), "reconcile"
(lookup by merOrderNo, from the click, the sweep or restart recovery), "whalet" (a result
notification), "sweep" (the periodic loop).

Final states: SUCCEEDED and FAILED are Whalet's word and never change. ABANDONED, REJECTED and
EXPIRED are the bot's word that it will never confirm; if Whalet later reports the order settled
anyway (it had our confirm after all), the request follows Whalet, so the card tells the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    APPLYING = "APPLYING"
    ABANDONED = "ABANDONED"
    PENDING = "PENDING"
    APPROVED = "APPROVED"  # quorum met, no confirm in flight: waiting to send (backoff, freeze)
    CONFIRMING = "CONFIRMING"  # a confirm is in flight; lease_owner holds it until lease_until
    CONFIRMED = "CONFIRMED"
    CONFIRM_UNKNOWN = "CONFIRM_UNKNOWN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Transition:
    source: State
    target: State
    trigger: str  # who or what may make the move
    guard: str  # what must hold, checked in the same transaction as the move


S = State
TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.APPLYING, S.PENDING, "create", "Whalet's apply answer matches the request (amount, currency, party)"),
    Transition(S.APPLYING, S.ABANDONED, "create / sweep", "apply refused, answer lost or mismatched, or stuck 10 min"),
    Transition(
        S.PENDING,
        S.PENDING,
        "approver",
        "current approver, not the requester, card fingerprint, not frozen, not expired",
    ),
    Transition(S.PENDING, S.APPROVED, "approver", "as above, and the distinct current approvers reach the tier"),
    Transition(
        S.PENDING, S.REJECTED, "approver / requester", "card fingerprint; requester withdraws, approver rejects"
    ),
    Transition(S.PENDING, S.EXPIRED, "sweep", "expires_at has passed"),
    Transition(S.APPROVED, S.CONFIRMING, "confirm", "send-time guards (guards.why_not_send) and the lease taken"),
    Transition(S.APPROVED, S.PENDING, "confirm / sweep", "an approval stopped counting (its giver lost the role)"),
    Transition(S.APPROVED, S.EXPIRED, "confirm / sweep", "expires_at passed before a confirm was sent"),
    Transition(S.APPROVED, S.CONFIRMED, "reconcile", "a lookup after an attempt found PROCESSING"),
    Transition(S.CONFIRMING, S.CONFIRMED, "confirm", "Whalet answered the confirm"),
    Transition(S.CONFIRMING, S.FAILED, "confirm", "Whalet refused the confirm"),
    Transition(
        S.CONFIRMING, S.CONFIRM_UNKNOWN, "confirm / sweep", "no trustworthy answer, duplicate answer, or lease expired"
    ),
    Transition(S.CONFIRMING, S.APPROVED, "confirm", "nothing happened at Whalet (rate limited, not sent): retry later"),
    Transition(S.CONFIRMING, S.SUCCEEDED, "whalet", "result notification arrived before the answer"),
    Transition(
        S.CONFIRM_UNKNOWN,
        S.CONFIRMING,
        "confirm",
        "a lookup found WAIT_CONFIRM after the last attempt, and the send-time guards",
    ),
    Transition(S.CONFIRM_UNKNOWN, S.CONFIRMED, "reconcile", "lookup found PROCESSING"),
    Transition(S.CONFIRM_UNKNOWN, S.SUCCEEDED, "reconcile / whalet", "lookup or notification says SUCCESS"),
    Transition(S.CONFIRM_UNKNOWN, S.FAILED, "reconcile / whalet", "lookup or notification says FAIL"),
    Transition(S.CONFIRM_UNKNOWN, S.EXPIRED, "reconcile", "Whalet says EXPIRED, or WAIT_CONFIRM after our expiry"),
    Transition(S.CONFIRM_UNKNOWN, S.PENDING, "reconcile", "WAIT_CONFIRM, and an approval stopped counting"),
    Transition(S.CONFIRMED, S.SUCCEEDED, "whalet / reconcile", "result SUCCESS"),
    Transition(S.CONFIRMED, S.FAILED, "whalet / reconcile", "result FAIL"),
    # Whalet's word beats ours: an order it settled is shown settled, whatever we thought.
    *(
        Transition(source, target, "whalet / reconcile", "Whalet reports the order settled")
        for source in (S.PENDING, S.APPROVED, S.REJECTED, S.EXPIRED, S.ABANDONED)
        for target in (S.SUCCEEDED, S.FAILED)
    ),
    Transition(S.EXPIRED, S.CONFIRMED, "reconcile", "Whalet reports the order PROCESSING after all"),
)

ALLOWED: dict[State, frozenset[State]] = {
    state: frozenset(t.target for t in TRANSITIONS if t.source is state) for state in State
}

# Requests that still count against a requester's daily total (money may move or has moved).
COUNTED = (S.APPLYING, S.PENDING, S.APPROVED, S.CONFIRMING, S.CONFIRMED, S.CONFIRM_UNKNOWN, S.SUCCEEDED)
# Whalet's final word: nothing changes these.
SETTLED = (S.SUCCEEDED, S.FAILED)
# Requests that can no longer be confirmed by the bot.
FINAL = (S.ABANDONED, S.SUCCEEDED, S.FAILED, S.REJECTED, S.EXPIRED)
# Requests someone still has to act on or wait for, for `/whalet pending` and the digest.
OPEN = (S.PENDING, S.APPROVED, S.CONFIRMING, S.CONFIRM_UNKNOWN)
# Requests that may still be confirmed: the anti-splitting sum counts these and the sent ones.
LIVE = (S.PENDING, S.APPROVED, S.CONFIRMING, S.CONFIRM_UNKNOWN, S.CONFIRMED, S.SUCCEEDED)
# What the anti-splitting window adds up: every request not failed, rejected, expired or
# abandoned, those still being applied at Whalet included (requests sent at the same moment are
# all APPLYING while each one's tier is chosen).
WINDOWED = (S.APPLYING, *LIVE)


def allowed(old: State | str, new: State | str) -> bool:
    return State(new) in ALLOWED[State(old)]
