"""`/whalet` sub-commands for a person whose Slack speaks Chinese, through the real app: a payout
request's answer, pending, status, history (times in their own Slack zone), the CSV exports'
headers, Whalet's refusals and the parser's refusals in Chinese; English exactly as before."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import csv
import io
import json
from typing import Any

import pytest

from commands.audit import to_csv as audit_csv
from commands.history_csv import COLUMNS
from core.i18n import translator
from services.whalet_words import explain
from tests.commands.helpers import ask, request_payout, responses_since
from whalet import errors
from whalet.models import WHALET_TZ

ZH_HEADERS = [
    "记录编号",
    "状态",
    "金额",
    "币种",
    "手续费",
    "手续费币种",
    "到账金额",
    "到账币种",
    "商户订单号",
    "交易对方",
    "创建时间",
    "完成时间",
    "申请编号",
    "申请人",
    "审批人",
]


def chinese(stack: Any, user: str, tz: str = "Asia/Shanghai") -> None:
    stack.fake.users[user] = {"locale": "zh-CN", "tz": tz}


def body(post: Any) -> str:
    return json.dumps(post.body, ensure_ascii=False)


def ack_text(http: Any) -> str:
    return str(json.loads(http.text)["text"])


def test_a_chinese_requesters_payout_is_sent_for_approval_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack, "U0REQ")
    _, post = ask(stack, "U0REQ", "提现 1200.50 USD to acme-us")
    assert post.text.startswith("已在 <#C0APPROVALS> 提交审批：向受益人 ")
    assert "提现 1,200.50 USD？ 申请 `PO-" in post.text and "需要 1 人审批，将于 <!date^" in post.text
    assert post.text.endswith("过期。") and "Sent for approval" not in post.text


def test_english_requester_hears_the_english_sentence(stack) -> None:  # type: ignore[no-untyped-def]
    _, post = ask(stack, "U0REQ", "payout 20000 USD to acme-us")
    assert post.text.startswith("Sent for approval in <#C0APPROVALS>: Pay out 20,000.00 USD to ")
    assert "needs 2 approvals and expires at <!date^" in post.text and post.text.endswith(".")


def test_pending_and_status_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    request_payout(stack, "payout 20000 USD to acme-us")
    chinese(stack, "U0VIEW")
    _, post = ask(stack, "U0VIEW", "待审批")
    assert post.text == "1 个待处理的审批申请"
    text = body(post)
    assert "申请人 <@U0REQ>；还需 2 人审批，<!date^" in text and "requested by" not in text
    _, post = ask(stack, "U0VIEW", "状态")
    text = body(post)
    assert post.text == "易鲸机器人（whalet-bot）状态"
    assert "易鲸有应答" in text and "审批：1 个待处理申请。" in text and "Slack 发件队列：" in text
    assert "测试网关，允许提现" in text and "最近一次摘要：还没有。" in text
    assert "Whalet answers" not in text and "Approvals:" not in text


def test_pending_and_status_in_english_as_before(stack) -> None:  # type: ignore[no-untyped-def]
    request_payout(stack, "payout 20000 USD to acme-us")
    _, post = ask(stack, "U0VIEW", "pending")
    assert post.text == "1 open approval request" and "needs 2 more approvers, expires at <!date^" in body(post)
    _, post = ask(stack, "U0VIEW", "status")
    text = body(post)
    assert post.text == "whalet-bot status" and "Approvals: 1 open request." in text
    assert "Last digest: none yet." in text and "Slack outbox: 0 waiting, 0 parked (gave up; need a look)." in text


def collect(stack: Any, amount: str = "5.00", payer: str = "上海某某进出口有限公司") -> dict[str, Any]:
    stack.operator.post(
        "/sandbox/collect", json={"userId": "U10001", "currency": "USD", "amount": amount, "payerName": payer}
    ).raise_for_status()
    return [r for r in stack.sandbox.state.collections.records if r["userId"] == "U10001"][-1]  # type: ignore[no-any-return]


def test_history_shows_times_in_the_persons_slack_zone_and_says_which(stack) -> None:  # type: ignore[no-untyped-def]
    record = collect(stack)
    chinese(stack, "U0VIEW", tz="America/New_York")
    _, post = ask(stack, "U0VIEW", "历史 collections --days 2")
    text = body(post)
    when = translator("zh-Hans", "America/New_York").moment(record["created"], WHALET_TZ)
    assert "年" in when and when.endswith(("UTC-5", "UTC-4"))
    assert post.text == "最近 2 天的收款"
    assert f"• {when}  *5.00 USD*" in text and "上海某某进出口有限公司" in text
    assert "时间为你的 Slack 时区（America/New_York）。" in text and "第 1 页，共 1 页，合计 1 条" in text
    # Someone whose Slack gives no zone reads Whalet's, as before.
    stack.fake.users["U0VIEW"] = {"locale": "en-US", "tz": ""}
    stack.services.locales.forget("U0VIEW")
    _, post = ask(stack, "U0VIEW", "history collections --days 2")
    text = body(post)
    assert post.text == "Collections of the last 2 days" and "Times in Whalet's zone (UTC+8)." in text
    assert f"• {translator('en').moment(record['created'], WHALET_TZ)}  *5.00 USD*" in text
    assert "(page 1 of 1, 1 in all)" in text


def test_the_history_csv_has_chinese_headers_for_a_chinese_reader(stack) -> None:  # type: ignore[no-untyped-def]
    record = collect(stack, payer="Acme")
    chinese(stack, "U0APP2")
    before = len(stack.fake.responses())
    ask(stack, "U0APP2", "历史 collections --days 1 --csv")
    done = responses_since(stack, before, n=1, timeout=20)[0]
    assert done.text == "最近 1 天的收款：CSV（1 条记录）已发到我们的私信中。"
    [upload] = stack.fake.uploaded_files(stack.fake.dm_channel("U0APP2"))
    rows = list(csv.reader(io.StringIO(upload.data.decode("utf-8-sig"))))
    assert rows[0] == ZH_HEADERS and len(ZH_HEADERS) == len(COLUMNS)
    assert rows[1][0] == record["collectionId"] and rows[1][2] == "5.00" and rows[1][10].endswith("+08:00")


def test_csv_headers_in_english_stay_as_they_were() -> None:
    from commands.history_csv import to_csv

    assert to_csv([], bom=False).decode().splitlines()[0] == (
        "record_id,status,amount,currency,fee,fee_currency,to_amount,to_currency,mer_order_no,counterparty,"
        "created_at,finished_at,request_id,requester,approvers"
    )
    assert audit_csv([], "Asia/Shanghai", bom=False).decode().splitlines()[0] == (
        "time,actor,action,request,amount,currency,state,detail"
    )
    assert audit_csv([], "Asia/Shanghai", bom=False, locale="zh-Hans").decode().splitlines()[0] == (
        "时间,操作人,操作,申请,金额,币种,状态,详情"
    )


def test_the_audit_csv_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack, "U0APP2")  # before the request: its card asks the approvers' languages then
    request_payout(stack)
    _, post = ask(stack, "U0APP2", "audit --days 1")
    assert post.text.startswith("最近 1 天的审计日志：CSV（") and post.text.endswith("行）已发到我们的私信中。")
    [upload] = stack.fake.uploaded_files(stack.fake.dm_channel("U0APP2"))
    assert upload.data.decode("utf-8-sig").startswith("时间,操作人,操作,申请,金额,币种,状态,详情\r\n")


def test_a_whalet_refusal_is_a_chinese_sentence(stack) -> None:  # type: ignore[no-untyped-def]
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "queryPayRecords", "kind": "refuse", "code": "UNAUTHORIZED"}]}
    ).raise_for_status()
    chinese(stack, "U0VIEW")
    _, post = ask(stack, "U0VIEW", "历史 pays")
    assert post.text == "易鲸不接受我们这次请求的凭证（UNAUTHORIZED）；需要管理员检查合作方 ID 和密钥。"
    stack.operator.post(
        "/sandbox/faults", json={"rules": [{"apiCode": "queryPayRecords", "kind": "refuse", "code": "UNAUTHORIZED"}]}
    ).raise_for_status()
    _, post = ask(stack, "U0REQ", "history pays")
    assert post.text == (
        "Whalet did not accept our credentials for this request (UNAUTHORIZED); an administrator needs to "
        "check the partner id and keys."
    )


@pytest.mark.parametrize(
    "exc",
    [
        errors.RequestNotSent("connection refused"),
        errors.RequestNotSent("key 6222021234567890 does not load.", transient=False),
        errors.RequestNotSent("", transient=False),
        errors.MoneySwitchedOff("https://api.whalet.com", api_code="payoutApply"),
        errors.WhaletRejected("SOMETHING", "account 6222021234567890 closed."),
        errors.WhaletRejected("SOMETHING", ""),
        errors.RateLimited("TOO_MANY_REQUESTS", ""),
        errors.BadParameters("PARAMETER_ERROR", ""),
        errors.BadParameters("PARAMETER_ERROR", "amount is invalid"),
        errors.AuthenticationFailed("PARTNER_NOT_EXIST", "no"),
        errors.DuplicateRequest("IDEMPOTENT_ERROR", "dup"),
        errors.OutcomeUnknown("read timeout"),
        errors.WhaletError("odd"),
        ValueError("a bug"),
    ],
)
def test_every_whalet_error_reads_the_same_in_english_and_is_translated(exc: BaseException) -> None:
    assert explain(exc, translator("en")) == errors.explain(exc)
    chinese_text = explain(exc, translator("zh-Hans"))
    assert chinese_text != errors.explain(exc) and "6222021234567890" not in chinese_text
    assert any("\u4e00" <= char <= "\u9fff" for char in chinese_text)


def test_a_sentence_set_by_hand_is_shown_as_written() -> None:
    exc = errors.WhaletError("x")
    exc.sentence = "A sentence the caller wrote, account 6222021234567890."
    assert (
        explain(exc, translator("zh-Hans")) == errors.explain(exc) == "A sentence the caller wrote, account ••••7890."
    )


def test_whalets_detail_is_kept_inside_the_chinese_sentence() -> None:
    exc = errors.WhaletRejected("CARD_CLOSED", "账户 6222021234567890 已注销。")
    assert explain(exc, translator("zh-Hans")) == "易鲸拒绝了该请求：账户 ••••7890 已注销。"


def test_a_full_width_typo_under_a_chinese_name_is_answered_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack, "U0REQ")
    ask(stack, "U0REQ", "帮助")  # Slack has told us their language once
    http, post = ask(stack, "U0REQ", "付款　１２００　ＵＳＤ　给　ａｃｍｅ－ｕｓ")
    assert post is None
    assert ack_text(http).startswith("请写金额、币种、'to' 和受益人，例如 `payout 1200.50 USD to acme-us`")
    assert "\n用法：`/whalet payout AMOUNT CUR to BENEFICIARY" in ack_text(http)
    http, _ = ask(stack, "U0REQ", "提现 １２．３４５ ＵＳＤ ｔｏ acme-us")
    assert ack_text(http).startswith("USD 金额最多 2 位小数，但 '12.345' 超出了。\n用法：")
    http, _ = ask(stack, "U0REQ", "历史 payouts --days 400")
    assert ack_text(http).startswith("--days 必须是 1 到 90 之间的整数，收到的是 '400'。")
    http, _ = ask(stack, "U0REQ", "提现 5 ＵＳＤＸ ｔｏ acme-us")
    assert ack_text(http).startswith("'USDX' 不是币种代码（应为三个字母，例如 USD）\n用法：")
    _, post = ask(stack, "U0REQ", "付款 5 USD to nobody-here")  # found after the ack: the book
    assert post.text.startswith("'nobody-here' 不在受益人名册中（已有：")
    # The same typos from an English reader: the English sentences, unchanged.
    http, _ = ask(stack, "U0VIEW", "提现 １２．３４５ ＵＳＤ ｔｏ acme-us")
    assert ack_text(http).startswith("USD amounts have at most 2 decimals, but '12.345' has more.\nUsage:")


def test_role_refusals_in_chinese_and_english(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack, "U0VIEW")
    _, post = ask(stack, "U0VIEW", "提现 5 USD to acme-us")
    assert post.text == "`/whalet payout` 仅限申请人及以上角色使用；你的角色是查看者。"
    _, post = ask(stack, "U0VIEW", "历史 payouts --csv")
    assert post.text == "`history --csv` 仅限审批人及以上角色使用；你的角色是查看者。"
    _, post = ask(stack, "U0REQ", "freeze")
    assert post.text == "`/whalet freeze` is for admins and above; your role is requester."


def test_freeze_answers_the_admin_in_chinese_and_announces_in_the_channels_language(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack, "U0ADM")
    _, post = ask(stack, "U0ADM", "freeze")
    assert post.text == "已冻结。不会再发起或确认任何新的申请。"
    note = stack.fake.wait_for(
        lambda: next((m for m in stack.fake.messages("C0APPROVALS") if "froze payouts" in m.text), None)
    )
    assert note.text.startswith(":octagonal_sign: <@U0ADM> froze payouts")  # the channel: English
    _, post = ask(stack, "U0ADM", "unfreeze")
    assert post.text == "已解除冻结。"


def test_a_full_chinese_history_page_fits_slacks_limits(stack) -> None:  # type: ignore[no-untyped-def]
    for n in range(25):
        collect(stack, amount=f"{n + 1}.00", payer="深圳市某某跨境电子商务有限公司" * 6 + str(n))
    chinese(stack, "U0VIEW", tz="Europe/Berlin")
    _, post = ask(stack, "U0VIEW", "历史 collections --days 2")
    assert post.status == 200 and post.text == "最近 2 天的收款"
    text = body(post)
    assert "第 1 页，共 2 页，合计 25 条" in text and "下一页：`/whalet history collections --days 2 --page 2`" in text
    berlin = stack.services.clock.now().astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
    assert berlin is not None  # the records are minutes old: the offset of now (UTC+1, or +2 in summer)
    assert "时间为你的 Slack 时区（Europe/Berlin）。" in text and f"UTC+{int(berlin.total_seconds()) // 3600}" in text


def test_the_payout_forms_errors_and_answer_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack, "U0REQ")
    assert stack.slack_requests.command("U0REQ", "提现").status_code == 200
    view = stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views("U0REQ") if v.callback_id == "payout_modal"), None)
    )
    bad = stack.slack_requests.view_submission(
        "U0REQ", view.view, {"beneficiary": "BEN002", "amount": "12.345", "currency": "USD", "to_currency": "HKD"}
    ).json()["errors"]
    assert bad["amount"] == "USD 金额最多 2 位小数，但 '12.345' 超出了"
    assert bad["to_currency"].startswith("受益人 ") and bad["to_currency"].endswith(" 收款币种为 USD，不是 HKD。")
    good = stack.slack_requests.view_submission(
        "U0REQ", view.view, {"beneficiary": "BEN002", "amount": "250", "currency": "USD", "purpose": "样品"}
    )
    assert good.status_code == 200 and good.text == ""
    note = stack.fake.wait_for(lambda: next((e for e in stack.fake.ephemerals("U0REQ") if "提交审批" in e.text), None))
    assert "250.00 USD" in note.text and "需要 1 人审批" in note.text


def test_an_admins_status_with_parked_messages_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    from tests.commands.helpers import click
    from tests.notifications.test_outbox import _enqueue, _wait_state

    stack.fake.deny_channel("C0PRIVATE", "not_in_channel")
    row_id = _enqueue(stack, channel="C0PRIVATE", text="money received")
    _wait_state(stack, row_id, "parked", timeout=15)
    chinese(stack, "U0ADM")
    _, reply = ask(stack, "U0ADM", "状态")
    assert reply.status == 200
    text = body(reply)
    assert "重试 1 条搁置的消息" in text and "重试搁置的消息？" in text
    assert ":warning: 无法在 <#C0PRIVATE> 发消息：`not_in_channel`" in text and "1 条已搁置" in text
    status = {"channel": "C0DEMO", "ts": "1.000001", "blocks": reply.blocks}
    chinese(stack, "U0APP1")
    refused = click(stack, "U0APP1", status, "outbox_retry_parked")
    assert refused.text == "只有管理员可以把搁置的消息放回队列；你的角色是审批人。"
    stack.fake.allow_channel("C0PRIVATE")
    answer = click(stack, "U0ADM", status, "outbox_retry_parked")
    assert answer.text == "1 条搁置的消息已放回队列，稍后发出。"
