"""Which approvals still count: the giver must hold the approver role now, not only when clicking.

Roles are read (``fresh``) before a decision, outside any transaction because reading a user
group is a Slack call; the marks are then written in the decision's own transaction, so the card
says "@X's approval no longer counts: not an approver" exactly when it stopped counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlite_utils import Database

from services.approvals import policy, repo
from services.approvals.request import ApprovalRequest

if TYPE_CHECKING:
    from services.container import Services


@dataclass(frozen=True)
class RolesNow:
    """The roles of a request's givers as read at one moment (a Slack call, so outside any
    transaction): ``checked`` were read, ``current`` are those of them who hold the approver role."""

    checked: frozenset[str]
    current: frozenset[str]

    def with_clicker(self, clicker: str) -> RolesNow:
        """The clicker's own role was checked by the click itself."""
        return RolesNow(self.checked | {clicker}, self.current | {clicker})


class RolesMoved(repo.StaleRequest):
    """Someone approved after the roles were read (another replica, a moment ago): read again
    rather than count, or un-count, an approval whose giver's role this decision never saw."""


async def approvers_now(services: Services, request_id: str) -> RolesNow:
    """The givers of this request's approvals, and which of them hold the approver role now."""
    with services.store.read() as db:
        givers = [a.approver for a in repo.approvals(db, request_id)]
        request = repo.load(db, request_id)
    roles = await policy.resolver(services).roles_of(givers, fresh=True)
    config = services.config
    return RolesNow(
        frozenset(givers),
        frozenset(
            giver
            for giver, role in roles.items()
            if policy.holds_approver(role)
            and (request is None or policy.within_approver_limit(config, giver, request.money))
        ),
    )


def ensure_checked(db: Database, request: ApprovalRequest, roles: RolesNow) -> None:
    """Inside the deciding transaction (the request's row locked): raise RolesMoved when an
    approval was given since ``roles`` were read."""
    unchecked = {a.approver for a in repo.approvals(db, request.id)} - roles.checked
    if unchecked:
        raise RolesMoved(f"{request.id}: approvals by {', '.join(sorted(unchecked))} arrived after the roles were read")


def mark(services: Services, db: Database, request: ApprovalRequest, roles: RolesNow) -> bool:
    """Record which approvals count (inside the caller's transaction); True when any mark changed.
    Only givers whose role was read are marked."""
    now = services.clock.now()
    changed = False
    for approval in repo.approvals(db, request.id):
        if approval.approver in roles.checked:
            changed |= repo.set_counts(db, request.id, approval.approver, approval.approver in roles.current, now)
    return changed


def counting(db: Database, request: ApprovalRequest, roles: RolesNow) -> list[str]:
    """Givers that count now: recorded, holding the role, and not the requester."""
    return [
        a.approver
        for a in repo.approvals(db, request.id)
        if a.approver in roles.current and a.approver != request.requester
    ]
