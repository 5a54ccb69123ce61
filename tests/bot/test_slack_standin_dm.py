"""The stand-in's DMs and Home-tab clicks answer like Slack's: ``conversations.open`` gives the
same DM each time and needs ``im:write``; a post there needs no membership; a click in a
published Home carries a view container and no response_url."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devkit.slack_standin import FakeSlack, SlackRequests

TOKEN = "xoxb-standin"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as running:
        yield running


@pytest.fixture
def web(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


async def test_conversations_open_gives_one_dm_per_person(fake: FakeSlack, web: AsyncWebClient) -> None:
    first = await web.conversations_open(users="U0APP1")
    again = await web.conversations_open(users="U0APP1", return_im=True)
    other = await web.conversations_open(users="U0APP2")
    dm = first["channel"]["id"]
    assert dm.startswith("D") and again["channel"]["id"] == dm and again["already_open"] is True
    assert again["channel"]["is_im"] is True and again["channel"]["user"] == "U0APP1"
    assert other["channel"]["id"] != dm and fake.dm_channel("U0APP1") == dm
    posted = await web.chat_postMessage(channel=dm, text="your copy")
    assert posted["channel"] == dm and [m.text for m in fake.messages(dm)] == ["your copy"]
    history = await web.conversations_history(channel=dm)
    assert [m["text"] for m in history["messages"]] == ["your copy"]


async def test_conversations_open_refuses_like_slack(fake: FakeSlack, web: AsyncWebClient) -> None:
    for users, error in (("", "users_list_not_supplied"), ("C0NOTAUSER", "user_not_found"), ("UBOT", "cannot_dm_bot")):
        with pytest.raises(SlackApiError) as caught:
            await web.conversations_open(users=users)
        assert caught.value.response["error"] == error
    fake.scopes.discard("im:write")
    with pytest.raises(SlackApiError) as caught:
        await web.conversations_open(users="U0APP1")
    assert caught.value.response["error"] == "missing_scope" and caught.value.response["needed"] == "im:write"


def test_a_click_in_a_home_view_has_a_view_container_and_no_response_url(fake: FakeSlack) -> None:
    sent: list[dict[str, Any]] = []

    def capture(body: bytes, headers: dict[str, str]) -> httpx.Response:
        sent.append(json.loads(parse_qs(body.decode())["payload"][0]))
        return httpx.Response(200)

    requests = SlackRequests.for_fake(fake, "secret", "http://127.0.0.1:9", send=capture)
    home = {
        "id": "V1",
        "type": "home",
        "blocks": [
            {
                "type": "actions",
                "block_id": "apr|PO-1|2|abc",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approval_approve",
                        "value": "PO-1",
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            }
        ],
    }
    requests.view_action("U0APP1", home, "approval_approve")
    payload = sent[0]
    assert payload["type"] == "block_actions" and payload["container"] == {"type": "view", "view_id": "V1"}
    assert "response_url" not in payload and "channel" not in payload and payload["view"]["type"] == "home"
    assert payload["actions"][0]["block_id"] == "apr|PO-1|2|abc" and payload["actions"][0]["value"] == "PO-1"
