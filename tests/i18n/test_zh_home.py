"""The App Home, the modals and the batch file's refusals in the reader's language, through the
real app: a person whose Slack speaks Chinese (users.info locale zh-CN) next to English people,
whose surfaces stay as they were. The strict Slack stand-in refuses any view over Slack's limits."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from babel.numbers import list_currencies

from commands.batch import batch_modal
from commands.modals import (
    beneficiary_form_modal,
    beneficiary_pick_modal,
    loading_modal,
    message_modal,
    payout_modal,
    reject_modal,
)
from commands.request_again import request_again
from core.storage import home as home_rows
from devkit.localstack import LocalStack
from services import book
from services.slack.membership import report_at_startup
from tests.commands.helpers import ask, request_payout
from tests.commands.test_home_tab import home_click, home_of, open_home, published, text
from whalet.models import BeneficiaryField

CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese(stack: LocalStack, user: str) -> None:
    stack.fake.users[user] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}


# --- the App Home -----------------------------------------------------------------------------


def test_a_chinese_approver_sees_the_home_in_chinese_and_english_people_as_before(stack: LocalStack) -> None:
    chinese(stack, "U0APP1")
    request_id, _ = request_payout(stack)
    home = text(open_home(stack, "U0APP1"))
    for said in (
        '"易鲸提现"',
        "你的角色：审批人。",
        "*待你审批*（1）",
        "批准提现",
        "*U10001 的余额（B2C）*\\n还没有快照：点击刷新向易鲸查询。",
        "刷新余额",
        "*余额摘要*\\n• <#C0FINANCE> 每天 09:00（Asia/Shanghai）",
        "*你的申请*",
        "你还没有申请。",
    ):
        assert said in home, said
    assert request_id in home and "1,200.50 USD" in home
    for english in ("Waiting for you", "Your role", "Refresh balances", "No snapshot yet", "every day at"):
        assert english not in home
    other = text(open_home(stack, "U0APP2"))  # the stand-in's default person: en-US
    assert "*Waiting for you* (1)" in other and "Your role: approver." in other and "Refresh balances" in other
    assert "No snapshot yet: press Refresh to ask Whalet." in other and "待你审批" not in other


def test_a_chinese_requester_sees_their_requests_and_the_freeze_banner_in_chinese(stack: LocalStack) -> None:
    chinese(stack, "U0REQ")
    request_id, _ = request_payout(stack)
    home = text(open_home(stack, "U0REQ"))
    assert "*你的申请*（最近 10 条）" in home and request_id in home and "等待审批" in home
    assert "没有等待你审批的申请。" in home and "你的角色：申请人。" in home
    ask(stack, "U0ADM", "freeze")
    frozen = text(open_home(stack, "U0REQ"))
    assert ":octagonal_sign: *提现已被 <@U0ADM> 冻结*（自 <!date^" in frozen
    assert "不能发起新申请，也不能审批" in frozen and "`/whalet unfreeze`" in frozen
    assert "*Payouts are frozen* by <@U0ADM> since <!date^" in text(open_home(stack, "U0APP1"))


def test_the_balance_snapshot_and_its_refresh_in_chinese(stack: LocalStack) -> None:
    chinese(stack, "U0VIEW")
    view = open_home(stack, "U0VIEW")
    open_home(stack, "U0APP1")
    before = published(stack, "U0VIEW")
    assert stack.slack_requests.view_action("U0VIEW", view, "home_refresh_balances").status_code == 200
    stack.fake.wait_for(lambda: published(stack, "U0VIEW") > before)
    refreshed = text(home_of(stack, "U0VIEW"))
    assert "*USD*  可用 *" in refreshed and "· 未上账金额 " in refreshed and "· 冻结金额 " in refreshed
    assert "快照时间 <!date^" in refreshed and "（不到一分钟前）。" in refreshed
    assert "available" not in refreshed
    again = home_click(stack, "U0VIEW", home_of(stack, "U0VIEW"), "home_refresh_balances")
    assert ":speech_balloon: 余额在一分钟内刚刷新过；显示的就是那次的快照。" in text(again)
    english = home_click(stack, "U0APP1", home_of(stack, "U0APP1"), "home_refresh_balances")
    assert "The balances were refreshed less than a minute ago; this is that snapshot." in text(english)
    assert "*USD*  available *" in text(english) and "(less than a minute ago)." in text(english)


def test_the_largest_home_in_chinese_fits_slack(stack: LocalStack) -> None:
    """Nine requests waiting (eight with buttons), ten of one's own, a snapshot of fifty currencies:
    the stand-in refuses a Home over Slack's limits, so publishing it is the check."""
    chinese(stack, "U0APP1")
    chinese(stack, "U0REQ")
    made = [request_payout(stack, f'payout {10 + n} USD to acme-us for "Invoice {n}"')[0] for n in range(10)]
    currencies = sorted(c for c in list_currencies() if len(c) == 3 and c.isalpha())[:50]
    rows = [{"currency": c, "available": "1234567.5", "pending": "0", "frozen": None} for c in currencies]
    taken = (stack.services.clock.now() - timedelta(hours=3)).isoformat()
    with stack.services.store.transaction() as db:
        home_rows.replace_balances(db, "U10001", "B2C", rows, taken)
    approver = text(open_home(stack, "U0APP1"))
    assert "*待你审批*（10）" in approver and "…另有 2 个：`/whalet pending` 会列出全部。" in approver
    assert approver.count("批准提现") == 8 and "（3 小时前）；另有 5 种币种见 `/whalet balance`。" in approver
    assert "*AED*  可用 *1,234,567.50 AED* · 未上账金额 0.00 AED · 冻结金额 —" in approver
    requester = text(open_home(stack, "U0REQ"))
    assert "*你的申请*（最近 10 条）" in requester and all(r in requester for r in made)
    english = text(open_home(stack, "U0APP2"))
    assert "…and 2 more: `/whalet pending` lists them all." in english
    assert "(3 h ago); 5 more currencies in `/whalet balance`." in english


