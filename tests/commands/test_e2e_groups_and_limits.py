"""Approver groups resolved through Slack's usergroups.users.list, and the daily total per requester."""

from __future__ import annotations

from devkit.localstack import DEMO_CONFIG
from tests.commands.helpers import ask, click, request_payout, row

GROUPS_AND_LIMIT = DEMO_CONFIG.replace(
    'approvers = ["U0APP1", "U0APP2"]', 'approvers = ["U0APP1", "U0APP2"]\napprover_groups = ["S0TREASURY"]'
).replace('flag_above = { USD = "20000" }', 'flag_above = { USD = "20000" }\ndaily_limit = { USD = "1500" }')


def test_member_of_an_approver_group_can_approve(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(GROUPS_AND_LIMIT)
    stack.fake.usergroups = {"S0TREASURY": ["U0TREAS"]}
    request_id, card = request_payout(stack, "payout 100 USD to acme-us")
    answer = click(stack, "U0TREAS", card)
    assert "sent to Whalet" in answer.text
    stack.fake.wait_for(lambda: row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED"))
    assert stack.confirm_counts()[row(stack, request_id)["mer_order_no"]] == 1
    assert any(call.params.get("usergroup") == "S0TREASURY" for call in stack.fake.calls("usergroups.users.list"))


def test_someone_outside_every_group_cannot_approve(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(GROUPS_AND_LIMIT)
    stack.fake.usergroups = {"S0TREASURY": ["U0TREAS"]}
    request_id, card = request_payout(stack, "payout 100 USD to acme-us")
    answer = click(stack, "U0STRANGER", card)
    assert "Only approvers" in answer.text
    assert row(stack, request_id)["state"] == "PENDING"


def test_daily_total_per_requester_is_enforced(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(GROUPS_AND_LIMIT)
    request_payout(stack, "payout 1000 USD to acme-us")
    _, refusal = ask(stack, "U0REQ", "payout 600 USD to acme-us")
    assert refusal is not None and "1,500.00 USD" in refusal.text and "Sent for approval" not in refusal.text
    _, within = ask(stack, "U0REQ", "payout 500 USD to acme-us")
    assert within is not None and "Sent for approval" in within.text


ADMIN_GROUP = GROUPS_AND_LIMIT.replace('admins = ["U0ADM"]', 'admins = ["U0ADM"]\nadmin_groups = ["S0ADMINS"]')


def test_someone_just_removed_from_the_admins_group_can_no_longer_freeze_or_schedule(make_stack) -> None:  # type: ignore[no-untyped-def]
    """Admin commands read the group afresh, as approvals do: the role cache (five minutes) would
    have let a removed admin freeze, unfreeze and schedule digests meanwhile."""
    stack = make_stack(ADMIN_GROUP)
    stack.fake.usergroups = {"S0ADMINS": ["U0OPS"], "S0TREASURY": []}
    _, frozen = ask(stack, "U0OPS", "freeze")
    assert frozen is not None and "Frozen" in frozen.text  # the group read, and cached
    stack.fake.usergroups = {"S0ADMINS": [], "S0TREASURY": []}  # removed from the admins
    _, refused = ask(stack, "U0OPS", "unfreeze")
    assert refused is not None and "admins" in refused.text and "Unfrozen" not in refused.text
    _, schedule = ask(stack, "U0OPS", "digest schedule 09:00 Asia/Shanghai <#C0FINANCE|finance>")
    assert schedule is not None and "Only admins" in schedule.text
