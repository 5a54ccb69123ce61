"""One Slack HTTP session per process: the outbox's posts, Bolt's handlers and start-up all go
over one aiohttp session, opened by the app's lifespan and closed at its shutdown.

Proved at the socket: the Slack stand-in records the client address of every Web API call, so a
client that opened a new connection per call (slack_sdk without a session) shows one per call.
"""

from __future__ import annotations

from collections.abc import Callable

from devkit.localstack import DEMO_CONFIG, LocalStack

NOTIFICATIONS = 20
TIMEOUT = 15.0
# Slack's pace (1 post/s per channel) would make this test wait 20 s for nothing it proves.
FAST_CHANNELS = DEMO_CONFIG.replace("[notifications]\n", "[notifications]\npace_per_second = 100\nburst = 100\n")


def test_many_slack_calls_share_one_session_and_few_connections_and_it_closes_at_shutdown(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(FAST_CHANNELS)
    services = stack.services
    session = services.slack.session
    assert session is not None and not session.closed
    assert services.slack_outbox.session is session  # the outbox's client (no hidden retries) too
    before = len(stack.fake.calls())

    for n in range(NOTIFICATIONS):  # the outbox posts each one: chat.postMessage
        stack.operator.post(
            "/sandbox/notify",
            json={
                "apiCode": "cardLimitChangedNotify",
                "body": {"userId": "U10001", "newLimit": f"{n}", "status": "OK"},
            },
        ).raise_for_status()
    stack.fake.wait_for(lambda: len(stack.fake.calls("chat.postMessage")) >= NOTIFICATIONS, timeout=TIMEOUT)
    for user in ("U0APP1", "U0APP2", "U0VIEW"):  # a Bolt handler's own client: views.publish
        home = {"type": "app_home_opened", "user": user, "tab": "home", "event_ts": "1.0"}
        assert stack.slack_requests.event(home).status_code == 200
    stack.fake.wait_for(lambda: len(stack.fake.calls("views.publish")) >= 3, timeout=TIMEOUT)

    calls = stack.fake.calls()[before:]
    assert len(calls) >= NOTIFICATIONS + 3
    # Per-call sessions would show one connection per call; a shared keep-alive session reuses a
    # few (more than one only when calls overlap, or after the server closed an idle one).
    connections = {c.connection for c in calls}
    assert len(connections) <= 4, (len(connections), len(calls))
    assert services.slack.session is session and services.slack_outbox.session is session

    stack.stop()
    assert session.closed
    assert services.slack.session is None and services.slack_outbox.session is None
