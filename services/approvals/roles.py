"""Who holds which role: ``[roles]`` user ids directly, Slack user groups through the Web API.

User groups are resolved with ``usergroups.users.list`` and cached for a few minutes for
display, re-read for every approval decision. A group that cannot be read keeps its last members
for at most ``roles.max_staleness_minutes``, then counts as empty: when in doubt, nobody gains a
role, and the alerts channel is told once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any, Protocol

from core.clock import SYSTEM_CLOCK
from core.config import Roles
from core.i18n import N_, later, translator
from services.slack.alerts import Alerts

log = logging.getLogger("whalet_bot.commands.policy")

GROUP_CACHE_SECONDS = 300.0
GROUP_FAILURE_CACHE_SECONDS = 15.0


class Role(IntEnum):
    """Ordered: each role can do everything the ones below it can (admins may also approve).
    NONE: not in the policy (with ``everyone_else = "none"``): `help` only."""

    NONE = -1
    VIEWER = 0
    REQUESTER = 1
    APPROVER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def named(name: str) -> Role:
    """The role a policy setting names (``share_min_role = "requester"``)."""
    return Role[name.upper()]


# Each role's name, one person and several, for the catalog (``role_name``, ``roles_name``).
ROLE_NAMES = {
    Role.VIEWER: (N_("viewer"), N_("viewers")),
    Role.REQUESTER: (N_("requester"), N_("requesters")),
    Role.APPROVER: (N_("approver"), N_("approvers")),
    Role.ADMIN: (N_("admin"), N_("admins")),
}


def role_name(role: Role, locale: str | None = None) -> str:
    return translator(locale).gettext(ROLE_NAMES[role][0]) if role in ROLE_NAMES else role.label


def roles_name(role: Role, locale: str | None = None) -> str:
    """ "approvers": the role's holders, as in "for approvers and above"."""
    return translator(locale).gettext(ROLE_NAMES[role][1]) if role in ROLE_NAMES else role.label + "s"


def no_access(roles: Roles, locale: str | None = None) -> str:
    """The one sentence someone outside the policy gets: who can let them in."""
    _ = translator(locale).gettext
    admins = [f"<@{user}>" for user in roles.admins] + [f"<!subteam^{group}>" for group in roles.admin_groups]
    who = _("an admin (%(admins)s)", admins=", ".join(admins)) if admins else _("whoever runs the bot")
    return _(
        "You have no access to Whalet through this bot: balances, rates and payouts are for the people "
        "listed in its policy. Ask %(who)s to add you under [roles] in whalet-bot.toml.",
        who=who,
    )


class GroupReader(Protocol):
    """What the resolver needs of Slack: slack_sdk's ``AsyncWebClient`` has it."""

    async def usergroups_users_list(self, *, usergroup: str) -> Any: ...


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

    def __init__(
        self,
        roles: Roles | Callable[[], Roles],
        slack: GroupReader,
        *,
        ttl: float = GROUP_CACHE_SECONDS,
        monotonic: Callable[[], float] = SYSTEM_CLOCK.monotonic,
        max_staleness: float = 600.0,
        on_stale: Callable[[str], None] | None = None,
    ):
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
        for group_role, groups in (
            (Role.ADMIN, roles.admin_groups),
            (Role.APPROVER, roles.approver_groups),
            (Role.REQUESTER, roles.requester_groups),
            (Role.VIEWER, roles.viewer_groups),
        ):
            if group_role <= role:
                break
            for group in groups:
                if user_id in await self.members(group, fresh=fresh):
                    return group_role
        return role

    async def roles_of(self, users: Iterable[str], *, fresh: bool = False) -> dict[str, Role]:
        """Roles of several users for one decision: each user group is read at most once."""
        wanted = list(dict.fromkeys(users))
        roles = self._roles
        ladder = (
            (Role.ADMIN, roles.admin_groups),
            (Role.APPROVER, roles.approver_groups),
            (Role.REQUESTER, roles.requester_groups),
            (Role.VIEWER, roles.viewer_groups),
        )
        direct = {user: self._direct(user) for user in wanted}
        needed = {g for role, groups in ladder for g in groups if any(r < role for r in direct.values())}
        members = {g: await self.members(g, fresh=fresh) for g in sorted(needed)}
        found: dict[str, Role] = {}
        for user, role in direct.items():
            raised = [r for r, groups in ladder if r > role and any(user in members[g] for g in groups)]
            found[user] = max([role, *raised])
        return found

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
            log.warning(
                "cannot read user group %s (%s); using its members read %.0f s ago",
                group_id,
                type(exc).__name__,
                self._now() - last[0],
            )
            return last[1]
        log.warning("cannot read user group %s (%s); it counts as empty", group_id, type(exc).__name__)
        if group_id not in self._alerted:
            self._alerted.add(group_id)
            if self._on_stale is not None:
                self._on_stale(group_id)
        return frozenset()

    def forget(self) -> None:
        self._cache.clear()


def alert_unreadable_group(alerts: Alerts, roles: Callable[[], Roles]) -> Callable[[str], None]:
    """``on_stale`` for the process's resolver: one alert when a group stops counting."""

    def stale(group_id: str) -> None:
        alerts.raise_alert(
            f"roles:{group_id}",
            later(
                ":rotating_light: The members of Slack user group %(group)s could not be read for more than "
                "%(minutes)s min, so nobody holds a role through it until "
                "it can be read again. Check the bot's usergroups:read scope.",
                group=group_id,
                minutes=roles().max_staleness_minutes,
            ),
            quiet_seconds=0,
        )

    return stale
