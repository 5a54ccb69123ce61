"""`/whalet digest now | schedule | off | list` through signed slash commands on the real app."""

from __future__ import annotations

import pytest

from devkit.localstack import LocalStack
from notifications.digest_command import parse_digest
from services.slack.subcommands import UsageError

TIMEOUT = 15.0


def replies(stack: LocalStack, needle: str) -> list[str]:
    return [r.text for r in stack.fake.responses() if needle in r.text]


def test_digest_now_posts_a_digest_in_the_channel(stack: LocalStack) -> None:
    assert stack.slack_requests.command("U0REQ", "digest now", channel_id="C0FINANCE").status_code == 200
    [message] = stack.fake.wait_for(
        lambda: [m for m in stack.fake.messages("C0FINANCE") if m.text.startswith("Whalet digest")], timeout=TIMEOUT
    )
    assert "Acme Trading Ltd" in str(message.blocks)
    stack.fake.wait_for(lambda: replies(stack, "on its way to <#C0FINANCE>"), timeout=TIMEOUT)


def test_only_admins_change_schedules_and_a_schedule_is_persisted_and_scheduled(stack: LocalStack) -> None:
    text = "digest schedule 18:30 Europe/London <#C0TREASURY|treasury>"
    stack.slack_requests.command("U0VIEW", text)
    stack.fake.wait_for(lambda: replies(stack, "Only admins"), timeout=TIMEOUT)
    stack.slack_requests.command("U0ADM", text)
    stack.fake.wait_for(lambda: replies(stack, "Scheduled: a digest every day at 18:30 Europe/London"), timeout=TIMEOUT)
    with stack.services.store.read() as db:
        assert [tuple(r) for r in db.execute("SELECT channel, time, timezone, created_by FROM digest_schedules")] == [
            ("C0TREASURY", "18:30", "Europe/London", "U0ADM")
        ]
    assert stack.services.scheduler.get_job("digest:C0TREASURY:18:30:Europe/London") is not None

    stack.slack_requests.command("U0ADM", "digest list")
    listing = stack.fake.wait_for(lambda: replies(stack, "Digest schedules:"), timeout=TIMEOUT)[0]
    assert "09:00 Asia/Shanghai in <#C0FINANCE> (config file)" in listing
    assert "18:30 Europe/London in <#C0TREASURY> (added in Slack)" in listing

    stack.slack_requests.command("U0ADM", "digest off <#C0TREASURY|treasury>")
    stack.fake.wait_for(lambda: replies(stack, "Removed 1 digest schedule(s)"), timeout=TIMEOUT)
    assert stack.services.scheduler.get_job("digest:C0TREASURY:18:30:Europe/London") is None


@pytest.mark.parametrize(
    "words, problem",
    [
        ([], "say what to do"),
        (["weekly"], "is not a digest action"),
        (["schedule", "25:00", "UTC", "C0X"], "is not a time of day"),
        (["schedule", "09:00", "Mars/Olympus", "C0X"], "is not an IANA time zone"),
        (["schedule", "09:00", "UTC", "#general"], "pick it from the #channel autocomplete"),
        (["off"], "wrong number of words"),
    ],
)
def test_bad_digest_arguments_are_explained_before_anything_runs(words: list[str], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_digest(words)


def test_digest_now_is_titled_with_todays_date_in_the_policy_zone(make_stack) -> None:  # type: ignore[no-untyped-def]
    """At 07:47 in Shanghai it is still yesterday in UTC: the title says Shanghai's date."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from core.clock import FrozenClock

    shanghai = ZoneInfo("Asia/Shanghai")
    today = datetime.now(UTC).astimezone(shanghai).date() + timedelta(days=1)
    morning = datetime(today.year, today.month, today.day, 7, 47, tzinfo=shanghai)
    stack = make_stack(clock=FrozenClock(morning))
    assert stack.slack_requests.command("U0REQ", "digest now", channel_id="C0FINANCE").status_code == 200
    [message] = stack.fake.wait_for(
        lambda: [m for m in stack.fake.messages("C0FINANCE") if m.text.startswith("Whalet digest")], timeout=TIMEOUT
    )
    assert today.isoformat() in message.text and (today - timedelta(days=1)).isoformat() not in message.text


def test_digest_now_in_a_scheduled_channel_is_titled_with_the_date_in_the_schedules_zone(make_stack) -> None:  # type: ignore[no-untyped-def]
    """At 07:47 in Shanghai it is 15:47 the day before in Los Angeles: a channel whose schedule is
    in Los Angeles gets Los Angeles's date, not the policy's day zone's and not UTC's."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from core.clock import FrozenClock

    shanghai = ZoneInfo("Asia/Shanghai")
    today = datetime.now(UTC).astimezone(shanghai).date() + timedelta(days=1)
    morning = datetime(today.year, today.month, today.day, 7, 47, tzinfo=shanghai)
    stack = make_stack(clock=FrozenClock(morning))
    stack.slack_requests.command("U0ADM", "digest schedule 18:30 America/Los_Angeles <#C0TREASURY|treasury>")
    stack.fake.wait_for(lambda: replies(stack, "Scheduled: a digest every day at 18:30"), timeout=TIMEOUT)
    assert stack.slack_requests.command("U0REQ", "digest now", channel_id="C0TREASURY").status_code == 200
    [message] = stack.fake.wait_for(
        lambda: [m for m in stack.fake.messages("C0TREASURY") if m.text.startswith("Whalet digest")], timeout=TIMEOUT
    )
    yesterday = today - timedelta(days=1)
    assert yesterday.isoformat() in message.text and today.isoformat() not in message.text