# --- modals ----------------------------------------------------------------------------------


def _every_modal(stack: LocalStack, locale: str | None) -> list[dict[str, Any]]:
    entries = book.entries(stack.services)
    field = BeneficiaryField(name="accountNo", label="Account number", required=True, max_length=35, pattern="^\\d+$")
    return [
        payout_modal(entries, "f1", locale),
        payout_modal(entries * 40, "f2", locale),  # over 100 entries: the search
        reject_modal("Pay out 1,200.50 USD to Acme?", "f3", locale),
        loading_modal("添加受益人" if locale else "Add a beneficiary", locale=locale),
        message_modal("批量提现" if locale else "Batch payout", "…", locale),
        beneficiary_pick_modal([("HK", "HKD"), ("US", "USD")], "f4", locale),
        beneficiary_form_modal("HK", "HKD", [field], "f5", locale),
        batch_modal("f6", 500, locale),
    ]


def test_every_modal_in_chinese_fits_slack_and_english_is_unchanged(stack: LocalStack) -> None:
    chinese_views = _every_modal(stack, "zh-Hans")
    titles = [v["title"]["text"] for v in chinese_views]
    assert titles == [
        "申请提现",
        "申请提现",
        "拒绝申请",
        "添加受益人",
        "批量提现",
        "添加受益人",
        "添加受益人",
        "批量提现",
    ]
    for view in chinese_views:
        for key in ("title", "submit", "close"):
            if key in view:
                shown = view[key]["text"]
                assert len(shown) <= 24 and not shown.endswith("…") and CJK.search(shown), (key, shown)

        async def open_it(view: dict[str, Any] = view) -> None:  # the strict stand-in checks Slack's limits
            await stack.services.slack.views_open(trigger_id=stack.fake.new_trigger_id("U0REQ"), view=view)

        stack.run(open_it())
    payout_zh = json.dumps(chinese_views[0], ensure_ascii=False)
    for said in (
        "受益人",
        "从列表中选择",
        "币种（付出）",
        "受益人收款币种",
        "留空则使用受益人自己的币种。",
        "提交审批",
        "取消",
    ):
        assert said in payout_zh, said
    assert "列表中共 120 个：输入文字搜索。" in json.dumps(chinese_views[1], ensure_ascii=False)
    assert "*拒绝：* Pay out" in json.dumps(chinese_views[2], ensure_ascii=False)
    english = _every_modal(stack, None)
    assert [v["title"]["text"] for v in english] == [
        "Request a payout",
        "Request a payout",
        "Reject request",
        "Add a beneficiary",
        "Batch payout",
        "Add a beneficiary",
        "Add a beneficiary",
        "Batch payout",
    ]
    assert english[0]["submit"]["text"] == "Send for approval" and english[0]["close"]["text"] == "Cancel"
    assert "Asking Whalet…" in json.dumps(english[3], ensure_ascii=False)
    assert "正在询问易鲸…" in json.dumps(chinese_views[3], ensure_ascii=False)


