"""Money is exact: cent/centFactor, wire amounts and formatting, for 0-, 2- and 3-digit currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from whalet.envelope import dumps_compact, loads_exact
from whalet.money import Money, MoneyError

DIGITS = {"USD": 2, "JPY": 0, "KWD": 3}
currencies = st.sampled_from(sorted(DIGITS))
cents = st.integers(min_value=-(10**15), max_value=10**15)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(currency=currencies, cent=cents, noise=st.floats(allow_nan=False, allow_infinity=False))
def test_money_object_is_parsed_from_cent_and_centfactor_exactly(currency, cent, noise):
    factor = 10 ** DIGITS[currency]
    # ``amount`` is Whalet's lossy double; cent/centFactor win whatever it says.
    money = Money.parse({"amount": noise, "cent": cent, "centFactor": factor, "currency": currency})
    assert money == Money(Decimal(cent).scaleb(-DIGITS[currency]), currency)
    assert money.minor_units == cent


@FAST
@given(currency=currencies, cent=cents)
def test_money_object_survives_the_json_wire_exactly(currency, cent):
    factor = 10 ** DIGITS[currency]
    raw = dumps_compact({"cent": cent, "centFactor": factor, "currency": currency})
    assert Money.parse(loads_exact(raw)).minor_units == cent


@FAST
@given(currency=currencies, cent=cents)
def test_wire_amount_has_exactly_the_currency_digits_and_round_trips(currency, cent):
    digits = DIGITS[currency]
    money = Money.of(Decimal(cent).scaleb(-digits).normalize(), currency)
    wire = money.wire_amount()
    assert wire.as_tuple().exponent == -digits
    assert wire == money.amount
    text = dumps_compact({"amount": wire})
    assert Money.parse(loads_exact(text)["amount"], currency) == money
    assert Money.parse(str(wire), currency) == money  # numeric strings too


@FAST
@given(currency=currencies, cent=cents, extra=st.integers(min_value=1, max_value=9))
def test_more_decimals_than_the_currency_allows_are_refused(currency, cent, extra):
    digits = DIGITS[currency]
    amount = Decimal(cent * 10 + extra).scaleb(-(digits + 1))
    with pytest.raises(MoneyError):
        Money.of(amount, currency).wire_amount()


@FAST
@given(currency=currencies, cent=st.integers(min_value=0, max_value=10**12))
def test_format_shows_the_currency_digits_and_groups_thousands(currency, cent):
    digits = DIGITS[currency]
    text = Money(Decimal(cent).scaleb(-digits), currency).format()
    number, code = text.split(" ")
    assert code == currency
    whole, _, fraction = number.partition(".")
    assert len(fraction) == digits
    assert Decimal(number.replace(",", "")) * 10**digits == cent
    assert all(len(group) == 3 for group in whole.split(",")[1:])


@pytest.mark.parametrize(
    "money,text",
    [
        (Money.of("1200.5", "USD"), "1,200.50 USD"),
        (Money.of("1200", "JPY"), "1,200 JPY"),
        (Money.of("1.25", "KWD"), "1.250 KWD"),
        (Money.of("0", "CNY"), "0.00 CNY"),
    ],
)
def test_format_examples(money, text):
    assert money.format() == text


def test_currency_balance_page_money_objects_parse_exactly():
    page = loads_exact(
        '[{"balance": {"amount": 2477.92, "cent": 247792, "centFactor": 100, "currency": "USD"},'
        ' "orderQuota": {"amount": 29870, "cent": 2987000, "centFactor": 100, "currency": "USD"},'
        ' "rmbAmount": {"amount": 0, "cent": 0, "centFactor": 100, "currency": "CNY"},'
        ' "pendingAmount": {"amount": 20, "cent": 2000, "centFactor": 100, "currency": "USD"}}]'
    )[0]
    assert Money.parse(page["balance"]) == Money(Decimal("2477.92"), "USD")
    assert Money.parse(page["orderQuota"]).format() == "29,870.00 USD"
    assert Money.parse(page["rmbAmount"]) == Money(Decimal(0), "CNY")
    assert Money.parse(page["pendingAmount"]).wire_amount() == Decimal("20.00")


@pytest.mark.parametrize(
    "value,currency",
    [
        ("12abc", "USD"),
        ("NaN", "USD"),
        (True, "USD"),
        ("1", "XXQ"),
        ("1", "usdollar"),
        ({"cent": "1.5", "centFactor": 100, "currency": "USD"}, None),
        ({"amount": 1}, None),
        (5, None),
    ],
)
def test_things_that_are_not_money_are_refused(value, currency):
    with pytest.raises(MoneyError):
        Money.parse(value, currency)
