"""Socket Mode end to end: with SLACK_APP_TOKEN the app takes Slack's requests over a WebSocket.

The real slack_sdk Socket Mode client (Bolt's AsyncSocketModeHandler) connects to the Slack
stand-in; commands and clicks arrive as envelopes the app must acknowledge, while the HTTP
server keeps serving Whalet's webhook and the health check.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from devkit.localstack import LocalStack
from devkit.slack_standin import FakeSlack
from devkit.slack_standin.socket_requests import SocketRequests
from bot.wiring import build_runtime
from tests.fixtures.loopback import loopback
from tests.commands.helpers import APPROVALS, has_buttons, row

APP_TOKEN = "xapp-1-standin"


@pytest.fixture
def socket_stack(make_stack: Callable[..., LocalStack]) -> LocalStack:
    stack = make_stack(settings_overrides={"slack_app_token": APP_TOKEN})
    stack.fake.wait_for(lambda: stack.fake.socket.connections() == 1, timeout=10)
    return stack


def _answer_since(fake: FakeSlack, before: int) -> Any:
    return fake.wait_for(lambda: fake.responses()[before:], timeout=10)[0]


def test_command_and_approval_click_arrive_over_the_socket(socket_stack: LocalStack) -> None:
    fake = socket_stack.fake
    assert [c.method for c in fake.calls("apps.connections.open")] == ["apps.connections.open"]
    socket = SocketRequests(fake)

    # A raw envelope, as Slack sends it: acknowledged, then answered on the response_url.
    fields = {
        "team_id": fake.team_id,
        "channel_id": "C0DEMO",
        "channel_name": "demo",
        "user_id": "U0REQ",
        "user_name": "u0req",
        "command": "/whalet",
        "text": "balance USD",
        "api_app_id": fake.socket.app_id,
        "trigger_id": fake.new_trigger_id("U0REQ"),
        "response_url": fake.new_response_url(channel_id="C0DEMO", user_id="U0REQ"),
    }
    envelope_id = fake.socket_send("slash_commands", fields)
    ack = fake.wait_for(lambda: fake.socket.ack_for(envelope_id))
    assert ack is not None and ack.envelope_id == envelope_id
    balance = _answer_since(fake, 0)
    assert balance.response_type == "ephemeral" and "Balances of" in balance.text, balance.text
    assert "USD" in json.dumps(balance.body) and "available" in json.dumps(balance.body)

    # A payout requested over the socket, approved by a click that also comes over the socket.
    before = len(fake.responses())
    assert socket.command("U0REQ", "payout 10 USD to acme-us").status_code == 200
    sent = _answer_since(fake, before)
    assert "Sent for approval" in sent.text, sent.text
    request_id = sent.text.split("Request `")[1].split("`")[0]
    card = fake.wait_for(
        lambda: next((m for m in fake.messages(APPROVALS) if request_id in json.dumps(m.blocks)), None)
    )
    assert card is not None
    before = len(fake.responses())
    socket.block_action("U0APP1", card, "approval_approve")
    assert fake.socket.ack_for(socket.last_envelope_id or "") is not None
    assert "sent to Whalet" in _answer_since(fake, before).text
    fake.wait_for(lambda: (m := fake.message(card.channel, card.ts)) and not has_buttons(m))
    mer_order_no = row(socket_stack, request_id)["mer_order_no"]
    assert socket_stack.confirm_counts()[mer_order_no] == 1
    assert len({a.envelope_id for a in fake.socket_acks()}) == len(fake.socket_acks()) == 3
    # Socket Mode requests are timed like HTTP ones (no HTTP Slack request was made here).
    scrape = socket_stack.services.metrics.render().decode()
    assert "whalet_bot_slack_ack_seconds_count 3.0" in scrape


def test_http_server_keeps_serving_webhook_and_health_in_socket_mode(socket_stack: LocalStack) -> None:
    assert socket_stack.http.get("/healthz").json()["ok"] is True
    socket_stack.operator.post(
        "/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "12.00"}
    ).raise_for_status()
    socket_stack.fake.wait_for(lambda: socket_stack.fake.messages("C0COLLECT"), timeout=10)
    text = socket_stack.http.get("/metrics").text
    assert 'whalet_bot_webhook_receipts_total{api_code="collectionReceivedNotify",outcome="stored"} 1.0' in text


def test_connections_open_wants_the_app_token() -> None:
    with FakeSlack(app_token=APP_TOKEN) as fake:
        web = WebClient(base_url=fake.api_url)
        url = web.apps_connections_open(app_token=APP_TOKEN)["url"]
        base = fake.api_url.removesuffix("/api/")
        assert url.startswith(base.replace("http://", "ws://", 1) + "/socket/")
        for token, error in (("xapp-1-wrong", "invalid_auth"), (fake.bot_token, "not_allowed_token_type")):
            with pytest.raises(SlackApiError) as refused:
                web.apps_connections_open(app_token=token)
            assert refused.value.response["error"] == error
        handshake = loopback.get(
            base + "/socket/never-issued",
            headers={  # a ticket it never issued
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert handshake.status_code == 403


async def test_refused_app_token_fails_start_up_instead_of_hanging(
    make_stack: Callable[..., LocalStack], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """slack_sdk retries a refused token forever; start-up must say so and stop, not hang."""
    running = make_stack()  # its fake and sandbox serve the second app built here
    settings = running.settings.model_copy(
        update={"slack_app_token": SecretStr("xapp-1-revoked"), "whalet_bot_db": tmp_path / "second.db"}
    )
    runtime = build_runtime(settings, running.config)

    async def start_and_stop() -> None:
        async with runtime.asgi.router.lifespan_context(runtime.asgi):
            pass  # not reached

    with pytest.raises(RuntimeError, match="invalid_auth") as failed:
        await asyncio.wait_for(start_and_stop(), timeout=20)  # it used to retry forever
    assert "xapp-1-revoked" not in str(failed.value) and "xapp-1-revoked" not in caplog.text
    assert running.fake.socket.connections() == 0 and running.fake.calls("apps.connections.open")


async def test_unreachable_websocket_does_not_stop_the_webhook_and_health(
    make_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    """Slack hands out a URL that cannot be reached: HTTP still starts and serves."""
    running = make_stack()  # its fake and sandbox serve the second app built here
    running.fake.socket.issue_url = lambda base_url: "ws://127.0.0.1:9/socket/unreachable"  # type: ignore[method-assign]
    settings = running.settings.model_copy(
        update={"slack_app_token": SecretStr(APP_TOKEN), "whalet_bot_db": tmp_path / "second.db"}
    )
    runtime = build_runtime(settings, running.config)
    transport = httpx.ASGITransport(app=runtime.asgi)

    async def start_serve_stop() -> int:
        async with runtime.asgi.router.lifespan_context(runtime.asgi):
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return (await client.get("/healthz")).status_code

    assert await asyncio.wait_for(start_serve_stop(), timeout=20) == 200
    assert running.fake.calls("apps.connections.open")


def test_events_arrive_over_the_socket_too(socket_stack: LocalStack) -> None:
    """The manifest's event subscriptions work in Socket Mode: Home published, uninstall pauses."""
    fake = socket_stack.fake
    event = {
        "team_id": fake.team_id,
        "api_app_id": fake.socket.app_id,
        "type": "event_callback",
        "event_id": "Ev0HOME",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": "U0APP1", "tab": "home", "event_ts": "1.0"},
    }
    envelope_id = fake.socket_send("events_api", event)
    assert fake.wait_for(lambda: fake.socket.ack_for(envelope_id)) is not None
    [home] = fake.wait_for(lambda: [v for v in fake.views(user="U0APP1") if v.action == "views.publish"])
    assert "Waiting for you" in json.dumps(home.view["blocks"])
    fake.socket_send(
        "events_api", {**event, "event_id": "Ev0GONE", "event": {"type": "app_uninstalled", "event_ts": "2.0"}}
    )
    fake.wait_for(lambda: socket_stack.services.outbox.paused)
    assert socket_stack.http.get("/healthz").status_code == 503
