"""The requester kept informed (issue 21, item 2), through signed requests into the real app, the
sandbox (which reports results by webhook) and the Slack stand-in: one DM per outcome, linking
to the card; ``"thread"`` mentions them under the card instead; ``"none"`` says nothing."""

from __future__ import annotations

import json
from typing import Any

from devkit.localstack import DEMO_CONFIG
from tests.commands.helpers import APPROVALS, click, request_payout, row


def _with(how: str) -> str:
    return DEMO_CONFIG.replace('channel = "C0APPROVALS"', f'channel = "C0APPROVALS"\ntell_requester = "{how}"', 1)


def _dms(stack: Any, user: str = "U0REQ") -> list[str]:
    channel = stack.fake.dm_channel(user)
    return [m.text for m in stack.fake.messages(channel)] if channel else []


def _dm_saying(stack: Any, needle: str, count: int = 1) -> list[str]:
    return stack.fake.wait_for(
        lambda: (found := [t for t in _dms(stack) if needle in t]) and len(found) >= count and found, timeout=15
    )


def test_approved_sent_then_paid_each_arrive_once_with_a_link_to_the_card(stack: Any) -> None:
    request_id, card = request_payout(stack)
    assert "Approved and sent" in click(stack, "U0APP1", card).text
    [sent] = _dm_saying(stack, "was approved and sent to Whalet")
    [paid] = _dm_saying(stack, "is paid: Whalet reports it done")  # the sandbox's result, by webhook
    for text in (sent, paid):
        assert f"`{request_id}`" in text and "Pay out 1,200.50 USD" in text
        # a link to the card's own message once Slack gave it a ts (else its channel)
        assert f"/archives/{APPROVALS}/p" in text or f"<#{APPROVALS}>" in text
    assert len(_dms(stack)) == 2, _dms(stack)


def test_a_refused_confirm_tells_the_requester_why(stack: Any) -> None:
    request_id, card = request_payout(stack)
    stack.operator.post(
        "/sandbox/faults",
        json={"rules": [{"apiCode": "payoutConfirm", "kind": "refuse", "code": "PARAMETER_ERROR", "times": 1}]},
    ).raise_for_status()
    click(stack, "U0APP1", card)
    [failed] = _dm_saying(stack, "failed:")
    assert row(stack, request_id)["state"] == "FAILED"
    assert "Nothing was paid" in failed and "Request again" in failed


def test_a_rejection_reaches_the_requester_with_its_reason_but_a_withdrawal_does_not(stack: Any) -> None:
    _, card = request_payout(stack)
    stack.slack_requests.block_action("U0APP2", card, "approval_reject")
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0APP2") if v.callback_id == "approval_reject_modal"), None)
    )
    stack.slack_requests.view_submission("U0APP2", view.view, {"reason": "wrong <!channel> invoice"})
    [rejected] = _dm_saying(stack, "was rejected by <@U0APP2>")
    assert "wrong &lt;!channel&gt; invoice" in rejected
    _, mine = request_payout(stack, "payout 20 USD to acme-us")
    stack.slack_requests.block_action("U0REQ", mine, "approval_reject")
    own = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "approval_reject_modal"), None)
    )
    stack.slack_requests.view_submission("U0REQ", own.view, {"reason": ""})
    stack.fake.wait_for(lambda: "Rejected by <@U0REQ>" in json.dumps(stack.fake.message(mine.channel, mine.ts).blocks))
    assert len([t for t in _dms(stack) if "rejected" in t]) == 1


def test_thread_mode_mentions_the_requester_under_the_card_and_none_mode_is_silent(make_stack: Any) -> None:
    threaded = make_stack(_with("thread"))
    _, card = request_payout(threaded)
    click(threaded, "U0APP1", card)
    threaded.fake.wait_for(
        lambda: [
            m for m in threaded.fake.messages(APPROVALS) if m.is_reply and m.text.startswith("<@U0REQ> :outbox_tray:")
        ]
    )
    assert _dms(threaded) == []
    silent = make_stack(_with("none"))
    request_id, card = request_payout(silent)
    click(silent, "U0APP1", card)
    silent.fake.wait_for(lambda: row(silent, request_id)["state"] == "SUCCEEDED", timeout=15)
    assert _dms(silent) == []
    assert not [m for m in silent.fake.messages(APPROVALS) if m.is_reply and "<@U0REQ>" in m.text]
