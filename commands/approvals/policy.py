"""Who may do what, and which payouts the bot will handle at all (product spec §2).

Pure rules plus one piece of I/O: Slack user groups are resolved with
``usergroups.users.list`` and cached for a few minutes for display, re-read for every approval
decision. A group that cannot be read keeps its last members for at most
``roles.max_staleness_minutes``, then counts as empty: when in doubt, nobody gains a role.

Roles are ordered (viewer < requester < approver < admin): each role can do what the ones below
it can, so admins may approve. Four eyes is not configurable: whoever requested a payout never
approves it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.config import BotConfig, Roles
from commands.registry import Role
from whalet.money import Money

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("whalet_bot.commands.policy")

GROUP_CACHE_SECONDS = 300.0
GROUP_FAILURE_CACHE_SECONDS = 15.0
NEW_BENEFICIARY_DAYS = 30
FLAG_NEW_BENEFICIARY = "new beneficiary"
FLAG_ABOVE_USUAL = "above usual size"


class PolicyRefused(Exception):
    """The policy says no; ``str(exc)`` is the sentence for the person who asked."""


class RoleResolver:
    """A user's highest role from ``[roles]``: user ids directly, user groups via Slack.

    ``roles`` may be a callable returning the current ``Roles``, so a reloaded policy file
    applies at the next decision. Approval decisions ask with ``fresh=True``: the group is read
    again (callers at the same moment share one call), so a removal takes effect at the next
    click or sweep rather than after the cache's TTL.

    Fail closed: when a group cannot be read, its last members are used for at most
    ``max_staleness`` seconds after the last successful read; after that the group counts as
    empty and ``on_stale(group_id)`` is called once (an alert), until a read succeeds again.
    """

    def __init__(self, roles: Roles | Callable[[], Roles], slack: Any, *, ttl: float = GROUP_CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic, max_staleness: float = 600.0,
                 on_stale: Callable[[str], None] | None = None):
        self._roles_now = roles if callable(roles) else (lambda: roles)
        self._slack = slack
        self._ttl = ttl
        self._now = monotonic
        self._max_staleness = max_staleness
        self._on_stale = on_stale
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._last_ok: dict[str, tuple[float, frozenset[str]]] = {}
        self._alerted: set[str] = set()
        self._inflight: dict[str, asyncio.Future[frozenset[str]]] = {}
        self.fetches = 0

    @property
    def _roles(self) -> Roles:
        return self._roles_now()

    def _direct(self, user_id: str) -> Role:
        held = self._roles.roles_of(user_id)
        return max(Role[name.upper()] for name in held)

    async def role_of(self, user_id: str, *, fresh: bool = False) -> Role:
        """Direct listing first; groups are only read when they could raise the role."""
        role = self._direct(user_id)
        roles = self._roles
        for group_role, groups in ((Role.ADMIN, roles.admin_groups),
                                   (Role.APPROVER, roles.approver_groups),
                                   (Role.REQUESTER, roles.requester_groups)):
            if group_role <= role:
                break
            for group in groups:
                if user_id in await self.members(group, fresh=fresh):
                    return group_role
        return role

    async def members(self, group_id: str, *, fresh: bool = False) -> frozenset[str]:
        """Members of a user group, cached; concurrent callers share one Slack call."""
        cached = self._cache.get(group_id)
        if cached and cached[0] > self._now() and not fresh:
            return cached[1]
        pending = self._inflight.get(group_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[frozenset[str]] = asyncio.get_running_loop().create_future()
        self._inflight[group_id] = future
        try:
            members, ttl = await self._fetch(group_id)
            self._cache[group_id] = (self._now() + ttl, members)
            future.set_result(members)
            return members
        finally:
            self._inflight.pop(group_id, None)
            if not future.done():
                future.set_result(frozenset())

    async def _fetch(self, group_id: str) -> tuple[frozenset[str], float]:
        self.fetches += 1
        try:
            answer = await self._slack.usergroups_users_list(usergroup=group_id)
            members = frozenset(answer.get("users") or ())
        except Exception as exc:  # SlackApiError, network: fail closed, retry soon
            return self._unreadable(group_id, exc), GROUP_FAILURE_CACHE_SECONDS
        self._last_ok[group_id] = (self._now(), members)
        self._alerted.discard(group_id)
        return members, self._ttl

    def _unreadable(self, group_id: str, exc: Exception) -> frozenset[str]:
        last = self._last_ok.get(group_id)
        if last is not None and self._now() - last[0] <= self._max_staleness:
            log.warning("cannot read user group %s (%s); using its members read %.0f s ago", group_id,
                        type(exc).__name__, self._now() - last[0])
            return last[1]
        log.warning("cannot read user group %s (%s); it counts as empty", group_id, type(exc).__name__)
        if group_id not in self._alerted:
            self._alerted.add(group_id)
            if self._on_stale is not None:
                self._on_stale(group_id)
        return frozenset()

    def forget(self) -> None:
        self._cache.clear()


def resolver(services: Services) -> RoleResolver:
    """The process-wide resolver, kept in ``services.extras`` so its cache is shared."""
    found = services.extras.get("commands.roles")
    if found is None:
        def stale(group_id: str) -> None:
            if services.alerts is not None:
                services.alerts.raise_alert(f"roles:{group_id}", (
                    f":rotating_light: The members of Slack user group {group_id} could not be read for more than "
                    f"{services.config.roles.max_staleness_minutes} min, so nobody holds a role through it until "
                    "it can be read again. Check the bot's usergroups:read scope."), quiet_seconds=0)
        found = services.extras["commands.roles"] = RoleResolver(
            lambda: services.config.roles, services.slack, on_stale=stale,
            monotonic=lambda: services.clock.now().timestamp(),
            max_staleness=services.config.roles.max_staleness_minutes * 60.0)
    return found  # type: ignore[no-any-return]


def holds_approver(role: Role) -> bool:
    return role >= Role.APPROVER


# --- requests -------------------------------------------------------------------------------------


def required_approvals(config: BotConfig, amount: Money, *, frozen: bool, spent_today: Decimal) -> int:
    """Distinct approvers needed for a new request, or PolicyRefused with the reason."""
    if frozen:
        raise PolicyRefused("Payouts are frozen by an admin, so no new request can be made until "
                            "someone runs `/whalet unfreeze`.")
    approvals = config.approvals
    if approvals is None:
        raise PolicyRefused("No approval policy is configured (the [approvals] section of whalet-bot.toml), "
                            "so the bot cannot send payouts.")
    ceiling = approvals.ceiling_for(amount.currency)
    if ceiling is None:
        configured = sorted({tier.currency for tier in approvals.tiers})
        raise PolicyRefused(f"The approval policy has no tiers for {amount.currency}, so the bot will not send it"
                            + (f" (configured: {', '.join(configured)})." if configured else "."))
    if amount.amount > ceiling:
        raise PolicyRefused(f"{amount.format()} is above the bot's ceiling of {Money(ceiling, amount.currency).format()}; "
                            "make this payout in Whalet's portal.")
    limit = approvals.daily_limit.get(amount.currency)
    if limit is not None and spent_today + amount.amount > limit:
        raise PolicyRefused(f"This would bring your {amount.currency} requests today to "
                            f"{Money(spent_today + amount.amount, amount.currency).format()}, above your daily limit of "
                            f"{Money(limit, amount.currency).format()}.")
    needed = approvals.required_approvals(amount.currency, amount.amount)
    if needed is None:  # unreachable after the checks above, kept as the last word
        raise PolicyRefused(f"The approval policy does not cover {amount.format()}.")
    return needed


def flags(config: BotConfig, amount: Money, *, new_beneficiary: bool) -> list[str]:
    """Warnings printed on the card for approvers to look at twice."""
    found = []
    if new_beneficiary:
        found.append(FLAG_NEW_BENEFICIARY)
    above = config.approvals.flag_above.get(amount.currency) if config.approvals else None
    if above is not None and amount.amount > above:
        found.append(FLAG_ABOVE_USUAL)
    return found


# --- clicks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    reason: str


def approver_refusal(role: Role, *, requester: str, clicker: str, kind: str = "payout") -> Refusal | None:
    """Why this person may not approve (or reject) this request, or None."""
    if clicker == requester:
        return Refusal(f"You requested this {kind}, so someone else has to approve it.")
    if role < Role.APPROVER:
        return Refusal(f"Only approvers can approve or reject a {kind}; your role is {role.label}.")
    return None


def requester_refusal(role: Role, kind: str = "payout") -> Refusal | None:
    if role < Role.REQUESTER:
        return Refusal(f"Only requesters can ask for a {kind}; your role is {role.label}. "
                       "An admin can add you under [roles] in whalet-bot.toml.")
    return None
