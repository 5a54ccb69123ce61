"""Least privilege (issue 21, item 1), through signed commands into the real app.

Someone the policy does not list gets `help` and who can let them in, nothing else, and not one
Whalet call is made for them; viewers read privately; posting money into a channel and exporting
records need the roles ``share_min_role`` and ``export_min_role`` name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devkit.localstack import DEMO_CONFIG
from tests.commands.helpers import ask

STRANGER = "U0STRANGER"
NO_ACCESS = "You have no access to Whalet through this bot"


def _whalet_calls(stack: Any) -> float:
    metric = stack.services.metrics.whalet_calls
    return sum(s.value for m in metric.collect() for s in m.samples if s.name.endswith("_total"))


def _reply(stack: Any, user: str, text: str) -> str:
    http, post = ask(stack, user, text)
    return post.text if post is not None else http.text


@pytest.mark.parametrize(
    "text",
    [
        "balance",
        "balance --share",
        "rate USD HKD",
        "pending",
        "history collections --csv",
        "digest now",
        "beneficiaries",
        "status",
        "payout 10 USD to acme-us",
        "freeze",
    ],
)
def test_someone_outside_the_policy_gets_who_can_grant_access_and_no_whalet_call(stack: Any, text: str) -> None:
    before = _whalet_calls(stack)
    answer = _reply(stack, STRANGER, text)
    assert answer.startswith(NO_ACCESS) and "<@U0ADM>" in answer, answer
    assert _whalet_calls(stack) == before
    assert not stack.fake.messages("C0DEMO") and not stack.fake.uploaded_files(), "nothing posted, nothing exported"


def test_help_shows_a_stranger_only_the_way_in_and_others_what_their_role_allows(stack: Any) -> None:
    stranger = _reply(stack, STRANGER, "help")
    assert NO_ACCESS in stranger and "/whalet balance" not in stranger and "`/whalet payout" not in stranger
    viewer = _reply(stack, "U0VIEW", "help")
    assert "your role: *viewer*" in viewer and "`/whalet balance" in viewer
    assert "`--share` and `digest now` (posting into a channel) need requesters" in viewer
    assert "`--csv` exports need approvers" in viewer
    assert "`payout` (requester)" in viewer and "`freeze` (admin)" in viewer
    approver = _reply(stack, "U0APP1", "help")
    assert "need requesters" not in approver and "need approvers" not in approver
    assert "`freeze` (admin)" in approver and "`/whalet payout" in approver


def test_a_viewer_reads_privately_but_neither_shares_nor_exports(stack: Any) -> None:
    private = ask(stack, "U0VIEW", "balance")[1]
    assert private.response_type == "ephemeral" and "Balances of U10001" in private.text
    shared = _reply(stack, "U0VIEW", "balance --share")
    assert shared == "`balance --share` is for requesters and above; your role is viewer."
    assert _reply(stack, "U0VIEW", "digest now") == "`digest now` is for requesters and above; your role is viewer."
    exported = _reply(stack, "U0VIEW", "history collections --csv")
    assert exported == "`history --csv` is for approvers and above; your role is viewer."
    assert not stack.fake.messages("C0DEMO")
    posted = ask(stack, "U0REQ", "balance --share")[1]
    assert posted.response_type == "in_channel"


def test_the_thresholds_are_settings(make_stack: Any) -> None:
    config = DEMO_CONFIG.replace(
        'viewers = ["U0VIEW"]', 'viewers = ["U0VIEW"]\nshare_min_role = "viewer"\nexport_min_role = "admin"'
    )
    stack = make_stack(config)
    assert ask(stack, "U0VIEW", "balance --share")[1].response_type == "in_channel"
    exported = _reply(stack, "U0APP1", "history collections --csv")
    assert exported == "`history --csv` is for admins and above; your role is approver."


def test_everyone_else_viewer_keeps_the_old_behaviour_and_viewer_groups_grant_reads(make_stack: Any) -> None:
    stack = make_stack(
        DEMO_CONFIG.replace('viewers = ["U0VIEW"]', 'viewers = ["U0VIEW"]\nviewer_groups = ["S0READERS"]')
    )
    stack.fake.usergroups = {"S0READERS": ["U0AUDITOR"]}
    assert "Balances of U10001" in _reply(stack, "U0AUDITOR", "balance")
    assert _reply(stack, STRANGER, "balance").startswith(NO_ACCESS)
    everyone = make_stack(DEMO_CONFIG.replace('viewers = ["U0VIEW"]', 'everyone_else = "viewer"'))
    assert "Balances of U10001" in _reply(everyone, STRANGER, "balance")
    assert "is for requesters and above; your role is viewer" in _reply(everyone, STRANGER, "payout 10 USD to acme-us")


def test_the_app_home_of_a_stranger_shows_no_money(stack: Any) -> None:
    before = _whalet_calls(stack)
    assert stack.slack_requests.event({"type": "app_home_opened", "user": STRANGER, "tab": "home"}).status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views(user=STRANGER) if v.action == "views.publish"), None)
    )
    shown = json.dumps(view.view)
    assert NO_ACCESS in shown and "USD" not in shown and "Waiting for you" not in shown
    assert _whalet_calls(stack) == before
