"""Chinese input: full-width characters (NFKC) and the Chinese names of sub-commands."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from commands.payout import parse_amount_and_currency
from services.slack.subcommands import UsageError, find
from services.slack.tokenizer import tokenize
from tests.commands.helpers import ask, card_for


def test_full_width_digits_letters_quotes_and_spaces_become_ascii() -> None:
    text = "付款\u3000１２００．５０ ＵＳＤ　ｔｏ　ａｃｍｅ－ｕｓ ｆｏｒ ＂March invoices＂"
    assert tokenize(text) == ["付款", "1200.50", "USD", "to", "acme-us", "for", "March invoices"]
    assert tokenize("for 「三月 货款」 ref 『R 7』") == ["for", "三月 货款", "ref", "R 7"]


def test_other_scripts_digits_stay_refused_after_normalising() -> None:
    words = tokenize("١٢٠٠ USD")
    assert words == ["١٢٠٠", "USD"]
    with pytest.raises(UsageError, match="not an amount"):
        parse_amount_and_currency(*words)
    assert parse_amount_and_currency(*tokenize("１，２００ ｕｓｄ")).amount == Decimal("1200")


def test_a_typed_full_width_mention_stays_text() -> None:
    """Slack escapes a typed < as &lt;; a full-width ＜ normalised after unescaping is not a mention."""
    assert tokenize("＜@U0ADM|x＞") == ["<@U0ADM|x>"]


@pytest.mark.parametrize(
    "alias, name",
    [
        ("余额", "balance"),
        ("汇率", "rate"),
        ("提现", "payout"),
        ("付款", "payout"),
        ("支付", "pay"),
        ("待审批", "pending"),
        ("帮助", "help"),
        ("历史", "history"),
        ("受益人", "beneficiaries"),
        ("状态", "status"),
    ],
)
def test_chinese_names_are_aliases_of_the_sub_commands(alias: str, name: str) -> None:
    entry = find(alias)
    assert entry is not None and entry.name == name


def test_a_full_width_payout_under_its_chinese_name_is_sent_for_approval(stack) -> None:  # type: ignore[no-untyped-def]
    _, post = ask(stack, "U0REQ", "付款　１２００　ＵＳＤ　ｔｏ　ａｃｍｅ－ｕｓ　ｆｏｒ　＂三月货款＂")
    assert post is not None and "Sent for approval" in post.text, post and post.text
    request_id = post.text.split("Request `")[1].split("`")[0]
    card = card_for(stack, request_id)
    assert "1,200.00 USD" in json.dumps(card.blocks, ensure_ascii=False)
    assert "三月货款" in json.dumps(card.blocks, ensure_ascii=False)


def test_arabic_indic_digits_are_refused_in_the_ack(stack) -> None:  # type: ignore[no-untyped-def]
    http, post = ask(stack, "U0REQ", "提现 ١٢٠٠ USD to acme-us")
    assert post is None and "is not an amount" in http.text
    assert stack.operator.get("/sandbox/payouts").json()["records"] == []


def test_balance_and_rate_by_their_chinese_names(stack) -> None:  # type: ignore[no-untyped-def]
    _, post = ask(stack, "U0VIEW", "余额 ＵＳＤ")
    assert "USD" in json.dumps(post.body) and "Balances of" in json.dumps(post.body, ensure_ascii=False)
    _, post = ask(stack, "U0VIEW", "汇率 ｕｓｄ ｈｋｄ")
    assert post.text.startswith("1 USD = ") and "HKD" in post.text
