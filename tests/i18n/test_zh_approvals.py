"""What the approval engine says besides the card, in Chinese: a click's refusal and answer in the
clicker's language; a batch's lines, results, CSV headers, summary and progress, and a requote's
warning, in the card channel's language; nudges in each reader's; policy refusals as sentences
translated where shown. English as it always was."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from core.i18n import translator
from devkit.localstack import DEMO_CONFIG
from services.approvals import policy
from services.approvals.clicks import reject_refusal
from services.approvals.roles import Role
from services.approvals.service import Refused
from tests.commands.batch_helpers import send_batch
from tests.commands.helpers import APPROVALS, ask, card_for, click, row
from tests.commands.test_approval_machine import CONFIG, REQUESTER, flow, world  # noqa: F401
from tests.commands.test_nudges import _minutes_until as minutes_until
from tests.commands.test_cards import NOW
from tests.commands.test_nudges import _queued as queued
from whalet.money import Money


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


ZH_APPROVALS = DEMO_CONFIG + '\n[ui]\nchannels = { C0APPROVALS = "zh-Hans" }\n'
BATCH = """beneficiary,amount,currency,purpose,reference
acme-us,1200.50,USD,March invoice,INV-1
BEN002,300,USD,,INV-2
acme-hk,"2,000.00",HKD,Rent,R-7
"""


def newest_batch(stack: Any) -> str:
    def found() -> str | None:
        with stack.services.store.read() as db:
            rows = list(
                db.query("SELECT id FROM approval_requests WHERE lines_digest IS NOT NULL ORDER BY created_at DESC")
            )
        return str(rows[0]["id"]) if rows else None

    return str(stack.fake.wait_for(found, timeout=15))


def replies(stack: Any, card: Any) -> list[str]:
    return [m.text for m in stack.fake.messages(APPROVALS) if m.is_reply and m.thread_ts == card.ts]


def test_a_chinese_channel_gets_the_batch_lines_and_results_in_chinese(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(ZH_APPROVALS)
    send_batch(stack, BATCH, note="月末供应商")
    batch_id = newest_batch(stack)
    card = stack.fake.wait_for(
        lambda: next(
            (m for m in stack.fake.messages(APPROVALS) if not m.is_reply and batch_id in json.dumps(m.blocks)), None
        )
    )
    table = stack.fake.wait_for(lambda: (t := "\n".join(replies(stack, card))) and "INV-2" in t and t)
    assert table.startswith("第 1–3 行（共 3 行）：\n```")
    assert "批量提现 batch.csv：3 行，2,000.00 HKD + 1,500.50 USD；3 行标记为新受益人？" in card.text
    click(stack, "U0APP1", card)  # Slack has not told us U0APP1's language: English for them
    results = stack.fake.wait_for(lambda: [t for t in replies(stack, card) if t.startswith("结果")], timeout=30)
    assert results[0].startswith("结果，第 1–3 行（共 3 行）：\n```") and results[0].count("SUCCEEDED") == 3
    files = stack.fake.wait_for(
        lambda: (
            (f := {u.name: u for u in stack.fake.uploaded_files("C0APPROVALS") if u.thread_ts == card.ts})
            and len(f) == 2
            and f
        ),
        timeout=30,
    )
    lines = files[f"{batch_id}-lines.csv"].data.decode("utf-8-sig").splitlines()
    assert lines[0] == "行号,受益人ID,受益人,金额,币种,目标币种,用途,参考号,标记"
    assert lines[3].startswith("3,BEN001,Acme Trading Ltd,2000.00,HKD,HKD,Rent,R-7")
    outcome = files[f"{batch_id}-results.csv"].data.decode("utf-8-sig").splitlines()
    assert outcome[0] == "行号,受益人,金额,币种,订单号,状态,易鲸原因"
    assert outcome[1].startswith("1,Hooli Components Inc,1200.50,USD,WBB")
    assert {files[f"{batch_id}-lines.csv"].title, files[f"{batch_id}-results.csv"].title} == {"全部明细", "逐行结果"}
    assert row(stack, batch_id)["note"] == "已付 3 · 失败 0 · 等待 0"


@pytest.mark.usefixtures("world")
def test_a_chinese_approver_gets_the_daily_summary_and_an_admin_the_escalation_in_chinese() -> None:
    config = CONFIG.replace("ttl_minutes = 30", 'ttl_minutes = 10080\nsummary_time = "09:30"\nescalate_after_hours = 4')
    m = flow(config + '\n[ui]\nchannels = { C0APPROVALS = "zh-Hans" }\n')
    try:
        m.fake.users["U0APP1"] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}
        m.request("payout", "100")
        m.move_clock(5 * 60)
        m.sweep(0)
        m.sweep(1)
        thread = queued(m, "已等待审批 5 小时")
        assert [channel for channel, _ in thread] == ["C0APPROVALS"] and "<@U0ADM>" in thread[0][1]
        assert "has waited 5 h for approval" in queued(m, "Its card is in <#C0APPROVALS>.")[0][1]  # U0ADM: English
        # The 5 hours may already have crossed 09:30 (the suite runs at any hour): the summary of
        # the next 09:30 is the one after those already queued.
        earlier = len(queued(m, "等待你审批"))
        m.move_clock(minutes_until(m, 9, 31))
        m.sweep(0)
        [(channel, text)] = queued(m, "等待你审批")[earlier:]
        assert channel == "U0APP1" and text.startswith(":clipboard: <#C0APPROVALS> 中有 1 个申请等待你审批：\n• `")
        assert "申请人 <@" in text
        english = queued(m, "1 request wait for your approval in <#C0APPROVALS>:")
        assert {channel for channel, _ in english} >= {"U0APP2", "U0ADM"}
    finally:
        m.teardown()


def test_policy_refusals_are_sentences_for_the_reader_with_the_english_kept() -> None:
    zh = translator("zh-Hans")
    refusal = policy.requester_refusal(Role.VIEWER, kind="trade order binding")
    assert refusal is not None
    assert refusal.reason == (
        "Only requesters can ask for a trade order binding; your role is viewer. "
        "An admin can add you under [roles] in whalet-bot.toml."
    )
    assert refusal.text(zh) == (
        "只有申请人可以申请交易订单绑定；你的角色是查看者。管理员可以在易鲸机器人配置文件 whalet-bot.toml 的 [roles] 中添加你。"
    )
    with pytest.raises(policy.PolicyRefused) as refused:
        policy.required_approvals(
            None, Money(Decimal("10"), "USD"), frozen=True, spent_today=Decimal(0), requester="U1"
        )  # type: ignore[arg-type]
    assert str(refused.value).startswith("Payouts are frozen by an admin, so no new request can be made")
    assert refused.value.text(zh) == "管理员已冻结提现，在有人运行 `/whalet unfreeze` 之前无法发起新申请。"
    wrapped = Refused(refused.value.later)
    assert str(wrapped) == str(refused.value) and wrapped.text(zh) == refused.value.text(zh)


def test_a_reject_refusal_is_in_the_language_asked_for() -> None:
    assert reject_refusal(None, clicker="U1", role=Role.APPROVER, carried_fingerprint=None, now=NOW) == (
        "This approval request does not exist (any more)."
    )
    assert reject_refusal(
        None, clicker="U1", role=Role.APPROVER, carried_fingerprint=None, now=NOW, locale="zh-Hans"
    ) == ("此审批申请不存在（或已不存在）。")


@pytest.mark.usefixtures("world")
def test_a_new_quote_beyond_the_tolerance_is_told_in_the_chinese_channels_thread() -> None:
    m = flow(CONFIG + '\n[ui]\nchannels = { C0APPROVALS = "zh-Hans" }\n')
    try:
        m.dispatch(m.slack.command(REQUESTER, "payout 500 USD to acme-hk", channel_id="C0DEMO"))
        first = m.requests()[-1]
        m.move_clock(12)  # the quote (10 min) is over; the request (30 min) is not
        m.run(m.operator.post("/sandbox/rates", json={"currency": "HKD", "factor": "1.02"})).raise_for_status()
        m.approve("U0APP1", 0, False)
        [(channel, text)] = queued(m, "按旧条件给出的审批不再有效")
        assert channel == "C0APPROVALS" and text.startswith(
            ":warning: 发放前易鲸的报价已失效，新报价的差异超过 50 个基点（"
        )
        assert f"审批时为 汇率 {first.rate}，" in text
        assert m.requests()[-1].note == text.removeprefix(":warning: ")  # the card's note: the same sentence
    finally:
        m.teardown()


def test_a_long_summary_is_cut_at_twenty_in_both_languages() -> None:
    from services.approvals.nudges import _summary
    from tests.commands.test_cards import row as card_row

    waiting = [card_row(id=f"PO-{i:08d}", expires_at=NOW.isoformat()) for i in range(25)]
    zh = _summary(waiting, "C0APPROVALS", "zh-Hans").splitlines()
    assert zh[0] == ":clipboard: <#C0APPROVALS> 中有 25 个申请等待你审批："
    assert len(zh) == 22 and zh[-1] == "……另有 5 个：`/whalet pending` 可列出全部。"
    assert "截止 <!date^" in zh[1] and "{date_short_pretty} {time}" in zh[1]
    en = _summary(waiting, "C0APPROVALS").splitlines()
    assert en[0] == ":clipboard: 25 requests wait for your approval in <#C0APPROVALS>:"
    assert en[-1] == "…and 5 more: `/whalet pending` lists them all."
    assert "{date_short_pretty} at {time}" in en[1]
