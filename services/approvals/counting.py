"""Which approvals still count: the giver must hold the approver role now, not only when clicking.

Roles are read (``fresh``) before a decision, outside any transaction because reading a user
group is a Slack call; the marks are then written in the decision's own transaction, so the card
says "@X's approval no longer counts: not an approver" exactly when it stopped counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlite_utils import Database

from services.approvals import policy, repo
from services.approvals.request import Approval, ApprovalRequest

if TYPE_CHECKING:
    from services.container import Services


@dataclass(frozen=True)
class RolesNow:
    """The roles of a request's givers as read at one moment (a Slack call, so outside any
    transaction): ``checked`` were read, ``current`` are those of them who hold the approver role."""

    checked: frozenset[str]
    current: frozenset[str]
    # For a request with approval layers: the layers (0-based) each giver, and the clicker, is in
    # now (user groups read afresh, like roles).
    layers_of: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def with_clicker(self, clicker: str) -> RolesNow:
        """The clicker's own role was checked by the click itself."""
        return RolesNow(self.checked | {clicker}, self.current | {clicker}, self.layers_of)


class RolesMoved(repo.StaleRequest):
    """Someone approved after the roles were read (another replica, a moment ago): read again
    rather than count, or un-count, an approval whose giver's role this decision never saw."""


async def approvers_now(services: Services, request_id: str, clicker: str | None = None) -> RolesNow:
    """The givers of this request's approvals, which of them hold the approver role now (within
    their approval limit), and for a layered request the layers they (and ``clicker``) are in.
    The clicker's language is asked here too (cached an hour), outside the click's transaction,
    so the sentence the click answers with is in their language."""
    if clicker:
        await services.locales.locale_of(clicker)
    with services.store.read() as db:
        givers = [a.approver for a in repo.approvals(db, request_id)]
        request = repo.load(db, request_id)
    roles = await policy.resolver(services).roles_of(givers, fresh=True)
    config = services.config
    layers_of: dict[str, frozenset[int]] = {}
    if request is not None and request.layers:
        people = [*givers, *([clicker] if clicker else [])]
        layers_of = await _layers_of(services, request.layers, people)
    return RolesNow(
        frozenset(givers),
        frozenset(
            giver
            for giver, role in roles.items()
            if policy.holds_approver(role)
            and (request is None or policy.within_approver_limit(config, giver, request.money))
        ),
        layers_of,
    )


async def _layers_of(
    services: Services, layers: tuple[tuple[str, ...], ...], people: list[str]
) -> dict[str, frozenset[int]]:
    groups = {entry for layer in layers for entry in layer if entry.startswith("S")}
    members = {group: await services.roles.members(group, fresh=True) for group in sorted(groups)}
    return {
        person: frozenset(
            index
            for index, layer in enumerate(layers)
            if person in layer or any(person in members.get(entry, frozenset()) for entry in layer)
        )
        for person in people
    }


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
    """Givers that count now: recorded, holding the role, and not the requester; for a layered
    request, one per layer (in layer order), each still in the layer their approval satisfied."""
    given = _standing(db, request, roles)
    if not request.layers:
        return [a.approver for a in given]
    return list(satisfied_layers(request, given, roles).values())


def satisfied_layers(request: ApprovalRequest, given: list[Approval], roles: RolesNow) -> dict[int, str]:
    """Layer -> the giver whose approval satisfies it now, from layer 1 on and in order: a layer
    counts only after every earlier one, with an approval given no sooner than the earlier
    layer's (so if layer 1's approver left the layer, layer 2's approval waits for a new layer 1
    approval given before it, which cannot come: it fails closed)."""
    found: dict[int, str] = {}
    previous_at = ""
    for index in range(len(request.layers)):
        approval = next(
            (
                a
                for a in given
                if a.layer == index and index in roles.layers_of.get(a.approver, ()) and a.at >= previous_at
            ),
            None,
        )
        if approval is None:
            break
        found[index], previous_at = approval.approver, approval.at
    return found


def next_layer(db: Database, request: ApprovalRequest, roles: RolesNow) -> int | None:
    """The first layer of a layered request that no counting approval satisfies; None when every
    layer is (or the request has none)."""
    done = len(satisfied_layers(request, _standing(db, request, roles), roles))
    return done if done < len(request.layers) else None


def _standing(db: Database, request: ApprovalRequest, roles: RolesNow) -> list[Approval]:
    """Approvals whose givers hold the role now, the requester's never among them."""
    return [
        a for a in repo.approvals(db, request.id) if a.approver in roles.current and a.approver != request.requester
    ]
