"""What the approval engine says besides the card, in Chinese: a click's refusal and answer in the
clicker's language, a batch's thread messages and results in its channel's language; English as
it always was."""

from __future__ import annotations

from typing import Any

from tests.commands.helpers import ask, card_for, click, row


def newest_request(stack: Any, requester: str) -> str:
    def found() -> str | None:
        with stack.services.store.read() as db:
            rows = list(
                db.query(
                    "SELECT id FROM approval_requests WHERE requester = ? AND state = 'PENDING' ORDER BY created_at DESC",
                    [requester],
                )
            )
        return str(rows[0]["id"]) if rows else None

    return str(stack.fake.wait_for(found, timeout=15))


def test_a_chinese_approver_cannot_approve_their_own_request_and_hears_why_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    stack.fake.users["U0APP1"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    stack.fake.users["U0APP2"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    ask(stack, "U0APP1", 'payout 1200.50 USD to acme-us for "March invoices"')
    request_id = newest_request(stack, "U0APP1")
    card = card_for(stack, request_id)
    answer = click(stack, "U0APP1", card)
    assert answer.text == "这笔提现是你申请的，必须由其他人审批。"
    assert answer.response_type == "ephemeral"
    assert row(stack, request_id)["state"] == "PENDING"
    done = click(stack, "U0APP2", card)
    assert done.text == "已批准并发送至易鲸。"
    assert row(stack, request_id)["state"] in ("CONFIRMED", "SUCCEEDED")


def test_an_english_approver_hears_the_same_sentences_as_before(stack) -> None:  # type: ignore[no-untyped-def]
    ask(stack, "U0APP1", "payout 20000 USD to acme-us")
    request_id = newest_request(stack, "U0APP1")
    card = card_for(stack, request_id)
    assert click(stack, "U0APP1", card).text == "You requested this payout, so someone else has to approve it."
    assert click(stack, "U0APP2", card).text == "Approved. 1 of 2 approvals so far; waiting for 1 more."
    assert click(stack, "U0APP2", card).text == "You already approved this; it still needs 1 more approver(s)."
    assert click(stack, "U0VIEW", card).text == "Only approvers can approve or reject a payout; your role is viewer."
