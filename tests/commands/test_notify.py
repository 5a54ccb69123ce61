"""Reaching the approvers (issue 11 item 1): DM copies of the card with the card's guards, every
copy following the request, ``mention`` mode, and the half-way reminder, claimed once. Signed
requests through the real Bolt app, the Whalet sandbox and the strict Slack stand-in."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.clock import FrozenClock
from core.config import ConfigError, load_config
from devkit.localstack import DEMO_CONFIG, LocalStack
from services.approvals.clicks import expire_due, remind_due
from tests.commands.helpers import APPROVALS, audit_actions, click, has_buttons, request_payout, row

APPROVERS = ("U0ADM", "U0APP1", "U0APP2")  # approvers and the admin; never U0REQ, the requester


def dm_card(stack: LocalStack, user: str, request_id: str, timeout: float = 10.0) -> Any:
    """The copy of ``request_id``'s card in the bot's DM with ``user``."""

    def found() -> Any:
        channel = stack.fake.dm_channel(user)
        return channel and next((m for m in stack.fake.messages(channel) if request_id in json.dumps(m.blocks)), None)

    return stack.fake.wait_for(found, timeout=timeout)


def settled(stack: LocalStack, message: Any, needle: str) -> Any:
    return stack.fake.wait_for(
        lambda: (
            (m := stack.fake.message(message.channel, message.ts))
            and needle in json.dumps(m.blocks, ensure_ascii=False)
            and m
        )
    )


def test_each_approver_gets_a_dm_copy_and_the_requester_none(stack: LocalStack, database_url: str | None) -> None:
    request_id, card = request_payout(stack)
    copies = {user: dm_card(stack, user, request_id) for user in APPROVERS}
    for user, copy in copies.items():
        assert copy.channel.startswith("D") and copy.channel == stack.fake.dm_channel(user)
        assert has_buttons(copy) and "Pay out 1,200.50 USD" in copy.text
        assert "You can approve this request" in json.dumps(copy.blocks)
        # the same buttons, with the same fingerprinted block_id, as the channel card
        assert [b for b in copy.blocks if b["type"] == "actions"] == [b for b in card.blocks if b["type"] == "actions"]
    assert stack.fake.dm_channel("U0REQ") is None and stack.fake.dm_channel("U0VIEW") is None
    opened = [c.params["users"] for c in stack.fake.calls("conversations.open")]
    assert sorted(opened) == sorted(APPROVERS)  # one DM opened per approver
    with stack.services.store.read() as db:
        recorded = [
            r[0]
            for r in db.execute(
                "SELECT user_id FROM approval_audience WHERE request_id = ? AND dm = 1 ORDER BY user_id", [request_id]
            )
        ]
    assert recorded == sorted(APPROVERS)


def test_a_click_in_a_dm_meets_the_cards_guards(stack: LocalStack, database_url: str | None) -> None:
    request_id, card = request_payout(stack)
    copy, stale = dm_card(stack, "U0APP1", request_id), dm_card(stack, "U0APP2", request_id)
    own = click(stack, "U0REQ", copy)  # the requester, on someone's DM copy
    assert "You requested this payout, so someone else has to approve it." in own.text
    viewer = click(stack, "U0VIEW", copy)
    assert "Only approvers" in viewer.text
    assert row(stack, request_id)["state"] == "PENDING"
    answer = click(stack, "U0APP1", copy)
    assert "sent to Whalet" in answer.text and answer.response_type == "ephemeral"
    again = click(stack, "U0APP1", card)  # the same person, now on the channel card
    other = click(stack, "U0APP2", stale)  # a DM copy as it was before the approval
    assert "already approved" in again.text and "already approved" in other.text
    stored = row(stack, request_id)
    assert stored["state"] in ("CONFIRMED", "SUCCEEDED")
    assert stack.confirm_counts()[stored["mer_order_no"]] == 1
    assert audit_actions(stack, request_id).count("approve") == 1


def test_every_copy_follows_the_request(stack: LocalStack) -> None:
    request_id, card = request_payout(stack)
    copies = [dm_card(stack, user, request_id) for user in APPROVERS]
    click(stack, "U0APP2", copies[2])
    for message in [card, *copies]:
        now = settled(stack, message, "Approved by <@U0APP2>")
        assert not has_buttons(now)
        assert "You can approve" not in json.dumps(now.blocks)
    # a rejection made from a DM copy reaches the channel card and the other DMs too
    second_id, second_card = request_payout(stack, "payout 300 USD to acme-us")
    admin_copy = dm_card(stack, "U0ADM", second_id)
    stack.slack_requests.block_action("U0ADM", admin_copy, "approval_reject")
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0ADM") if v.callback_id == "approval_reject_modal"), None)
    )
    assert stack.slack_requests.view_submission("U0ADM", view.view, {"reason": "duplicate"}).status_code == 200
    for message in [second_card, *(dm_card(stack, user, second_id) for user in APPROVERS)]:
        assert not has_buttons(settled(stack, message, "Rejected by <@U0ADM>"))
    assert row(stack, second_id)["state"] == "REJECTED"
    answer = stack.fake.wait_for(lambda: [e for e in stack.fake.ephemerals("U0ADM") if "Rejected." in e.text])
    assert answer[0].channel == admin_copy.channel  # the answer lands in the DM it was clicked in


def test_mention_mode_tags_the_approvers_and_sends_no_dm(make_stack: Any) -> None:
    stack = make_stack(
        DEMO_CONFIG.replace('channel = "C0APPROVALS"\n', 'channel = "C0APPROVALS"\nnotify = "mention"\n')
    )
    request_id, card = request_payout(stack)
    assert card.text.startswith("<@U0APP1> <@U0APP2> <@U0ADM> ")
    assert "a request waits for an approver" in json.dumps(card.blocks)
    assert stack.fake.calls("conversations.open") == [] and stack.fake.dm_channel("U0APP1") is None
    click(stack, "U0APP1", card)
    decided = settled(stack, card, "Approved by <@U0APP1>")
    assert "a request waits for an approver" not in json.dumps(decided.blocks)


def test_mention_mode_tags_the_approver_user_group(make_stack: Any) -> None:
    config = DEMO_CONFIG.replace('channel = "C0APPROVALS"\n', 'channel = "C0APPROVALS"\nnotify = "mention"\n').replace(
        'approvers = ["U0APP1", "U0APP2"]', 'approvers = []\napprover_groups = ["S0APPROVERS"]'
    )
    stack = make_stack(config)
    stack.fake.usergroups["S0APPROVERS"] = ["U0APP1"]
    _, card = request_payout(stack)
    assert card.text.startswith("<!subteam^S0APPROVERS> ")


def test_none_mode_posts_the_channel_card_only(make_stack: Any) -> None:
    stack = make_stack(DEMO_CONFIG.replace('channel = "C0APPROVALS"\n', 'channel = "C0APPROVALS"\nnotify = "none"\n'))
    _, card = request_payout(stack)
    assert card.text.startswith("Pay out") and stack.fake.calls("conversations.open") == []


def _reminders(stack: LocalStack, user: str) -> list[Any]:
    channel = stack.fake.dm_channel(user)
    return [m for m in stack.fake.messages(channel) if "Reminder" in m.text] if channel else []


def _halfway(stack: LocalStack, request_id: str) -> datetime:
    stored = row(stack, request_id)
    created, expires = datetime.fromisoformat(stored["created_at"]), datetime.fromisoformat(stored["expires_at"])
    return created + (expires - created) / 2


def test_one_reminder_at_half_the_lifetime_and_none_after_a_decision(make_stack: Any, database_url: str | None) -> None:
    # A minute ahead of the wall clock (the outbox stamps rows with it); the sweep loop runs at
    # start only, the test calls its reminder step itself.
    clock = FrozenClock(datetime.now(UTC) + timedelta(minutes=1))
    stack = make_stack(DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 3600"), clock=clock)
    request_id, _ = request_payout(stack)
    decided_id, decided_card = request_payout(stack, "payout 300 USD to acme-us")
    click(stack, "U0APP1", decided_card)
    for user in APPROVERS:
        dm_card(stack, user, request_id)
    halfway = _halfway(stack, request_id)  # Whalet's quote may expire before the TTL
    clock.set(halfway - timedelta(seconds=30))
    assert remind_due(stack.services) == []
    clock.set(halfway + timedelta(seconds=1))
    results: list[list[str]] = []
    start = threading.Barrier(3)

    def sweep() -> None:  # three sweeps at once, as three replicas would
        start.wait()
        results.append(remind_due(stack.services))

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(map(tuple, results)) == [(), (), (request_id,)]
    assert remind_due(stack.services) == []
    for user in APPROVERS:
        reminders = stack.fake.wait_for(lambda u=user: _reminders(stack, u))
        assert len(reminders) == 1 and request_id in reminders[0].text and decided_id not in reminders[0].text
    assert not _reminders(stack, "U0REQ")  # the requester hears of outcomes, never a reminder
    assert audit_actions(stack, request_id).count("remind") == 1
    assert "remind" not in audit_actions(stack, decided_id)
    clock.advance(timedelta(hours=1))  # past the expiry: nothing more
    assert remind_due(stack.services) == []
    assert expire_due(stack.services) == [request_id]
    for user in APPROVERS:  # and every copy says so
        assert not has_buttons(settled(stack, dm_card(stack, user, request_id), "Expired — not sent"))


def test_an_approver_who_already_approved_is_not_reminded(make_stack: Any) -> None:
    clock = FrozenClock(datetime.now(UTC) + timedelta(minutes=1))
    stack = make_stack(DEMO_CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 3600"), clock=clock)
    request_id, card = request_payout(stack, "payout 20000 USD to acme-us")  # two approvals needed
    assert "1 of 2" in click(stack, "U0APP1", card).text
    clock.set(_halfway(stack, request_id))
    assert remind_due(stack.services) == [request_id]
    stack.fake.wait_for(lambda: _reminders(stack, "U0APP2") and _reminders(stack, "U0ADM"))
    assert _reminders(stack, "U0APP1") == []
    assert [m for m in stack.fake.messages(APPROVALS) if "Reminder" in m.text] == []


def test_mention_mode_reminds_under_the_channel_card_and_none_mode_not_at_all(make_stack: Any) -> None:
    clock = FrozenClock(datetime.now(UTC) + timedelta(minutes=1))
    for mode, expected in (("mention", 1), ("none", 0)):
        config = DEMO_CONFIG.replace(
            'channel = "C0APPROVALS"\n', f'channel = "C0APPROVALS"\nnotify = "{mode}"\n'
        ).replace("ttl_minutes = 30", "ttl_minutes = 30\nsweep_seconds = 3600")
        stack = make_stack(config, clock=clock)
        request_id, card = request_payout(stack)
        clock.set(_halfway(stack, request_id))
        assert remind_due(stack.services) == ([request_id] if expected else [])
        if expected:
            reply = stack.fake.wait_for(
                lambda s=stack, c=card: [m for m in s.fake.thread(APPROVALS, c.ts) if m.is_reply]
            )
            assert reply[0].text.startswith("<@U0APP1> <@U0APP2> <@U0ADM> :alarm_clock: Reminder")
        assert stack.fake.calls("conversations.open") == []
        clock.set(datetime.now(UTC) + timedelta(minutes=1))


def test_notify_defaults_to_dm_and_refuses_an_unknown_mode(tmp_path: Any) -> None:
    path = tmp_path / "whalet-bot.toml"
    path.write_text(DEMO_CONFIG)
    approvals = load_config(path).approvals
    assert approvals is not None and approvals.notify == "dm"
    path.write_text(DEMO_CONFIG.replace('channel = "C0APPROVALS"\n', 'channel = "C0APPROVALS"\nnotify = "loud"\n'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "approvals.notify" in str(caught.value) and "Traceback" not in str(caught.value)


def test_group_approvers_get_copies_and_one_removed_since_is_refused(make_stack: Any) -> None:
    stack = make_stack(
        DEMO_CONFIG.replace('approvers = ["U0APP1", "U0APP2"]', 'approvers = []\napprover_groups = ["S0APPROVERS"]')
    )
    stack.fake.usergroups["S0APPROVERS"] = ["U0APP1", "U0APP2", "U0REQ"]  # the requester too: still no copy
    request_id, _ = request_payout(stack)
    copy = dm_card(stack, "U0APP2", request_id)
    dm_card(stack, "U0APP1", request_id)
    assert stack.fake.dm_channel("U0REQ") is None
    stack.fake.usergroups["S0APPROVERS"] = ["U0APP1"]  # U0APP2 leaves the group after the DM arrived
    assert "Only approvers" in click(stack, "U0APP2", copy).text
    assert row(stack, request_id)["state"] == "PENDING"