def _modal(stack: LocalStack, user: str, callback_id: str, before: frozenset[str] | set[str] = frozenset()) -> Any:
    return stack.fake.wait_for(
        lambda: next((v for v in stack.fake.views(user) if v.callback_id == callback_id and v.id not in before), None)
    )


def test_a_chinese_person_adds_a_beneficiary_with_chinese_forms_and_errors(stack: LocalStack) -> None:
    chinese(stack, "U0REQ")
    assert stack.slack_requests.command("U0REQ", "受益人 add").status_code == 200
    pick = _modal(stack, "U0REQ", "beneficiary_pick_modal")
    assert pick.view["title"]["text"] == "添加受益人" and pick.view["submit"]["text"] == "下一步"
    refused = stack.slack_requests.view_submission("U0REQ", dict(pick.view, id=pick.id), {"where": ""})
    assert refused.json()["errors"] == {"where": "请选择国家和币种。"}
    answer = stack.slack_requests.view_submission("U0REQ", dict(pick.view, id=pick.id), {"where": "HK:HKD"})
    assert answer.json()["response_action"] == "update" and answer.json()["view"]["title"]["text"] == "添加受益人"
    form = _modal(stack, "U0REQ", "beneficiary_form_modal")
    shown = json.dumps(form.view, ensure_ascii=False)
    assert "新受益人：国家 *HK*，收款币种 *HKD*。" in shown and "机器人列表中的昵称" in shown
    assert form.view["submit"]["text"] == "发送给易鲸"
    filled = {
        "f_accountName": "Kowloon Parts",
        "f_accountNo": "12",
        "f_bankName": "HSBC",
        "f_swiftCode": "HSBCHKHHXXX",
        "f_bankCode": "004",
    }
    bad = stack.slack_requests.view_submission("U0REQ", dict(form.view, id=form.id), {"nickname": "Bad Name", **filled})
    errors = bad.json()["errors"]
    assert errors["nickname"] == "请使用小写字母、数字和单个短横线，例如 acme-hk。"
    assert errors["f_accountNo"].startswith("格式不符合要求（")
    taken = stack.slack_requests.view_submission(
        "U0REQ", dict(form.view, id=form.id), {"nickname": "acme-us", **filled}
    )
    assert taken.json()["errors"]["nickname"] == "'acme-us' 已在列表中。"
    good = stack.slack_requests.view_submission(
        "U0REQ", dict(form.view, id=form.id), {"nickname": "kowloon-parts", **filled, "f_accountNo": "123456789"}
    )
    assert good.status_code == 200 and good.text == ""
    note = stack.fake.wait_for(
        lambda: next((e.text for e in stack.fake.ephemerals("U0REQ") if "kowloon-parts" in e.text), None)
    )
    assert note.startswith("已提交到易鲸：*kowloon-parts*（Kowloon Parts，") and "30 天内" in note
    _, post = ask(stack, "U0REQ", "受益人 DE")
    assert post.text == "DE 的 1 个受益人"
    _, post = ask(stack, "U0VIEW", "beneficiaries DE")
    assert post.text == "1 beneficiary in DE"


def test_the_payout_modals_validation_errors_follow_the_person(stack: LocalStack) -> None:
    chinese(stack, "U0REQ")
    assert stack.slack_requests.command("U0REQ", "提现").status_code == 200
    view = _modal(stack, "U0REQ", "payout_modal")
    bad = stack.slack_requests.view_submission(
        "U0REQ", view.view, {"beneficiary": "BEN002", "amount": "12.345", "currency": "USD", "to_currency": "HKD"}
    )
    errors = bad.json()["errors"]
    assert CJK.search(errors["amount"]) and CJK.search(errors["to_currency"]), errors
    assert "at most 2 decimals" not in errors["amount"]


# --- the batch file ----------------------------------------------------------------------------


def _send_batch(stack: LocalStack, user: str, csv_text: str, name: str = "batch.csv") -> tuple[Any, str, str]:
    """`/whalet 付款 batch` with the file picked; (the modal as opened, the outcome's title, its text)."""
    before = {v.id for v in stack.fake.views(user)}
    assert stack.slack_requests.command(user, "付款 batch").status_code == 200
    opened = _modal(stack, user, "batch_payout_modal", before)
    picked = stack.fake.add_user_file(user, name, csv_text.encode("utf-8"))
    answer = stack.slack_requests.view_submission(user, opened, {"file": [picked], "note": ""})
    assert answer.status_code == 200, answer.text
    assert answer.json()["view"]["blocks"][0]["text"]["text"] in (f"正在检查 {name}…", f"Checking {name}…")
    done = stack.fake.wait_for(
        lambda: next(
            (
                v
                for v in stack.fake.views(user)
                if v.id == opened.id
                and v.view["title"]["text"] in ("批量提现未发送", "批量提现已提交", "Batch not sent", "Batch sent")
            ),
            None,
        ),
        timeout=20,
    )
    return opened, done.view["title"]["text"], str(done.view["blocks"][0]["text"]["text"])


