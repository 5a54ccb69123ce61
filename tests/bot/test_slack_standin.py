"""The Slack stand-in, exercised with the real slack_sdk clients and a real Bolt app over HTTP.

If the fake drifted from Slack's wire behaviour, every other suite that relies on it would test
the wrong thing; so these tests talk to it only the way production code talks to Slack.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from rich.console import Console
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)

from tests.fixtures.loopback import loopback
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from devkit.serving import ThreadedServer
from devkit.slack_standin import (
    FakeSlack,
    Message,
    SlackRequests,
    buttons,
    find_button,
    render_event,
    render_message,
    render_thread,
    render_view,
)

TOKEN = "xoxb-standin"
SECRET = "test-signing-secret"
APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Payout request"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Requested by* <@U0REQ> in <#C0FIN|finance>"},
        "fields": [
            {"type": "mrkdwn", "text": "*Amount*\n1,200.50 USD"},
            {"type": "mrkdwn", "text": "*Fee*\n3.00 USD"},
            {"type": "mrkdwn", "text": "*Beneficiary*\nACME ****6789"},
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "see <https://x.test/doc|the policy>"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "approval:R1",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "R1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "button",
                "action_id": "reject",
                "value": "R1",
                "style": "danger",
                "text": {"type": "plain_text", "text": "Reject"},
            },
        ],
    },
    {"type": "future_block_kind"},
]
SLACK_VALID = APPROVAL_BLOCKS[:-1]  # what Slack accepts: it refuses a block type it does not know


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as running:
        yield running


def client(fake: FakeSlack, **options: Any) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url, **options)


# -- Web API ---------------------------------------------------------------------------------


async def test_post_update_and_thread_keep_current_state(fake: FakeSlack) -> None:
    web = client(fake)
    assert (await web.auth_test())["user_id"] == "UBOT"
    first = await web.chat_postMessage(channel="C1", text="card", blocks=APPROVAL_BLOCKS[:2])
    second = await web.chat_postMessage(channel="C1", text="other")
    assert float(second["ts"]) > float(first["ts"])
    await web.chat_update(
        channel="C1",
        ts=first["ts"],
        text="approved",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}],
    )
    await web.chat_postMessage(channel="C1", thread_ts=first["ts"], text="payout finished")

    card = fake.message("C1", first["ts"])
    assert card is not None and card.text == "approved" and card.updated_count == 1
    assert card.blocks[0]["text"]["text"] == "done"
    assert [m.text for m in fake.thread("C1", first["ts"])] == ["approved", "payout finished"]
    history = await web.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["other", "approved"]  # newest first
    with pytest.raises(SlackApiError) as missing:
        await web.chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"


def test_sync_client_form_encoded_blocks_are_decoded(fake: FakeSlack) -> None:
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    web.api_call("chat.postMessage", data={"channel": "C2", "text": "t", "blocks": json.dumps(APPROVAL_BLOCKS[:1])})
    web.chat_postEphemeral(channel="C2", user="U7", text="only you")
    [message] = fake.messages("C2")
    assert message.blocks == APPROVAL_BLOCKS[:1]
    assert [e.text for e in fake.ephemerals("U7")] == ["only you"]
    assert fake.calls("chat.postMessage")[0].token == TOKEN


async def test_invalid_token_is_refused(fake: FakeSlack) -> None:
    web = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as refused:
        await web.chat_postMessage(channel="C1", text="x")
    assert refused.value.response["error"] == "invalid_auth"
    assert fake.messages() == []


async def test_configured_usergroups_users_and_denied_channels(fake: FakeSlack) -> None:
    fake.usergroups = {"S0APPROVERS": ["U0APP3"]}
    fake.deny_channel("C0PRIVATE")
    web = client(fake)
    assert (await web.usergroups_users_list(usergroup="S0APPROVERS"))["users"] == ["U0APP3"]
    fake.scopes.add("users:read")  # not in app_manifest.yml: the app never calls users.info
    assert (await web.users_info(user="U0APP3"))["user"]["id"] == "U0APP3"
    with pytest.raises(SlackApiError) as denied:
        await web.chat_postMessage(channel="C0PRIVATE", text="x")
    assert denied.value.response["error"] == "not_in_channel"


async def test_scripted_429_is_retried_once_by_the_sdk_handler(fake: FakeSlack) -> None:
    fake.script("chat.postMessage", [("ratelimited", 1)])
    web = client(fake, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    await web.chat_postMessage(channel="C1", text="once")
    assert [m.text for m in fake.messages("C1")] == ["once"]
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]


async def test_scripted_429_without_handler_exposes_retry_after(fake: FakeSlack) -> None:
    fake.script("chat.postMessage", [("ratelimited", 7)])
    with pytest.raises(SlackApiError) as limited:
        await client(fake, retry_handlers=[]).chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"


async def test_scripted_503_then_normal(fake: FakeSlack) -> None:
    fake.script("chat.postMessage", [("status", 503), ("error", "channel_not_found")])
    web = client(fake, retry_handlers=[])
    with pytest.raises(SlackApiError) as unavailable:
        await web.chat_postMessage(channel="C1", text="x")
    assert unavailable.value.response.status_code == 503
    with pytest.raises(SlackApiError) as scripted_error:
        await web.chat_postMessage(channel="C1", text="x")
    assert scripted_error.value.response["error"] == "channel_not_found"
    await web.chat_postMessage(channel="C1", text="x")
    assert len(fake.messages("C1")) == 1 and fake.scripted_pending() == 0


async def test_scripted_reset_is_a_connection_error(fake: FakeSlack) -> None:
    fake.script("chat.postMessage", [("reset",)])
    with pytest.raises(aiohttp.ClientOSError):
        await client(fake, retry_handlers=[]).chat_postMessage(channel="C1", text="x")
    assert fake.messages() == []
    fake.script("chat.postMessage", [("reset",)])  # the SDK's connection handler recovers
    web = client(fake, retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)])
    await web.chat_postMessage(channel="C1", text="after reset")
    assert [m.text for m in fake.messages()] == ["after reset"]


def test_scripted_sleep_delays_then_answers(fake: FakeSlack) -> None:
    fake.script("auth.test", [("sleep", 0.3)])
    started = time.monotonic()
    assert WebClient(token=TOKEN, base_url=fake.api_url).auth_test()["ok"]
    assert time.monotonic() - started >= 0.3  # a lower bound only: cannot flake


async def test_rate_enforcement_answers_429_per_channel(fake: FakeSlack) -> None:
    fake.enforce_rate(per_second=0.5, burst=2)
    web = client(fake, retry_handlers=[])
    statuses = []
    for _ in range(3):
        try:
            await web.chat_postMessage(channel="C1", text="x")
            statuses.append(200)
        except SlackApiError as e:
            statuses.append(e.response.status_code)
            assert int(e.response.headers["Retry-After"]) >= 1
    await web.chat_postMessage(channel="C2", text="other channel has its own bucket")
    assert statuses == [200, 200, 429]
    assert len(fake.messages("C1")) == 2


def test_script_rejects_unknown_kind(fake: FakeSlack) -> None:
    with pytest.raises(ValueError):
        fake.script("chat.postMessage", [("explode",)])


async def test_views_need_a_fresh_single_use_trigger(fake: FakeSlack) -> None:
    web = client(fake)
    trigger = fake.new_trigger_id("U1")
    view = {
        "type": "modal",
        "callback_id": "payout",
        "title": {"type": "plain_text", "text": "Payout"},
        "blocks": [
            {
                "type": "input",
                "block_id": "amount",
                "label": {"type": "plain_text", "text": "Amount"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    opened = await web.views_open(trigger_id=trigger, view=view)
    with pytest.raises(SlackApiError) as reused:
        await web.views_open(trigger_id=trigger, view=view)
    assert reused.value.response["error"] == "exchanged_trigger_id"
    await web.views_update(view_id=opened["view"]["id"], view={**view, "callback_id": "payout2"})
    [stored] = fake.views(user="U1")
    assert stored.callback_id == "payout2" and stored.updated_count == 1


def test_wait_for_reports_what_the_fake_saw(fake: FakeSlack) -> None:
    WebClient(token=TOKEN, base_url=fake.api_url).chat_postMessage(channel="C9", text="hello there")
    assert fake.wait_for(lambda: fake.messages("C9"))[0].text == "hello there"
    with pytest.raises(AssertionError, match="hello there"):
        fake.wait_for(lambda: fake.messages("C404"), timeout=0.1)


def test_observers_see_each_event(fake: FakeSlack) -> None:
    seen: list[tuple[str, str]] = []
    fake.on_event(lambda e: seen.append((e.kind, getattr(e.record, "text", ""))))
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    ts = web.chat_postMessage(channel="C1", text="a")["ts"]
    web.chat_update(channel="C1", ts=ts, text="b")
    assert seen == [("message", "a"), ("update", "b")]
    fake.reset()
    assert fake.messages() == [] and fake.calls() == []


# -- response_url ------------------------------------------------------------------------------


async def test_response_url_posts_are_recorded_and_replace_their_message(fake: FakeSlack) -> None:
    ephemeral_ts = (
        await client(fake).chat_postEphemeral(channel="C1", user="U1", text="pick", blocks=APPROVAL_BLOCKS[4:5])
    )["message_ts"]
    url = fake.new_response_url(channel_id="C1", user_id="U1", message_ts=ephemeral_ts, is_ephemeral=True)
    answer = loopback.post(url, json={"replace_original": True, "text": "picked"})
    assert answer.status_code == 200 and answer.text == "ok"
    [post] = fake.responses()
    assert post.replace_original and post.text == "picked"
    assert [e.text for e in fake.ephemerals("U1")] == ["picked"]
    for _ in range(4):
        loopback.post(url, json={"text": "more"})
    assert loopback.post(url, json={"text": "sixth"}).status_code == 404  # Slack allows 5 uses


# -- signed requests into a real Bolt app ------------------------------------------------------


class BoltHarness:
    """A real Bolt AsyncApp (test listeners) served over HTTP, talking to the fake."""

    def __init__(self, fake: FakeSlack) -> None:
        self.submitted: list[dict[str, Any]] = []
        bolt = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET)

        @bolt.command("/whalet")
        async def command(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
            await ack()
            if body["text"] == "modal":
                await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
            else:
                await respond(text=f"you said {body['text']}", blocks=APPROVAL_BLOCKS[4:5])

        @bolt.action("approve")
        async def approve(ack: Any, body: dict[str, Any], client: Any, respond: Any) -> None:
            await ack()
            if body["container"]["is_ephemeral"]:
                await respond(replace_original=True, text=f"approved {body['actions'][0]['value']}")
            else:
                await client.chat_update(
                    channel=body["channel"]["id"],
                    ts=body["message"]["ts"],
                    text=f"approved by {body['user']['id']}",
                    blocks=[],
                )

        @bolt.view("payout")
        async def submitted(ack: Any, view: dict[str, Any]) -> None:
            await ack()
            self.submitted.append(view)

        handler = AsyncSlackRequestHandler(bolt)

        async def events(request: Request) -> Any:
            return await handler.handle(request)

        self.server = ThreadedServer(Starlette(routes=[Route("/slack/events", events, methods=["POST"])]))


MODAL = {
    "type": "modal",
    "callback_id": "payout",
    "private_metadata": "C1",
    "title": {"type": "plain_text", "text": "Payout"},
    "submit": {"type": "plain_text", "text": "Request"},
    "blocks": [
        {
            "type": "input",
            "block_id": "amount",
            "label": {"type": "plain_text", "text": "Amount"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        },
        {
            "type": "input",
            "block_id": "currency",
            "label": {"type": "plain_text", "text": "Currency"},
            "element": {
                "type": "static_select",
                "action_id": "pick",
                "options": [{"text": {"type": "plain_text", "text": "US dollar"}, "value": "USD"}],
            },
        },
    ],
}


@pytest.fixture
def bolt(fake: FakeSlack) -> Iterator[tuple[BoltHarness, SlackRequests]]:
    harness = BoltHarness(fake)
    with harness.server as server, SlackRequests.for_fake(fake, SECRET, server.url) as slack:
        yield harness, slack


def test_signed_command_reaches_bolt_and_respond_lands_in_the_fake(bolt: Any, fake: FakeSlack) -> None:
    harness, slack = bolt
    assert slack.command("U1", "balance USD").status_code == 200
    [ephemeral] = fake.wait_for(lambda: fake.ephemerals("U1"))
    assert ephemeral.text == "you said balance USD" and ephemeral.source == "response_url"
    sent = slack.last_payload
    assert sent["command"] == "/whalet" and sent["response_url"].startswith(fake.url or "")

    assert slack.block_action("U1", ephemeral, "approve").status_code == 200  # ephemeral click
    fake.wait_for(lambda: [e for e in fake.ephemerals("U1") if e.text == "approved R1"])


def test_button_click_on_channel_message_updates_it(bolt: Any, fake: FakeSlack) -> None:
    harness, slack = bolt
    ts = WebClient(token=TOKEN, base_url=fake.api_url).chat_postMessage(
        channel="C0FIN", text="card", blocks=SLACK_VALID
    )["ts"]
    card = fake.message("C0FIN", ts)
    assert slack.block_action("U0APP3", card, text="Approve").status_code == 200
    updated = fake.wait_for(lambda: [m for m in fake.messages("C0FIN") if m.updated_count])
    assert updated[0].text == "approved by U0APP3"
    action = slack.last_payload["actions"][0]
    assert (action["value"], action["block_id"]) == ("R1", "approval:R1")


def test_modal_opened_by_bolt_can_be_submitted(bolt: Any, fake: FakeSlack) -> None:
    harness, slack = bolt
    slack.command("U1", "modal")
    [view] = fake.wait_for(lambda: fake.views(user="U1"))
    assert slack.view_submission("U1", view, {"amount": "12.50", "currency": "USD"}).status_code == 200
    [got] = fake.wait_for(lambda: harness.submitted)
    assert got["state"]["values"]["amount"]["value"]["value"] == "12.50"
    assert got["state"]["values"]["currency"]["pick"]["selected_option"]["value"] == "USD"
    assert got["private_metadata"] == "C1" and got["id"] == view.id


def test_tampered_or_stale_signatures_are_refused_by_bolt(bolt: Any, fake: FakeSlack) -> None:
    harness, slack = bolt
    assert slack.command("U1", "x", tamper=True).status_code == 401
    assert slack.command("U1", "x", timestamp=int(time.time()) - 600).status_code == 401
    assert fake.responses() == []


def test_sign_matches_slack_sdk_verifier() -> None:
    slack = SlackRequests(SECRET, "http://127.0.0.1:9")
    body = b"command=%2Fwhalet&text=balance"
    headers = slack.sign(body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not verifier.is_valid(body + b"x", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert parse_qs(body.decode())["command"] == ["/whalet"]
    slack.close()


def test_buttons_are_found_by_action_id_or_label() -> None:
    assert [b["action_id"] for b in buttons(APPROVAL_BLOCKS)] == ["approve", "reject"]
    assert find_button(APPROVAL_BLOCKS, text="reject")["style"] == "danger"
    with pytest.raises(KeyError):
        find_button(APPROVAL_BLOCKS, action_id="nope")


# -- rendering ---------------------------------------------------------------------------------


def test_render_message_shows_header_fields_mentions_and_numbered_buttons() -> None:
    console = Console(file=io.StringIO(), width=100)
    render_message({"channel": "C0FIN", "ts": "1700000000.000100", "text": "card", "blocks": APPROVAL_BLOCKS}, console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    for expected in (
        "Payout request",
        "Requested by @U0REQ in #finance",
        "1,200.50 USD",
        "Fee",
        "ACME ****6789",
        "the policy",
        "[1] Approve",
        "[2] Reject",
        "[future_block_kind block]",
    ):
        assert expected in out, expected
    assert "https://x.test" not in out and "*" not in out.replace("****", "")
    assert "\x1b[" not in out  # not a terminal: plain text


def test_render_thread_and_view() -> None:
    fake = FakeSlack()
    fake.store.add_message(Message("C1", "1.000001", "parent"))
    fake.store.add_message(Message("C1", "1.000002", "child", thread_ts="1.000001"))
    console = Console(file=io.StringIO(), width=80)
    render_thread(fake.messages("C1"), console)
    render_view(MODAL, console)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    parent = next(i for i, line in enumerate(lines) if "parent" in line)
    child = next(i for i, line in enumerate(lines) if "child" in line)
    assert child > parent and lines[child].index("child") > lines[parent].index("parent")
    text = "\n".join(lines)
    assert "Amount: ____" in text and "[Request]" in text and "modal · Payout" in text


def test_demo_style_rendering_of_events_as_they_arrive(fake: FakeSlack) -> None:
    console = Console(file=io.StringIO(), width=100)
    fake.on_event(lambda event: render_event(event, console, names={"U0REQ": "Rita"}))
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    ts = web.chat_postMessage(channel="C0FIN", text="card", blocks=SLACK_VALID)["ts"]
    web.chat_postMessage(channel="C0FIN", thread_ts=ts, text="Payout *finished*")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Requested by @Rita in #finance" in out and "[1] Approve" in out
    assert "↳ reply" in out and "Payout finished" in out


def test_concurrent_posts_get_unique_ts(fake: FakeSlack) -> None:
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    threads = [
        threading.Thread(target=lambda: [web.chat_postMessage(channel="C1", text="x") for _ in range(10)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({m.ts for m in fake.messages("C1")}) == 40
