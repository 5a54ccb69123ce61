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
    # in no other role either, so no role at all: who can grant access, nothing more
    assert refused is not None and "no access" in refused.text and "Unfrozen" not in refused.text
    _, schedule = ask(stack, "U0OPS", "digest schedule 09:00 Asia/Shanghai <#C0FINANCE|finance>")
    assert schedule is not None and "no access" in schedule.text


LIMITS = DEMO_CONFIG.replace('requesters = ["U0REQ"]', 'requesters = ["U0REQ", "U0REQ2"]').replace(
    'flag_above = { USD = "20000" }',
    'flag_above = { USD = "20000" }\ndaily_limit = { USD = "50000" }\n'
    'requester_limits = { U0REQ2 = { USD = "1000" } }\n'
    'approver_limits = { U0APP1 = { USD = "10000" }, U0ADM = { USD = "5000" } }',
)


def test_an_approver_above_their_limit_is_refused_with_who_may(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(LIMITS)
    request_id, card = request_payout(stack, "payout 12000 USD to acme-us")
    refused = click(stack, "U0APP1", card)
    assert refused.text == (
        "Your approval limit is 10,000.00 USD, so you cannot approve 12,000.00 USD. Ask <@U0APP2>."
    ), refused.text
    assert row(stack, request_id)["state"] == "PENDING"
    with stack.services.store.read() as db:
        assert not list(db.query("SELECT * FROM approvals WHERE request_id = ?", [request_id]))
    small_id, small = request_payout(stack, "payout 9000 USD to acme-us")
    assert "sent to Whalet" in click(stack, "U0APP1", small).text  # within the limit


def test_an_approval_stops_counting_when_a_limit_is_lowered_below_the_request(make_stack) -> None:  # type: ignore[no-untyped-def]
    """Limits, like roles, are those of the moment of the decision: an approval given under the
    old policy does not complete a quorum after the approver's limit went below the amount."""
    from core.config import load_config

    stack = make_stack(LIMITS)
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")  # two approvals
    assert "1 of 2" in click(stack, "U0APP2", card).text
    stack.config_path.write_text(LIMITS.replace('U0APP1 = { USD = "10000" }', 'U0APP2 = { USD = "10000" }'))
    stack.services.config = load_config(stack.config_path)
    answer = click(stack, "U0APP1", card)
    assert "1 of 2" in answer.text, answer.text  # U0APP2's approval no longer counts
    assert row(stack, request_id)["state"] == "PENDING"


def test_a_requester_limit_replaces_the_daily_limit_for_that_person(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(LIMITS)
    _, refusal = ask(stack, "U0REQ2", "payout 1200 USD to acme-us")
    assert refusal is not None and "above your daily limit of 1,000.00 USD" in refusal.text
    request_payout(stack, "payout 1200 USD to acme-us")  # U0REQ: the team's 50,000.00 USD
