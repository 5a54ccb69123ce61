"""The stand-in is as strict as Slack: payloads, scopes and channel membership.

Every other suite trusts it to refuse what Slack refuses, so each rule is proved here through the
real slack_sdk client: a message of 51 blocks, a section over 3,000 characters, a modal title
over 24 characters, a call without its scope, history in a channel the bot never joined.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devkit.slack_standin import FakeSlack
from devkit.slack_standin.rules import manifest_scopes

TOKEN = "xoxb-standin"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as running:
        yield running


@pytest.fixture
def web(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as error:
        await call
    return dict(error.value.response.data)  # type: ignore[arg-type]


async def test_fifty_blocks_pass_and_fifty_one_are_invalid_blocks(fake: FakeSlack, web: AsyncWebClient) -> None:
    await web.chat_postMessage(channel="C1", text="ok", blocks=[section("x")] * 50)
    answer = await refused(web.chat_postMessage(channel="C1", text="no", blocks=[section("x")] * 51))
    assert answer["error"] == "invalid_blocks"
    assert "51 blocks" in answer["response_metadata"]["messages"][0]
    assert [m.text for m in fake.messages("C1")] == ["ok"]  # nothing half-posted


@pytest.mark.parametrize(
    "block, why",
    [
        (section("x" * 3001), "3000"),
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "150"),
        ({"type": "future_block_kind"}, "unknown type"),
        (
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "value": "v" * 2001,
                        "text": {"type": "plain_text", "text": "Go"},
                    }
                ],
            },
            "2000",
        ),
    ],
)
async def test_limits_are_slack_sdk_model_checks(web: AsyncWebClient, block: dict[str, Any], why: str) -> None:
    answer = await refused(web.chat_postMessage(channel="C1", text="t", blocks=[block]))
    assert answer["error"] == "invalid_blocks" and why in answer["response_metadata"]["messages"][0]


async def test_update_and_ephemeral_are_checked_too(fake: FakeSlack, web: AsyncWebClient) -> None:
    ts = (await web.chat_postMessage(channel="C1", text="first"))["ts"]
    assert (await refused(web.chat_update(channel="C1", ts=ts, text="x", blocks=[section("x")] * 51)))[
        "error"
    ] == "invalid_blocks"
    assert (await refused(web.chat_postEphemeral(channel="C1", user="U1", text="x", blocks=[section("y" * 3001)])))[
        "error"
    ] == "invalid_blocks"
    assert (await refused(web.chat_postMessage(channel="C1", text="z" * 40_001)))["error"] == "msg_too_long"
    assert fake.message("C1", ts).text == "first"


async def test_views_are_parsed_with_the_view_model(fake: FakeSlack, web: AsyncWebClient) -> None:
    good = {"type": "modal", "title": {"type": "plain_text", "text": "Payout"}, "blocks": [section("x")]}
    await web.views_open(trigger_id=fake.new_trigger_id("U1"), view=good)
    long_title = {**good, "title": {"type": "plain_text", "text": "t" * 25}}
    answer = await refused(web.views_open(trigger_id=fake.new_trigger_id("U1"), view=long_title))
    assert answer["error"] == "invalid_arguments" and "24" in answer["response_metadata"]["messages"][0]
    too_much = {**good, "private_metadata": "m" * 3001}
    assert (await refused(web.views_open(trigger_id=fake.new_trigger_id("U1"), view=too_much)))[
        "error"
    ] == "invalid_arguments"
    home = {"type": "home", "blocks": [section("x")] * 100}
    await web.views_publish(user_id="U1", view=home)
    assert (await refused(web.views_publish(user_id="U1", view={**home, "blocks": [section("x")] * 101})))[
        "error"
    ] == "invalid_arguments"
    [published] = [v for v in fake.views(user="U1") if v.action == "views.publish"]
    assert len(published.view["blocks"]) == 100


async def test_response_url_posts_are_checked(fake: FakeSlack) -> None:
    url = fake.new_response_url(channel_id="C1", user_id="U1")
    async with httpx.AsyncClient() as http:
        bad = await http.post(url, json={"text": "x", "blocks": [section("x")] * 51})
        good = await http.post(url, json={"text": "fine"})
    assert (bad.status_code, bad.text) == (400, "invalid_blocks")
    assert good.status_code == 200


def test_granted_scopes_are_the_manifests() -> None:
    assert FakeSlack().scopes == set(manifest_scopes())
    assert "users:read" in manifest_scopes()  # users.info: a person's language (services/slack/locale.py)


async def test_a_call_without_its_scope_is_missing_scope(fake: FakeSlack, web: AsyncWebClient) -> None:
    fake.scopes.discard("users:read")
    answer = await refused(web.users_info(user="U1"))
    assert (answer["error"], answer["needed"]) == ("missing_scope", "users:read")
    fake.scopes.discard("groups:history")
    answer = await refused(web.conversations_history(channel="G1"))
    assert (answer["error"], answer["needed"]) == ("missing_scope", "groups:history")
    await web.conversations_history(channel="C1")  # channels:history still granted


async def test_public_channel_not_joined_posts_with_chat_write_public_but_no_history(
    fake: FakeSlack, web: AsyncWebClient
) -> None:
    fake.add_channel("C0PUB", "announcements", member=False)
    await web.chat_postMessage(channel="C0PUB", text="posted without joining")
    assert (await refused(web.conversations_history(channel="C0PUB")))["error"] == "not_in_channel"
    assert (await web.conversations_info(channel="C0PUB"))["channel"]["is_member"] is False
    fake.scopes.discard("chat:write.public")
    assert (await refused(web.chat_postMessage(channel="C0PUB", text="x")))["error"] == "not_in_channel"
    fake.invite_bot("C0PUB")
    await web.chat_postMessage(channel="C0PUB", text="member now")
    assert len((await web.conversations_history(channel="C0PUB"))["messages"]) == 2


async def test_private_and_archived_channels(fake: FakeSlack, web: AsyncWebClient) -> None:
    fake.add_channel("G0SECRET", member=False)
    for call in (
        web.chat_postMessage(channel="G0SECRET", text="x"),
        web.conversations_history(channel="G0SECRET"),
        web.conversations_info(channel="G0SECRET"),
    ):
        assert (await refused(call))["error"] == "channel_not_found"
    fake.add_channel("C0OLD", archived=True)
    assert (await refused(web.chat_postMessage(channel="C0OLD", text="x")))["error"] == "is_archived"
    assert (await web.conversations_info(channel="C0OLD"))["channel"]["is_archived"] is True
