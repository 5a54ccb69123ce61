import asyncio
from decimal import Decimal

import pytest

from core.config import BotConfig
from services.approvals import policy
from services.slack.subcommands import Role
from whalet.money import Money

CONFIG = BotConfig.model_validate(
    {
        "roles": {
            "requesters": ["UREQ"],
            "approvers": ["UAPP"],
            "admins": ["UADM"],
            "approver_groups": ["SAPPROVERS"],
            "requester_groups": ["SREQ"],
        },
        "approvals": {
            "channel": "C0APPROVALS",
            "tiers": [
                {"currency": "USD", "up_to": "10000", "approvals": 1},
                {"currency": "USD", "up_to": "100000", "approvals": 2},
            ],
            "ceiling": {"USD": "50000"},
            "daily_limit": {"USD": "60000"},
            "flag_above": {"USD": "5000"},
        },
    }
)


def usd(text):
    return Money(Decimal(text), "USD")


def test_tiers_ceiling_and_daily_limit():
    assert policy.required_approvals(CONFIG, usd("10000"), frozen=False, spent_today=Decimal(0), requester="UREQ") == 1
    assert (
        policy.required_approvals(CONFIG, usd("10000.01"), frozen=False, spent_today=Decimal(0), requester="UREQ") == 2
    )
    with pytest.raises(policy.PolicyRefused, match="above the bot's ceiling of 50,000.00 USD"):
        policy.required_approvals(CONFIG, usd("50000.01"), frozen=False, spent_today=Decimal(0), requester="UREQ")
    with pytest.raises(policy.PolicyRefused, match="daily limit of 60,000.00 USD"):
        policy.required_approvals(CONFIG, usd("20000"), frozen=False, spent_today=Decimal("40000.01"), requester="UREQ")
    with pytest.raises(policy.PolicyRefused, match="no tiers for EUR"):
        policy.required_approvals(
            CONFIG, Money(Decimal(5), "EUR"), frozen=False, spent_today=Decimal(0), requester="UREQ"
        )
    with pytest.raises(policy.PolicyRefused, match="frozen"):
        policy.required_approvals(CONFIG, usd("1"), frozen=True, spent_today=Decimal(0), requester="UREQ")
    with pytest.raises(policy.PolicyRefused, match=r"\[approvals\]"):
        policy.required_approvals(BotConfig(), usd("1"), frozen=False, spent_today=Decimal(0), requester="UREQ")


def test_flags():
    assert policy.flags(CONFIG, usd("5000.01"), new_beneficiary=True) == ["new beneficiary", "above usual size"]
    assert policy.flags(CONFIG, usd("5000"), new_beneficiary=False) == []


def test_four_eyes_and_roles_on_clicks():
    assert "someone else" in policy.approver_refusal(Role.ADMIN, requester="UADM", clicker="UADM").reason
    assert "Only approvers" in policy.approver_refusal(Role.REQUESTER, requester="UX", clicker="UREQ").reason
    assert policy.approver_refusal(Role.APPROVER, requester="UREQ", clicker="UAPP") is None
    assert policy.approver_refusal(Role.ADMIN, requester="UREQ", clicker="UADM") is None
    assert policy.requester_refusal(Role.VIEWER) is not None and policy.requester_refusal(Role.REQUESTER) is None


class GroupsSlack:
    """A stand-in with the one Web API method the resolver uses (pure unit test of caching)."""

    def __init__(self, groups, fail=False):
        self.groups, self.fail, self.calls = groups, fail, 0

    async def usergroups_users_list(self, usergroup):
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("slack down")
        return {"ok": True, "users": self.groups.get(usergroup, [])}


