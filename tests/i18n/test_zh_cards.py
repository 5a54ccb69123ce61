"""Approval cards in Chinese: a channel set to zh-Hans, a Chinese requester's outcome DMs, and
every state's card within Block Kit's limits in both languages (Chinese text is dense)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.i18n import LOCALES
from devkit.localstack import DEMO_CONFIG
from devkit.slack_standin.rules import blocks_error
from services.approvals.cards import card_blocks, card_text, parse_block_id
from services.approvals.outcomes import sentence
from services.approvals.states import State
from tests.commands.helpers import APPROVALS, ask, click, row
from tests.commands.test_cards import NOW, given
from tests.commands.test_cards import row as card_row

ZH_APPROVALS = DEMO_CONFIG + '\n[ui]\nchannels = { C0APPROVALS = "zh-Hans" }\n'


def body(message: Any) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def top_level(stack: Any, request_id: str) -> Any:
    return stack.fake.wait_for(
        lambda: next((m for m in stack.fake.messages(APPROVALS) if not m.is_reply and request_id in body(m)), None),
        timeout=15,
    )


def dms(stack: Any, user: str, needle: str) -> list[str]:
    def found() -> list[str]:
        channel = stack.fake.dm_channel(user)
        return [m.text for m in stack.fake.messages(channel) if needle in m.text] if channel else []

    return stack.fake.wait_for(found, timeout=15)


def request(stack: Any, text: str) -> str:
    _, post = ask(stack, "U0REQ", text)
    assert post is not None and ("Sent for approval" in post.text or "提交审批" in post.text), post and post.text
    return str(post.text.split("`")[1])  # the request id: the first `code` in either language


def test_a_channel_in_chinese_gets_a_chinese_card_that_approves_like_the_english_one(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH_APPROVALS)
    request_id = request(stack, "付款 １２００．５０ ＵＳＤ ｔｏ acme-us for 「三月货款」")
    card = top_level(stack, request_id)
    text = body(card)
    assert "提现 1,200.50 USD？" in card.text and "（待审批）" in card.text
    assert "批准提现" in text and "拒绝" in text and "受益人收到" in text and "三月货款" in text
    assert "Approve" not in text and "Beneficiary" not in text
    [actions] = [b for b in card.blocks if b["type"] == "actions"]
    ref = parse_block_id(actions["block_id"])
    assert ref is not None and ref.request_id == request_id and ref.fingerprint == row(stack, request_id)["fingerprint"]
    # The approver's DM copy (English: Slack has not told us their language) is the same request.
    copy = stack.fake.wait_for(
        lambda: next((m for m in stack.fake.messages(stack.fake.dm_channel("U0APP1") or "") if m.blocks), None),
        timeout=15,
    )
    assert "Approve payout" in body(copy)
    [copy_actions] = [b for b in copy.blocks if b["type"] == "actions"]
    assert copy_actions["block_id"] == actions["block_id"]
    click(stack, "U0APP1", card)
    done = stack.fake.wait_for(
        lambda: (m := top_level(stack, request_id)) and "已由 <@U0APP1> 审批" in body(m) and m, timeout=15
    )
    assert not [b for b in done.blocks if b["type"] == "actions" and b.get("block_id", "").startswith("apr|")]


def test_a_chinese_requester_hears_the_outcome_in_chinese_under_an_english_card(stack) -> None:  # type: ignore[no-untyped-def]
    stack.fake.users["U0REQ"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    request_id = request(stack, "提现 1200.50 USD to acme-us")
    card = top_level(stack, request_id)
    assert "Approve payout" in body(card)  # the channel's language: en
    click(stack, "U0APP1", card)
    [sent] = dms(stack, "U0REQ", "已审批并发送到易鲸")
    [paid] = dms(stack, "U0REQ", "已付款：易鲸报告已完成")
    for text in (sent, paid):
        assert f"你的提现申请 `{request_id}`" in text and "提现 1,200.50 USD？" in text
        assert "查看卡片" in text or "卡片在" in text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "state",
    ["PENDING", "APPROVED", "CONFIRMING", "CONFIRMED", "CONFIRM_UNKNOWN", "SUCCEEDED", "FAILED", "REJECTED", "EXPIRED"],
)
def test_every_card_state_fits_block_kit_in_both_languages(state: str, locale: str) -> None:
    long = "上海某某进出口有限公司" * 300
    r = card_row(
        state=state,
        purpose=long,
        reference=long[:64],
        beneficiary_name=long,
        decided_at=NOW.isoformat(),
        decided_by="U3",
        reason=long,
        fail_reason=long,
        note=long,
        result_status="SETTLED",
    )
    blocks = card_blocks(r, given(*(f"U{i}" for i in range(30))), locale)
    assert blocks_error(blocks) is None
    assert len(card_text(r, locale)) <= 3000
    for block in blocks:
        for field in block.get("fields") or []:
            assert len(field["text"]) <= 2000
        for element in block.get("elements") or []:
            if "text" in element and element["type"] == "button":
                assert len(element["text"]["text"]) <= 75
    outcome = sentence(r, locale)
    assert outcome is None or r.id in outcome
    if locale == "zh-Hans" and state == "PENDING":
        assert "等待审批" in json.dumps(blocks, ensure_ascii=False)
    assert State(state)


def test_an_approver_who_never_typed_a_command_gets_the_dm_copy_in_their_language(stack) -> None:  # type: ignore[no-untyped-def]
    """The DM copies are written in the card's transaction; their languages are asked of Slack
    just before it, so U0APP1's Chinese Slack is known without a command of theirs."""
    from tests.commands.test_notify import dm_card

    stack.fake.users["U0APP1"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    request_id = request(stack, "payout 1200.50 USD to acme-us")
    chinese = json.dumps(dm_card(stack, "U0APP1", request_id).blocks, ensure_ascii=False)
    english = json.dumps(dm_card(stack, "U0APP2", request_id).blocks, ensure_ascii=False)
    assert "你可以审批此申请" in chinese and "You can approve" not in chinese
    assert "You can approve this request" in english
    asked = [c.params["user"] for c in stack.fake.calls("users.info")]
    assert "U0APP1" in asked and "U0APP2" in asked
