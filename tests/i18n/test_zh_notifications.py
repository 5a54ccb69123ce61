"""Whalet's notifications in Chinese: channels set to zh-Hans (``[ui] channels``) get every event,
to-do card, thread reply and alert in Chinese through the real path (the sandbox's signed webhook,
the inbox, the relay, the outbox, the Slack stand-in), English channels stay as they were, and the
largest messages still fit Slack's Block Kit limits in Chinese (dense text, longer field names)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.clock import iso
from core.i18n import LOCALES, translator
from core.storage.outbox import enqueue_post
from devkit.localstack import DEMO_CONFIG, LocalStack
from devkit.slack_standin.records import Message
from devkit.slack_standin.rules import MAX_BLOCKS_TEXT, blocks_error, blocks_text, view_error
from notifications import render_documents, render_replenish, render_trade
from notifications.render import generic, render
from notifications.rendered import with_mention
from services.slack.blocks import cap
from services.slack.message_size import within_budget

TIMEOUT = 15.0
ZH = (
    DEMO_CONFIG + '\n[ui]\nchannels = { C0COLLECT = "zh-Hans", C0APPROVALS = "zh-Hans", C0COMPLIANCE = "zh-Hans", '
    'C0ALERTS = "zh-Hans", C0FOLD = "zh-Hans" }\n'
)


def shown(message: Message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def first(stack: LocalStack, channel: str, needle: str = "") -> Message:
    return stack.fake.wait_for(
        lambda: next((m for m in stack.fake.messages(channel) if not m.is_reply and needle in shown(m)), None),
        timeout=TIMEOUT,
    )


def replies(stack: LocalStack, channel: str, parent: Message, needle: str) -> list[Message]:
    return stack.fake.wait_for(
        lambda: [m for m in stack.fake.thread(channel, parent.ts) if m.is_reply and needle in shown(m)],
        timeout=TIMEOUT,
    )


def notify(stack: LocalStack, api_code: str, body: dict[str, Any]) -> None:
    answer = stack.operator.post("/sandbox/notify", json={"apiCode": api_code, "body": body})
    assert answer.status_code == 200, answer.text


# --- end to end ------------------------------------------------------------------------------------


def test_a_chinese_channel_gets_a_chinese_collection_and_an_english_channel_stays_english(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH)
    answer = stack.operator.post(
        "/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": "1200.50", "payerName": "Initech"}
    )
    assert answer.status_code == 200, answer.text
    message = first(stack, "C0COLLECT")
    assert message.text.startswith("已到账：1,200.50 USD，付款方 Initech，入账账户 ••••"), message.text
    text = shown(message)
    assert "💰 已到账：1,200.50 USD" in text and "*金额*" in text and "*易鲸用户*" in text and "*资金来源*" in text
    assert "Acme Trading Ltd" in text and "B2C" in text and "状态：成功" in text and "收款 `" in text
    assert "Money received" not in text and "Whalet user" not in text and "SUCCESS" not in text
    assert blocks_error(message.blocks) is None

    # An apiCode the bot does not know goes to the default channel, which is English: as before.
    notify(stack, "cardLimitChangedNotify", {"userId": "U10001", "cardNo": "4111111111111111", "status": "DONE"})
    generic_post = first(stack, "C0FINANCE")
    assert generic_post.text == "Whalet notification cardLimitChangedNotify (DONE)"
    english = shown(generic_post)
    assert "📨 Whalet notification: cardLimitChangedNotify" in english and "does not know this kind" in english
    assert "易鲸" not in english


def test_a_chinese_approvals_channel_hears_the_payout_finish_in_chinese_under_its_card(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH)
    assert stack.slack_requests.command("U0REQ", 'payout 100 USD to acme-us for "May invoice"').status_code == 200
    card = first(stack, "C0APPROVALS")
    assert stack.slack_requests.block_action("U0APP1", card, action_id="approval_approve").status_code == 200
    [done] = replies(stack, "C0APPROVALS", card, "提现已完成")
    assert done.text.startswith("提现已完成：100.00 USD（订单 "), done.text
    text = shown(done)
    assert "✅ 提现已完成：100.00 USD" in text and "*受益人收到*" in text and "*手续费*" in text
    assert "*完成时间*" in text and "提现 ID `" in text and "状态：成功" in text
    assert "Payout completed" not in text and "Beneficiary gets" not in text
    assert blocks_error(done.blocks) is None
    assert not stack.fake.messages("C0FINANCE")  # not posted a second time elsewhere


def test_a_documents_request_in_a_chinese_channel_is_a_chinese_to_do_from_request_to_decision(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH)
    answer = stack.operator.post("/sandbox/replenish", json={"kind": "edd", "userId": "U10001"})
    assert answer.status_code == 200, answer.text
    replenish_id = answer.json()["replenishId"]
    card = first(stack, "C0COMPLIANCE")
    text = shown(card)
    assert card.text.startswith("需提交尽职调查补充资料（截止 "), card.text
    assert "📄 需提交尽职调查补充资料" in text and "*易鲸要求提供：*" in text and "Business licence" in text
    assert "尚无人认领。" in text and "我来处理" in text and "提交补充资料" in text
    assert f"补充资料请求 `{replenish_id}`" in text and "I'll handle it" not in text

    assert stack.slack_requests.block_action("U0APP1", card, action_id="replenish_take").status_code == 200
    stack.fake.wait_for(
        lambda: "👤 <@U0APP1> 正在处理。" in shown(stack.fake.message("C0COMPLIANCE", card.ts)), timeout=TIMEOUT
    )
    assert "我来处理" not in shown(stack.fake.message("C0COMPLIANCE", card.ts))

    result = stack.operator.post(f"/sandbox/replenish/{replenish_id}/result", json={"status": "PASS"})
    assert result.status_code == 200, result.text
    [reply] = replies(stack, "C0COMPLIANCE", card, "的决定")
    assert reply.text == f"✅ 易鲸对 `{replenish_id}` 的决定：*通过*。"
    stack.fake.wait_for(
        lambda: "已关闭，易鲸的决定：*通过*（由 <@U0APP1> 处理）" in shown(stack.fake.message("C0COMPLIANCE", card.ts)),
        timeout=TIMEOUT,
    )


def test_a_b2b_collection_in_chinese_binds_a_trade_order_in_chinese(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH)
    stack.fake.users["U0REQ"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    answer = stack.operator.post(
        "/sandbox/collect",
        json={"userId": "U10001", "currency": "USD", "amount": "1200.50", "fundSource": "B2B", "payerName": "Initech"},
    )
    assert answer.status_code == 200, answer.text
    message = first(stack, "C0COLLECT")
    assert "绑定贸易订单" in shown(message) and "Bind trade order" not in shown(message)

    assert (
        stack.slack_requests.block_action("U0REQ", message, action_id="collection_bind_trade_order").status_code == 200
    )
    opened = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "trade_order_bind_modal"), None),
        timeout=TIMEOUT,
    )
    form = dict(opened.view, id=opened.id)
    assert view_error(form) is None
    assert form["title"]["text"] == "绑定贸易订单" and form["submit"]["text"] == "发送给易鲸"
    assert "贸易订单号" in json.dumps(form["blocks"], ensure_ascii=False)
    given = {"trade_order_no": "SO-2024-117", "amount": "abc", "currency": "USD", "buyer": "Initech"}
    refused = stack.slack_requests.view_submission("U0REQ", form, given).json()
    assert refused["errors"] == {"amount": "“abc”不是金额；请写成 1200.50 这样的格式。"}
    sent = stack.slack_requests.view_submission("U0REQ", form, given | {"amount": "1200.50"}).json()
    assert sent["response_action"] == "update" and sent["view"]["title"]["text"] == "绑定贸易订单"

    [asked] = replies(stack, "C0COLLECT", message, "已请易鲸绑定")
    assert asked.text == "🔗 <@U0REQ> 已请易鲸绑定贸易订单 `SO-2024-117`（1,200.50 USD，买方 Initech）。"
    replies(stack, "C0COLLECT", message, "📨 易鲸已收到 `SO-2024-117` 的绑定")
    [decided] = replies(stack, "C0COLLECT", message, "贸易订单绑定：")
    assert decided.text == "贸易订单绑定：通过"


def test_alerts_follow_the_alerts_channels_language(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH)
    stack.fake.deny_channel("C0PRIVATE", "not_in_channel")
    with stack.services.store.transaction() as db:
        enqueue_post(db, channel="C0PRIVATE", text="money received")
    stack.services.wake_outbox()
    parked = first(stack, "C0ALERTS", "已搁置")
    assert parked.text.startswith(":warning: 一条发往 <#C0PRIVATE> 的 Slack 消息已搁置（outbox 第 ")
    assert "Slack 返回 `not_in_channel`）：请邀请机器人加入 <#C0PRIVATE>" in parked.text
    assert "`/whalet status` 会统计搁置的消息。" in parked.text

    stack.services.alerts.whalet_call("balanceQuery", "bad_signature", 0.1)  # the Whalet client's hook
    signature = first(stack, "C0ALERTS", "验签")
    assert signature.text.startswith(":rotating_light: 易鲸对 `balanceQuery` 的应答未能通过易鲸公钥验签。")


def test_a_burst_of_collections_folds_into_a_chinese_summary(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH)
    stack.fake.script("chat.postMessage", [("sleep", 1.0)])
    with stack.services.store.transaction() as db:
        enqueue_post(db, channel="C0FOLD", text="first", kind="collection", fold_line="100.00 USD，付款方 A")
    stack.services.wake_outbox()
    time.sleep(0.2)  # the first row is now in flight; the rest queue behind it
    with stack.services.store.transaction() as db:
        for n in range(40):
            enqueue_post(
                db, channel="C0FOLD", text=f"single {n}", kind="collection", fold_line=f"{n}.00 USD，付款方 {n}"
            )
    stack.services.wake_outbox()
    summary = first(stack, "C0FOLD", "笔收款")
    assert summary.text.startswith("收到 40 笔收款\n• 0.00 USD，付款方 0"), summary.text
    assert summary.text.endswith("\n…另有 15 笔") and ":moneybag: 收到 40 笔收款" in shown(summary)


# --- sizes ------------------------------------------------------------------------------------------

LONG = "上海某某进出口贸易有限公司（代收代付）" * 200
USERS = {"U10001": LONG[:300]}


def largest(locale: str) -> list[Any]:
    """The largest messages each rendering can make, with every text at Whalet's worst."""
    payout = {
        "userId": "U10001",
        "payoutId": "PO" + "9" * 60,
        "merOrderNo": LONG[:64],
        "status": "FAIL",
        "currency": "USD",
        "amount": Decimal("99999999.99"),
        "fee": Decimal("1.50"),
        "toCurrency": "HKD",
        "toAmount": Decimal("780000000.00"),
        "failReason": LONG,
        "finishTime": "2024-05-01 10:00:00",
    }
    collection = {
        "userId": "U10001",
        "collectionId": "C" * 64,
        "virtualAccountNo": "6222020000001234",
        "fundSource": "B2B",
        "currency": "USD",
        "amount": "99999999.99",
        "payerName": LONG,
        "payerAccount": "GB29NWBK60161331926819",
        "receivedTime": "2024-05-01 09:29:00",
        "status": "PROCESSING",
    }
    todo = {
        "replenish_id": "RP" + "1" * 60,
        "kind": "trade",
        "user_id": "U10001",
        "trade_id": LONG[:64],
        "trade_type": "COLLECTION",
        "reason": LONG,
        "materials": [{"name": LONG[:200], "description": LONG[:300]} for _ in range(60)],
        "deadline": iso(datetime(2024, 5, 3, tzinfo=UTC)),
        "state": "TAKEN",
        "owner": "U0APP1",
        "docs": "REJECTED",
        "docs_by": "U0APP1",
        "result": "REJECT",
        "remark": LONG,
    }
    files = [{"name": LONG[:200], "size": 9_999_999, "sha256": "a" * 64} for _ in range(10)]
    review = {"userId": "U10001", "status": "REJECT", "remark": LONG, **{f"extra{i}": LONG for i in range(40)}}
    return [
        render("collectionReceivedNotify", "collectionReceivedNotify", collection, USERS, locale),
        render("payoutResultNotify", "payoutResultNotify", payout, USERS, locale),
        render("userHolderResultNotify", "userHolderResultNotify", review, USERS, locale),
        render("collectionReceivedNotify", "collectionReceivedNotify", {"collectionId": LONG}, USERS, locale),
        generic("hugeNotify", {f"field{i}": LONG for i in range(600)}, USERS, locale=locale),
        render_replenish.card(todo, USERS, locale),
        render_replenish.card({**todo, "state": "OPEN", "owner": None, "docs": None}, USERS, locale),
        render_replenish.card({**todo, "state": "CLOSED", "result": "REJECT"}, USERS, locale),
        with_mention(render_replenish.reminder(todo, locale), "S0TEAM"),
        render_replenish.changed_reply(todo, ["requiredMaterials", "deadline", "reason", LONG[:80]], locale),
        render_replenish.result_reply(todo, locale),
        render_documents.sending_reply("U0APP1", files, LONG, locale),
        render_documents.answer_reply(files, "PROCESSING", locale),
        render_documents.not_sent_reply("U0APP1", LONG[:500], locale),
        render_trade.asked_reply("U0REQ", LONG[:64], _money(), LONG[:140], LONG[:200], locale),
        render_trade.answer_reply(LONG[:64], "refused", LONG, locale),
    ]