BAD = (
    "beneficiary,amount,currency\n"
    "acme-us,100,USD\n"  # row 2: fine
    "nobody,100,USD\n"  # row 3: not in the book
    "acme-us,100\n"  # row 4: a field short
    "acme-hk,100,HKD,extra\n"  # row 5: a field too many
    + "".join(f"ghost-{n},1,USD\n" for n in range(22))  # rows 6-27: 22 more, so 25 problems
)


def test_a_bad_batch_file_is_refused_row_by_row_in_chinese(stack: LocalStack) -> None:
    chinese(stack, "U0REQ")
    opened, title, said = _send_batch(stack, "U0REQ", BAD)
    modal = json.dumps(opened.view, ensure_ascii=False)
    assert opened.view["title"]["text"] == "批量提现" and opened.view["submit"]["text"] == "检查并发送"
    assert "最多 500 笔付款、1 MB" in modal and "付款文件（CSV）" in modal and "给审批人的备注" in modal
    assert title == "批量提现未发送"
    lines = said.split("\n")
    assert lines[0] == "*batch.csv 未发送*（25 个问题）；未创建任何内容："
    assert lines[1] == "• 第 3 行：'nobody' 不在受益人列表中（见 `/whalet beneficiaries`）。"
    assert lines[2] == "• 第 4 行：有 2 个字段，但表头有 3 列。"
    assert lines[3] == "• 第 5 行：有 4 个字段，但表头有 3 列。"
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "…另有 5 条。"
    assert "Row " not in said and "more." not in said
    _, title, said = _send_batch(stack, "U0APP1", BAD)  # an English person, the same file
    assert title == "Batch not sent" and said.startswith("*batch.csv was not sent* (25 problems); nothing was created:")
    assert "• Row 3: 'nobody' is not in the beneficiary book" in said and said.endswith("…and 5 more.")


def test_whole_file_refusals_and_a_sent_batch_in_chinese(stack: LocalStack) -> None:
    chinese(stack, "U0REQ")
    _, _, said = _send_batch(stack, "U0REQ", "who,amount\nacme-us,1\n")
    assert "• 表头缺少 beneficiary, currency（可用列：beneficiary, amount, currency" in said
    assert "• 表头中有本机器人不认识的列：who。" in said
    _, _, said = _send_batch(stack, "U0REQ", "beneficiary,amount,currency\n")
    assert said.endswith("• 文件只有表头，没有付款。")
    _, title, said = _send_batch(stack, "U0REQ", "beneficiary,amount,currency\nacme-us,1200.50,USD\nBEN002,300,USD\n")
    assert title == "批量提现已提交"
    assert said.startswith("已在 <#C0APPROVALS> 提交审批：2 lines, 1,500.50 USD") and "需要 1 个审批" in said
    assert "每一行都在卡片的讨论串中。" in said


# --- request again, membership alerts ---------------------------------------------------------


def test_request_again_answers_in_the_clickers_language(stack: LocalStack) -> None:
    chinese(stack, "U0APP1")
    request_id, _ = request_payout(stack)
    said = stack.run(request_again(stack.services, "U0APP1", request_id))
    assert said == "只有发起此申请的 <@U0REQ> 才能重新申请。"
    assert stack.run(request_again(stack.services, "U0APP1", "PO-NOPE")) == "此审批申请不存在（或已不存在）。"
    assert stack.run(request_again(stack.services, "U0APP2", request_id)) == (
        "Only <@U0REQ>, who asked for this one, can request it again."
    )


def test_a_membership_alert_in_the_alerts_channels_language(stack: LocalStack) -> None:
    stack.fake.add_channel("C0COLLECT", "collections", member=False)
    services = stack.services
    stack.run(report_at_startup(services.slack, ["C0COLLECT"], services.alerts, locale="zh-Hans"))
    alert = stack.fake.wait_for(
        lambda: next((m.text for m in stack.fake.messages("C0ALERTS") if "C0COLLECT" in m.text), None)
    )
    assert alert.startswith(":warning: 易鲸机器人 whalet-bot 无法可靠使用 <#C0COLLECT>（not_in_channel）：")
    assert "邀请 @whalet 加入 #collections：在频道中输入 /invite @whalet" in alert
