"""The states an approval request moves through, and which moves are allowed.

    APPLYING ──apply ok──▶ PENDING ──enough approvals──▶ CONFIRMING ──▶ CONFIRMED ──result──▶ SUCCEEDED / FAILED
        │                   │  │                            │
        └─apply failed─▶ ABANDONED  ├─reject─▶ REJECTED     ├─Whalet said no─▶ FAILED
                            └─past expiry─▶ EXPIRED         └─no answer─▶ CONFIRM_UNKNOWN ──lookup──▶ CONFIRMED / FAILED / EXPIRED

APPLYING is written before payoutApply is sent, so a crash between the two leaves a row to
reconcile rather than a quote nobody knows about. Nothing is ever confirmed from ABANDONED,
REJECTED or EXPIRED; a quote that is never confirmed expires at Whalet by itself.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    APPLYING = "APPLYING"
    ABANDONED = "ABANDONED"
    PENDING = "PENDING"
    CONFIRMING = "CONFIRMING"
    CONFIRMED = "CONFIRMED"
    CONFIRM_UNKNOWN = "CONFIRM_UNKNOWN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


# Requests that still count against a requester's daily total (money may move or has moved).
COUNTED = (State.APPLYING, State.PENDING, State.CONFIRMING, State.CONFIRMED, State.CONFIRM_UNKNOWN,
           State.SUCCEEDED)
# Requests that can no longer change (except CONFIRMED, which waits for Whalet's result).
FINAL = (State.ABANDONED, State.SUCCEEDED, State.FAILED, State.REJECTED, State.EXPIRED)
# Requests someone still has to act on or wait for, for `/whalet pending` and the digest.
OPEN = (State.PENDING, State.CONFIRMING, State.CONFIRM_UNKNOWN)

ALLOWED: dict[State, frozenset[State]] = {
    State.APPLYING: frozenset({State.PENDING, State.ABANDONED}),
    State.PENDING: frozenset({State.PENDING, State.CONFIRMING, State.REJECTED, State.EXPIRED}),
    State.CONFIRMING: frozenset({State.CONFIRMED, State.CONFIRM_UNKNOWN, State.FAILED, State.SUCCEEDED,
                                 State.PENDING}),  # PENDING: the confirm was never sent
    State.CONFIRM_UNKNOWN: frozenset({State.CONFIRMING, State.CONFIRMED, State.FAILED, State.EXPIRED,
                                      State.SUCCEEDED}),
    State.CONFIRMED: frozenset({State.SUCCEEDED, State.FAILED}),
}


def allowed(old: State | str, new: State | str) -> bool:
    return State(new) in ALLOWED.get(State(old), frozenset())
