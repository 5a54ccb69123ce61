from decimal import Decimal

import pytest

from commands import args
from services.slack.subcommands import UsageError


def test_amount_is_exact_decimal_with_currency_digits():
    money = args.amount("1200.5", "USD")
    assert money.amount == Decimal("1200.50") and str(money.amount) == "1200.50"
    assert args.amount("1,200.50", "USD").amount == Decimal("1200.50")
    assert args.amount("1200", "JPY").amount == Decimal("1200")
    assert args.amount("1.125", "KWD").amount == Decimal("1.125")


@pytest.mark.parametrize("word,cur,needle", [
    ("12.345", "USD", "at most 2 decimals"),
    ("10.5", "JPY", "no decimals"),
    ("1.2345", "KWD", "at most 3 decimals"),
    ("0", "USD", "above zero"),
    ("-5", "USD", "not an amount"),
    ("1e3", "USD", "not an amount"),
    ("$100", "USD", "not an amount"),
    ("NaN", "USD", "not an amount"),
    ("1,20", "USD", "not an amount"),
])
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
    opts = args.split_options(["USD", "--source", "B2B", "--share", "--days=7"], valued={"source", "days"},
                              switches={"share"})
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
