"""A person whose Slack speaks Chinese (users.info locale zh-CN), through the real app."""

from __future__ import annotations

import json
from typing import Any

from tests.commands.helpers import ask


def chinese(stack: Any, user: str = "U0REQ") -> None:
    stack.fake.users[user] = {"locale": "zh-CN", "tz": "Asia/Shanghai"}


def test_balance_in_whalets_chinese_words_and_english_for_others(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack)
    _, post = ask(stack, "U0REQ", "余额 USD")
    body = json.dumps(post.body, ensure_ascii=False)
    assert post.text == "U10001 的余额（B2C），USD"
    assert "可用" in body and "未上账金额" in body and "冻结金额" in body and "订单总额度" in body
    assert "available" not in body
    _, post = ask(stack, "U0VIEW", "balance USD")  # the stand-in's default: en-US
    assert post.text == "Balances of U10001 (B2C), USD" and "available" in json.dumps(post.body)


def test_a_shared_balance_follows_the_channel_not_the_person(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack)
    _, post = ask(stack, "U0REQ", "balance --share")
    assert post.response_type == "in_channel" and post.text.startswith("Balances of U10001")


def test_help_and_rate_in_chinese(stack) -> None:  # type: ignore[no-untyped-def]
    chinese(stack)
    _, post = ask(stack, "U0REQ", "帮助")
    assert "你的角色：*申请人*" in post.text and "向受益人申请提现（需审批）" in post.text
    assert "`/whalet 余额`" in post.text
    _, post = ask(stack, "U0REQ", "汇率 USD HKD")
    body = json.dumps(post.body, ensure_ascii=False)
    assert post.text.startswith("1 USD = ") and "汇率编号" in body and "有效期至" in body


def test_slack_not_answering_gives_the_default_locale(make_stack) -> None:  # type: ignore[no-untyped-def]
    from devkit.localstack import DEMO_CONFIG

    stack = make_stack(DEMO_CONFIG + '\n[ui]\ndefault_locale = "zh-Hans"\n')
    stack.fake.scopes.discard("users:read")  # an install from before the scope: missing_scope
    _, post = ask(stack, "U0VIEW", "balance USD")
    assert post.text == "U10001 的余额（B2C），USD"


def test_a_typo_in_a_first_command_is_refused_in_the_persons_language(stack) -> None:  # type: ignore[no-untyped-def]
    """Nothing known of U0REQ yet: the ack asks Slack (within a second) before refusing."""
    chinese(stack)
    http = stack.slack_requests.command("U0REQ", "余额 USD EUR")
    assert http.json()["text"].startswith("最多只能写一个币种，但收到了 'USD EUR'。\n用法：`/whalet balance")
    http = stack.slack_requests.command("U0VIEW", "balance USD EUR")  # the stand-in's en-US
    assert http.json()["text"].startswith("Give at most one currency, got 'USD EUR'.\nUsage: `/whalet balance")
