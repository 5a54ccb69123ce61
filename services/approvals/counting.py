"""Which approvals still count: the giver must hold the approver role now, not only when clicking.

Roles are read (``fresh``) before a decision, outside any transaction because reading a user
group is a Slack call; the marks are then written in the decision's own transaction, so the card
says "@X's approval no longer counts: not an approver" exactly when it stopped counting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlite_utils import Database

from services.approvals import policy, repo
from services.approvals.request import ApprovalRequest

if TYPE_CHECKING:
    from services.container import Services


async def approvers_now(services: Services, request_id: str) -> frozenset[str]:
    """The givers of this request's approvals who hold the approver role at this moment."""
    with services.store.read() as db:
        givers = [a.approver for a in repo.approvals(db, request_id)]
    roles = await policy.resolver(services).roles_of(givers, fresh=True)
    return frozenset(g for g, role in roles.items() if policy.holds_approver(role))


def mark(services: Services, db: Database, request: ApprovalRequest, current: frozenset[str]) -> bool:
    """Record which approvals count (inside the caller's transaction); True when any mark changed."""
    now = services.clock.now()
    changed = False
    for approval in repo.approvals(db, request.id):
        changed |= repo.set_counts(db, request.id, approval.approver, approval.approver in current, now)
    return changed


def counting(db: Database, request: ApprovalRequest, current: frozenset[str]) -> list[str]:
    """Givers that count now: recorded, holding the role, and not the requester."""
    return [
        a.approver for a in repo.approvals(db, request.id) if a.approver in current and a.approver != request.requester
    ]
