"""The balance digest in Chinese: a channel set to zh-Hans gets its digest (title dated 2026年12月5日,
table, totals, parts, chart title) in Chinese, an English channel's stays as it was, and
`/whalet digest …` answers a zh-CN person in Chinese. Real app, signed requests, the Whalet
sandbox and the strict Slack stand-in, which refuses Block Kit over Slack's limits: the densest
digest (2,400 balances, Chinese user names) is sent whole in Chinese too."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.clock import FrozenClock
from core.i18n import translator
from devkit.localstack import DEMO_CONFIG, LocalStack
from devkit.slack_standin import Message
from notifications.digest_data import BalanceRow, DigestContent, Lookup
from notifications.digest_render import render
from notifications.digest_totals import Rates, UserTotal
from services.slack.message_size import BLOCK_TEXT_BUDGET
from tests.notifications.test_digest_sizes import Seeded, seed, wait_until_sent, within_limits
from tests.notifications.test_digest_sizes import rows_in_thread as english_rows_in_thread
from tests.notifications.test_digest_slack import FINANCE, TIMEOUT, chart_of, with_users
from whalet.money import Money

ZH_FINANCE = '\n[ui]\nchannels = { C0FINANCE = "zh-Hans" }\n'
ROW = re.compile(
    r"^• (?P<currency>[A-Z]{3}) (?P<source>B2C|B2B|Acquiring)：可用 \*(?P<available>[0-9,.]+)\*"
    r"(?: · 未上账金额 (?P<pending>[0-9,.]+))?$"
)
HEADING = re.compile(r"^\*(?P<name>[^*]+)\* \(`(?P<uid>U[0-9]+)`\) · 合计 ≈ \*[0-9,.]+ USD\*(?:（续）)?$")


def body(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def chinese(stack: LocalStack, user: str) -> None:
    stack.fake.users[user] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}


def digest_now(stack: LocalStack, user: str = "U0REQ", prefix: str = "易鲸日报") -> Message:
    assert stack.slack_requests.command(user, "digest now", channel_id=FINANCE).status_code == 200
    return stack.fake.wait_for(
        lambda: next(
            (m for m in stack.fake.messages(FINANCE) if not m.is_reply and m.text.startswith(prefix)),
            None,
        ),
        timeout=TIMEOUT,
    )


def replies(stack: LocalStack, needle: str) -> list[str]:
    return [r.text for r in stack.fake.responses() if needle in r.text]


def shanghai_day(clock: FrozenClock) -> datetime:
    return clock.now().astimezone(ZoneInfo("Asia/Shanghai"))


def test_a_channel_in_chinese_gets_a_chinese_digest_dated_the_chinese_way(
    make_stack: Callable[..., LocalStack],
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(DEMO_CONFIG + ZH_FINANCE, clock=clock)
    chinese(stack, "U0REQ")
    parent = digest_now(stack)
    day = shanghai_day(clock)  # the schedule of #finance runs in Asia/Shanghai
    chinese_date = f"{day.year}年{day.month}月{day.day}日"
    assert parent.blocks[0]["text"]["text"] == f"📊 易鲸日报，{chinese_date}"
    assert parent.text.startswith(f"易鲸日报 {chinese_date}：") and "个等待审批" in parent.text
    text = body(parent)
    assert "*Acme Trading Ltd* (`U10001`) · 合计 ≈ *" in text
    assert re.search(r"\*总计 ≈ [0-9,.]+ USD\*（2 个易鲸用户）", text), text
    assert "个余额没有更早的日报可供比较。" in text
    assert "可用 *" in text and "未上账金额 " in text and "冻结 " in text
    assert "*收款（最近 24 小时）：*" in text and "*已完成的提现和付款（最近 24 小时）：*" in text
    assert "*等待审批或确认：* 0" in text and "*未完成的补充资料请求：* 0" in text
    assert "合计：可用余额按易鲸汇率折算为 USD：1 " in text and "生成于 <!date^" in text
    for english in ("Whalet digest", "available", "Grand total", "since the last digest", "Generated"):
        assert english not in text, english
    # The person who asked hears back in their own language; the chart follows the channel.
    stack.fake.wait_for(lambda: replies(stack, "日报正在发往 <#C0FINANCE>。"), timeout=TIMEOUT)
    chart = chart_of(stack, parent)
    assert chart.title == "余额，最近 30 天" and chart.alt_txt == "最近 30 天日报中各币种的可用余额"


def test_an_english_channel_keeps_its_english_digest_whoever_asks(make_stack: Callable[..., LocalStack]) -> None:
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(clock=clock)
    chinese(stack, "U0REQ")
    parent = digest_now(stack, prefix="Whalet digest")
    day = shanghai_day(clock).date().isoformat()
    assert parent.blocks[0]["text"]["text"] == f"📊 Whalet digest, {day}"
    assert parent.text.startswith(f"Whalet digest {day}: ")
    text = body(parent)
    assert "*Grand total ≈ " in text and "across 2 Whalet users" in text and "易鲸" not in text
    assert "Totals: available balances in USD at Whalet's rates: 1 " in text
    stack.fake.wait_for(lambda: replies(stack, "日报正在发往 <#C0FINANCE>。"), timeout=TIMEOUT)  # the reply: theirs
    chart = chart_of(stack, parent)
    assert chart.title == "Balances, last 30 days"
    assert chart.alt_txt == "Available balances per currency over the last 30 days of digests"


def test_schedule_list_and_off_answer_a_chinese_person_in_chinese(stack: LocalStack) -> None:
    chinese(stack, "U0ADM")
    chinese(stack, "U0VIEW")
    text = "digest schedule 18:30 Europe/London <#C0TREASURY|treasury>"
    stack.slack_requests.command("U0VIEW", text)
    [refused] = stack.fake.wait_for(lambda: replies(stack, "只有管理员可以这样做"), timeout=TIMEOUT)
    assert refused.endswith("你可以在本频道运行 `/whalet digest now`。") and "Only admins" not in refused
    stack.slack_requests.command("U0ADM", text)
    stack.fake.wait_for(
        lambda: replies(stack, "已安排：每天 18:30 Europe/London 在 <#C0TREASURY> 发布日报。"), timeout=TIMEOUT
    )
    stack.slack_requests.command("U0ADM", text)
    stack.fake.wait_for(
        lambda: replies(stack, "<#C0TREASURY> 已有每天 18:30 Europe/London 的日报计划。"), timeout=TIMEOUT
    )
    stack.slack_requests.command("U0ADM", "digest list")
    [listing] = stack.fake.wait_for(lambda: replies(stack, "日报计划："), timeout=TIMEOUT)
    assert listing.splitlines() == [
        "日报计划：",
        "• 每天 09:00 Asia/Shanghai，<#C0FINANCE>（配置文件）",
        "• 每天 18:30 Europe/London，<#C0TREASURY>（在 Slack 中添加）",
    ]
    stack.slack_requests.command("U0ADM", "digest off <#C0TREASURY|treasury>")
    stack.fake.wait_for(lambda: replies(stack, "已删除 <#C0TREASURY> 的 1 个日报计划。"), timeout=TIMEOUT)
    stack.slack_requests.command("U0ADM", "digest off <#C0FINANCE|finance>")
    [kept] = stack.fake.wait_for(lambda: replies(stack, "来自配置文件"), timeout=TIMEOUT)
    assert kept == (
        "<#C0FINANCE> 没有用 `/whalet digest schedule` 设置的日报计划。"
        " 09:00 Asia/Shanghai 来自配置文件，请在配置文件中删除。"
    )
    refusal = stack.slack_requests.command("U0ADM", "digest weekly")  # in the ack, in the language known by now
    assert refusal.json()["text"].startswith("“weekly”不是日报操作；请使用 `now`、`schedule`、`off` 或 `list`")
    wrong_zone = stack.slack_requests.command("U0ADM", "digest schedule 09:00 Asia/Shanghia <#C0FINANCE|finance>")
    assert wrong_zone.json()["text"].startswith("'Asia/Shanghia' 不是 IANA 时区（例如 \"Asia/Shanghai\"）")
    wrong_time = stack.slack_requests.command("U0ADM", "digest schedule 9am Asia/Shanghai <#C0FINANCE|finance>")
    assert wrong_time.json()["text"].startswith('\'9am\' 不是 "HH:MM" 格式的时间（例如 "09:00"）')
    # Someone whose Slack speaks English still reads English.
    stack.slack_requests.command("U0REQ", "digest list")
    stack.fake.wait_for(
        lambda: replies(stack, "Digest schedules:\n• 09:00 Asia/Shanghai in <#C0FINANCE> (config file)"),
        timeout=TIMEOUT,
    )


def rows_in_thread(replies: list[Message]) -> Seeded:
    """Every Chinese balance line of the replies, under the (Chinese) heading it sits under."""
    return english_rows_in_thread(replies, HEADING, ROW)


def test_a_chinese_digest_of_2400_balances_is_sent_whole_within_slacks_limits(
    make_stack: Callable[..., LocalStack],
) -> None:
    users = [(f"U6{n:04d}", f"深圳市鲸鱼跨境电子商务进出口贸易有限公司第{n:03d}分公司") for n in range(100)]
    stack = make_stack(with_users(users) + ZH_FINANCE)
    seeded = seed(stack, users, ("USD", "EUR", "GBP", "HKD", "CNY", "JPY", "SGD", "AUD"))
    assert len(seeded) == 2400
    parent = digest_now(stack)
    wait_until_sent(stack)
    thread = [m for m in stack.fake.thread(FINANCE, parent.ts) if m.is_reply and m.text.startswith("易鲸日报")]
    for message in [parent, *thread]:
        within_limits(message)
    assert [c.error for c in stack.fake.calls("chat.postMessage") if c.params.get("channel") == FINANCE] == [None] * (
        1 + len(thread)
    )
    text = body(parent)
    assert "完整表格（2,400 个余额）见下方消息列。" in text and "2,400 个余额没有更早的日报可供比较。" in text
    assert re.search(r"\*总计 ≈ [0-9,.]+ USD\*（100 个易鲸用户）", text)
    assert 1 < len(thread) <= 20
    for index, reply in enumerate(thread, start=1):
        assert reply.blocks[0]["elements"][0]["text"].endswith(f"（第 {index} 部分，共 {len(thread)} 部分）")
    assert rows_in_thread(thread) == seeded  # every row once, whole, under its own user
    assert any("（续）" in body(reply) for reply in thread[1:])  # a reply starting inside a user's rows


def test_the_densest_chinese_digest_splits_by_the_chinese_text_it_sends() -> None:
    """Rendered directly: long Chinese names and every row with pending, frozen and a change. The
    table is measured as written in Chinese, so each part keeps within the bot's budget."""
    now = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    name = "深圳前海易鲸跨境电子商务进出口贸易有限公司（华南区域结算中心）" * 2
    rows = [
        BalanceRow(
            user_id=f"U7{n:04d}",
            user_name=f"{name}{n}",
            fund_source=source,
            currency=currency,
            available=Decimal("123456789.12"),
            pending=Decimal("98765.43"),
            frozen=Decimal("4321.09"),
            change=Decimal("-1234.56"),
        )
        for n in range(120)
        for source in ("B2C", "B2B", "Acquiring")
        for currency in ("USD", "EUR", "GBP", "HKD", "CNY", "JPY", "SGD")
    ]
    totals = [
        UserTotal(f"U7{n:04d}", f"{name}{n}", Money(Decimal("999999999.99"), "USD"), change=Decimal("5"))
        for n in range(120)
    ]
    content = DigestContent(
        channel="C0FINANCE",
        now=now,
        balances=rows,
        problems=[],
        collections={},
        payouts={},
        pending=[],
        todos=[],
        lookups=[],
        reconcile_hours=24,
        totals=totals,
        rates=Rates("USD"),
    )
    message = render(content, "2026-12-05", translator("zh-Hans"))
    assert message.main.blocks[0]["text"]["text"] == "📊 易鲸日报，2026年12月5日"
    assert len(message.thread) > 1
    for part in [message.main, *message.thread]:
        assert len(part.blocks) <= 50
        assert _text(part.blocks) <= BLOCK_TEXT_BUDGET, _text(part.blocks)
    lines = [line for part in message.thread for b in part.blocks[1:] for line in b["text"]["text"].split("\n")]
    assert sum(line.startswith("• ") for line in lines) == len(rows)
    assert lines[1].endswith("可用 *123,456,789.12* · 未上账金额 98,765.43 · 冻结 4,321.09 · ▼ −1,234.56")


