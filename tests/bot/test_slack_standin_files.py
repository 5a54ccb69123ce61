"""The stand-in takes files the way Slack does: files_upload_v2's three steps, with Slack's errors.

Driven through the real slack_sdk client, so the stand-in answers exactly what the SDK sends
(``files.getUploadURLExternal``, a raw POST to the upload URL, ``files.completeUploadExternal``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devkit.slack_standin import FakeSlack

TOKEN = "xoxb-standin"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as running:
        yield running


@pytest.fixture
def web(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


async def refused(call: Any) -> str:
    with pytest.raises(SlackApiError) as error:
        await call
    return str(error.value.response["error"])


async def test_files_upload_v2_shares_the_bytes_into_a_thread(fake: FakeSlack, web: AsyncWebClient) -> None:
    parent = await web.chat_postMessage(channel="C1", text="digest")
    answer = await web.files_upload_v2(
        channel="C1",
        thread_ts=parent["ts"],
        file=b"\x89PNG data",
        filename="chart.png",
        title="Chart",
        initial_comment="here",
    )
    assert answer["file"]["name"] == "chart.png" and answer["file"]["mimetype"] == "image/png"
    [shared] = fake.uploaded_files("C1")
    assert shared.data == b"\x89PNG data" and shared.thread_ts == parent["ts"] and shared.title == "Chart"
    [reply] = [m for m in fake.thread("C1", parent["ts"]) if m.is_reply]
    assert reply.text == "here" and reply.files[0]["id"] == answer["file"]["id"]
    replies = await web.conversations_replies(channel="C1", ts=parent["ts"])
    assert replies["messages"][-1]["files"][0]["name"] == "chart.png"  # what a crash recovery looks for


async def test_files_follow_scopes_membership_and_slack_argument_errors(fake: FakeSlack, web: AsyncWebClient) -> None:
    assert await refused(web.files_getUploadURLExternal(filename="x.csv", length=0)) == "invalid_arguments"
    issued = await web.files_getUploadURLExternal(filename="x.csv", length=3)
    files = [{"id": issued["file_id"], "title": "x"}]
    # never uploaded to: Slack does not know the file yet
    assert await refused(web.files_completeUploadExternal(files=files, channel_id="C1")) == "file_not_found"
    fake.add_channel("C2", member=False)  # chat:write.public posts there, but it does not share files
    dm = (await web.conversations_open(users="U0ME"))["channel"]["id"]
    await web.files_upload_v2(channel=dm, content="a,b\r\n", filename="y.csv")
    assert await refused(web.files_upload_v2(channel="C2", content="a", filename="z.csv")) == "not_in_channel"
    assert (
        await refused(web.files_upload_v2(channel="C1", thread_ts="1.000001", content="a", filename="z.csv"))
        == "invalid_thread_ts"
    )
    fake.scopes.discard("files:write")
    assert await refused(web.files_upload_v2(channel="C1", content="a", filename="z.csv")) == "missing_scope"
    assert [f.name for f in fake.uploaded_files()] == ["y.csv"]