async def test_roles_from_ids_and_groups_with_cache():
    clock = [0.0]
    slack = GroupsSlack({"SAPPROVERS": ["UGROUPAPP"], "SREQ": ["UGROUPREQ"]})
    resolver = policy.RoleResolver(CONFIG.roles, slack, ttl=300, monotonic=lambda: clock[0])
    assert await resolver.role_of("UADM") == Role.ADMIN
    assert slack.calls == 0  # admins listed directly: no group can raise them
    roles = await asyncio.gather(*[resolver.role_of("UGROUPAPP") for _ in range(10)])
    assert set(roles) == {Role.APPROVER} and slack.calls == 1  # one shared call
    assert await resolver.role_of("UGROUPREQ") == Role.REQUESTER
    assert await resolver.role_of("UNOBODY") == Role.NONE  # not in the policy: no role at all
    calls = slack.calls
    await resolver.role_of("UNOBODY")
    assert slack.calls == calls  # cached
    clock[0] = 301
    await resolver.role_of("UNOBODY")
    assert slack.calls > calls  # refreshed after the TTL


async def test_unreadable_group_grants_nothing():
    slack = GroupsSlack({}, fail=True)
    resolver = policy.RoleResolver(CONFIG.roles, slack)
    assert await resolver.role_of("UGROUPAPP") == Role.NONE
    assert await resolver.role_of("UREQ") == Role.REQUESTER


async def test_one_decision_reads_each_group_once_and_fresh_reads_see_a_removal():
    slack = GroupsSlack({"SAPPROVERS": ["UGROUPAPP"], "SREQ": ["UGROUPREQ"]})
    resolver = policy.RoleResolver(CONFIG.roles, slack)
    roles = await resolver.roles_of(["UGROUPAPP", "UGROUPREQ", "UNOBODY", "UADM"], fresh=True)
    assert roles == {
        "UGROUPAPP": Role.APPROVER,
        "UGROUPREQ": Role.REQUESTER,
        "UNOBODY": Role.NONE,
        "UADM": Role.ADMIN,
    }
    assert slack.calls == len(CONFIG.roles.all_groups())
    slack.groups["SAPPROVERS"] = []
    assert await resolver.role_of("UGROUPAPP") == Role.APPROVER  # the display cache may lag
    assert (await resolver.roles_of(["UGROUPAPP"], fresh=True))["UGROUPAPP"] == Role.NONE  # decisions do not


async def test_an_unreadable_group_keeps_its_members_only_for_the_staleness_bound():
    clock = [0.0]
    stale: list[str] = []
    slack = GroupsSlack({"SAPPROVERS": ["UGROUPAPP"]})
    resolver = policy.RoleResolver(
        CONFIG.roles, slack, monotonic=lambda: clock[0], max_staleness=600, on_stale=stale.append
    )
    assert await resolver.role_of("UGROUPAPP", fresh=True) == Role.APPROVER
    slack.fail = True
    clock[0] = 599
    assert await resolver.role_of("UGROUPAPP", fresh=True) == Role.APPROVER and stale == []
    clock[0] = 601
    assert await resolver.role_of("UGROUPAPP", fresh=True) == Role.NONE
    assert await resolver.role_of("UGROUPAPP", fresh=True) == Role.NONE
    assert stale.count("SAPPROVERS") == 1  # one alert, not one per read (SREQ was never readable: its own)


async def test_viewers_come_from_ids_groups_or_everyone_else():
    """Least privilege: unlisted people hold no role unless ``everyone_else = "viewer"``; a viewer
    group is read only for someone who holds no higher role."""
    roles = CONFIG.roles.model_copy(update={"viewers": ["UVIEW"], "viewer_groups": ["SVIEW"]})
    slack = GroupsSlack({"SVIEW": ["UGROUPVIEW", "UREQ"], "SAPPROVERS": [], "SREQ": []})
    resolver = policy.RoleResolver(roles, slack)
    assert await resolver.role_of("UVIEW") == Role.VIEWER
    assert await resolver.role_of("UGROUPVIEW") == Role.VIEWER
    assert await resolver.role_of("UREQ") == Role.REQUESTER
    assert await resolver.role_of("UNOBODY") == Role.NONE
    everyone = policy.RoleResolver(roles.model_copy(update={"everyone_else": "viewer"}), slack)
    assert await everyone.role_of("UNOBODY") == Role.VIEWER
