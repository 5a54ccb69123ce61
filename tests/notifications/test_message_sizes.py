"""Messages that fit Slack at any size: the digest at 60 and at 2,400 balances, every message
within Slack's total text limit, split between rows; the stand-in refuses what Slack refuses, and
a message that does not fit is parked at once, not retried eight times.

The digest is rendered from its content (``notifications.digest_render.render``) and every
message it makes is sent through the real slack_sdk client to the strict stand-in, which counts
the blocks' text itself (``devkit/slack_standin/rules.py``), independently of the bot's measure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devkit.localstack import LocalStack
from devkit.slack_standin import FakeSlack
from notifications.digest_data import BalanceRow, DigestContent
from notifications.digest_render import render
from notifications.digest_totals import UserTotal
from services.slack.message_size import BLOCK_TEXT_BUDGET, MAX_BLOCK_TEXT, replies, text_of
from services.slack.queue import enqueue_post as queue_post
from tests.notifications.test_outbox import _enqueue, _wait_state
from whalet.money import Money

NOW = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)
CURRENCIES = ("USD", "EUR", "HKD", "GBP", "JPY", "SGD")


def _content(users: int) -> DigestContent:
    balances, totals = [], []
    for n in range(users):
        user = f"U{n:05d}"
        for index, currency in enumerate(CURRENCIES):
            change = None if (n + index) % 3 == 0 else Decimal(index * 10 - 20)
            amount = Decimal(1000 * (n + 1) + index)
            balances.append(
                BalanceRow(user, f"Seller {n} Trading Co", "B2C", currency, amount, Decimal(5), Decimal(0), change)
            )
        totals.append(UserTotal(user, f"Seller {n} Trading Co", Money(Decimal(7000 * (n + 1)), "USD"), (), Decimal(15)))
    return DigestContent(
        channel="C0FINANCE",
        now=NOW,
        balances=balances,
        problems=[],
        collections={"USD": (3, Decimal("1500.00"))},
        payouts={},
        pending=[],
        todos=[],
        lookups=[],
        reconcile_hours=24,
        totals=totals,
    )


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token="xoxb-size").serve() as running:
        yield running


def _send_all(fake: FakeSlack, content: DigestContent) -> list[dict]:  # type: ignore[type-arg]
    message = render(content, "2030-03-04")
    web = AsyncWebClient(token="xoxb-size", base_url=fake.api_url)

    async def post_all() -> list[dict]:  # type: ignore[type-arg]
        sent = [message.main, *message.thread]
        for rendered in sent:  # any refusal raises SlackApiError
            await web.chat_postMessage(channel="C0FINANCE", text=rendered.text, blocks=rendered.blocks)
        return [{"text": r.text, "blocks": r.blocks} for r in sent]

    return asyncio.run(post_all())


@pytest.mark.parametrize("users, replies_at_most", [(10, 0), (400, 20)])
def test_the_digest_fits_slack_at_60_and_2400_balances(fake: FakeSlack, users: int, replies_at_most: int) -> None:
    content = _content(users)
    sent = _send_all(fake, content)
    main, thread = sent[0], sent[1:]
    assert len(thread) <= replies_at_most, len(thread)
    for message in sent:
        assert text_of(message["blocks"]) <= BLOCK_TEXT_BUDGET and len(message["blocks"]) <= 50
    shown = [b["text"]["text"] for b in main["blocks"] if b["type"] == "section" and "text" in b]
    assert shown[0].startswith(f"*Grand total ≈ {Money(Decimal(7000 * users * (users + 1) // 2), 'USD').format()}*")
    everything = "\n".join(str(m["blocks"]) for m in sent)
    assert "first digest" not in everything
    first_seen = sum(1 for row in content.balances if row.change is None)
    assert (
        everything.count("had no earlier digest") == 1
        and f"{first_seen:,} balances had no earlier digest" in everything
    )
    if thread:  # every balance row is whole in exactly one reply: split between rows, never inside one
        rows = [line for m in thread for b in m["blocks"] for line in b.get("text", {}).get("text", "").split("\n")]
        balance_lines = [line for line in rows if line.startswith("• ") and "* available" in line]
        assert len(balance_lines) == len(content.balances)
    else:
        assert everything.count("available") >= len(content.balances)


def test_replies_split_between_lines_within_the_budget() -> None:
    lines = [f"line {n:05d} " + "x" * (n % 300) for n in range(3000)]
    messages = replies(lines, 5000, 50)
    texts = [line for m in messages for block in m for line in block["text"]["text"].split("\n")]
    assert texts == lines  # nothing lost, nothing cut, in order
    assert all(text_of(m) <= 5000 and len(m) <= 50 for m in messages)


def _refusal(fake: FakeSlack, text: str, blocks: list[dict]) -> str:  # type: ignore[type-arg]
    web = AsyncWebClient(token="xoxb-size", base_url=fake.api_url)

    async def post() -> str:
        try:
            await web.chat_postMessage(channel="C0FINANCE", text=text, blocks=blocks)
        except SlackApiError as exc:
            return str(exc.response["error"])
        return "ok"

    return asyncio.run(post())


def _sections(count: int, size: int) -> list[dict]:  # type: ignore[type-arg]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * size}} for _ in range(count)]


def test_the_stand_in_refuses_what_slack_refuses_and_takes_what_fits(fake: FakeSlack) -> None:
    assert _refusal(fake, "long", _sections(5, 2900)) == "msg_blocks_too_long"  # 14,500 characters of blocks
    assert text_of(_sections(5, 2900)) > MAX_BLOCK_TEXT
    assert _refusal(fake, "fits", _sections(4, 2900)) == "ok"  # 11,600: under Slack's total
    assert _refusal(fake, "x" * 40_001, []) == "msg_too_long"
    assert _refusal(fake, "x" * 40_000, []) == "ok"
    assert _refusal(fake, "many", _sections(51, 10)) == "invalid_blocks"
    assert _refusal(fake, "many", _sections(50, 10)) == "ok"


def test_over_long_blocks_park_at_once_and_the_queue_guard_keeps_them_out(stack: LocalStack) -> None:
    long = [{"type": "section", "text": {"type": "mrkdwn", "text": "z" * 2900}} for _ in range(5)]
    row = _enqueue(stack, channel="C0LONG", text="too long", blocks=long)  # around the guard, as a bug would
    parked = _wait_state(stack, row, "parked")
    assert parked["attempts"] == 1 and parked["last_error"] == "msg_blocks_too_long"  # at once, not eight tries
    alert = stack.fake.wait_for(lambda: stack.fake.messages("C0ALERTS"), timeout=10.0)[-1]
    assert f"outbox row {row}" in alert.text and "`msg_blocks_too_long`" in alert.text and "12,000" in alert.text
    with stack.services.store.transaction() as db:  # through the guard every feature uses
        guarded = queue_post(db, channel="C0LONG", text="cut to fit", blocks=long)
    stack.services.wake_outbox()
    _wait_state(stack, guarded, "done")
    posted = stack.fake.messages("C0LONG")[-1]
    assert "more blocks not shown" in str(posted.blocks) and text_of(posted.blocks) <= BLOCK_TEXT_BUDGET
