"""Start-up asks Slack whether the bot is a member of every configured channel, and says so."""

from __future__ import annotations


from devkit.localstack import LocalStack
from services.slack.membership import report_at_startup


def test_start_up_checks_every_configured_channel_quietly_when_all_is_well(stack: LocalStack) -> None:
    asked = {c.params["channel"] for c in stack.fake.calls("conversations.info")}
    assert asked == set(stack.services.config.all_channels())
    assert not [m for m in stack.fake.messages("C0ALERTS") if "cannot rely on" in m.text]


def test_a_channel_the_bot_was_not_invited_to_is_alerted_with_the_invite(stack: LocalStack) -> None:
    stack.fake.add_channel("C0COLLECT", "collections", member=False)
    stack.fake.add_channel("G0SECRET", member=False)
    services = stack.services
    found = stack.run(
        report_at_startup(services.slack, ["C0COLLECT", "G0SECRET", "C0FINANCE", "U0BOSS"], services.alerts)
    )
    assert [(m.channel, m.problem) for m in found] == [
        ("C0COLLECT", "not_in_channel"),
        ("C0FINANCE", None),
        ("G0SECRET", "channel_not_found"),
    ]
    alerts = stack.fake.wait_for(
        lambda: (
            [m for m in stack.fake.messages("C0ALERTS") if "cannot rely on" in m.text]
            if len(stack.fake.messages("C0ALERTS")) >= 2
            else []
        )
    )
    texts = " ".join(m.text for m in alerts)
    assert "<#C0COLLECT> (not_in_channel): invite @whalet to #collections: type /invite @whalet" in texts
    assert "<#G0SECRET> (channel_not_found)" in texts and "for a private channel" in texts


def test_slack_unreachable_at_start_up_does_not_stop_it(stack: LocalStack) -> None:
    stack.fake.script("conversations.info", [("sleep", 2.0)])
    services = stack.services
    assert stack.run(report_at_startup(services.slack, ["C0FINANCE"], services.alerts, timeout=0.5)) == []
