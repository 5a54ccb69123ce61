from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import args
from services.slack.subcommands import UsageError


def test_amount_is_exact_decimal_with_currency_digits():
    money = args.amount("1200.5", "USD")
    assert money.amount == Decimal("1200.50") and str(money.amount) == "1200.50"
    assert args.amount("1,200.50", "USD").amount == Decimal("1200.50")
    assert args.amount("1200", "JPY").amount == Decimal("1200")
    assert args.amount("1.125", "KWD").amount == Decimal("1.125")


@pytest.mark.parametrize(
    "word,cur,needle",
    [
        ("12.345", "USD", "at most 2 decimals"),
        ("10.5", "JPY", "no decimals"),
        ("1.2345", "KWD", "at most 3 decimals"),
        ("0", "USD", "above zero"),
        ("-5", "USD", "not an amount"),
        ("1e3", "USD", "not an amount"),
        ("$100", "USD", "not an amount"),
        ("NaN", "USD", "not an amount"),
        ("1,20", "USD", "not an amount"),
    ],
)
def test_bad_amounts_name_the_problem(word, cur, needle):
    with pytest.raises(UsageError, match=needle):
        args.amount(word, cur)


def test_currency_and_country_validation():
    assert args.currency("usd") == "USD"
    with pytest.raises(UsageError, match="not an ISO 4217"):
        args.currency("ABC")
    with pytest.raises(UsageError, match="three letters"):
        args.currency("DOLLARS")
    assert args.country("hk") == "HK"
    with pytest.raises(UsageError, match="country code"):
        args.country("XX")


def test_options_split_and_unknown_option():
    opts = args.split_options(
        ["USD", "--source", "B2B", "--share", "--days=7"], valued={"source", "days"}, switches={"share"}
    )
    assert opts.positional == ["USD"] and opts.values == {"source": "B2B", "days": "7"} and opts.flags == {"share"}
    with pytest.raises(UsageError, match="unknown option '--nope'"):
        args.split_options(["--nope"], valued={"source"})
    with pytest.raises(UsageError, match="--source needs a value"):
        args.split_options(["--source"], valued={"source"})


def test_fund_source_and_positive_int():
    assert args.fund_source("acquiring").value == "Acquiring"
    with pytest.raises(UsageError, match="fund source"):
        args.fund_source("B2X")
    assert args.positive_int("7", "--days", 90) == 7
    with pytest.raises(UsageError, match="from 1 to 90"):
        args.positive_int("0", "--days", 90)


@pytest.mark.parametrize(
    "word,needle",
    [
        ("١٢٠٠", "digits 0-9"),  # Arabic-Indic digits
        ("１２００", "digits 0-9"),  # full-width digits
        ("12٠0.50", "digits 0-9"),
        ("1" * 29, "at most 15 digits before the decimal point"),
        ("1" * 16 + ".00", "at most 15 digits"),
        ("1,000,000,000,000,000", "at most 15 digits"),
        ("1.0" + "0" * 40 + "1", "at most 2 decimals"),
    ],
)
def test_hostile_amounts_get_a_sentence(word, needle):
    with pytest.raises(UsageError, match=needle):
        args.amount(word, "USD")


def test_largest_allowed_amount_is_exact():
    assert args.amount("9" * 15 + ".99", "USD").amount == Decimal("9" * 15 + ".99")
    assert args.amount("000" + "9" * 15, "JPY").amount == Decimal("9" * 15)  # leading zeros are not digits of value
    assert args.amount("1.50000", "USD").amount == Decimal("1.50")  # trailing zeros are no extra decimals


def test_positive_int_refuses_digits_python_reads_differently():
    for word in ("²", "١٢", "７", "9" * 40):
        with pytest.raises(UsageError, match="whole number"):
            args.positive_int(word, "--days", 90)


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=60) | st.from_regex(r"[0-9,.]{1,45}", fullmatch=True),
    st.sampled_from(["USD", "JPY", "KWD", "CLF"]),
)
def test_any_text_as_an_amount_is_money_or_a_usage_error(word, cur):
    try:
        money = args.amount(word, cur)
    except UsageError:
        return
    assert money.amount > 0 and money.fits_currency() and money.format()
    assert money.amount.adjusted() < args.MAX_INTEGER_DIGITS


@pytest.mark.parametrize(
    "call,english,chinese",
    [
        (
            lambda: args.amount("12.345", "USD"),
            "USD amounts have at most 2 decimals, but '12.345' has more",
            "最多 2 位小数",
        ),
        (lambda: args.amount("1.5", "JPY"), "JPY amounts have no decimals, but '1.5' has more", "没有小数"),
        (lambda: args.amount("0", "USD"), "the amount must be above zero, got '0'", "金额必须大于零"),
        (
            lambda: args.currency("usdx"),
            "'usdx' is not a currency code (expected three letters such as USD)",
            "不是币种代码",
        ),
        (lambda: args.currency("xyz"), "'XYZ' is not an ISO 4217 currency in use", "不是现行的 ISO 4217 币种"),
        (lambda: args.country("ZZ"), "'ZZ' is not a country code (two letters, ISO 3166, such as US or HK)", "国家"),
        (lambda: args.fund_source("gold"), "'gold' is not a fund source; use one of B2C, B2B, Acquiring", "资金来源"),
        (lambda: args.split_options(["--days"], valued={"days"}), "--days needs a value", "--days 需要一个值"),
        (lambda: args.split_options(["--x"]), "unknown option '--x'", "未知选项 '--x'"),
        (
            lambda: args.split_options(["--x"], switches={"csv"}),
            "unknown option '--x' (this command knows --csv)",
            "此命令支持 --csv",
        ),
    ],
)
def test_usage_errors_keep_their_english_and_have_a_chinese_sentence(call, english, chinese):
    from core.i18n import translator

    with pytest.raises(UsageError) as caught:
        call()
    assert str(caught.value) == english and caught.value.text(translator("en")) == english
    assert chinese in caught.value.text(translator("zh-Hans"))