def _money() -> Any:
    from whalet.money import Money

    return Money(Decimal("99999999.99"), "USD")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_largest_notifications_fit_block_kit_in_both_languages(locale: str) -> None:
    for message in largest(locale):
        assert blocks_error(message.blocks) is None, message.text[:200]
        queued = within_budget(cap(message.blocks))  # what services.slack.queue enqueues
        assert blocks_error(queued) is None and blocks_text(queued) <= MAX_BLOCKS_TEXT, message.text[:200]
        assert len(message.text) <= 40_000
        if any(b["type"] == "actions" for b in message.blocks):  # a card's buttons are never cut off
            assert any(b["type"] == "actions" for b in queued), message.text[:200]
    if locale == "zh-Hans":
        everything = "".join(m.text + json.dumps(m.blocks, ensure_ascii=False) for m in largest(locale))
        assert "提现失败" in everything and "需提交贸易补充资料" in everything and "易鲸驳回了补充资料" in everything


@pytest.mark.parametrize("locale", LOCALES)
def test_the_documents_and_binding_forms_fit_slack_in_both_languages(locale: str) -> None:
    todo = {
        "replenish_id": "RP" + "1" * 60,
        "kind": "edd",
        "materials": [{"name": LONG[:200], "description": LONG[:300]} for _ in range(60)],
        "docs": "REJECTED",
        "remark": LONG,
    }
    collection = {"c": "C" * 64, "u": "U10001", "a": "99999999.99", "cur": "USD", "p": LONG[:140]}
    for view in (
        render_documents.submit_modal(todo, "F" * 40, locale),
        render_trade.bind_modal(collection, "F" * 40, locale),
        render_documents.message_view(translator(locale).gettext("Submit documents"), LONG[:2000], locale),
    ):
        assert view_error(view) is None
        assert len(view["title"]["text"]) <= 24 and len(view["close"]["text"]) <= 24
    zh = render_documents.submit_modal(todo, "F", "zh-Hans")
    assert zh["title"]["text"] == "提交补充资料" and zh["close"]["text"] == "取消"
    assert "易鲸要求提供尽职调查补充资料" in json.dumps(zh["blocks"], ensure_ascii=False)


