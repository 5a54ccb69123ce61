"""Long-lived requests keep moving (issue 21, item 4): escalation to the admins after
``escalate_after_hours``, and one summary DM per approver a day at ``summary_time``. On the
approval machine's harness: signed commands into the real app, the sandbox, clocks moved
together; what the bot queued for Slack is read from its outbox."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.commands.test_approval_machine import CONFIG, ApprovalFlow, flow, world  # noqa: F401

pytestmark = pytest.mark.usefixtures("world")
LONG = CONFIG.replace("ttl_minutes = 30", "ttl_minutes = 10080")


def _queued(m: ApprovalFlow, needle: str) -> list[tuple[str, str]]:
    with m.services.store.read() as db:
        return [
            (row[0], row[1])
            for row in db.execute("SELECT channel, text FROM outbox WHERE text LIKE ?", [f"%{needle}%"])
        ]


def test_a_request_waiting_too_long_is_raised_to_the_admins_once() -> None:
    m = flow(LONG.replace("ttl_minutes = 10080", "ttl_minutes = 10080\nescalate_after_hours = 4"))
    try:
        m.request("payout", "100")
        m.move_clock(3 * 60)
        m.sweep(0)
        assert _queued(m, "has waited") == []
        m.move_clock(61)
        m.sweep(0)
        m.sweep(1)
        raised = _queued(m, "has waited 4 h for approval")
        channels = sorted(channel for channel, _ in raised)
        assert channels == ["C0APPROVALS", "U0ADM"], raised  # the card's thread (mentioning the admins) and a DM
        assert any("<@U0ADM>" in text for channel, text in raised if channel == "C0APPROVALS")
    finally:
        m.teardown()


def _minutes_until(m: ApprovalFlow, hour: int, minute: int) -> int:
    local = m.clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return int((target - local).total_seconds() // 60) + 1


def test_each_approver_gets_one_summary_a_day_at_the_set_time() -> None:
    m = flow(LONG.replace("ttl_minutes = 10080", 'ttl_minutes = 10080\nsummary_time = "09:30"'))
    try:
        m.request("payout", "100")
        m.move_clock(_minutes_until(m, 9, 28))  # 09:28-09:29 in Shanghai: not yet
        m.sweep(0)
        assert _queued(m, "wait for your approval") == []
        m.move_clock(2)
        m.sweep(0)
        m.sweep(0)
        first = _queued(m, "wait for your approval")
        assert sorted(channel for channel, _ in first) == ["U0ADM", "U0APP1", "U0APP2", "U0APP3", "U0GRP"], first
        assert all(m.requests()[-1].id in text for _, text in first)
        m.approve("U0APP1", 0, False)  # approved and sent: nothing waits any more
        m.move_clock(24 * 60)
        m.sweep(0)
        assert len(_queued(m, "wait for your approval")) == len(first)
    finally:
        m.teardown()


def test_no_summary_or_escalation_unless_configured() -> None:
    m = flow(LONG)
    try:
        m.request("payout", "100")
        m.move_clock(26 * 60)
        m.sweep(0)
        assert _queued(m, "wait for your approval") == [] and _queued(m, "has waited") == []
    finally:
        m.teardown()


def test_summary_time_is_checked() -> None:
    from core.config import BotConfig

    with pytest.raises(Exception, match="HH:MM|hh:mm|time"):
        BotConfig.model_validate({"approvals": {"channel": "C0A", "summary_time": "25:00"}})
