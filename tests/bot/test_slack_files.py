"""Reading a file a person picked in a modal: files.info, then the download with the bot token.

Against the stand-in, through the real slack_sdk client and httpx: the bytes arrive; a file over
the limit is refused before a byte is downloaded; a token Slack does not accept gets Slack's
sign-in page, which is refused rather than read as the file; an unknown file is Slack's
``file_not_found`` in a sentence; the token is never sent to a host that is not Slack's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.i18n import translator
from slack_sdk.web.async_client import AsyncWebClient

from devkit.slack_standin import FakeSlack
from services.slack.files import FileRefused, _allowed, fetch_file

TOKEN = "xoxb-standin"
CSV = "beneficiary,amount,currency\nacme-us,1200.00,USD\n".encode()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN).serve() as running:
        yield running


def _client(fake: FakeSlack, token: str = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url)


async def test_a_picked_file_is_read_with_the_bot_token(fake: FakeSlack) -> None:
    picked = fake.add_user_file("U0REQ1", "batch.csv", CSV)
    got = await fetch_file(_client(fake), TOKEN, fake.api_url, picked["id"], 1_000_000)
    assert (got.name, got.mimetype, got.content) == ("batch.csv", "text/csv", CSV)
    assert [c.method for c in fake.calls()][-1:] == ["files.info"]


async def test_a_file_over_the_limit_is_refused_before_downloading(fake: FakeSlack) -> None:
    picked = fake.add_user_file("U0REQ1", "big.csv", b"x" * 2_000_000)
    with pytest.raises(FileRefused, match=r"big.csv is 2.0 MB; the limit is 1.0 MB") as refused:
        await fetch_file(_client(fake), TOKEN, fake.api_url, picked["id"], 1_000_000)
    assert translator("zh-Hans").text(refused.value.reason) == "big.csv 大小为 2.0 MB，上限是 1.0 MB。"


async def test_slacks_sign_in_page_is_not_taken_for_the_file(fake: FakeSlack) -> None:
    picked = fake.add_user_file("U0REQ1", "batch.csv", CSV)
    with pytest.raises(FileRefused, match="sign-in page"):
        await fetch_file(_client(fake), "xoxb-other", fake.api_url, picked["id"], 1_000_000)


async def test_an_unknown_file_is_a_sentence(fake: FakeSlack) -> None:
    with pytest.raises(FileRefused, match=r"Slack would not show me that file \(file_not_found\)"):
        await fetch_file(_client(fake), TOKEN, fake.api_url, "F0NOPE", 1_000_000)


def test_the_token_goes_only_to_slack() -> None:
    api = "https://slack.com/api/"
    assert _allowed("https://files.slack.com/files-pri/T1-F1/download/a.csv", api)
    assert not _allowed("http://files.slack.com/files-pri/T1-F1/download/a.csv", api)
    assert not _allowed("https://files.slack.com.evil.example/x", api)
    assert not _allowed("https://evil.example/files-pri/T1-F1/download/a.csv", api)
    assert _allowed("http://127.0.0.1:8123/files-pri/T1-F1/download/a.csv", "http://127.0.0.1:8123/api/")
    assert not _allowed("http://127.0.0.1:9999/files-pri/T1-F1/download/a.csv", "http://127.0.0.1:8123/api/")