def test_a_chinese_person_on_an_english_to_do_gets_a_chinese_form_while_the_thread_stays_english(stack) -> None:  # type: ignore[no-untyped-def]
    stack.fake.users["U0REQ"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    stack.fake.users["U0VIEW"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
    answer = stack.operator.post("/sandbox/replenish", json={"kind": "edd", "userId": "U10001"})
    assert answer.status_code == 200, answer.text
    card = first(stack, "C0COMPLIANCE")
    assert "I'll handle it" in shown(card) and "Due-diligence documents requested" in shown(card)  # the channel's: en

    assert stack.slack_requests.block_action("U0VIEW", card, action_id="replenish_take").status_code == 200
    told = stack.fake.wait_for(
        lambda: [r for r in stack.fake.responses() if "认领补充资料请求" in r.text], timeout=TIMEOUT
    )
    assert (
        told[0].text.startswith("认领补充资料请求仅限申请人及以上角色；你的角色是")
        and told[0].response_type == "ephemeral"
    )

    before = {v.id for v in stack.fake.views("U0REQ")}
    assert stack.slack_requests.block_action("U0REQ", card, action_id="replenish_submit").status_code == 200
    opened = stack.fake.wait_for(
        lambda: next(
            (v for v in stack.fake.views("U0REQ") if v.callback_id == "replenish_submit_modal" and v.id not in before),
            None,
        ),
        timeout=TIMEOUT,
    )
    form = dict(opened.view, id=opened.id)
    assert form["title"]["text"] == "提交补充资料" and form["submit"]["text"] == "发送给易鲸"
    assert "易鲸要求提供尽职调查补充资料" in json.dumps(form["blocks"], ensure_ascii=False)
    empty = stack.slack_requests.view_submission("U0REQ", form, {"files": [], "note": ""}).json()
    assert empty["errors"] == {"files": "请至少选择一个文件。"}
    licence = stack.fake.add_user_file("U0REQ", "licence.pdf", b"%PDF-1.4 licence\n", "application/pdf")
    sent = stack.slack_requests.view_submission("U0REQ", form, {"files": [licence], "note": ""}).json()
    assert sent["response_action"] == "update"
    assert "📤 正在向易鲸发送 1 个文件…" in json.dumps(sent["view"], ensure_ascii=False)

    [sending] = replies(stack, "C0COMPLIANCE", card, "is sending")
    assert sending.text == "📤 <@U0REQ> is sending 1 file to Whalet."  # the thread is the channel's: English
    replies(stack, "C0COMPLIANCE", card, "Whalet received the documents")