def _text(blocks: object) -> int:
    from devkit.slack_standin.rules import blocks_text

    return blocks_text(blocks)


def test_every_closing_section_reads_in_chinese_and_the_same_content_in_english_as_before() -> None:
    """What waits for someone, the loose ends and the totals' caveats: rendered from one content
    in both languages (the English exactly as the digest always wrote it)."""
    now = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    rows = [
        BalanceRow("U10001", "华南贸易", "B2C", "USD", Decimal("1200.5"), Decimal("3"), Decimal("0"), Decimal("0")),
        BalanceRow("U10001", "华南贸易", "B2C", "JPY", Decimal("5000"), Decimal("0"), Decimal("7"), None),
    ]
    content = DigestContent(
        channel="C0FINANCE",
        now=now,
        balances=rows,
        problems=["Globex B2B balances: Whalet did not answer"],
        collections={"USD": (3, Decimal("1500.25"))},
        payouts={},
        pending=[
            {"amount": "10.00", "currency": "USD", "beneficiary_name": "Acme", "requester": "U0REQ", "state": "PENDING"}
        ],
        todos=[{"replenish_id": "RP1", "deadline": "2026-12-01T00:00:00+00:00", "owner": None}],
        lookups=[Lookup("r1", "ORD1", Money(Decimal("9.5"), "USD"), now, "SUCCESS")],
        reconcile_hours=24,
        totals=[UserTotal("U10001", "华南贸易", Money(Decimal("1200.50"), "USD"), left_out=("JPY",))],
        rates=Rates("USD", missing={"JPY": "no quote"}),
    )
    zh = body_of(render(content, "2026-12-05", translator("zh-Hans")).main.blocks)
    for sentence in (
        "📊 易鲸日报，2026年12月5日",
        "*总计 ≈ 1,200.50 USD*（1 个易鲸用户），不含 JPY（无汇率）",
        "1 个余额没有更早的日报可供比较。",
        "*华南贸易* (`U10001`) · 合计 ≈ *1,200.50 USD*，不含 JPY（无汇率）",
        "可用 *1,200.50 USD*\\n未上账金额 3.00 USD · 冻结 0.00 USD\\n较上次日报无变化",
        "可用 *5,000 JPY*\\n未上账金额 0 JPY · 冻结 7 JPY",
        "⚠️ Globex B2B balances: Whalet did not answer",
        "*收款（最近 24 小时）：* 3 笔 · 1,500.25 USD",
        "*已完成的提现和付款（最近 24 小时）：* 无",
        "*等待审批或确认：* 1\\n• <@U0REQ> 申请付给 Acme 10.00 USD（待审批）",
        "*未完成的补充资料请求：* 1\\n• ⚠️ 已逾期 `RP1` 截止 <!date^",
        "，*尚无人认领*",
        "🔎 *1 笔已确认的提现在 24 小时后仍无最终结果：*\\n• `ORD1` 9.50 USD（确认于 <!date^",
        "：易鲸显示 *SUCCESS*，但未收到结果通知",
        "合计：可用余额按易鲸汇率折算为 USD：无 JPY 汇率（no quote）。",
    ):
        assert sentence in zh, sentence
    en = body_of(render(content, "2026-12-05").main.blocks)
    for sentence in (
        "📊 Whalet digest, 2026-12-05",
        "*Grand total ≈ 1,200.50 USD* across 1 Whalet user, without JPY (no rate)",
        "1 balance had no earlier digest to compare with.",
        "*华南贸易* (`U10001`) · total ≈ *1,200.50 USD* without JPY (no rate)",
        "*1,200.50 USD* available\\npending 3.00 USD · frozen 0.00 USD\\nno change since the last digest",
        "*Collections, last 24 h:* 3 · 1,500.25 USD",
        "*Payouts and payments completed, last 24 h:* none",
        "*Waiting for approval or confirmation:* 1\\n• 10.00 USD to Acme requested by <@U0REQ> (pending)",
        "*Open document requests:* 1\\n• ⚠️ OVERDUE `RP1` due <!date^",
        ", *nobody has taken it*",
        "🔎 *1 confirmed payout(s) without a final result after 24 h:*\\n• `ORD1` 9.50 USD (confirmed <!date^",
        "): Whalet says *SUCCESS*, but no result notification arrived",
        "Totals: available balances in USD at Whalet's rates: no JPY rate (no quote).",
    ):
        assert sentence in en, sentence


def body_of(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)
